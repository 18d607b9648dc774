"""The long-sequence experiment and the figures drawn from it."""

import json
from pathlib import Path

import pytest
import torch

from attention_notes.experiment import ExperimentConfig, load_results, main, reverse_batch, run
from attention_notes.figures import FIGURES, TEXT, write_all

ROOT = Path(__file__).resolve().parent.parent


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


def test_command_line_writes_json(tmp_path: Path, capsys):
    out = tmp_path / "r.json"
    main(["--out", str(out), "--steps", "2"])
    data = json.loads(out.read_text())
    assert set(data) >= {"lengths", "baseline", "attention", "seconds"}
    assert "baseline" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--out", str(out), "--steps", "0"])


def test_published_results_show_the_bottleneck():
    results = load_results()
    assert results["config"] == json.loads(json.dumps(ExperimentConfig().__dict__))
    base, att = results["baseline"], results["attention"]
    assert base[0] >= 0.9 and att[0] >= 0.9  # short: both accurate
    assert att[-1] - base[-1] >= 0.3  # long: attention far ahead
    assert results["seconds"] <= 60
    weights = torch.tensor(results["example"]["weights"])
    L = weights.shape[0]
    torch.testing.assert_close(weights.sum(-1), torch.ones(L), atol=1e-3, rtol=0)
    # The reversal alignment: every row puts its largest weight on the
    # anti-diagonal or the position right of it (the token just written; the
    # Bahdanau page explains why), and the decoded example is exact.
    peaks = weights.argmax(-1).tolist()
    assert all(p in (L - 1 - i, min(L - i, L - 1)) for i, p in enumerate(peaks)), peaks
    assert results["example"]["predicted"] == results["example"]["target"]


def test_committed_figures_are_up_to_date(tmp_path: Path):
    written = write_all(tmp_path)
    assert len(written) == len(FIGURES) * len(TEXT)
    for path in written:
        committed = ROOT / "docs/assets/figures" / path.name
        assert committed.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"{path.name} is stale: run `python -m attention_notes.figures --out docs/assets/figures`"
        )
