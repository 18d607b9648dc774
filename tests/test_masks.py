"""The package's masks: boolean, True = blocked, and importable where the pages import them."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import attention_notes
from attention_notes import causal
from attention_notes.masks import causal_mask

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def test_causal_mask_blocks_exactly_the_later_keys():
    mask = causal_mask(4)
    assert mask.dtype == torch.bool
    expected = [[j > i for j in range(4)] for i in range(4)]
    assert mask.tolist() == expected


@given(st.integers(1, 40))
def test_causal_mask_is_the_complement_of_tril(T):
    assert torch.equal(causal_mask(T), ~torch.tril(torch.ones(T, T, dtype=torch.bool)))


@pytest.mark.parametrize(
    ("T", "error", "message"),
    [
        (0, ValueError, r"T must be a positive int, got 0"),
        (2.0, TypeError, r"T must be a positive int, got float 2\.0"),
        (True, TypeError, r"T must be a positive int, got bool True"),
    ],
)
def test_causal_mask_rejects_bad_lengths(T, error, message):
    with pytest.raises(error, match=message):
        causal_mask(T)


def test_causal_mask_is_also_importable_from_the_causal_page_and_the_package():
    # The pages import it as `from attention_notes.causal import causal_mask` and from the package.
    assert causal.causal_mask is causal_mask
    assert attention_notes.causal_mask is causal_mask
