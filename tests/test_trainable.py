"""Properties of the trainable self-attention modules, and the book's numbers."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from attention_notes import journey_inputs
from attention_notes.trainable import SelfAttention, SelfAttentionV1
from tests.strategies import sequences

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

MODULES = [SelfAttentionV1, SelfAttention]


def build(cls, d_in: int, d_out: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return cls(d_in, d_out)


# --- properties -----------------------------------------------------------------


@pytest.mark.parametrize("cls", MODULES)
@given(x=sequences(), d_out=st.integers(1, 5))
def test_weights_are_positive_and_rows_sum_to_one(cls, x, d_out):
    module = build(cls, x.shape[-1], d_out)
    context, attn_weights = module(x)
    T = x.shape[-2]
    assert context.shape == (*x.shape[:-1], d_out)
    assert attn_weights.shape == (*x.shape[:-1], T)
    assert (attn_weights >= 0).all()
    sums = attn_weights.sum(dim=-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))


@pytest.mark.parametrize("cls", MODULES)
@given(x=sequences(batched=True), d_out=st.integers(1, 5))
def test_a_batch_is_each_sequence_on_its_own(cls, x, d_out):
    module = build(cls, x.shape[-1], d_out)
    context, attn_weights = module(x)  # (B, T, d_out), (B, T, T)
    for b in range(x.shape[0]):
        one_context, one_weights = module(x[b])  # (T, d_out), (T, T)
        torch.testing.assert_close(context[b], one_context, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(attn_weights[b], one_weights, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("qkv_bias", [False, True])
@given(x=sequences(), d_out=st.integers(1, 5))
def test_self_attention_is_torch_sdpa_of_its_projections(qkv_bias, x, d_out):
    torch.manual_seed(0)
    module = SelfAttention(x.shape[-1], d_out, qkv_bias=qkv_bias)
    context, attn_weights = module(x)
    q, k, v = module.W_query(x), module.W_key(x), module.W_value(x)
    # torch's default scale is 1 / sqrt(q.shape[-1]) = 1 / sqrt(d_out).
    expected = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(context, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(attn_weights, torch.softmax(q @ k.mT / math.sqrt(d_out), dim=-1))


@given(x=sequences(), d_out=st.integers(1, 5))
def test_self_attention_v1_is_the_formula_written_out(x, d_out):
    module = build(SelfAttentionV1, x.shape[-1], d_out)
    context, attn_weights = module(x)
    Q, K, V = x @ module.W_query, x @ module.W_key, x @ module.W_value
    expected_weights = torch.softmax(Q @ K.mT / math.sqrt(d_out), dim=-1)
    torch.testing.assert_close(attn_weights, expected_weights)
    torch.testing.assert_close(context, expected_weights @ V, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cls", MODULES)
@given(x=sequences(batched=False), rng=st.randoms(use_true_random=False))
def test_permuting_tokens_permutes_the_output(cls, x, rng):
    perm = list(range(x.shape[0]))
    rng.shuffle(perm)
    perm = torch.tensor(perm)
    module = build(cls, x.shape[-1], 3)
    context, attn_weights = module(x)
    p_context, p_weights = module(x[perm])
    torch.testing.assert_close(p_context, context[perm], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(p_weights, attn_weights[perm][:, perm], atol=1e-6, rtol=1e-4)


def matrices(module: nn.Module) -> list[torch.Tensor]:
    """W_query, W_key and W_value of either module as (d_in, d_out) matrices, so that q = x @ W."""
    names = ("W_query", "W_key", "W_value")
    if isinstance(module, SelfAttention):
        return [getattr(module, name).weight.T for name in names]
    return [getattr(module, name) for name in names]


@pytest.mark.parametrize("cls", MODULES)
def test_separate_query_and_key_matrices_break_the_symmetry(cls):
    # The simplified scores X X^T are symmetric: token i scores j as j scores i.
    # Tying W_query to W_key would keep them so.
    inputs = journey_inputs()
    assert torch.allclose(inputs @ inputs.T, (inputs @ inputs.T).T)
    W_query, W_key, _ = matrices(build(cls, 3, 2, seed=123))
    with torch.no_grad():
        attn_scores = (inputs @ W_query) @ (inputs @ W_key).T  # (T, T)
    assert not torch.allclose(attn_scores, attn_scores.T, atol=1e-3)


# --- the book's numbers -----------------------------------------------------------

# Chapter 3 of the book (rasbt/LLMs-from-scratch, ch03/01_main-chapter-code/ch03.ipynb),
# printed to 4 decimals: a rounded value is at most 5e-5 away from the true one.
BOOK_ATOL = 6e-5
BOOK_QUERY_2 = [0.4306, 1.4551]
BOOK_ATTN_SCORE_22 = 1.8524
BOOK_ATTN_SCORES_2 = [1.2705, 1.8524, 1.8111, 1.0795, 0.5577, 1.5440]
BOOK_ATTN_WEIGHTS_2 = [0.1500, 0.2264, 0.2199, 0.1311, 0.0906, 0.1820]
BOOK_CONTEXT_VEC_2 = [0.3061, 0.8210]
BOOK_SA_V1 = [
    [0.2996, 0.8053],
    [0.3061, 0.8210],
    [0.3058, 0.8203],
    [0.2948, 0.7939],
    [0.2927, 0.7891],
    [0.2990, 0.8040],
]
BOOK_SA_V2 = [
    [-0.0739, 0.0713],
    [-0.0748, 0.0703],
    [-0.0749, 0.0702],
    [-0.0760, 0.0685],
    [-0.0763, 0.0679],
    [-0.0754, 0.0693],
]


def assert_book(got: torch.Tensor, book) -> None:
    torch.testing.assert_close(got, torch.tensor(book), atol=BOOK_ATOL, rtol=0)


def test_seed_123_gives_the_books_steps():
    inputs = journey_inputs()
    module = build(SelfAttentionV1, 3, 2, seed=123)
    with torch.no_grad():
        query_2 = inputs[1] @ module.W_query
        keys = inputs @ module.W_key
        values = inputs @ module.W_value
        attn_scores_2 = query_2 @ keys.T
        attn_weights_2 = torch.softmax(attn_scores_2 / keys.shape[-1] ** 0.5, dim=-1)
        context, attn_weights = module(inputs)
    assert_book(query_2, BOOK_QUERY_2)
    assert keys.shape == values.shape == (6, 2)
    assert_book(query_2 @ keys[1], BOOK_ATTN_SCORE_22)
    assert_book(attn_scores_2, BOOK_ATTN_SCORES_2)
    assert_book(attn_weights_2, BOOK_ATTN_WEIGHTS_2)
    assert_book(attn_weights_2 @ values, BOOK_CONTEXT_VEC_2)
    assert_book(attn_weights[1], BOOK_ATTN_WEIGHTS_2)
    assert_book(context, BOOK_SA_V1)


def test_seed_789_gives_the_books_linear_module():
    module = build(SelfAttention, 3, 2, seed=789)
    with torch.no_grad():
        context, _ = module(journey_inputs())
    assert_book(context, BOOK_SA_V2)


@pytest.mark.parametrize("seed", [123, 789, 0])
def test_matrices_are_created_in_the_books_order(seed):
    # The book's numbers depend on it: query first, then key, then value.
    torch.manual_seed(seed)
    expected = [torch.rand(4, 3) for _ in range(3)]
    module = build(SelfAttentionV1, 4, 3, seed=seed)
    for name, want in zip(["W_query", "W_key", "W_value"], expected, strict=True):
        assert torch.equal(getattr(module, name).detach(), want), name
    assert [name for name, _ in module.named_parameters()] == ["W_query", "W_key", "W_value"]

    torch.manual_seed(seed)
    expected = [nn.Linear(4, 3, bias=False).weight.detach() for _ in range(3)]
    module = build(SelfAttention, 4, 3, seed=seed)
    for name, want in zip(["W_query", "W_key", "W_value"], expected, strict=True):
        assert torch.equal(getattr(module, name).weight.detach(), want), name
    assert [name for name, _ in module.named_parameters()] == [
        "W_query.weight",
        "W_key.weight",
        "W_value.weight",
    ]


def test_qkv_bias_adds_a_bias_to_each_projection():
    torch.manual_seed(0)
    module = SelfAttention(4, 3, qkv_bias=True)
    assert [name for name, _ in module.named_parameters()] == [
        "W_query.weight",
        "W_query.bias",
        "W_key.weight",
        "W_key.bias",
        "W_value.weight",
        "W_value.bias",
    ]


@pytest.mark.parametrize("d_in", [1, 3, 64])
def test_the_two_initialisations(d_in):
    v1 = build(SelfAttentionV1, d_in, 5)
    linear = build(SelfAttention, d_in, 5)
    for name in ("W_query", "W_key", "W_value"):
        w1, w2 = getattr(v1, name), getattr(linear, name).weight
        assert w1.shape == (d_in, 5) and w2.shape == (5, d_in)
        assert (w1 >= 0).all() and (w1 < 1).all()
        # Kaiming-uniform with a = sqrt(5): U(-1/sqrt(d_in), 1/sqrt(d_in)).
        assert w2.abs().max() <= 1 / math.sqrt(d_in)
        assert (w2 < 0).any()


@pytest.mark.parametrize("qkv_bias", [False, True])
@given(x=sequences(), d_out=st.integers(1, 5))
def test_linear_weights_transposed_into_v1_give_the_same_output(qkv_bias, x, d_out):
    # The book's exercise 3.1: nn.Linear computes x @ weight.T (+ bias).
    torch.manual_seed(0)
    linear = SelfAttention(x.shape[-1], d_out, qkv_bias=qkv_bias)
    v1 = SelfAttentionV1(x.shape[-1], d_out)
    v1.W_query = nn.Parameter(linear.W_query.weight.T)
    v1.W_key = nn.Parameter(linear.W_key.weight.T)
    v1.W_value = nn.Parameter(linear.W_value.weight.T)
    context, attn_weights = linear(x)
    v1_context, v1_weights = v1(x)
    if qkv_bias:  # V1 has no bias: the outputs must differ
        assert not torch.allclose(v1_context, context, atol=1e-4)
    else:
        torch.testing.assert_close(v1_context, context, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(v1_weights, attn_weights, atol=1e-6, rtol=1e-4)


# --- gradients and dtypes ---------------------------------------------------------


@pytest.mark.parametrize("cls", MODULES)
def test_gradients_flow_to_every_weight_and_the_input(cls):
    module = build(cls, 3, 2, seed=123).double()
    x = journey_inputs(torch.float64).requires_grad_(True)
    context, _ = module(x)
    g = torch.Generator().manual_seed(0)
    (context * torch.randn(context.shape, generator=g, dtype=torch.float64)).sum().backward()
    for name, p in [*module.named_parameters(), ("x", x)]:
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("cls", MODULES)
def test_gradients_are_right(cls):
    # Compared with finite differences in float64.
    module = build(cls, 3, 2, seed=123).double()
    x = journey_inputs(torch.float64).requires_grad_(True)
    names = [name for name, _ in module.named_parameters()]

    def functional(x, *weights):
        return torch.func.functional_call(module, dict(zip(names, weights, strict=True)), (x,))

    weights = [p.detach().clone().requires_grad_(True) for p in module.parameters()]
    assert torch.autograd.gradcheck(functional, (x, *weights))


@pytest.mark.parametrize("cls", MODULES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_dtypes_are_kept(cls, dtype):
    module = build(cls, 3, 2, seed=123).to(dtype)
    context, attn_weights = module(journey_inputs(dtype))
    assert context.dtype == attn_weights.dtype == dtype
    reference, _ = build(cls, 3, 2, seed=123)(journey_inputs())
    tol = {torch.float64: 1e-6, torch.float16: 2e-3, torch.bfloat16: 2e-2}[dtype]
    torch.testing.assert_close(context.float(), reference, atol=tol, rtol=tol)


# --- bad input ------------------------------------------------------------------

X = journey_inputs()


def v1():
    return build(SelfAttentionV1, 3, 2)


def linear():
    return build(SelfAttention, 3, 2)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        # constructor arguments
        *[
            case
            for cls in MODULES
            for case in [
                (lambda cls=cls: cls(0, 2), ValueError, r"d_in must be a positive int, got 0"),
                (lambda cls=cls: cls(3, -1), ValueError, r"d_out must be a positive int, got -1"),
                (lambda cls=cls: cls(3.0, 2), TypeError, r"d_in must be a positive int, got float 3\.0"),
                (lambda cls=cls: cls(3, "2"), TypeError, r"d_out must be a positive int, got str '2'"),
                (lambda cls=cls: cls(True, 2), TypeError, r"d_in must be a positive int, got bool True"),
            ]
        ],
        (
            lambda: SelfAttention(3, 2, qkv_bias=1),
            TypeError,
            r"qkv_bias must be a bool \(True or False\), got int 1",
        ),
        (
            lambda: SelfAttention(3, 2, qkv_bias="False"),
            TypeError,
            r"qkv_bias must be a bool \(True or False\), got str 'False'",
        ),
        # inputs, for both modules
        *[
            case
            for make in (v1, linear)
            for case in [
                (
                    lambda make=make: make()(X.tolist()),
                    TypeError,
                    r"x must be a torch\.Tensor of shape \(T, d_in\) or \(B, T, d_in\), got list",
                ),
                (
                    lambda make=make: make()(X[1]),
                    ValueError,
                    r"x must be \(T, d_in\) or \(B, T, d_in\), got \(3,\)",
                ),
                (
                    lambda make=make: make()(X[None, None]),
                    ValueError,
                    r"x must be \(T, d_in\) or \(B, T, d_in\), got \(1, 1, 6, 3\)",
                ),
                (
                    lambda make=make: make()(torch.ones(6, 4)),
                    ValueError,
                    r"x must have embedding size \(last dimension\) d_in = 3, got 4",
                ),
                (
                    lambda make=make: make()(torch.ones(2, 6, 2)),
                    ValueError,
                    r"x must have embedding size \(last dimension\) d_in = 3, got 2",
                ),
                (
                    lambda make=make: make()(torch.ones(6, 3, dtype=torch.int64)),
                    TypeError,
                    r"x must have a floating-point dtype .* got torch\.int64",
                ),
                (
                    lambda make=make: make()(X.double()),
                    TypeError,
                    r"x and the module's weights must have the same dtype, "
                    r"got x torch\.float64, the module's weights torch\.float32",
                ),
                (
                    lambda make=make: make()(X.to("meta")),
                    ValueError,
                    r"x and the module's weights must be on the same device, "
                    r"got x on meta, the module's weights on cpu",
                ),
                (lambda make=make: make()(torch.empty(0, 3)), ValueError, r"x must not be empty"),
                (
                    lambda make=make: make()(torch.full((6, 3), float("nan"))),
                    ValueError,
                    r"x contains NaN",
                ),
            ]
        ],
    ],
)
def test_bad_input_is_rejected_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()
