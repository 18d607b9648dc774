r"""Scaled dot-product attention: the one function every trainable module wraps.

.. math::

    \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V

:class:`~attention_notes.trainable.SelfAttention`, the causal module and the
multi-head modules project their inputs to queries, keys and values, then call
:func:`scaled_dot_product_attention`. Like Hugging Face's eager attention, it
is a pure function that returns the weights as well as the context, so that
pages can print them and tests can check them.
"""

import math
import numbers

import torch
from torch import nn

from attention_notes.checks import (
    check_same_dtype_and_device,
    check_scores_finite,
    check_size,
    check_tensor,
    compute_dtype,
)
from attention_notes.masks import check_mask

__all__ = ["scaled_dot_product_attention"]


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
    float32 and the results cast back.
    """
    query = check_tensor("query", query, None)
    key = check_tensor("key", key, None)
    value = check_tensor("value", value, None)
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
    elif isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not 0 < scale < math.inf:
        raise ValueError(f"scale must be a finite number > 0 (default 1 / sqrt(d_k)), got {scale!r}")

    dtype = compute_dtype(query.dtype)
    q, k, v = query.to(dtype), key.to(dtype), value.to(dtype)
    attn_scores = q @ k.mT * scale  # (..., T, d_k) @ (..., d_k, S) -> (..., T, S)
    check_scores_finite(attn_scores, "query @ key.mT * scale", "query or key")
    if mask is not None:
        blocked = check_mask(mask, attn_scores)  # (..., T, S), True = blocked
        attn_scores = attn_scores.masked_fill(blocked, -torch.inf)  # (..., T, S)
    attn_weights = torch.softmax(attn_scores, dim=-1)  # (..., T, S)
    if dropout is not None:
        attn_weights = dropout(attn_weights)
    context = attn_weights @ v  # (..., T, S) @ (..., S, d_v) -> (..., T, d_v)
    return context.to(query.dtype), attn_weights.to(query.dtype)
