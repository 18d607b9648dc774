r"""Self-attention with trainable weights: project, then scaled dot-product attention.

Three trainable matrices project every input embedding :math:`x^{(i)}` (size
``d_in``) to a query, a key and a value (size ``d_out``):

.. math::

    Q = X W_q, \quad K = X W_k, \quad V = X W_v, \qquad
    \operatorname{context} = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V

with :math:`d_k = d_{out}`. The two modules compute exactly this and differ only
in how they store and initialise the matrices, as in chapter 3 of Sebastian
Raschka's *Build a Large Language Model (From Scratch)*:

- :class:`SelfAttentionV1` (the book's ``SelfAttention_v1``): three
  ``nn.Parameter(torch.rand(d_in, d_out))``, uniform on [0, 1).
- :class:`SelfAttention` (the book's ``SelfAttention_v2``): three
  ``nn.Linear(d_in, d_out)``, whose weights are stored as (d_out, d_in) and
  drawn uniformly from :math:`\pm 1/\sqrt{d_{in}}`.

The matrices are created in the book's order (query, key, value), so that
``torch.manual_seed(123)`` (V1) and ``torch.manual_seed(789)`` (Linear) give the
book's numbers. Both accept ``x`` of shape (T, d_in) or (B, T, d_in) and return
``(context, attn_weights)``: (T, d_out) or (B, T, d_out), and (T, T) or (B, T, T).
"""

import torch
from torch import nn

from attention_notes.checks import (
    check_bool,
    check_positive_int,
    check_same_dtype_and_device,
    check_size,
    check_tensor,
)
from attention_notes.scaled_dot_product import projected_attention

__all__ = ["SelfAttention", "SelfAttentionV1"]


def _check_x(x: object, d_in: int, weight: torch.Tensor) -> torch.Tensor:
    """Check the input of a module whose weights are like ``weight`` and expect ``d_in`` features."""
    x = check_tensor("x", x, ["(T, d_in)", "(B, T, d_in)"])
    check_same_dtype_and_device(("x", x), ("the module's weights", weight))
    check_size("x", x.shape[-1], d_in, "embedding size (last dimension) d_in =")
    return x


class SelfAttentionV1(nn.Module):
    """Self-attention whose projections are plain matrices, ``x @ W``.

    Args:
        d_in: embedding size of the inputs.
        d_out: size of each query, key and value (``d_k``).

    ``W_query``, ``W_key`` and ``W_value`` are (d_in, d_out) parameters drawn
    from ``torch.rand``, uniform on [0, 1).
    """

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        check_positive_int("d_in", d_in)
        check_positive_int("d_out", d_out)
        # Created in the book's order: after torch.manual_seed(123), the book's matrices.
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from every token to every token of ``x``, (T, d_in) or (B, T, d_in).

        Returns ``(context, attn_weights)``: (..., T, d_out) and (..., T, T),
        each row of the weights summing to 1.
        """
        x = _check_x(x, self.W_query.shape[0], self.W_query)
        queries = x @ self.W_query  # (B, T, d_in) @ (d_in, d_out) -> (B, T, d_out)
        keys = x @ self.W_key  # (B, T, d_in) @ (d_in, d_out) -> (B, T, d_out)
        values = x @ self.W_value  # (B, T, d_in) @ (d_in, d_out) -> (B, T, d_out)
        # source="x": a projection or scores that overflow are reported as x's, the tensor the caller passed.
        return projected_attention(queries, keys, values, source="x")  # (B, T, d_out), (B, T, T)


class SelfAttention(nn.Module):
    """Self-attention whose projections are ``nn.Linear`` layers.

    Args:
        d_in: embedding size of the inputs.
        d_out: size of each query, key and value (``d_k``).
        qkv_bias: give the three projections a bias (the book's default: no bias).

    ``W_query``, ``W_key`` and ``W_value`` are ``nn.Linear(d_in, d_out)``: their
    ``weight`` is (d_out, d_in), and ``W_query(x)`` computes ``x @ W_query.weight.T``.
    """

    def __init__(self, d_in: int, d_out: int, qkv_bias: bool = False) -> None:
        super().__init__()
        check_positive_int("d_in", d_in)
        check_positive_int("d_out", d_out)
        # qkv_bias=1 or "False" would otherwise be read as a truth value without a word.
        check_bool("qkv_bias", qkv_bias)
        # Created in the book's order: after torch.manual_seed(789), the book's layers.
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from every token to every token of ``x``, (T, d_in) or (B, T, d_in).

        Returns ``(context, attn_weights)``: (..., T, d_out) and (..., T, T),
        each row of the weights summing to 1.
        """
        x = _check_x(x, self.W_query.in_features, self.W_query.weight)
        queries = self.W_query(x)  # (B, T, d_in) -> (B, T, d_out)
        keys = self.W_key(x)  # (B, T, d_in) -> (B, T, d_out)
        values = self.W_value(x)  # (B, T, d_in) -> (B, T, d_out)
        # source="x": a projection or scores that overflow are reported as x's, the tensor the caller passed.
        return projected_attention(queries, keys, values, source="x")  # (B, T, d_out), (B, T, T)
