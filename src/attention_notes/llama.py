r"""A small Llama-style decoder built from the package's parts; greedy generation with and without a KV cache.

The architecture of Llama 2 and 3 (and, with small changes, Qwen, Mistral,
Gemma), in the book's ``llama3`` names, so that its state_dict loads:

- ``tok_emb``: token embedding, (B, T) token ids -> (B, T, D); no position
  embedding, since RoPE inside attention carries the positions;
- ``trf_blocks``: ``n_layers`` :class:`TransformerBlock` s, each
  ``x + att(norm1(x))`` then ``x + ff(norm2(x))`` (pre-norm residuals), with
  :class:`~attention_notes.gqa.GroupedQueryAttention` and a SwiGLU
  :class:`FeedForward`;
- ``final_norm`` (:class:`RMSNorm`) and ``out_head``, (B, T, D) -> (B, T, vocab_size) logits.

:func:`generate` picks the most likely next token again and again. With
``use_cache=True`` the prompt runs once (prefill) and then each step feeds one
token with one :class:`~attention_notes.kv_cache.KVCache` per layer; with
``use_cache=False`` every step runs the whole sequence again. Both give the
same tokens; the first does much less work.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from attention_notes.checks import check_positive_int, compute_dtype
from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import KVCache

__all__ = ["FeedForward", "LlamaConfig", "LlamaModel", "RMSNorm", "TransformerBlock", "generate"]


@dataclass(frozen=True)
class LlamaConfig:
    """The sizes of a :class:`LlamaModel` (the book's ``LLAMA3_CONFIG`` keys, plus ``rms_eps``).

    ``n_kv_groups`` is the number of key/value heads per layer; ``hidden_dim``
    the feed-forward's inner size; ``rope_base`` RoPE's ``theta_base``
    (Llama 3 uses 500 000); ``dtype`` the parameters' dtype.
    """

    vocab_size: int
    context_length: int
    emb_dim: int
    n_heads: int
    n_layers: int
    hidden_dim: int
    n_kv_groups: int
    rope_base: float = 10_000.0
    dtype: torch.dtype = torch.float32
    rms_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers", "hidden_dim"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("n_kv_groups", self.n_kv_groups)
        if not isinstance(self.dtype, torch.dtype) or not self.dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating-point torch.dtype, got {self.dtype!r}")
        if (
            isinstance(self.rms_eps, bool)
            or not isinstance(self.rms_eps, int | float)
            or not self.rms_eps > 0
        ):
            raise ValueError(f"rms_eps must be a number > 0, got {self.rms_eps!r}")


class RMSNorm(nn.Module):
    r"""Root-mean-square normalisation: :math:`x / \sqrt{\operatorname{mean}(x^2) + \epsilon} \cdot w`.

    LayerNorm without the mean subtraction and the bias; ``weight`` is (D,).
    Half types are normalised in float32 and cast back (as Hugging Face does).
    """

    def __init__(self, emb_dim: int, eps: float = 1e-5, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        check_positive_int("emb_dim", emb_dim)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(emb_dim, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x``, (..., D), over its last dimension; same shape and dtype."""
        xc = x.to(compute_dtype(x.dtype))  # (..., D)
        rms_inv = torch.rsqrt(xc.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (..., 1)
        return self.weight * (xc * rms_inv).to(x.dtype)  # (..., D)


class FeedForward(nn.Module):
    """SwiGLU feed-forward: ``fc3(silu(fc1(x)) * fc2(x))``, D -> hidden_dim -> D, no biases.

    ``fc1`` is the gate (Hugging Face's ``gate_proj``), ``fc2`` the value it
    scales (``up_proj``) and ``fc3`` the way back (``down_proj``).
    """

    def __init__(self, emb_dim: int, hidden_dim: int, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(emb_dim, hidden_dim, bias=False, dtype=dtype)
        self.fc2 = nn.Linear(emb_dim, hidden_dim, bias=False, dtype=dtype)
        self.fc3 = nn.Linear(hidden_dim, emb_dim, bias=False, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D)."""
        gate = F.silu(self.fc1(x))  # (B, T, hidden_dim)
        return self.fc3(gate * self.fc2(x))  # (B, T, hidden_dim) -> (B, T, D)


class TransformerBlock(nn.Module):
    """One decoder layer: ``x + att(norm1(x))``, then ``x + ff(norm2(x))``."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.att = GroupedQueryAttention(
            cfg.emb_dim,
            cfg.emb_dim,
            cfg.n_heads,
            cfg.n_kv_groups,
            cfg.context_length,
            cfg.rope_base,
            cfg.dtype,
        )
        self.ff = FeedForward(cfg.emb_dim, cfg.hidden_dim, dtype=cfg.dtype)
        self.norm1 = RMSNorm(cfg.emb_dim, eps=cfg.rms_eps, dtype=cfg.dtype)
        self.norm2 = RMSNorm(cfg.emb_dim, eps=cfg.rms_eps, dtype=cfg.dtype)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """(B, T, D) -> (B, T, D); ``cache`` is this layer's, if generating with one."""
        context, _ = self.att(self.norm1(x), cache=cache, need_weights=False)  # (B, T, D)
        x = x + context  # (B, T, D)
        return x + self.ff(self.norm2(x))  # (B, T, D)


class LlamaModel(nn.Module):
    """Token ids (B, T) -> next-token logits (B, T, vocab_size), Llama's architecture."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        if not isinstance(cfg, LlamaConfig):
            raise TypeError(f"cfg must be a LlamaConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.emb_dim, dtype=cfg.dtype)
        self.trf_blocks = nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg.n_layers)])
        self.final_norm = RMSNorm(cfg.emb_dim, eps=cfg.rms_eps, dtype=cfg.dtype)
        self.out_head = nn.Linear(cfg.emb_dim, cfg.vocab_size, bias=False, dtype=cfg.dtype)

    def new_cache(self) -> list[KVCache]:
        """One empty :class:`~attention_notes.kv_cache.KVCache` per layer: :meth:`forward`'s ``caches``."""
        return [KVCache() for _ in self.trf_blocks]

    def forward(self, idx: torch.Tensor, caches: list[KVCache] | None = None) -> torch.Tensor:
        """Logits (B, T, vocab_size) for token ids ``idx``, (B, T); with ``caches``, continue from them."""
        idx = _check_token_ids(idx, self.cfg.vocab_size)
        if caches is not None and (
            not isinstance(caches, list | tuple)
            or len(caches) != len(self.trf_blocks)
            or not all(isinstance(c, KVCache) for c in caches)
        ):
            raise TypeError(
                f"caches must be a list of {len(self.trf_blocks)} KVCache (one per layer; "
                "model.new_cache() makes one), or None"
            )
        x = self.tok_emb(idx)  # (B, T) -> (B, T, D)
        for i, block in enumerate(self.trf_blocks):
            x = block(x, cache=None if caches is None else caches[i])  # (B, T, D)
        return self.out_head(self.final_norm(x))  # (B, T, D) -> (B, T, vocab_size)


def _check_token_ids(idx: object, vocab_size: int) -> torch.Tensor:
    if not isinstance(idx, torch.Tensor) or idx.dtype not in (torch.int64, torch.int32):
        got = idx.dtype if isinstance(idx, torch.Tensor) else type(idx).__name__
        raise TypeError(f"idx must be a tensor of token ids (torch.long), shape (B, T), got {got}")
    if idx.dim() != 2 or idx.numel() == 0:
        raise ValueError(f"idx must be (B, T) token ids, each size >= 1, got shape {tuple(idx.shape)}")
    if not idx.is_meta and (int(idx.min()) < 0 or int(idx.max()) >= vocab_size):
        raise ValueError(
            f"idx must hold token ids in [0, vocab_size) = [0, {vocab_size}), "
            f"got values from {int(idx.min())} to {int(idx.max())}"
        )
    return idx


@torch.no_grad()
def generate(
    model: LlamaModel, idx: torch.Tensor, max_new_tokens: int, use_cache: bool = True
) -> torch.Tensor:
    """Greedy decoding: append ``max_new_tokens`` tokens to ``idx``, (B, T); returns (B, T + max_new_tokens).

    ``use_cache=True``: the prompt runs once, then one token per step with a
    KV cache per layer. ``use_cache=False``: every step runs the whole
    sequence. Both return the same tokens. The whole sequence must fit in
    ``context_length``.
    """
    if not isinstance(model, LlamaModel):
        raise TypeError(f"model must be a LlamaModel, got {type(model).__name__}")
    idx = _check_token_ids(idx, model.cfg.vocab_size)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache must be a bool (True or False), got {type(use_cache).__name__}")
    T = idx.shape[1]
    if T + max_new_tokens > model.cfg.context_length:
        raise ValueError(
            f"the prompt's T = {T} tokens plus max_new_tokens = {max_new_tokens} go past "
            f"context_length = {model.cfg.context_length}"
        )
    caches = model.new_cache() if use_cache else None
    step_input = idx  # (B, T): the prompt first (prefill)
    for _ in range(max_new_tokens):
        logits = model(step_input, caches)  # (B, T_step, vocab_size)
        next_token = logits[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1)
        idx = torch.cat([idx, next_token], dim=1)  # (B, T + 1)
        # With a cache only the new token goes in; without one the whole sequence again.
        step_input = next_token if use_cache else idx  # (B, 1) or (B, T + 1)
    return idx
