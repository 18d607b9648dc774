"""Properties of the naive and the stable softmax."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention_notes import softmax_naive, softmax_stable
from tests.strategies import tensors

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


@given(st.data())
def test_stable_matches_torch_and_sums_to_one(data):
    shape = data.draw(shapes)
    x = data.draw(tensors(shape, -50, 50))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    out = softmax_stable(x, dim=dim)
    torch.testing.assert_close(out, torch.softmax(x, dim=dim))
    torch.testing.assert_close(out.sum(dim=dim), torch.ones_like(out.sum(dim=dim)))
    assert (out >= 0).all()


@given(st.data())
def test_naive_matches_stable_on_moderate_inputs(data):
    shape = data.draw(shapes)
    x = data.draw(tensors(shape, -20, 20))
    torch.testing.assert_close(softmax_naive(x), softmax_stable(x))


@given(tensors((4,), -20, 20), st.floats(-1000, 1000, width=32))
def test_stable_is_shift_invariant(x, c):
    torch.testing.assert_close(softmax_stable(x + c), softmax_stable(x), atol=1e-4, rtol=1e-4)


@given(tensors((5,), 100, 10_000))
def test_stable_stays_finite_where_naive_overflows(x):
    naive = softmax_naive(x)
    stable = softmax_stable(x)
    assert torch.isnan(naive).all()  # every exp overflowed: inf / inf
    assert torch.isfinite(stable).all()
    torch.testing.assert_close(stable.sum(), torch.tensor(1.0))


@given(tensors((5,), -10_000, -200))
def test_stable_survives_underflow(x):
    assert torch.isnan(softmax_naive(x)).all()  # every exp underflowed: 0 / 0
    out = softmax_stable(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.sum(), torch.tensor(1.0))


def test_known_overflow_example():
    large = torch.tensor([1000.0, 1001.0, 1002.0])
    assert torch.isnan(softmax_naive(large)).all()
    torch.testing.assert_close(
        softmax_stable(large), torch.tensor([0.0900, 0.2447, 0.6652]), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("softmax", [softmax_naive, softmax_stable])
def test_neg_inf_gets_zero_weight(softmax):
    x = torch.tensor([[1.0, float("-inf"), 2.0]])
    out = softmax(x)
    assert out[0, 1] == 0
    torch.testing.assert_close(out.sum(dim=-1), torch.ones(1))


@pytest.mark.parametrize("softmax", [softmax_naive, softmax_stable])
@pytest.mark.parametrize(
    ("x", "dim", "error", "message"),
    [
        ([1.0, 2.0], -1, TypeError, r"x must be a torch\.Tensor .* got list"),
        (
            torch.tensor(1.0),
            -1,
            ValueError,
            r"x must be a tensor with at least one dimension, got a 0-d",
        ),
        (
            torch.tensor([1, 2]),
            -1,
            TypeError,
            r"x must have a floating-point dtype .* got torch\.int64",
        ),
        (torch.empty(2, 0), -1, ValueError, r"x must not be empty: .* got \(2, 0\)"),
        (torch.tensor([1.0, float("nan")]), -1, ValueError, r"x contains NaN"),
        (torch.tensor([1.0, float("inf")]), -1, ValueError, r"x contains \+inf"),
        (torch.tensor([[float("-inf")] * 2, [0.0, 1.0]]), -1, ValueError, r"all -inf"),
        (torch.ones(2, 3), 2, ValueError, r"dim must be in \[-2, 1\] .* got 2"),
        (torch.ones(2, 3), 1.0, TypeError, r"dim must be an int, got float"),
    ],
)
def test_bad_input_is_rejected_clearly(softmax, x, dim, error, message):
    with pytest.raises(error, match=message):
        softmax(x, dim=dim)


HALF = [torch.float16, torch.bfloat16]


@pytest.mark.parametrize("softmax", [softmax_naive, softmax_stable])
@pytest.mark.parametrize("dtype", HALF)
def test_half_precision_is_float32_rounded_once(softmax, dtype):
    # Computed in float32 and cast back: exactly torch's float32 softmax, rounded
    # once to dtype. Computing in dtype rounds exp and the division separately.
    x = (torch.randn(32, 64, generator=torch.Generator().manual_seed(0)) * 4).to(dtype)
    out = softmax(x)
    assert out.dtype == dtype
    assert torch.equal(out, torch.softmax(x.float(), dim=-1).to(dtype))


def test_naive_float16_does_not_overflow_below_88():
    # exp(12.) is already beyond float16's largest value, 65504.
    x = torch.tensor([10.0, 20.0, 30.0], dtype=torch.float16)
    out = softmax_naive(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.softmax(x.float(), dim=-1).half())


@pytest.mark.parametrize("softmax", [softmax_naive, softmax_stable])
def test_float64_stays_float64(softmax):
    x = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = softmax(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, torch.softmax(x, dim=-1), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("softmax", [softmax_naive, softmax_stable])
def test_meta_tensors_give_shapes_only(softmax):
    # A meta tensor has no values to check; the shape checks still apply.
    out = softmax(torch.empty(2, 3, device="meta"), dim=0)
    assert out.device.type == "meta" and out.shape == (2, 3)
    with pytest.raises(ValueError, match=r"dim must be in \[-2, 1\]"):
        softmax(torch.empty(2, 3, device="meta"), dim=2)
