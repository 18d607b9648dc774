"""sliding_window_mask against its rule, for windows below, at and above T, with and without sinks."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention_notes.masks import causal_mask
from attention_notes.sliding_window import sliding_window_mask

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def _rule(T: int, window: int, sink_tokens: int, S: int) -> torch.Tensor:
    """The rule, one entry at a time: True where query i (at position i + S - T) may not see key j."""
    blocked = torch.ones(T, S, dtype=torch.bool)
    for i in range(T):
        p = i + S - T
        for j in range(S):
            if j <= p and (j > p - window or j < sink_tokens):
                blocked[i, j] = False
    return blocked


@given(
    T=st.integers(1, 12),
    window=st.integers(1, 15),  # smaller than, equal to and larger than T
    sink_tokens=st.integers(0, 4) | st.just(0),
)
def test_square_mask_follows_the_rule(T, window, sink_tokens):
    mask = sliding_window_mask(T, window, sink_tokens)
    assert mask.dtype == torch.bool and mask.shape == (T, T)
    assert torch.equal(mask, _rule(T, window, sink_tokens, T))


@given(
    T=st.integers(1, 8),
    extra=st.integers(0, 8),
    window=st.integers(1, 12),
    sink_tokens=st.integers(0, 4),
)
def test_the_last_rows_of_the_square_mask_are_the_bottom_right_mask(T, extra, window, sink_tokens):
    """T queries continuing a cache of S - T tokens see what the last T rows of the full mask see."""
    S = T + extra
    mask = sliding_window_mask(T, window, sink_tokens, S=S)
    assert mask.shape == (T, S)
    assert torch.equal(mask, _rule(T, window, sink_tokens, S))
    assert torch.equal(mask, sliding_window_mask(S, window, sink_tokens)[S - T :])


@pytest.mark.parametrize("T", [1, 5, 8])
def test_a_window_of_at_least_t_is_the_causal_mask(T):
    for window in (T, T + 1, 100):
        assert torch.equal(sliding_window_mask(T, window), causal_mask(T))
    if T > 1:
        assert not torch.equal(sliding_window_mask(T, T - 1), causal_mask(T))


def test_the_picture_for_window_3_with_one_sink():
    """Each row: the sink (column 0), then the last three keys; '#' is blocked."""
    rows = [
        "".join("#" if b else "." for b in row) for row in sliding_window_mask(6, 3, sink_tokens=1).tolist()
    ]
    assert rows == [
        ".#####",
        "..####",
        "...###",
        "....##",
        ".#...#",
        ".##...",
    ]


def test_window_1_sees_only_itself_and_every_row_sees_at_least_one_key():
    assert torch.equal(sliding_window_mask(5, 1), ~torch.eye(5, dtype=torch.bool))
    for window in range(1, 7):
        for sinks in range(0, 3):
            assert not sliding_window_mask(6, window, sinks).all(dim=-1).any()


def test_the_mask_is_made_on_the_device_asked_for():
    assert sliding_window_mask(3, 2, device="meta").device.type == "meta"


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((4, 0), {}, ValueError, "window must be a positive int, got 0"),
        ((4, 2.5), {}, TypeError, "window must be a positive int, got float"),
        ((4, True), {}, TypeError, "window must be a positive int, got bool"),
        ((0, 2), {}, ValueError, "T must be a positive int, got 0"),
        ((4, 2, -1), {}, ValueError, "sink_tokens must be an int >= 0, got -1"),
        ((4, 2, 1.0), {}, TypeError, "sink_tokens must be an int >= 0, got float"),
        ((4, 2), {"S": 3}, ValueError, "S must be >= T"),
        ((4, 2), {"S": 0}, ValueError, "S must be a positive int, got 0"),
    ],
)
def test_bad_arguments_get_a_clear_error(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        sliding_window_mask(*args, **kwargs)
