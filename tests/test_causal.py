"""Causal attention: no weight on later tokens, dropout only in training, the book's numbers."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from attention_notes.causal import CausalAttention, causal_mask
from attention_notes.data import journey_inputs
from tests.strategies import sequences, tensors

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def make(d_in=3, d_out=2, context_length=6, dropout=0.0, qkv_bias=False, seed=123):
    torch.manual_seed(seed)
    return CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)


def book_batch():
    inputs = journey_inputs()
    return torch.stack((inputs, inputs), dim=0)  # (2, 6, 3), as in the book


@st.composite
def modules_and_inputs(draw, max_t=8):
    """An eval-mode CausalAttention and an input for it, (T, d_in) or (B, T, d_in)."""
    x = draw(sequences(max_t=max_t))
    d_out = draw(st.integers(1, 6))
    context_length = x.shape[-2] + draw(st.integers(0, 3))
    attn = make(
        x.shape[-1], d_out, context_length, qkv_bias=draw(st.booleans()), seed=draw(st.integers(0, 99))
    )
    return attn.eval(), x


# ---- properties --------------------------------------------------------------------------


@given(modules_and_inputs())
def test_matches_pytorch_sdpa_with_is_causal(args):
    attn, x = args
    context, attn_weights = attn(x)
    with torch.no_grad():
        q, k, v = attn.W_query(x), attn.W_key(x), attn.W_value(x)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(context, expected, atol=1e-5, rtol=1e-4)
    T = x.shape[-2]
    assert context.shape == (*x.shape[:-1], attn.d_out)
    assert attn_weights.shape == (*x.shape[:-2], T, T)


@given(modules_and_inputs())
def test_later_tokens_get_weight_exactly_zero_and_rows_sum_to_one(args):
    attn, x = args
    _, attn_weights = attn(x)
    T = x.shape[-2]
    later = causal_mask(T).expand_as(attn_weights)
    assert (attn_weights[later] == 0).all()
    assert (attn_weights[~later] > 0).all()  # softmax gives every visible key some weight
    sums = attn_weights.sum(dim=-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))


@given(modules_and_inputs(), st.data())
def test_changing_a_later_token_leaves_earlier_outputs_alone(args, data):
    attn, x = args
    T = x.shape[-2]
    t = data.draw(st.integers(0, T - 1))
    changed = x.clone()
    changed[..., t, :] = data.draw(tensors(x[..., t, :].shape))
    context, _ = attn(x)
    new_context, _ = attn(changed)
    torch.testing.assert_close(new_context[..., :t, :], context[..., :t, :])


def test_the_first_token_attends_only_to_itself():
    attn = make().eval()
    context, attn_weights = attn(journey_inputs())
    with torch.no_grad():
        value_1 = attn.W_value(journey_inputs()[0])
    assert attn_weights[0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    torch.testing.assert_close(context[0], value_1)


@given(modules_and_inputs())
def test_unbatched_input_is_a_batch_of_one(args):
    attn, x = args
    single = x if x.dim() == 2 else x[0]
    context, attn_weights = attn(single)
    batched_context, batched_weights = attn(single.unsqueeze(0))
    assert context.dim() == 2 and attn_weights.dim() == 2
    torch.testing.assert_close(context, batched_context[0])
    torch.testing.assert_close(attn_weights, batched_weights[0])


def test_shorter_sequences_use_the_top_left_of_the_mask():
    long = make(context_length=16).eval()
    exact = make(context_length=6).eval()  # same seed: the same weights
    for a, b in zip(long(journey_inputs()), exact(journey_inputs()), strict=True):
        torch.testing.assert_close(a, b)


# ---- dropout -----------------------------------------------------------------------------


def test_eval_mode_applies_no_dropout():
    x = journey_inputs()
    with_dropout = make(dropout=0.5).eval()
    without = make(dropout=0.0).eval()
    torch.manual_seed(0)
    first = with_dropout(x)
    second = with_dropout(x)
    for a, b, c in zip(first, second, without(x), strict=True):
        assert torch.equal(a, b)
        assert torch.equal(a, c)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_train_mode_zeroes_weights_and_scales_the_rest(p):
    attn = make(context_length=32, dropout=p)
    torch.manual_seed(1)
    x = torch.randn(4, 32, 3)
    _, expected = attn.eval()(x)
    torch.manual_seed(2)
    _, dropped = attn.train()(x)
    visible = ~causal_mask(32).expand_as(expected)
    zeroed = (dropped == 0) & visible
    kept = (dropped != 0) & visible
    torch.testing.assert_close(dropped[kept], expected[kept] / (1 - p))
    assert (dropped[~visible] == 0).all()
    # 4 * 528 visible weights: the share dropped is close to p.
    share = zeroed.sum().item() / visible.sum().item()
    assert abs(share - p) < 0.05, share


def test_train_mode_dropout_changes_the_context():
    attn = make(dropout=0.5).train()
    torch.manual_seed(0)
    context, _ = attn(book_batch())
    assert not torch.allclose(context[0], context[1])  # one mask per sequence of the batch


# ---- the mask is a buffer ----------------------------------------------------------------


def test_mask_is_a_boolean_buffer_in_the_state_dict_not_a_parameter():
    attn = make()
    assert attn.mask.dtype == torch.bool
    assert torch.equal(attn.mask, causal_mask(6))
    assert "mask" in attn.state_dict()
    assert "mask" in dict(attn.named_buffers())
    assert not any("mask" in name for name, _ in attn.named_parameters())


def test_mask_moves_with_the_module_and_stays_boolean():
    attn = make().to(torch.float64)
    assert attn.W_query.weight.dtype == torch.float64
    assert attn.mask.dtype == torch.bool  # .to(dtype) converts floating-point tensors only
    meta = make().to("meta")
    assert meta.mask.device.type == "meta"
    assert meta.W_query.weight.device.type == "meta"


def test_float64_module_keeps_float64():
    attn = make().to(torch.float64)
    context, attn_weights = attn(journey_inputs(torch.float64))
    assert context.dtype == attn_weights.dtype == torch.float64


def test_creation_order_is_query_key_value():
    attn = make()
    torch.manual_seed(123)
    q, k, v = (torch.nn.Linear(3, 2, bias=False) for _ in range(3))
    assert [name for name, _ in attn.named_parameters()] == [
        "W_query.weight",
        "W_key.weight",
        "W_value.weight",
    ]
    for mine, theirs in ((attn.W_query, q), (attn.W_key, k), (attn.W_value, v)):
        assert torch.equal(mine.weight, theirs.weight)


# ---- the book's numbers ------------------------------------------------------------------


def test_book_masked_weights_with_the_seed_789_projections():
    # Seed 789 gives the book's SelfAttention_v2 weights: the same three
    # nn.Linear(3, 2) in the same order, and the mask and dropout draw nothing.
    attn = make(seed=789)
    _, attn_weights = attn(journey_inputs())
    expected = torch.tensor(
        [
            [1.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000],
            [0.5517, 0.4483, 0.0000, 0.0000, 0.0000, 0.0000],
            [0.3800, 0.3097, 0.3103, 0.0000, 0.0000, 0.0000],
            [0.2758, 0.2460, 0.2462, 0.2319, 0.0000, 0.0000],
            [0.2175, 0.1983, 0.1984, 0.1888, 0.1971, 0.0000],
            [0.1935, 0.1663, 0.1666, 0.1542, 0.1666, 0.1529],
        ]
    )
    torch.testing.assert_close(attn_weights, expected, atol=5e-5, rtol=0)


def test_book_causal_attention_output_on_the_batch():
    context, attn_weights = make(seed=123)(book_batch())
    expected = torch.tensor(
        [
            [-0.4519, 0.2216],
            [-0.5874, 0.0058],
            [-0.6300, -0.0632],
            [-0.5675, -0.0843],
            [-0.5526, -0.0981],
            [-0.5299, -0.1081],
        ]
    )
    assert context.shape == (2, 6, 2) and attn_weights.shape == (2, 6, 6)
    torch.testing.assert_close(context, expected.expand(2, 6, 2), atol=5e-5, rtol=0)


# ---- bad input ---------------------------------------------------------------------------

X = journey_inputs()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda a: a(X[0]), ValueError, r"x must be \(T, d_in\) or \(B, T, d_in\), got \(3,\)"),
        (
            lambda a: a(X.expand(1, 2, 6, 3)),
            ValueError,
            r"x must be \(T, d_in\) or \(B, T, d_in\), got \(1, 2, 6, 3\)",
        ),
        (lambda a: a(X[:, :2]), ValueError, r"x must have embedding size \(last dimension\) d_in = 3, got 2"),
        (lambda a: a(torch.cat([X, X])), ValueError, r"x has T = 12 tokens, more than context_length = 6"),
        (lambda a: a(X.to(torch.int64)), TypeError, r"x must have a floating-point dtype"),
        (lambda a: a(X.double()), TypeError, r"x and the module's weights must have the same dtype"),
        (
            lambda a: a(X.tolist()),
            TypeError,
            r"x must be a torch.Tensor of shape \(T, d_in\) or \(B, T, d_in\), got list",
        ),
        (lambda a: a(X.new_empty(0, 3)), ValueError, r"x must not be empty"),
        (lambda a: a(X.clone().fill_(float("nan"))), ValueError, r"x contains NaN"),
    ],
)
def test_bad_inputs_get_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(make())


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((0, 2, 6, 0.0), ValueError, r"d_in must be a positive int, got 0"),
        ((3, -2, 6, 0.0), ValueError, r"d_out must be a positive int, got -2"),
        ((3, 2, 0, 0.0), ValueError, r"context_length must be a positive int, got 0"),
        ((3.0, 2, 6, 0.0), TypeError, r"d_in must be a positive int, got float 3\.0"),
        ((3, 2, True, 0.0), TypeError, r"context_length must be a positive int, got bool True"),
        ((3, 2, 6, 1.0), ValueError, r"dropout must be in \[0, 1\) .*, got 1\.0"),
        ((3, 2, 6, -0.1), ValueError, r"dropout must be in \[0, 1\) .*, got -0\.1"),
        ((3, 2, 6, "0.1"), TypeError, r"dropout must be a float in \[0, 1\), got str '0\.1'"),
        ((3, 2, 6, False), TypeError, r"dropout must be a float in \[0, 1\), got bool False"),
        ((3, 2, 6, 0.0, 1), TypeError, r"qkv_bias must be a bool \(True or False\), got int 1"),
        ((3, 2, 6, 0.0, "False"), TypeError, r"qkv_bias must be a bool \(True or False\), got str 'False'"),
    ],
)
def test_bad_arguments_get_clear_errors(args, error, message):
    with pytest.raises(error, match=message):
        CausalAttention(*args)


def test_qkv_bias_adds_a_bias_to_each_projection():
    attn = make(qkv_bias=True)
    assert all(layer.bias is not None for layer in (attn.W_query, attn.W_key, attn.W_value))
    assert make().W_query.bias is None
