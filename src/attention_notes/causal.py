r"""Causal attention: self-attention in which no token looks at a later one.

A model that writes text one token at a time predicts token :math:`i + 1`
from tokens :math:`1 \dots i`; during training it sees whole sentences, so the
attention itself must hide what comes later. Query :math:`i` may attend to key
:math:`j` only if :math:`j \le i`:

.. math::

    \alpha_{ij} = \frac{\exp(\omega_{ij} / \sqrt{d_k})}{\sum_{k \le i} \exp(\omega_{ik} / \sqrt{d_k})}
    \quad (j \le i), \qquad \alpha_{ij} = 0 \quad (j > i)

The mask is boolean and **True where a query may not look** (above the
diagonal), the convention of :func:`~attention_notes.scaled_dot_product.scaled_dot_product_attention`
and of ``torch.nn.MultiheadAttention``'s ``attn_mask``. The book keeps a float
mask of ones and zeros under the same name and converts it with ``.bool()``
at every call.
"""

import numbers

import torch
from torch import nn

from attention_notes._checks import (
    check_positive_int,
    check_same_dtype_and_device,
    check_size,
    check_tensor,
)
from attention_notes.scaled_dot_product import scaled_dot_product_attention

__all__ = ["CausalAttention", "causal_mask"]


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The (T, T) boolean causal mask: True above the diagonal, where query ``i`` would see key ``j > i``."""
    check_positive_int("T", T)
    return torch.triu(torch.ones(T, T, dtype=torch.bool, device=device), diagonal=1)  # (T, T)


def _check_dropout(dropout: object) -> float:
    """Return ``dropout`` as a float if it is a number in [0, 1); a clear error otherwise."""
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise TypeError(f"dropout must be a float in [0, 1), got {type(dropout).__name__} {dropout!r}")
    # At p = 1 every weight is dropped and the survivors' factor 1 / (1 - p) is infinite.
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1) (the probability of dropping a weight), got {dropout}")
    return float(dropout)


def _check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool; ``1`` or ``"False"`` is a TypeError, not a silent truth value."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {type(value).__name__} {value!r}")
    return value


def _check_attention_args(
    d_in: object, d_out: object, context_length: object, dropout: object, qkv_bias: object
) -> float:
    """Check the constructor arguments shared by the causal and multi-head modules; return ``dropout``."""
    for name, value in (("d_in", d_in), ("d_out", d_out), ("context_length", context_length)):
        check_positive_int(name, value)
    _check_bool("qkv_bias", qkv_bias)
    return _check_dropout(dropout)  # a float, whatever kind of number came in (nn.Dropout needs one)


def _register_causal_mask(module: nn.Module, context_length: int) -> None:
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


def _check_sequence(
    x: object, d_in: int, context_length: int, weight: torch.Tensor
) -> tuple[torch.Tensor, bool]:
    """Check the input of a causal module and return it as (B, T, d_in), with whether it came unbatched."""
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


class CausalAttention(nn.Module):
    """Single-head causal self-attention with trainable projections and dropout on the weights.

    Args:
        d_in: embedding size of the input tokens.
        d_out: size of the queries, keys, values and context vectors.
        context_length: the longest sequence the module accepts (the size of its mask).
        dropout: probability of zeroing each attention weight in training mode.
        qkv_bias: whether the three projections have a bias.
    """

    def __init__(
        self, d_in: int, d_out: int, context_length: int, dropout: float, qkv_bias: bool = False
    ) -> None:
        super().__init__()
        dropout = _check_attention_args(d_in, d_out, context_length, dropout, qkv_bias)
        self.d_in = d_in
        self.d_out = d_out
        self.context_length = context_length
        # Created in the book's order, so that a seed gives the book's weights.
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        # A buffer, not a parameter: it follows the module in .to(device) and
        # state_dict, but no optimiser touches it. True = blocked.
        _register_causal_mask(self, context_length)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Causal self-attention over ``x``, (T, d_in) or (B, T, d_in).

        Returns ``(context, attn_weights)``: (B, T, d_out) and (B, T, T), or
        (T, d_out) and (T, T) for an unbatched input. Weights above the
        diagonal are exactly 0; in eval mode each row sums to 1, in training
        mode dropout zeroes some weights and scales the rest by 1 / (1 - p).
        """
        x, unbatched = _check_sequence(x, self.d_in, self.context_length, self.W_query.weight)
        _, T, _ = x.shape  # (B, T, d_in)
        queries = self.W_query(x)  # (B, T, d_out)
        keys = self.W_key(x)  # (B, T, d_out)
        values = self.W_value(x)  # (B, T, d_out)
        mask = self.mask[:T, :T]  # (T, T), True = blocked
        context, attn_weights = scaled_dot_product_attention(
            queries, keys, values, mask=mask, dropout=self.dropout
        )  # (B, T, d_out), (B, T, T)
        if unbatched:
            return context.squeeze(0), attn_weights.squeeze(0)  # (T, d_out), (T, T)
        return context, attn_weights
