"""What the performance page reads: the published benchmark runs, loaded from ``results/``.

The runs were measured by :mod:`attention_notes.lab.benchmark` (``make bench``
and ``python -m attention_notes.lab.benchmark --multihead``) and
:mod:`attention_notes.lab.attention_memory` (``make bench``; the FlashAttention
page reads it), which write the JSON files read here. Reading them needs neither the lab nor a benchmark.
"""

import json
from importlib import resources

__all__ = ["load_attention_memory", "load_benchmark", "load_multihead"]


def _load(name: str) -> dict:
    return json.loads(resources.files("attention_notes").joinpath(f"results/{name}").read_text())


def load_benchmark() -> dict:
    """The published run of simplified self-attention: loops, matrix products, SDPA (``make bench``)."""
    return _load("benchmark.json")


def load_multihead() -> dict:
    """The published multi-head run (``--multihead``): the package's paths and ``nn.MultiheadAttention``."""
    return _load("multihead.json")


def load_attention_memory() -> dict:
    """The published run of explicit, tiled and SDPA attention: peak memory and time (``make bench``)."""
    return _load("attention_memory.json")
