r"""Scaled dot-product attention: the one function every trainable module wraps.

.. math::

    \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V

:class:`~attention_notes.trainable.SelfAttention`, the causal module and the
multi-head modules project their inputs to queries, keys and values, then call
:func:`scaled_dot_product_attention`. Like Hugging Face's eager attention, it
is a pure function that returns the weights as well as the context, so that
pages can print them and tests can check them.
"""

import contextlib
import math
import numbers

import torch
from torch import nn

from attention_notes.checks import (
    SUPPORTED_DTYPES,
    all_finite,
    check_projection,
    check_same_dtype_and_device,
    check_size,
    check_tensor,
    compute_dtype,
)
from attention_notes.masks import check_mask

__all__ = ["projected_attention", "scaled_dot_product_attention"]


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout: nn.Module | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of every query over every key; returns ``(context, attn_weights)``.

    ``query`` is (..., T, d_k), ``key`` (..., S, d_k) and ``value`` (..., S, d_v),
    where ``...`` is any number of batch dimensions (none, B, or B and H), the
    same for all three. ``mask`` is a boolean tensor that broadcasts to
    (..., T, S) and is **True where a query may not look** (the key is
    blocked); every query must keep at least one key. ``dropout``, if given,
    is applied to the weights after softmax (an ``nn.Dropout``: it acts only
    in training mode). ``scale`` defaults to ``1 / sqrt(d_k)``.

    Returns ``context`` (..., T, d_v) and ``attn_weights`` (..., T, S), whose
    rows sum to 1 before dropout. Half-precision inputs are computed in
    float32 and the results cast back. Like PyTorch's SDPA, the function scales
    the query and the key by ``sqrt(scale)`` before their product, so that
    scores overflow only when the scaled scores do, and under
    ``torch.autocast`` it takes and returns the autocast dtype but computes in
    float32.
    """
    return projected_attention(query, key, value, mask, dropout, scale)


def projected_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout: nn.Module | None = None,
    scale: float | None = None,
    source: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`scaled_dot_product_attention` of a module's projections: ``source`` names what they project.

    The attention modules (trainable, causal, multi-head) call this with the
    queries, keys and values they computed from their input.

    With ``source="x"``, the messages about non-finite queries, keys, values
    or scores name ``x``, the tensor the caller passed, and tell them to scale
    it down; the arguments are the module's own projections.
    """
    if source is None:
        query = check_tensor("query", query, None)
        key = check_tensor("key", key, None)
        value = check_tensor("value", value, None)
    else:
        for name, projection in (("query", query), ("key", key), ("value", value)):
            check_projection(name, projection, source)
    check_same_dtype_and_device(("query", query), ("key", key), ("value", value))
    if not query.dim() == key.dim() == value.dim() >= 2:
        raise ValueError(
            "query, key and value must have the same number of dimensions, at least 2 "
            f"((..., T, d_k), (..., S, d_k), (..., S, d_v)), got {query.dim()}, {key.dim()} and {value.dim()}"
        )
    if not query.shape[:-2] == key.shape[:-2] == value.shape[:-2]:
        raise ValueError(
            "query, key and value must have the same batch dimensions (all but the last two), got "
            f"{tuple(query.shape[:-2])}, {tuple(key.shape[:-2])} and {tuple(value.shape[:-2])}"
        )
    check_size("key", key.shape[-1], query.shape[-1], "last dimension d_k = query.shape[-1] =")
    check_size("value", value.shape[-2], key.shape[-2], "length S = key.shape[-2] =")
    if dropout is not None and not isinstance(dropout, nn.Module):
        raise TypeError(
            "dropout must be an nn.Module such as nn.Dropout(p), or None, "
            f"got {type(dropout).__name__} {dropout!r}"
        )
    d_k = query.shape[-1]
    if scale is None:
        scale = 1 / math.sqrt(d_k)
    elif isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(
            f"scale must be a float > 0 (default 1 / sqrt(d_k)), got {type(scale).__name__} {scale!r}"
            + ("; pass float(scale)" if isinstance(scale, torch.Tensor) else "")
        )
    elif not 0 < scale < math.inf:
        raise ValueError(f"scale must be a finite number > 0 (default 1 / sqrt(d_k)), got {scale!r}")

    # Under torch.autocast, PyTorch's SDPA takes its inputs in the autocast dtype
    # (float16, say) and returns that dtype, but accumulates in float32; the
    # products below would otherwise run in float16 even after the upcast.
    in_dtype, no_autocast = query.dtype, contextlib.nullcontext()
    if _autocast_enabled(query.device.type):
        no_autocast = torch.autocast(query.device.type, enabled=False)
        if in_dtype in SUPPORTED_DTYPES and in_dtype != torch.float64:  # autocast leaves float64 alone
            in_dtype = torch.get_autocast_dtype(query.device.type)
    dtype = compute_dtype(in_dtype)
    with no_autocast:
        q, k, v = (t.to(in_dtype).to(dtype) for t in (query, key, value))
        # sqrt(scale) on each side, as SDPA does: q @ k.mT could overflow although
        # (q @ k.mT) * scale, the score, is finite.
        root = math.sqrt(scale)
        attn_scores = (q * root) @ (k * root).mT  # (..., T, d_k) @ (..., d_k, S) -> (..., T, S)
        if mask is not None:
            blocked = check_mask(mask, attn_scores)  # (..., T, S), True = blocked
            attn_scores = attn_scores.masked_fill(blocked, -torch.inf)  # (..., T, S)
        # After the mask: a score that overflowed where the mask blocks it is never used
        # (the fused kernel with is_causal masks it too, and returns a finite result).
        _check_scores(attn_scores, source)
        attn_weights = torch.softmax(attn_scores, dim=-1)  # (..., T, S)
        if dropout is not None:
            attn_weights = dropout(attn_weights)
        context = attn_weights @ v  # (..., T, S) @ (..., S, d_v) -> (..., T, d_v)
    return context.to(in_dtype), attn_weights.to(in_dtype)


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:  # a device type autocast does not know, such as meta
        return False


def _check_scores(attn_scores: torch.Tensor, source: str | None) -> None:
    """Raise if finite inputs gave scores that softmax cannot use: NaN, +inf, or a row of -inf only.

    A score that overflowed to -inf is a weight of exactly 0, the limit of
    ``exp`` at any large negative score: SDPA gives that weight too, so it is
    no error (unless every score of the row is -inf).
    """
    if all_finite(attn_scores):  # one pass in the usual case; True when the values cannot be read
        return
    if not (
        torch.isnan(attn_scores).any()
        or torch.isposinf(attn_scores).any()
        or torch.isneginf(attn_scores).all(dim=-1).any()
    ):
        return
    dtype = attn_scores.dtype
    overflowed = f"overflowed {dtype} (largest finite value {torch.finfo(dtype).max:.4g})"
    if source is None:
        raise ValueError(
            f"attn_scores = query @ key.mT * scale {overflowed} although the inputs are finite; "
            "scale query or key down, e.g. divide by their largest absolute value"
        )
    raise ValueError(
        f"attn_scores of {source}'s queries and keys {overflowed} although {source} is finite; "
        f"scale {source} down, e.g. divide by its largest absolute value"
    )
