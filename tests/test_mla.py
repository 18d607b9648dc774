"""MultiHeadLatentAttention against transformers' DeepseekV3Attention, its cache, and the absorbed decode.

The reference is Hugging Face's ``DeepseekV3Attention`` (transformers 5.25.0,
the pin of part 1) with random weights in a tiny configuration: nothing is
downloaded (``HF_HUB_OFFLINE=1``). Its RMSNorm computes in float32 whatever
the input's dtype, which limits a float64 comparison to about 1e-7; the tight
comparisons patch it to compute in the input's dtype (its formula unchanged),
so that everything else is compared to 1e-12. One test keeps the float32
norm and compares at 1e-6, against the attention weights of its eager path.
"""

import importlib
import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention_notes.kv_memory import CacheConfig, kv_cache_bytes
from attention_notes.mla import LatentKVCache, MultiHeadLatentAttention
from attention_notes.rope import interleaved_to_halves

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

# d_model, num_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim: all different,
# so that a dimension used in the wrong place fails on a shape or a value.
DIMS = {
    "d_model": 20,
    "num_heads": 3,
    "kv_lora_rank": 10,
    "qk_nope_head_dim": 4,
    "qk_rope_head_dim": 6,
    "v_head_dim": 5,
}
CONTEXT = 32
VARIANTS = [(q, i) for q in (None, 7) for i in (True, False)]  # (q_lora_rank, rope_interleave)
VARIANT_IDS = [f"q_lora_rank={q}-interleave={i}" for q, i in VARIANTS]


@pytest.fixture(scope="module")
def hf():
    """transformers and its DeepSeek-V3 modelling module, imported with the Hub offline."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        transformers = importlib.import_module("transformers")
        yield transformers, importlib.import_module("transformers.models.deepseek_v3.modeling_deepseek_v3")


@pytest.fixture
def exact_norm(hf, monkeypatch):
    """DeepseekV3RMSNorm's formula in the input's dtype, instead of float32."""
    _, ds = hf

    def forward(self, hidden_states):
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))

    monkeypatch.setattr(ds.DeepseekV3RMSNorm, "forward", forward)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def pair(hf, q_lora_rank, rope_interleave, attn_implementation="sdpa", seed=0):
    """transformers' attention with random weights (norms included), and ours with its state_dict."""
    transformers, ds = hf
    config = transformers.DeepseekV3Config(
        hidden_size=DIMS["d_model"],
        num_attention_heads=DIMS["num_heads"],
        num_key_value_heads=DIMS["num_heads"],
        kv_lora_rank=DIMS["kv_lora_rank"],
        q_lora_rank=q_lora_rank,
        qk_nope_head_dim=DIMS["qk_nope_head_dim"],
        qk_rope_head_dim=DIMS["qk_rope_head_dim"],
        v_head_dim=DIMS["v_head_dim"],
        rope_interleave=rope_interleave,
        max_position_embeddings=CONTEXT,
        rope_theta=10_000.0,
        attention_bias=False,
        num_hidden_layers=1,
        attn_implementation=attn_implementation,
    )
    reference = ds.DeepseekV3Attention(config, layer_idx=0).double().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in reference.parameters():  # the norms' weights too, which start at 1
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.5)
    mla = MultiHeadLatentAttention(
        **DIMS, q_lora_rank=q_lora_rank, context_length=CONTEXT, rope_interleave=rope_interleave
    ).double()
    mla.load_state_dict(reference.state_dict())  # strict: the same names and shapes
    return config, reference, ds.DeepseekV3RotaryEmbedding(config), mla


def hf_call(reference, rotary, x, offset, S, cache=None):
    """The reference on ``x`` at positions offset .. offset + T - 1, over S keys (bottom-right causal)."""
    B, T, _ = x.shape
    positions = torch.arange(offset, offset + T)[None].expand(B, T)
    cos, sin = rotary(x, positions)
    blocked = torch.ones(T, S, dtype=torch.bool).triu(S - T + 1)  # query i sees keys <= S - T + i
    mask = torch.zeros(B, 1, T, S, dtype=x.dtype).masked_fill(blocked, -torch.inf)  # additive, (B, 1, T, S)
    return reference(x, (cos, sin), mask, cache=cache)


def test_state_dict_names_and_shapes_are_transformers(hf):
    for q_lora_rank in (None, 7):
        _, reference, _, mla = pair(hf, q_lora_rank, True)
        ours = {k: tuple(v.shape) for k, v in mla.state_dict().items()}
        assert ours == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert "q_proj.weight" in pair(hf, None, True)[3].state_dict()
    assert {"q_a_proj.weight", "q_a_layernorm.weight", "q_b_proj.weight"} <= set(
        pair(hf, 7, True)[3].state_dict()
    )


@pytest.mark.parametrize(("q_lora_rank", "rope_interleave"), VARIANTS, ids=VARIANT_IDS)
def test_full_forward_equals_transformers(hf, exact_norm, q_lora_rank, rope_interleave):
    _, reference, rotary, mla = pair(hf, q_lora_rank, rope_interleave)
    x = randn(2, 9, DIMS["d_model"], seed=1)
    want, _ = hf_call(reference, rotary, x, 0, 9)
    for absorb in (False, True):
        context, attn_weights = mla(x, absorb=absorb)
        assert context.shape == (2, 9, DIMS["d_model"]) and attn_weights.shape == (2, 3, 9, 9)
        torch.testing.assert_close(context, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("q_lora_rank", "rope_interleave"), VARIANTS, ids=VARIANT_IDS)
def test_weights_equal_transformers_eager_with_its_float32_norms(hf, q_lora_rank, rope_interleave):
    """Unpatched: its RMSNorm and softmax round to float32, so 1e-6 is as close as it gets."""
    _, reference, rotary, mla = pair(hf, q_lora_rank, rope_interleave, attn_implementation="eager")
    x = randn(1, 6, DIMS["d_model"], seed=2)
    want, want_weights = hf_call(reference, rotary, x, 0, 6)
    context, attn_weights = mla(x)
    torch.testing.assert_close(context, want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(attn_weights, want_weights, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("q_lora_rank", "rope_interleave"), VARIANTS, ids=VARIANT_IDS)
def test_cached_decoding_equals_transformers_and_caches_what_it_caches(
    hf, exact_norm, q_lora_rank, rope_interleave
):
    transformers, _ = hf
    config, reference, rotary, mla = pair(hf, q_lora_rank, rope_interleave)
    x = randn(2, 8, DIMS["d_model"], seed=3)
    hf_cache = transformers.DynamicCache(config=config)
    caches = {False: LatentKVCache(), True: LatentKVCache()}  # one per path: plain and absorbed
    for start, stop in [(0, 5), (5, 6), (6, 8)]:  # a prompt of 5, then one token, then two
        want, _ = hf_call(reference, rotary, x[:, start:stop], start, stop, cache=hf_cache)
        # transformers' cache holds two tensors: the normalised latent and the rotated shared key.
        hf_latents, hf_rope_keys = (
            hf_cache.layers[0].keys,
            hf_cache.layers[0].values,
        )  # (B, 1, S, r), (B, 1, S, dr)
        for absorb, cache in caches.items():
            context, _ = mla(x[:, start:stop], cache=cache, absorb=absorb)
            torch.testing.assert_close(context, want, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(cache.latents, hf_latents[:, 0], rtol=1e-12, atol=1e-12)
            rope_keys = cache.rope_keys
            if rope_interleave:  # transformers returns the rotated pairs as split halves
                rope_keys = rope_keys[..., interleaved_to_halves(DIMS["qk_rope_head_dim"])]
            torch.testing.assert_close(rope_keys, hf_rope_keys, rtol=1e-12, atol=1e-12)
    assert caches[False].num_tokens == caches[True].num_tokens == 8


@st.composite
def splits(draw):
    T = draw(st.integers(1, 10))
    cuts = sorted(draw(st.sets(st.integers(1, T - 1), max_size=4))) if T > 1 else []
    return T, [0, *cuts, T]


@given(
    split=splits(),
    q_lora_rank=st.sampled_from([None, 3]),
    rope_interleave=st.booleans(),
    absorb=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_cached_decoding_in_any_split_equals_the_full_forward(
    split, q_lora_rank, rope_interleave, absorb, seed
):
    T, bounds = split
    torch.manual_seed(seed)
    mla = MultiHeadLatentAttention(
        **DIMS, q_lora_rank=q_lora_rank, context_length=CONTEXT, rope_interleave=rope_interleave
    ).double()
    x = randn(2, T, DIMS["d_model"], seed=seed)
    full, full_weights = mla(x)
    cache = LatentKVCache()
    for start, stop in itertools.pairwise(bounds):
        context, attn_weights = mla(x[:, start:stop], cache=cache, absorb=absorb)
        torch.testing.assert_close(context, full[:, start:stop], rtol=1e-12, atol=1e-12)
        # The weights over the keys so far are the full forward's rows, cut at the last key.
        torch.testing.assert_close(
            attn_weights, full_weights[:, :, start:stop, :stop], rtol=1e-12, atol=1e-12
        )
    assert cache.num_tokens == T


def test_the_absorbed_path_equals_the_plain_one_in_float32_too():
    torch.manual_seed(0)
    mla = MultiHeadLatentAttention(**DIMS, q_lora_rank=7, context_length=CONTEXT)
    x = torch.randn(3, 7, DIMS["d_model"])
    plain, plain_weights = mla(x)
    absorbed, absorbed_weights = mla(x, absorb=True)
    torch.testing.assert_close(absorbed, plain)
    torch.testing.assert_close(absorbed_weights, plain_weights)


def test_the_cache_holds_the_latent_and_one_rotated_key_per_token():
    torch.manual_seed(0)
    mla = MultiHeadLatentAttention(**DIMS, context_length=CONTEXT).double()
    cache = LatentKVCache()
    mla(randn(2, 5, DIMS["d_model"]), cache=cache)
    mla(randn(2, 1, DIMS["d_model"], seed=1), cache=cache)
    r, dr = DIMS["kv_lora_rank"], DIMS["qk_rope_head_dim"]
    assert cache.latents.shape == (2, 6, r) and cache.rope_keys.shape == (2, 1, 6, dr)
    assert cache.nbytes == 2 * 6 * (r + dr) * 8
    # The estimator's MLA formula counts the same bytes.
    config = CacheConfig(
        num_layers=1,
        num_heads=3,
        num_kv_heads=3,
        head_dim=5,
        dtype_bytes=8,
        kv_lora_rank=r,
        qk_rope_head_dim=dr,
    )
    assert kv_cache_bytes(config, 6, batch_size=2) == cache.nbytes
    # The latents are kv_a_layernorm's output: RMS 1 before its weight (here all ones).
    rms = cache.latents.pow(2).mean(-1).sqrt()
    torch.testing.assert_close(rms, torch.ones_like(rms), rtol=1e-5, atol=1e-5)
    cache.reset()
    assert cache.latents is None and cache.rope_keys is None
    assert cache.num_tokens == 0 and cache.nbytes == 0


def test_an_unbatched_input_gives_unbatched_outputs():
    torch.manual_seed(0)
    mla = MultiHeadLatentAttention(**DIMS, context_length=CONTEXT).double()
    x = randn(4, DIMS["d_model"])
    context, attn_weights = mla(x)
    batched, batched_weights = mla(x[None])
    assert context.shape == (4, DIMS["d_model"]) and attn_weights.shape == (3, 4, 4)
    torch.testing.assert_close(context, batched[0], rtol=0, atol=0)
    torch.testing.assert_close(attn_weights, batched_weights[0], rtol=0, atol=0)


def test_scores_depend_on_relative_positions_only():
    """Two tokens at positions 0, 1 and the same two at 5, 6 (after 5 cached tokens) score alike."""
    torch.manual_seed(0)
    mla = MultiHeadLatentAttention(**DIMS, context_length=CONTEXT).double()
    x = randn(1, 2, DIMS["d_model"])
    _, first = mla(x)  # (1, H, 2, 2)
    cache = LatentKVCache()
    mla(randn(1, 5, DIMS["d_model"], seed=9), cache=cache)
    _, later = mla(x, cache=cache)  # (1, H, 2, 7)
    # Softmax does not change differences of scores within a row: log-weight gaps are score gaps.
    gap_first = first[..., 1, 1].log() - first[..., 1, 0].log()  # query 1: key 1 against key 0
    gap_later = later[..., 1, 6].log() - later[..., 1, 5].log()  # the same pair, 5 positions on
    # Up to the RoPE tables' float32 angles (computed as the book and transformers compute them).
    torch.testing.assert_close(gap_later, gap_first, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"qk_rope_head_dim": 5}, ValueError, "qk_rope_head_dim must be even"),
        ({"kv_lora_rank": 0}, ValueError, "kv_lora_rank must be a positive int, got 0"),
        ({"v_head_dim": 2.0}, TypeError, "v_head_dim must be a positive int"),
        ({"q_lora_rank": 0}, ValueError, "q_lora_rank must be a positive int, got 0"),
        ({"rope_interleave": 1}, TypeError, "rope_interleave must be a bool"),
        ({"rope_base": 1.0}, ValueError, "rope_base must be a number > 1"),
        ({"context_length": 0}, ValueError, "context_length must be a positive int, got 0"),
    ],
)
def test_bad_constructor_arguments_get_a_clear_error(changes, error, message):
    with pytest.raises(error, match=message):
        MultiHeadLatentAttention(**{**DIMS, **changes})


def test_bad_forward_arguments_get_a_clear_error():
    mla = MultiHeadLatentAttention(**DIMS, context_length=8)
    with pytest.raises(ValueError, match="embedding size"):
        mla(torch.randn(1, 3, 7))
    with pytest.raises(TypeError, match="cache must be a LatentKVCache or None, got dict"):
        mla(torch.randn(1, 3, DIMS["d_model"]), cache={})
    with pytest.raises(TypeError, match="absorb must be a bool"):
        mla(torch.randn(1, 3, DIMS["d_model"]), absorb="yes")
    cache = LatentKVCache()
    mla(torch.randn(1, 6, DIMS["d_model"]), cache=cache)
    with pytest.raises(ValueError, match=r"positions offset .* 6 \.\. 8 .* go past context_length = 8"):
        mla(torch.randn(1, 3, DIMS["d_model"]), cache=cache)
    with pytest.raises(ValueError, match="the cache holds"):
        mla(torch.randn(2, 1, DIMS["d_model"]), cache=cache)  # another batch size
    with pytest.raises(TypeError, match="the dtype or device changed midway"):
        mla.double()(torch.randn(1, 1, DIMS["d_model"], dtype=torch.float64), cache=cache)


def test_bad_cache_updates_get_a_clear_error():
    cache = LatentKVCache()
    with pytest.raises(ValueError, match=r"rope_keys must be \(B, 1, T, qk_rope_head_dim\)"):
        cache.update(torch.randn(2, 3, 4), torch.randn(2, 2, 3, 6))
    with pytest.raises(TypeError, match="same dtype and device"):
        cache.update(torch.randn(2, 3, 4), torch.randn(2, 1, 3, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"latents must be \(B, T, kv_lora_rank\)"):
        cache.update(torch.randn(3, 4), torch.randn(1, 1, 3, 6))
