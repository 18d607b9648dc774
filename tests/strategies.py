"""Hypothesis strategies for small float tensors."""

import torch
from hypothesis import strategies as st


@st.composite
def tensors(draw, shape, low: float = -10.0, high: float = 10.0) -> torch.Tensor:
    """A float32 tensor of the given shape with entries in [low, high]."""
    n = 1
    for size in shape:
        n *= size
    values = draw(
        st.lists(
            st.floats(low, high, allow_nan=False, allow_infinity=False, width=32),
            min_size=n,
            max_size=n,
        )
    )
    return torch.tensor(values, dtype=torch.float32).reshape(shape)


@st.composite
def sequences(draw, batched: bool | None = None, max_t: int = 8, max_d: int = 6) -> torch.Tensor:
    """A sequence of embeddings, (T, D), or a batch of them, (B, T, D)."""
    if batched is None:
        batched = draw(st.booleans())
    T = draw(st.integers(1, max_t))
    D = draw(st.integers(1, max_d))
    shape = (draw(st.integers(1, 3)), T, D) if batched else (T, D)
    return draw(tensors(shape))
