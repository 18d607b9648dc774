"""The toy data matches the book, so readers can check numbers against it."""

import pytest
import torch

from attention_notes import TOKENS, journey_inputs, simple_self_attention

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def test_tokens_and_shape():
    inputs = journey_inputs()
    assert TOKENS == ("Your", "journey", "starts", "with", "one", "step")
    assert inputs.shape == (len(TOKENS), 3)
    assert inputs.dtype == torch.float32


def test_values_match_the_book():
    # Rows for "Your" and "step", as printed in chapter 3.
    inputs = journey_inputs()
    assert torch.equal(inputs[0], torch.tensor([0.43, 0.15, 0.89]))
    assert torch.equal(inputs[5], torch.tensor([0.05, 0.80, 0.55]))


def test_book_results_for_journey():
    # z^(2) and the weights of x^(2), to the four decimals the book prints.
    context, attn_weights = simple_self_attention(journey_inputs())
    expected_weights = torch.tensor([0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581])
    expected_context = torch.tensor([0.4419, 0.6515, 0.5683])
    torch.testing.assert_close(attn_weights[1], expected_weights, atol=5e-5, rtol=0)
    torch.testing.assert_close(context[1], expected_context, atol=5e-5, rtol=0)


def test_each_call_returns_a_new_tensor():
    a = journey_inputs()
    a.zero_()
    assert journey_inputs().abs().sum() > 0


def test_dtype_argument():
    assert journey_inputs(torch.float64).dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.complex64, "float32", float])
def test_non_floating_dtypes_are_refused(dtype):
    # torch.int64 used to round every embedding (all below 1) to 0.
    with pytest.raises(TypeError, match=r"dtype must be a floating-point torch\.dtype .* got "):
        journey_inputs(dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_floating_dtypes_keep_the_values(dtype):
    inputs = journey_inputs(dtype)
    assert inputs.dtype == dtype
    # The same numbers, rounded once to dtype.
    assert torch.equal(inputs, journey_inputs(torch.float64).to(dtype))


def test_device_argument():
    inputs = journey_inputs(device="meta")
    assert inputs.device.type == "meta" and inputs.shape == (6, 3) and inputs.dtype == torch.float32
    assert journey_inputs(torch.float64, device=torch.device("cpu")).device.type == "cpu"
