"""The attention-memory benchmark measures what it says, and its published run supports the FlashAttention page.

The benchmark itself (``make bench``) takes minutes and is not run here. These
tests check its parts on small problems: the three methods compute the same
attention, a child process sees the score matrices the explicit path builds
and the tiled loop does not, a short run has the shape the page and the
figure read; and the published results say what the page says of them.
"""

import statistics
from itertools import pairwise

import pytest
import torch

from attention_notes.lab import attention_memory
from attention_notes.lab.attention_memory import (
    LENGTHS,
    METHODS,
    RATIOS,
    VARIANTS,
    make_problem,
    peak_in_child,
    run,
)
from attention_notes.masks import causal_mask
from attention_notes.performance import load_attention_memory
from attention_notes.provenance import source_record

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

MiB = 2**20


@pytest.mark.parametrize("causal", [False, True])
def test_the_three_methods_compute_the_same_attention(causal):
    """T = 300 is not a multiple of the block size, so the tiled loop's last block is short."""
    problem = make_problem(300, causal)
    with torch.no_grad():
        outputs = {name: fn(problem) for name, fn in METHODS.items()}
    reference = torch.softmax(problem.q @ problem.k.mT / 8, dim=-1)  # (1, 1, T, T), scale 1 / sqrt(64)
    if causal:
        reference = torch.softmax(
            (problem.q @ problem.k.mT / 8).masked_fill(causal_mask(300), -torch.inf), dim=-1
        )
    for name, out in outputs.items():
        assert out.shape == (1, 1, 300, 64), name
        torch.testing.assert_close(out, reference @ problem.v, rtol=1e-5, atol=1e-5, msg=name)


def test_every_method_and_variant_gets_the_same_inputs():
    plain, causal = make_problem(64, False), make_problem(64, True)
    for a, b in zip(plain[:3], causal[:3], strict=True):
        assert torch.equal(a, b)
    assert plain.mask is None and not plain.causal
    assert causal.causal and torch.equal(causal.mask, causal_mask(64))
    assert plain.q.dtype == torch.float32 and plain.q.shape == (1, 1, 64, 64)


def test_a_child_sees_the_explicit_paths_matrices_and_not_the_tiled_loops():
    """T = 2048: one float32 (T, T) matrix is 16 MiB; the explicit path holds the scores and the
    weights at once, the tiled loop a (T, 128) block of scores (1 MiB) and its exponentials."""
    T = 2048
    matrix = T * T * 4
    explicit = peak_in_child("explicit", T, causal=False)
    tiled = peak_in_child("tiled", T, causal=False)
    if explicit is None or tiled is None:
        pytest.skip("no /proc/self/clear_refs (not Linux): peak memory is not measured")
    assert explicit >= 2 * matrix, f"explicit peaked at {explicit / MiB:.1f} MiB"
    assert tiled < matrix / 2, f"tiled peaked at {tiled / MiB:.1f} MiB"
    assert tiled >= T * 128 * 4, "the block of scores is in the peak"


def test_a_bad_method_is_named():
    with pytest.raises(ValueError, match="method must be one of explicit, tiled, sdpa, got 'flash'"):
        peak_in_child("flash", 1024, causal=False)


def test_a_short_run_records_every_method_variant_length_and_ratio():
    data = run(lengths=(32, 64), memory_repeats=0, rounds=lambda T: 3)
    assert data["lengths"] == [32, 64] and data["rounds"] == [3, 3]
    assert (
        data["source"]["functions"]
        == source_record(attention_memory.timed_functions(), commit=False)["functions"]
    )
    assert "attention_notes.tiled._steps" in data["source"]["functions"]  # followed into the package
    assert data["machine"]["torch_threads"] == 1
    assert set(data["variants"]) == set(VARIANTS)
    for variant in data["variants"].values():
        assert set(variant["results"]) == set(METHODS)
        for result in variant["results"].values():
            assert len(result["median_s"]) == 2 and all(s > 0 for s in result["median_s"])
            assert result["peak_bytes"] == [None, None] and result["peak_runs"] == [[], []]
        assert set(variant["ratios"]) == {f"{a}_over_{b}" for a, b in RATIOS}
        assert all(len(r) == 2 and all(x > 0 for x in r) for r in variant["ratios"].values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-length", "1000"], "must be a power of 2 and at least 1024, got 1000"),
        (["--max-length", "512"], "must be a power of 2 and at least 1024, got 512"),
        (["--memory-repeats", "0"], "must be at least 1, got 0"),
    ],
)
def test_bad_arguments_get_a_clear_error(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        attention_memory.main(["--out", str(tmp_path / "r.json"), *args])
    assert message in capsys.readouterr().err


# --- the published run -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published():
    return load_attention_memory()


def test_the_published_run_is_complete(published):
    assert published["lengths"] == list(LENGTHS)
    assert (published["dim"], published["heads"], published["dtype"]) == (64, 1, "float32")
    assert published["block_size"] == attention_memory.BLOCK_SIZE == 128
    assert published["mmap_threshold"] == attention_memory.MMAP_THRESHOLD == 128 * 1024
    for variant in published["variants"].values():
        for result in variant["results"].values():
            assert len(result["median_s"]) == len(LENGTHS)
            for peak, runs in zip(result["peak_bytes"], result["peak_runs"], strict=True):
                assert len(runs) == published["memory_repeats"] and peak == max(runs)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_published_peaks_at_16k_tokens_are_the_issues(published, variant):
    """The page's claim: at T = 16384 the tiled forward stays under 128 MiB and under an eighth of the
    explicit path, which holds two 1 GiB matrices; and the memory of the tiled loop and of SDPA grows
    in proportion to T, not T squared (doubling T at most about doubles it)."""
    results = published["variants"][variant]["results"]
    at = published["lengths"].index(16384)
    explicit, tiled = results["explicit"]["peak_bytes"][at], results["tiled"]["peak_bytes"][at]
    assert explicit >= 2 * 2**30
    assert tiled < 128 * MiB and tiled < explicit / 8
    for name in ("tiled", "sdpa"):
        peaks = results[name]["peak_bytes"]
        growth = [b / a for a, b in pairwise(peaks)]
        assert max(growth) < 2.5, (name, growth)
    peaks = results["explicit"]["peak_bytes"]
    assert statistics.median(b / a for a, b in pairwise(peaks)) > 3.5


def test_published_ratios_are_those_of_the_published_times(published):
    """A per-round median ratio is not the ratio of the medians, but it is close to it on a quiet round;
    a ratio that belonged to other times (or swapped its terms) would be far off."""
    for variant in published["variants"].values():
        times = {name: result["median_s"] for name, result in variant["results"].items()}
        for a, b in RATIOS:
            for got, ta, tb in zip(variant["ratios"][f"{a}_over_{b}"], times[a], times[b], strict=True):
                assert got == pytest.approx(ta / tb, rel=0.25), (a, b)
