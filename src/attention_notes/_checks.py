"""Input checks shared by the package.

Every public function validates its arguments here, so a reader who passes the
wrong thing gets a message that names the argument, what it got and what it
needs, instead of a traceback from deep inside torch.
"""

from collections.abc import Sequence

import torch


def _shape(x: torch.Tensor) -> str:
    if x.dim() == 0:
        return "a 0-d tensor (a scalar)"
    return "(" + ", ".join(str(n) for n in x.shape) + (",)" if x.dim() == 1 else ")")


def check_tensor(
    name: str,
    x: object,
    layouts: Sequence[str] | None,
    *,
    allow_neg_inf: bool = False,
) -> torch.Tensor:
    """Check that ``x`` is a non-empty, finite, floating-point tensor of an allowed rank.

    ``layouts`` names the allowed shapes, e.g. ``("(T, D)", "(B, T, D)")``; the
    rank of each layout is the number of its dimensions. ``None`` allows any
    rank from 1 up. ``allow_neg_inf`` lets ``-inf`` through (the usual
    "blocked" value in attention scores).
    """
    wanted = "a tensor with at least one dimension" if layouts is None else " or ".join(layouts)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {wanted}, got {type(x).__name__}")
    if layouts is None:
        rank_ok = x.dim() >= 1
    else:  # the rank of "(B, T, D)" is its number of letters
        rank_ok = x.dim() in {len([n for n in lo.strip("()").split(",") if n.strip()]) for lo in layouts}
    if not rank_ok:
        raise ValueError(f"{name} must be {wanted}, got {_shape(x)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype (e.g. torch.float32), got {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty: need {wanted}, each size >= 1, got {_shape(x)}")
    # One pass in the common, all-finite case; the details only on failure.
    if not bool(torch.isfinite(x).all()):
        if torch.isnan(x).any():
            raise ValueError(f"{name} contains NaN; attention over NaN values has no meaning")
        bad = torch.isposinf(x) if allow_neg_inf else torch.isinf(x)
        if bad.any():
            allowed = "+inf" if allow_neg_inf else "inf"
            raise ValueError(f"{name} contains {allowed}; only finite values are allowed")
    return x


def check_dim(name: str, x: torch.Tensor, dim: int) -> int:
    """Return ``dim`` as a non-negative index into ``x``, or raise a clear error."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__}")
    rank = x.dim()
    if not -rank <= dim < rank:
        raise ValueError(
            f"{name} must be in [{-rank}, {rank - 1}] for a tensor of shape {_shape(x)}, got {dim}"
        )
    return dim % rank


def check_size(name: str, got: int, need: int, what: str) -> None:
    """Raise when two sizes that must match do not."""
    if got != need:
        raise ValueError(f"{name} must have {what} {need}, got {got}")
