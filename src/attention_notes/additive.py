r"""Bahdanau (additive) attention.

For a query :math:`q` (the decoder state) and keys :math:`k_j` (the encoder states):

.. math::

    e_j = w_v^\top \tanh(W_{query}\, q + W_{key}\, k_j), \qquad
    \alpha = \operatorname{softmax}(e), \qquad
    c = \sum_j \alpha_j v_j

The score is "additive" because query and key are projected to a common size
and *added* before the non-linearity, unlike the dot product of self-attention.

Shapes: ``Dq`` query size, ``Dk`` key size, ``Dv`` value size, ``Dh`` the size
of the space in which query and key are added (``hidden_dim``). ``H`` is kept
for heads, as in the package's shape legend.

A float16 or bfloat16 module computes its scores, softmax and context in
float32 and casts the results back, as the rest of the package does.
"""

import torch
import torch.nn.functional as F
from torch import nn

from attention_notes.checks import (
    check_positive_int,
    check_same_dtype_and_device,
    check_scores_finite,
    check_size,
    check_tensor,
    compute_dtype,
    has_values,
)
from attention_notes.masks import check_key_padding_mask

__all__ = ["AdditiveAttention"]


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2014) attention: ``score(q, k) = w_v^T tanh(W_query q + W_key k)``.

    Args:
        query_dim: size ``Dq`` of the query (decoder state).
        key_dim: size ``Dk`` of each key (encoder state).
        hidden_dim: size ``Dh`` of the space in which query and key are added.
    """

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int) -> None:
        super().__init__()
        for name, value in (("query_dim", query_dim), ("key_dim", key_dim), ("hidden_dim", hidden_dim)):
            check_positive_int(name, value)
        self.W_query = nn.Linear(query_dim, hidden_dim, bias=False)
        self.W_key = nn.Linear(key_dim, hidden_dim, bias=False)
        self.w_v = nn.Linear(hidden_dim, 1, bias=False)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` over ``keys``.

        Args:
            query: (B, Dq), one decoder state per sequence.
            keys: (B, S, Dk), the encoder states.
            values: (B, S, Dv), what is averaged; defaults to ``keys``.
            key_padding_mask: (B, S) bool, True where a position is padding
                and must get weight 0. Every row needs at least one False.

        Returns:
            ``(context, attn_weights)``: (B, Dv) and (B, S); each row of
            ``attn_weights`` sums to 1.
        """
        query, keys, values, key_padding_mask = self._check(query, keys, values, key_padding_mask)
        dtype = compute_dtype(keys.dtype)  # float32 for a float16 / bfloat16 module
        projected_keys = F.linear(keys.to(dtype), self.W_key.weight.to(dtype))  # (B, S, Dh)
        return self.attend_projected(query, projected_keys, values, key_padding_mask)

    def attend_projected(
        self,
        query: torch.Tensor,
        projected_keys: torch.Tensor,
        values: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` with ``W_key @ keys`` computed by the caller, (B, S, Dh).

        A decoder attends over the same encoder states at every step, so it
        projects them once with ``self.W_key`` and calls this at each step.
        No input checks: :meth:`forward` is the checked entry point. The one
        check here is on the scores, which even finite inputs can overflow.
        """
        dtype = compute_dtype(values.dtype)  # float32 for a float16 / bfloat16 module, like forward's
        q = F.linear(query.to(dtype), self.W_query.weight.to(dtype)).unsqueeze(1)  # (B, 1, Dh)
        energy = torch.tanh(q + projected_keys.to(dtype))  # (B, S, Dh)
        attn_scores = F.linear(energy, self.w_v.weight.to(dtype)).squeeze(-1)  # (B, S)
        # Checked before masking, which adds -inf on purpose; padded positions
        # may hold anything, so only the unpadded ones count.
        if has_values(attn_scores) and not bool(torch.isfinite(attn_scores).all()):
            check_scores_finite(
                attn_scores if key_padding_mask is None else attn_scores.masked_fill(key_padding_mask, 0.0),
                "w_v^T tanh(W_query query + W_key keys)",
                "query or keys",
            )
        if key_padding_mask is not None:
            attn_scores = attn_scores.masked_fill(key_padding_mask, float("-inf"))
        attn_weights = torch.softmax(attn_scores, dim=-1)  # (B, S)
        context = torch.bmm(attn_weights.unsqueeze(1), values.to(dtype))  # (B, 1, S) @ (B, S, Dv)
        context = context.squeeze(1)  # (B, 1, Dv) -> (B, Dv)
        return context.to(values.dtype), attn_weights.to(values.dtype)

    def _check(self, query, keys, values, key_padding_mask):
        query = check_tensor("query", query, ["(B, Dq)"])
        keys = check_tensor("keys", keys, ["(B, S, Dk)"])
        # The projections multiply query and keys by the module's weights.
        module = ("the module's parameters", self.W_query.weight)
        check_same_dtype_and_device(("query", query), ("keys", keys), module)
        B, S, _ = keys.shape
        check_size("query", query.shape[1], self.W_query.in_features, "size Dq = query_dim =")
        check_size("keys", keys.shape[2], self.W_key.in_features, "size Dk = key_dim =")
        check_size("keys", B, query.shape[0], "batch size B = query.shape[0] =")
        if values is None:
            values = keys
        else:
            values = check_tensor("values", values, ["(B, S, Dv)"])
            check_same_dtype_and_device(("keys", keys), ("values", values))
            if values.shape[:2] != keys.shape[:2]:
                raise ValueError(
                    f"values must be (B, S, Dv) = ({B}, {S}, Dv) like keys, got {tuple(values.shape)}"
                )
        if key_padding_mask is not None:
            key_padding_mask = check_key_padding_mask(key_padding_mask, keys)  # (B, S), True = padding
        return query, keys, values, key_padding_mask
