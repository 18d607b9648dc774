r"""Rotary position embeddings (RoPE): queries and keys rotated in pairs by angles growing with the position.

Attention by itself does not know where a token is (it is permutation-equivariant).
RoPE tells it by rotating each query and key before their dot product: pair
:math:`i` of the ``head_dim`` features of the token at position :math:`m` is
rotated by the angle :math:`m \theta_i`, with
:math:`\theta_i = \text{theta\_base}^{-2i / \text{head\_dim}}`. A rotation by
:math:`m \theta_i` of the query and by :math:`n \theta_i` of the key leaves
their dot product depending on :math:`m - n` only: the scores see relative
positions, and every vector keeps its norm.

Two layouts pair the features differently:

- **split halves** (Llama and Hugging Face, the book): feature ``i`` pairs with
  feature ``i + head_dim // 2``. :func:`compute_rope_params` and
  :func:`apply_rope` use it, with :func:`rotate_half`.
- **interleaved** (the RoFormer paper, Meta's reference code): feature ``2i``
  pairs with ``2i + 1``. :func:`apply_rope_interleaved` uses it.

A checkpoint trained in one layout runs in the other once the rows of its query
and key projections are permuted within every head: :func:`interleaved_to_halves`
gives the permutation, :func:`permute_qk_weight` applies it. Mixing the layouts
up without converting gives wrong scores and no error.

Shapes: ``x`` is (B, H, T, hd), ``hd = head_dim``; the tables ``cos`` and
``sin`` are (context_length, hd), one row per position.
"""

import torch

from attention_notes.checks import MAX_MASK_BYTES, check_positive_int, check_tensor, compute_dtype

__all__ = [
    "apply_rope",
    "apply_rope_interleaved",
    "compute_rope_params",
    "interleaved_to_halves",
    "permute_qk_weight",
    "rotate_half",
]


def _check_head_dim(head_dim: object) -> int:
    check_positive_int("head_dim", head_dim)
    if head_dim % 2:
        raise ValueError(
            f"head_dim must be even (RoPE rotates the features in pairs), got head_dim = {head_dim}"
        )
    return head_dim


def compute_rope_params(
    head_dim: int,
    theta_base: float = 10_000.0,
    context_length: int = 4096,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The cosine and sine tables of RoPE, in the split-halves layout; each (context_length, head_dim).

    Row ``m`` holds :math:`\cos(m \theta_i)` (and :math:`\sin`) for the
    ``head_dim // 2`` frequencies :math:`\theta_i = \text{theta\_base}^{-2i/\text{head\_dim}}`,
    written twice side by side (one copy for each half of the features).

    The angles are computed in float32, as the book and Hugging Face compute
    them, so that a checkpoint trained with their tables sees the same
    rotations here; ``dtype`` is the type of the returned tables.
    """
    _check_head_dim(head_dim)
    if isinstance(theta_base, bool) or not isinstance(theta_base, int | float) or not theta_base > 1:
        raise ValueError(f"theta_base must be a number > 1 (10_000.0 in the paper), got {theta_base!r}")
    check_positive_int("context_length", context_length)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    table = context_length * head_dim * 4  # bytes of one float32 table (the angles are float32)
    if table > MAX_MASK_BYTES:
        raise ValueError(
            f"context_length = {context_length} with head_dim = {head_dim} needs RoPE tables of "
            f"{table:,} bytes each ({table / 2**30:,.1f} GiB), more than the {MAX_MASK_BYTES / 2**30:g} GiB "
            f"the package allows (context_length <= {MAX_MASK_BYTES // (head_dim * 4):,} at this head_dim)"
        )
    exponents = torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim  # (hd/2,)
    inv_freq = 1.0 / (theta_base**exponents)  # (hd/2,): theta_i, from 1 down to about 1/theta_base
    positions = torch.arange(context_length, dtype=torch.float32)  # (context_length,)
    angles = positions[:, None] * inv_freq[None, :]  # (context_length, hd/2): m * theta_i
    angles = torch.cat([angles, angles], dim=-1)  # (context_length, hd): one copy per half
    return torch.cos(angles).to(dtype), torch.sin(angles).to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x1, x2) -> (-x2, x1)`` on the last dimension's halves (the sine's term in :func:`apply_rope`)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]  # (..., hd/2) each
    return torch.cat([-x2, x1], dim=-1)  # (..., hd)


def _check_rope_args(
    x: object, cos: object, sin: object, offset: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check ``x`` (..., T, hd) against the tables; return the rows of positions offset .. offset + T - 1."""
    x = check_tensor("x", x, None)
    if x.dim() < 2:
        raise ValueError(f"x must be (..., T, head_dim), e.g. (B, H, T, head_dim), got {tuple(x.shape)}")
    T, hd = x.shape[-2:]
    _check_head_dim(hd)
    cos = check_tensor("cos", cos, ["(context_length, head_dim)"])
    sin = check_tensor("sin", sin, ["(context_length, head_dim)"])
    if cos.shape != sin.shape:
        raise ValueError(
            f"cos and sin must have the same shape, got {tuple(cos.shape)} and {tuple(sin.shape)}"
        )
    if cos.shape[-1] != hd:
        raise ValueError(
            f"cos and sin must be (context_length, head_dim) with head_dim = x.shape[-1] = {hd}, "
            f"got {tuple(cos.shape)}; build them with compute_rope_params({hd}, ...)"
        )
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be an int >= 0 (the position of x's first token), got {offset!r}")
    context_length = cos.shape[0]
    if offset + T > context_length:
        raise ValueError(
            f"positions offset .. offset + T - 1 = {offset} .. {offset + T - 1} go past context_length = "
            f"{context_length} (the rows of cos and sin); build them with a larger context_length"
        )
    if cos.device != x.device or sin.device != x.device:
        raise ValueError(f"cos and sin must be on x's device, {x.device}, got {cos.device} and {sin.device}")
    dtype = compute_dtype(x.dtype)
    return x, cos[offset : offset + T].to(dtype), sin[offset : offset + T].to(dtype)  # (T, hd) each


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, offset: int = 0) -> torch.Tensor:
    """Rotate ``x``, (..., T, head_dim), as the tokens at positions ``offset`` .. ``offset + T - 1``.

    Split-halves layout (feature ``i`` pairs with ``i + head_dim // 2``), with
    ``cos`` and ``sin`` from :func:`compute_rope_params`. With a KV cache,
    ``offset`` is the number of tokens already cached. Returns a tensor of
    ``x``'s shape and dtype (half types are rotated in float32).
    """
    x, cos, sin = _check_rope_args(x, cos, sin, offset)
    xc = x.to(cos.dtype)  # (..., T, hd)
    rotated = xc * cos + rotate_half(xc) * sin  # (..., T, hd); (T, hd) tables broadcast over the batch dims
    return rotated.to(x.dtype)


def apply_rope_interleaved(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, offset: int = 0
) -> torch.Tensor:
    """:func:`apply_rope` in the interleaved layout: feature ``2i`` pairs with ``2i + 1``.

    Takes the same tables (their first half holds the ``head_dim // 2``
    angles) and returns a tensor of ``x``'s shape and dtype.
    """
    x, cos, sin = _check_rope_args(x, cos, sin, offset)
    half = x.shape[-1] // 2
    cos, sin = cos[:, :half], sin[:, :half]  # (T, hd/2): one angle per pair
    pairs = x.to(cos.dtype).unflatten(-1, (half, 2))  # (..., T, hd/2, 2)
    a, b = pairs[..., 0], pairs[..., 1]  # (..., T, hd/2) each: the two features of every pair
    rotated = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1)  # (..., T, hd/2, 2)
    return rotated.flatten(-2).to(x.dtype)  # (..., T, hd)


def interleaved_to_halves(head_dim: int) -> torch.Tensor:
    """The index permutation from interleaved pairs to split halves. ``[0, 2, 4, ..., 1, 3, 5, ...]``.

    ``x[..., perm]`` puts the first feature of every pair in the first half
    and the second in the second half, so that
    ``apply_rope(x[..., perm], cos, sin) == apply_rope_interleaved(x, cos, sin)[..., perm]``.
    """
    _check_head_dim(head_dim)
    return torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])  # (hd,)


def permute_qk_weight(weight: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Convert a query or key weight, (num_heads * head_dim, d_in), from interleaved pairs to split halves.

    The rows of every head are reordered by :func:`interleaved_to_halves`: with
    the converted ``W_query`` and ``W_key``, :func:`apply_rope` gives the same
    attention scores as the original weights give with
    :func:`apply_rope_interleaved`. (Hugging Face's Llama conversion script
    does the same.) Pass the number of key/value heads for ``W_key``.
    """
    weight = check_tensor("weight", weight, ["(num_heads * head_dim, d_in)"])
    check_positive_int("num_heads", num_heads)
    rows, d_in = weight.shape
    if rows % num_heads:
        raise ValueError(
            f"weight's rows must split into num_heads = {num_heads} heads, got {rows} rows; "
            "for W_key pass the number of key/value heads"
        )
    head_dim = rows // num_heads
    perm = interleaved_to_halves(head_dim).to(weight.device)  # (hd,)
    per_head = weight.view(num_heads, head_dim, d_in)  # (H, hd, d_in)
    return per_head[:, perm, :].reshape(rows, d_in)  # (H * hd, d_in)
