"""Benchmarks: simplified self-attention (loops, matrix products, SDPA) and causal multi-head attention.

    python -m attention_notes.lab.benchmark --out results.json

measures, for T = 8, 16, ..., 4096 and D = 64 (float32, CPU), four versions
of the same computation side by side in one process:

- ``loop``: :func:`simple_self_attention_loop`, one Python-level dot product at a time;
- ``vectorised``: :func:`simple_self_attention`, three matrix operations;
- ``unchecked``: the same three operations written out, without the package's
  input checks, so that ``vectorised / unchecked`` is what the checks cost;
- ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention(x, x, x, scale=1.0)``
  on the same (T, D) tensor, for which PyTorch takes its unfused "math" path;
- ``sdpa_fused``: the same call on a (B, H, T, D) = (1, 1, T, D) view, for which
  PyTorch 2.13 on the CPU runs its fused, blocked (FlashAttention-style) kernel.

    python -m attention_notes.lab.benchmark --multihead --out multihead.json

measures causal multi-head self-attention, d_model = 256 in 4 heads on a
(1, T, d_model) batch, in eval mode under ``torch.inference_mode()``, four ways
with the same weights (:func:`multihead_implementations`):

- ``explicit``: :class:`~attention_notes.multihead.MultiHeadAttention`, which
  computes and returns the (B, H, T, T) weights;
- ``sdpa``: the same module with ``need_weights=False``: PyTorch's fused
  ``scaled_dot_product_attention(..., is_causal=True)``, no weights stored;
- ``nn_mha``: ``torch.nn.MultiheadAttention`` called with the causal
  ``attn_mask``, ``is_causal=True`` and ``need_weights=False``. Without
  autograd it takes its inference "fast path", a native kernel that on the CPU
  computes the masked (B, H, T, T) scores in full;
- ``nn_mha_sdpa``: the same call with that fast path switched off
  (``torch.backends.mha.set_fastpath_enabled(False)``), so that it calls the
  fused ``scaled_dot_product_attention`` with ``is_causal=True``, as ``sdpa`` does.

Every call is timed by the CPU time of the thread that runs it
(:func:`time.thread_time`), with PyTorch on that one thread
(``torch.set_num_threads(1)``): on a shared machine, a call that is paused while
another process runs is not charged for the pause, and no call waits for a
second thread to be scheduled. The times are those of one core.

Timings are medians over repeated calls after a warm-up. The fast versions
(vectorised, unchecked, sdpa, sdpa_fused) are timed in rounds, one call of each in an
order drawn at random for every round, so that a slow moment of a shared
machine, or a version that leaves the caches cold for the next, hits all of
them alike; ratios are medians of the per-round ratios. The loop gets rounds
of its own: one loop call, then an untimed call of the vectorised version
(the first call after the loop is slowed by it), then a timed one, whose
ratio to the loop call is that round's loop/vectorised ratio. Peak memory is
the rise of the process's peak resident set size (``VmHWM``, Linux) during one
call. The loop version is measured at a length only if one call took less than
``--loop-budget`` seconds at the length before, so the last length it is
measured at can take longer than the budget.

Every run records the commit it ran at and a hash of the source of the timed
functions and of every package function they call
(:func:`attention_notes.provenance.source_record`); ``tests/test_results_fresh.py``
fails when the shipped code no longer has that hash. The runs published with
the package are in ``results/``; the performance page reads them with
:func:`attention_notes.performance.load_benchmark` and
:func:`~attention_notes.performance.load_multihead`.
"""

import argparse
import contextlib
import ctypes
import gc
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from attention_notes import cli
from attention_notes.masks import causal_mask
from attention_notes.multihead import MultiHeadAttention
from attention_notes.provenance import source_record
from attention_notes.simple_attention import simple_self_attention, simple_self_attention_loop

__all__ = [
    "IMPLEMENTATIONS",
    "MULTIHEAD_IMPLEMENTATIONS",
    "machine_info",
    "multihead_implementations",
    "multihead_modules",
    "peak_memory",
    "run",
    "run_multihead",
    "timed_functions",
]


def _unchecked(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`simple_self_attention`'s three operations on a float32 (T, D) tensor, without its checks."""
    attn_weights = torch.softmax(x @ x.mT, dim=-1)  # (T, T)
    return attn_weights @ x, attn_weights  # (T, D), (T, T)


IMPLEMENTATIONS: dict[str, Callable[[torch.Tensor], object]] = {
    "loop": simple_self_attention_loop,
    "vectorised": simple_self_attention,
    "unchecked": _unchecked,
    "sdpa": lambda x: F.scaled_dot_product_attention(x, x, x, scale=1.0),
    "sdpa_fused": lambda x: _sdpa_4d(x[None, None]),
}

MULTIHEAD_IMPLEMENTATIONS = ("explicit", "sdpa", "nn_mha", "nn_mha_sdpa")
# (numerator, denominator) of each published ratio of the multi-head benchmark.
MULTIHEAD_RATIOS = (("explicit", "sdpa"), ("sdpa", "nn_mha"), ("sdpa", "nn_mha_sdpa"))


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


def machine_info() -> dict:
    """The machine a measurement ran on: CPU, cores, torch's threads, versions, BLAS, platform."""
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


# The clock of every timed call: CPU time of the calling thread, which does all the work (one torch thread).
CLOCK = time.thread_time
CLOCK_NAME = "time.thread_time"


def _rounds(T: int) -> int:
    # More rounds where calls are cheap; enough for a stable median everywhere.
    return 50 if T <= 256 else 20 if T <= 1024 else 9


def _loop_rounds(T: int) -> int:
    # One loop call takes about 6 microseconds for each of its 2 T^2 steps: 15 rounds at
    # T = 256 take about 10 s, and give the medians of T = 128 and 256 fifteen points each.
    return 25 if T <= 32 else 15


def _side_by_side(
    fns: dict[str, Callable[[torch.Tensor], object]], x: torch.Tensor, rounds: int, rng: random.Random
) -> dict:
    """A warm-up call of each function, then ``rounds`` rounds calling each once, in a random order."""
    for fn in fns.values():
        fn(x)
    times = {name: [] for name in fns}
    order = list(fns)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            t0 = CLOCK()
            fns[name](x)
            times[name].append(CLOCK() - t0)
    return times


def _loop_side_by_side(x: torch.Tensor, rounds: int) -> tuple[list[float], list[float]]:
    """The loop's own rounds: a loop call, an untimed vectorised call, a timed one; both lists of times."""
    loop, vectorised = IMPLEMENTATIONS["loop"], IMPLEMENTATIONS["vectorised"]
    loop(x)
    loop_times, vectorised_times = [], []
    for _ in range(rounds):
        t0 = CLOCK()
        loop(x)
        loop_times.append(CLOCK() - t0)
        vectorised(x)  # settles the caches and the allocator after the loop's many small tensors
        t0 = CLOCK()
        vectorised(x)
        vectorised_times.append(CLOCK() - t0)
    return loop_times, vectorised_times


def timed_functions(multihead: bool = False) -> list[Callable]:
    """The functions a benchmark times: their source, and what they call, is what a run records."""
    if multihead:
        return [multihead_implementations, multihead_modules]
    return list(IMPLEMENTATIONS.values())


def _median_ratio(numerator: list[float], denominator: list[float]) -> float:
    """The median of the per-round ratios: each round's two calls ran moments apart, under the same load."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def run(
    lengths: tuple[int, ...] = tuple(2**k for k in range(3, 13)),
    dim: int = 64,
    loop_budget: float = 0.5,
    seed: int = 0,
    threads: int = 1,
) -> dict:
    """Measure every implementation at every length on ``threads`` torch threads; a JSON-ready dict."""
    with _torch_threads(threads):
        return _run(lengths, dim, loop_budget, seed)


def _run(lengths: tuple[int, ...], dim: int, loop_budget: float, seed: int) -> dict:
    source = source_record(timed_functions())  # before measuring: the code as it was when the run began
    _fix_mmap_threshold()
    start = time.perf_counter()
    rng = random.Random(seed)
    names = list(IMPLEMENTATIONS)
    fast = {n: fn for n, fn in IMPLEMENTATIONS.items() if n != "loop"}
    out = {name: {"median_s": [], "peak_bytes": []} for name in names}
    ratio_vec_sdpa, ratio_vec_fused, ratio_loop_vec, ratio_vec_unchecked = [], [], [], []
    loop_on = True
    for T in lengths:
        x = torch.randn(T, dim, generator=torch.Generator().manual_seed(seed))  # (T, D)
        times = _side_by_side(fast, x, _rounds(T), rng)
        if loop_on:
            times["loop"], loop_vectorised = _loop_side_by_side(x, _loop_rounds(T))
            ratio_loop_vec.append(_median_ratio(times["loop"], loop_vectorised))
            # Decided after measuring: the loop is measured at the next length only if it
            # took less than the budget at this one, so its last length can take longer.
            loop_on = statistics.median(times["loop"]) < loop_budget
        else:
            ratio_loop_vec.append(None)
        for name in names:
            if name in times:
                out[name]["median_s"].append(statistics.median(times[name]))
                out[name]["peak_bytes"].append(peak_memory(lambda n=name, x=x: IMPLEMENTATIONS[n](x)))
            else:
                out[name]["median_s"].append(None)
                out[name]["peak_bytes"].append(None)
        ratio_vec_sdpa.append(_median_ratio(times["vectorised"], times["sdpa"]))
        ratio_vec_fused.append(_median_ratio(times["vectorised"], times["sdpa_fused"]))
        ratio_vec_unchecked.append(_median_ratio(times["vectorised"], times["unchecked"]))
    return {
        "machine": machine_info(),
        "source": source,
        "clock": CLOCK_NAME,
        "dim": dim,
        "dtype": "float32",
        "lengths": list(lengths),
        "loop_budget_s": loop_budget,
        "results": out,
        "ratios": {
            "loop_over_vectorised": ratio_loop_vec,
            "vectorised_over_sdpa": ratio_vec_sdpa,
            "vectorised_over_sdpa_fused": ratio_vec_fused,
            "vectorised_over_unchecked": ratio_vec_unchecked,
        },
        "seconds": round(time.perf_counter() - start, 1),
    }


def multihead_modules(
    d_model: int, num_heads: int, context_length: int, seed: int = 0
) -> tuple[MultiHeadAttention, nn.MultiheadAttention]:
    """The package's causal :class:`MultiHeadAttention` and ``torch.nn.MultiheadAttention`` with its weights.

    Both map ``d_model`` to ``d_model`` features with ``num_heads`` heads and
    are in eval mode. PyTorch's module keeps the query, key and value
    projections stacked in one ``in_proj_weight`` (3 * d_model, d_model), in
    that order; the package's module has no bias on them, so ``in_proj_bias``
    is zero. ``seed`` draws the package's weights without touching the global
    random generator.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mha = MultiHeadAttention(d_model, d_model, context_length, 0.0, num_heads)
        reference = nn.MultiheadAttention(d_model, num_heads, bias=True, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.cat([mha.W_query.weight, mha.W_key.weight, mha.W_value.weight]))
        reference.in_proj_bias.zero_()
        reference.out_proj.weight.copy_(mha.out_proj.weight)
        reference.out_proj.bias.copy_(mha.out_proj.bias)
    return mha.eval(), reference.eval()


def _without_fastpath(fn: Callable[[], object]) -> object:
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        return fn()
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def multihead_implementations(
    mha: MultiHeadAttention, reference: nn.MultiheadAttention, T: int
) -> dict[str, Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]]:
    """The four measured calls on a (B, T, d_model) input, by name; each returns ``(context, weights)``.

    ``context`` is (B, T, d_model) for all four; only ``explicit`` returns
    weights, (B, H, T, T), the others None. The causal mask for ``torch.nn.MultiheadAttention``
    is made once here, as a model would keep it, not in every call.
    """
    mask = causal_mask(T)  # (T, T), True = blocked, the convention of attn_mask too

    def nn_mha(x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return reference(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)

    return {
        "explicit": lambda x: mha(x),
        "sdpa": lambda x: mha(x, need_weights=False),
        "nn_mha": nn_mha,
        "nn_mha_sdpa": lambda x: _without_fastpath(lambda: nn_mha(x)),
    }


def _multihead_rounds(T: int) -> int:
    # At T = 4096 one round of the four calls takes about 3 s, half of it the explicit path's.
    return 30 if T <= 256 else 15 if T <= 1024 else 5


def run_multihead(
    lengths: tuple[int, ...] = tuple(2**k for k in range(3, 13)),
    d_model: int = 256,
    num_heads: int = 4,
    batch: int = 1,
    seed: int = 0,
    threads: int = 1,
) -> dict:
    """Measure the four multi-head calls at every length, side by side; return a JSON-ready dict."""
    with _torch_threads(threads):
        return _run_multihead(lengths, d_model, num_heads, batch, seed)


def _run_multihead(lengths: tuple[int, ...], d_model: int, num_heads: int, batch: int, seed: int) -> dict:
    source = source_record(timed_functions(multihead=True))  # before measuring
    _fix_mmap_threshold()
    start = time.perf_counter()
    rng = random.Random(seed)
    mha, reference = multihead_modules(d_model, num_heads, max(lengths), seed)
    out = {name: {"median_s": [], "peak_bytes": []} for name in MULTIHEAD_IMPLEMENTATIONS}
    ratios = {f"{a}_over_{b}": [] for a, b in MULTIHEAD_RATIOS}
    with torch.inference_mode():  # as in serving: no autograd, which also lets nn_mha take its fast path
        for T in lengths:
            x = torch.randn(batch, T, d_model, generator=torch.Generator().manual_seed(seed))  # (B, T, D)
            fns = multihead_implementations(mha, reference, T)
            times = _side_by_side(fns, x, _multihead_rounds(T), rng)
            for name, fn in fns.items():
                out[name]["median_s"].append(statistics.median(times[name]))
                out[name]["peak_bytes"].append(peak_memory(lambda fn=fn, x=x: fn(x)))
            for a, b in MULTIHEAD_RATIOS:
                ratios[f"{a}_over_{b}"].append(_median_ratio(times[a], times[b]))
    return {
        "machine": machine_info(),
        "source": source,
        "clock": CLOCK_NAME,
        "d_model": d_model,
        "num_heads": num_heads,
        "batch": batch,
        "dtype": "float32",
        "lengths": list(lengths),
        "results": out,
        "ratios": ratios,
        "seconds": round(time.perf_counter() - start, 1),
    }


@contextlib.contextmanager
def _torch_threads(threads: int):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fix_mmap_threshold() -> None:
    # glibc raises its mmap threshold as large blocks are freed, after which
    # big tensors come from the heap and a later measurement can reuse memory
    # without raising the RSS. A fixed threshold keeps every measurement alike.
    libc = _libc()
    if libc is not None:
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD


def _max_length(text: str) -> int:
    """argparse ``type=`` for --max-length: the lengths run 8, 16, ... up to it, so a power of 2 >= 8."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 8 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of 2 and at least 8, got {text}")
    return value


class _LoopBudget(argparse.Action):
    """Stores --loop-budget and notes that it was given: it has no meaning with --multihead."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.loop_budget_given = True


def main(argv: list[str] | None = None) -> None:
    """``python -m attention_notes.lab.benchmark``: run a benchmark, write its JSON, print a table."""
    parser = cli.parser("attention_notes.lab.benchmark", __doc__.split("\n\n")[0])
    # default=SUPPRESS: a required option has no default for --help to show ("default: None").
    parser.add_argument(
        "--out", type=Path, required=True, default=argparse.SUPPRESS, help="where to write the JSON results"
    )
    parser.add_argument(
        "--multihead",
        action="store_true",
        help="benchmark causal multi-head attention: the package's two paths, torch.nn.MultiheadAttention",
    )
    parser.add_argument("--max-length", type=_max_length, default=4096, help="largest T (a power of 2, >= 8)")
    parser.add_argument(
        "--loop-budget",
        type=cli.finite_positive_float,
        default=0.5,
        action=_LoopBudget,
        help="measure the loop version at the next length only if one call took less than this many "
        "seconds (not with --multihead)",
    )
    parser.set_defaults(loop_budget_given=False)
    args = parser.parse_args(argv)
    if args.multihead and args.loop_budget_given:
        parser.error("--loop-budget applies to the loop version, which --multihead does not measure")
    cli.check_out_file(parser, args.out)  # before the run, so a bad path does not cost the results
    lengths = tuple(2**k for k in range(3, args.max_length.bit_length()))
    data = run_multihead(lengths) if args.multihead else run(lengths, loop_budget=args.loop_budget)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    (_print_multihead if args.multihead else _print_simple)(data)
    print(f"measured in {data['seconds']} s with {data['machine']['torch_threads']} threads")


def _print_simple(data: dict) -> None:
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


def _print_multihead(data: dict) -> None:
    names = MULTIHEAD_IMPLEMENTATIONS
    ratios = [f"{a}_over_{b}" for a, b in MULTIHEAD_RATIOS]
    print(f"{'T':>5}  " + "  ".join(f"{name + ' ms':>14}" for name in names) + "  " + "  ".join(ratios))
    for i, T in enumerate(data["lengths"]):
        times = "  ".join(f"{data['results'][name]['median_s'][i] * 1e3:14.3f}" for name in names)
        ratio_text = "  ".join(f"{data['ratios'][r][i]:>{len(r)}.2f}" for r in ratios)
        print(f"{T:>5}  {times}  {ratio_text}")


if __name__ == "__main__":
    main()
