"""The published results come from the code the package ships.

Every file in ``results/`` records a hash of the source of the functions that
produced it (:func:`attention_notes.provenance.source_record`). Here it is
recomputed from the current code: a benchmarked or trained function that
changed since the measurement fails, naming the file to measure again and the
command that does it.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from attention_notes import experiment
from attention_notes.experiment import load_cpu_paths, load_results
from attention_notes.lab import attention_memory, generation, window_decoding
from attention_notes.lab.benchmark import timed_functions
from attention_notes.performance import load_attention_memory, load_benchmark, load_multihead
from attention_notes.provenance import reachable_sources, source_record

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

# result file -> (how to load it, the functions that produced it, the command that measures it again)
RESULTS = {
    "benchmark.json": (load_benchmark, lambda: timed_functions(), "make bench"),
    "multihead.json": (
        load_multihead,
        lambda: timed_functions(multihead=True),
        "python -m attention_notes.lab.benchmark --multihead --out src/attention_notes/results/multihead.json",
    ),
    "experiment.json": (
        load_results,
        lambda: [experiment.run_seeds],
        "python -m attention_notes.experiment --out src/attention_notes/results/experiment.json"
        " (about 10 minutes), then the notebook: python tools/execute_notebooks.py"
        " docs/experiment.ipynb docs/experiment.en.ipynb",
    ),
    "generation.json": (
        lambda: json.loads(
            (Path(experiment.__file__).parent / "results" / "generation.json").read_text("utf-8")
        ),
        generation.timed_functions,
        "make bench (python -m attention_notes.lab.generation --out src/attention_notes/results/generation.json)",
    ),
    "window_decoding.json": (
        lambda: json.loads(
            (Path(experiment.__file__).parent / "results" / "window_decoding.json").read_text("utf-8")
        ),
        window_decoding.timed_functions,
        "make bench (python -m attention_notes.lab.window_decoding --out "
        "src/attention_notes/results/window_decoding.json)",
    ),
    "attention_memory.json": (
        load_attention_memory,
        attention_memory.timed_functions,
        "make bench (python -m attention_notes.lab.attention_memory"
        " --out src/attention_notes/results/attention_memory.json)",
    ),
    "cpu_paths.json": (
        load_cpu_paths,
        lambda: [experiment.run_seeds],
        "python tools/cpu_paths.py --out src/attention_notes/results/cpu_paths.json (about an hour)",
    ),
}


def stale_message(name: str, published: dict, current: dict, command: str) -> str | None:
    """None if ``published`` (a result file's "source") matches the current code, else what to do."""
    if published.get("sha256") == current["sha256"]:
        return None
    old, new = published.get("functions", {}), current["functions"]
    changed = sorted(f for f in old.keys() | new.keys() if old.get(f) != new.get(f))
    return (
        f"src/attention_notes/results/{name} was measured on other code (commit {published.get('commit')}); "
        f"changed since: {', '.join(changed) or 'the hash only'}. Measure it again: {command}"
    )


@pytest.mark.parametrize("name", list(RESULTS))
def test_published_result_was_measured_on_the_shipped_code(name):
    load, roots, command = RESULTS[name]
    published = load()
    assert "source" in published, f"src/attention_notes/results/{name} records no source hash: {command}"
    message = stale_message(name, published["source"], source_record(roots(), commit=False), command)
    assert message is None, message


def test_the_record_follows_calls_into_the_package():
    benchmarked = reachable_sources(timed_functions())
    for function in (
        "attention_notes.simple_attention.simple_self_attention",
        "attention_notes.simple_attention.simple_self_attention_loop",
        "attention_notes.simple_attention._dots_loop",  # called by the loop
        "attention_notes.checks.check_scores_finite",  # imported by name
        "attention_notes.checks.all_finite",  # called by check_scores_finite
        "attention_notes.lab.benchmark._sdpa_4d",  # called by a lambda
    ):
        assert function in benchmarked, function
    assert not any(name.startswith("torch") for name in benchmarked)
    trained = reachable_sources([experiment.run_seeds])
    for cls in ("seq2seq.Seq2Seq", "seq2seq.Encoder", "seq2seq.Decoder", "additive.AdditiveAttention"):
        assert f"attention_notes.{cls}" in trained, cls
    assert "attention_notes.masks.check_key_padding_mask" in trained  # a method's call, in another module


def test_a_changed_function_is_named(monkeypatch):
    published = source_record(timed_functions(), commit=False)
    real = reachable_sources

    def edited(roots):
        sources = real(roots)
        sources["attention_notes.checks.all_finite"] += "# edited\n"
        return sources

    monkeypatch.setattr("attention_notes.provenance.reachable_sources", edited)
    current = source_record(timed_functions(), commit=False)
    message = stale_message("benchmark.json", published, current, "make bench")
    assert message is not None
    assert "changed since: attention_notes.checks.all_finite." in message
    assert message.endswith("Measure it again: make bench")


def test_a_run_as_a_script_records_the_same_code(tmp_path):
    # `python -m attention_notes.lab.benchmark` runs the module as __main__: its functions must still be
    # named, and hashed, as attention_notes.lab.benchmark's, or every published run would look stale.
    out = tmp_path / "b.json"
    subprocess.run(
        [sys.executable, "-m", "attention_notes.lab.benchmark", "--out", str(out), "--max-length", "8"],
        check=True,
        capture_output=True,
    )
    recorded = json.loads(out.read_text(encoding="utf-8"))["source"]
    assert recorded["functions"] == source_record(timed_functions(), commit=False)["functions"]
    assert not any(name.startswith("__main__") for name in recorded["functions"])


def test_comments_and_docstrings_do_not_make_a_result_stale():
    from attention_notes.provenance import _code_only

    plain = "def f(x):\n    return x + 1\n"
    documented = 'def f(x):\n    """Add one."""\n    # the answer\n    return x + 1  # one\n'
    changed = "def f(x):\n    return x + 2\n"
    assert _code_only(documented) == _code_only(plain) != _code_only(changed)
