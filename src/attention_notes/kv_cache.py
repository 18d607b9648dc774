"""The KV cache: one layer's keys and values kept between generation steps, so old tokens are not recomputed.

Generating one token at a time, a decoder would recompute the keys and values
of every earlier token at every step, although they never change (the mask
stops earlier tokens from seeing later ones). :class:`KVCache` keeps them:

- **prefill**: the prompt's T tokens run through the layer once; their keys
  and values are stored;
- **decode**: each new token brings one query, one key and one value; the key
  and value are appended, and the query attends over all S cached keys.

The cache holds ``keys`` and ``values`` as (B, G, S, hd): ``G`` key/value heads
(``num_kv_groups``), ``S`` tokens so far, ``hd = head_dim``. They are stored
**after** RoPE (a cached key keeps the rotation of its own position) and
**before** the key/value heads are repeated for the query heads (repeating is
free to redo; storing the repeats would multiply the memory by
``num_heads // num_kv_groups``). The cache counts the tokens it has seen, and
the next token's position is that count: the caller never passes positions.

When the query is shorter than the keys (T < S), the causal mask is aligned
**bottom-right**: query ``i`` is the token at position ``S - T + i`` and may
see keys ``0 .. S - T + i`` (:func:`bottom_right_causal_mask`). PyTorch's
``is_causal=True`` aligns it top-left instead, so a one-token decode step
would see key 0 only.

**Sliding window.** ``KVCache(window=W, sink_tokens=N)`` is the cache of a
sliding-window layer (:mod:`attention_notes.sliding_window`): after every
update it keeps only the first ``N`` tokens (the attention sinks) and the last
``W``, so it stops growing at ``W + N`` entries. Each kept key is still the
one rotated at its **absolute** position (as above); :attr:`KVCache.positions`
says which positions it holds, and :attr:`KVCache.num_tokens` still counts
every token seen, so the next position is never taken from the cache's size.
An update returns the held entries *and* all ``T`` new ones before it evicts
anything: every query of a chunk of ``T`` tokens then finds the ``W - 1``
keys before it, even when the chunk arrives at a full cache (during that step
the layer looks at up to ``W + N + T`` keys; only ``W + N`` stay).
"""

import torch

from attention_notes.checks import check_positive_int, check_tensor

__all__ = ["KVCache", "bottom_right_causal_mask"]


def bottom_right_causal_mask(T: int, S: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The (T, S) boolean causal mask for T queries that are the last T of S tokens; True = blocked.

    Query ``i`` sits at position ``S - T + i`` and may see keys up to that
    position. For ``T == S`` this is the usual causal mask; for ``T == 1`` it
    blocks nothing.
    """
    check_positive_int("T", T)
    check_positive_int("S", S)
    if T > S:
        raise ValueError(f"T (queries) must be at most S (keys), got T = {T} and S = {S}")
    return torch.ones(T, S, dtype=torch.bool, device=device).triu(diagonal=S - T + 1)  # (T, S)


class KVCache:
    """One attention layer's cached keys and values, (B, G, S, hd) each, and the number of tokens seen.

    Create one empty cache per layer (and per sequence batch) and pass it to
    the layer at every step; the layer calls :meth:`update`. A cache is tied
    to the shapes, dtype and device of its first update: anything else later
    is an error, because it means the cache is being fed by another module or
    batch. Start over with :meth:`reset` or a new cache.
    """

    def __init__(self, window: int | None = None, sink_tokens: int = 0) -> None:
        if window is not None:
            check_positive_int("window", window)
        if isinstance(sink_tokens, bool) or not isinstance(sink_tokens, int):
            raise TypeError(
                f"sink_tokens must be an int >= 0, got {type(sink_tokens).__name__} {sink_tokens!r}"
            )
        if sink_tokens < 0:
            raise ValueError(f"sink_tokens must be an int >= 0, got {sink_tokens}")
        if window is None and sink_tokens:
            raise ValueError(
                f"sink_tokens are kept besides a sliding window: set window too, got window = None and "
                f"sink_tokens = {sink_tokens}"
            )
        self.window = window  # None: keep every token; else keep the last `window` (and the sinks)
        self.sink_tokens = sink_tokens  # the first tokens a windowed cache keeps for good
        self.keys: torch.Tensor | None = None  # (B, G, S, hd), after RoPE, before the heads are repeated
        self.values: torch.Tensor | None = None  # (B, G, S, hd)
        self._seen = 0  # tokens seen so far, evicted ones included

    @property
    def num_tokens(self) -> int:
        """The number of tokens seen so far: the position of the next token.

        Without a window it equals S, the entries held; with one it keeps
        counting after the cache stops growing.
        """
        return self._seen

    @property
    def positions(self) -> torch.Tensor:
        """The absolute positions of the S entries held, in their order: a (S,) int64 tensor.

        ``0 .. num_tokens - 1`` without a window; with one, the sinks
        ``0 .. sink_tokens - 1`` and then the last ``window`` positions.
        """
        device = None if self.keys is None else self.keys.device
        return self._held_positions(self._seen, device)

    def _held_positions(self, seen: int, device: torch.device | None) -> torch.Tensor:
        if self.window is None:
            return torch.arange(seen, device=device)  # (S,)
        sinks = torch.arange(min(self.sink_tokens, seen), device=device)  # the first tokens, kept for good
        recent = torch.arange(
            min(seen, max(self.sink_tokens, seen - self.window)), seen, device=device
        )  # the last window
        return torch.cat([sinks, recent])  # (S,), S = min(seen, window + sink_tokens)

    @property
    def nbytes(self) -> int:
        """The bytes the cached keys and values take: ``2 * B * G * S * hd * bytes per element``."""
        if self.keys is None or self.values is None:
            return 0
        return self.keys.nbytes + self.values.nbytes

    def reset(self) -> None:
        """Forget everything: the next update starts at position 0, with any shapes."""
        self.keys = None
        self.values = None
        self._seen = 0

    def update(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append T tokens' ``keys`` and ``values``, (B, G, T, hd) each; return all S so far (B, G, S, hd).

        With a window, the S returned are the entries held before the update
        and all T new ones (positions ``positions`` then ``num_tokens - T ..
        num_tokens - 1``); the cache then keeps only the sinks and the last
        ``window`` of them.
        """
        keys = check_tensor("keys", keys, ["(B, G, T, head_dim)"])
        values = check_tensor("values", values, ["(B, G, T, head_dim)"])
        if keys.shape != values.shape:
            raise ValueError(
                f"keys and values must have the same shape (B, G, T, head_dim), "
                f"got {tuple(keys.shape)} and {tuple(values.shape)}"
            )
        if keys.dtype != values.dtype or keys.device != values.device:
            raise TypeError(
                f"keys and values must have the same dtype and device, got {keys.dtype} on {keys.device} "
                f"and {values.dtype} on {values.device}"
            )
        if self.keys is None or self.values is None:
            self.keys, self.values = keys, values
            self._seen = keys.shape[2]
            if self.window is None:
                return self.keys, self.values
            self._evict(keys.shape[2])
            return keys, values
        B, G, _, hd = self.keys.shape
        if keys.shape[0] != B:
            raise ValueError(
                f"the batch size changed midway: the cache holds B = {B} sequences, got keys with "
                f"B = {keys.shape[0]}; use a new KVCache (or cache.reset()) for a new batch"
            )
        if (keys.shape[1], keys.shape[3]) != (G, hd):
            raise ValueError(
                f"the cache holds keys of G = {G} key/value heads of head_dim = {hd}, got keys "
                f"(B, G, T, head_dim) = {tuple(keys.shape)}: was it fed by another module? "
                "Use one KVCache per attention layer"
            )
        if keys.dtype != self.keys.dtype or keys.device != self.keys.device:
            raise TypeError(
                f"the dtype or device changed midway: the cache holds {self.keys.dtype} on "
                f"{self.keys.device}, got {keys.dtype} on {keys.device}; use a new KVCache (or cache.reset())"
            )
        self.keys = torch.cat([self.keys, keys], dim=2)  # (B, G, S + T, hd)
        self.values = torch.cat([self.values, values], dim=2)  # (B, G, S + T, hd)
        self._seen += keys.shape[2]
        if self.window is None:
            return self.keys, self.values
        all_keys, all_values = self.keys, self.values  # (B, G, S + T, hd): what this step's queries need
        self._evict(keys.shape[2])
        return all_keys, all_values

    def _evict(self, new: int) -> None:
        """Keep the sinks and the last ``window`` of the entries held (old ones, then ``new`` new ones).

        The entries held are the sinks, positions ``0 .. n_sinks - 1``, then the
        consecutive positions ``first .. seen - 1``; what goes is one run of them,
        the positions ``sink_tokens .. seen - window - 1``. Worked out with Python
        ints (no tensor of positions): no int64 overflow for a huge window, and
        no data to read, so it runs on the meta device too.
        """
        before = self._seen - new  # tokens seen before this update
        n_sinks = min(self.sink_tokens, before)  # entries 0 .. n_sinks - 1: positions 0 .. n_sinks - 1
        first = min(before, max(self.sink_tokens, before - self.window))  # the next entries' first position
        lo, hi = max(first, self.sink_tokens), self._seen - self.window  # positions lo .. hi - 1 go
        if lo >= hi:
            return
        start, stop = n_sinks + lo - first, n_sinks + hi - first  # their entries
        # cat copies: the evicted entries' memory is freed with the old tensors.
        self.keys = torch.cat([self.keys[:, :, :start], self.keys[:, :, stop:]], dim=2)  # (B, G, S', hd)
        self.values = torch.cat([self.values[:, :, :start], self.values[:, :, stop:]], dim=2)

    def __repr__(self) -> str:
        shape = None if self.keys is None else tuple(self.keys.shape)
        if self.window is None:
            return f"KVCache(num_tokens={self.num_tokens}, keys shape={shape}, nbytes={self.nbytes})"
        return (
            f"KVCache(window={self.window}, sink_tokens={self.sink_tokens}, num_tokens={self.num_tokens}, "
            f"keys shape={shape}, nbytes={self.nbytes})"
        )
