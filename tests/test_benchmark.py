"""The benchmark's machinery (not its timings: those are measured by `make bench`, not tested)."""

import torch

from attention_notes.benchmark import IMPLEMENTATIONS, load_benchmark, peak_memory, run


def test_all_implementations_compute_the_same_thing():
    x = torch.randn(12, 5, generator=torch.Generator().manual_seed(0))
    reference = IMPLEMENTATIONS["vectorised"](x)[0]
    for name, fn in IMPLEMENTATIONS.items():
        out = fn(x)
        context = out[0] if isinstance(out, tuple) else out
        torch.testing.assert_close(context, reference, atol=1e-5, rtol=1e-4, msg=name)


def test_peak_memory_sees_a_large_allocation():
    measured = peak_memory(lambda: torch.ones(4 * 2**20))  # 16 MiB of float32
    if measured is None:  # not Linux: nothing to measure with
        return
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
    assert data["machine"]["torch_threads"] == torch.get_num_threads()


def test_published_benchmark_meets_the_target():
    bench = load_benchmark()
    assert bench["lengths"] == [2**k for k in range(3, 13)]
    assert bench["dim"] == 64 and bench["dtype"] == "float32"
    ratios = dict(zip(bench["lengths"], bench["ratios"]["vectorised_over_sdpa"], strict=True))
    assert ratios[1024] <= 1.25 and ratios[4096] <= 1.25
    # Memory: at T = 4096 the package holds the scores and the weights, 2 x 64 MiB.
    peak = bench["results"]["vectorised"]["peak_bytes"][-1]
    assert 120 * 2**20 <= peak <= 200 * 2**20
