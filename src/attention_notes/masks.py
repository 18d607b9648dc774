"""Boolean attention masks shared by the concepts, and the checks of masks a caller passes in.

Every mask in the package is boolean and **True where a query may not look**
(the key is blocked), the convention of ``torch.nn.MultiheadAttention``'s
``attn_mask``. PyTorch's ``scaled_dot_product_attention`` reads a boolean mask
the other way round (True = attend): invert a mask of this package with ``~``
before passing it there.

- :func:`causal_mask` builds the (T, T) mask that hides later tokens
  (the causal attention page);
- :func:`register_causal_mask` gives a module that mask as a buffer that a
  loaded state_dict cannot change;
- :func:`check_mask` and :func:`check_key_padding_mask` check masks that a
  caller passes in, with messages that name the argument.
"""

import torch
from torch import nn

from attention_notes.checks import check_positive_int, check_same_device, has_values

__all__ = ["causal_mask", "check_key_padding_mask", "check_mask", "register_causal_mask"]


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The (T, T) boolean causal mask: True above the diagonal, where query ``i`` would see key ``j > i``."""
    check_positive_int("T", T)
    return torch.triu(torch.ones(T, T, dtype=torch.bool, device=device), diagonal=1)  # (T, T)


def register_causal_mask(module: nn.Module, context_length: int) -> None:
    """Give ``module`` its ``mask`` buffer, and make every state_dict it loads keep that mask.

    The mask is not learned: it is determined by ``context_length``. It stays in
    the state_dict, as in the book, so that checkpoints move both ways, but a
    loaded mask must be the causal one (a book-style float mask of ones above
    the diagonal is converted). A different one would make the module attend to
    later tokens without a word, and the fused path, which relies on
    ``is_causal``, disagree with the explicit one. A state_dict without a mask
    loads too.
    """
    module.register_buffer("mask", causal_mask(context_length))  # True = blocked

    def check_loaded_mask(state_dict: dict, prefix: str, *args: object) -> None:
        key = prefix + "mask"
        if key not in state_dict:
            state_dict[key] = causal_mask(context_length)
            return
        loaded = state_dict[key]
        wanted = causal_mask(context_length)
        if (
            not isinstance(loaded, torch.Tensor)
            or loaded.shape != wanted.shape
            or not torch.equal(loaded.detach().to("cpu").bool(), wanted)
        ):
            got = tuple(loaded.shape) if isinstance(loaded, torch.Tensor) else type(loaded).__name__
            raise ValueError(
                f"{key} in the state_dict must be the causal mask of context_length = {context_length} "
                f"((T, T) = {tuple(wanted.shape)}, True above the diagonal), got a different one of shape "
                f"{got}; the mask is not trained: build the module with the checkpoint's context_length"
            )
        state_dict[key] = wanted

    module._register_load_state_dict_pre_hook(check_loaded_mask)


def check_mask(mask: object, attn_scores: torch.Tensor) -> torch.Tensor:
    """Check ``mask`` against the scores of ``query @ key.mT``; return it broadcast to their shape.

    ``mask`` must be a boolean tensor (True = blocked) on the scores' device
    that broadcasts to ``attn_scores.shape``, (..., T, S), and leaves every
    query at least one key.
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a torch.bool tensor (True = blocked), got {got}")
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
