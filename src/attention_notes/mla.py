r"""Multi-head latent attention (MLA, DeepSeek-V2 and V3): the cache holds one small latent per token.

Multi-head attention caches a key and a value per head and token. MLA caches
instead, per token, one *latent* vector of ``kv_lora_rank`` numbers (512 in
DeepSeek-V3, against 2 * 128 heads * 128 = 32768 for its heads' keys and
values) and rebuilds every head's keys and values from it with one
up-projection, ``kv_b_proj``:

.. math::

    c_t = \operatorname{RMSNorm}(W^{DKV} x_t), \qquad
    [k^C_{t,h};\ v_{t,h}] = W^{UKV}_h\, c_t

RoPE cannot go through that compression: a rotation that depends on the
position would sit between the query and ``W^{UKV}``, so the up-projection
could no longer be folded into the query (below). MLA therefore splits each
head's query and key into a part without position (``qk_nope_head_dim``,
rebuilt from the latent) and a rotated part (``qk_rope_head_dim``), whose key
is computed from ``x`` once and **shared by all heads** (*decoupled RoPE*).
The cache holds the latent and that rotated key: ``kv_lora_rank +
qk_rope_head_dim`` numbers per token and layer (:class:`LatentKVCache`).

*Absorbed* decoding (``absorb=True``) never rebuilds the keys: since
:math:`q^C_h \cdot (W^{UK}_h c_s) = ((W^{UK}_h)^\top q^C_h) \cdot c_s`, folding
the key half of ``kv_b_proj`` into the query scores every head against the
cached latents directly; the value half is applied after the weighted sum of
latents. It is multi-query attention over the cache, with heads of
``kv_lora_rank + qk_rope_head_dim`` numbers.

The parameter names are those of Hugging Face's ``DeepseekV3Attention``
(``q_proj``, or ``q_a_proj``, ``q_a_layernorm`` and ``q_b_proj`` with
``q_lora_rank``; ``kv_a_proj_with_mqa``, ``kv_a_layernorm``, ``kv_b_proj``,
``o_proj``; no biases, RMSNorm with eps 1e-6), so its ``state_dict`` loads by
name. The scale is ``(qk_nope_head_dim + qk_rope_head_dim) ** -0.5``;
DeepSeek-V3's YaRN context extension, which rescales it, is not modelled.

Shapes: ``H`` heads, ``r = kv_lora_rank``, ``dn = qk_nope_head_dim``,
``dr = qk_rope_head_dim``, ``dv = v_head_dim``, ``S`` the tokens cached so far
plus the ``T`` new ones.
"""

import numbers

import torch
from torch import nn

from attention_notes.checks import check_bool, check_positive_int, check_sequence, check_tensor
from attention_notes.kv_cache import bottom_right_causal_mask
from attention_notes.llama import RMSNorm
from attention_notes.rope import apply_rope, apply_rope_interleaved, compute_rope_params
from attention_notes.scaled_dot_product import scaled_dot_product_attention

__all__ = ["LatentKVCache", "MultiHeadLatentAttention"]

RMS_EPS = 1e-6  # DeepseekV3RMSNorm's default, used by q_a_layernorm and kv_a_layernorm


class LatentKVCache:
    """One MLA layer's cache: per token, the normalised latent (B, S, r), the rotated key (B, 1, S, dr).

    Create one empty cache per layer and sequence batch and pass it to the
    layer at every step. Like :class:`~attention_notes.kv_cache.KVCache`, it
    counts the tokens it has seen (the next token's position) and is tied to
    the shapes, dtype and device of its first update.
    """

    def __init__(self) -> None:
        self.latents: torch.Tensor | None = None  # (B, S, r), after kv_a_layernorm
        self.rope_keys: torch.Tensor | None = None  # (B, 1, S, dr), after RoPE; one key for all heads

    @property
    def num_tokens(self) -> int:
        """S, the number of tokens cached so far: the position of the next token."""
        return 0 if self.latents is None else self.latents.shape[1]

    @property
    def nbytes(self) -> int:
        """The bytes the cache takes: ``B * S * (r + dr) * bytes per element``."""
        if self.latents is None or self.rope_keys is None:
            return 0
        return self.latents.nbytes + self.rope_keys.nbytes

    def reset(self) -> None:
        """Forget everything: the next update starts at position 0, with any shapes."""
        self.latents = None
        self.rope_keys = None

    def update(self, latents: torch.Tensor, rope_keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append T tokens' ``latents`` (B, T, r) and ``rope_keys`` (B, 1, T, dr); return all S so far."""
        latents = check_tensor("latents", latents, ["(B, T, kv_lora_rank)"])
        rope_keys = check_tensor("rope_keys", rope_keys, ["(B, 1, T, qk_rope_head_dim)"])
        if rope_keys.shape[:3] != (latents.shape[0], 1, latents.shape[1]):
            raise ValueError(
                f"rope_keys must be (B, 1, T, qk_rope_head_dim) with (B, T) = {tuple(latents.shape[:2])} of "
                f"latents, got {tuple(rope_keys.shape)}"
            )
        if latents.dtype != rope_keys.dtype or latents.device != rope_keys.device:
            raise TypeError(
                f"latents and rope_keys must have the same dtype and device, got {latents.dtype} on "
                f"{latents.device} and {rope_keys.dtype} on {rope_keys.device}"
            )
        if self.latents is None or self.rope_keys is None:
            self.latents, self.rope_keys = latents, rope_keys
            return self.latents, self.rope_keys
        expected = (self.latents.shape[0], self.latents.shape[2], self.rope_keys.shape[3])
        if (latents.shape[0], latents.shape[2], rope_keys.shape[3]) != expected:
            raise ValueError(
                f"the cache holds (B, r, dr) = {expected}, got latents {tuple(latents.shape)} and rope_keys "
                f"{tuple(rope_keys.shape)}: use one LatentKVCache per layer and batch, or cache.reset()"
            )
        if latents.dtype != self.latents.dtype or latents.device != self.latents.device:
            raise TypeError(
                f"the dtype or device changed midway: the cache holds {self.latents.dtype} on "
                f"{self.latents.device}, got {latents.dtype} on {latents.device}; use a new LatentKVCache"
            )
        self.latents = torch.cat([self.latents, latents], dim=1)  # (B, S + T, r)
        self.rope_keys = torch.cat([self.rope_keys, rope_keys], dim=2)  # (B, 1, S + T, dr)
        return self.latents, self.rope_keys

    def __repr__(self) -> str:
        return f"LatentKVCache(num_tokens={self.num_tokens}, nbytes={self.nbytes})"


class MultiHeadLatentAttention(nn.Module):
    """Causal multi-head latent attention with decoupled RoPE, in the layout of ``DeepseekV3Attention``.

    Args:
        d_model: embedding size of the input and the output.
        num_heads: number of heads ``H``.
        kv_lora_rank: size ``r`` of the latent that is cached instead of keys and values.
        qk_nope_head_dim: per head, the features of query and key rebuilt from the latent (no RoPE).
        qk_rope_head_dim: per head, the rotated query features, and the size of the shared
            rotated key; even (RoPE rotates pairs).
        v_head_dim: per head, the features of the value.
        q_lora_rank: None: one projection ``q_proj`` makes the queries. A number: the
            queries go through a low-rank bottleneck of that size too
            (``q_a_proj``, ``q_a_layernorm``, ``q_b_proj``), as in DeepSeek-V2 and V3.
        context_length: the last position RoPE covers plus one.
        rope_base: RoPE's ``theta_base``.
        rope_interleave: True: RoPE pairs features ``2i`` and ``2i + 1`` (DeepSeek's
            checkpoints); False: ``i`` and ``i + dr // 2`` (split halves).
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        kv_lora_rank: int,
        qk_nope_head_dim: int,
        qk_rope_head_dim: int,
        v_head_dim: int,
        q_lora_rank: int | None = None,
        context_length: int = 4096,
        rope_base: float = 10_000.0,
        rope_interleave: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (
            ("d_model", d_model),
            ("num_heads", num_heads),
            ("kv_lora_rank", kv_lora_rank),
            ("qk_nope_head_dim", qk_nope_head_dim),
            ("qk_rope_head_dim", qk_rope_head_dim),
            ("v_head_dim", v_head_dim),
            ("context_length", context_length),
        ):
            check_positive_int(name, value)
        if q_lora_rank is not None:
            check_positive_int("q_lora_rank", q_lora_rank)
        check_bool("rope_interleave", rope_interleave)
        if isinstance(rope_base, bool) or not isinstance(rope_base, numbers.Real) or not rope_base > 1:
            raise ValueError(f"rope_base must be a number > 1 (10_000.0 in the paper), got {rope_base!r}")
        if qk_rope_head_dim % 2:
            raise ValueError(
                f"qk_rope_head_dim must be even (RoPE rotates the features in pairs), got {qk_rope_head_dim}"
            )
        cos, sin = compute_rope_params(qk_rope_head_dim, rope_base, context_length)  # (ctx, dr) each
        self.register_buffer("cos", cos, persistent=False)  # not in the state_dict: the arguments decide them
        self.register_buffer("sin", sin, persistent=False)
        self.d_model = d_model
        self.num_heads = num_heads
        self.kv_lora_rank = kv_lora_rank
        self.qk_nope_head_dim = qk_nope_head_dim
        self.qk_rope_head_dim = qk_rope_head_dim
        self.qk_head_dim = qk_nope_head_dim + qk_rope_head_dim
        self.v_head_dim = v_head_dim
        self.q_lora_rank = q_lora_rank
        self.context_length = context_length
        self.rope_interleave = rope_interleave
        self.scale = self.qk_head_dim**-0.5
        H = num_heads
        if q_lora_rank is None:
            self.q_proj = nn.Linear(d_model, H * self.qk_head_dim, bias=False)
        else:
            self.q_a_proj = nn.Linear(d_model, q_lora_rank, bias=False)  # down to the query's bottleneck
            self.q_a_layernorm = RMSNorm(q_lora_rank, eps=RMS_EPS)
            self.q_b_proj = nn.Linear(q_lora_rank, H * self.qk_head_dim, bias=False)  # up to every head
        # One projection makes the latent and the shared rotated key ("with MQA": one key for all heads).
        self.kv_a_proj_with_mqa = nn.Linear(d_model, kv_lora_rank + qk_rope_head_dim, bias=False)
        self.kv_a_layernorm = RMSNorm(kv_lora_rank, eps=RMS_EPS)
        # Up from the latent to every head's key part without RoPE and its value.
        self.kv_b_proj = nn.Linear(kv_lora_rank, H * (qk_nope_head_dim + v_head_dim), bias=False)
        self.o_proj = nn.Linear(H * v_head_dim, d_model, bias=False)

    def _rope(self, x: torch.Tensor, offset: int) -> torch.Tensor:
        cos, sin = self.cos[offset : offset + x.shape[-2]], self.sin[offset : offset + x.shape[-2]]  # (T, dr)
        return (apply_rope_interleaved if self.rope_interleave else apply_rope)(x, cos, sin)

    def forward(
        self, x: torch.Tensor, cache: LatentKVCache | None = None, absorb: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Causal self-attention over ``x``, (B, T, d_model) or (T, d_model), continuing ``cache`` if given.

        With a cache holding S0 tokens, ``x`` is the tokens at positions
        S0 .. S0 + T - 1: their latents and rotated keys are appended, and the
        queries attend over all S = S0 + T (the mask aligned bottom-right).
        ``absorb=True`` scores the queries against the latents directly
        (``kv_b_proj``'s key half folded into the query); the result is the same.

        Returns ``(context, attn_weights)``: (B, T, d_model) and (B, H, T, S);
        (T, d_model) and (H, T, S) for an unbatched input.
        """
        x, unbatched = check_sequence(x, self.d_model, self.context_length, self.kv_b_proj.weight)
        check_bool("absorb", absorb)
        if cache is not None and not isinstance(cache, LatentKVCache):
            raise TypeError(f"cache must be a LatentKVCache or None, got {type(cache).__name__}")
        B, T, _ = x.shape
        H, r, dv = self.num_heads, self.kv_lora_rank, self.v_head_dim
        dn, dr = self.qk_nope_head_dim, self.qk_rope_head_dim
        offset = 0 if cache is None else cache.num_tokens  # positions come from the cache, never the caller
        if offset + T > self.context_length:
            raise ValueError(
                f"positions offset .. offset + T - 1 = {offset} .. {offset + T - 1} (offset = the tokens "
                f"already cached) go past context_length = {self.context_length}"
            )

        if self.q_lora_rank is None:
            q = self.q_proj(x)  # (B, T, H * (dn + dr))
        else:
            q_compressed = self.q_a_layernorm(self.q_a_proj(x))  # (B, T, q_lora_rank)
            q = self.q_b_proj(q_compressed)  # (B, T, H * (dn + dr))
        q = q.view(B, T, H, dn + dr).transpose(1, 2)  # (B, H, T, dn + dr)
        q_nope, q_rope = q.split([dn, dr], dim=-1)  # (B, H, T, dn), (B, H, T, dr)

        compressed = self.kv_a_proj_with_mqa(x)  # (B, T, r + dr)
        latents, k_rope = compressed.split([r, dr], dim=-1)  # (B, T, r), (B, T, dr)
        latents = self.kv_a_layernorm(latents)  # (B, T, r)
        k_rope = k_rope[:, None]  # (B, 1, T, dr): one rotated key, shared by every head
        q_rope, k_rope = self._rope(q_rope, offset), self._rope(k_rope, offset)  # at positions offset ..
        if cache is not None:
            latents, k_rope = cache.update(latents, k_rope)  # (B, S, r), (B, 1, S, dr): all that is cached
        S = latents.shape[1]
        mask = bottom_right_causal_mask(T, S, device=x.device)  # (T, S), True = blocked

        if absorb:
            # kv_b_proj's rows, head by head: the key half W_uk and the value half W_uv.
            W_ukv = self.kv_b_proj.weight.view(H, dn + dv, r)  # (H * (dn + dv), r) -> (H, dn + dv, r)
            W_uk, W_uv = W_ukv.split([dn, dv], dim=1)  # (H, dn, r), (H, dv, r)
            # q_nope . (W_uk c) = (W_uk^T q_nope) . c: every head scores its query against the latents.
            q_latent = q_nope @ W_uk  # (B, H, T, dn) @ (H, dn, r) -> (B, H, T, r)
            queries = torch.cat([q_latent, q_rope], dim=-1)  # (B, H, T, r + dr)
            keys = torch.cat([latents[:, None], k_rope], dim=-1).expand(B, H, S, r + dr)  # (B, H, S, r + dr)
            values = latents[:, None].expand(B, H, S, r)  # (B, H, S, r): the latents themselves
            context_latent, attn_weights = scaled_dot_product_attention(
                queries, keys, values, mask=mask, scale=self.scale
            )  # (B, H, T, r), (B, H, T, S)
            context = context_latent @ W_uv.mT  # (B, H, T, r) @ (H, r, dv) -> (B, H, T, dv)
        else:
            kv = self.kv_b_proj(latents)  # (B, S, r) -> (B, S, H * (dn + dv))
            kv = kv.view(B, S, H, dn + dv).transpose(1, 2)  # (B, H, S, dn + dv)
            k_nope, values = kv.split([dn, dv], dim=-1)  # (B, H, S, dn), (B, H, S, dv): rebuilt every step
            keys = torch.cat([k_nope, k_rope.expand(B, H, S, dr)], dim=-1)  # (B, H, S, dn + dr)
            queries = torch.cat([q_nope, q_rope], dim=-1)  # (B, H, T, dn + dr)
            context, attn_weights = scaled_dot_product_attention(
                queries, keys, values, mask=mask, scale=self.scale
            )  # (B, H, T, dv), (B, H, T, S)
        context = context.transpose(1, 2).reshape(B, T, H * dv)  # (B, H, T, dv) -> (B, T, H * dv)
        context = self.o_proj(context)  # (B, T, d_model)
        if unbatched:
            return context.squeeze(0), attn_weights.squeeze(0)  # (T, d_model), (H, T, S)
        return context, attn_weights
