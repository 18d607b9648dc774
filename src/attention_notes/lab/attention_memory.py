"""Benchmark: peak memory and time of explicit attention, ``tiled_attention`` and SDPA, T = 1024 ... 16384.

    python -m attention_notes.lab.attention_memory --out src/attention_notes/results/attention_memory.json

measures one head, d = 64, float32, on the CPU, without autograd
(``torch.no_grad()``), with q, k and v of shape (1, 1, T, d) drawn once per
length, three ways (:data:`METHODS`):

- ``explicit``: the package's :func:`~attention_notes.scaled_dot_product.scaled_dot_product_attention`,
  which builds the (T, T) scores and the (T, T) weights it returns;
- ``tiled``: :func:`~attention_notes.tiled.tiled_attention` with ``block_size=128``,
  the FlashAttention loop in Python, never more than (T, 128) scores at once;
- ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention``, which on the
  CPU runs PyTorch's fused, blocked C++ kernel for a (B, H, T, d) input.

Each is measured non-causal and causal (``causal``): the explicit path gets
the (T, T) boolean mask of :func:`~attention_notes.masks.causal_mask`, made once
per length as a model keeps it (so it is an input, outside what is measured),
``tiled`` gets ``causal=True`` and SDPA ``is_causal=True``.

**Peak memory** is measured in a fresh child process for every (variant,
method, length): the child imports torch, calls the method once on a
256-token problem (so that the libraries' one-time set-up is not counted),
makes the inputs, then records the rise of its peak resident set size during
one call at the measured length (:func:`attention_notes.lab.benchmark.peak_memory`:
``VmRSS`` before, ``VmHWM`` after it was reset through ``/proc/self/clear_refs``;
Linux only). Why this way: ``tracemalloc`` sees only Python's own allocator,
not the memory torch's C++ allocator takes with ``malloc``, and PyTorch keeps
no allocation statistics on the CPU (``torch.cuda.max_memory_allocated`` is
for CUDA). The resident set counts every page the call writes, torch's
tensors, MKL's and oneDNN's buffers alike. A fresh process keeps what an
earlier method freed from being reused unseen, and ``MALLOC_MMAP_THRESHOLD_``
is fixed (128 KiB) in the child's environment before it starts, so that
glibc serves every large block with ``mmap`` and gives it back when it is
freed, instead of raising its threshold as blocks are freed (which made peaks
vary from run to run). Each child is run ``--memory-repeats`` times (2); the
record keeps every run and ``peak_bytes`` is the largest.

**Time** is the CPU time of the calling thread (:func:`time.thread_time`), with
PyTorch on that one thread, in this process: after a warm-up call of each
method, rounds in which each method is called once, in an order drawn at
random every round, so that a slow moment of the shared machine hits all
three alike, as in :mod:`attention_notes.lab.benchmark`. Times are
medians over the rounds; ratios are medians of the per-round ratios.

Every run records the commit and a hash of the source of :data:`METHODS` and
of every package function they reach
(:func:`attention_notes.provenance.source_record`);
``tests/test_results_fresh.py`` names this file when that code changes. It is
part of ``make bench``, not of ``make test``: the published run took about nine
minutes of wall time on a busy two-core machine (``seconds`` in the record).
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from attention_notes import cli
from attention_notes.lab.benchmark import CLOCK, CLOCK_NAME, machine_info, peak_memory
from attention_notes.masks import causal_mask
from attention_notes.provenance import source_record
from attention_notes.scaled_dot_product import scaled_dot_product_attention
from attention_notes.tiled import tiled_attention

__all__ = [
    "BLOCK_SIZE",
    "LENGTHS",
    "METHODS",
    "MMAP_THRESHOLD",
    "RATIOS",
    "VARIANTS",
    "Problem",
    "main",
    "make_problem",
    "measure_peak_here",
    "peak_in_child",
    "run",
    "timed_functions",
]

LENGTHS = (1024, 2048, 4096, 8192, 16384)
BLOCK_SIZE = 128  # tiled_attention's default, the setting
MMAP_THRESHOLD = 128 * 1024  # bytes, fixed in every child's environment (glibc's default start value)
WARM_UP_LENGTH = 256  # the child's first call, before the measured one
VARIANTS = {"non_causal": False, "causal": True}
# (numerator, denominator) of each published time ratio.
RATIOS = (("tiled", "sdpa"), ("explicit", "sdpa"), ("tiled", "explicit"))


class Problem(NamedTuple):
    """One measured input: q, k and v (1, 1, T, d) float32, and the causal mask if the variant is causal."""

    q: torch.Tensor  # (B, H, T, d)
    k: torch.Tensor  # (B, H, T, d)
    v: torch.Tensor  # (B, H, T, d)
    causal: bool
    mask: torch.Tensor | None  # (T, T) bool, True = blocked; only for the explicit path, None if not causal


def make_problem(T: int, causal: bool, dim: int = 64, seed: int = 0) -> Problem:
    """The inputs at length ``T``: the same q, k, v for both variants and every method."""
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, 1, T, dim, generator=g) for _ in range(3))  # (B, H, T, d) each
    return Problem(q, k, v, causal, causal_mask(T) if causal else None)


def _explicit(p: Problem) -> torch.Tensor:
    context, _ = scaled_dot_product_attention(p.q, p.k, p.v, mask=p.mask)  # builds (B, H, T, T) twice
    return context  # (B, H, T, d)


def _tiled(p: Problem) -> torch.Tensor:
    out, _ = tiled_attention(p.q, p.k, p.v, block_size=BLOCK_SIZE, causal=p.causal)
    return out  # (B, H, T, d)


def _sdpa(p: Problem) -> torch.Tensor:
    return F.scaled_dot_product_attention(p.q, p.k, p.v, is_causal=p.causal)  # (B, H, T, d), T = S


METHODS: dict[str, Callable[[Problem], torch.Tensor]] = {
    "explicit": _explicit,
    "tiled": _tiled,
    "sdpa": _sdpa,
}


def timed_functions() -> list[Callable]:
    """The functions the benchmark measures: their source, and what they call, is what a run records."""
    return list(METHODS.values())


# --- peak memory, in a child process ----------------------------------------------------------------


def measure_peak_here(method: str, T: int, causal: bool, dim: int = 64) -> int | None:
    """In this process: bytes by which one call of ``method`` at length ``T`` raises the peak RSS.

    Meant for a fresh process (:func:`peak_in_child` runs it in one): a warm-up
    call on a short problem first, then the inputs, then the measured call.
    None where the peak RSS cannot be reset (not Linux).
    """
    fn = METHODS[method]
    torch.set_num_threads(1)
    with torch.no_grad():
        fn(make_problem(WARM_UP_LENGTH, causal, dim, seed=1))  # one-time set-up of the kernels it uses
        problem = make_problem(T, causal, dim)
        return peak_memory(lambda: fn(problem))


_CHILD = "import json, sys; from attention_notes.lab.attention_memory import measure_peak_here as m; " + (
    "print(json.dumps(m(sys.argv[1], int(sys.argv[2]), sys.argv[3] == 'causal', int(sys.argv[4]))))"
)


def peak_in_child(method: str, T: int, causal: bool, dim: int = 64) -> int | None:
    """:func:`measure_peak_here` in a fresh Python process, with glibc's mmap threshold fixed."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
    args = [method, str(T), "causal" if causal else "non_causal", str(dim)]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the child measuring {method} at T = {T} failed:\n{done.stderr}")
    return json.loads(done.stdout)


# --- the run ------------------------------------------------------------------------------------


def _side_by_side(problem: Problem, rounds: int, rng: random.Random) -> dict[str, list[float]]:
    """A warm-up call of each method, then ``rounds`` rounds calling each once, in an order drawn at random.

    The same scheme as :mod:`attention_notes.lab.benchmark`'s: a slow moment of the
    shared machine, or a method that leaves the caches cold for the next, hits all alike.
    """
    for fn in METHODS.values():
        fn(problem)
    times = {name: [] for name in METHODS}
    order = list(METHODS)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            t0 = CLOCK()
            METHODS[name](problem)
            times[name].append(CLOCK() - t0)
    return times


def _median_ratio(numerator: list[float], denominator: list[float]) -> float:
    """The median of the per-round ratios: each round's calls ran moments apart, under the same load."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def _rounds(T: int) -> int:
    # One round at T = 16384 (three calls) takes about 10 s of CPU; shorter lengths are cheap.
    return 11 if T <= 2048 else 7 if T <= 4096 else 5 if T <= 8192 else 3


def run(
    lengths: tuple[int, ...] = LENGTHS,
    dim: int = 64,
    seed: int = 0,
    memory_repeats: int = 2,
    rounds: Callable[[int], int] = _rounds,
) -> dict:
    """Measure every method at every length, both variants; a JSON-ready dict.

    ``memory_repeats=0`` measures no memory (``peak_bytes`` None): the tests use it.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(lengths, dim, seed, memory_repeats, rounds)
    finally:
        torch.set_num_threads(threads)


def _run(lengths: tuple[int, ...], dim: int, seed: int, memory_repeats: int, rounds: Callable) -> dict:
    source = source_record(timed_functions())  # before measuring: the code as it was when the run began
    start = time.perf_counter()
    rng = random.Random(seed)
    variants = {}
    for variant, causal in VARIANTS.items():
        results = {name: {"median_s": [], "peak_bytes": [], "peak_runs": []} for name in METHODS}
        ratios = {f"{a}_over_{b}": [] for a, b in RATIOS}
        for T in lengths:
            problem = make_problem(T, causal, dim, seed)
            with torch.no_grad():
                times = _side_by_side(problem, rounds(T), rng)
            del problem  # the children need the memory more than this process does
            for name in METHODS:
                runs = [peak_in_child(name, T, causal, dim) for _ in range(memory_repeats)]
                known = [r for r in runs if r is not None]
                results[name]["median_s"].append(statistics.median(times[name]))
                results[name]["peak_runs"].append(runs)
                results[name]["peak_bytes"].append(max(known) if known else None)
            for a, b in RATIOS:
                ratios[f"{a}_over_{b}"].append(_median_ratio(times[a], times[b]))
            print(
                f"{variant:>10} T = {T:>5}: "
                + "  ".join(f"{n} {statistics.median(times[n]) * 1e3:9.1f} ms" for n in METHODS)
                + "  peak MiB "
                + " ".join(
                    f"{n} {b / 2**20:.1f}" if b is not None else f"{n} -"
                    for n in METHODS
                    for b in [results[n]["peak_bytes"][-1]]
                ),
                flush=True,
            )
        variants[variant] = {"results": results, "ratios": ratios}
    return {
        "machine": machine_info(),
        "source": source,
        "clock": CLOCK_NAME,
        "dim": dim,
        "heads": 1,
        "batch": 1,
        "dtype": "float32",
        "block_size": BLOCK_SIZE,
        "mmap_threshold": MMAP_THRESHOLD,
        "memory_repeats": memory_repeats,
        "lengths": list(lengths),
        "rounds": [rounds(T) for T in lengths],
        "variants": variants,
        "seconds": round(time.perf_counter() - start, 1),
    }


def _length(text: str) -> int:
    """argparse ``type=`` for --max-length: a power of 2 from 1024 on."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1024 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of 2 and at least 1024, got {text}")
    return value


def _repeats(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def main(argv: list[str] | None = None) -> None:
    """``python -m attention_notes.lab.attention_memory``: run the benchmark, write its JSON."""
    parser = cli.parser("attention_notes.lab.attention_memory", __doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, required=True, default=argparse.SUPPRESS, help="where to write the JSON results"
    )
    parser.add_argument(
        "--max-length", type=_length, default=LENGTHS[-1], help="largest T (a power of 2, >= 1024)"
    )
    parser.add_argument(
        "--memory-repeats", type=_repeats, default=2, help="child processes per peak-memory measurement"
    )
    args = parser.parse_args(argv)
    cli.check_out_file(parser, args.out)  # before the run, so a bad path does not cost the results
    lengths = tuple(2**k for k in range(10, args.max_length.bit_length()))
    data = run(lengths, memory_repeats=args.memory_repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"measured in {data['seconds']} s with {data['machine']['torch_threads']} thread(s)")


if __name__ == "__main__":
    main()
