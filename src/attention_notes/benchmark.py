"""Benchmark: simplified self-attention with Python loops, with matrix products, and PyTorch's SDPA.

    python -m attention_notes.benchmark --out results.json

measures, for T = 8, 16, ..., 4096 and D = 64 (float32, CPU), four versions
of the same computation side by side in one process:

- ``loop``: :func:`simple_self_attention_loop`, one Python-level dot product at a time;
- ``vectorised``: :func:`simple_self_attention`, three matrix operations;
- ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention(x, x, x, scale=1.0)``
  on the same (T, D) tensor, for which PyTorch takes its unfused "math" path;
- ``sdpa_fused``: the same call on a (B, H, T, D) = (1, 1, T, D) view, for which
  PyTorch 2.13 on the CPU runs its fused, blocked (FlashAttention-style) kernel.

Timings are medians over repeated calls after a warm-up, taken in turn (loop,
vectorised, sdpa, sdpa_fused, loop, ...) so that a slow moment of a shared
machine hits all four alike; ratios are medians of the per-round ratios. Peak
memory is the rise of the process's peak resident set size (``VmHWM``, Linux)
during one call. The loop version is measured only while one call takes less
than ``--loop-budget`` seconds. The run published with the package is
:func:`load_benchmark`.
"""

import argparse
import ctypes
import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F

from attention_notes import _cli
from attention_notes.simple_attention import simple_self_attention, simple_self_attention_loop

__all__ = ["IMPLEMENTATIONS", "load_benchmark", "peak_memory", "run"]

IMPLEMENTATIONS: dict[str, Callable[[torch.Tensor], object]] = {
    "loop": simple_self_attention_loop,
    "vectorised": simple_self_attention,
    "sdpa": lambda x: F.scaled_dot_product_attention(x, x, x, scale=1.0),
    "sdpa_fused": lambda x: _sdpa_4d(x[None, None]),
}


def _sdpa_4d(x4: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(x4, x4, x4, scale=1.0)[0, 0]  # (1, 1, T, D) -> (T, D)


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_memory(fn: Callable[[], object]) -> int | None:
    """Bytes by which one call of ``fn`` raises the process's peak RSS (None off Linux)."""
    libc = _libc()
    gc.collect()
    if libc is not None:
        libc.malloc_trim(0)  # give freed memory back, so the baseline is honest
    before = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM, the peak RSS, to the current RSS
    except OSError:
        return None
    result = fn()
    peak = _status_kib("VmHWM")
    del result
    if before is None or peak is None:
        return None
    return max(0, (peak - before) * 1024)


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    config = torch.__config__.show()
    blas = config.split("BLAS_INFO=", 1)[1].split(",", 1)[0] if "BLAS_INFO=" in config else ""
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "blas": blas,
        "platform": platform.platform(),
    }


def _rounds(T: int) -> int:
    # More rounds where calls are cheap; enough for a stable median everywhere.
    return 50 if T <= 256 else 20 if T <= 1024 else 9


def run(
    lengths: tuple[int, ...] = tuple(2**k for k in range(3, 13)),
    dim: int = 64,
    loop_budget: float = 0.5,
    seed: int = 0,
) -> dict:
    """Measure every implementation at every length; return a JSON-ready dict."""
    _fix_mmap_threshold()
    start = time.perf_counter()
    names = list(IMPLEMENTATIONS)
    out = {name: {"median_s": [], "peak_bytes": []} for name in names}
    ratio_vec_sdpa, ratio_vec_fused, ratio_loop_vec = [], [], []
    loop_on = True
    for T in lengths:
        x = torch.randn(T, dim, generator=torch.Generator().manual_seed(seed))  # (T, D)
        active = [n for n in names if n != "loop" or loop_on]
        for name in active:  # warm-up
            IMPLEMENTATIONS[name](x)
        times = {n: [] for n in active}
        rounds = _rounds(T) if "loop" not in active else min(_rounds(T), 5)
        for _ in range(rounds):
            for name in active:
                t0 = time.perf_counter()
                IMPLEMENTATIONS[name](x)
                times[name].append(time.perf_counter() - t0)
        for name in names:
            if name in times:
                out[name]["median_s"].append(statistics.median(times[name]))
                out[name]["peak_bytes"].append(peak_memory(lambda n=name, x=x: IMPLEMENTATIONS[n](x)))
            else:
                out[name]["median_s"].append(None)
                out[name]["peak_bytes"].append(None)
        ratio_vec_sdpa.append(
            statistics.median(v / s for v, s in zip(times["vectorised"], times["sdpa"], strict=True))
        )
        ratio_vec_fused.append(
            statistics.median(v / s for v, s in zip(times["vectorised"], times["sdpa_fused"], strict=True))
        )
        if "loop" in times:
            ratio_loop_vec.append(
                statistics.median(lp / v for lp, v in zip(times["loop"], times["vectorised"], strict=True))
            )
            loop_on = statistics.median(times["loop"]) < loop_budget
        else:
            ratio_loop_vec.append(None)
    return {
        "machine": _machine(),
        "dim": dim,
        "dtype": "float32",
        "lengths": list(lengths),
        "loop_budget_s": loop_budget,
        "results": out,
        "ratios": {
            "loop_over_vectorised": ratio_loop_vec,
            "vectorised_over_sdpa": ratio_vec_sdpa,
            "vectorised_over_sdpa_fused": ratio_vec_fused,
        },
        "seconds": round(time.perf_counter() - start, 1),
    }


def _fix_mmap_threshold() -> None:
    # glibc raises its mmap threshold as large blocks are freed, after which
    # big tensors come from the heap and a later measurement can reuse memory
    # without raising the RSS. A fixed threshold keeps every measurement alike.
    libc = _libc()
    if libc is not None:
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD


def load_benchmark() -> dict:
    """The published run (``make bench`` on our 2-core machine)."""
    text = resources.files("attention_notes").joinpath("results/benchmark.json").read_text()
    return json.loads(text)


def _max_length(text: str) -> int:
    """argparse ``type=`` for --max-length: the lengths run 8, 16, ... up to it, so a power of 2 >= 8."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 8 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of 2 and at least 8, got {text}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = _cli.parser("attention_notes.benchmark", __doc__.split("\n\n")[0])
    # default=SUPPRESS: a required option has no default for --help to show ("default: None").
    parser.add_argument(
        "--out", type=Path, required=True, default=argparse.SUPPRESS, help="where to write the JSON results"
    )
    parser.add_argument("--max-length", type=_max_length, default=4096, help="largest T (a power of 2, >= 8)")
    parser.add_argument(
        "--loop-budget",
        type=_cli.finite_positive_float,
        default=0.5,
        help="measure the loop version only while one call takes less than this many seconds",
    )
    args = parser.parse_args(argv)
    _cli.check_out_file(parser, args.out)  # before the run, so a bad path does not cost the results
    lengths = tuple(2**k for k in range(3, args.max_length.bit_length()))
    data = run(lengths, loop_budget=args.loop_budget)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    head = ("T", 5), ("loop ms", 9), ("vectorised ms", 13), ("sdpa ms", 9), ("fused ms", 9), ("vec/sdpa", 8)
    print("  ".join(f"{name:>{width}}" for name, width in head))
    res = data["results"]
    for i, T in enumerate(data["lengths"]):
        loop = res["loop"]["median_s"][i]
        loop_ms = f"{loop * 1e3:9.3f}" if loop is not None else f"{'-':>9}"
        print(
            f"{T:>5}  {loop_ms}  {res['vectorised']['median_s'][i] * 1e3:13.3f}  "
            f"{res['sdpa']['median_s'][i] * 1e3:9.3f}  {res['sdpa_fused']['median_s'][i] * 1e3:9.3f}  "
            f"{data['ratios']['vectorised_over_sdpa'][i]:8.2f}"
        )
    print(f"measured in {data['seconds']} s with {data['machine']['torch_threads']} threads")


if __name__ == "__main__":
    main()
