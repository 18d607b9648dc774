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

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None  # (B, G, S, hd), after RoPE, before the heads are repeated
        self.values: torch.Tensor | None = None  # (B, G, S, hd)

    @property
    def num_tokens(self) -> int:
        """S, the number of tokens cached so far: the position of the next token."""
        return 0 if self.keys is None else self.keys.shape[2]

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

    def update(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append T tokens' ``keys`` and ``values``, (B, G, T, hd) each; return all S so far (B, G, S, hd)."""
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
            return self.keys, self.values
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
        return self.keys, self.values

    def __repr__(self) -> str:
        shape = None if self.keys is None else tuple(self.keys.shape)
        return f"KVCache(num_tokens={self.num_tokens}, keys shape={shape}, nbytes={self.nbytes})"
