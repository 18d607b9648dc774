r"""Softmax, twice: the textbook formula and a numerically stable version.

.. math:: \operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}

Both normalise along ``dim`` so that the result is positive and sums to 1.
They differ only in how they survive large inputs: ``exp(1000.)`` is ``inf`` in
float32, and ``inf / inf`` is ``nan``.

float16 and bfloat16 inputs are computed in float32 and the result cast back,
as everywhere in the package; float32 and float64 stay as they are.
"""

import torch

from attention_notes.checks import check_dim, check_tensor, compute_dtype, has_values

__all__ = ["softmax_naive", "softmax_stable"]


def _check(x: object, dim: int) -> tuple[torch.Tensor, int]:
    x = check_tensor("x", x, None, allow_neg_inf=True)
    dim = check_dim("dim", x, dim)
    if has_values(x) and torch.isneginf(x).all(dim=dim).any():
        raise ValueError(
            f"x has a slice along dim={dim} that is all -inf; "
            "softmax needs at least one finite entry to give weight to"
        )
    return x, dim


def softmax_naive(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax straight from the formula: ``exp(x) / sum(exp(x))`` along ``dim``.

    Kept naive on purpose, for teaching: once an entry of ``x`` is larger than
    about 88 (float32, and the half types, which are computed in float32),
    ``exp`` overflows to ``inf`` and the result is ``nan``.
    Use :func:`softmax_stable` or ``torch.softmax`` for real work.
    """
    x, dim = _check(x, dim)
    x_c = x.to(compute_dtype(x.dtype))  # float32 for float16 / bfloat16: exp(12.) overflows float16
    return (torch.exp(x_c) / torch.exp(x_c).sum(dim=dim, keepdim=True)).to(x.dtype)


def softmax_stable(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax that does not overflow: subtract the maximum before ``exp``.

    ``softmax(x) == softmax(x - c)`` for any constant ``c``, because
    ``e^(x_i - c) / sum_j e^(x_j - c)`` cancels ``e^-c`` above and below.
    With ``c = max(x)`` every exponent is ``<= 0``, so ``exp`` lies in (0, 1]
    and the sum is at least 1: no overflow, and no division by zero.
    ``-inf`` entries (blocked positions) get weight exactly 0.
    """
    x, dim = _check(x, dim)
    x_c = x.to(compute_dtype(x.dtype))  # float32 for float16 / bfloat16: a sum of many exps needs the bits
    shifted = x_c - x_c.amax(dim=dim, keepdim=True)  # same shape as x, max along dim is 0
    exp = torch.exp(shifted)
    return (exp / exp.sum(dim=dim, keepdim=True)).to(x.dtype)
