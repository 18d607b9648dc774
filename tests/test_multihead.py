"""Multi-head attention: the wrapper, the split projections, PyTorch's module and the fused path agree."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from attention_notes.causal import CausalAttention, causal_mask
from attention_notes.data import journey_inputs
from attention_notes.multihead import MultiHeadAttention, MultiHeadAttentionWrapper
from tests.strategies import tensors

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def book_batch():
    inputs = journey_inputs()
    return torch.stack((inputs, inputs), dim=0)  # (2, 6, 3), as in the book


def make_mha(d_in=3, d_out=2, context_length=6, dropout=0.0, num_heads=2, qkv_bias=False, seed=123):
    torch.manual_seed(seed)
    return MultiHeadAttention(d_in, d_out, context_length, dropout, num_heads, qkv_bias)


@st.composite
def shapes(draw, same_d_in=False):
    """(B, T, d_in, num_heads, head_dim); ``same_d_in`` makes d_in = num_heads * head_dim."""
    B, T = draw(st.integers(1, 3)), draw(st.integers(1, 8))
    num_heads, head_dim = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    d_in = num_heads * head_dim if same_d_in else draw(st.integers(1, 6))
    return B, T, d_in, num_heads, head_dim


@st.composite
def mha_and_inputs(draw, same_d_in=False):
    """An eval-mode MultiHeadAttention and a (B, T, d_in) input for it."""
    B, T, d_in, num_heads, head_dim = draw(shapes(same_d_in))
    mha = make_mha(
        d_in,
        num_heads * head_dim,
        T + draw(st.integers(0, 2)),
        num_heads=num_heads,
        qkv_bias=draw(st.booleans()),
        seed=draw(st.integers(0, 99)),
    )
    return mha.eval(), draw(tensors((B, T, d_in), -3.0, 3.0))


def torch_multihead_like(mha: MultiHeadAttention) -> nn.MultiheadAttention:
    """PyTorch's module with ``mha``'s weights (needs d_in == d_out: one in_proj_weight for q, k, v)."""
    # bias=True because out_proj always has a bias; without qkv_bias the in-projection's bias is zero.
    ref = nn.MultiheadAttention(mha.d_out, mha.num_heads, bias=True, batch_first=True)
    with torch.no_grad():
        layers = (mha.W_query, mha.W_key, mha.W_value)
        ref.in_proj_weight.copy_(torch.cat([layer.weight for layer in layers]))
        if mha.W_query.bias is None:
            ref.in_proj_bias.zero_()
        else:
            ref.in_proj_bias.copy_(torch.cat([layer.bias for layer in layers]))
        ref.out_proj.weight.copy_(mha.out_proj.weight)
        ref.out_proj.bias.copy_(mha.out_proj.bias)
    return ref.eval()


# ---- agreement ---------------------------------------------------------------------------


@given(mha_and_inputs(same_d_in=True))
def test_matches_torch_nn_multihead_attention(args):
    mha, x = args
    T = x.shape[1]
    context, attn_weights = mha(x)
    expected, expected_weights = torch_multihead_like(mha)(
        x, x, x, attn_mask=causal_mask(T), need_weights=True, average_attn_weights=False
    )
    torch.testing.assert_close(context, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(attn_weights, expected_weights, atol=1e-6, rtol=1e-4)


@given(mha_and_inputs())
def test_fused_path_equals_the_explicit_one(args):
    mha, x = args
    context, attn_weights = mha(x)
    fused, no_weights = mha(x, need_weights=False)
    assert no_weights is None
    assert attn_weights.shape == (x.shape[0], mha.num_heads, x.shape[1], x.shape[1])
    torch.testing.assert_close(fused, context, atol=1e-5, rtol=1e-4)


@given(mha_and_inputs())
def test_split_projections_are_a_wrapper_of_heads_plus_out_proj(args):
    """Head h of MultiHeadAttention is a CausalAttention whose projections are rows h*hd:(h+1)*hd."""
    mha, x = args
    hd = mha.head_dim
    wrapper = MultiHeadAttentionWrapper(mha.d_in, hd, mha.context_length, 0.0, mha.num_heads).eval()
    with torch.no_grad():
        for h, head in enumerate(wrapper.heads):
            rows = slice(h * hd, (h + 1) * hd)
            for name in ("W_query", "W_key", "W_value"):
                mine, whole = getattr(head, name), getattr(mha, name)
                mine.weight.copy_(whole.weight[rows])
                if whole.bias is not None:
                    mine.bias = nn.Parameter(whole.bias[rows].clone())
        concatenated, head_weights = wrapper(x)  # (B, T, d_out), (B, H, T, T)
        context, attn_weights = mha(x)
    torch.testing.assert_close(context, mha.out_proj(concatenated), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(attn_weights, head_weights, atol=1e-6, rtol=1e-4)


def test_wrapper_with_one_head_is_causal_attention():
    x = book_batch()
    torch.manual_seed(123)
    wrapper = MultiHeadAttentionWrapper(3, 2, 6, 0.0, num_heads=1)
    torch.manual_seed(123)
    single = CausalAttention(3, 2, 6, 0.0)
    context, attn_weights = wrapper(x)
    expected, expected_weights = single(x)
    assert torch.equal(context, expected)
    assert torch.equal(attn_weights, expected_weights.unsqueeze(1))  # (B, 1, T, T)


@given(st.integers(1, 4), st.booleans())
def test_wrapper_output_is_its_heads_side_by_side(num_heads, batched):
    torch.manual_seed(0)
    wrapper = MultiHeadAttentionWrapper(3, 2, 6, 0.0, num_heads).eval()
    x = book_batch() if batched else journey_inputs()
    context, attn_weights = wrapper(x)
    assert context.shape[-1] == num_heads * 2
    assert attn_weights.shape[-3] == num_heads
    for h, head in enumerate(wrapper.heads):
        head_context, head_weights = head(x)
        assert torch.equal(context[..., 2 * h : 2 * h + 2], head_context)
        assert torch.equal(attn_weights[..., h, :, :], head_weights)


# ---- causality, normalisation, dropout ---------------------------------------------------


@given(mha_and_inputs())
def test_later_tokens_get_weight_exactly_zero_and_rows_sum_to_one(args):
    mha, x = args
    _, attn_weights = mha(x)
    later = causal_mask(x.shape[1]).expand_as(attn_weights)
    assert (attn_weights[later] == 0).all()
    sums = attn_weights.sum(dim=-1)
    torch.testing.assert_close(sums, torch.ones_like(sums))


@given(mha_and_inputs(), st.data())
def test_changing_a_later_token_leaves_earlier_outputs_alone(args, data):
    mha, x = args
    t = data.draw(st.integers(0, x.shape[1] - 1))
    changed = x.clone()
    changed[:, t] = data.draw(tensors(x[:, t].shape, -3.0, 3.0))
    for need_weights in (True, False):
        context, _ = mha(x, need_weights=need_weights)
        new_context, _ = mha(changed, need_weights=need_weights)
        torch.testing.assert_close(new_context[:, :t], context[:, :t])


def test_eval_mode_applies_no_dropout_on_either_path():
    x = book_batch()
    with_dropout = make_mha(dropout=0.5).eval()
    without = make_mha(dropout=0.0).eval()
    assert torch.equal(with_dropout(x)[1], without(x)[1])
    torch.testing.assert_close(with_dropout(x, need_weights=False)[0], without(x)[0])


def test_train_mode_zeroes_weights_and_scales_the_rest():
    p = 0.5
    mha = make_mha(d_in=4, d_out=8, context_length=32, dropout=p, num_heads=4)
    torch.manual_seed(1)
    x = torch.randn(3, 32, 4)
    _, expected = mha.eval()(x)
    torch.manual_seed(2)
    _, dropped = mha.train()(x)
    visible = ~causal_mask(32).expand_as(expected)
    kept = (dropped != 0) & visible
    torch.testing.assert_close(dropped[kept], expected[kept] / (1 - p))
    share = ((dropped == 0) & visible).sum().item() / visible.sum().item()
    assert abs(share - p) < 0.05, share


def test_fused_path_applies_dropout_in_train_mode_only():
    x = book_batch()
    mha = make_mha(dropout=0.5)
    eval_context, _ = mha.eval()(x, need_weights=False)
    torch.manual_seed(0)
    train_context, _ = mha.train()(x, need_weights=False)
    assert not torch.allclose(train_context, eval_context)


# ---- shapes, buffers, parameters ---------------------------------------------------------


def test_unbatched_input_is_a_batch_of_one():
    mha = make_mha(d_out=4).eval()
    context, attn_weights = mha(journey_inputs())
    batched_context, batched_weights = mha(book_batch())
    assert context.shape == (6, 4) and attn_weights.shape == (2, 6, 6)
    torch.testing.assert_close(context, batched_context[0])
    torch.testing.assert_close(attn_weights, batched_weights[0])
    fused, none = mha(journey_inputs(), need_weights=False)
    assert none is None
    torch.testing.assert_close(fused, context, atol=1e-6, rtol=1e-5)


def test_layers_are_created_in_the_books_order():
    mha = make_mha(d_in=3, d_out=4, num_heads=2)
    names = [name for name, _ in mha.named_parameters()]
    assert names == ["W_query.weight", "W_key.weight", "W_value.weight", "out_proj.weight", "out_proj.bias"]
    torch.manual_seed(123)
    q, k, v = (nn.Linear(3, 4, bias=False) for _ in range(3))
    out = nn.Linear(4, 4)
    for mine, theirs in ((mha.W_query, q), (mha.W_key, k), (mha.W_value, v), (mha.out_proj, out)):
        assert torch.equal(mine.weight, theirs.weight)
    assert torch.equal(mha.out_proj.bias, out.bias)
    assert mha.mask.dtype == torch.bool and "mask" in mha.state_dict()


def test_heads_add_no_parameters_but_one_weight_matrix_each():
    T = 16
    x = torch.zeros(1, T, 12)
    counts = set()
    for num_heads in (1, 2, 3, 4, 6, 12):
        mha = make_mha(d_in=12, d_out=12, context_length=T, num_heads=num_heads)
        counts.add(sum(p.numel() for p in mha.parameters()))
        _, attn_weights = mha(x)
        assert attn_weights.numel() == num_heads * T * T
    assert counts == {3 * 12 * 12 + 12 * 12 + 12}
    torch.manual_seed(0)
    wrapper = MultiHeadAttentionWrapper(12, 12, T, 0.0, num_heads=4)
    assert sum(p.numel() for p in wrapper.parameters()) == 4 * 3 * 12 * 12


# ---- the book's numbers ------------------------------------------------------------------


def test_book_wrapper_output():
    torch.manual_seed(123)
    wrapper = MultiHeadAttentionWrapper(3, 2, 6, 0.0, num_heads=2)
    context, attn_weights = wrapper(book_batch())
    expected = torch.tensor(
        [
            [-0.4519, 0.2216, 0.4772, 0.1063],
            [-0.5874, 0.0058, 0.5891, 0.3257],
            [-0.6300, -0.0632, 0.6202, 0.3860],
            [-0.5675, -0.0843, 0.5478, 0.3589],
            [-0.5526, -0.0981, 0.5321, 0.3428],
            [-0.5299, -0.1081, 0.5077, 0.3493],
        ]
    )
    assert context.shape == (2, 6, 4) and attn_weights.shape == (2, 2, 6, 6)
    torch.testing.assert_close(context, expected.expand(2, 6, 4), atol=5e-5, rtol=0)


def test_book_multi_head_attention_output():
    context, attn_weights = make_mha()(book_batch())
    expected = torch.tensor(
        [
            [0.3190, 0.4858],
            [0.2943, 0.3897],
            [0.2856, 0.3593],
            [0.2693, 0.3873],
            [0.2639, 0.3928],
            [0.2575, 0.4028],
        ]
    )
    assert context.shape == (2, 6, 2) and attn_weights.shape == (2, 2, 6, 6)
    torch.testing.assert_close(context, expected.expand(2, 6, 2), atol=5e-5, rtol=0)


# ---- bad input ---------------------------------------------------------------------------

X = journey_inputs()


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((3, 4, 6, 0.0, 0), ValueError, r"num_heads must be a positive int, got 0"),
        ((3, 4, 6, 0.0, 2.0), TypeError, r"num_heads must be a positive int, got float 2\.0"),
        ((0, 4, 6, 0.0, 2), ValueError, r"d_in must be a positive int, got 0"),
        ((3, 4, -1, 0.0, 2), ValueError, r"context_length must be a positive int, got -1"),
        ((3, 4, 6, 1.5, 2), ValueError, r"dropout must be in \[0, 1\)"),
        ((3, 4, 6, None, 2), TypeError, r"dropout must be a float in \[0, 1\), got NoneType None"),
        ((3, 4, 6, 0.0, 2, 0), TypeError, r"qkv_bias must be a bool \(True or False\), got int 0"),
    ],
)
@pytest.mark.parametrize("cls", [MultiHeadAttention, MultiHeadAttentionWrapper])
def test_bad_arguments_get_clear_errors(cls, args, error, message):
    with pytest.raises(error, match=message):
        cls(*args)


def test_d_out_must_split_into_heads():
    with pytest.raises(
        ValueError, match=r"d_out must be divisible by num_heads .*got d_out = 5 and num_heads = 2"
    ):
        MultiHeadAttention(3, 5, 6, 0.0, num_heads=2)
    # The wrapper's heads each have d_out features of their own: any d_out goes.
    torch.manual_seed(0)
    assert MultiHeadAttentionWrapper(3, 5, 6, 0.0, num_heads=2)(X)[0].shape == (6, 2 * 5)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m(X[0]), ValueError, r"x must be \(T, d_in\) or \(B, T, d_in\), got \(3,\)"),
        (lambda m: m(X[:, :1]), ValueError, r"x must have embedding size \(last dimension\) d_in = 3, got 1"),
        (lambda m: m(torch.cat([X, X])), ValueError, r"x has T = 12 tokens, more than context_length = 6"),
        (lambda m: m(X.to(torch.int32)), TypeError, r"x must have a floating-point dtype"),
        (lambda m: m(X.double()), TypeError, r"x and the module's weights must have the same dtype"),
    ],
)
@pytest.mark.parametrize("cls", [MultiHeadAttention, MultiHeadAttentionWrapper])
def test_bad_inputs_get_clear_errors(cls, call, error, message):
    torch.manual_seed(0)
    with pytest.raises(error, match=message):
        call(cls(3, 4, 6, 0.0, 2))


def test_need_weights_must_be_a_bool():
    with pytest.raises(TypeError, match=r"need_weights must be a bool \(True or False\), got str 'no'"):
        make_mha()(X, need_weights="no")
