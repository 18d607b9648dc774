"""Boolean attention masks shared by the concepts, and the checks of masks a caller passes in.

Every mask in the package is boolean and **True where a query may not look**
(the key is blocked), the convention of ``torch.nn.MultiheadAttention``'s
``attn_mask``. PyTorch's ``scaled_dot_product_attention`` reads a boolean mask
the other way round (True = attend): invert a mask of this package with ``~``
before passing it there.

- :func:`causal_mask` builds the (T, T) mask that hides later tokens
  (the causal attention page);
- :func:`register_causal_mask` gives a module that mask as a buffer that a
  loaded state_dict cannot change, and :class:`CausalMaskModule` keeps it
  causal through ``.to_empty()`` and every other move of the module's tensors;
- :func:`check_mask` and :func:`check_key_padding_mask` check masks that a
  caller passes in, with messages that name the argument.
"""

import functools
from collections.abc import Callable

import torch
from torch import nn

from attention_notes.checks import (
    check_context_length,
    check_device,
    check_positive_int,
    check_same_device,
    has_values,
)

__all__ = [
    "CausalMaskModule",
    "causal_mask",
    "check_key_padding_mask",
    "check_mask",
    "register_causal_mask",
    "restore_causal_mask",
]


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The (T, T) boolean causal mask: True above the diagonal, where query ``i`` would see key ``j > i``.

    ``device`` is a ``torch.device``, a string such as ``"cpu"``, or None (the default device).
    """
    check_positive_int("T", T)
    device = check_device("device", device)
    return torch.triu(torch.ones(T, T, dtype=torch.bool, device=device), diagonal=1)  # (T, T)


def register_causal_mask(module: nn.Module, context_length: int) -> None:
    """Give ``module`` its ``mask`` buffer, and make every state_dict it loads keep that mask.

    The mask is not learned: it is determined by ``context_length``, which
    :func:`~attention_notes.checks.check_context_length` caps so that the
    (context_length, context_length) buffer stays under 1 GiB. It stays in the
    state_dict, as in the book, so that checkpoints move both ways, but a
    loaded mask must be the causal one (a book-style float mask of ones above
    the diagonal is converted, and a mask on ``meta``, which has no values, is
    replaced). A different one would make the module attend to later tokens
    without a word, and the fused path, which relies on ``is_causal``,
    disagree with the explicit one. A state_dict without a mask loads too.

    The hook is a module-level function, so the module pickles and ``torch.save``
    works. Give the module :class:`CausalMaskModule` as its base class too, so
    that ``.to_empty()`` cannot leave the mask as uninitialised memory.
    """
    check_context_length(context_length)
    module.register_buffer("mask", causal_mask(context_length))  # True = blocked
    module._register_load_state_dict_pre_hook(functools.partial(_load_causal_mask, context_length))


def _load_causal_mask(context_length: int, state_dict: dict, prefix: str, *args: object) -> None:
    """Load-state-dict pre-hook of :func:`register_causal_mask`: the loaded mask must be the causal one."""
    key = prefix + "mask"
    if key not in state_dict:
        state_dict[key] = causal_mask(context_length)
        return
    loaded = state_dict[key]
    wanted_shape = (context_length, context_length)
    if isinstance(loaded, torch.Tensor) and loaded.shape == wanted_shape:
        if loaded.is_meta:  # no values to compare: the causal mask replaces it
            state_dict[key] = causal_mask(context_length)
            return
        wanted = causal_mask(context_length, device=loaded.device)
        if torch.equal(loaded.detach().bool(), wanted):
            state_dict[key] = wanted  # on the loaded tensors' device, for load_state_dict(assign=True)
            return
    got = tuple(loaded.shape) if isinstance(loaded, torch.Tensor) else type(loaded).__name__
    raise ValueError(
        f"{key} in the state_dict must be the causal mask of context_length = {context_length} "
        f"((T, T) = {wanted_shape}, True above the diagonal), got a different one of shape "
        f"{got}; the mask is not trained: build the module with the checkpoint's context_length"
    )


def restore_causal_mask(module: nn.Module) -> None:
    """Make ``module.mask`` the causal mask of its size again, if it is not (nothing to check on ``meta``).

    In place where it can, so that a mask moved to shared memory stays there;
    an inference tensor (a module built under ``torch.inference_mode``) is replaced.
    """
    mask = module._buffers.get("mask")
    if mask is None or not has_values(mask) or mask.dim() != 2 or mask.shape[0] != mask.shape[1]:
        return
    wanted = causal_mask(mask.shape[0], device=mask.device)  # (context_length, context_length)
    if mask.dtype == torch.bool and torch.equal(mask, wanted):
        return  # the usual case: .to(), .cuda() or .share_memory() of a sound module
    if mask.dtype == torch.bool and not mask.is_inference():
        with torch.no_grad():
            mask.copy_(wanted)
    else:
        module._buffers["mask"] = wanted


class CausalMaskModule(nn.Module):
    """Base class of the modules with a causal ``mask`` buffer (:func:`register_causal_mask`).

    ``nn.Module._apply`` replaces every buffer: ``.to()``, ``.cuda()``,
    ``.share_memory()``, and ``.to_empty()``, which leaves it as uninitialised
    memory (the usual way to build a large model: on ``meta``, then
    ``to_empty`` and ``reset_parameters``). The parameters are initialised
    again; the mask, which no ``reset_parameters`` knows, would then let queries
    see later tokens, or block every key. After every ``_apply`` this writes
    the causal mask back, so that it is causal however the module was built.
    """

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> "CausalMaskModule":
        module = super()._apply(fn, recurse)
        restore_causal_mask(self)
        return module


def check_mask(mask: object, attn_scores: torch.Tensor) -> torch.Tensor:
    """Check ``mask`` against the scores of ``query @ key.mT``; return it broadcast to their shape.

    ``mask`` must be a boolean tensor (True = blocked) on the scores' device
    that broadcasts to ``attn_scores.shape``, (..., T, S), and leaves every
    query at least one key.
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a torch.bool tensor (True = blocked), got {got}")
    if mask.is_nested or mask.layout != torch.strided:
        got = "a nested tensor" if mask.is_nested else f"layout {mask.layout}"
        raise TypeError(f"mask must be a dense tensor, got {got}; convert it with .to_dense()")
    if mask.device != attn_scores.device:
        raise ValueError(f"mask must be on the device of query, {attn_scores.device}, got {mask.device}")
    try:
        blocked = torch.broadcast_to(mask, attn_scores.shape)  # (..., T, S)
    except RuntimeError:
        raise ValueError(
            f"mask must broadcast to the scores' shape {tuple(attn_scores.shape)}, got {tuple(mask.shape)}"
        ) from None
    if has_values(blocked) and bool(blocked.all(dim=-1).any()):
        raise ValueError("mask blocks every key for some query; each query needs at least one key")
    return blocked


def check_key_padding_mask(key_padding_mask: object, keys: torch.Tensor) -> torch.Tensor:
    """Check a (B, S) boolean mask of padded key positions (True = padding) against ``keys``, (B, S, Dk).

    Every row must keep at least one position that is not padding.
    """
    B, S = keys.shape[:2]
    mask = key_padding_mask
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"key_padding_mask must be a bool tensor of shape (B, S), got {got}")
    if mask.shape != (B, S):
        raise ValueError(f"key_padding_mask must be (B, S) = ({B}, {S}), got {tuple(mask.shape)}")
    check_same_device(("keys", keys), ("key_padding_mask", mask))
    if has_values(mask) and mask.all(dim=-1).any():
        raise ValueError("key_padding_mask masks every position of a row; nothing to attend to")
    return mask
