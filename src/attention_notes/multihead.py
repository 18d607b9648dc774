r"""Multi-head attention: several causal attention heads side by side.

Each head has its own projections and its own :math:`T \times T` weights, so
each can attend to the sequence in its own way; their context vectors are
concatenated.

- :class:`MultiHeadAttentionWrapper` is the idea written out: a list of
  :class:`~attention_notes.causal.CausalAttention` heads run one after another.
  Its output has ``num_heads * d_out`` features.
- :class:`MultiHeadAttention` computes the same thing with one projection
  each for queries, keys and values (``d_in -> d_out``), split into
  ``num_heads`` heads of ``head_dim = d_out // num_heads`` features by a
  ``view`` and a ``transpose``, then mixes the heads with ``out_proj``:

.. math::

    \operatorname{MultiHead}(X) = [\mathrm{head}_1, \dots, \mathrm{head}_H] \, W_O^\top + b_O,
    \qquad
    \mathrm{head}_h = \operatorname{softmax}\!\left(\frac{Q_h K_h^\top}{\sqrt{d_h}} + M\right) V_h

where :math:`[\dots]` concatenates along the features, :math:`Q_h = X W_{Q,h}^\top`
uses rows :math:`h d_h` to :math:`(h + 1) d_h - 1` of ``W_query.weight`` (and
likewise for keys and values), :math:`d_h` is ``head_dim`` and :math:`M` is
:math:`-\infty` above the diagonal (the causal mask), 0 elsewhere.

Shapes follow the package's legend, with ``H`` heads of ``hd = head_dim`` features.
"""

import torch
import torch.nn.functional as F
from torch import nn

from attention_notes.causal import CausalAttention
from attention_notes.checks import (
    all_finite,
    check_attention_args,
    check_bool,
    check_positive_int,
    check_projection,
    check_sequence,
)
from attention_notes.masks import CausalMaskModule, register_causal_mask
from attention_notes.scaled_dot_product import projected_attention

__all__ = ["MultiHeadAttention", "MultiHeadAttentionWrapper"]


class MultiHeadAttentionWrapper(nn.Module):
    """``num_heads`` independent :class:`~attention_notes.causal.CausalAttention` heads, concatenated.

    Args are those of :class:`~attention_notes.causal.CausalAttention`, plus
    ``num_heads``. Every head maps ``d_in`` to ``d_out`` features, so the
    output has ``num_heads * d_out``.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        num_heads: int,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        check_attention_args(d_in, d_out, context_length, dropout, qkv_bias)
        check_positive_int("num_heads", num_heads)
        self.heads = nn.ModuleList(
            [CausalAttention(d_in, d_out, context_length, dropout, qkv_bias) for _ in range(num_heads)]
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run every head on ``x``, (T, d_in) or (B, T, d_in).

        Returns ``(context, attn_weights)``: (B, T, H * d_out), the heads'
        context vectors side by side, and (B, H, T, T), the heads' weights
        stacked; (T, H * d_out) and (H, T, T) for an unbatched input.
        """
        outputs = [head(x) for head in self.heads]  # H times ((B, T, d_out), (B, T, T))
        context = torch.cat([c for c, _ in outputs], dim=-1)  # (B, T, H * d_out)
        attn_weights = torch.stack([w for _, w in outputs], dim=-3)  # (B, H, T, T)
        return context, attn_weights


class MultiHeadAttention(CausalMaskModule):
    """Causal multi-head attention with one projection each for queries, keys and values, split into heads.

    Args:
        d_in: embedding size of the input tokens.
        d_out: size of the output, and of all heads together: each of the
            ``num_heads`` heads has ``head_dim = d_out // num_heads`` features.
        context_length: the longest sequence the module accepts (the size of its mask).
        dropout: probability of zeroing each attention weight in training mode.
        num_heads: number of heads; must divide ``d_out``.
        qkv_bias: whether the query, key and value projections have a bias
            (``out_proj`` always has one, as in the book).
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        num_heads: int,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        dropout = check_attention_args(d_in, d_out, context_length, dropout, qkv_bias)
        check_positive_int("num_heads", num_heads)
        if d_out % num_heads != 0:
            raise ValueError(
                f"d_out must be divisible by num_heads (each head gets d_out // num_heads features), "
                f"got d_out = {d_out} and num_heads = {num_heads}"
            )
        self.d_in = d_in
        self.d_out = d_out
        self.context_length = context_length
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        # Created in the book's order, so that a seed gives the book's weights.
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)  # mixes the concatenated heads
        self.dropout = nn.Dropout(dropout)
        register_causal_mask(self, context_length)  # True = blocked; kept causal by CausalMaskModule

    def forward(self, x: torch.Tensor, need_weights: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Causal multi-head self-attention over ``x``, (T, d_in) or (B, T, d_in).

        Returns ``(context, attn_weights)``: (B, T, d_out) and the weights of
        every head, (B, H, T, T); (T, d_out) and (H, T, T) for an unbatched
        input. With ``need_weights=False`` the weights are never materialised:
        PyTorch's fused ``scaled_dot_product_attention`` computes the context
        and ``attn_weights`` is None.
        """
        x, unbatched = check_sequence(x, self.d_in, self.context_length, self.W_query.weight)
        check_bool("need_weights", need_weights)
        B, T, _ = x.shape
        H, hd = self.num_heads, self.head_dim
        # One projection for all heads, then the last dimension split into H heads of hd features.
        queries = self.W_query(x).view(B, T, H, hd).transpose(1, 2)  # (B, T, d_out) -> (B, H, T, hd)
        keys = self.W_key(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        values = self.W_value(x).view(B, T, H, hd).transpose(1, 2)  # (B, H, T, hd)
        if need_weights:
            mask = self.mask[:T, :T]  # (T, T), True = blocked; broadcasts over B and H
            context, attn_weights = projected_attention(
                queries, keys, values, mask=mask, dropout=self.dropout, source="x"
            )  # (B, H, T, hd), (B, H, T, T)
        else:
            # The checks the explicit path makes, so that need_weights changes
            # what is returned, never whether a bad input is caught.
            for name, projection in (("query", queries), ("key", keys), ("value", values)):
                check_projection(name, projection, "x")
            dropout_p = self.dropout.p if self.training else 0.0
            # is_causal is the mask buffer: a loaded state_dict cannot change it, nor
            # .to_empty() (masks.py). Under torch.autocast, SDPA computes in float32
            # from inputs in the autocast dtype, as the explicit path does.
            context = F.scaled_dot_product_attention(
                queries, keys, values, is_causal=True, dropout_p=dropout_p
            )  # (B, H, T, hd)
            if not all_finite(context):  # True when the values cannot be read (meta, vmap)
                raise ValueError(
                    f"the fused attention overflowed {context.dtype} although x is finite; "
                    "scale x down, e.g. divide by its largest absolute value"
                )
            attn_weights = None
        context = context.transpose(1, 2).contiguous()  # (B, T, H, hd)
        context = context.view(B, T, self.d_out)  # (B, T, d_out): the heads side by side
        context = self.out_proj(context)  # (B, T, d_out)
        if unbatched:
            context = context.squeeze(0)  # (T, d_out)
            attn_weights = attn_weights.squeeze(0) if attn_weights is not None else None  # (H, T, T)
        return context, attn_weights
