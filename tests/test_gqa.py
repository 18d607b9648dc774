"""Grouped-query attention: the book's layout, the grouping of heads, the fused path and chapter 3's module."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import KVCache
from attention_notes.multihead import MultiHeadAttention
from attention_notes.rope import apply_rope

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def make_gqa(d_in=6, d_out=8, num_heads=4, num_kv_groups=2, context_length=16, rope_base=10_000.0, seed=0):
    torch.manual_seed(seed)
    return GroupedQueryAttention(d_in, d_out, num_heads, num_kv_groups, context_length, rope_base).double()


@st.composite
def heads(draw):
    """(num_heads, num_kv_groups, head_dim) with num_kv_groups dividing num_heads; head_dim even."""
    num_kv_groups = draw(st.integers(1, 4))
    num_heads = num_kv_groups * draw(st.integers(1, 3))
    return num_heads, num_kv_groups, 2 * draw(st.integers(1, 3))


def test_the_parameters_have_the_books_names_and_shapes_and_no_biases():
    attn = GroupedQueryAttention(d_in=6, d_out=8, num_heads=4, num_kv_groups=2)
    shapes = {name: tuple(p.shape) for name, p in attn.state_dict().items()}
    # head_dim = 8 // 4 = 2; keys and values have 2 key/value heads of 2 features.
    assert shapes == {
        "W_key.weight": (4, 6),
        "W_value.weight": (4, 6),
        "W_query.weight": (8, 6),
        "out_proj.weight": (8, 8),
    }


def test_outputs_are_context_and_causal_weights_of_the_documented_shapes():
    attn = make_gqa()
    x = randn(3, 5, 6)
    context, attn_weights = attn(x)
    assert context.shape == (3, 5, 8)
    assert attn_weights.shape == (3, 4, 5, 5)
    torch.testing.assert_close(attn_weights.sum(-1), torch.ones(3, 4, 5, dtype=torch.float64))
    assert (attn_weights.triu(1) == 0).all()  # no query sees a later key
    assert (
        attn_weights[..., torch.ones(5, 5, dtype=torch.bool).tril()] > 0
    ).all()  # and sees every earlier one
    context1, weights1 = attn(x[0])  # unbatched
    torch.testing.assert_close(context1, context[0])
    torch.testing.assert_close(weights1, attn_weights[0])


@given(heads(), st.integers(1, 8), st.integers(0, 2**16), st.booleans())
def test_fused_path_equals_the_explicit_one(hs, T, seed, rope):
    num_heads, num_kv_groups, hd = hs
    attn = make_gqa(
        5, num_heads * hd, num_heads, num_kv_groups, rope_base=10_000.0 if rope else None, seed=seed
    )
    x = randn(2, T, 5, seed=seed)
    context, _ = attn(x)
    fused, none = attn(x, need_weights=False)
    assert none is None
    torch.testing.assert_close(fused, context)


@given(heads(), st.integers(1, 8), st.integers(0, 2**16))
def test_query_head_h_reads_kv_head_h_over_group_size_as_repeat_interleave_gives(hs, T, seed):
    """Consecutive query heads share a key/value head: k0 k0 k1 k1 (repeat_interleave), not k0 k1 k0 k1 (repeat)."""
    num_heads, num_kv_groups, hd = hs
    attn = make_gqa(5, num_heads * hd, num_heads, num_kv_groups, rope_base=None, seed=seed)
    x = randn(1, T, 5, seed=seed)
    context, _ = attn(x)
    q = attn.W_query(x).view(1, T, num_heads, hd).transpose(1, 2)  # (1, H, T, hd)
    k = attn.W_key(x).view(1, T, num_kv_groups, hd).transpose(1, 2)  # (1, G, T, hd)
    v = attn.W_value(x).view(1, T, num_kv_groups, hd).transpose(1, 2)  # (1, G, T, hd)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    group_size = num_heads // num_kv_groups

    def output(kv_head_of):
        heads = []
        for h in range(num_heads):
            scores = (q[0, h] @ k[0, kv_head_of(h)].T).masked_fill(mask, -torch.inf) / hd**0.5  # (T, T)
            heads.append(torch.softmax(scores, dim=-1) @ v[0, kv_head_of(h)])  # (T, hd)
        return attn.out_proj(torch.cat(heads, dim=-1))  # (T, d_out)

    torch.testing.assert_close(context[0], output(lambda h: h // group_size))
    if 1 < num_kv_groups < num_heads:  # MHA and MQA pair the heads alike either way
        assert not torch.allclose(context[0], output(lambda h: h % num_kv_groups)), (
            "repeat pairs head h with kv head h % G"
        )


def test_repeat_is_wrong_and_repeat_interleave_is_right_on_a_small_case():
    """H = 4 query heads, G = 2 key/value heads: heads 0, 1 read kv head 0; with `repeat`, head 1 would read kv head 1."""
    k = torch.arange(2.0).view(1, 2, 1, 1)  # (B, G, S, hd): kv head g holds the value g
    assert k.repeat_interleave(2, dim=1).flatten().tolist() == [0.0, 0.0, 1.0, 1.0]
    assert k.repeat(1, 2, 1, 1).flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 8), st.integers(0, 2**16))
def test_without_rope_and_with_one_kv_head_per_query_head_it_is_chapter_3s_multi_head_attention(
    num_heads, half, T, seed
):
    hd = 2 * half
    d_in, d_out = 5, num_heads * hd
    gqa = make_gqa(d_in, d_out, num_heads, num_heads, context_length=8, rope_base=None, seed=seed)
    mha = MultiHeadAttention(d_in, d_out, 8, 0.0, num_heads).double().eval()
    with torch.no_grad():
        for name in ("W_query", "W_key", "W_value", "out_proj"):
            getattr(mha, name).weight.copy_(getattr(gqa, name).weight)
        mha.out_proj.bias.zero_()
    x = randn(2, T, d_in, seed=seed)
    context, attn_weights = gqa(x)
    mha_context, mha_weights = mha(x)
    torch.testing.assert_close(context, mha_context)
    torch.testing.assert_close(attn_weights, mha_weights)


def test_rope_makes_the_module_see_positions():
    """Without RoPE, the last token's output ignores the order of the tokens before it; with RoPE it does not."""
    x = randn(1, 4, 6)
    swapped = x[:, [1, 0, 2, 3]]
    plain = make_gqa(rope_base=None)
    torch.testing.assert_close(plain(x)[0][:, -1], plain(swapped)[0][:, -1])
    rotary = make_gqa()
    assert not torch.allclose(rotary(x)[0][:, -1], rotary(swapped)[0][:, -1])


def test_queries_and_keys_are_rotated_with_the_modules_tables():
    attn = make_gqa(num_heads=2, num_kv_groups=1)
    x = randn(1, 3, 6)
    q = apply_rope(attn.W_query(x).view(1, 3, 2, 4).transpose(1, 2), attn.cos, attn.sin)
    k = apply_rope(attn.W_key(x).view(1, 3, 1, 4).transpose(1, 2), attn.cos, attn.sin)
    scores = (q @ k.mT / 2.0).masked_fill(torch.ones(3, 3, dtype=torch.bool).triu(1), -torch.inf)
    torch.testing.assert_close(attn(x)[1], torch.softmax(scores, dim=-1))


def test_a_decode_step_needs_the_bottom_right_mask_not_is_causal():
    """One new token after 4 cached ones: is_causal=True would let it see key 0 only."""
    attn = make_gqa()
    x = randn(1, 5, 6)
    cache = KVCache()
    attn(x[:, :4], cache=cache)
    step, step_weights = attn(x[:, 4:], cache=cache)
    assert (step_weights > 0).all()  # the last token sees all 5 keys
    torch.testing.assert_close(step, attn(x)[0][:, 4:])
    fused_step, _ = make_gqa()(x[:, 4:], cache=_prefilled(x[:, :4]), need_weights=False)
    torch.testing.assert_close(fused_step, step)
    # What is_causal=True computes for the same query and cached keys: key 0's value only.
    q = apply_rope(attn.W_query(x[:, 4:]).view(1, 1, 4, 2).transpose(1, 2), attn.cos, attn.sin, offset=4)
    keys, values = cache.keys, cache.values  # (1, 2, 5, 2)
    wrong = F.scaled_dot_product_attention(q, keys, values, is_causal=True, enable_gqa=True)  # (1, 4, 1, 2)
    torch.testing.assert_close(wrong, values.repeat_interleave(2, dim=1)[:, :, :1])
    assert not torch.allclose(attn.out_proj(wrong.transpose(1, 2).reshape(1, 1, 8)), step)


def _prefilled(prompt):
    cache = KVCache()
    make_gqa()(prompt, cache=cache)
    return cache


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: GroupedQueryAttention(8, 8, 4, 3),
            ValueError,
            r"num_kv_groups \(the number of key/value heads, not heads per group\) must divide num_heads = 4, got num_kv_groups = 3",
        ),
        (lambda: GroupedQueryAttention(8, 8, 3, 1), ValueError, "d_out must be divisible by num_heads"),
        (lambda: GroupedQueryAttention(8, 8, 4, 0), ValueError, "num_kv_groups must be a positive int"),
        (lambda: GroupedQueryAttention(8, 12, 4, 2), ValueError, "head_dim must be even"),
        (lambda: make_gqa()(randn(1, 17, 6)), ValueError, "more than context_length = 16"),
        (lambda: make_gqa()(randn(1, 3, 5)), ValueError, "d_in = 6"),
        (lambda: make_gqa()(randn(1, 3, 6), cache="cache"), TypeError, "cache must be a KVCache or None"),
        (lambda: make_gqa()(randn(1, 3, 6), need_weights=1), TypeError, "need_weights must be a bool"),
        (lambda: make_gqa()(randn(1, 3, 6, dtype=torch.float32)), TypeError, "must have the same dtype"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
