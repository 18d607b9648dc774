r"""Bahdanau (additive) attention.

For a query :math:`q` (the decoder state) and keys :math:`k_j` (the encoder states):

.. math::

    e_j = w_v^\top \tanh(W_{query}\, q + W_{key}\, k_j), \qquad
    \alpha = \operatorname{softmax}(e), \qquad
    c = \sum_j \alpha_j v_j

The score is "additive" because query and key are projected to a common size
and *added* before the non-linearity, unlike the dot product of self-attention.
"""

import torch
from torch import nn

from attention_notes._checks import check_size, check_tensor

__all__ = ["AdditiveAttention"]


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2014) attention: ``score(q, k) = w_v^T tanh(W_query q + W_key k)``.

    Args:
        query_dim: size ``Dq`` of the query (decoder state).
        key_dim: size ``Dk`` of each key (encoder state).
        hidden_dim: size of the space in which query and key are added.
    """

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int) -> None:
        super().__init__()
        for name, value in (("query_dim", query_dim), ("key_dim", key_dim), ("hidden_dim", hidden_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
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
        return self.attend_projected(query, self.W_key(keys), values, key_padding_mask)

    def attend_projected(
        self,
        query: torch.Tensor,
        projected_keys: torch.Tensor,
        values: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` with ``W_key @ keys`` computed by the caller, (B, S, hidden).

        A decoder attends over the same encoder states at every step, so it
        projects them once with ``self.W_key`` and calls this at each step.
        No input checks: :meth:`forward` is the checked entry point.
        """
        q = self.W_query(query).unsqueeze(1)  # (B, 1, hidden)
        attn_scores = self.w_v(torch.tanh(q + projected_keys)).squeeze(-1)  # (B, S)
        if key_padding_mask is not None:
            attn_scores = attn_scores.masked_fill(key_padding_mask, float("-inf"))
        attn_weights = torch.softmax(attn_scores, dim=-1)  # (B, S)
        context = torch.bmm(attn_weights.unsqueeze(1), values).squeeze(1)  # (B, 1, S) @ (B, S, Dv) -> (B, Dv)
        return context, attn_weights

    def _check(self, query, keys, values, key_padding_mask):
        query = check_tensor("query", query, ["(B, Dq)"])
        keys = check_tensor("keys", keys, ["(B, S, Dk)"])
        B, S, _ = keys.shape
        check_size("query", query.shape[1], self.W_query.in_features, "size Dq = query_dim =")
        check_size("keys", keys.shape[2], self.W_key.in_features, "size Dk = key_dim =")
        check_size("keys", B, query.shape[0], "batch size B = query.shape[0] =")
        if values is None:
            values = keys
        else:
            values = check_tensor("values", values, ["(B, S, Dv)"])
            if values.shape[:2] != keys.shape[:2]:
                raise ValueError(
                    f"values must be (B, S, Dv) = ({B}, {S}, Dv) like keys, got {tuple(values.shape)}"
                )
        if key_padding_mask is not None:
            mask = key_padding_mask
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
                got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
                raise TypeError(f"key_padding_mask must be a bool tensor of shape (B, S), got {got}")
            if key_padding_mask.shape != (B, S):
                raise ValueError(
                    f"key_padding_mask must be (B, S) = ({B}, {S}), got {tuple(key_padding_mask.shape)}"
                )
            if key_padding_mask.all(dim=-1).any():
                raise ValueError("key_padding_mask masks every position of a row; nothing to attend to")
        return query, keys, values, key_padding_mask
