r"""Tiled attention: FlashAttention's forward pass, a loop over key blocks with an online softmax.

Explicit attention builds the (T, S) matrix of scores, which at T = S = 16384
is 1 GiB in float32. FlashAttention never builds it. It walks over the keys a
block at a time and keeps, for every query row, three running quantities:

- ``m``, the largest score seen so far (the *running max*),
- ``l``, the sum of ``exp(score - m)`` over the keys seen so far (the *running sum*),
- ``acc``, the sum of ``exp(score - m) * value`` (the context, not yet divided by ``l``).

When a block raises the maximum from ``m`` to ``m_new``, everything summed so
far was computed against the old maximum; multiplying it by
``exp(m - m_new)`` re-expresses it against the new one, exactly. After the
last block, ``acc / l`` is softmax(scores) @ V and ``m + log(l)`` is each row's
log-sum-exp (Milakov & Gimelshein 2018; Dao et al. 2022).

:func:`tiled_attention` returns both; :func:`tiled_attention_steps` yields the
state after each block, so that a page can print the running max and sum as
they change. This is a teaching implementation in PyTorch: the blocks are
ordinary tensors, and autograd differentiates the loop by keeping every
block's intermediates, which costs O(T * S) memory again. A GPU kernel keeps
its tiles in on-chip SRAM, writes only the output and ``lse`` back to HBM,
and in the backward pass recomputes each block's scores from ``lse`` instead
of storing them. Under ``torch.no_grad()`` the loop holds no more than
(B, H, T, block_size) scores at a time.
"""

import math
import numbers
from collections.abc import Iterator
from typing import NamedTuple

import torch

from attention_notes.checks import (
    all_finite,
    check_bool,
    check_positive_int,
    check_same_dtype_and_device,
    check_size,
    check_tensor,
    compute_dtype,
    has_values,
)

__all__ = ["TiledStep", "tiled_attention", "tiled_attention_steps"]


class TiledStep(NamedTuple):
    """The state of :func:`tiled_attention_steps` after one key block, in the compute dtype."""

    block: int  # index of the key block, 0, 1, ...
    start: int  # its first key
    stop: int  # one past its last key
    running_max: torch.Tensor  # (B, H, T): m, the largest score of each row so far (-inf if none seen yet)
    running_sum: torch.Tensor  # (B, H, T): l, the sum of exp(score - m) over the keys so far
    accumulator: torch.Tensor  # (B, H, T, d_v): sum of exp(score - m) * value, not yet divided by l


def _check(
    q: object, k: object, v: object, block_size: object, causal: object, scale: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Check the arguments of both functions; return q, k, v and the scale."""
    q = check_tensor("q", q, ["(B, H, T, d)"])
    k = check_tensor("k", k, ["(B, H, S, d)"])
    v = check_tensor("v", v, ["(B, H, S, d_v)"])
    check_same_dtype_and_device(("q", q), ("k", k), ("v", v))
    if not q.shape[:2] == k.shape[:2] == v.shape[:2]:
        raise ValueError(
            "q, k and v must have the same batch and head sizes (B, H), got "
            f"{tuple(q.shape[:2])}, {tuple(k.shape[:2])} and {tuple(v.shape[:2])}"
        )
    check_size("k", k.shape[-1], q.shape[-1], "last dimension d = q.shape[-1] =")
    check_size("v", v.shape[-2], k.shape[-2], "length S = k.shape[-2] =")
    check_positive_int("block_size", block_size)
    check_bool("causal", causal)
    T, S = q.shape[-2], k.shape[-2]
    if causal and T > S:
        raise ValueError(
            f"causal=True needs T <= S, got T = {T} queries and S = {S} keys: the mask is aligned "
            f"bottom-right (query i sees keys j <= i + S - T, the last query sees every key), so the "
            f"first T - S = {T - S} queries would see no key at all"
        )
    if scale is None:
        return q, k, v, 1 / math.sqrt(q.shape[-1])
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not 0 < scale < math.inf:
        raise ValueError(f"scale must be a finite number > 0 (default 1 / sqrt(d)), got {scale!r}")
    return q, k, v, float(scale)


def _check_block(attn_scores: torch.Tensor) -> None:
    """Raise if a score a query may see overflowed to +inf or NaN (one pass: the largest value).

    A score that overflowed to -inf is a weight of exactly 0, the limit of
    ``exp`` at any large negative score, as SDPA gives; a row whose every
    visible score is -inf is caught at the end (:func:`tiled_attention`).
    """
    if not has_values(attn_scores) or not attn_scores.numel():
        return
    largest_score = attn_scores.amax().item()  # NaN if any is NaN; -inf if all are (blocked or 0 weights)
    if math.isnan(largest_score) or largest_score == math.inf:
        largest = torch.finfo(attn_scores.dtype).max
        raise ValueError(
            f"attn_scores = q @ k.mT * scale overflowed {attn_scores.dtype} (largest finite value "
            f"{largest:.4g}) although the inputs are finite; scale q or k down, e.g. divide by their "
            "largest absolute value"
        )


def _steps(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_size: int, causal: bool, scale: float
) -> Iterator[TiledStep]:
    B, H, T, _ = q.shape
    S, d_v = k.shape[-2], v.shape[-1]
    dtype = compute_dtype(q.dtype)  # half types are computed in float32, as everywhere in the package
    # sqrt(scale) on each side, as SDPA does: (q * scale) @ k.mT could overflow although the
    # scaled scores are finite. q once; each key block as it comes (no second copy of k).
    root = math.sqrt(scale)
    q, k, v = q.to(dtype) * root, k.to(dtype), v.to(dtype)
    m = torch.full((B, H, T), -torch.inf, dtype=dtype, device=q.device)  # (B, H, T)
    l = torch.zeros(B, H, T, dtype=dtype, device=q.device)  # noqa: E741  (B, H, T), the paper's name
    acc = torch.zeros(B, H, T, d_v, dtype=dtype, device=q.device)  # (B, H, T, d_v)
    # Bottom-right causal alignment: query i is token S - T + i of the sequence.
    query_pos = torch.arange(T, device=q.device) + (S - T)  # (T,)
    for block, start in enumerate(range(0, S, block_size)):
        stop = min(start + block_size, S)  # the last block may be shorter
        k_blk, v_blk = k[:, :, start:stop], v[:, :, start:stop]  # (B, H, s, d), (B, H, s, d_v)
        attn_scores = q @ (k_blk * root).mT  # (B, H, T, d) @ (B, H, d, s) -> (B, H, T, s), scaled
        if causal:
            key_pos = torch.arange(start, stop, device=q.device)  # (s,)
            blocked = key_pos > query_pos[:, None]  # (T, s), True = blocked
            attn_scores = attn_scores.masked_fill(blocked, -torch.inf)  # (B, H, T, s)
        # After the mask: a score that overflowed where the mask blocks it is never used.
        _check_block(attn_scores)
        # The maximum only keeps exp() in range; the result does not depend on it, so
        # autograd need not differentiate it (FlashAttention treats it as a constant too).
        # Every row sees key 0 (T <= S under causal), so m is finite from the first block on:
        # a later block that a row cannot see has max -inf, leaves m alone and adds exp(-inf) = 0.
        m_new = torch.maximum(m, attn_scores.amax(dim=-1).detach())  # (B, H, T)
        p = torch.exp(attn_scores - m_new[..., None])  # (B, H, T, s), unnormalised weights
        alpha = torch.exp(m - m_new)  # (B, H, T): rescales what was summed against the old max (0 at first)
        l = alpha * l + p.sum(dim=-1)  # noqa: E741  (B, H, T)
        acc = alpha[..., None] * acc + p @ v_blk  # (B, H, T, s) @ (B, H, s, d_v) -> (B, H, T, d_v)
        m = m_new
        yield TiledStep(block, start, stop, m, l, acc)


def tiled_attention_steps(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    block_size: int = 128,
    causal: bool = False,
    scale: float | None = None,
) -> Iterator[TiledStep]:
    """Run :func:`tiled_attention`'s loop and yield its :class:`TiledStep` after each key block.

    The arguments are those of :func:`tiled_attention` and are checked before
    anything is yielded. After the last step, ``accumulator / running_sum[..., None]``
    is the context and ``running_max + log(running_sum)`` the log-sum-exp.
    """
    q, k, v, scale = _check(q, k, v, block_size, causal, scale)
    return _steps(q, k, v, block_size, causal, scale)


def tiled_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    block_size: int = 128,
    causal: bool = False,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ * scale) v, one block of ``block_size`` keys at a time; returns ``(out, lse)``.

    ``q`` is (B, H, T, d), ``k`` (B, H, S, d) and ``v`` (B, H, S, d_v), all of
    one floating dtype and device. ``scale`` defaults to ``1 / sqrt(d)``. With
    ``causal=True`` the mask is aligned bottom-right, as for queries that
    continue a cache: query ``i`` sees keys ``j <= i + S - T`` (for T = S, the
    usual causal mask); it needs T <= S, so that every query sees a key.

    Returns ``out`` (B, H, T, d_v) in the dtype of ``q``, and ``lse`` (B, H, T),
    each row's log-sum-exp of the scaled (and masked) scores, in the compute
    dtype (float32 for half inputs, like FlashAttention's). Without autograd,
    no more than (B, H, T, block_size) scores exist at once.
    """
    for step in tiled_attention_steps(q, k, v, block_size, causal, scale):
        last = step  # only the state after the last block is kept
    out = last.accumulator / last.running_sum[..., None]  # (B, H, T, d_v): divide by l once, at the end
    lse = last.running_max + torch.log(last.running_sum)  # (B, H, T): log(sum exp(s)) = m + log(l)
    if not all_finite(out):  # every score a row sees overflowed to -inf: m stayed -inf, exp(m - m) is NaN
        raise ValueError(
            "every score that a row of q may see overflowed to -inf although the inputs are finite; "
            "scale q or k down, e.g. divide by their largest absolute value"
        )
    return out.to(q.dtype), lse
