"""The toy sentence used throughout the notes.

Six tokens, each embedded in 3 dimensions, with the same values as in
Sebastian Raschka's *Build a Large Language Model (From Scratch)*, chapter 3,
so readers can check every number against the book.
"""

import torch

__all__ = ["TOKENS", "journey_inputs"]

TOKENS: tuple[str, ...] = ("Your", "journey", "starts", "with", "one", "step")

_EMBEDDINGS = (
    (0.43, 0.15, 0.89),  # Your     (x^1)
    (0.55, 0.87, 0.66),  # journey  (x^2)
    (0.57, 0.85, 0.64),  # starts   (x^3)
    (0.22, 0.58, 0.33),  # with     (x^4)
    (0.77, 0.25, 0.10),  # one      (x^5)
    (0.05, 0.80, 0.55),  # step     (x^6)
)


def journey_inputs(
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """Return the embeddings of "Your journey starts with one step", shape (T=6, D=3).

    A new tensor on every call, so a snippet that edits it in place cannot
    change what the next snippet sees. Row ``i`` is the embedding of ``TOKENS[i]``.
    ``dtype`` must be a floating-point dtype (an integer one would round every
    value to 0); ``device`` defaults to torch's default device.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype (e.g. torch.float32), got {dtype!r}")
    return torch.tensor(_EMBEDDINGS, dtype=dtype, device=device)  # (T, D)
