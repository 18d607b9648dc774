"""Input checks shared by the package, and the one dtype rule its computations follow.

Every public function validates its arguments here, so a reader who passes the
wrong thing gets a message that names the argument, what it got and what it
needs, instead of a traceback from deep inside torch.

Tensors on the ``meta`` device have a shape and a dtype but no values: they
let a reader (or a test) trace shapes through a model without computing
anything. The checks of shapes, dtypes and devices apply to them as to any
tensor; the checks of *values* (NaN, inf, token ranges, sums) are skipped,
because there is nothing to look at, and ``bool()`` of a meta tensor raises.
The same holds inside ``torch.func`` transforms (``vmap``, and so per-sample
gradients): a batched tensor has no single value for ``.item()`` to read
(:func:`has_values`).

Masks have their own checks, next to the masks themselves: :mod:`attention_notes.masks`.
"""

import math
import numbers
from collections.abc import Sequence

import torch

__all__ = [
    "MAX_MASK_BYTES",
    "SUPPORTED_DTYPES",
    "all_finite",
    "check_attention_args",
    "check_bool",
    "check_context_length",
    "check_device",
    "check_dim",
    "check_dropout",
    "check_positive_int",
    "check_projection",
    "check_same_device",
    "check_same_dtype",
    "check_same_dtype_and_device",
    "check_scores_finite",
    "check_sequence",
    "check_size",
    "check_tensor",
    "compute_dtype",
    "has_values",
]

# float16 overflows above 65504, so the scores of modest inputs (a dot product
# of 64 entries near 40) are already inf, and bfloat16 keeps only 8 bits of
# mantissa. Like Hugging Face's eager attention, the package computes scores,
# softmax and weighted sums of these types in float32 and casts the results back.
_UPCAST = {torch.float16: torch.float32, torch.bfloat16: torch.float32}


# The floating-point types the package computes in. float8 types pass
# is_floating_point() but most CPU operations (aminmax, softmax) are not defined for them.
SUPPORTED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype to compute in for inputs of ``dtype``: float32 for the half types, else ``dtype``."""
    return _UPCAST.get(dtype, dtype)


def all_finite(x: torch.Tensor) -> bool:
    """Whether every value of a non-empty ``x`` is finite: one pass, no temporary tensor the size of ``x``.

    ``torch.isfinite(x).all()`` builds an ``abs`` of ``x`` and boolean tensors of
    its size, which at T = 1024 costs more than the matrix products it guards.
    The smallest and largest values tell the same: NaN propagates into both,
    and an infinity is one of them. True when the values cannot be read
    (:func:`has_values`): nothing there is known to be wrong.
    """
    if not has_values(x):
        return True
    lo, hi = torch.aminmax(x)
    return math.isfinite(lo.item()) and math.isfinite(hi.item())


# torch.func's transforms wrap tensors (BatchedTensor under vmap, GradTrackingTensor under grad);
# .item() of a batched tensor raises. torch has no public test for the wrapping.
_is_functorch_wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", lambda x: False)


def has_values(x: torch.Tensor) -> bool:
    """Whether the values of ``x`` can be checked.

    False for tensors on the ``meta`` device, which have none, and for tensors
    inside a ``torch.func`` transform (``vmap``, ``grad``, ``jacrev``...), whose
    values Python cannot read one by one: the value checks are skipped there,
    as ``F.scaled_dot_product_attention`` has none.
    """
    return not x.is_meta and not _is_functorch_wrapped(x)


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
    if x.is_nested:
        raise TypeError(
            f"{name} must be a dense tensor, got a nested tensor (layout {x.layout}); pad its sequences "
            "to one length with torch.nested.to_padded_tensor"
        )
    if layouts is None:
        rank_ok = x.dim() >= 1
    else:  # the rank of "(B, T, D)" is its number of letters
        rank_ok = x.dim() in {len([n for n in lo.strip("()").split(",") if n.strip()]) for lo in layouts}
    if not rank_ok:
        raise ValueError(f"{name} must be {wanted}, got {_shape(x)}")
    if x.layout != torch.strided:
        raise TypeError(f"{name} must be a dense tensor, got layout {x.layout}; convert it with .to_dense()")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype (e.g. torch.float32), got {x.dtype}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} must have dtype {_join([str(d) for d in SUPPORTED_DTYPES], 'or')}, got {x.dtype}; "
            "convert it with .to(torch.float32)"
        )
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty: need {wanted}, each size >= 1, got {_shape(x)}")
    # One pass in the common, all-finite case; the details only on failure.
    if has_values(x) and not all_finite(x):
        if torch.isnan(x).any():
            raise ValueError(f"{name} contains NaN; attention over NaN values has no meaning")
        bad = torch.isposinf(x) if allow_neg_inf else torch.isinf(x)
        if bad.any():
            allowed = "+inf" if allow_neg_inf else "inf"
            raise ValueError(f"{name} contains {allowed}; only finite values are allowed")
    return x


def _join(names: Sequence[str], conjunction: str = "and") -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


def check_same_dtype(*named: tuple[str, torch.Tensor]) -> None:
    """Raise a TypeError naming every tensor and its dtype unless all ``(name, tensor)`` share one dtype.

    torch refuses ``float32 @ float64`` with a message about its internals
    ("expected m1 and m2 to have the same dtype"); this one names the arguments.
    """
    if len({x.dtype for _, x in named}) > 1:
        got = ", ".join(f"{name} {x.dtype}" for name, x in named)
        raise TypeError(
            f"{_join([name for name, _ in named])} must have the same dtype, got {got}; "
            "convert one with .to(dtype)"
        )


def check_same_device(*named: tuple[str, torch.Tensor]) -> None:
    """Raise a ValueError naming every tensor and its device unless all ``(name, tensor)`` share one."""
    if len({x.device for _, x in named}) > 1:
        got = ", ".join(f"{name} on {x.device}" for name, x in named)
        raise ValueError(
            f"{_join([name for name, _ in named])} must be on the same device, got {got}; "
            "move one with .to(device)"
        )


def check_same_dtype_and_device(*named: tuple[str, torch.Tensor]) -> None:
    """:func:`check_same_dtype` and :func:`check_same_device`: for tensors that meet in one operation."""
    check_same_dtype(*named)
    check_same_device(*named)


def check_scores_finite(attn_scores: torch.Tensor, formula: str, inputs: str) -> torch.Tensor:
    """Raise if scores computed from finite ``inputs`` came out inf or NaN.

    Finite inputs can still give scores beyond the dtype's range: ``1e20 * 1e20``
    is inf in float32, and softmax then returns NaN without a word. One pass
    over the scores; ``formula`` says how they were computed, ``inputs`` what to scale.
    """
    if has_values(attn_scores) and not all_finite(attn_scores):
        largest = torch.finfo(attn_scores.dtype).max
        raise ValueError(
            f"attn_scores = {formula} overflowed {attn_scores.dtype} (largest finite value {largest:.4g}) "
            f"although the inputs are finite; scale {inputs} down, "
            "e.g. divide by their largest absolute value"
        )
    return attn_scores


def check_projection(name: str, projection: torch.Tensor, source: str = "x") -> torch.Tensor:
    """Raise, naming ``source``, if a module's ``name`` projection of a finite ``source`` is not finite.

    The caller passed ``source``, not the query: a message about "query
    containing inf" would name a tensor the caller never saw. Finite inputs
    give an infinite projection when it overflows the dtype (float16 above
    65504), or when the module's own parameters are not finite.
    """
    if not all_finite(projection):
        largest = torch.finfo(projection.dtype).max
        raise ValueError(
            f"the {name} projection of {source} overflowed {projection.dtype} (largest finite value "
            f"{largest:.4g}), or the module's parameters are not finite, although {source} is finite; "
            f"scale {source} down, e.g. divide by its largest absolute value"
        )
    return projection


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


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1; TypeError for other types (bool, float), ValueError if < 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def check_size(name: str, got: int, need: int, what: str) -> None:
    """Raise when two sizes that must match do not."""
    if got != need:
        raise ValueError(f"{name} must have {what} {need}, got {got}")


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool; ``1`` or ``"False"`` is a TypeError, not a silent truth value."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {type(value).__name__} {value!r}")
    return value


def check_dropout(dropout: object) -> float:
    """Return ``dropout`` as a float if it is a number in [0, 1); a clear error otherwise."""
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise TypeError(f"dropout must be a float in [0, 1), got {type(dropout).__name__} {dropout!r}")
    # At p = 1 every weight is dropped and the survivors' factor 1 / (1 - p) is infinite.
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1) (the probability of dropping a weight), got {dropout}")
    return float(dropout)


def check_device(name: str, device: object) -> torch.device | None:
    """Return ``device`` as a ``torch.device`` (None stays None) if this build of torch can allocate on it.

    torch's own errors for ``"foo"``, ``5`` or ``"cuda"`` on a CPU-only build
    name neither the argument nor what it accepts.
    """
    if device is None:
        return None
    if not isinstance(device, torch.device | str):
        got = f"{type(device).__name__} {device!r}"
        raise TypeError(f"{name} must be a torch.device, a str such as 'cpu', or None, got {got}")
    try:
        dev = torch.device(device)
    except RuntimeError:
        wanted = "a device such as 'cpu', 'cuda' or 'meta'"
        raise ValueError(f"{name} must name {wanted}, got {device!r}") from None
    try:
        torch.empty(0, device=dev)
    except (RuntimeError, AssertionError) as err:  # AssertionError: "Torch not compiled with CUDA enabled"
        raise ValueError(f"{name} {device!r} is not available here: {err}") from None
    return dev


# The largest causal mask buffer a module may register: 1 GiB, a context of 32,768 tokens
# (GPT-2 uses 1,024). A (context_length, context_length) bool buffer is allocated when the
# module is built and saved in every state_dict; beyond this, the cost is rarely intended.
MAX_MASK_BYTES = 2**30


def check_context_length(context_length: object) -> int:
    """Return ``context_length`` if it is a positive int whose (context_length, context_length) mask fits.

    The mask takes ``context_length ** 2`` bytes (:data:`MAX_MASK_BYTES` at most):
    10**5 tokens would take 10 GB without a word, 10**7 fail deep in the allocator.
    """
    n = check_positive_int("context_length", context_length)
    if n * n > MAX_MASK_BYTES:
        raise ValueError(
            f"context_length = {n} needs a causal mask of {n * n:,} bytes ({n * n / 2**30:,.1f} GiB), "
            f"more than the {MAX_MASK_BYTES / 2**30:g} GiB the package allows (context_length <= "
            f"{math.isqrt(MAX_MASK_BYTES):,}): the module keeps the whole (context_length, context_length) "
            "mask as a buffer and in its state_dict; for longer sequences, use "
            "torch.nn.functional.scaled_dot_product_attention(..., is_causal=True), which needs no mask"
        )
    return n


def check_attention_args(
    d_in: object, d_out: object, context_length: object, dropout: object, qkv_bias: object
) -> float:
    """Check the constructor arguments shared by the modules with a causal mask; return ``dropout``."""
    for name, value in (("d_in", d_in), ("d_out", d_out)):
        check_positive_int(name, value)
    check_context_length(context_length)
    check_bool("qkv_bias", qkv_bias)
    return check_dropout(dropout)  # a float, whatever kind of number came in (nn.Dropout needs one)


def check_sequence(
    x: object, d_in: int, context_length: int, weight: torch.Tensor
) -> tuple[torch.Tensor, bool]:
    """Check the input of a module with a causal mask; return it as (B, T, d_in) and whether it was unbatched.

    ``weight`` is one of the module's weights: ``x`` must share its dtype and
    device. ``x`` may be (T, d_in) or (B, T, d_in), with T at most
    ``context_length``, the size of the module's mask.
    """
    x = check_tensor("x", x, ["(T, d_in)", "(B, T, d_in)"])
    check_same_dtype_and_device(("x", x), ("the module's weights", weight))
    check_size("x", x.shape[-1], d_in, "embedding size (last dimension) d_in =")
    T = x.shape[-2]
    if T > context_length:
        raise ValueError(
            f"x has T = {T} tokens, more than context_length = {context_length}, the longest sequence "
            "the module's causal mask covers; build the module with a larger context_length"
        )
    unbatched = x.dim() == 2
    return (x.unsqueeze(0) if unbatched else x), unbatched
