"""The part on today's LLMs under hostile input: one test per finding of a probe of its API.

The probe drove the sliding window, grouped-query attention with its windowed
cache, RoPE's tables, MLA and the KV-memory estimator with absurd sizes,
wrong types and the meta device. The one silent wrong answer (a window or a
sink count of 2**63 and more wrapped around in int64 and changed the mask) is
W1; W2-W6 were errors that named neither the argument nor what it takes; T1
was tiled attention refusing inputs for which SDPA returns a finite result.
"""

import re
import time

import pytest
import torch
import torch.nn.functional as F

from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import KVCache
from attention_notes.kv_memory import PUBLISHED, CacheConfig, PublishedModel, cached_tokens, kv_cache_bytes
from attention_notes.mla import MultiHeadLatentAttention
from attention_notes.rope import compute_rope_params
from attention_notes.sliding_window import sliding_window_mask
from attention_notes.tiled import tiled_attention

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

HUGE = [2**63 - 1, 2**63, 2**64 - 1, 10**30]


# ---- W1: a huge window or sink count is "every key", not a wrapped-around int ----------


@pytest.mark.parametrize("huge", HUGE)
def test_w1_a_huge_window_or_sink_count_is_the_same_as_one_of_s(huge):
    T, S = 4, 6
    assert torch.equal(sliding_window_mask(T, huge, S=S), sliding_window_mask(T, S, S=S))
    assert torch.equal(sliding_window_mask(T, 2, huge, S=S), sliding_window_mask(T, 2, S, S=S))


def _gqa(window: int, sinks: int) -> GroupedQueryAttention:
    torch.manual_seed(123)
    return GroupedQueryAttention(8, 8, 4, 2, context_length=16, sliding_window=window, sink_tokens=sinks)


@pytest.mark.parametrize("huge", HUGE)
def test_w1_gqa_with_a_huge_window_or_sink_count_attends_like_the_whole_context(huge):
    """Full forward and cached decoding (prefill 5, then one token at a time) with W or sinks huge."""
    torch.manual_seed(0)
    x = torch.randn(1, 9, 8)
    for window, sinks in ((huge, 0), (2, huge)):
        module, reference = _gqa(window, sinks), _gqa(16, 0)
        want = reference(x, need_weights=False)[0]
        for need_weights in (True, False):
            torch.testing.assert_close(module(x, need_weights=need_weights)[0], want)
        cache = KVCache(window=window, sink_tokens=sinks)
        steps = [module(x[:, :5], cache)[0]] + [module(x[:, t : t + 1], cache)[0] for t in range(5, 9)]
        torch.testing.assert_close(torch.cat(steps, dim=1), want)


# ---- W2: the windowed cache on the meta device ------------------------------------------------


def test_w2_a_windowed_cache_runs_on_the_meta_device():
    """Shapes without data, as for sizing a model: the cache keeps the sinks and the last window."""
    module = _gqa(2, 1).to("meta")
    cache = KVCache(window=2, sink_tokens=1)
    context, _ = module(torch.randn(1, 5, 8, device="meta"), cache)
    assert context.shape == (1, 5, 8) and context.device.type == "meta"
    assert cache.keys.shape == (1, 2, 3, 2) and cache.num_tokens == 5  # positions 0, 3 and 4
    module(torch.randn(1, 1, 8, device="meta"), cache)
    assert cache.keys.shape == (1, 2, 3, 2) and cache.num_tokens == 6  # positions 0, 4 and 5


# ---- W3: sliding_window_mask's device and size --------------------------------------------------


@pytest.mark.parametrize(
    ("device", "error", "message"),
    [
        ("foo", ValueError, "device must name a device such as 'cpu'"),
        (5, TypeError, "device must be a torch.device, a str such as 'cpu', or None, got int 5"),
    ],
)
def test_w3_sliding_window_mask_names_a_bad_device(device, error, message):
    with pytest.raises(error, match=re.escape(message)):
        sliding_window_mask(3, 2, device=device)


def test_w3_a_mask_too_large_to_allocate_is_refused_with_its_size():
    with pytest.raises(ValueError, match=r"T = 100000 and S = 100000 need a mask of 10,000,000,000 bytes"):
        sliding_window_mask(10**5, 8)


# ---- W4: GroupedQueryAttention's dtype -----------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.int32, torch.bool, "float32", 32])
def test_w4_gqa_dtype_must_be_a_floating_point_dtype(dtype):
    with pytest.raises(TypeError, match=r"dtype must be a floating-point torch.dtype \(e.g. torch.float32\)"):
        GroupedQueryAttention(8, 8, 4, 2, dtype=dtype)


# ---- W5: RoPE tables of a huge context ------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: compute_rope_params(64, context_length=10**9),
        lambda: GroupedQueryAttention(8, 8, 4, 2, context_length=10**9),
        lambda: MultiHeadLatentAttention(
            d_model=16,
            num_heads=4,
            kv_lora_rank=6,
            qk_nope_head_dim=4,
            qk_rope_head_dim=2,
            v_head_dim=3,
            context_length=10**9,
        ),
    ],
    ids=["compute_rope_params", "GroupedQueryAttention", "MultiHeadLatentAttention"],
)
def test_w5_a_huge_context_length_is_refused_before_allocating_rope_tables(make):
    with pytest.raises(
        ValueError, match=r"context_length = 1000000000 with head_dim = \d+ needs RoPE tables"
    ):
        make()


# ---- W6: the KV-memory estimator -------------------------------------------------------------------


def test_w6_a_published_model_is_not_a_config():
    with pytest.raises(TypeError, match=re.escape("config must be a CacheConfig (a published model's is")):
        kv_cache_bytes(PUBLISHED["Llama 3 8B"], 8192)
    for bad in (None, {"num_layers": 2}, "GQA"):
        with pytest.raises(TypeError, match="config must be a CacheConfig, got"):
            cached_tokens(bad, 8)


def test_w6_the_estimate_of_a_huge_model_is_immediate_and_exact():
    config = CacheConfig(
        num_layers=10**30, num_heads=4, num_kv_heads=2, head_dim=8, window=16, global_every=3
    )
    start = time.perf_counter()
    got = kv_cache_bytes(config, 1000)
    assert time.perf_counter() - start < 0.01
    num_global = 10**30 // 3
    assert got == (num_global * 1000 + (10**30 - num_global) * 16) * 2 * 2 * 8 * 2


# (window, global_every): no window (every layer global), then windows with and without global layers.
LAYOUTS = [(None, None)] + [(w, every) for w in (1, 7, 100) for every in (None, 1, 2, 3, 5)]


@pytest.mark.parametrize(("window", "global_every"), LAYOUTS)
def test_w6_the_closed_form_is_the_sum_over_layers(window, global_every):
    for num_layers in (1, 2, 6, 7):
        for sinks in (0, 3) if window else (0,):
            config = CacheConfig(
                num_layers, 4, 2, 8, window=window, global_every=global_every, sink_tokens=sinks
            )
            assert config.num_global_layers == config.layer_windows.count(None)
            for context_length in (1, 5, 64, 1000):
                per_layer = sum(cached_tokens(config, context_length)) * config.bytes_per_token_per_layer
                assert kv_cache_bytes(config, context_length, batch_size=3) == 3 * per_layer


def test_w6_a_float_sink_count_is_a_type_error_like_its_siblings():
    with pytest.raises(TypeError, match=re.escape("sink_tokens must be an int >= 0, got float 1.0")):
        CacheConfig(2, 4, 2, 8, window=4, sink_tokens=1.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", PUBLISHED["Llama 3 8B"].config, 8192, ("x",)), "name must be a non-empty str"),
        (("x", "notaconfig", 8192, ("x",)), "config must be a CacheConfig"),
        (("x", PUBLISHED["Llama 3 8B"].config, -5, ("x",)), "context_length must be a positive int"),
        (("x", PUBLISHED["Llama 3 8B"].config, 8192, ()), "sources must be a non-empty tuple of str"),
    ],
)
def test_w6_a_published_model_is_checked_when_made(args, message):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        PublishedModel(*args)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_w6_every_published_model_is_estimated_as_the_sum_over_its_layers(name):
    model = PUBLISHED[name]
    tokens = sum(cached_tokens(model.config, model.context_length))
    assert (
        kv_cache_bytes(model.config, model.context_length) == tokens * model.config.bytes_per_token_per_layer
    )


# ---- T1: tiled attention refused scores that overflow only where the mask blocks them ---------------


def test_t1_an_overflow_the_causal_mask_blocks_is_computed_like_sdpa():
    q, k, v = torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2), torch.randn(1, 1, 3, 2)
    q[0, 0, 0, 0] = k[0, 0, 2, 0] = 1e20  # query 0's score with key 2 is inf, and key 2 is in its future
    out, _ = tiled_attention(q, k, v, causal=True, block_size=2)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))


def test_t1_a_product_that_overflows_before_the_scale_is_computed_like_sdpa():
    """q * scale = 1e39 is beyond float32, the score q k * scale = 1e9 is not: sqrt(scale) on each side."""
    q, k, v = torch.full((1, 1, 2, 1), 1e38), torch.full((1, 1, 2, 1), 1e-30), torch.randn(1, 1, 2, 3)
    out, _ = tiled_attention(q, k, v, scale=10.0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=10.0))


def test_t1_an_overflow_a_query_sees_is_still_refused():
    q, k, v = torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2), torch.randn(1, 1, 3, 2)
    q[0, 0, 2, 0] = k[0, 0, 0, 0] = 1e20  # the last query sees key 0
    with pytest.raises(ValueError, match=r"overflowed torch.float32 .* scale q or k down"):
        tiled_attention(q, k, v, causal=True)
    q[0, 0, 2, 0] = -1e20  # every score of the last query's row... but one: -inf there is a weight of 0
    torch.testing.assert_close(
        tiled_attention(q, k, v, causal=True)[0], F.scaled_dot_product_attention(q, k, v, is_causal=True)
    )


def test_t1_a_row_whose_every_visible_score_overflowed_to_minus_inf_is_refused():
    q, k, v = torch.zeros(1, 1, 1, 1), torch.full((1, 1, 2, 1), 1e20), torch.randn(1, 1, 2, 3)
    q[0, 0, 0, 0] = -1e20
    with pytest.raises(ValueError, match="every score that a row of q may see overflowed to -inf"):
        tiled_attention(q, k, v)
