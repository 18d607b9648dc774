r"""Self-attention without trainable weights, one step at a time.

For a sequence of embeddings :math:`x^{(1)}, \dots, x^{(T)}` (rows of ``inputs``):

1. **scores**: :math:`\omega_{ij} = x^{(i)} \cdot x^{(j)}` (dot product),
2. **weights**: :math:`\alpha_{ij} = \operatorname{softmax}_j(\omega_{ij})`, each row sums to 1,
3. **context**: :math:`z^{(i)} = \sum_j \alpha_{ij}\, x^{(j)}` (weighted sum).

Each step has a loop version that mirrors the formula and a vectorised version
that the rest of the package uses; the tests check that they agree, in their
values and in their gradients.

Every function returns tensors of its input's dtype and device. float16 and
bfloat16 inputs are computed in float32 and the results cast back, like Hugging
Face's eager attention: the scores of modest float16 inputs already overflow
float16's largest value, 65504.
"""

import torch

from attention_notes.checks import (
    check_same_dtype_and_device,
    check_scores_finite,
    check_size,
    check_tensor,
    compute_dtype,
    has_values,
)

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


def _upcast(x: torch.Tensor) -> torch.Tensor:
    return x.to(compute_dtype(x.dtype))  # no copy for float32 / float64


def _check_query(inputs: object, query: object) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = check_tensor("inputs", inputs, ["(T, D)"])
    query = check_tensor("query", query, ["(D,)"])
    check_same_dtype_and_device(("inputs", inputs), ("query", query))
    check_size("query", query.shape[0], inputs.shape[1], "size D = inputs.shape[1] =")
    return inputs, query


def _dots_loop(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    # A list and one stack, not writes into a preallocated tensor: writing
    # score i into a tensor that score i-1's graph still reads breaks backward.
    return torch.stack([torch.dot(x_i, query) for x_i in inputs])  # (T,)


def query_scores_loop(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Attention scores of one query against every input, with a Python loop.

    ``inputs`` is (T, D), ``query`` is (D,); returns (T,) with
    ``scores[i] = inputs[i] . query``.
    """
    inputs, query = _check_query(inputs, query)
    attn_scores = _dots_loop(_upcast(inputs), _upcast(query)).to(inputs.dtype)  # (T,)
    return check_scores_finite(attn_scores, "inputs @ query", "inputs or query")


def query_scores(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Vectorised :func:`query_scores_loop`: one matrix-vector product, (T, D) @ (D,) -> (T,)."""
    inputs, query = _check_query(inputs, query)
    attn_scores = (_upcast(inputs) @ _upcast(query)).to(inputs.dtype)  # (T,)
    return check_scores_finite(attn_scores, "inputs @ query", "inputs or query")


def all_scores_loop(inputs: torch.Tensor) -> torch.Tensor:
    """Scores for every pair of inputs with two Python loops: (T, D) -> (T, T).

    ``scores[i, j] = inputs[i] . inputs[j]``. Quadratic in T, and slow because
    every one of the T*T dot products is a separate Python-level call.
    """
    inputs = check_tensor("inputs", inputs, ["(T, D)"])
    x = _upcast(inputs)
    rows = [torch.stack([torch.dot(x_i, x_j) for x_j in x]) for x_i in x]  # T rows of (T,)
    attn_scores = torch.stack(rows).to(inputs.dtype)  # (T, T)
    return check_scores_finite(attn_scores, "inputs @ inputs.T", "inputs")


def all_scores(inputs: torch.Tensor) -> torch.Tensor:
    """Scores for every pair of inputs with one matrix product.

    ``inputs`` is (T, D) or (B, T, D); returns (T, T) or (B, T, T). Row ``i`` of
    ``inputs @ inputs.T`` holds the dot products of ``inputs[i]`` with every
    row, which is exactly what the double loop computes.
    """
    inputs = check_tensor("inputs", inputs, ["(T, D)", "(B, T, D)"])
    x = _upcast(inputs)
    attn_scores = (x @ x.mT).to(inputs.dtype)  # (B, T, D) @ (B, D, T) -> (B, T, T)
    return check_scores_finite(attn_scores, "inputs @ inputs.mT", "inputs")


def scores_to_weights(attn_scores: torch.Tensor) -> torch.Tensor:
    """Attention weights from scores: softmax over the last dimension.

    ``attn_scores`` is (T,), (T, S) or (B, T, S); the result has the same shape,
    and each slice along the last dimension (one query's weights over all keys)
    is positive and sums to 1. ``-inf`` scores get weight 0.
    """
    attn_scores = check_tensor(
        "attn_scores", attn_scores, ["(S,)", "(T, S)", "(B, T, S)"], allow_neg_inf=True
    )
    if has_values(attn_scores) and torch.isneginf(attn_scores).all(dim=-1).any():
        raise ValueError("attn_scores has a row that is all -inf; every query needs a key")
    return torch.softmax(_upcast(attn_scores), dim=-1).to(attn_scores.dtype)


# How far from 1 the sums of real attention weights can be. Two errors add up:
# - rounding each weight to its dtype: at most half an ulp, so the sum moves by
#   at most 2**-11 (float16) or 2**-8 (bfloat16) relative, 2**-24 for float32;
# - the normaliser of the softmax that made them. torch's float32 softmax sums
#   exps in a few long running sums, whose rounding is *not* random when the
#   scores are close together: its weights then sum to 1 +- 1e-3 at S = 10**6
#   (measured), not the 1e-6 * sqrt(S) of a random walk.
# 1e-2 covers both with a margin of 10 at S = 10**6, at any S for the random-walk
# part, and still catches scores passed as weights: they sum to 1 only by chance.
_SUM_TOL = 1e-2
# float16 is the one exception the relative bound misses: below 6.1e-5 it
# spaces its numbers 2**-24 (6e-8) apart, whatever their size, so S weights of
# about 1/S each are each off by up to 3e-8, and their sum by up to 3e-8 * S
# (1.3e-2, measured, for 10**6 equal float16 weights). That term is added, but
# capped: past 0.25 the weights have lost too much to mean anything, and sums of
# 0, 0.5 or 1.5 are refused at every S and in every dtype.
_SUM_TOL_CAP = 0.25


def _check_weights(name: str, attn_weights: torch.Tensor) -> None:
    # Passing scores where weights are expected is the classic mistake; it still
    # "works" (a weighted sum is defined for any numbers) but means nothing.
    if not has_values(attn_weights):
        return
    if (attn_weights < 0).any():
        raise ValueError(f"{name} must be non-negative (softmax output), got a negative entry")
    sums = attn_weights.sum(dim=-1, dtype=compute_dtype(attn_weights.dtype))
    info = torch.finfo(attn_weights.dtype)
    smallest_subnormal = info.smallest_normal * info.eps
    tol = min(_SUM_TOL + attn_weights.shape[-1] * smallest_subnormal / 2, _SUM_TOL_CAP)
    if not bool(((sums - 1).abs() <= tol).all()):
        lo, hi = sums.min().item(), sums.max().item()
        got = f"got a sum of {lo:.4g}" if lo == hi else f"got sums from {lo:.4g} to {hi:.4g}"
        raise ValueError(f"{name} must sum to 1 over its last dimension (did you pass scores?), {got}")


def context_vector(inputs: torch.Tensor, attn_weights: torch.Tensor) -> torch.Tensor:
    """One context vector: the weighted sum of the inputs, (T, D) and (T,) -> (D,).

    ``z = sum_i attn_weights[i] * inputs[i]``.
    """
    inputs = check_tensor("inputs", inputs, ["(T, D)"])
    attn_weights = check_tensor("attn_weights", attn_weights, ["(T,)"])
    check_same_dtype_and_device(("inputs", inputs), ("attn_weights", attn_weights))
    T = inputs.shape[0]
    check_size("attn_weights", attn_weights.shape[0], T, "length T = inputs.shape[0] =")
    _check_weights("attn_weights", attn_weights)
    return (_upcast(attn_weights) @ _upcast(inputs)).to(inputs.dtype)  # (T,) @ (T, D) -> (D,)


def context_vectors(inputs: torch.Tensor, attn_weights: torch.Tensor) -> torch.Tensor:
    """All context vectors at once: ``attn_weights @ inputs``.

    ``inputs`` is (S, D) or (B, S, D) and ``attn_weights`` is (T, S) or (B, T, S)
    with the same number of dimensions; returns (T, D) or (B, T, D). Row ``i``
    is the weighted sum of the inputs with the weights of query ``i``.
    """
    inputs = check_tensor("inputs", inputs, ["(S, D)", "(B, S, D)"])
    attn_weights = check_tensor("attn_weights", attn_weights, ["(T, S)", "(B, T, S)"])
    check_same_dtype_and_device(("inputs", inputs), ("attn_weights", attn_weights))
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
    context = _upcast(attn_weights) @ _upcast(inputs)  # (B, T, S) @ (B, S, D) -> (B, T, D)
    return context.to(inputs.dtype)


def simple_self_attention(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Self-attention with no trainable weights: every token attends to every token.

    ``x`` is (T, D) or (B, T, D). Returns ``(context, attn_weights)`` with
    ``context`` of the same shape as ``x`` and ``attn_weights`` of shape
    (T, T) or (B, T, T). The scores are plain dot products, without the
    ``1/sqrt(D)`` scaling that trainable attention adds later, so this equals
    ``torch.nn.functional.scaled_dot_product_attention(x, x, x, scale=1.0)``.
    """
    x = check_tensor("x", x, ["(T, D)", "(B, T, D)"])
    x_c = _upcast(x)  # float32 for float16 / bfloat16, else x itself
    attn_scores = check_scores_finite(x_c @ x_c.mT, "x @ x.mT", "x")  # (B, T, T)
    attn_weights = torch.softmax(attn_scores, dim=-1)  # (B, T, T), rows sum to 1
    context = attn_weights @ x_c  # (B, T, T) @ (B, T, D) -> (B, T, D)
    return context.to(x.dtype), attn_weights.to(x.dtype)


def simple_self_attention_loop(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`simple_self_attention` with Python loops, one query at a time: (T, D) -> (T, D), (T, T).

    For each query: its T scores by the loop of :func:`query_scores_loop`, their
    softmax, then the weighted sum of the inputs as an explicit loop. The same
    numbers as the vectorised version, for comparing speed (see the Performance page).
    """
    x = check_tensor("x", x, ["(T, D)"])
    x_c = _upcast(x)  # float32 for float16 / bfloat16, else x itself
    T, D = x.shape
    # Rows collected in lists and stacked once: writing them into preallocated
    # tensors would modify, in place, tensors that autograd saved for backward.
    context_rows, weight_rows = [], []
    for i in range(T):
        attn_scores_i = check_scores_finite(_dots_loop(x_c, x_c[i]), "x @ x.mT", "x")  # (T,)
        attn_weights_i = torch.softmax(attn_scores_i, dim=0)  # (T,)
        z = torch.zeros(D, dtype=x_c.dtype, device=x.device)  # (D,)
        for j in range(T):
            z = z + attn_weights_i[j] * x_c[j]
        context_rows.append(z)
        weight_rows.append(attn_weights_i)
    context = torch.stack(context_rows)  # (T, D)
    attn_weights = torch.stack(weight_rows)  # (T, T)
    return context.to(x.dtype), attn_weights.to(x.dtype)
