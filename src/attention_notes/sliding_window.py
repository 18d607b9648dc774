"""Sliding-window attention's mask: each query sees its last ``window`` keys, and the first ``sink_tokens``.

A causal mask lets query ``i`` see every key ``j <= i``, so a cache of keys and
values grows with the context. A sliding window (Longformer, Mistral 7B, the
local layers of Gemma 2 and 3) lets it see only the last ``window`` of them,
``i - window < j <= i``, so the cache stops growing at ``window`` entries;
stacked layers still pass information further, ``window - 1`` tokens a layer
(the window counts the query itself).
StreamingLLM found that a model trained with full attention parks much of
its softmax weight on the first few tokens (*attention sinks*), and breaks
once they drop out of the window; keeping the first ``sink_tokens`` keys
visible as well fixes it:

    query i sees key j  <=>  j <= i  and  (j > i - window  or  j < sink_tokens)

Like every mask in the package, the mask is boolean and **True where a query
may not look** (:mod:`attention_notes.masks`).
"""

import torch

from attention_notes.checks import MAX_MASK_BYTES, check_device, check_positive_int

__all__ = ["sliding_window_mask"]


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= 0, got {type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value}")
    return value


def sliding_window_mask(
    T: int,
    window: int,
    sink_tokens: int = 0,
    *,
    S: int | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The (T, S) boolean mask of causal sliding-window attention with attention sinks; True = blocked.

    With ``S`` left out, S = T: query ``i`` sees key ``j`` when ``j <= i`` and
    (``j > i - window`` or ``j < sink_tokens``). ``window >= 1`` counts the
    query's own key, so ``window=1`` sees only itself and ``window >= T`` is
    the plain causal mask. With ``S >= T``, the T queries are the *last* T
    tokens of S, as when they continue a cache of S - T earlier tokens
    (aligned bottom-right): query ``i`` stands at position ``p = i + S - T`` and
    sees key ``j`` when ``j <= p`` and (``j > p - window`` or ``j < sink_tokens``).
    """
    check_positive_int("T", T)
    check_positive_int("window", window)
    _check_count("sink_tokens", sink_tokens)
    if S is None:
        S = T
    check_positive_int("S", S)
    if S < T:
        raise ValueError(
            f"S must be >= T: the T = {T} queries are the last T of the S keys' positions, got S = {S}"
        )
    if T * S > MAX_MASK_BYTES:
        raise ValueError(
            f"T = {T} and S = {S} need a mask of {T * S:,} bytes, more than the "
            f"{MAX_MASK_BYTES / 2**30:g} GiB the package allows for one mask"
        )
    device = check_device("device", device)
    # A window or sink count of S or more already reaches every key: capped at S, so that a huge
    # int (2**63 and up) cannot overflow the int64 comparisons below.
    window, sink_tokens = min(window, S), min(sink_tokens, S)
    position = torch.arange(T, device=device)[:, None] + (S - T)  # (T, 1): each query's position
    key = torch.arange(S, device=device)[None, :]  # (1, S)
    in_window = (key <= position) & (key > position - window)  # (T, S)
    sink = (key <= position) & (key < sink_tokens)  # (T, S)
    return ~(in_window | sink)  # (T, S), True = blocked
