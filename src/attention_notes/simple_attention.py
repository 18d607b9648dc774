r"""Self-attention without trainable weights, one step at a time.

For a sequence of embeddings :math:`x^{(1)}, \dots, x^{(T)}` (rows of ``inputs``):

1. **scores**: :math:`\omega_{ij} = x^{(i)} \cdot x^{(j)}` (dot product),
2. **weights**: :math:`\alpha_{ij} = \operatorname{softmax}_j(\omega_{ij})`, each row sums to 1,
3. **context**: :math:`z^{(i)} = \sum_j \alpha_{ij}\, x^{(j)}` (weighted sum).

Each step has a loop version that mirrors the formula and a vectorised version
that the rest of the package uses; the tests check that they agree.
"""

import torch

from attention_notes._checks import check_size, check_tensor

__all__ = [
    "all_scores",
    "all_scores_loop",
    "context_vector",
    "context_vectors",
    "query_scores",
    "query_scores_loop",
    "scores_to_weights",
    "simple_self_attention",
    "simple_self_attention_loop",
]


def _check_query(inputs: object, query: object) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = check_tensor("inputs", inputs, ["(T, D)"])
    query = check_tensor("query", query, ["(D,)"])
    check_size("query", query.shape[0], inputs.shape[1], "size D = inputs.shape[1] =")
    return inputs, query


def query_scores_loop(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Attention scores of one query against every input, with a Python loop.

    ``inputs`` is (T, D), ``query`` is (D,); returns (T,) with
    ``scores[i] = inputs[i] . query``.
    """
    inputs, query = _check_query(inputs, query)
    attn_scores = torch.empty(inputs.shape[0], dtype=inputs.dtype)  # (T,)
    for i, x_i in enumerate(inputs):
        attn_scores[i] = torch.dot(x_i, query)
    return attn_scores


def query_scores(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Vectorised :func:`query_scores_loop`: one matrix-vector product, (T, D) @ (D,) -> (T,)."""
    inputs, query = _check_query(inputs, query)
    return inputs @ query  # (T,)


def all_scores_loop(inputs: torch.Tensor) -> torch.Tensor:
    """Scores for every pair of inputs with two Python loops: (T, D) -> (T, T).

    ``scores[i, j] = inputs[i] . inputs[j]``. Quadratic in T, and slow because
    every one of the T*T dot products is a separate Python-level call.
    """
    inputs = check_tensor("inputs", inputs, ["(T, D)"])
    T = inputs.shape[0]
    attn_scores = torch.empty(T, T, dtype=inputs.dtype)  # (T, T)
    for i, x_i in enumerate(inputs):
        for j, x_j in enumerate(inputs):
            attn_scores[i, j] = torch.dot(x_i, x_j)
    return attn_scores


def all_scores(inputs: torch.Tensor) -> torch.Tensor:
    """Scores for every pair of inputs with one matrix product.

    ``inputs`` is (T, D) or (B, T, D); returns (T, T) or (B, T, T). Row ``i`` of
    ``inputs @ inputs.T`` holds the dot products of ``inputs[i]`` with every
    row, which is exactly what the double loop computes.
    """
    inputs = check_tensor("inputs", inputs, ["(T, D)", "(B, T, D)"])
    return inputs @ inputs.mT  # (B, T, D) @ (B, D, T) -> (B, T, T)


def scores_to_weights(attn_scores: torch.Tensor) -> torch.Tensor:
    """Attention weights from scores: softmax over the last dimension.

    ``attn_scores`` is (T,), (T, S) or (B, T, S); the result has the same shape,
    and each slice along the last dimension (one query's weights over all keys)
    is positive and sums to 1. ``-inf`` scores get weight 0.
    """
    attn_scores = check_tensor(
        "attn_scores", attn_scores, ["(S,)", "(T, S)", "(B, T, S)"], allow_neg_inf=True
    )
    if torch.isneginf(attn_scores).all(dim=-1).any():
        raise ValueError("attn_scores has a row that is all -inf; every query needs a key")
    return torch.softmax(attn_scores, dim=-1)


def _check_weights(name: str, attn_weights: torch.Tensor) -> None:
    # Passing scores where weights are expected is the classic mistake; it still
    # "works" (a weighted sum is defined for any numbers) but means nothing.
    if (attn_weights < 0).any():
        raise ValueError(f"{name} must be non-negative (softmax output), got a negative entry")
    sums = attn_weights.sum(dim=-1)
    tol = 1e-3 if attn_weights.dtype in (torch.float16, torch.bfloat16) else 1e-5
    if not torch.allclose(sums, torch.ones_like(sums), atol=tol * attn_weights.shape[-1]):
        lo, hi = sums.min().item(), sums.max().item()
        got = f"got a sum of {lo:.4g}" if lo == hi else f"got sums from {lo:.4g} to {hi:.4g}"
        raise ValueError(f"{name} must sum to 1 over its last dimension (did you pass scores?), {got}")


def context_vector(inputs: torch.Tensor, attn_weights: torch.Tensor) -> torch.Tensor:
    """One context vector: the weighted sum of the inputs, (T, D) and (T,) -> (D,).

    ``z = sum_i attn_weights[i] * inputs[i]``.
    """
    inputs = check_tensor("inputs", inputs, ["(T, D)"])
    attn_weights = check_tensor("attn_weights", attn_weights, ["(T,)"])
    T = inputs.shape[0]
    check_size("attn_weights", attn_weights.shape[0], T, "length T = inputs.shape[0] =")
    _check_weights("attn_weights", attn_weights)
    return attn_weights @ inputs  # (T,) @ (T, D) -> (D,)


def context_vectors(inputs: torch.Tensor, attn_weights: torch.Tensor) -> torch.Tensor:
    """All context vectors at once: ``attn_weights @ inputs``.

    ``inputs`` is (S, D) or (B, S, D) and ``attn_weights`` is (T, S) or (B, T, S)
    with the same number of dimensions; returns (T, D) or (B, T, D). Row ``i``
    is the weighted sum of the inputs with the weights of query ``i``.
    """
    inputs = check_tensor("inputs", inputs, ["(S, D)", "(B, S, D)"])
    attn_weights = check_tensor("attn_weights", attn_weights, ["(T, S)", "(B, T, S)"])
    if attn_weights.dim() != inputs.dim():
        raise ValueError(
            f"attn_weights must be {'(B, T, S)' if inputs.dim() == 3 else '(T, S)'} "
            f"to match inputs of shape {tuple(inputs.shape)}, got {tuple(attn_weights.shape)}"
        )
    S = inputs.shape[-2]
    check_size("attn_weights", attn_weights.shape[-1], S, "last dimension S = inputs.shape[-2] =")
    if inputs.dim() == 3:
        check_size("attn_weights", attn_weights.shape[0], inputs.shape[0], "batch size B =")
    _check_weights("attn_weights", attn_weights)
    return attn_weights @ inputs  # (B, T, S) @ (B, S, D) -> (B, T, D)


def simple_self_attention(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Self-attention with no trainable weights: every token attends to every token.

    ``x`` is (T, D) or (B, T, D). Returns ``(context, attn_weights)`` with
    ``context`` of the same shape as ``x`` and ``attn_weights`` of shape
    (T, T) or (B, T, T). The scores are plain dot products, without the
    ``1/sqrt(D)`` scaling that trainable attention adds later, so this equals
    ``torch.nn.functional.scaled_dot_product_attention(x, x, x, scale=1.0)``.
    """
    x = check_tensor("x", x, ["(T, D)", "(B, T, D)"])
    attn_scores = x @ x.mT  # (B, T, T)
    attn_weights = torch.softmax(attn_scores, dim=-1)  # (B, T, T), rows sum to 1
    context = attn_weights @ x  # (B, T, T) @ (B, T, D) -> (B, T, D)
    return context, attn_weights


def simple_self_attention_loop(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`simple_self_attention` with Python loops, one query at a time: (T, D) -> (T, D), (T, T).

    For each query: its T scores by :func:`query_scores_loop`, their softmax,
    then the weighted sum of the inputs as an explicit loop. The same numbers
    as the vectorised version, for comparing speed (see the Performance page).
    """
    x = check_tensor("x", x, ["(T, D)"])
    T, D = x.shape
    context = torch.empty(T, D, dtype=x.dtype)  # (T, D)
    attn_weights = torch.empty(T, T, dtype=x.dtype)  # (T, T)
    for i in range(T):
        attn_weights[i] = torch.softmax(query_scores_loop(x, x[i]), dim=0)  # (T,)
        z = torch.zeros(D, dtype=x.dtype)
        for j in range(T):
            z += attn_weights[i, j] * x[j]
        context[i] = z
    return context, attn_weights
