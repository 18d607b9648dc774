r"""How much memory a context costs: the bytes of a KV cache for MHA, GQA, MQA, sliding windows and MLA.

While a model generates, every attention layer keeps the keys and values of
the tokens so far (part 1's KV cache). Per token and layer that is

- multi-head attention (MHA): ``2 * num_heads * head_dim`` numbers (a key and a value per head);
- grouped-query attention (GQA): ``2 * num_kv_heads * head_dim``, the query heads sharing
  ``num_kv_heads`` key-value heads; multi-query attention (MQA) is GQA with one;
- multi-head latent attention (MLA, DeepSeek-V2 and V3): ``kv_lora_rank + qk_rope_head_dim``,
  one compressed latent and one shared rotated key, whatever the number of heads;

times ``dtype_bytes`` (2 for bfloat16). A layer with a sliding window keeps
only its last ``window`` tokens (and the first ``sink_tokens``), so its share
stops growing; models such as Gemma 3 interleave such *local* layers with
*global* ones that keep everything (5 local to 1 global).

:class:`CacheConfig` holds what decides the cache; :func:`kv_bytes_per_token`
and :func:`kv_cache_bytes` do the arithmetic; :data:`PUBLISHED` holds real
models' configurations, each with the sources its numbers come from.
"""

from dataclasses import dataclass

from attention_notes.checks import check_positive_int

__all__ = [
    "PUBLISHED",
    "CacheConfig",
    "PublishedModel",
    "cached_tokens",
    "kv_bytes_per_token",
    "kv_cache_bytes",
]


def _check_optional_positive(name: str, value: object) -> None:
    if value is not None:
        check_positive_int(name, value)


@dataclass(frozen=True)
class CacheConfig:
    """What decides the size of a model's KV cache; checked when made.

    ``num_layers`` attention layers, each with ``num_heads`` query heads of
    ``head_dim`` numbers and ``num_kv_heads`` key-value heads (equal to
    ``num_heads`` for MHA, 1 for MQA, a divisor in between for GQA), cached in
    numbers of ``dtype_bytes`` bytes.

    ``window``: the sliding window of the local layers (None: every layer is
    global). ``global_every``: with a window, every ``global_every``-th layer
    (layers ``global_every - 1``, ``2 * global_every - 1``, ... counting from 0)
    is global, as Gemma 3's ``sliding_window_pattern``; None makes every layer
    local. ``sink_tokens``: the first tokens a local layer keeps as well.

    ``kv_lora_rank`` and ``qk_rope_head_dim`` (both or neither) make the cache
    MLA's: per layer and token, the latent and the shared rotated key, in place
    of keys and values per head. ``num_heads``, ``num_kv_heads`` and
    ``head_dim`` then still describe the heads, so that replacing the two
    fields by None gives the MHA or GQA model of the same size.
    """

    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    dtype_bytes: int = 2
    window: int | None = None
    global_every: int | None = None
    sink_tokens: int = 0
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None

    def __post_init__(self) -> None:
        for name in ("num_layers", "num_heads", "num_kv_heads", "head_dim", "dtype_bytes"):
            check_positive_int(name, getattr(self, name))
        for name in ("window", "global_every", "kv_lora_rank", "qk_rope_head_dim"):
            _check_optional_positive(name, getattr(self, name))
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_kv_heads must divide num_heads (each key-value head serves num_heads / num_kv_heads "
                f"query heads), got num_heads = {self.num_heads}, num_kv_heads = {self.num_kv_heads}"
            )
        sinks = self.sink_tokens
        if isinstance(sinks, bool) or not isinstance(sinks, int):
            raise TypeError(f"sink_tokens must be an int >= 0, got {type(sinks).__name__} {sinks!r}")
        if sinks < 0:
            raise ValueError(f"sink_tokens must be an int >= 0, got {sinks}")
        if self.window is None and (self.global_every is not None or self.sink_tokens):
            raise ValueError(
                "global_every and sink_tokens describe the local layers of a sliding window: "
                f"set window too, got window = None, global_every = {self.global_every}, "
                f"sink_tokens = {self.sink_tokens}"
            )
        if (self.kv_lora_rank is None) != (self.qk_rope_head_dim is None):
            raise ValueError(
                "kv_lora_rank and qk_rope_head_dim make the cache MLA's together: give both or neither, "
                f"got kv_lora_rank = {self.kv_lora_rank}, qk_rope_head_dim = {self.qk_rope_head_dim}"
            )

    @property
    def scheme(self) -> str:
        """ "MLA", "MHA", "MQA" or "GQA": how the keys and values of one layer are cached."""
        if self.kv_lora_rank is not None:
            return "MLA"
        if self.num_kv_heads == self.num_heads:
            return "MHA"
        return "MQA" if self.num_kv_heads == 1 else "GQA"

    @property
    def layer_windows(self) -> tuple[int | None, ...]:
        """Each layer's window (None for a global layer), layer 0 first."""
        if self.window is None:
            return (None,) * self.num_layers
        if self.global_every is None:
            return (self.window,) * self.num_layers
        every = self.global_every
        return tuple(None if (i + 1) % every == 0 else self.window for i in range(self.num_layers))

    @property
    def num_global_layers(self) -> int:
        """How many layers are global (None in :attr:`layer_windows`), counted without listing them."""
        if self.window is None:
            return self.num_layers
        return 0 if self.global_every is None else self.num_layers // self.global_every

    @property
    def bytes_per_token_per_layer(self) -> int:
        """What one token adds to one layer's cache."""
        if self.kv_lora_rank is not None:
            return (self.kv_lora_rank + self.qk_rope_head_dim) * self.dtype_bytes  # latent + shared key
        return 2 * self.num_kv_heads * self.head_dim * self.dtype_bytes  # a key and a value per KV head


def _check_config(config: object) -> CacheConfig:
    if not isinstance(config, CacheConfig):
        hint = (
            " (a published model's is PUBLISHED[name].config)" if isinstance(config, PublishedModel) else ""
        )
        raise TypeError(f"config must be a CacheConfig{hint}, got {type(config).__name__} {config!r}")
    return config


def kv_bytes_per_token(config: CacheConfig) -> int:
    """Bytes one more token adds to the cache of all layers while no window is full."""
    _check_config(config)
    return config.num_layers * config.bytes_per_token_per_layer


def cached_tokens(config: CacheConfig, context_length: int) -> tuple[int, ...]:
    """How many tokens each layer keeps after ``context_length`` tokens: all, or its window and sinks."""
    _check_config(config)
    check_positive_int("context_length", context_length)
    kept = [context_length if w is None else w + config.sink_tokens for w in config.layer_windows]
    return tuple(min(context_length, n) for n in kept)


def kv_cache_bytes(config: CacheConfig, context_length: int, batch_size: int = 1) -> int:
    """Bytes of the whole cache after ``context_length`` tokens, for ``batch_size`` sequences.

    The sum of :func:`cached_tokens` over the layers, counted without listing
    them (a test compares the two): a global layer keeps every token, a local
    one its window and sinks.
    """
    _check_config(config)
    check_positive_int("context_length", context_length)
    check_positive_int("batch_size", batch_size)
    num_global = config.num_global_layers
    local = 0 if config.window is None else min(context_length, config.window + config.sink_tokens)
    tokens = num_global * context_length + (config.num_layers - num_global) * local
    return batch_size * tokens * config.bytes_per_token_per_layer


@dataclass(frozen=True)
class PublishedModel:
    """A real model's cache configuration, its context length and where the numbers come from."""

    name: str
    config: CacheConfig
    context_length: int
    sources: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        _check_config(self.config)
        check_positive_int("context_length", self.context_length)
        if (
            not isinstance(self.sources, tuple)
            or not self.sources
            or not all(isinstance(source, str) and source.strip() for source in self.sources)
        ):
            raise TypeError(
                f"sources must be a non-empty tuple of str (where the numbers come from), got "
                f"{self.sources!r}"
            )


# Every number below was checked against the sources named next to it: the
# model's config.json on the Hugging Face Hub and the paper (copies of both
# agree), and, where the defaults of transformers' configuration class match the
# published model in the numbers that decide the cache (DeepseekV3Config,
# MistralConfig; their max_position_embeddings differ) or its layer layout
# (Gemma3TextConfig.layer_types), against that class too: tests/test_kv_memory.py
# compares them. The estimates assume a bfloat16 cache (dtype_bytes = 2), the
# dtype each config.json names ("torch_dtype": "bfloat16"); serving engines may
# store the cache in 8 bits instead (dtype_bytes = 1 halves every number).
PUBLISHED: dict[str, PublishedModel] = {
    "Llama 3 8B": PublishedModel(
        "Llama 3 8B",
        # https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json, and the
        # Llama 3 paper (Llama Team 2024, https://arxiv.org/abs/2407.21783), Table 3 (8B column).
        CacheConfig(
            num_layers=32,  # "num_hidden_layers": 32; Table 3: 32 layers
            num_heads=32,  # "num_attention_heads": 32; Table 3: 32 attention heads
            num_kv_heads=8,  # "num_key_value_heads": 8 (GQA); Table 3: 8 key/value heads
            head_dim=128,  # "hidden_size": 4096 / 32 heads (the config has no "head_dim")
        ),
        context_length=8192,  # "max_position_embeddings": 8192 (Llama 3.1 8B, a later model, has 131072)
        sources=(
            "https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json",
            "https://arxiv.org/abs/2407.21783",
        ),
    ),
    "Mistral 7B": PublishedModel(
        "Mistral 7B",
        # Mistral 7B v0.1: https://huggingface.co/mistralai/Mistral-7B-v0.1/blob/main/config.json and
        # Jiang et al. 2023, "Mistral 7B", section 2 and Table 1, https://arxiv.org/abs/2310.06825.
        # Only v0.1 has the window: the model card of Mistral-7B-Instruct-v0.2 lists, for v0.2,
        # "32k context window (vs 8k context in v0.1)" and "No Sliding-Window Attention"
        # (https://huggingface.co/mistralai/Mistral-7B-Instruct-v0.2); v0.2 is this config with
        # window=None and a context of 32768.
        CacheConfig(
            num_layers=32,  # "num_hidden_layers": 32; Table 1: n_layers 32
            num_heads=32,  # "num_attention_heads": 32; Table 1: n_heads 32
            num_kv_heads=8,  # "num_key_value_heads": 8; Table 1: n_kv_heads 8
            head_dim=128,  # Table 1: head_dim 128 (4096 / 32)
            window=4096,  # "sliding_window": 4096; Table 1: window_size 4096, in every layer: the paper's
            # rolling buffer cache of W = 4096 entries ("on a sequence length of 32k tokens, this
            # reduces the cache memory usage by 8x")
        ),
        context_length=8192,  # Table 1: context_len 8192 (config.json says "max_position_embeddings": 32768)
        sources=(
            "https://huggingface.co/mistralai/Mistral-7B-v0.1/blob/main/config.json",
            "https://arxiv.org/abs/2310.06825",
            "https://huggingface.co/mistralai/Mistral-7B-Instruct-v0.2",
        ),
    ),
    "Gemma 3 27B": PublishedModel(
        "Gemma 3 27B",
        # https://huggingface.co/google/gemma-3-27b-pt/blob/main/config.json ("text_config") and
        # Gemma Team 2025, "Gemma 3 Technical Report", section 2, https://arxiv.org/abs/2503.19786.
        CacheConfig(
            num_layers=62,  # "num_hidden_layers": 62
            num_heads=32,  # "num_attention_heads": 32
            num_kv_heads=16,  # "num_key_value_heads": 16
            head_dim=128,  # "head_dim": 128 (not hidden_size 5376 / 32 = 168, the "query_pre_attn_scalar")
            window=1024,  # "sliding_window": 1024; the report: local layers span 1024 tokens
            global_every=6,  # "sliding_window_pattern": 6; the report: 5 local layers to 1 global, starting
            # with a local one. transformers' Gemma3TextConfig makes layer i local unless (i + 1) % 6 == 0:
            # layers 5, 11, ..., 59 are global, 10 of the 62
        ),
        context_length=131072,  # the report: 128K tokens (32K for the 1B model); "max_position_embeddings"
        sources=(
            "https://huggingface.co/google/gemma-3-27b-pt/blob/main/config.json",
            "https://arxiv.org/abs/2503.19786",
        ),
    ),
    "DeepSeek-V3": PublishedModel(
        "DeepSeek-V3",
        # https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json (the defaults of
        # transformers' DeepseekV3Config) and DeepSeek-AI 2024, "DeepSeek-V3 Technical Report",
        # section 4.2 ("We set the number of Transformer layers to 61 ... the number of attention
        # heads n_h to 128 and the per-head dimension d_h to 128. The KV compression dimension d_c
        # is set to 512 ... we set the per-head dimension d_h^R to 64"), https://arxiv.org/abs/2412.19437.
        CacheConfig(
            num_layers=61,  # "num_hidden_layers": 61 (the multi-token prediction module, which
            # serves training and may be dropped or reused for speculative decoding, is not counted)
            num_heads=128,  # "num_attention_heads": 128; n_h
            num_kv_heads=128,  # "num_key_value_heads": 128 (the MHA it compresses)
            head_dim=128,  # d_h ("qk_nope_head_dim": 128, "v_head_dim": 128)
            kv_lora_rank=512,  # "kv_lora_rank": 512, the report's d_c
            qk_rope_head_dim=64,  # "qk_rope_head_dim": 64, the report's d_h^R
        ),
        context_length=131072,  # extended to 128K tokens in two YaRN stages (report, section 4.3);
        # config.json's "max_position_embeddings" is 163840 (YaRN factor 40 over 4096)
        sources=(
            "https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json",
            "https://arxiv.org/abs/2412.19437",
        ),
    ),
}
