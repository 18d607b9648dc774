"""What the performance page reads: the published runs, and the targets they meet."""

import pytest

from attention_notes.performance import load_benchmark, load_multihead

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def test_published_benchmark_meets_the_target():
    bench = load_benchmark()
    assert bench["lengths"] == [2**k for k in range(3, 13)]
    assert bench["dim"] == 64 and bench["dtype"] == "float32"
    ratios = dict(zip(bench["lengths"], bench["ratios"]["vectorised_over_sdpa"], strict=True))
    assert ratios[1024] <= 1.25 and ratios[4096] <= 1.25
    # Memory: at T = 4096 the package holds the scores and the weights, 2 x 64 MiB.
    peak = bench["results"]["vectorised"]["peak_bytes"][-1]
    assert 120 * 2**20 <= peak <= 200 * 2**20


def test_published_multihead_meets_the_target():
    bench = load_multihead()
    assert bench["lengths"] == [2**k for k in range(3, 13)] and bench["dtype"] == "float32"
    ratios = {
        name: dict(zip(bench["lengths"], series, strict=True)) for name, series in bench["ratios"].items()
    }
    # The package's fused path is no slower than PyTorch's module, as called and with the same kernel.
    for T in (1024, 4096):
        assert ratios["sdpa_over_nn_mha"][T] <= 1.1, T
        assert ratios["sdpa_over_nn_mha_sdpa"][T] <= 1.1, T
    # Memory at T = 4096: the explicit path holds H weight matrices of T x T float32 (4 x 64 MiB),
    # the fused path none of them.
    peak = {name: series["peak_bytes"][-1] for name, series in bench["results"].items()}
    assert peak["explicit"] >= 256 * 2**20
    assert peak["sdpa"] <= 32 * 2**20
