"""The windowed-decoding benchmark (``make bench``): its published run, and the code that measures it.

The timings are data measured once by ``python -m attention_notes.lab.window_decoding``;
nothing is timed here. What is checked: the run covers what the sliding-window
page says (4,096 tokens, a window of 512, checkpoints every 256), the cache's
bytes are the ones the rule gives, and :func:`decode` on a small input keeps
the windowed cache flat and gives the windowed forward's outputs.
"""

import json
from pathlib import Path

import pytest
import torch

import attention_notes
from attention_notes.lab import window_decoding
from attention_notes.lab.window_decoding import CONFIG, decode, main

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

RESULTS = Path(attention_notes.__file__).parent / "results" / "window_decoding.json"
# Bytes per cached token: keys and values, num_kv_groups heads of head_dim numbers, float32.
PER_TOKEN = 2 * CONFIG["num_kv_groups"] * (CONFIG["d_out"] // CONFIG["num_heads"]) * 4


@pytest.fixture(scope="module")
def results():
    assert RESULTS.exists(), f"{RESULTS} is missing: run `make bench`"
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def test_the_run_decodes_4096_tokens_with_a_window_of_512(results):
    assert (results["tokens"], results["window"]) == (4096, 512)
    assert results["checkpoints"]["tokens"] == list(range(256, 4097, 256))
    assert results["machine"]["torch_threads"] == 1


def test_cache_bytes_are_flat_with_the_window_and_grow_without(results):
    checkpoints = results["checkpoints"]
    for tokens, window, full in zip(
        checkpoints["tokens"], checkpoints["window"]["nbytes"], checkpoints["full"]["nbytes"], strict=True
    ):
        assert full == tokens * PER_TOKEN
        assert window == min(tokens, results["window"]) * PER_TOKEN
    assert results["ratios"]["full_over_window_nbytes"] == 4096 / 512


def test_ratios_are_those_of_the_checkpoints(results):
    checkpoints, ratios = results["checkpoints"], results["ratios"]
    window, full = checkpoints["window"]["s_per_token"], checkpoints["full"]["s_per_token"]
    filled = checkpoints["tokens"].index(ratios["filled_at"])
    assert ratios["filled_at"] - 256 >= results["window"] > ratios["filled_at"] - 512
    assert ratios["full_over_window_time"] == pytest.approx(full[-1] / window[-1])
    assert ratios["window_last_over_filled_time"] == pytest.approx(window[-1] / window[filled])
    assert ratios["full_last_over_filled_time"] == pytest.approx(full[-1] / full[filled])
    # What the page says: without the window a token costs more at the end and grows faster.
    assert ratios["full_over_window_time"] > 1
    assert ratios["full_last_over_filled_time"] > ratios["window_last_over_filled_time"]


def test_decoding_equals_the_windowed_forward(results):
    assert results["same_output"] < 1e-5


def test_decode_keeps_the_window_flat_and_matches_the_forward():
    torch.manual_seed(0)
    layers = {
        "window": window_decoding._layers(8, 40),
        "full": window_decoding._layers(None, 40),
    }
    torch.testing.assert_close(layers["window"].W_query.weight, layers["full"].W_query.weight, rtol=0, atol=0)
    x = torch.randn(1, 40, CONFIG["d_in"])  # (1, T, d_in)
    seconds, nbytes, outputs = decode(layers, x)
    assert [len(s) for s in seconds.values()] == [40, 40]
    assert nbytes["full"] == [(p + 1) * PER_TOKEN for p in range(40)]
    assert nbytes["window"] == [min(p + 1, 8) * PER_TOKEN for p in range(40)]
    with torch.no_grad():
        for name, layer in layers.items():
            forward, _ = layer(x, need_weights=False)  # (1, T, d_out)
            torch.testing.assert_close(outputs[name], forward, rtol=0, atol=1e-5)
    assert not torch.allclose(outputs["window"], outputs["full"])  # the window changes the outputs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tokens", "0"], "--tokens must be at least 1, got 0"),
        (["--rounds", "0"], "--rounds must be at least 1, got 0"),
        (["--tokens", "300"], "--tokens must be a multiple of 256"),
    ],
)
def test_bad_arguments_are_named(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "w.json"), *args])
    assert message in capsys.readouterr().err


def test_a_short_run_writes_what_the_page_reads(tmp_path):
    out = tmp_path / "w.json"
    main(["--out", str(out), "--tokens", "512", "--rounds", "1"])
    run = json.loads(out.read_text(encoding="utf-8"))
    assert run["checkpoints"]["tokens"] == [256, 512]
    assert run["checkpoints"]["window"]["nbytes"] == [256 * PER_TOKEN, 512 * PER_TOKEN]
    assert run["ratios"]["filled_at"] is None  # no checkpoint lies past a window of 512 yet
    assert run["same_output"] < 1e-5
    assert "attention_notes.lab.window_decoding.decode" in run["source"]["functions"]
