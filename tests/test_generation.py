"""The published generation benchmark (``make bench``): it exists, comes from the current code and shows the speed-up.

The timings are data measured once by ``python -m attention_notes.lab.generation``;
nothing is timed here.
"""

import json
from pathlib import Path

import pytest
import torch

import attention_notes
from attention_notes.lab import generation
from attention_notes.llama import LlamaConfig, LlamaModel

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

RESULTS = Path(attention_notes.__file__).parent / "results" / "generation.json"


@pytest.fixture(scope="module")
def results():
    assert RESULTS.exists(), f"{RESULTS} is missing: run `make bench`"
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def test_the_cache_is_at_least_five_times_faster_for_384_tokens_after_128(results):
    ratio = results["ratio"]
    assert (ratio["prompt"], ratio["new_tokens"]) == (128, 384)
    assert ratio["uncached_over_cached"] >= 5, ratio
    config = results["config"]
    assert (config["n_layers"], config["emb_dim"], config["n_heads"], config["n_kv_groups"]) == (1, 256, 8, 2)


def test_lengths_run_from_64_to_2048_with_both_ways(results):
    rows = results["lengths"]
    assert [row["total"] for row in rows] == [64, 128, 256, 512, 1024, 2048]
    for row in rows:
        assert row["prompt"] + row["new_tokens"] == row["total"]
        for name in ("cached", "uncached"):
            m = row[name]
            assert m["tokens_per_s"] == pytest.approx(row["new_tokens"] / m["median_s"])
            assert m["s_per_token"] == pytest.approx(m["median_s"] / row["new_tokens"])


def test_step_times_stay_flat_with_the_cache_and_grow_without(results):
    steps = results["steps"]
    assert steps["positions"][0] == 128 and steps["positions"][-1] == 2048
    cached, uncached = steps["cached_median_s"], steps["uncached_median_s"]
    assert uncached[-1] > 4 * uncached[0]  # 16 times the tokens, more than linear work
    assert all(c < u for c, u in zip(cached, uncached, strict=True))


def test_cache_bytes_match_the_formula_and_shrink_with_fewer_kv_heads(results):
    table = results["cache_bytes"]
    for name, kv_heads in (("mha", 8), ("gqa", 2), ("mqa", 1)):
        row = table[name]
        assert row["kv_heads"] == kv_heads
        # 2 (keys and values) x 1 layer x kv_heads x head_dim 32 x 4 bytes, per token.
        assert row["formula_bytes_per_token"] == 2 * kv_heads * 32 * 4
        assert row["nbytes"] == row["formula_bytes"] == row["formula_bytes_per_token"] * table["tokens"]
    assert table["mha"]["nbytes"] == 4 * table["gqa"]["nbytes"] == 8 * table["mqa"]["nbytes"]


def test_cache_bytes_are_measured_from_a_real_cache_and_match_the_formula_live():
    table = generation.cache_bytes(tokens=8, d_out=16, num_heads=8)  # head_dim 2
    for name, kv_heads in (("mha", 8), ("gqa", 2), ("mqa", 1)):
        # 2 (keys and values) x 8 tokens x kv_heads x head_dim 2 x 4 bytes.
        assert table[name]["nbytes"] == table[name]["formula_bytes"] == 2 * 8 * kv_heads * 2 * 4


def test_timing_helpers_run_the_work_they_name():
    cfg = LlamaConfig(
        vocab_size=20, context_length=16, emb_dim=8, n_heads=2, n_layers=1, hidden_dim=8, n_kv_groups=1
    )
    torch.manual_seed(0)
    model = LlamaModel(cfg).eval()
    prompt = torch.randint(0, 20, (1, 4))
    times = generation.time_generation(model, prompt, 3, rounds=2)
    assert {name: len(ts) for name, ts in times.items()} == {"cached": 2, "uncached": 2}
    assert generation.step_time(model, torch.randint(0, 20, (1, 10)), 10, use_cache=True) > 0


def test_threads_must_be_positive(capsys, tmp_path):
    with pytest.raises(SystemExit):
        generation.main(["--out", str(tmp_path / "g.json"), "--threads", "0"])
    assert "--threads must be at least 1" in capsys.readouterr().err
