"""Properties of the simplified self-attention, step by step and all at once."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_notes import (
    all_scores,
    all_scores_loop,
    context_vector,
    context_vectors,
    journey_inputs,
    query_scores,
    query_scores_loop,
    scores_to_weights,
    simple_self_attention,
    simple_self_attention_loop,
)
from tests.strategies import sequences, tensors

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


@given(sequences(batched=False), st.data())
def test_query_scores_loop_and_vectorised_agree(inputs, data):
    query = data.draw(tensors((inputs.shape[1],)))
    loop = query_scores_loop(inputs, query)
    torch.testing.assert_close(loop, query_scores(inputs, query))
    assert loop.shape == (inputs.shape[0],)


@given(sequences(batched=False))
def test_all_scores_loop_and_matmul_agree(inputs):
    loop = all_scores_loop(inputs)
    torch.testing.assert_close(loop, all_scores(inputs))
    assert loop.shape == (inputs.shape[0], inputs.shape[0])


@given(sequences(batched=True))
def test_batched_scores_are_per_sequence(x):
    batched = all_scores(x)  # (B, T, T)
    for b in range(x.shape[0]):
        torch.testing.assert_close(batched[b], all_scores_loop(x[b]))


@given(sequences(batched=False, max_t=6))
def test_loop_and_vectorised_self_attention_agree(x):
    loop_context, loop_weights = simple_self_attention_loop(x)
    context, attn_weights = simple_self_attention(x)
    torch.testing.assert_close(loop_weights, attn_weights)
    # The loop adds the T terms one by one, the matrix product in blocks:
    # float32 sums in a different order differ in the last digits.
    torch.testing.assert_close(loop_context, context, atol=1e-5, rtol=1e-4)


@given(sequences())
def test_weights_are_positive_and_rows_sum_to_one(x):
    _, attn_weights = simple_self_attention(x)
    assert (attn_weights >= 0).all()
    sums = attn_weights.sum(dim=-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))


@given(sequences())
def test_steps_compose_to_simple_self_attention(x):
    context, attn_weights = simple_self_attention(x)
    step_weights = scores_to_weights(all_scores(x))
    torch.testing.assert_close(attn_weights, step_weights)
    torch.testing.assert_close(context, context_vectors(x, step_weights))


@given(sequences(batched=False))
def test_context_vector_loop_and_vectorised_agree(inputs):
    _, attn_weights = simple_self_attention(inputs)
    for i in range(inputs.shape[0]):
        weighted_sum = sum(attn_weights[i, j] * inputs[j] for j in range(inputs.shape[0]))
        torch.testing.assert_close(
            context_vector(inputs, attn_weights[i]), weighted_sum, atol=1e-5, rtol=1e-4
        )


@given(sequences())
def test_matches_pytorch_sdpa_without_scaling(x):
    context, _ = simple_self_attention(x)
    expected = F.scaled_dot_product_attention(x, x, x, scale=1.0)
    torch.testing.assert_close(context, expected, atol=1e-5, rtol=1e-4)


@given(sequences(batched=False), st.randoms(use_true_random=False))
def test_permuting_tokens_permutes_the_output(x, rng):
    perm = list(range(x.shape[0]))
    rng.shuffle(perm)
    perm = torch.tensor(perm)
    context, attn_weights = simple_self_attention(x)
    p_context, p_weights = simple_self_attention(x[perm])
    torch.testing.assert_close(p_context, context[perm], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(p_weights, attn_weights[perm][:, perm], atol=1e-6, rtol=1e-4)


def test_context_depends_on_every_input():
    # Changing one token's embedding changes every context vector: each
    # query attends to it with positive weight.
    inputs = journey_inputs()
    context, _ = simple_self_attention(inputs)
    changed = inputs.clone()
    changed[4] += 0.5
    new_context, _ = simple_self_attention(changed)
    assert not torch.isclose(context, new_context).all(dim=-1).any()


def test_weights_of_a_query_peak_on_similar_tokens():
    _, attn_weights = simple_self_attention(journey_inputs())
    # "journey" attends most to itself and then to "starts" (nearly parallel embeddings).
    assert attn_weights[1].topk(2).indices.tolist() == [1, 2]


def test_float64_is_kept():
    context, attn_weights = simple_self_attention(journey_inputs(torch.float64))
    assert context.dtype == attn_weights.dtype == torch.float64


def test_scores_to_weights_blocks_neg_inf():
    scores = torch.tensor([[0.0, float("-inf"), 1.0]])
    weights = scores_to_weights(scores)
    assert weights[0, 1] == 0
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(1))


X = journey_inputs()
NAN = X.clone()
NAN[2, 1] = float("nan")
INF = X.clone()
INF[0, 0] = float("inf")
W = torch.softmax(X @ X.T, dim=-1)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        # not a tensor
        (
            lambda: simple_self_attention(X.tolist()),
            TypeError,
            r"x must be a torch\.Tensor of shape \(T, D\) or \(B, T, D\), got list",
        ),
        (
            lambda: query_scores(X.numpy(), X[1]),
            TypeError,
            r"inputs must be a torch\.Tensor .* got ndarray",
        ),
        # wrong rank
        (
            lambda: simple_self_attention(X[0]),
            ValueError,
            r"x must be \(T, D\) or \(B, T, D\), got \(3,\)",
        ),
        (
            lambda: simple_self_attention(X[None, None]),
            ValueError,
            r"x must be \(T, D\) or \(B, T, D\), got \(1, 1, 6, 3\)",
        ),
        (lambda: all_scores_loop(X[None]), ValueError, r"inputs must be \(T, D\), got \(1, 6, 3\)"),
        (lambda: query_scores(X, X), ValueError, r"query must be \(D,\), got \(6, 3\)"),
        (lambda: context_vector(X, W), ValueError, r"attn_weights must be \(T,\), got \(6, 6\)"),
        # empty sequence / empty embedding
        (
            lambda: simple_self_attention(torch.empty(0, 3)),
            ValueError,
            r"x must not be empty: .* got \(0, 3\)",
        ),
        (
            lambda: simple_self_attention(torch.empty(2, 0, 3)),
            ValueError,
            r"x must not be empty: .* got \(2, 0, 3\)",
        ),
        (
            lambda: all_scores(torch.empty(4, 0)),
            ValueError,
            r"inputs must not be empty: .* got \(4, 0\)",
        ),
        # non-floating dtype
        (
            lambda: simple_self_attention(torch.ones(4, 3, dtype=torch.int64)),
            TypeError,
            r"x must have a floating-point dtype .* got torch\.int64",
        ),
        (
            lambda: query_scores(X, torch.tensor([1, 0, 0])),
            TypeError,
            r"query must have a floating-point dtype",
        ),
        (
            lambda: all_scores(X.bool()),
            TypeError,
            r"inputs must have a floating-point dtype .* got torch\.bool",
        ),
        # mismatched sizes
        (
            lambda: query_scores(X, torch.ones(4)),
            ValueError,
            r"query must have size D = inputs\.shape\[1\] = 3, got 4",
        ),
        (
            lambda: query_scores_loop(X, torch.ones(2)),
            ValueError,
            r"query must have size D = inputs\.shape\[1\] = 3, got 2",
        ),
        (
            lambda: context_vector(X, torch.ones(5) / 5),
            ValueError,
            r"attn_weights must have length T = inputs\.shape\[0\] = 6, got 5",
        ),
        (
            lambda: context_vectors(X, torch.ones(6, 4) / 4),
            ValueError,
            r"attn_weights must have last dimension S = inputs\.shape\[-2\] = 6, got 4",
        ),
        (
            lambda: context_vectors(X[None].expand(2, 6, 3), W[None].expand(3, 6, 6)),
            ValueError,
            r"attn_weights must have batch size B = 2, got 3",
        ),
        (
            lambda: context_vectors(X[None], W),
            ValueError,
            r"attn_weights must be \(B, T, S\) to match inputs of shape \(1, 6, 3\), got \(6, 6\)",
        ),
        # NaN / inf
        (lambda: simple_self_attention(NAN), ValueError, r"x contains NaN"),
        (lambda: simple_self_attention(INF), ValueError, r"x contains inf"),
        (lambda: all_scores(INF), ValueError, r"inputs contains inf"),
        (
            lambda: query_scores(X, torch.tensor([1.0, float("nan"), 0.0])),
            ValueError,
            r"query contains NaN",
        ),
        (
            lambda: scores_to_weights(torch.tensor([1.0, float("inf")])),
            ValueError,
            r"attn_scores contains \+inf",
        ),
        (
            lambda: scores_to_weights(torch.full((2, 3), float("-inf"))),
            ValueError,
            r"attn_scores has a row that is all -inf",
        ),
        # scores passed where weights belong
        (
            lambda: context_vector(X, X @ X[1]),
            ValueError,
            r"attn_weights must sum to 1 .*did you pass scores\?.*got a sum of 6\.56",
        ),
        (
            lambda: context_vectors(X, X @ X.T),
            ValueError,
            r"attn_weights must sum to 1 .* got sums from",
        ),
        (
            lambda: context_vector(X, torch.tensor([1.5, -0.5, 0, 0, 0, 0])),
            ValueError,
            r"attn_weights must be non-negative",
        ),
        # mixed dtypes: torch's own message names neither argument
        (
            lambda: query_scores(X, X[1].double()),
            TypeError,
            r"inputs and query must have the same dtype, got inputs torch\.float32, query torch\.float64",
        ),
        (
            lambda: query_scores_loop(X.half(), X[1]),
            TypeError,
            r"inputs and query must have the same dtype, got inputs torch\.float16, query torch\.float32",
        ),
        (
            lambda: context_vector(X, W[1].double()),
            TypeError,
            r"inputs and attn_weights must have the same dtype, got inputs torch\.float32, attn_weights torch\.float64",
        ),
        (
            lambda: context_vectors(X.double(), W),
            TypeError,
            r"inputs and attn_weights must have the same dtype, got inputs torch\.float64, attn_weights torch\.float32",
        ),
        # mixed devices (meta stands in for a GPU, which this machine lacks)
        (
            lambda: query_scores(X, X[1].to("meta")),
            ValueError,
            r"inputs and query must be on the same device, got inputs on cpu, query on meta",
        ),
        (
            lambda: context_vectors(X.to("meta"), W),
            ValueError,
            r"inputs and attn_weights must be on the same device, got inputs on meta, attn_weights on cpu",
        ),
        # finite inputs whose scores overflow
        *[
            (
                lambda f=f: f(torch.full((2, 2), 1e20)),
                ValueError,
                r"attn_scores = x @ x\.mT overflowed torch\.float32 \(largest finite value 3\.403e\+38\) "
                r"although the inputs are finite; scale x down",
            )
            for f in (simple_self_attention, simple_self_attention_loop)
        ],
        *[
            (
                lambda f=f: f(torch.full((2, 2), 1e20)),
                ValueError,
                r"attn_scores = inputs @ inputs\.m?T overflowed torch\.float32 .* scale inputs down",
            )
            for f in (all_scores, all_scores_loop)
        ],
        *[
            (
                lambda f=f: f(torch.full((2, 2), -1e20), torch.full((2,), 1e20)),
                ValueError,
                r"attn_scores = inputs @ query overflowed torch\.float32 .* scale inputs or query down",
            )
            for f in (query_scores, query_scores_loop)
        ],
        (
            # Computed in float32 (8e4 is fine there), returned in float16 (it is not).
            lambda: all_scores(torch.full((3, 8), 100.0, dtype=torch.float16)),
            ValueError,
            r"attn_scores = inputs @ inputs\.mT overflowed torch\.float16 \(largest finite value 6\.55e\+04\)",
        ),
    ],
)
def test_bad_input_is_rejected_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- dtypes -------------------------------------------------------------------

HALF = [torch.float16, torch.bfloat16]


def half_cases():
    g = torch.Generator().manual_seed(0)
    return {
        "randn*40": torch.randn(4, 64, generator=g) * 40,  # scores near 1e5: inf in float16
        "full 100": torch.full((3, 8), 100.0),  # every score 8e4: inf in float16
        "randn": torch.randn(16, 32, generator=g),
    }


def sdpa_in_float32(x: torch.Tensor) -> torch.Tensor:
    x32 = x.float()
    return F.scaled_dot_product_attention(x32, x32, x32, scale=1.0).to(x.dtype)


@pytest.mark.parametrize("attention", [simple_self_attention, simple_self_attention_loop])
@pytest.mark.parametrize("case", list(half_cases()))
@pytest.mark.parametrize("dtype", HALF)
def test_half_precision_matches_sdpa_in_float32(attention, case, dtype):
    x = half_cases()[case].to(dtype)
    context, attn_weights = attention(x)
    assert context.dtype == attn_weights.dtype == dtype
    assert torch.isfinite(context).all() and torch.isfinite(attn_weights).all()
    # Default tolerances for dtype: a few units in the last place of a half type.
    torch.testing.assert_close(context, sdpa_in_float32(x))
    x32 = x.float()
    torch.testing.assert_close(attn_weights, torch.softmax(x32 @ x32.T, dim=-1).to(dtype))


@pytest.mark.parametrize("dtype", HALF)
def test_half_precision_steps_compose(dtype):
    x = half_cases()["randn"].to(dtype)
    scores = all_scores(x)
    weights = scores_to_weights(scores)
    assert scores.dtype == weights.dtype == dtype
    torch.testing.assert_close(context_vectors(x, weights), sdpa_in_float32(x))
    torch.testing.assert_close(context_vector(x, weights[1]), sdpa_in_float32(x)[1])
    torch.testing.assert_close(query_scores(x, x[1]), scores[1])
    assert torch.equal(query_scores_loop(x, x[1]), query_scores(x, x[1]))
    assert torch.equal(all_scores_loop(x), scores)


def test_bfloat16_is_as_accurate_as_sdpa():
    # Computing in bfloat16 itself was ~20x less accurate than SDPA in bfloat16.
    x64 = torch.randn(16, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    exact = F.scaled_dot_product_attention(x64, x64, x64, scale=1.0)
    x = x64.bfloat16()
    sdpa_error = (F.scaled_dot_product_attention(x, x, x, scale=1.0).double() - exact).abs().max()
    our_error = (simple_self_attention(x)[0].double() - exact).abs().max()
    assert our_error <= 1.5 * sdpa_error


FUNCTIONS = {
    "query_scores": lambda x: query_scores(x, x[0]),
    "query_scores_loop": lambda x: query_scores_loop(x, x[0]),
    "all_scores": all_scores,
    "all_scores_loop": all_scores_loop,
    "scores_to_weights": lambda x: scores_to_weights(x @ x.T),
    "context_vector": lambda x: context_vector(x, torch.softmax(x @ x[0], dim=0)),
    "context_vectors": lambda x: context_vectors(x, torch.softmax(x @ x.T, dim=-1)),
    "simple_self_attention": simple_self_attention,
    "simple_self_attention_loop": simple_self_attention_loop,
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_float64_stays_float64(name):
    # The float32 computation of the half types must not downcast float64.
    x = journey_inputs(torch.float64)
    out = FUNCTIONS[name](x)
    for t in out if isinstance(out, tuple) else (out,):
        assert t.dtype == torch.float64
    # Bit for bit what float64 arithmetic gives, not float32 rounded back up.
    ref = FUNCTIONS[name](x.float())
    ref = ref if isinstance(ref, tuple) else (ref,)
    for t, r in zip(out if isinstance(out, tuple) else (out,), ref, strict=True):
        assert not torch.equal(t, r.double())
        torch.testing.assert_close(t, r.double(), atol=1e-6, rtol=1e-6)


# --- gradients through the loops ----------------------------------------------


def grads(outputs, inputs, seed=0):
    """Gradients of a fixed random linear function of ``outputs`` with respect to ``inputs``."""
    g = torch.Generator().manual_seed(seed)
    total = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outputs)
    return torch.autograd.grad(total, inputs)


def assert_same_grads(loop, vectorised, args):
    loop_args = [a.double().requires_grad_(True) for a in args]
    vec_args = [a.double().requires_grad_(True) for a in args]
    loop_out, vec_out = loop(*loop_args), vectorised(*vec_args)
    loop_out = loop_out if isinstance(loop_out, tuple) else (loop_out,)
    vec_out = vec_out if isinstance(vec_out, tuple) else (vec_out,)
    for got, want in zip(grads(loop_out, loop_args), grads(vec_out, vec_args), strict=True):
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)


@given(sequences(batched=False, max_t=6), st.data())
def test_query_scores_loop_has_the_vectorised_gradients(inputs, data):
    query = data.draw(tensors((inputs.shape[1],)))
    assert_same_grads(query_scores_loop, query_scores, [inputs, query])


@given(sequences(batched=False, max_t=6))
def test_all_scores_loop_has_the_vectorised_gradients(inputs):
    assert_same_grads(all_scores_loop, all_scores, [inputs])


@given(sequences(batched=False, max_t=6, max_d=4))
def test_self_attention_loop_has_the_vectorised_gradients(x):
    # Scores up to 10*10*4 make some weights exactly 0 or 1: still the same gradients.
    assert_same_grads(simple_self_attention_loop, simple_self_attention, [x / 4])


# --- tensors on the meta device -----------------------------------------------


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_meta_tensors_give_the_shapes(name):
    # Nothing here allocates on the CPU behind the input's back, and the value
    # checks (which would need bool() of a meta tensor) are skipped.
    x = torch.empty(5, 3, device="meta")
    meta_out = FUNCTIONS[name](x)
    cpu_out = FUNCTIONS[name](torch.randn(5, 3, generator=torch.Generator().manual_seed(0)))
    meta_out = meta_out if isinstance(meta_out, tuple) else (meta_out,)
    cpu_out = cpu_out if isinstance(cpu_out, tuple) else (cpu_out,)
    for m, c in zip(meta_out, cpu_out, strict=True):
        assert m.device.type == "meta" and m.shape == c.shape and m.dtype == c.dtype


def test_meta_tensors_still_get_shape_checks():
    with pytest.raises(ValueError, match=r"x must be \(T, D\) or \(B, T, D\), got \(3,\)"):
        simple_self_attention(torch.empty(3, device="meta"))
    with pytest.raises(ValueError, match=r"query must have size D = inputs\.shape\[1\] = 3, got 4"):
        query_scores(torch.empty(5, 3, device="meta"), torch.empty(4, device="meta"))


# --- the "are these weights?" check -------------------------------------------

LENGTHS = [1, 2, 7, 1000, 10**5, 10**6]


@pytest.mark.parametrize("S", LENGTHS)
@pytest.mark.parametrize("total", [0.0, 0.5, 1.5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, *HALF])
def test_weights_that_do_not_sum_to_one_are_refused_at_every_length(S, total, dtype):
    # The tolerance used to grow with S: at S = 10**5, all-zero weights passed.
    inputs = torch.ones(S, 2, dtype=dtype)
    attn_weights = torch.full((S,), total / S, dtype=dtype)
    with pytest.raises(ValueError, match=r"attn_weights must sum to 1"):
        context_vector(inputs, attn_weights)
    with pytest.raises(ValueError, match=r"attn_weights must sum to 1"):
        context_vectors(inputs, attn_weights[None])


@pytest.mark.parametrize("S", LENGTHS)
# Scores close together are the hard case: torch's float32 softmax then sums to
# 1 +- 1e-3 at S = 10**6, not 1e-6 * sqrt(S); and scale 0 gives float16 weights
# of exactly 1/S, all rounded the same way.
@pytest.mark.parametrize("scale", [0.0, 3e-4, 1e-3, 1e-2, 1.0, 5.0])
@settings(max_examples=3)
@given(seed=st.integers(0, 2**31 - 1))
def test_real_softmax_weights_are_accepted_at_every_length(S, seed, scale):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(S, 2, generator=g)
    attn_scores = torch.randn(S, generator=g) * scale + 7.0
    context_vector(inputs, torch.softmax(attn_scores, dim=0))
    context_vectors(inputs, torch.softmax(attn_scores, dim=0)[None])
    # Half-precision inputs, weights computed as the package does: softmax in
    # float32, then rounded to the half type (in float16, weights below 6e-5
    # lose relative precision).
    for dtype in HALF:
        x = (inputs * scale).to(dtype)
        context_vector(x, scores_to_weights(query_scores(x, torch.ones(2, dtype=dtype))))
