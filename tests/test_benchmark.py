"""The benchmark harness, attention_notes.lab.benchmark: its machinery, its command line, and that the
published runs come from the current code (timings are not measured here; tests/test_performance.py
checks the published numbers the performance page states)."""

import gc
import inspect
import json
import os
import random
import time

import pytest
import torch

from attention_notes.lab import benchmark
from attention_notes.lab.benchmark import (
    IMPLEMENTATIONS,
    MULTIHEAD_IMPLEMENTATIONS,
    multihead_implementations,
    multihead_modules,
    peak_memory,
    run,
    run_multihead,
)
from attention_notes.performance import load_benchmark, load_multihead
from attention_notes.provenance import source_record

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


@pytest.fixture(autouse=True, scope="module")
def _frozen_heap():
    """peak_memory() calls gc.collect() before each measurement, for an honest baseline. A test
    worker's heap holds hypothesis, Playwright and every module imported so far, and walking it took
    most of these tests' time (0.1 to 0.5 s a call). Frozen objects are left out of collections; a
    tiny run's own garbage is still collected."""
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("shape", [(1, 3), (12, 5), (40, 16)])
def test_all_implementations_compute_the_same_thing(shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))  # (T, D)
    # softmax(x xᵀ) x written out in float64, independent of every implementation.
    x64 = x.double()
    attn_weights = torch.softmax(x64 @ x64.T, dim=-1)  # (T, T)
    context = attn_weights @ x64  # (T, D)
    for name, fn in IMPLEMENTATIONS.items():
        out = fn(x)
        got = out[0] if isinstance(out, tuple) else out
        assert got.dtype == torch.float32, name
        torch.testing.assert_close(got.double(), context, atol=1e-5, rtol=1e-4, msg=name)
        if isinstance(out, tuple):
            torch.testing.assert_close(out[1].double(), attn_weights, atol=1e-6, rtol=1e-5, msg=name)


def test_peak_memory_sees_a_large_allocation():
    if not (os.path.exists("/proc/self/status") and os.path.exists("/proc/self/clear_refs")):
        pytest.skip("no /proc/self/status or clear_refs (not Linux): peak memory is not measured")
    measured = peak_memory(lambda: torch.ones(4 * 2**20))  # 16 MiB of float32
    assert measured is not None
    assert 14 * 2**20 <= measured <= 40 * 2**20


def test_a_tiny_run_has_the_published_structure_and_caps_the_loop():
    data = run(lengths=(8, 16, 32), dim=4, loop_budget=0.0)
    assert data["lengths"] == [8, 16, 32]
    assert set(data["results"]) == set(IMPLEMENTATIONS)
    loop = data["results"]["loop"]["median_s"]
    assert loop[0] is not None and loop[1:] == [None, None]  # over budget after the first
    for name in ("vectorised", "sdpa", "sdpa_fused"):
        assert all(t > 0 for t in data["results"][name]["median_s"])
    assert len(data["ratios"]["vectorised_over_sdpa"]) == 3
    assert data["clock"] == "time.thread_time"


def test_a_run_times_one_thread_and_restores_the_thread_count():
    before = torch.get_num_threads()
    seen = []
    fns = {"vectorised": lambda x: seen.append(torch.get_num_threads())}
    data = run(lengths=(8,), dim=4, loop_budget=0.0)
    assert data["machine"]["torch_threads"] == 1
    with benchmark._torch_threads(1):
        benchmark._side_by_side(fns, torch.zeros(1), 2, random.Random(0))
    assert seen == [1, 1, 1]
    assert torch.get_num_threads() == before


def test_rounds_call_each_version_once_in_a_random_order():
    calls = []
    fns = {name: (lambda x, name=name: calls.append(name)) for name in "abc"}
    times = benchmark._side_by_side(fns, torch.zeros(1), 30, random.Random(0))
    assert calls[:3] == ["a", "b", "c"]  # the warm-up
    rounds = [tuple(calls[i : i + 3]) for i in range(3, len(calls), 3)]
    assert len(rounds) == 30 and all(sorted(r) == ["a", "b", "c"] for r in rounds)
    assert len(set(rounds)) >= 4  # not one fixed order: no version always runs after the same one
    assert {r[0] for r in rounds} == {"a", "b", "c"}
    assert all(len(t) == 30 for t in times.values())


def test_the_loop_has_rounds_of_its_own(monkeypatch):
    calls = []
    fake = {name: (lambda x, name=name: calls.append(name)) for name in IMPLEMENTATIONS}
    monkeypatch.setattr(benchmark, "IMPLEMENTATIONS", fake)
    loop_times, vectorised_times = benchmark._loop_side_by_side(torch.zeros(1), 4)
    assert len(loop_times) == len(vectorised_times) == 4
    # a warm-up loop call, then per round: the loop, an untimed vectorised call, the timed one
    assert calls == ["loop"] + ["loop", "vectorised", "vectorised"] * 4


def test_a_run_records_the_code_it_timed():
    data = run(lengths=(8,), dim=4, loop_budget=0.0)
    source = data["source"]
    assert source == {**source_record(benchmark.timed_functions()), "commit": source["commit"]}
    assert "attention_notes.simple_attention.simple_self_attention_loop" in source["functions"]


def _structure(value: object) -> object:
    """Keys, recursively, with the type of every leaf; lists stand for one entry per length."""
    if isinstance(value, dict):
        return {key: _structure(item) for key, item in value.items()}
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def test_published_benchmark_comes_from_the_current_code():
    # Changing what run() returns, or its defaults, without re-running `make bench` fails here.
    bench = load_benchmark()
    tiny = json.loads(json.dumps(run(lengths=(8, 16), dim=4, loop_budget=0.0)))  # as main() writes it
    assert _structure(bench) == _structure(tiny)
    assert list(bench["results"]) == list(IMPLEMENTATIONS)
    assert list(bench["ratios"]) == list(tiny["ratios"])
    n = len(bench["lengths"])
    for name in IMPLEMENTATIONS:
        assert all(len(series) == n for series in bench["results"][name].values()), name
    assert all(len(series) == n for series in bench["ratios"].values())
    defaults = {name: p.default for name, p in inspect.signature(run).parameters.items()}
    assert bench["lengths"] == list(defaults["lengths"])
    assert bench["dim"] == defaults["dim"]
    assert bench["loop_budget_s"] == defaults["loop_budget"]


# The multi-head benchmark.


def _multihead_reference(mha, x: torch.Tensor) -> torch.Tensor:
    """Causal multi-head attention written out in float64 from ``mha``'s weights, head by head."""
    T = x.shape[1]
    x64 = x.double()
    q, k, v = (layer.weight.double() for layer in (mha.W_query, mha.W_key, mha.W_value))
    blocked = torch.ones(T, T, dtype=torch.bool).triu(1)  # (T, T), key after query
    heads = []
    for h in range(mha.num_heads):
        rows = slice(h * mha.head_dim, (h + 1) * mha.head_dim)
        queries, keys, values = x64 @ q[rows].T, x64 @ k[rows].T, x64 @ v[rows].T  # (B, T, hd)
        attn_scores = queries @ keys.mT / mha.head_dim**0.5  # (B, T, T)
        attn_weights = torch.softmax(attn_scores.masked_fill(blocked, -torch.inf), dim=-1)  # (B, T, T)
        heads.append(attn_weights @ values)  # (B, T, hd)
    return torch.cat(heads, dim=-1) @ mha.out_proj.weight.double().T + mha.out_proj.bias.double()  # (B, T, D)


@pytest.mark.parametrize(("B", "T", "d_model", "num_heads"), [(1, 1, 4, 2), (2, 7, 12, 3), (1, 33, 16, 4)])
def test_multihead_implementations_compute_the_same_context(B, T, d_model, num_heads):
    mha, reference = multihead_modules(d_model, num_heads, context_length=40, seed=1)
    assert not mha.training and not reference.training
    x = torch.randn(B, T, d_model, generator=torch.Generator().manual_seed(0))  # (B, T, D)
    expected = _multihead_reference(mha, x)
    with torch.inference_mode():  # as measured: nn_mha takes its fast path only without autograd
        outputs = {name: fn(x) for name, fn in multihead_implementations(mha, reference, T).items()}
    assert list(outputs) == list(MULTIHEAD_IMPLEMENTATIONS)
    for name, (context, attn_weights) in outputs.items():
        assert context.shape == (B, T, d_model), name
        torch.testing.assert_close(context.double(), expected, atol=1e-5, rtol=1e-4, msg=name)
        assert (attn_weights is not None) == (name == "explicit"), name
    assert outputs["explicit"][1].shape == (B, num_heads, T, T)


def _aten_ops(fn) -> set[str]:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return {event.key for event in prof.key_averages()}


def test_multihead_implementations_run_the_kernels_the_page_names():
    mha, reference = multihead_modules(8, 2, context_length=16)
    x = torch.randn(1, 16, 8, generator=torch.Generator().manual_seed(0))  # (B, T, D)
    fused, native = "aten::_scaled_dot_product_flash_attention_for_cpu", "aten::_native_multi_head_attention"
    with torch.inference_mode():
        ops = {
            name: _aten_ops(lambda fn=fn: fn(x))
            for name, fn in multihead_implementations(mha, reference, 16).items()
        }
    assert fused not in ops["explicit"] and native not in ops["explicit"]
    assert fused in ops["sdpa"]
    assert native in ops["nn_mha"] and fused not in ops["nn_mha"]  # the fast path: scores in full
    assert fused in ops["nn_mha_sdpa"] and native not in ops["nn_mha_sdpa"]
    assert torch.backends.mha.get_fastpath_enabled()  # switched off for nn_mha_sdpa's call only


def test_published_multihead_comes_from_the_current_code():
    # Changing what run_multihead() returns, or its defaults, without re-running it fails here.
    published = load_multihead()
    tiny = json.loads(
        json.dumps(run_multihead(lengths=(8, 16), d_model=8, num_heads=2))
    )  # as main() writes it
    assert _structure(published) == _structure(tiny)
    assert list(published["results"]) == list(tiny["results"]) == list(MULTIHEAD_IMPLEMENTATIONS)
    assert list(published["ratios"]) == list(tiny["ratios"])
    assert all(t > 0 for series in tiny["results"].values() for t in series["median_s"])
    n = len(published["lengths"])
    for name in MULTIHEAD_IMPLEMENTATIONS:
        assert all(len(series) == n for series in published["results"][name].values()), name
    assert all(len(series) == n for series in published["ratios"].values())
    defaults = {name: p.default for name, p in inspect.signature(run_multihead).parameters.items()}
    assert published["lengths"] == list(defaults["lengths"])
    for key in ("d_model", "num_heads", "batch"):
        assert published[key] == defaults[key], key


# The command line: `python -m attention_notes.lab.benchmark`.


@pytest.fixture
def run_calls(monkeypatch):
    """Replace run() by a recorder that stops main() before any work is done."""
    calls = []

    def fake_run(*args, **kwargs):
        calls.append((args, kwargs))
        raise _RunCalledError

    monkeypatch.setattr(benchmark, "run", fake_run)
    return calls


@pytest.fixture
def multihead_calls(monkeypatch):
    """The same for run_multihead()."""
    calls = []

    def fake_run_multihead(*args, **kwargs):
        calls.append((args, kwargs))
        raise _RunCalledError

    monkeypatch.setattr(benchmark, "run_multihead", fake_run_multihead)
    return calls


class _RunCalledError(Exception):
    pass


def _usage_error(argv, capsys) -> str:
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        benchmark.main(argv)
    assert time.perf_counter() - start < 5
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.startswith("usage: python -m attention_notes.lab.benchmark")
    return captured.err.strip().splitlines()[-1]


def test_cli_checks_out_before_the_run(tmp_path, run_calls, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    out = a_file / "benchmark.json"  # its parent is a regular file: unwritable, even for root
    message = _usage_error(["--out", str(out)], capsys)
    assert message == (
        f"python -m attention_notes.lab.benchmark: error: --out: cannot create {out}: {a_file} is not a folder"
    )
    assert run_calls == []


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--max-length", "5000"], "argument --max-length: must be a power of 2 and at least 8, got 5000"),
        (["--max-length", "4"], "argument --max-length: must be a power of 2 and at least 8, got 4"),
        (["--max-length", "0"], "argument --max-length: must be a power of 2 and at least 8, got 0"),
        (["--max-length", "-8"], "argument --max-length: must be a power of 2 and at least 8, got -8"),
        (["--max-length", "1e3"], "argument --max-length: must be a whole number, got '1e3'"),
        (["--loop-budget", "0"], "argument --loop-budget: must be a finite number greater than 0, got 0"),
        (["--loop-budget", "-1"], "argument --loop-budget: must be a finite number greater than 0, got -1"),
        (["--loop-budget", "inf"], "argument --loop-budget: must be a finite number greater than 0, got inf"),
        (["--loop-budget", "nan"], "argument --loop-budget: must be a finite number greater than 0, got nan"),
        (["--loop-budget", "fast"], "argument --loop-budget: must be a number, got 'fast'"),
    ],
)
def test_cli_rejects_bad_numbers(argv, error, tmp_path, run_calls, capsys):
    message = _usage_error(["--out", str(tmp_path / "b.json"), *argv], capsys)
    assert message == f"python -m attention_notes.lab.benchmark: error: {error}"
    assert run_calls == []


def test_cli_defaults_are_the_published_run(tmp_path, run_calls):
    with pytest.raises(_RunCalledError):
        benchmark.main(["--out", str(tmp_path / "new" / "b.json")])
    ((args, kwargs),) = run_calls
    defaults = {name: p.default for name, p in inspect.signature(run).parameters.items()}
    assert args == (defaults["lengths"],)
    assert kwargs == {"loop_budget": defaults["loop_budget"]}


def test_cli_multihead_defaults_are_the_published_run(tmp_path, run_calls, multihead_calls):
    with pytest.raises(_RunCalledError):
        benchmark.main(["--multihead", "--out", str(tmp_path / "m.json")])
    defaults = {name: p.default for name, p in inspect.signature(run_multihead).parameters.items()}
    assert multihead_calls == [((defaults["lengths"],), {})]
    assert run_calls == []


def test_cli_multihead_refuses_a_loop_budget(tmp_path, run_calls, multihead_calls, capsys):
    message = _usage_error(["--multihead", "--loop-budget", "1", "--out", str(tmp_path / "m.json")], capsys)
    assert message == (
        "python -m attention_notes.lab.benchmark: error: "
        "--loop-budget applies to the loop version, which --multihead does not measure"
    )
    assert run_calls == [] and multihead_calls == []


def test_cli_max_length_sets_the_lengths(tmp_path, run_calls):
    with pytest.raises(_RunCalledError):
        benchmark.main(["--out", str(tmp_path / "b.json"), "--max-length", "64", "--loop-budget", "0.25"])
    assert run_calls == [(((8, 16, 32, 64),), {"loop_budget": 0.25})]


def test_cli_help_names_the_command_and_shows_the_defaults(capsys):
    with pytest.raises(SystemExit) as exc:
        benchmark.main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines to the terminal width
    assert text.startswith("usage: python -m attention_notes.lab.benchmark ")
    assert "(default: 4096)" in text and "(default: 0.5)" in text
    assert "(default: None)" not in text


def test_cli_writes_the_results(tmp_path, capsys):
    out = tmp_path / "new" / "b.json"
    benchmark.main(["--out", str(out), "--max-length", "16", "--loop-budget", "10"])
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["lengths"] == [8, 16] and data["loop_budget_s"] == 10.0
    assert _structure(data) == _structure(load_benchmark())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "T" and [line.split()[0] for line in lines[1:3]] == ["8", "16"]


def test_cli_writes_the_multihead_results(tmp_path, capsys):
    out = tmp_path / "new" / "m.json"
    benchmark.main(["--multihead", "--out", str(out), "--max-length", "16"])
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["lengths"] == [8, 16]
    assert _structure(data) == _structure(load_multihead())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "T" and [line.split()[0] for line in lines[1:3]] == ["8", "16"]
