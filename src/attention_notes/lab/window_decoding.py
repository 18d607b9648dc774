"""Benchmark: decoding 4,096 tokens with a sliding window of 512 and without one, side by side, on the CPU.

    python -m attention_notes.lab.window_decoding --out src/attention_notes/results/window_decoding.json

decodes one token at a time, from an empty cache, through two
:class:`~attention_notes.gqa.GroupedQueryAttention` layers with the same
weights (d = 256, 8 query heads, 2 key/value heads, head_dim 32, RoPE,
float32, random weights, the fused path ``need_weights=False``): one with
``sliding_window=512`` and its windowed :class:`~attention_notes.kv_cache.KVCache`,
one with a plain cache. Llama's decoder (:mod:`attention_notes.llama`) has no
window argument, so the attention layer alone is timed: it is the only part
whose cost depends on the position. The two are stepped in turn, token by
token (the one that goes first alternates), so that a slow moment of a shared
machine hits both; one process, one torch thread by default (``--threads``).

- ``checkpoints``: every 256 tokens, the cache's bytes (:attr:`KVCache.nbytes`)
  after that many tokens, and the time per token: the median of the step
  times of the 256 tokens that end there, over every round;
- ``ratios``: at the last checkpoint, the full cache's bytes and time per
  token over the windowed one's; and each one's time per token at the last
  checkpoint over the one at ``filled_at``, the first checkpoint whose 256
  tokens all lie past the window (flat is 1);
- ``same_output``: the largest absolute difference between the windowed
  layer's decoded outputs and its full windowed forward over the same 4,096
  tokens (decoding far past the window changes nothing).

The results record the commit they were measured at and a hash of the source
of the timed functions and of every package function they reach
(:func:`attention_notes.provenance.source_record`): ``tests/test_results_fresh.py``
names the file to measure again when that code changes.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from attention_notes import cli
from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import KVCache
from attention_notes.lab.benchmark import machine_info
from attention_notes.provenance import source_record

__all__ = ["CONFIG", "decode", "main", "run", "timed_functions"]

# The layer timed: Llama-like proportions at a size one CPU thread decodes 4,096 tokens of in seconds.
CONFIG = {"d_in": 256, "d_out": 256, "num_heads": 8, "num_kv_groups": 2}
TOKENS = 4096
WINDOW = 512
EVERY = 256  # a checkpoint every 256 tokens


def timed_functions() -> list:
    """The functions the benchmark times; the source record follows them into the package."""
    return [decode]


def _layers(window: int | None, tokens: int) -> GroupedQueryAttention:
    torch.manual_seed(0)  # the same weights with and without the window
    return GroupedQueryAttention(**CONFIG, context_length=tokens, sliding_window=window).eval()


def decode(
    layers: dict[str, GroupedQueryAttention], x: torch.Tensor
) -> tuple[dict[str, list[float]], dict[str, list[int]], dict[str, torch.Tensor]]:
    """Feed ``x`` (1, T, d_in) one token at a time to every layer of ``layers``, in turn, each with its cache.

    Returns, per layer, the seconds of each step, the cache's bytes after each
    step, and the decoded outputs (1, T, d_out).
    """
    names = list(layers)
    caches = {name: KVCache(window=layers[name].sliding_window) for name in names}
    seconds: dict[str, list[float]] = {name: [] for name in names}
    nbytes: dict[str, list[int]] = {name: [] for name in names}
    outputs: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    with torch.inference_mode():
        for p in range(x.shape[1]):
            token = x[:, p : p + 1]  # (1, 1, d_in)
            for name in names if p % 2 == 0 else names[::-1]:  # who goes first alternates
                t0 = time.perf_counter()
                out, _ = layers[name](token, cache=caches[name], need_weights=False)  # (1, 1, d_out)
                seconds[name].append(time.perf_counter() - t0)
                nbytes[name].append(caches[name].nbytes)
                outputs[name].append(out)
    return seconds, nbytes, {name: torch.cat(outs, dim=1) for name, outs in outputs.items()}


def run(tokens: int = TOKENS, window: int = WINDOW, every: int = EVERY, rounds: int = 5) -> dict:
    """Every measurement of the module docstring; a JSON-ready dict."""
    source = source_record(timed_functions())  # before measuring: the code as it was when the run began
    start = time.perf_counter()
    layers = {"window": _layers(window, tokens), "full": _layers(None, tokens)}
    x = torch.randn(1, tokens, CONFIG["d_in"], generator=torch.Generator().manual_seed(0))  # (1, T, d_in)
    decode({name: _layers(layer.sliding_window, 64) for name, layer in layers.items()}, x[:, :64])  # warm-up
    steps: dict[str, list[list[float]]] = {name: [] for name in layers}
    for r in range(rounds):
        seconds, nbytes, outputs = decode(layers, x)
        for name in layers:
            steps[name].append(seconds[name])
        print(f"round {r + 1} of {rounds}: {sum(map(sum, seconds.values())):.1f} s", flush=True)
    with torch.inference_mode():
        windowed_forward, _ = layers["window"](x, need_weights=False)  # (1, T, d_out): no cache at all
    positions = list(range(every, tokens + 1, every))
    checkpoints: dict = {"tokens": positions}
    for name in layers:
        per_token = [
            statistics.median(s for rnd in steps[name] for s in rnd[p - every : p]) for p in positions
        ]
        checkpoints[name] = {
            "nbytes": [nbytes[name][p - 1] for p in positions],
            "s_per_token": per_token,
        }
    w, f = checkpoints["window"], checkpoints["full"]
    # The first checkpoint whose block lies past the window (None in a run too short to have one).
    filled = next((i for i, p in enumerate(positions) if p - every >= window), None)
    ratios = {
        "filled_at": None if filled is None else positions[filled],
        "full_over_window_nbytes": f["nbytes"][-1] / w["nbytes"][-1],
        "full_over_window_time": f["s_per_token"][-1] / w["s_per_token"][-1],
        "window_last_over_filled_time": None,
        "full_last_over_filled_time": None,
    }
    if filled is not None:
        ratios["window_last_over_filled_time"] = w["s_per_token"][-1] / w["s_per_token"][filled]
        ratios["full_last_over_filled_time"] = f["s_per_token"][-1] / f["s_per_token"][filled]
    print(", ".join(f"{k} {v:.2f}" for k, v in ratios.items() if v is not None), flush=True)
    return {
        "machine": machine_info(),
        "source": source,
        "config": {**CONFIG, "dtype": "float32", "rope_base": 10_000.0, "need_weights": False},
        "tokens": tokens,
        "window": window,
        "rounds": rounds,
        "checkpoints": checkpoints,
        "ratios": ratios,
        "same_output": (outputs["window"] - windowed_forward).abs().max().item(),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m attention_notes.lab.window_decoding``: run the benchmark, write its JSON."""
    parser = cli.parser("attention_notes.lab.window_decoding", __doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, required=True, default=argparse.SUPPRESS, help="where to write the JSON results"
    )
    parser.add_argument("--tokens", type=int, default=TOKENS, help="tokens to decode")
    parser.add_argument("--rounds", type=int, default=5, help="decodings of every token, each layer")
    parser.add_argument("--threads", type=int, default=1, help="torch's CPU threads")
    args = parser.parse_args(argv)
    for name in ("tokens", "rounds", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.tokens % EVERY:
        parser.error(
            f"--tokens must be a multiple of {EVERY} (a checkpoint every {EVERY} tokens), got {args.tokens}"
        )
    torch.set_num_threads(args.threads)
    cli.check_out_file(parser, args.out)  # before the run, so a bad path does not cost the results
    data = run(tokens=args.tokens, rounds=args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"measured in {data['seconds']} s with {data['machine']['torch_threads']} threads")


if __name__ == "__main__":
    main()
