"""Benchmark: greedy generation with and without the KV cache, on the CPU, and the cache's memory.

    python -m attention_notes.lab.generation --out src/attention_notes/results/generation.json

measures :func:`attention_notes.llama.generate` on a one-layer
:class:`~attention_notes.llama.LlamaModel` (d = 256, 8 query heads, 2
key/value heads, SwiGLU hidden size 512, vocabulary 512, float32, random
weights), eval mode, one process, one torch thread by default (``--threads``):

- ``lengths``: prompt + new tokens = 64, 128, ..., 2048, with 64 new tokens
  (32 at 64); the time of the whole ``generate`` call with ``use_cache=True``
  and ``use_cache=False``, taken in turn (cached, uncached, cached, ...) so that
  a slow moment of the shared machine hits both; medians over the rounds, then
  new tokens per second and seconds per new token (the prompt's prefill
  included; its own time is ``prefill_median_s``);
- ``ratio``: 384 new tokens after a 128-token prompt, uncached time over cached
  time, the median of the per-round ratios of calls made moments apart;
- ``steps``: the time of one decoding step at positions 128, 256, ..., 2048,
  with and without the cache (medians of a few rounds): flat with the cache,
  growing without it;
- ``cache_bytes``: the bytes a :class:`~attention_notes.kv_cache.KVCache` holds
  after 2048 tokens for MHA (8 key/value heads), GQA (2) and MQA (1) at the same
  d_out = 256, next to ``2 x layers x kv_heads x head_dim x bytes`` per token.

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

from attention_notes import cli, gqa, kv_cache, llama
from attention_notes.lab.benchmark import machine_info
from attention_notes.provenance import source_record

__all__ = [
    "BENCH_CONFIG",
    "cache_bytes",
    "main",
    "run",
    "step_time",
    "time_generation",
    "timed_functions",
]

# The configuration: one layer, d = 256, 8 heads, 2 key/value groups.
BENCH_CONFIG = llama.LlamaConfig(
    vocab_size=512,
    context_length=2048,
    emb_dim=256,
    n_heads=8,
    n_layers=1,
    hidden_dim=512,
    n_kv_groups=2,
)
RATIO_PROMPT = 128  # the ratio: 384 new tokens after a 128-token prompt
RATIO_NEW = 384
NEW_TOKENS = 64  # per row of the lengths table (half the total for the shortest rows)


def timed_functions() -> list:
    """The functions the benchmark times; the source record follows them into the package."""
    return [time_generation, step_time]


def _model(cfg: llama.LlamaConfig = BENCH_CONFIG, seed: int = 0) -> llama.LlamaModel:
    torch.manual_seed(seed)
    return llama.LlamaModel(cfg).eval()


def _prompt(T: int, vocab_size: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab_size, (1, T), generator=torch.Generator().manual_seed(seed))  # (1, T)


def time_generation(
    model: llama.LlamaModel, prompt: torch.Tensor, max_new_tokens: int, rounds: int
) -> dict[str, list[float]]:
    """Seconds per ``generate`` call, cached and uncached in turn, ``rounds`` times each after a warm-up."""
    times: dict[str, list[float]] = {"cached": [], "uncached": []}
    with torch.inference_mode():
        llama.generate(model, prompt, min(max_new_tokens, 4), use_cache=True)  # warm-up
        llama.generate(model, prompt, min(max_new_tokens, 4), use_cache=False)
        for _ in range(rounds):
            for name, use_cache in (("cached", True), ("uncached", False)):
                t0 = time.perf_counter()
                llama.generate(model, prompt, max_new_tokens, use_cache=use_cache)
                times[name].append(time.perf_counter() - t0)
    return times


def step_time(model: llama.LlamaModel, seq: torch.Tensor, position: int, use_cache: bool) -> float:
    """Seconds of the decoding step that predicts token ``position`` from the tokens of ``seq`` before it.

    With the cache: the first ``position - 1`` tokens are prefilled (not
    timed), then the step feeds token ``position - 1`` alone. Without it: the
    step runs the whole ``seq[:, :position]``, as ``generate`` does.
    """
    with torch.inference_mode():
        if use_cache:
            caches = model.new_cache()
            model(seq[:, : position - 1], caches)  # prefill, not timed
            t0 = time.perf_counter()
            model(seq[:, position - 1 : position], caches)  # (1, 1, vocab_size)
        else:
            t0 = time.perf_counter()
            model(seq[:, :position])  # (1, position, vocab_size)
        return time.perf_counter() - t0


def _rounds(total: int) -> int:
    # More rounds where a call is cheap; enough for a stable median everywhere.
    return 5 if total <= 512 else 3


def cache_bytes(tokens: int = 2048, d_out: int = 256, num_heads: int = 8) -> dict[str, dict[str, int]]:
    """A KVCache's bytes after ``tokens`` tokens: MHA, GQA (2 key/value heads) and MQA; one layer, float32."""
    out = {}
    head_dim = d_out // num_heads
    x = torch.randn(1, tokens, d_out, generator=torch.Generator().manual_seed(0))  # (1, S, D)
    for name, kv_heads in (("mha", num_heads), ("gqa", 2), ("mqa", 1)):
        attn = gqa.GroupedQueryAttention(d_out, d_out, num_heads, kv_heads, context_length=tokens)
        cache = kv_cache.KVCache()
        with torch.inference_mode():
            attn(x, cache=cache, need_weights=False)
        per_token = 2 * 1 * kv_heads * head_dim * 4  # 2 (K, V) x layers x kv_heads x head_dim x bytes
        out[name] = {
            "kv_heads": kv_heads,
            "nbytes": cache.nbytes,
            "formula_bytes_per_token": per_token,
            "formula_bytes": per_token * tokens,
        }
    return out


def run(
    totals: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048),
    ratio_rounds: int = 5,
    step_positions: tuple[int, ...] = tuple(range(128, 2049, 128)),
    step_rounds: int = 5,
) -> dict:
    """Every measurement of the module docstring; a JSON-ready dict."""
    source = source_record(timed_functions())  # before measuring: the code as it was when the run began
    start = time.perf_counter()
    cfg = BENCH_CONFIG
    model = _model(cfg)
    lengths = []
    for total in totals:
        new = min(NEW_TOKENS, total // 2)
        prompt_len = total - new
        prompt = _prompt(prompt_len, cfg.vocab_size)
        times = time_generation(model, prompt, new, _rounds(total))
        prefill = [step_time(model, prompt, prompt_len, use_cache=False) for _ in range(_rounds(total))]
        row = {
            "total": total,
            "prompt": prompt_len,
            "new_tokens": new,
            "prefill_median_s": statistics.median(prefill),
        }
        for name, ts in times.items():
            median = statistics.median(ts)
            row[name] = {
                "median_s": median,
                "tokens_per_s": new / median,
                "s_per_token": median / new,
                "rounds_s": ts,
            }
        lengths.append(row)
        print(
            f"{total:>5} tokens ({prompt_len} + {new}): cached {row['cached']['tokens_per_s']:8.1f} tok/s, "
            f"uncached {row['uncached']['tokens_per_s']:8.1f} tok/s",
            flush=True,
        )
    times = time_generation(model, _prompt(RATIO_PROMPT, cfg.vocab_size), RATIO_NEW, ratio_rounds)
    ratios = [u / c for u, c in zip(times["uncached"], times["cached"], strict=True)]
    ratio = {
        "prompt": RATIO_PROMPT,
        "new_tokens": RATIO_NEW,
        "cached_median_s": statistics.median(times["cached"]),
        "uncached_median_s": statistics.median(times["uncached"]),
        "uncached_over_cached": statistics.median(ratios),
        "per_round": ratios,
    }
    print(
        f"ratio ({RATIO_PROMPT} + {RATIO_NEW}): uncached / cached = {ratio['uncached_over_cached']:.1f}",
        flush=True,
    )
    seq = _prompt(max(step_positions), cfg.vocab_size, seed=1)
    steps = {"positions": list(step_positions), "cached_median_s": [], "uncached_median_s": []}
    for position in step_positions:
        rounds = {"cached": [], "uncached": []}
        for _ in range(step_rounds):  # in turn, as everywhere
            rounds["cached"].append(step_time(model, seq, position, use_cache=True))
            rounds["uncached"].append(step_time(model, seq, position, use_cache=False))
        for name, ts in rounds.items():
            steps[f"{name}_median_s"].append(statistics.median(ts))
    cfg_json = {k: v for k, v in cfg.__dict__.items() if k != "dtype"} | {
        "dtype": str(cfg.dtype).removeprefix("torch.")
    }
    return {
        "machine": machine_info(),
        "source": source,
        "config": cfg_json,
        "lengths": lengths,
        "ratio": ratio,
        "steps": steps,
        "cache_bytes": {"tokens": 2048, "d_out": 256, "num_heads": 8, "dtype": "float32", **cache_bytes()},
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m attention_notes.lab.generation``: run the benchmark, write its JSON."""
    parser = cli.parser("attention_notes.lab.generation", __doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, required=True, default=argparse.SUPPRESS, help="where to write the JSON results"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch's CPU threads; on a shared machine threads that wait for each other make a one-token "
        "step a hundred times slower, which measures the machine's load, not the cache",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    cli.check_out_file(parser, args.out)  # before the run, so a bad path does not cost the results
    data = run()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"measured in {data['seconds']} s with {data['machine']['torch_threads']} threads")


if __name__ == "__main__":
    main()
