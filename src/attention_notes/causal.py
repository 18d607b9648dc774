r"""Causal attention: self-attention in which no token looks at a later one.

A model that writes text one token at a time predicts token :math:`i + 1`
from tokens :math:`1 \dots i`; during training it sees whole sentences, so the
attention itself must hide what comes later. Query :math:`i` may attend to key
:math:`j` only if :math:`j \le i`:

.. math::

    \alpha_{ij} = \frac{\exp(\omega_{ij} / \sqrt{d_k})}{\sum_{k \le i} \exp(\omega_{ik} / \sqrt{d_k})}
    \quad (j \le i), \qquad \alpha_{ij} = 0 \quad (j > i)

The mask, :func:`causal_mask` (kept with the package's other masks in
:mod:`attention_notes.masks`, and importable from here), is boolean and
**True where a query may not look** (above the diagonal), the convention of
:func:`~attention_notes.scaled_dot_product.scaled_dot_product_attention` and of
``torch.nn.MultiheadAttention``'s ``attn_mask``. The book keeps a float
mask of ones and zeros under the same name and converts it with ``.bool()``
at every call.
"""

import torch
from torch import nn

from attention_notes.checks import check_attention_args, check_sequence
from attention_notes.masks import CausalMaskModule, causal_mask, register_causal_mask
from attention_notes.scaled_dot_product import projected_attention

__all__ = ["CausalAttention", "causal_mask"]


class CausalAttention(CausalMaskModule):
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
        dropout = check_attention_args(d_in, d_out, context_length, dropout, qkv_bias)
        self.d_in = d_in
        self.d_out = d_out
        self.context_length = context_length
        # Created in the book's order, so that a seed gives the book's weights.
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        # A buffer, not a parameter: it follows the module in .to(device) and
        # state_dict, but no optimiser touches it. True = blocked. CausalMaskModule
        # keeps it causal after .to_empty(); a loaded state_dict cannot change it.
        register_causal_mask(self, context_length)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Causal self-attention over ``x``, (T, d_in) or (B, T, d_in).

        Returns ``(context, attn_weights)``: (B, T, d_out) and (B, T, T), or
        (T, d_out) and (T, T) for an unbatched input. Weights above the
        diagonal are exactly 0; in eval mode each row sums to 1, in training
        mode dropout zeroes some weights and scales the rest by 1 / (1 - p).
        """
        x, unbatched = check_sequence(x, self.d_in, self.context_length, self.W_query.weight)
        _, T, _ = x.shape  # (B, T, d_in)
        queries = self.W_query(x)  # (B, T, d_out)
        keys = self.W_key(x)  # (B, T, d_out)
        values = self.W_value(x)  # (B, T, d_out)
        mask = self.mask[:T, :T]  # (T, T), True = blocked
        context, attn_weights = projected_attention(
            queries, keys, values, mask=mask, dropout=self.dropout, source="x"
        )  # (B, T, d_out), (B, T, T)
        if unbatched:
            return context.squeeze(0), attn_weights.squeeze(0)  # (T, d_out), (T, T)
        return context, attn_weights
