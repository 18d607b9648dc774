"""Bahdanau (additive) attention."""

import copy

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention_notes import AdditiveAttention
from tests.strategies import tensors

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def make(query_dim=5, key_dim=4, hidden_dim=6, seed=0):
    torch.manual_seed(seed)
    return AdditiveAttention(query_dim, key_dim, hidden_dim)


def all_ones(attn):
    """``attn`` with every projection weight 1, so that inputs near 1e38 overflow the projections."""
    with torch.no_grad():
        attn.W_query.weight.fill_(1.0)
        attn.W_key.weight.fill_(1.0)
    return attn


def inputs(B=3, S=7, Dq=5, Dk=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, Dq, generator=g), torch.randn(B, S, Dk, generator=g)


def test_parameters_read_like_the_equation():
    attn = make()
    names = {name: tuple(p.shape) for name, p in attn.named_parameters()}
    assert names == {"W_query.weight": (6, 5), "W_key.weight": (6, 4), "w_v.weight": (1, 6)}


def test_shapes_and_values_default_to_keys():
    attn = make()
    query, keys = inputs()
    context, attn_weights = attn(query, keys)
    assert context.shape == (3, 4) and attn_weights.shape == (3, 7)
    values = torch.randn(3, 7, 9)
    context, _ = attn(query, keys, values)
    assert context.shape == (3, 9)


@given(st.integers(1, 4), st.integers(1, 9), st.data())
def test_weights_sum_to_one_over_s(B, S, data):
    attn = make()
    query = data.draw(tensors((B, 5)))
    keys = data.draw(tensors((B, S, 4)))
    _, attn_weights = attn(query, keys)
    assert (attn_weights >= 0).all()
    torch.testing.assert_close(attn_weights.sum(dim=-1), torch.ones(B))


def test_padded_positions_get_zero_weight_and_do_not_leak():
    attn = make()
    query, keys = inputs(B=2, S=5)
    mask = torch.tensor([[False, False, False, True, True], [False, True, False, True, False]])
    context, attn_weights = attn(query, keys, key_padding_mask=mask)
    assert (attn_weights[mask] == 0).all()
    torch.testing.assert_close(attn_weights.sum(dim=-1), torch.ones(2))
    # Whatever is stored at padded positions cannot change the result.
    noisy = keys.clone()
    noisy[mask] = 1000.0
    context2, attn_weights2 = attn(query, noisy, key_padding_mask=mask)
    torch.testing.assert_close(context2, context)
    torch.testing.assert_close(attn_weights2, attn_weights)


def test_output_changes_when_the_keys_change():
    # A "decoder" that ignored its encoder states would pass every other test.
    attn = make()
    query, keys = inputs()
    context, attn_weights = attn(query, keys)
    changed = keys.clone()
    changed[:, 2] += 1.0
    context2, attn_weights2 = attn(query, changed)
    assert not torch.allclose(attn_weights2, attn_weights)
    assert not torch.allclose(context2, context)


def test_matches_a_direct_computation_of_the_formula():
    attn = make()
    query, keys = inputs(B=2, S=4)
    values = torch.randn(2, 4, 3)
    context, attn_weights = attn(query, keys, values)
    Wq, Wk, wv = attn.W_query.weight, attn.W_key.weight, attn.w_v.weight[0]
    for b in range(2):
        e = torch.stack([wv @ torch.tanh(Wq @ query[b] + Wk @ keys[b, j]) for j in range(4)])
        alpha = torch.exp(e) / torch.exp(e).sum()
        c = sum(alpha[j] * values[b, j] for j in range(4))
        torch.testing.assert_close(attn_weights[b], alpha)
        torch.testing.assert_close(context[b], c)


def test_gradients_reach_every_parameter():
    attn = make()
    query, keys = inputs()
    query.requires_grad_(True)
    keys.requires_grad_(True)
    context, _ = attn(query, keys, torch.randn(3, 7, 2))
    context.pow(2).sum().backward()
    for name, p in attn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert query.grad.abs().sum() > 0 and keys.grad.abs().sum() > 0


Q, K = inputs()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda a: a(Q[0], K), ValueError, r"query must be \(B, Dq\), got \(5,\)"),
        (lambda a: a(Q, K[0]), ValueError, r"keys must be \(B, S, Dk\), got \(7, 4\)"),
        (lambda a: a(Q[:, :3], K), ValueError, r"query must have size Dq = query_dim = 5, got 3"),
        (lambda a: a(Q, K[..., :2]), ValueError, r"keys must have size Dk = key_dim = 4, got 2"),
        (lambda a: a(Q[:2], K), ValueError, r"keys must have batch size B = query.shape\[0\] = 2, got 3"),
        (
            lambda a: a(Q, K, torch.randn(3, 6, 2)),
            ValueError,
            r"values must be \(B, S, Dv\) = \(3, 7, Dv\) like keys, got \(3, 6, 2\)",
        ),
        (
            lambda a: a(Q, K, key_padding_mask=torch.zeros(3, 7)),
            TypeError,
            r"key_padding_mask must be a bool tensor of shape \(B, S\), got torch.float32",
        ),
        (
            lambda a: a(Q, K, key_padding_mask=torch.zeros(3, 6, dtype=torch.bool)),
            ValueError,
            r"key_padding_mask must be \(B, S\) = \(3, 7\), got \(3, 6\)",
        ),
        (
            lambda a: a(Q, K, key_padding_mask=torch.ones(3, 7, dtype=torch.bool)),
            ValueError,
            r"masks every position",
        ),
        (lambda a: a(Q.tolist(), K), TypeError, r"query must be a torch\.Tensor"),
        (lambda a: a(Q, K.long()), TypeError, r"keys must have a floating-point dtype"),
        (lambda a: a(Q, torch.empty(3, 0, 4)), ValueError, r"keys must not be empty"),
        (lambda a: a(Q, K.masked_fill(K > 1, float("nan"))), ValueError, r"keys contains NaN"),
        # mixed dtypes and devices
        (
            lambda a: a(Q, K.double()),
            TypeError,
            r"query, keys and the module's parameters must have the same dtype, "
            r"got query torch\.float32, keys torch\.float64, the module's parameters torch\.float32",
        ),
        (
            lambda a: a.double()(Q.double(), K.double(), torch.randn(3, 7, 2)),
            TypeError,
            r"keys and values must have the same dtype, got keys torch\.float64, values torch\.float32",
        ),
        (
            lambda a: a(Q, K.to("meta")),
            ValueError,
            r"query, keys and the module's parameters must be on the same device, "
            r"got query on cpu, keys on meta, the module's parameters on cpu",
        ),
        (
            lambda a: a(Q, K, key_padding_mask=torch.zeros(3, 7, dtype=torch.bool, device="meta")),
            ValueError,
            r"keys and key_padding_mask must be on the same device",
        ),
        # finite inputs whose projections overflow: inf - inf in W_query q + W_key k
        (
            lambda a: all_ones(a)(torch.full((3, 5), 1e38), torch.full((3, 7, 4), -1e38)),
            ValueError,
            r"attn_scores = w_v\^T tanh\(W_query query \+ W_key keys\) overflowed torch\.float32 "
            r".* scale query or keys down",
        ),
    ],
)
def test_bad_input_is_rejected_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call(make())


@pytest.mark.parametrize(
    ("dims", "error", "message"),
    [
        ((0, 4, 6), ValueError, r"query_dim must be a positive int, got 0"),
        ((5, -1, 6), ValueError, r"key_dim must be a positive int, got -1"),
        ((5, 4, 2.5), TypeError, r"hidden_dim must be a positive int, got float 2\.5"),
        ((True, 4, 6), TypeError, r"query_dim must be a positive int, got bool True"),
        ((5, "4", 6), TypeError, r"key_dim must be a positive int, got str '4'"),
    ],
)
def test_bad_sizes_are_rejected(dims, error, message):
    with pytest.raises(error, match=message):
        AdditiveAttention(*dims)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_module_is_the_float32_module_rounded_once(dtype):
    # Projections, scores, softmax and context in float32, cast back once.
    # Computed in the half type, every step rounds and these bits differ.
    attn = make(8, 8, 16).to(dtype)
    g = torch.Generator().manual_seed(1)
    query = (torch.randn(4, 8, generator=g) * 3).to(dtype)
    keys = (torch.randn(4, 512, 8, generator=g) * 3).to(dtype)
    values = (torch.randn(4, 512, 64, generator=g) * 10).to(dtype)
    mask = torch.zeros(4, 512, dtype=torch.bool)
    mask[1, 100:] = True
    context, attn_weights = attn(query, keys, values, key_padding_mask=mask)
    assert context.dtype == attn_weights.dtype == dtype
    attn32 = copy.deepcopy(attn).float()
    context32, attn_weights32 = attn32(query.float(), keys.float(), values.float(), key_padding_mask=mask)
    assert torch.equal(context, context32.to(dtype))
    assert torch.equal(attn_weights, attn_weights32.to(dtype))


def test_float64_module_stays_float64():
    attn = make().double()
    query, keys = inputs()
    context, attn_weights = attn(query.double(), keys.double())
    assert context.dtype == attn_weights.dtype == torch.float64
    context32, _ = make()(query, keys)
    assert not torch.equal(context, context32.double())  # computed in float64, not float32 cast up
    torch.testing.assert_close(context, context32.double(), rtol=1e-5, atol=1e-6)


def test_padded_positions_may_overflow():
    # Only the positions that are attended to must give finite scores.
    attn = all_ones(make())
    query, keys = inputs(B=2, S=5)
    mask = torch.tensor([[False, False, False, True, True], [False] * 5])
    query = query.clone()
    query[0] = 1e38  # W_query q = +inf
    keys = keys.clone()
    keys[0, 3:] = -1e38  # W_key k = -inf at the padded positions: inf - inf = nan
    with pytest.raises(ValueError, match="overflowed"):
        attn(query, keys)
    context, attn_weights = attn(query, keys, key_padding_mask=mask)
    assert torch.isfinite(context).all() and (attn_weights[0, 3:] == 0).all()


def test_meta_module_gives_the_shapes():
    attn = make().to("meta")
    query, keys = torch.empty(3, 5, device="meta"), torch.empty(3, 7, 4, device="meta")
    mask = torch.zeros(3, 7, dtype=torch.bool, device="meta")
    context, attn_weights = attn(query, keys, torch.empty(3, 7, 9, device="meta"), key_padding_mask=mask)
    assert context.device.type == attn_weights.device.type == "meta"
    assert context.shape == (3, 9) and attn_weights.shape == (3, 7)
