"""Sliding-window attention with attention sinks in GroupedQueryAttention and its rolling KVCache."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import KVCache
from attention_notes.kv_memory import CacheConfig, kv_cache_bytes
from attention_notes.rope import apply_rope
from attention_notes.sliding_window import sliding_window_mask

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

D_IN, D_OUT, H, G = 6, 8, 4, 2


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def make(window=None, sinks=0, context_length=64, seed=0):
    torch.manual_seed(seed)
    return GroupedQueryAttention(
        D_IN, D_OUT, H, G, context_length, sliding_window=window, sink_tokens=sinks
    ).double()


def reference(attn, x, window, sinks):
    """The windowed forward written out: the module's projections and RoPE, then SDPA with the window mask."""
    B, T, _ = x.shape
    hd = attn.head_dim
    q = attn.W_query(x).view(B, T, H, hd).transpose(1, 2)
    k = attn.W_key(x).view(B, T, G, hd).transpose(1, 2)
    v = attn.W_value(x).view(B, T, G, hd).transpose(1, 2)
    q, k = apply_rope(q, attn.cos[:T], attn.sin[:T]), apply_rope(k, attn.cos[:T], attn.sin[:T])
    k, v = k.repeat_interleave(H // G, dim=1), v.repeat_interleave(H // G, dim=1)
    allowed = ~sliding_window_mask(T, window, sinks)  # SDPA's True = attend
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    return attn.out_proj(context.transpose(1, 2).reshape(B, T, D_OUT))


@pytest.mark.parametrize("window", [1, 3, 10, 25])  # smaller than, equal to (10) and larger than T = 10
@pytest.mark.parametrize("sinks", [0, 2])
@pytest.mark.parametrize("need_weights", [True, False])
def test_windowed_module_equals_sdpa_with_the_window_mask(window, sinks, need_weights):
    attn = make(window, sinks)
    x = randn(2, 10, D_IN)
    context, weights = attn(x, need_weights=need_weights)
    torch.testing.assert_close(context, reference(attn, x, window, sinks))
    if need_weights:
        blocked = sliding_window_mask(10, window, sinks)
        assert (weights[..., blocked] == 0).all()
        assert (weights[..., ~blocked] > 0).all()


def test_a_window_covering_t_is_plain_causal_attention_and_a_small_one_is_not():
    x = randn(2, 10, D_IN)
    full = make()(x)[0]
    torch.testing.assert_close(make(window=10)(x)[0], full)
    assert not torch.allclose(make(window=4)(x)[0], full)


@pytest.mark.parametrize("need_weights", [True, False])
def test_no_window_is_bit_for_bit_the_module_without_the_argument(need_weights):
    torch.manual_seed(0)
    plain = GroupedQueryAttention(D_IN, D_OUT, H, G, 64)
    torch.manual_seed(0)
    explicit = GroupedQueryAttention(D_IN, D_OUT, H, G, 64, sliding_window=None, sink_tokens=0)
    x = randn(2, 9, D_IN, dtype=torch.float32)
    c1, c2 = KVCache(), KVCache()
    for part in (x[:, :5], x[:, 5:6], x[:, 6:]):
        a, wa = plain(part, c1, need_weights=need_weights)
        b, wb = explicit(part, c2, need_weights=need_weights)
        assert torch.equal(a, b)
        assert (wa is None and wb is None) or torch.equal(wa, wb)
    assert torch.equal(c1.keys, c2.keys) and c1.num_tokens == c2.num_tokens == 9


@st.composite
def splits(draw):
    """A window, sinks, a length far past the window, and a split into a prefill, single steps and chunks."""
    window = draw(st.integers(1, 6))
    sinks = draw(st.integers(0, 3))
    T = draw(st.integers(window + sinks + 4, 40))
    sizes, left = [], T
    while left:
        n = draw(st.sampled_from([1, 1, 2, 3, 5, 9]))
        n = min(n, left)
        sizes.append(n)
        left -= n
    return window, sinks, T, sizes


@settings(max_examples=40, deadline=None)
@given(splits(), st.booleans())
def test_cached_decoding_in_any_split_equals_the_full_windowed_forward(case, need_weights):
    window, sinks, T, sizes = case
    attn = make(window, sinks)
    x = randn(2, T, D_IN, seed=T)
    full, _ = attn(x)
    cache, start, parts = KVCache(window=window, sink_tokens=sinks), 0, []
    for n in sizes:
        out, _ = attn(x[:, start : start + n], cache, need_weights=need_weights)
        parts.append(out)
        start += n
        held = min(start, window + sinks)
        assert cache.num_tokens == start
        assert cache.keys.shape == (2, G, held, attn.head_dim)
        expected = sorted(set(range(min(sinks, start))) | set(range(max(0, start - window), start)))
        assert cache.positions.tolist() == expected
    torch.testing.assert_close(torch.cat(parts, dim=1), full)


def test_cached_keys_are_rotated_at_their_absolute_positions():
    window, sinks, T = 3, 2, 12
    attn = make(window, sinks)
    x = randn(1, T, D_IN)
    cache = KVCache(window=window, sink_tokens=sinks)
    for t in range(T):
        attn(x[:, t : t + 1], cache)
    keys = attn.W_key(x).view(1, T, G, attn.head_dim).transpose(1, 2)
    rotated = apply_rope(keys, attn.cos[:T], attn.sin[:T])  # (1, G, T, hd), each at its own position
    torch.testing.assert_close(cache.keys, rotated[:, :, [0, 1, 9, 10, 11]])


@pytest.mark.parametrize(("window", "sinks"), [(4, 0), (4, 2), (1, 3)])
def test_the_cache_stops_at_window_plus_sinks_and_matches_the_estimator(window, sinks):
    attn = make(window, sinks)
    B, T = 3, 30
    x = randn(B, T, D_IN)
    cache = KVCache(window=window, sink_tokens=sinks)
    attn(x[:, :5], cache)
    for t in range(5, T):
        attn(x[:, t : t + 1], cache)
        config = CacheConfig(
            num_layers=1, num_heads=H, num_kv_heads=G, head_dim=attn.head_dim, dtype_bytes=8, window=window,
            sink_tokens=sinks,
        )  # fmt: skip
        assert cache.nbytes == kv_cache_bytes(config, t + 1, batch_size=B)
    assert cache.keys.shape == cache.values.shape == (B, G, window + sinks, attn.head_dim)
    assert cache.nbytes == 2 * B * G * (window + sinks) * attn.head_dim * 8


def test_renumbering_positions_inside_the_cache_changes_the_output():
    """StreamingLLM rotates keys at their place in the cache; this module keeps absolute positions: they differ."""
    window, sinks, T = 3, 1, 10
    attn = make(window, sinks)
    x = randn(1, T, D_IN)
    full, _ = attn(x)
    # Renumbered: the last query (absolute position 9) sees keys 0, 7, 8, 9 as if at positions 0, 1, 2, 3.
    kept = [0, 7, 8, 9]
    renumbered, _ = make(window, sinks)(x[:, kept])
    assert not torch.allclose(renumbered[:, -1], full[:, -1])


def test_bad_arguments_and_mismatched_caches_raise_clear_errors():
    with pytest.raises(ValueError, match="sliding_window"):
        GroupedQueryAttention(D_IN, D_OUT, H, G, sliding_window=0)
    with pytest.raises(ValueError, match="sink_tokens"):
        GroupedQueryAttention(D_IN, D_OUT, H, G, sliding_window=4, sink_tokens=-1)
    with pytest.raises(ValueError, match="sliding_window"):
        GroupedQueryAttention(D_IN, D_OUT, H, G, sink_tokens=2)
    with pytest.raises(TypeError, match="sliding_window"):
        GroupedQueryAttention(D_IN, D_OUT, H, G, sliding_window=2.0)
    with pytest.raises(ValueError, match="window"):
        KVCache(window=0)
    with pytest.raises(ValueError, match="sink_tokens"):
        KVCache(window=2, sink_tokens=-1)
    x = randn(1, 3, D_IN)
    with pytest.raises(ValueError, match="window"):
        make()(x, KVCache(window=4))
    with pytest.raises(ValueError, match="window"):
        make(window=4)(x, KVCache())
    with pytest.raises(ValueError, match="sink_tokens"):
        make(window=4, sinks=1)(x, KVCache(window=4))


def test_reset_starts_again_at_position_zero():
    attn = make(2, 1)
    x = randn(1, 8, D_IN)
    cache = KVCache(window=2, sink_tokens=1)
    attn(x, cache)
    cache.reset()
    assert cache.num_tokens == 0 and cache.nbytes == 0
    out, _ = attn(x[:, :4], cache)
    torch.testing.assert_close(out, attn(x[:, :4])[0])
