"""scaled_dot_product_attention, and what the modules built on it refuse (found by probing the API)."""

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attention_notes.causal import CausalAttention, causal_mask
from attention_notes.multihead import MultiHeadAttention, MultiHeadAttentionWrapper
from attention_notes.scaled_dot_product import scaled_dot_product_attention
from attention_notes.trainable import SelfAttention

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def _qkv(*batch: int, T: int = 4, S: int = 5, d: int = 8) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(*batch, T, d, generator=g),
        torch.randn(*batch, S, d, generator=g),
        torch.randn(*batch, S, 6, generator=g),
    )


@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_equals_pytorch_sdpa_with_and_without_a_mask(batch):
    q, k, v = _qkv(*batch)
    context, attn_weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(context, F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(attn_weights.sum(-1), torch.ones(*batch, 4))
    mask = torch.rand(4, 5, generator=torch.Generator().manual_seed(1)) > 0.6
    mask[:, 0] = False  # every query keeps a key
    context, _ = scaled_dot_product_attention(q, k, v, mask=mask, scale=0.3)
    torch.testing.assert_close(context, F.scaled_dot_product_attention(q, k, v, attn_mask=~mask, scale=0.3))


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"key": _qkv(3)[1], "value": _qkv(3)[2]}, ValueError, "same batch dimensions"),
        ({"dropout": 0.1}, TypeError, "dropout must be an nn.Module"),
        ({"scale": "0.5"}, TypeError, r"scale must be a float > 0 .*, got str '0\.5'"),
        ({"scale": True}, TypeError, r"scale must be a float > 0 .*, got bool True"),
        ({"scale": float("nan")}, ValueError, "scale must be a finite number > 0"),
        ({"scale": -1.0}, ValueError, "scale must be a finite number > 0"),
        ({"mask": causal_mask(5)[:4].to("meta")}, ValueError, "mask must be on the device of query"),
        ({"mask": torch.ones(4, 5)}, TypeError, "mask must be a torch.bool tensor"),
        ({"query": _qkv(2)[0].to_sparse()}, TypeError, "query must be a dense tensor"),
    ],
)
def test_bad_arguments_get_clear_errors(change, error, message):
    q, k, v = _qkv(2)
    args = {"query": q, "key": k, "value": v, **change}
    with pytest.raises(error, match=message):
        scaled_dot_product_attention(**args)


@pytest.mark.parametrize("cls", [CausalAttention, MultiHeadAttention])
def test_a_state_dict_cannot_change_the_causal_mask(cls):
    torch.manual_seed(0)
    module = cls(8, 4, 6, 0.0, num_heads=2) if cls is MultiHeadAttention else cls(8, 4, 6, 0.0)
    state = module.state_dict()
    state["mask"] = torch.zeros(6, 6, dtype=torch.bool)  # every token sees every other one
    with pytest.raises(ValueError, match="must be the causal mask of context_length = 6"):
        module.load_state_dict(state)
    state["mask"] = torch.triu(torch.ones(6, 6), diagonal=1)  # the book's float mask loads
    module.load_state_dict(state)
    assert module.mask.dtype == torch.bool and torch.equal(module.mask, causal_mask(6))
    del state["mask"]  # and so does a checkpoint without one
    module.load_state_dict(state)
    assert torch.equal(module.mask, causal_mask(6))


def test_the_wrapper_checks_the_masks_of_its_heads():
    wrapper = MultiHeadAttentionWrapper(8, 4, 6, 0.0, num_heads=2)
    state = wrapper.state_dict()
    state["heads.1.mask"] = torch.zeros(6, 6, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"heads\.1\.mask in the state_dict"):
        wrapper.load_state_dict(state)


@pytest.mark.parametrize("cls", [CausalAttention, MultiHeadAttention, MultiHeadAttentionWrapper])
def test_any_real_dropout_works(cls):
    kwargs = {"num_heads": 2} if cls is not CausalAttention else {}
    module = cls(8, 4, 6, Fraction(1, 10), **kwargs).eval()
    context, _ = module(torch.randn(2, 5, 8))
    assert context.isfinite().all()


def test_both_paths_of_multi_head_attention_refuse_an_overflow():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 16, 8, 0.0, num_heads=2).eval()
    x = torch.randn(2, 8, 16) * 2e19
    with pytest.raises(ValueError, match="overflowed"):
        mha(x)
    with pytest.raises(ValueError, match=r"overflowed|contains inf"):
        mha(x, need_weights=False)


def test_sparse_input_is_refused_by_the_modules():
    with pytest.raises(TypeError, match="x must be a dense tensor"):
        SelfAttention(8, 4)(torch.randn(5, 8).to_sparse())


def test_dropout_module_is_applied_in_training_only():
    q, k, v = _qkv(2)
    drop = nn.Dropout(0.5)
    _, eval_weights = scaled_dot_product_attention(q, k, v, dropout=drop.eval())
    torch.testing.assert_close(eval_weights.sum(-1), torch.ones(2, 4))
    torch.manual_seed(0)
    _, train_weights = scaled_dot_product_attention(q, k, v, dropout=drop.train())
    kept = train_weights != 0
    assert not kept.all()
    torch.testing.assert_close(train_weights[kept], 2 * eval_weights[kept])
