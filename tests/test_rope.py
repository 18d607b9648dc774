"""Rotary position embeddings: rotations keep norms, scores see only distances, the two layouts convert."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention_notes.rope import (
    apply_rope,
    apply_rope_interleaved,
    compute_rope_params,
    interleaved_to_halves,
    permute_qk_weight,
    rotate_half,
)

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_tables_have_the_documented_shape_and_values():
    cos, sin = compute_rope_params(4, theta_base=100.0, context_length=3)
    assert cos.shape == sin.shape == (3, 4)
    # theta_i = 100 ** (-2i / 4): 1 and 0.1, written twice; row m holds angle m * theta_i.
    angles = torch.tensor([[0.0, 0.0], [1.0, 0.1], [2.0, 0.2]]).repeat(1, 2)
    torch.testing.assert_close(cos, torch.cos(angles))
    torch.testing.assert_close(sin, torch.sin(angles))
    assert compute_rope_params(4, dtype=torch.float64)[0].dtype == torch.float64


def test_rotate_half_swaps_the_halves_with_a_sign():
    assert rotate_half(torch.tensor([1.0, 2.0, 3.0, 4.0])).tolist() == [-3.0, -4.0, 1.0, 2.0]


def test_position_zero_is_the_identity_and_pairs_rotate_as_2d_rotations():
    cos, sin = compute_rope_params(4, theta_base=100.0, context_length=8, dtype=torch.float64)
    x = randn(1, 1, 1, 4)
    torch.testing.assert_close(apply_rope(x, cos, sin), x)  # position 0: angle 0
    # At position 3, pair (x0, x2) turns by 3 rad and pair (x1, x3) by 0.3 rad.
    out = apply_rope(x, cos, sin, offset=3)[0, 0, 0]
    for i, angle in ((0, 3.0), (1, 0.3)):
        a, b = x[0, 0, 0, i], x[0, 0, 0, i + 2]
        c, s = math.cos(angle), math.sin(angle)
        torch.testing.assert_close(out[[i, i + 2]], torch.stack([a * c - b * s, a * s + b * c]))


@given(seed=st.integers(0, 2**16), half=st.integers(1, 8), T=st.integers(1, 12), offset=st.integers(0, 20))
def test_rotation_keeps_norms(seed, half, T, offset):
    hd = 2 * half
    cos, sin = compute_rope_params(hd, context_length=40, dtype=torch.float64)
    x = randn(2, 3, T, hd, seed=seed)
    for rope in (apply_rope, apply_rope_interleaved):
        torch.testing.assert_close(rope(x, cos, sin, offset).norm(dim=-1), x.norm(dim=-1))


@given(
    seed=st.integers(0, 2**16),
    half=st.integers(1, 8),
    m=st.integers(0, 60),
    n=st.integers(0, 60),
    shift=st.integers(0, 60),
)
def test_rotated_scores_depend_only_on_the_distance(seed, half, m, n, shift):
    """q at position m and k at position n score as q at m + shift and k at n + shift."""
    hd = 2 * half
    cos, sin = compute_rope_params(hd, context_length=128, dtype=torch.float64)
    q, k = randn(2, hd, seed=seed).view(2, 1, 1, 1, hd)  # (1, 1, 1, hd) each
    for rope in (apply_rope, apply_rope_interleaved):
        score = (rope(q, cos, sin, m) * rope(k, cos, sin, n)).sum()
        shifted = (rope(q, cos, sin, m + shift) * rope(k, cos, sin, n + shift)).sum()
        # Float32 angles (as the book and HF compute them) round m * theta to ~1e-5 at m = 120.
        torch.testing.assert_close(score, shifted, rtol=1e-4, atol=1e-4)


def test_rotated_scores_do_depend_on_the_distance():
    """Without this, a RoPE that did nothing would pass the test above."""
    cos, sin = compute_rope_params(8, context_length=16, dtype=torch.float64)
    q, k = randn(2, 1, 1, 1, 8)
    near = (apply_rope(q, cos, sin, 5) * apply_rope(k, cos, sin, 4)).sum()
    far = (apply_rope(q, cos, sin, 9) * apply_rope(k, cos, sin, 1)).sum()
    assert not torch.isclose(near, far)


def test_offset_rotates_as_the_later_rows_of_a_longer_sequence():
    cos, sin = compute_rope_params(6, context_length=10, dtype=torch.float64)
    x = randn(2, 3, 7, 6)
    full = apply_rope(x, cos, sin)
    torch.testing.assert_close(apply_rope(x[:, :, 4:], cos, sin, offset=4), full[:, :, 4:])


def test_half_types_come_back_in_their_dtype():
    cos, sin = compute_rope_params(8, context_length=4)
    x = randn(1, 2, 4, 8, dtype=torch.float32)
    out = apply_rope(x.bfloat16(), cos, sin)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), apply_rope(x.bfloat16().float(), cos, sin), atol=0.02, rtol=0.02)


def test_the_permutation_takes_interleaved_pairs_to_split_halves():
    assert interleaved_to_halves(6).tolist() == [0, 2, 4, 1, 3, 5]
    cos, sin = compute_rope_params(6, context_length=5, dtype=torch.float64)
    x = randn(1, 2, 5, 6)
    perm = interleaved_to_halves(6)
    torch.testing.assert_close(
        apply_rope(x[..., perm], cos, sin), apply_rope_interleaved(x, cos, sin)[..., perm]
    )


def test_the_layouts_differ_without_the_permutation():
    """Mixing the layouts up is the silent bug the permutation fixes."""
    cos, sin = compute_rope_params(8, context_length=5, dtype=torch.float64)
    x = randn(1, 1, 5, 8)
    assert not torch.allclose(apply_rope(x, cos, sin), apply_rope_interleaved(x, cos, sin))


@pytest.mark.parametrize(("num_heads", "num_kv_heads"), [(1, 1), (4, 2), (4, 1)])
def test_converted_weights_give_the_same_scores(num_heads, num_kv_heads):
    """Meta's interleaved checkpoint, converted row by row, scores alike under split-halves RoPE."""
    hd, d_in, T = 8, 12, 7
    cos, sin = compute_rope_params(hd, context_length=T, dtype=torch.float64)
    W_q, W_k = randn(num_heads * hd, d_in, seed=1), randn(num_kv_heads * hd, d_in, seed=2)
    x = randn(T, d_in, seed=3)

    def scores(W_q, W_k, rope):
        q = (x @ W_q.T).view(T, num_heads, hd).transpose(0, 1)  # (H, T, hd)
        k = (x @ W_k.T).view(T, num_kv_heads, hd).transpose(0, 1)  # (G, T, hd)
        k = k.repeat_interleave(num_heads // num_kv_heads, dim=0)  # (H, T, hd)
        return rope(q, cos, sin) @ rope(k, cos, sin).mT  # (H, T, T)

    meta = scores(W_q, W_k, apply_rope_interleaved)
    converted = scores(permute_qk_weight(W_q, num_heads), permute_qk_weight(W_k, num_kv_heads), apply_rope)
    torch.testing.assert_close(converted, meta)
    unconverted = scores(W_q, W_k, apply_rope)
    assert not torch.allclose(unconverted, meta)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: compute_rope_params(5), ValueError, "head_dim must be even"),
        (lambda: compute_rope_params(0), ValueError, "head_dim must be a positive int"),
        (lambda: compute_rope_params(4, theta_base=1.0), ValueError, "theta_base must be a number > 1"),
        (
            lambda: compute_rope_params(4, context_length=0),
            ValueError,
            "context_length must be a positive int",
        ),
        (lambda: compute_rope_params(4, dtype=torch.int64), TypeError, "dtype must be a floating-point"),
        (lambda: interleaved_to_halves(3), ValueError, "head_dim must be even"),
        (
            lambda: apply_rope(torch.ones(1, 2, 3), *compute_rope_params(4, context_length=8)),
            ValueError,
            "head_dim must be even",
        ),
        (
            lambda: apply_rope(torch.ones(1, 2, 6), *compute_rope_params(4, context_length=8)),
            ValueError,
            r"head_dim = x.shape\[-1\] = 6",
        ),
        (
            lambda: apply_rope(torch.ones(1, 5, 4), *compute_rope_params(4, context_length=8), offset=4),
            ValueError,
            r"4 \.\. 8 go past context_length = 8",
        ),
        (
            lambda: apply_rope_interleaved(torch.ones(1, 9, 4), *compute_rope_params(4, context_length=8)),
            ValueError,
            "go past context_length = 8",
        ),
        (
            lambda: apply_rope(torch.ones(1, 2, 4), *compute_rope_params(4, context_length=8), offset=-1),
            ValueError,
            "offset must be an int >= 0",
        ),
        (
            lambda: apply_rope(torch.ones(2, 4), torch.ones(8, 4), torch.ones(7, 4)),
            ValueError,
            "cos and sin must have the same shape",
        ),
        (
            lambda: apply_rope(torch.ones(4), *compute_rope_params(4, context_length=8)),
            ValueError,
            r"x must be \(..., T, head_dim\)",
        ),
        (lambda: permute_qk_weight(torch.ones(12, 3), 5), ValueError, "must split into num_heads = 5 heads"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
