"""tiled_attention against PyTorch's SDPA and torch.logsumexp, its gradients, its input checks and its peak memory."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from attention_notes.tiled import TiledStep, tiled_attention, tiled_attention_steps

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def _qkv(B, H, T, S, d, d_v=None, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(B, H, T, d, generator=g, dtype=dtype),
        torch.randn(B, H, S, d, generator=g, dtype=dtype),
        torch.randn(B, H, S, d if d_v is None else d_v, generator=g, dtype=dtype),
    )


def _allowed(T: int, S: int) -> torch.Tensor:
    """SDPA's boolean mask (True = attend) for bottom-right causal attention, built from its definition."""
    i = torch.arange(T)[:, None]
    j = torch.arange(S)[None, :]
    return j <= i + (S - T)  # (T, S)


@st.composite
def problems(draw):
    causal = draw(st.booleans())
    T = draw(st.integers(1, 12))
    S = draw(st.integers(T if causal else 1, 14))  # bottom-right causal needs T <= S
    return {
        "B": draw(st.integers(1, 2)),
        "H": draw(st.integers(1, 3)),
        "T": T,
        "S": S,
        "d": draw(st.integers(1, 6)),
        "d_v": draw(st.integers(1, 6)),
        # 1, non-dividing, dividing, equal to S and larger than S
        "block_size": draw(st.integers(1, S + 3)),
        "causal": causal,
        "scale": draw(st.none() | st.floats(0.05, 3.0)),
        "seed": draw(st.integers(0, 2**16)),
    }


def _reference(q, k, v, causal, scale):
    T, S = q.shape[-2], k.shape[-2]
    mask = _allowed(T, S) if causal else None
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    attn_scores = q @ k.mT * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)  # (B, H, T, S)
    if causal:
        attn_scores = attn_scores.masked_fill(~mask, -torch.inf)
    return out, torch.logsumexp(attn_scores, dim=-1)


@given(problems())
def test_equals_sdpa_and_logsumexp_exactly_in_float64(p):
    q, k, v = _qkv(p["B"], p["H"], p["T"], p["S"], p["d"], p["d_v"], seed=p["seed"])
    out, lse = tiled_attention(q, k, v, block_size=p["block_size"], causal=p["causal"], scale=p["scale"])
    ref_out, ref_lse = _reference(q, k, v, p["causal"], p["scale"])
    assert out.shape == ref_out.shape and lse.shape == ref_lse.shape
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lse, ref_lse, rtol=1e-12, atol=1e-12)


@given(problems())
def test_gradients_equal_sdpas_in_float64(p):
    q, k, v = _qkv(p["B"], p["H"], p["T"], p["S"], p["d"], p["d_v"], seed=p["seed"])
    g = torch.Generator().manual_seed(p["seed"] + 1)
    w_out = torch.randn(p["B"], p["H"], p["T"], v.shape[-1], generator=g, dtype=torch.float64)
    w_lse = torch.randn(p["B"], p["H"], p["T"], generator=g, dtype=torch.float64)

    def grads(fn):
        leaves = [x.clone().requires_grad_() for x in (q, k, v)]
        out, lse = fn(*leaves)
        ((out * w_out).sum() + (lse * w_lse).sum()).backward()
        return [x.grad for x in leaves]

    tiled = grads(lambda q, k, v: tiled_attention(q, k, v, p["block_size"], p["causal"], p["scale"]))
    reference = grads(lambda q, k, v: _reference(q, k, v, p["causal"], p["scale"]))
    for name, got, want in zip("qkv", tiled, reference, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10, msg=lambda m, n=name: f"d{n}: {m}")


@pytest.mark.parametrize("block_size", [1, 3, 4, 16, 17, 100])
@pytest.mark.parametrize("causal", [False, True])
def test_every_block_size_gives_the_same_result(block_size, causal):
    """1, not dividing S = 16, dividing it, equal to it, one more and far more."""
    q, k, v = _qkv(2, 2, 16, 16, 8)
    out, lse = tiled_attention(q, k, v, block_size=block_size, causal=causal)
    ref_out, ref_lse = _reference(q, k, v, causal, None)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lse, ref_lse, rtol=1e-12, atol=1e-12)


def test_causal_with_equal_lengths_is_pytorchs_is_causal():
    q, k, v = _qkv(1, 2, 9, 9, 4)
    out, _ = tiled_attention(q, k, v, block_size=4, causal=True)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, is_causal=True), rtol=1e-12, atol=1e-12
    )


def test_causal_is_aligned_bottom_right_as_for_a_cache():
    """The last query of a (T < S) block sees every key: it is the full sequence's last row."""
    q, k, v = _qkv(1, 1, 7, 7, 4)
    full, _ = tiled_attention(q, k, v, block_size=3, causal=True)
    tail, _ = tiled_attention(q[:, :, 4:], k, v, block_size=3, causal=True)
    torch.testing.assert_close(tail, full[:, :, 4:], rtol=1e-12, atol=1e-12)
    # And top-left alignment (PyTorch's is_causal) would differ from it.
    top_left = F.scaled_dot_product_attention(q[:, :, 4:], k, v, is_causal=True)
    assert not torch.allclose(tail, top_left)


def test_steps_show_the_running_max_and_sum_and_end_at_the_result():
    q, k, v = _qkv(1, 1, 3, 10, 4)
    steps = list(tiled_attention_steps(q, k, v, block_size=4))
    assert [(s.block, s.start, s.stop) for s in steps] == [(0, 0, 4), (1, 4, 8), (2, 8, 10)]
    assert all(isinstance(s, TiledStep) for s in steps)
    root = math.sqrt(1 / 2)  # sqrt(scale) on each side, scale 1 / sqrt(4)
    attn_scores = (q * root) @ (k * root).mT  # (1, 1, 3, 10)
    for s in steps:  # after each block, m and l are those of the keys seen so far
        seen = attn_scores[..., : s.stop]
        torch.testing.assert_close(s.running_max, seen.amax(-1), rtol=0, atol=0)
        torch.testing.assert_close(s.running_sum, torch.exp(seen - s.running_max[..., None]).sum(-1))
        weights = torch.exp(seen - s.running_max[..., None])
        torch.testing.assert_close(s.accumulator, weights @ v[:, :, : s.stop])
    last = steps[-1]
    out, lse = tiled_attention(q, k, v, block_size=4)
    torch.testing.assert_close(last.accumulator / last.running_sum[..., None], out, rtol=0, atol=0)
    torch.testing.assert_close(last.running_max + torch.log(last.running_sum), lse, rtol=0, atol=0)


def test_a_block_a_row_cannot_see_leaves_its_state_unchanged():
    """Causal, T = S = 9, blocks of 2: row 0 sees key 0 only, so after block 0 its running max,
    sum and accumulator stay exactly as they are (a blocked block adds exp(-inf) = 0), and finite."""
    q, k, v = _qkv(1, 1, 9, 9, 4)
    steps = list(tiled_attention_steps(q, k, v, block_size=2, causal=True))
    assert len(steps) == 5
    for s in steps:
        root = math.sqrt(1 / 2)  # sqrt(scale) on each side, scale 1 / sqrt(4)
        assert s.running_max[0, 0, 0] == (q[0, 0, 0] * root) @ (k[0, 0, 0] * root)  # the one score row 0 sees
        assert s.running_sum[0, 0, 0] == 1.0
        assert torch.equal(s.accumulator[0, 0, 0], v[0, 0, 0])
        assert torch.isfinite(s.running_max).all() and torch.isfinite(s.accumulator).all()
    # Row 3 sees keys 0..3: blocks 0 and 1, then nothing new.
    assert torch.equal(steps[1].accumulator[0, 0, 3], steps[-1].accumulator[0, 0, 3])
    assert not torch.equal(steps[0].accumulator[0, 0, 3], steps[1].accumulator[0, 0, 3])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_half_types_are_computed_in_float32_and_cast_back(dtype):
    q, k, v = (x.to(dtype) for x in _qkv(1, 2, 5, 7, 8, dtype=torch.float32))
    out, lse = tiled_attention(q, k, v, block_size=3, causal=True)
    assert out.dtype == dtype and lse.dtype == torch.float32
    ref_out, ref_lse = _reference(*(x.double() for x in (q, k, v)), True, None)
    if dtype == torch.float32:  # computed in float32 itself: float32's tolerance (1 ulp is 1.2e-7 at 1.0)
        torch.testing.assert_close(out, ref_out.to(dtype))
    else:  # computed in float32, rounded once to dtype: the reference rounded to dtype, all but exactly
        torch.testing.assert_close(out.double(), ref_out.to(dtype).double())
    torch.testing.assert_close(lse.double(), ref_lse, rtol=1e-5, atol=1e-5)


def _ok():
    return _qkv(1, 2, 3, 5, 4)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (lambda q, k, v: (q[0], k, v), {}, ValueError, r"q must be \(B, H, T, d\), got \(2, 3, 4\)"),
        (lambda q, k, v: ([[1.0]], k, v), {}, TypeError, "q must be a torch.Tensor"),
        (lambda q, k, v: (q, k[:, :1], v), {}, ValueError, r"same batch and head sizes \(B, H\)"),
        (lambda q, k, v: (q, k[..., :3], v), {}, ValueError, "k must have last dimension d"),
        (lambda q, k, v: (q, k, v[:, :, :4]), {}, ValueError, "v must have length S"),
        (lambda q, k, v: (q, k.float(), v), {}, TypeError, "q, k and v must have the same dtype"),
        (lambda q, k, v: (q.long(), k, v), {}, TypeError, "q must have a floating-point dtype"),
        (
            lambda q, k, v: (q, k, v),
            {"block_size": 0},
            ValueError,
            "block_size must be a positive int, got 0",
        ),
        (lambda q, k, v: (q, k, v), {"block_size": 2.0}, TypeError, "block_size must be a positive int"),
        (lambda q, k, v: (q, k, v), {"causal": 1}, TypeError, "causal must be a bool"),
        (lambda q, k, v: (q, k, v), {"scale": 0.0}, ValueError, "scale must be a finite number > 0"),
        (lambda q, k, v: (q, k, v), {"scale": math.nan}, ValueError, "scale must be a finite number > 0"),
        (
            lambda q, k, v: (k, q, q),
            {"causal": True},
            ValueError,
            "causal=True needs T <= S, got T = 5 .* S = 3",
        ),
        (lambda q, k, v: (q * 1e200, k * 1e200, v), {}, ValueError, "overflowed torch.float64"),
    ],
)
@pytest.mark.parametrize("fn", [tiled_attention, tiled_attention_steps])
def test_bad_input_gets_a_clear_error_before_any_step(fn, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        result = fn(*args(*_ok()), **kwargs)
        next(iter(result))  # the generator's checks run when it is called, not at the first step


def test_non_causal_allows_more_queries_than_keys():
    q, k, v = _qkv(1, 1, 6, 2, 4)
    out, lse = tiled_attention(q, k, v, block_size=1)
    ref_out, ref_lse = _reference(q, k, v, False, None)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(lse, ref_lse, rtol=1e-12, atol=1e-12)


# The child process that measures peak memory. glibc's dynamic mmap threshold
# would let freed blocks come back from the heap without raising the RSS, so
# the threshold is fixed by MALLOC_MMAP_THRESHOLD_ before the child starts
# (CONVENTIONS 13); peak_memory is the lab's, which the benchmarks use.
_PEAK_CHILD = r"""
import json, sys
import torch
from attention_notes.lab.benchmark import peak_memory
from attention_notes.tiled import tiled_attention

torch.set_num_threads(1)
T, d = int(sys.argv[1]), int(sys.argv[2])
g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(1, 1, T, d, generator=g) for _ in range(3))  # (B, H, T, d), float32
with torch.no_grad():
    peak = peak_memory(lambda: tiled_attention(q, k, v, block_size=128, causal=True))
print(json.dumps({"tiled": peak}))
"""

MMAP_THRESHOLD = 128 * 1024  # bytes; the value the benchmarks fix with mallopt


def measure_peak(T: int, d: int) -> dict:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_CHILD, str(T), str(d)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_tiled_forward_at_16k_tokens_stays_under_128_mib_an_eighth_of_the_score_matrix():
    """T = S = 16384, d = 64, one head, float32, without autograd (``torch.no_grad``).

    The explicit version builds the (T, S) scores, 16384² * 4 bytes = 1 GiB, before
    softmax builds as much again: its peak is at least that 1 GiB, whatever else it
    allocates (measured: about 2 GiB). So "under 128 MiB" is also "under one eighth of
    the explicit version", without building 2 GiB here. The child costs about 2 s to
    import torch and 3 s of CPU for the forward (one thread): too little to mark the
    test apart, so it runs in every ``make test``.
    """
    T, d = 16384, 64
    peak = measure_peak(T, d)["tiled"]
    if peak is None:
        pytest.skip("no /proc/self/status or clear_refs (not Linux): peak memory is not measured")
    score_matrix = T * T * 4  # bytes of the explicit version's float32 scores, a lower bound on its peak
    assert score_matrix == 2**30
    assert peak < 128 * 2**20, f"tiled forward peaked at {peak / 2**20:.1f} MiB"
    assert peak < score_matrix / 8
    # It still holds what it must: q, k, v are inputs, but out (4 MiB) and the accumulator are new.
    assert peak >= T * d * 4
