"""The KV cache: decoding in any split equals the full forward; positions, memory and misuse."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import KVCache, bottom_right_causal_mask
from attention_notes.rope import apply_rope

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def make_gqa(d_in=6, d_out=8, num_heads=4, num_kv_groups=2, context_length=16, seed=0):
    torch.manual_seed(seed)
    return GroupedQueryAttention(d_in, d_out, num_heads, num_kv_groups, context_length).double()


@st.composite
def splits(draw, max_t=12):
    """A sequence length and a split of it into chunks: a prefill, single steps, chunks, in any mix."""
    T = draw(st.integers(1, max_t))
    chunks, left = [], T
    while left:
        chunks.append(draw(st.integers(1, left)))
        left -= chunks[-1]
    return T, chunks


@given(splits(), st.sampled_from([(4, 4), (4, 2), (4, 1)]), st.booleans(), st.integers(0, 2**16))
def test_cached_decoding_in_any_split_equals_the_full_forward(split, hs, need_weights, seed):
    T, chunks = split
    num_heads, num_kv_groups = hs
    attn = make_gqa(num_heads=num_heads, num_kv_groups=num_kv_groups, seed=seed)
    x = randn(2, T, 6, seed=seed)
    full_context, full_weights = attn(x)
    cache, start, parts = KVCache(), 0, []
    for n in chunks:
        context, attn_weights = attn(x[:, start : start + n], cache=cache, need_weights=need_weights)
        if need_weights:
            # The chunk's queries over every key so far: the full weights' rows start .. start + n - 1.
            assert attn_weights.shape == (2, num_heads, n, start + n)
            torch.testing.assert_close(attn_weights, full_weights[:, :, start : start + n, : start + n])
        parts.append(context)
        start += n
        assert cache.num_tokens == start
    torch.testing.assert_close(torch.cat(parts, dim=1), full_context)


def test_the_cache_holds_rotated_keys_before_the_heads_are_repeated():
    attn = make_gqa()
    x = randn(1, 5, 6)
    cache = KVCache()
    attn(x[:, :3], cache=cache)
    attn(x[:, 3:], cache=cache)
    assert cache.keys.shape == cache.values.shape == (1, 2, 5, 2)  # (B, G, S, hd): G = 2, not H = 4
    keys = attn.W_key(x).view(1, 5, 2, 2).transpose(1, 2)  # (1, G, 5, hd)
    torch.testing.assert_close(cache.keys, apply_rope(keys, attn.cos, attn.sin))
    torch.testing.assert_close(cache.values, attn.W_value(x).view(1, 5, 2, 2).transpose(1, 2))


def test_positions_come_from_the_cache_not_from_the_call():
    """The same token fed at step 0 and after 3 cached tokens gets different keys: its position differs."""
    attn = make_gqa()
    token = randn(1, 1, 6)
    first, later = KVCache(), KVCache()
    attn(token, cache=first)
    attn(randn(1, 3, 6, seed=1), cache=later)
    attn(token, cache=later)
    assert not torch.allclose(first.keys[:, :, 0], later.keys[:, :, 3])
    torch.testing.assert_close(first.values[:, :, 0], later.values[:, :, 3])  # values are not rotated


@pytest.mark.parametrize(("num_heads", "num_kv_groups"), [(8, 8), (8, 2), (8, 1)])
def test_nbytes_is_two_times_kv_heads_times_head_dim_times_bytes_per_token(num_heads, num_kv_groups):
    attn = GroupedQueryAttention(32, 32, num_heads, num_kv_groups, context_length=64)
    cache = KVCache()
    assert cache.nbytes == 0
    attn(torch.randn(3, 10, 32), cache=cache)
    head_dim, bytes_per_element = 32 // num_heads, 4
    assert (
        cache.nbytes == 2 * 3 * 10 * num_kv_groups * head_dim * bytes_per_element
    )  # 2 (K and V) x B x S x ...
    cache.reset()
    assert cache.nbytes == 0
    assert cache.num_tokens == 0
    attn(torch.randn(1, 2, 32), cache=cache)  # after reset, a new batch size is fine
    assert cache.num_tokens == 2


def test_bottom_right_mask():
    assert bottom_right_causal_mask(2, 4).tolist() == [
        [False, False, False, True],
        [False, False, False, False],
    ]
    assert torch.equal(bottom_right_causal_mask(3, 3), torch.ones(3, 3, dtype=torch.bool).triu(1))
    assert not bottom_right_causal_mask(1, 5).any()  # one decode step sees every key


def test_reading_the_mask_top_left_as_is_causal_does_blocks_a_decode_step():
    """is_causal=True's mask is torch.ones(T, S).tril(): for T = 1 it allows key 0 only."""
    top_left_allowed = torch.ones(1, 5, dtype=torch.bool).tril()
    assert top_left_allowed.tolist() == [[True, False, False, False, False]]
    assert not torch.equal(~bottom_right_causal_mask(1, 5), top_left_allowed)


def _fed(attn, *xs):
    cache = KVCache()
    for x in xs:
        attn(x, cache=cache)
    return cache


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: _fed(make_gqa(), randn(1, 10, 6), randn(1, 7, 6)),
            ValueError,
            r"positions offset .. offset \+ T - 1 = 10 .. 16 .*go past context_length = 16",
        ),
        (
            lambda: _fed(make_gqa(), randn(2, 3, 6), randn(3, 1, 6)),
            ValueError,
            "the batch size changed midway: the cache holds B = 2 sequences, got keys with B = 3",
        ),
        (
            lambda: _fed(make_gqa(), randn(1, 3, 6), randn(1, 1, 6, dtype=torch.float32)),
            TypeError,
            "must have the same dtype",
        ),
        (
            lambda: _dtype_change(),
            TypeError,
            "the dtype or device changed midway: the cache holds torch.float64 on cpu, got torch.float32",
        ),
        (
            lambda: _shared_cache(),
            ValueError,
            r"G = 2 key/value heads of head_dim = 2, got keys \(B, G, T, head_dim\) = \(1, 4, 1, 2\): was it fed by another module",
        ),
        (
            lambda: KVCache().update(torch.ones(1, 2, 3, 4), torch.ones(1, 2, 2, 4)),
            ValueError,
            "keys and values must have the same shape",
        ),
        (
            lambda: KVCache().update(torch.ones(2, 3, 4), torch.ones(2, 3, 4)),
            ValueError,
            r"keys must be \(B, G, T, head_dim\)",
        ),
        (lambda: bottom_right_causal_mask(3, 2), ValueError, "T .queries. must be at most S"),
    ],
)
def test_bad_use_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def _dtype_change():
    """The module is converted to float32 between two steps of one cache."""
    attn = make_gqa()
    cache = _fed(attn, randn(1, 3, 6))
    attn.float()(randn(1, 1, 6, dtype=torch.float32), cache=cache)


def _shared_cache():
    """One cache passed to two layers with different numbers of key/value heads."""
    cache = _fed(make_gqa(), randn(1, 3, 6))  # G = 2
    make_gqa(num_kv_groups=4)(randn(1, 1, 6), cache=cache)  # G = 4: another module
