"""The long-sequence experiment and the figures drawn from it."""

import json
from pathlib import Path

import pytest
import torch

from attention_notes import experiment
from attention_notes.experiment import (
    MODELS,
    SEEDS,
    TOLERANCE,
    ExperimentConfig,
    check_claims,
    load_cpu_paths,
    load_results,
    main,
    reverse_batch,
    run,
    run_seeds,
)

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def test_reverse_batch():
    src, tgt_in, tgt = reverse_batch(3, 5, 11, torch.Generator().manual_seed(0))
    assert src.shape == tgt_in.shape == tgt.shape == (3, 5)
    assert torch.equal(tgt, src.flip(1))
    assert (tgt_in[:, 0] == 0).all() and torch.equal(tgt_in[:, 1:], tgt[:, :-1])
    assert src.min() >= 1 and src.max() <= 10


def test_a_short_run_has_the_published_structure_and_is_deterministic():
    config = ExperimentConfig(steps=3, batch_size=4, eval_size=8, eval_lengths=(3, 5), example_length=4)
    first, second = run(config), run(config)
    for key in ("lengths", "baseline", "attention", "seconds", "example", "config"):
        assert key in first
    assert first["lengths"] == [3, 5]
    assert len(first["baseline"]) == len(first["attention"]) == 2
    assert all(0 <= a <= 1 for a in first["baseline"] + first["attention"])
    assert first["baseline"] == second["baseline"] and first["attention"] == second["attention"]
    assert first["example"] == second["example"]
    assert len(first["example"]["weights"]) == 4


def test_run_restores_the_thread_count():
    before = torch.get_num_threads()
    run(ExperimentConfig(steps=1, batch_size=2, eval_size=2, eval_lengths=(3,), example_length=3))
    assert torch.get_num_threads() == before


TINY = ExperimentConfig(steps=2, batch_size=4, eval_size=8, eval_lengths=(3, 5), example_length=4)


def test_command_line_writes_json(tmp_path: Path, capsys, monkeypatch):
    real = experiment.run_seeds
    monkeypatch.setattr(experiment, "run_seeds", lambda config, seeds: real(TINY, seeds))
    out = tmp_path / "r.json"
    main(["--out", str(out), "--steps", "2", "--seeds", "2"])
    data = json.loads(out.read_text())
    assert set(data) >= {"lengths", "baseline", "attention", "range", "runs", "seconds", "source"}
    assert [r["seed"] for r in data["runs"]] == [0, 1]
    assert "baseline" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--out", "{file}/r.json"], "is not a folder"),
        (["--out", "{tmp}"], "--out must be a file"),
    ],
)
def test_command_line_refuses_before_training(tmp_path: Path, capsys, monkeypatch, args, message):
    trained = []
    monkeypatch.setattr(experiment, "run_seeds", lambda *a: trained.append(a))
    (tmp_path / "file").write_text("")
    args = [a.format(file=tmp_path / "file", tmp=tmp_path) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "r.json")]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.startswith("usage: python -m attention_notes.experiment")
    assert not trained


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines at the terminal's width
    assert out.startswith("usage: python -m attention_notes.experiment")
    assert "(default: 1000)" in out and "(default: 5)" in out


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"steps": 0}, ValueError, "steps must be at least 1"),
        ({"threads": 0}, ValueError, "threads must be at least 1"),
        ({"models": ("baseline", "transformer")}, ValueError, "models must name distinct models"),
        ({"models": ()}, ValueError, "models must name"),
        ({"min_length": 21}, ValueError, "min_length must be <= max_length"),
        ({"vocab_size": 2}, ValueError, "vocab_size must be at least 3"),
        ({"steps": 1.5}, TypeError, "steps must be an int"),
        ({"steps": True}, TypeError, "steps must be an int"),
        ({"hidden_dim": 63}, ValueError, "hidden_dim must be even"),
        ({"lr": float("nan")}, ValueError, "lr must be a finite number"),
        ({"eval_lengths": (4, 0)}, ValueError, "eval_lengths must be"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
    ],
)
def test_config_refuses_what_cannot_run(change, error, message):
    with pytest.raises(error, match=message):
        ExperimentConfig(**change)


def test_run_seeds_reports_mean_and_range_of_the_runs():
    results = run_seeds(TINY, (0, 1, 2))
    assert [r["seed"] for r in results["runs"]] == [0, 1, 2]
    assert results["runs"][1]["baseline"] == run(ExperimentConfig(**{**TINY.__dict__, "seed": 1}))["baseline"]
    for name in MODELS:
        per_length = list(zip(*(r[name] for r in results["runs"]), strict=True))
        assert results[name] == [round(sum(a) / 3, 4) for a in per_length]
        assert results["range"][name] == {
            "min": [min(a) for a in per_length],
            "max": [max(a) for a in per_length],
        }
    with pytest.raises(ValueError, match="seeds must be"):
        run_seeds(TINY, ())


def test_claims_can_fail():
    good = {"baseline": [0.99, 0.35], "attention": [0.99, 0.9]}
    assert all(check_claims(good).values())
    assert not check_claims({**good, "baseline": [0.99, 0.7]})["collapse"]
    assert not check_claims({**good, "attention": [0.99, 0.6]})["gap"]
    assert not check_claims({**good, "attention": [0.9, 0.9]})["short"]


def _keys(tree) -> object:
    """The structure of a JSON tree: its keys, recursively, without the values."""
    if isinstance(tree, dict):
        return {k: _keys(v) for k, v in tree.items()}
    if isinstance(tree, list) and tree and isinstance(tree[0], dict):
        return [_keys(tree[0])]
    return type(tree).__name__ if not isinstance(tree, int | float) else "number"


def test_published_results_come_from_this_code():
    """What a change to the code would make stale: the structure, the config, the seeds, the data."""
    results = load_results()
    tiny = json.loads(json.dumps(run_seeds(TINY, (0, 1))))
    # "source", the hash of the code that trained them, is written by the command line (main), not by
    # run_seeds(); tests/test_results_fresh.py checks it against the current code.
    assert _keys({k: v for k, v in results.items() if k != "source"}) == _keys(tiny)
    assert results["config"] == json.loads(json.dumps(ExperimentConfig().__dict__))
    assert tuple(results["seeds"]) == SEEDS
    # The example's data is drawn from a seeded generator: exact on every machine,
    # whatever the (here untrained) model predicts.
    config = ExperimentConfig()
    example = experiment.alignment_example(experiment.build_model(config, attention=True), config)
    assert results["example"]["source"] == example["source"]
    assert results["example"]["target"] == example["target"]
    for name in MODELS:
        per_length = list(zip(*(r[name] for r in results["runs"]), strict=True))
        assert results[name] == [round(sum(a) / len(a), 4) for a in per_length]


def test_published_results_show_the_bottleneck():
    results = load_results()
    assert all(check_claims(results).values()), check_claims(results)
    for one in results["runs"]:  # and so does every seed on its own
        assert all(check_claims(one).values()), (one["seed"], check_claims(one))
    weights = torch.tensor(results["example"]["weights"])
    L = weights.shape[0]
    torch.testing.assert_close(weights.sum(-1), torch.ones(L), atol=1e-3, rtol=0)
    # The reversal alignment: every row puts its largest weight on the
    # anti-diagonal or the position right of it (the token just written; the
    # Bahdanau page explains why), and the decoded example is exact.
    peaks = weights.argmax(-1).tolist()
    assert all(p in (L - 1 - i, min(L - i, L - 1)) for i, p in enumerate(peaks)), peaks
    assert results["example"]["predicted"] == results["example"]["target"]


def test_the_tolerance_covers_every_cpu_path_we_measured():
    """results/cpu_paths.json: every seed trained under several CPU code paths of one machine."""
    paths, published = load_cpu_paths(), load_results()
    assert len(paths["paths"]) >= 3
    capabilities = {p["cpu_capability"] for p in paths["paths"].values()}
    assert len(capabilities) >= 2, capabilities  # at least two sets of ATen kernels
    by_seed = {r["seed"]: r for r in published["runs"]}
    largest = 0.0
    for name, path in paths["paths"].items():
        assert [r["seed"] for r in path["runs"]] == list(SEEDS), name
        for r in path["runs"]:
            assert all(check_claims(r).values()), (name, r["seed"], check_claims(r))
            for model in MODELS:
                diffs = [abs(a - b) for a, b in zip(r[model], by_seed[r["seed"]][model], strict=True)]
                largest = max(largest, *diffs)
    assert largest <= TOLERANCE, f"a CPU path differs by {largest}: raise TOLERANCE"
    assert largest >= TOLERANCE / 3, f"TOLERANCE {TOLERANCE} is far looser than the {largest} measured"
