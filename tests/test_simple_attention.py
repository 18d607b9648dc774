"""Properties of the simplified self-attention, step by step and all at once."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
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
    ],
)
def test_bad_input_is_rejected_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()
