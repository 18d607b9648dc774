r"""Grouped-query attention (GQA): query heads share key/value heads; with RoPE and an optional KV cache.

Multi-head attention gives each of the ``num_heads`` query heads its own key
and value head. During generation the keys and values are what the KV cache
stores, so they decide its memory. GQA keeps ``num_kv_groups`` key/value heads
(the *number* of key/value heads, as in the book, not the heads per group) and
lets ``num_heads // num_kv_groups`` consecutive query heads share each one:

- ``num_kv_groups == num_heads``: multi-head attention (MHA);
- ``num_kv_groups == 1``: multi-query attention (MQA, Shazeer 2019);
- in between: GQA (Ainslie et al. 2023), as in Llama 3, Qwen, Mistral.

Query head ``h`` uses key/value head ``h // (num_heads // num_kv_groups)``: the
shared heads are repeated with ``repeat_interleave`` (``k0 k0 k1 k1``), not
``repeat`` (``k0 k1 k0 k1``), which would pair the query heads with the wrong
keys and give wrong outputs without an error.

.. math::

    \mathrm{head}_h = \operatorname{softmax}\!\left(
        \frac{R_{m} Q_h (R_{n} K_{g(h)})^\top}{\sqrt{d_h}} + M\right) V_{g(h)},
    \qquad g(h) = \lfloor h / (H / G) \rfloor

where :math:`R` rotates by position (:mod:`attention_notes.rope`) and :math:`M`
is the causal mask, aligned bottom-right when a cache makes the query shorter
than the keys (:func:`~attention_notes.kv_cache.bottom_right_causal_mask`).

With ``sliding_window=W`` (Mistral 7B, the local layers of Gemma 2 and 3),
:math:`M` is the sliding-window mask instead
(:func:`~attention_notes.sliding_window.sliding_window_mask`): each query sees
its last ``W`` keys and the first ``sink_tokens`` ones, and its
:class:`~attention_notes.kv_cache.KVCache` (made with the same ``window`` and
``sink_tokens``) keeps only those, each rotated at its absolute position.

Shapes: ``H`` query heads, ``G = num_kv_groups`` key/value heads, ``hd = head_dim``.
"""

import torch
import torch.nn.functional as F
from torch import nn

from attention_notes.checks import (
    all_finite,
    check_bool,
    check_positive_int,
    check_sequence,
    check_tensor,
    has_values,
)
from attention_notes.kv_cache import KVCache, bottom_right_causal_mask
from attention_notes.rope import apply_rope, compute_rope_params
from attention_notes.scaled_dot_product import scaled_dot_product_attention
from attention_notes.sliding_window import sliding_window_mask

__all__ = ["GroupedQueryAttention"]


class GroupedQueryAttention(nn.Module):
    """Causal grouped-query attention with rotary position embeddings, the book's ``llama3`` module's layout.

    Args:
        d_in: embedding size of the input tokens.
        d_out: size of the output and of all query heads together: each of the
            ``num_heads`` heads has ``head_dim = d_out // num_heads`` features.
        num_heads: number of query heads; must divide ``d_out``.
        num_kv_groups: number of key/value heads (not heads per group); must
            divide ``num_heads``. ``num_heads`` gives MHA, 1 gives MQA.
        context_length: the last position RoPE covers plus one; the cache may
            not grow past it.
        rope_base: RoPE's ``theta_base``; None: no rotation (positions are
            then invisible to the module, as in chapter 3's attention).
        dtype: the projections' dtype (default: torch's). The RoPE tables
            stay float32 until the module is moved with ``.to(dtype)``.
        sliding_window: None (default): causal attention over every earlier
            token. An int ``W >= 1``: each query sees only its last ``W``
            keys (its own included) and the first ``sink_tokens``; a cache
            must then be ``KVCache(window=W, sink_tokens=sink_tokens)``.
        sink_tokens: the first tokens every query keeps seeing (attention
            sinks, StreamingLLM); only with ``sliding_window``.

    Parameters (no biases, the book's names, so its state_dict loads):
    ``W_query`` (d_in -> d_out), ``W_key`` and ``W_value``
    (d_in -> num_kv_groups * head_dim), ``out_proj`` (d_out -> d_out).
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        num_heads: int,
        num_kv_groups: int,
        context_length: int = 4096,
        rope_base: float | None = 10_000.0,
        dtype: torch.dtype | None = None,
        sliding_window: int | None = None,
        sink_tokens: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("d_in", d_in),
            ("d_out", d_out),
            ("num_heads", num_heads),
            ("num_kv_groups", num_kv_groups),
            ("context_length", context_length),
        ):
            check_positive_int(name, value)
        if d_out % num_heads:
            raise ValueError(
                f"d_out must be divisible by num_heads (each head gets d_out // num_heads features), "
                f"got d_out = {d_out} and num_heads = {num_heads}"
            )
        if num_heads % num_kv_groups:
            raise ValueError(
                f"num_kv_groups (the number of key/value heads, not heads per group) must divide "
                f"num_heads = {num_heads}, got num_kv_groups = {num_kv_groups}"
            )
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(
                f"dtype must be a floating-point torch.dtype (e.g. torch.float32) or None, got {dtype!r}"
            )
        if sliding_window is not None:
            check_positive_int("sliding_window", sliding_window)
        if isinstance(sink_tokens, bool) or not isinstance(sink_tokens, int):
            raise TypeError(
                f"sink_tokens must be an int >= 0, got {type(sink_tokens).__name__} {sink_tokens!r}"
            )
        if sink_tokens < 0:
            raise ValueError(f"sink_tokens must be an int >= 0, got {sink_tokens}")
        if sliding_window is None and sink_tokens:
            raise ValueError(
                f"sink_tokens are kept besides a sliding window: set sliding_window too, got "
                f"sliding_window = None and sink_tokens = {sink_tokens}"
            )
        self.sliding_window = sliding_window
        self.sink_tokens = sink_tokens
        self.d_in = d_in
        self.d_out = d_out
        self.num_heads = num_heads
        self.num_kv_groups = num_kv_groups
        self.group_size = num_heads // num_kv_groups  # query heads per key/value head
        self.head_dim = d_out // num_heads
        self.context_length = context_length
        self.rope_base = rope_base
        # Created in the book's order (keys, values, queries), so that a seed gives the book's weights.
        self.W_key = nn.Linear(d_in, num_kv_groups * self.head_dim, bias=False, dtype=dtype)
        self.W_value = nn.Linear(d_in, num_kv_groups * self.head_dim, bias=False, dtype=dtype)
        self.W_query = nn.Linear(d_in, d_out, bias=False, dtype=dtype)
        self.out_proj = nn.Linear(d_out, d_out, bias=False, dtype=dtype)  # mixes the concatenated heads
        if rope_base is not None:
            cos, sin = compute_rope_params(self.head_dim, rope_base, context_length)  # (ctx, hd) each
            # Not in the state_dict: the arguments determine them (the book keeps them in its model).
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Causal self-attention over ``x``, (B, T, d_in) or (T, d_in), continuing ``cache`` if given.

        With a cache holding S0 tokens, ``x`` is the tokens at positions
        S0 .. S0 + T - 1; their keys and values are appended and the queries
        attend over all S = S0 + T (the mask aligned bottom-right).

        Returns ``(context, attn_weights)``: (B, T, d_out) and (B, H, T, S);
        (T, d_out) and (H, T, S) for an unbatched input. With
        ``need_weights=False``, PyTorch's fused ``scaled_dot_product_attention``
        (``enable_gqa=True``) computes the context and ``attn_weights`` is None.

        With ``sliding_window``, the mask is the sliding-window one, and a
        cache returns only the keys it holds (the sinks and the last window)
        followed by the T new ones: ``S`` is then at most
        ``sliding_window + sink_tokens + T`` and the mask is built from the
        absolute positions of those keys (:attr:`KVCache.positions`).
        """
        x, unbatched = check_sequence(x, self.d_in, self.context_length, self.W_query.weight)
        check_bool("need_weights", need_weights)
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache or None, got {type(cache).__name__}")
        if cache is not None and (cache.window, cache.sink_tokens) != (self.sliding_window, self.sink_tokens):
            raise ValueError(
                f"the cache's window and sinks must match the module's: the module has sliding_window = "
                f"{self.sliding_window} and sink_tokens = {self.sink_tokens}, the cache "
                f"window = {cache.window} and sink_tokens = {cache.sink_tokens}; make it with "
                f"KVCache(window={self.sliding_window}, sink_tokens={self.sink_tokens})"
            )
        B, T, _ = x.shape
        H, G, hd = self.num_heads, self.num_kv_groups, self.head_dim
        offset = 0 if cache is None else cache.num_tokens  # positions come from the cache, never the caller
        if offset + T > self.context_length:
            raise ValueError(
                f"positions offset .. offset + T - 1 = {offset} .. {offset + T - 1} (offset = the tokens "
                f"already cached) go past context_length = {self.context_length}"
            )
        queries = self.W_query(x).view(B, T, H, hd).transpose(1, 2)  # (B, T, d_out) -> (B, H, T, hd)
        keys = self.W_key(x).view(B, T, G, hd).transpose(1, 2)  # (B, T, G * hd) -> (B, G, T, hd)
        values = self.W_value(x).view(B, T, G, hd).transpose(1, 2)  # (B, G, T, hd)
        if self.rope_base is not None:
            # The rows of positions offset .. offset + T - 1 (checked above), so that apply_rope's
            # checks look at T rows, not the whole table, at every decoding step.
            cos, sin = self.cos[offset : offset + T], self.sin[offset : offset + T]  # (T, hd) each
            queries = apply_rope(queries, cos, sin)  # (B, H, T, hd)
            keys = apply_rope(keys, cos, sin)  # (B, G, T, hd)
        window_mask = None  # (T, S), True = blocked: only with a sliding window
        if cache is not None:
            held = cache.positions  # (S0,): the absolute positions the cache holds before this step
            keys, values = cache.update(keys, values)  # (B, G, S, hd) each: after RoPE, before repeating
        S = keys.shape[2]
        if self.sliding_window is not None:
            if cache is None:
                window_mask = sliding_window_mask(T, self.sliding_window, self.sink_tokens, device=x.device)
            else:
                key_pos = torch.cat([held, torch.arange(offset, offset + T, device=held.device)])  # (S,)
                window_mask = self._window_mask(offset, T, key_pos.to(x.device))  # (T, S)
        if need_weights:
            # Query head h reads key/value head h // group_size: k0 k0 k1 k1, never k0 k1 k0 k1.
            keys = keys.repeat_interleave(self.group_size, dim=1)  # (B, G, S, hd) -> (B, H, S, hd)
            values = values.repeat_interleave(self.group_size, dim=1)  # (B, H, S, hd)
            if window_mask is None:
                mask = bottom_right_causal_mask(T, S, device=x.device)  # (T, S), True = blocked
            else:
                mask = window_mask  # (T, S), True = blocked
            context, attn_weights = scaled_dot_product_attention(
                queries, keys, values, mask=mask
            )  # (B, H, T, hd), (B, H, T, S)
        else:
            for name, tensor in (("query", queries), ("key", keys), ("value", values)):
                check_tensor(name, tensor, None)
            if window_mask is not None:  # SDPA's boolean attn_mask is True where a query may look
                context = F.scaled_dot_product_attention(
                    queries, keys, values, attn_mask=~window_mask, enable_gqa=True
                )  # (B, H, T, hd)
            elif T == S:  # no cache, or an empty one: the usual causal mask, which is_causal builds
                context = F.scaled_dot_product_attention(
                    queries, keys, values, is_causal=True, enable_gqa=True
                )  # (B, H, T, hd)
            else:  # is_causal=True would align the mask top-left: query 0 would see key 0 only
                allowed = ~bottom_right_causal_mask(T, S, device=x.device)  # (T, S), SDPA's True = attend
                context = F.scaled_dot_product_attention(
                    queries, keys, values, attn_mask=allowed, enable_gqa=True
                )  # (B, H, T, hd)
            if has_values(context) and not all_finite(context):
                raise ValueError(
                    f"the fused attention overflowed {context.dtype} although x is finite; "
                    "scale x down, e.g. divide by its largest absolute value"
                )
            attn_weights = None
        context = context.transpose(1, 2).reshape(B, T, self.d_out)  # (B, H, T, hd) -> (B, T, d_out)
        context = self.out_proj(context)  # (B, T, d_out)
        if unbatched:
            context = context.squeeze(0)  # (T, d_out)
            attn_weights = attn_weights.squeeze(0) if attn_weights is not None else None  # (H, T, S)
        return context, attn_weights

    def _window_mask(self, offset: int, T: int, key_positions: torch.Tensor) -> torch.Tensor:
        """The (T, S) sliding-window mask, True = blocked, for queries at positions offset .. offset + T - 1.

        ``key_positions`` (S,) are the absolute positions of the keys, which a
        windowed cache holds with gaps (the sinks, then the last window): the
        rule of :func:`~attention_notes.sliding_window.sliding_window_mask`
        applied to positions, not to indices.
        """
        query = torch.arange(offset, offset + T, device=key_positions.device)[:, None]  # (T, 1)
        key = key_positions[None, :]  # (1, S)
        # Positions stop at offset + T - 1: a larger window or sink count changes nothing, and capped
        # there a huge int cannot overflow the int64 comparisons.
        window, sinks = min(self.sliding_window, offset + T), min(self.sink_tokens, offset + T)
        in_window = (key <= query) & (key > query - window)  # (T, S)
        sink = (key <= query) & (key < sinks)  # (T, S)
        return ~(in_window | sink)  # (T, S), True = blocked
