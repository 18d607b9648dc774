"""The KV-cache memory estimator: its formulas, the published configurations, and the bytes real caches hold."""

import dataclasses
import importlib

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import KVCache
from attention_notes.kv_memory import (
    PUBLISHED,
    CacheConfig,
    cached_tokens,
    kv_bytes_per_token,
    kv_cache_bytes,
)
from attention_notes.llama import LlamaConfig, LlamaModel
from attention_notes.mla import LatentKVCache, MultiHeadLatentAttention

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def test_mha_gqa_and_mqa_per_token_by_hand():
    # 2 layers, 4 heads of 8 numbers, float32: a key and a value per KV head and layer.
    mha = CacheConfig(num_layers=2, num_heads=4, num_kv_heads=4, head_dim=8, dtype_bytes=4)
    gqa = dataclasses.replace(mha, num_kv_heads=2)
    mqa = dataclasses.replace(mha, num_kv_heads=1)
    assert (mha.scheme, gqa.scheme, mqa.scheme) == ("MHA", "GQA", "MQA")
    assert kv_bytes_per_token(mha) == 2 * 2 * 4 * 8 * 4 == 512
    assert kv_bytes_per_token(gqa) == 256
    assert kv_bytes_per_token(mqa) == 128
    assert kv_cache_bytes(gqa, 10) == 10 * 256
    assert kv_cache_bytes(gqa, 10, batch_size=3) == 3 * 10 * 256


def test_mla_caches_the_latent_and_the_shared_key_whatever_the_heads():
    mla = CacheConfig(
        num_layers=3, num_heads=4, num_kv_heads=4, head_dim=8, kv_lora_rank=6, qk_rope_head_dim=2
    )
    assert mla.scheme == "MLA"
    assert kv_bytes_per_token(mla) == 3 * (6 + 2) * 2 == 48
    assert kv_bytes_per_token(dataclasses.replace(mla, num_heads=16, num_kv_heads=16)) == 48
    # Without the two MLA fields, the same model caches keys and values per head.
    assert (
        kv_bytes_per_token(dataclasses.replace(mla, kv_lora_rank=None, qk_rope_head_dim=None))
        == 3 * 2 * 4 * 8 * 2
    )


def test_a_sliding_window_stops_the_growth_at_window_plus_sinks():
    cfg = CacheConfig(num_layers=2, num_heads=2, num_kv_heads=1, head_dim=4, window=5)
    per_token = kv_bytes_per_token(cfg)
    assert [kv_cache_bytes(cfg, n) for n in (1, 4, 5, 6, 100)] == [per_token * n for n in (1, 4, 5, 5, 5)]
    sinks = dataclasses.replace(cfg, sink_tokens=2)
    assert cached_tokens(sinks, 3) == (3, 3)
    assert cached_tokens(sinks, 100) == (7, 7)


def test_local_and_global_layers_interleave_like_gemma_3():
    cfg = CacheConfig(num_layers=13, num_heads=2, num_kv_heads=2, head_dim=4, window=3, global_every=6)
    assert cfg.layer_windows == (3, 3, 3, 3, 3, None, 3, 3, 3, 3, 3, None, 3)
    assert cached_tokens(cfg, 10) == (3, 3, 3, 3, 3, 10, 3, 3, 3, 3, 3, 10, 3)
    assert kv_cache_bytes(cfg, 10) == (11 * 3 + 2 * 10) * cfg.bytes_per_token_per_layer


@given(
    layers=st.integers(1, 12),
    kv_heads=st.integers(1, 4),
    group=st.integers(1, 4),
    head_dim=st.integers(1, 16),
    dtype_bytes=st.sampled_from([1, 2, 4]),
    window=st.none() | st.integers(1, 40),
    global_every=st.none() | st.integers(1, 7),
    sinks=st.integers(0, 3),
    context=st.integers(1, 100),
)
def test_the_total_is_the_sum_over_layers_of_what_each_keeps(
    layers, kv_heads, group, head_dim, dtype_bytes, window, global_every, sinks, context
):
    cfg = CacheConfig(
        num_layers=layers,
        num_heads=kv_heads * group,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        dtype_bytes=dtype_bytes,
        window=window,
        global_every=global_every if window else None,
        sink_tokens=sinks if window else 0,
    )
    total = 0
    for layer in range(layers):
        is_global = window is None or (global_every is not None and (layer + 1) % global_every == 0)
        kept = context if is_global else min(context, window + (sinks if window else 0))
        total += kept * 2 * kv_heads * head_dim * dtype_bytes
    assert kv_cache_bytes(cfg, context) == total
    # Never more than the full cache, equal to it while every window still holds the whole context.
    full = context * kv_bytes_per_token(cfg)
    assert kv_cache_bytes(cfg, context) <= full
    if window is None or context <= window:
        assert kv_cache_bytes(cfg, context) == full


def test_published_configurations_give_their_known_per_token_sizes():
    per_token = {name: kv_bytes_per_token(model.config) for name, model in PUBLISHED.items()}
    # Llama 3 8B: 32 layers * 2 * 8 KV heads * 128 * 2 bytes = 128 KiB.
    assert per_token["Llama 3 8B"] == 131072
    assert per_token["Mistral 7B"] == 131072
    assert per_token["Gemma 3 27B"] == 62 * 2 * 16 * 128 * 2
    # DeepSeek-V3: (512 + 64) numbers a layer, 61 layers.
    assert per_token["DeepSeek-V3"] == 61 * 576 * 2 == 70272
    # The MHA it replaces would cache 2 * 128 heads * 128 a layer: 57 times as much.
    mha = dataclasses.replace(PUBLISHED["DeepSeek-V3"].config, kv_lora_rank=None, qk_rope_head_dim=None)
    assert kv_bytes_per_token(mha) // per_token["DeepSeek-V3"] == 56


def test_published_full_contexts():
    gemma = PUBLISHED["Gemma 3 27B"]
    assert gemma.config.layer_windows.count(None) == 10  # 62 layers, every 6th global
    per_layer = 2 * 16 * 128 * 2
    assert kv_cache_bytes(gemma.config, gemma.context_length) == (10 * 131072 + 52 * 1024) * per_layer
    mistral = PUBLISHED["Mistral 7B"]
    assert kv_cache_bytes(mistral.config, 32768) == kv_cache_bytes(mistral.config, 4096) == 512 * 2**20
    for model in PUBLISHED.values():
        assert model.sources and all(s.startswith("https://") for s in model.sources)
        assert model.name in PUBLISHED and PUBLISHED[model.name] is model


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(("n_heads", "n_kv_groups"), [(4, 4), (4, 2), (4, 1)], ids=["MHA", "GQA", "MQA"])
def test_the_estimate_is_the_bytes_a_llama_models_caches_hold(n_heads, n_kv_groups, dtype):
    """Part 1's decoder, 3 layers, 2 sequences: a prompt of 5 tokens, then 2 decoded one at a time."""
    cfg = LlamaConfig(
        vocab_size=11, context_length=16, emb_dim=8, n_heads=n_heads, n_layers=3, hidden_dim=12,
        n_kv_groups=n_kv_groups, dtype=dtype,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaModel(cfg)
    estimate = CacheConfig(
        num_layers=3,
        num_heads=n_heads,
        num_kv_heads=n_kv_groups,
        head_dim=8 // n_heads,
        dtype_bytes=dtype.itemsize,
    )
    caches = model.new_cache()
    idx = torch.randint(11, (2, 7))
    with torch.no_grad():
        model(idx[:, :5], caches)
        assert sum(c.nbytes for c in caches) == kv_cache_bytes(estimate, 5, batch_size=2)
        for t in (5, 6):
            model(idx[:, t : t + 1], caches)
        assert sum(c.nbytes for c in caches) == kv_cache_bytes(estimate, 7, batch_size=2)


def test_the_mla_estimate_is_the_bytes_latent_caches_hold():
    torch.manual_seed(0)
    layers = [MultiHeadLatentAttention(16, 4, 6, 4, 2, 3, context_length=16) for _ in range(2)]
    caches = [LatentKVCache() for _ in layers]
    x = torch.randn(3, 9, 16)
    with torch.no_grad():
        for layer, cache in zip(layers, caches, strict=True):
            layer(x, cache=cache)
    estimate = CacheConfig(
        num_layers=2,
        num_heads=4,
        num_kv_heads=4,
        head_dim=4,
        dtype_bytes=4,
        kv_lora_rank=6,
        qk_rope_head_dim=2,
    )
    assert (
        sum(c.nbytes for c in caches) == kv_cache_bytes(estimate, 9, batch_size=3) == 2 * 3 * 9 * (6 + 2) * 4
    )


def _windowed_stack(cfg: CacheConfig, d_in: int, context_length: int):
    """One GroupedQueryAttention and one KVCache per layer, windowed where ``cfg`` makes the layer local."""
    layers, caches = [], []
    for window in cfg.layer_windows:
        sinks = cfg.sink_tokens if window is not None else 0
        layers.append(
            GroupedQueryAttention(
                d_in, cfg.num_heads * cfg.head_dim, cfg.num_heads, cfg.num_kv_heads,
                context_length=context_length, sliding_window=window, sink_tokens=sinks,
            )
        )  # fmt: skip
        caches.append(KVCache(window=window, sink_tokens=sinks))
    return layers, caches


@given(
    layers=st.integers(1, 7),
    kv_heads=st.integers(1, 3),
    group=st.integers(1, 3),
    head_dim=st.sampled_from([2, 4]),
    window=st.none() | st.integers(1, 9),
    global_every=st.none() | st.integers(1, 4),
    sinks=st.integers(0, 2),
    chunks=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    batch=st.integers(1, 2),
)
def test_the_estimate_is_the_bytes_every_schemes_caches_hold(
    layers, kv_heads, group, head_dim, window, global_every, sinks, chunks, batch
):
    """MHA, GQA, MQA, sliding windows with sinks, local/global hybrids: after every chunk, estimate == nbytes."""
    cfg = CacheConfig(
        num_layers=layers,
        num_heads=kv_heads * group,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        dtype_bytes=4,
        window=window,
        global_every=global_every if window else None,
        sink_tokens=sinks if window else 0,
    )
    torch.manual_seed(0)
    modules, caches = _windowed_stack(cfg, d_in=5, context_length=32)
    x = torch.randn(batch, sum(chunks), 5)
    seen = 0
    with torch.no_grad():
        for size in chunks:
            for module, cache in zip(modules, caches, strict=True):
                module(x[:, seen : seen + size], cache=cache, need_weights=False)
            seen += size
            assert sum(c.nbytes for c in caches) == kv_cache_bytes(cfg, seen, batch_size=batch)
            assert tuple(c.keys.shape[2] for c in caches) == cached_tokens(cfg, seen)


@given(
    layers=st.integers(1, 3),
    heads=st.integers(1, 4),
    rank=st.integers(1, 8),
    rope=st.sampled_from([2, 4]),
    chunks=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    batch=st.integers(1, 2),
)
def test_the_mla_estimate_is_the_bytes_latent_caches_hold_after_every_chunk(
    layers, heads, rank, rope, chunks, batch
):
    cfg = CacheConfig(
        num_layers=layers, num_heads=heads, num_kv_heads=heads, head_dim=3, dtype_bytes=4,
        kv_lora_rank=rank, qk_rope_head_dim=rope,
    )  # fmt: skip
    torch.manual_seed(0)
    modules = [MultiHeadLatentAttention(8, heads, rank, 3, rope, 3, context_length=16) for _ in range(layers)]
    caches = [LatentKVCache() for _ in modules]
    x = torch.randn(batch, sum(chunks), 8)
    seen = 0
    with torch.no_grad():
        for size in chunks:
            for module, cache in zip(modules, caches, strict=True):
                module(x[:, seen : seen + size], cache=cache)
            seen += size
            assert sum(c.nbytes for c in caches) == kv_cache_bytes(cfg, seen, batch_size=batch)


@pytest.fixture(scope="module")
def transformers():
    """transformers, imported with the Hub offline (imported here: it takes seconds)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield importlib.import_module("transformers")


def test_deepseek_v3_is_the_default_of_transformers_deepseek_v3_config(transformers):
    """transformers' DeepseekV3Config defaults to DeepSeek-V3's config.json: an independent copy."""
    hf = transformers.DeepseekV3Config()
    cfg = PUBLISHED["DeepSeek-V3"].config
    assert (cfg.num_layers, cfg.num_heads, cfg.num_kv_heads) == (
        hf.num_hidden_layers, hf.num_attention_heads, hf.num_key_value_heads
    )  # fmt: skip
    assert (cfg.kv_lora_rank, cfg.qk_rope_head_dim) == (hf.kv_lora_rank, hf.qk_rope_head_dim)
    assert cfg.head_dim == hf.qk_nope_head_dim == hf.v_head_dim


def test_mistral_7b_is_the_default_of_transformers_mistral_config(transformers):
    """MistralConfig defaults to Mistral 7B v0.1, sliding window included."""
    hf = transformers.MistralConfig()
    cfg = PUBLISHED["Mistral 7B"].config
    assert (cfg.num_layers, cfg.num_heads, cfg.num_kv_heads, cfg.window) == (
        hf.num_hidden_layers, hf.num_attention_heads, hf.num_key_value_heads, hf.sliding_window
    )  # fmt: skip
    assert cfg.head_dim == hf.hidden_size // hf.num_attention_heads
    assert cfg.layer_windows == (4096,) * 32  # every layer is local, none global


def test_gemma_3_27b_layers_are_laid_out_as_transformers_lays_them_out(transformers):
    """Gemma3TextConfig with the 27B's sizes: the same layers local and global, the same window."""
    cfg = PUBLISHED["Gemma 3 27B"].config
    hf = transformers.Gemma3TextConfig(
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads, head_dim=cfg.head_dim, sliding_window=cfg.window,
    )  # fmt: skip
    assert hf.layer_types == [
        "full_attention" if w is None else "sliding_attention" for w in cfg.layer_windows
    ]
    assert [i for i, w in enumerate(cfg.layer_windows) if w is None] == list(range(5, 62, 6))
    assert PUBLISHED["Gemma 3 27B"].context_length == hf.max_position_embeddings == 131072


def test_the_figure_draws_the_estimates_of_every_published_model_and_labels_the_counterfactuals():
    from attention_notes.lab.figures.memory import LENGTHS, TEXT, curves, load_memory_curves

    data = load_memory_curves()
    assert data["lengths"][0] == 1024 and data["lengths"][-1] == 131072
    assert set(PUBLISHED) <= set(data["lines"])
    for key, (model, config) in curves().items():
        line = data["lines"][key]
        assert line["gib"] == [kv_cache_bytes(config, n) / 2**30 for n in LENGTHS]
        assert line["published"] == (config == PUBLISHED[model].config)
        if not line["published"]:  # a counterfactual says so in both languages
            assert "if" in TEXT["en"][key] and "したら" in TEXT["ja"][key]
    # The numbers the alt text quotes, at 128K tokens.
    at_128k = {key: line["gib"][-1] for key, line in data["lines"].items()}
    assert at_128k["Llama 3 8B"] == 16 and at_128k["DeepSeek-V3 as MHA"] == 488
    assert at_128k["DeepSeek-V3 as GQA"] == 30.5 and at_128k["Gemma 3 27B, all global"] == 62
    assert round(at_128k["Gemma 3 27B"], 1) == 10.4 and round(at_128k["DeepSeek-V3"], 1) == 8.6
    assert round(at_128k["DeepSeek-V3 as MQA"], 1) == 3.8 and at_128k["Mistral 7B"] == 0.5
    for lang, quoted in (("ja", "488 GiB"), ("en", "488 GiB")):
        assert quoted in TEXT[lang]["kv-memory_alt"]


def test_configs_are_frozen():
    cfg = CacheConfig(num_layers=1, num_heads=1, num_kv_heads=1, head_dim=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.num_layers = 2


BASE = {"num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "head_dim": 8}


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"num_layers": 0}, ValueError, "num_layers must be a positive int, got 0"),
        ({"head_dim": 2.0}, TypeError, "head_dim must be a positive int"),
        ({"dtype_bytes": 0}, ValueError, "dtype_bytes must be a positive int"),
        ({"num_kv_heads": 3}, ValueError, "num_kv_heads must divide num_heads"),
        ({"window": 0}, ValueError, "window must be a positive int, got 0"),
        ({"global_every": 6}, ValueError, "set window too"),
        ({"sink_tokens": 4}, ValueError, "set window too"),
        ({"window": 8, "sink_tokens": -1}, ValueError, "sink_tokens must be an int >= 0, got -1"),
        ({"kv_lora_rank": 16}, ValueError, "give both or neither"),
        ({"qk_rope_head_dim": 4}, ValueError, "give both or neither"),
    ],
)
def test_bad_configurations_get_a_clear_error(changes, error, message):
    with pytest.raises(error, match=message):
        CacheConfig(**{**BASE, **changes})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda cfg: kv_cache_bytes(cfg, 0), "context_length must be a positive int, got 0"),
        (lambda cfg: kv_cache_bytes(cfg, 4, batch_size=0), "batch_size must be a positive int, got 0"),
        (lambda cfg: cached_tokens(cfg, -1), "context_length must be a positive int, got -1"),
    ],
)
def test_bad_lengths_get_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(CacheConfig(**BASE))
