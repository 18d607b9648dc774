"""The public API under hostile input: one test per item of the probe (../shared/reviews/api-probe.md, issue 19 §6).

C1 is the one silent wrong answer; B1-B9 were obscure errors; the rest were
refusals where PyTorch returns a finite result, and two matters of style.
"""

import io
import pickle
import re

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from attention_notes import (
    CausalAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    SelfAttention,
    causal_mask,
    scaled_dot_product_attention,
    softmax_stable,
)

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

CAUSAL_MODULES = {
    "CausalAttention": lambda n: CausalAttention(4, 4, n, 0.0),
    "MultiHeadAttention": lambda n: MultiHeadAttention(4, 4, n, 0.0, num_heads=2),
    "MultiHeadAttentionWrapper": lambda n: MultiHeadAttentionWrapper(4, 2, n, 0.0, num_heads=2),
}


def _masks(module: torch.nn.Module) -> list[torch.Tensor]:
    return [buf for name, buf in module.named_buffers() if name.endswith("mask")]


def _reset(module: torch.nn.Module) -> None:
    for sub in module.modules():
        if isinstance(sub, torch.nn.Linear):
            sub.reset_parameters()


# ---- C1: silent non-causal attention ------------------------------------------------------


@pytest.mark.parametrize("name", CAUSAL_MODULES)
def test_c1_mask_is_causal_after_meta_construction_and_to_empty(name):
    torch.manual_seed(0)
    with torch.device("meta"):
        module = CAUSAL_MODULES[name](64)
    module.to_empty(device="cpu")
    _reset(module)
    for mask in _masks(module):
        assert torch.equal(mask, causal_mask(64))
    x = torch.randn(2, 8, 4)
    context, attn_weights = module.eval()(x)
    assert attn_weights.triu(1).abs().max() == 0  # no weight on a later token
    assert torch.allclose(attn_weights.sum(-1), torch.ones(()))
    if isinstance(module, MultiHeadAttention):  # the explicit and the fused paths agree
        fused, _ = module(x, need_weights=False)
        torch.testing.assert_close(context, fused)
    # The usual way to load a large checkpoint: build on meta, then assign the loaded tensors.
    with torch.device("meta"):
        assigned = CAUSAL_MODULES[name](64)
    state = module.state_dict()
    for key in state:
        if key.endswith("mask"):
            state[key] = torch.zeros(64, 64, dtype=torch.bool)  # a wrong mask in the checkpoint...
    with pytest.raises(ValueError, match=r"mask in the state_dict must be the causal mask"):
        assigned.load_state_dict(state, assign=True)  # ...is refused by name
    assigned.load_state_dict(module.state_dict(), assign=True)
    for mask in _masks(assigned):
        assert torch.equal(mask, causal_mask(64))
    torch.testing.assert_close(assigned.eval()(x), (context, attn_weights))
    # Rewriting the mask after every move must not break the other moves.
    with torch.inference_mode():
        frozen = CAUSAL_MODULES[name](64)
    frozen.to("cpu").share_memory()
    for mask in _masks(frozen):
        assert torch.equal(mask, causal_mask(64)) and mask.is_shared()


# ---- B1-B9: obscure errors --------------------------------------------------------------------

F8 = torch.randn(2, 3, 4).to(torch.float8_e4m3fn)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: scaled_dot_product_attention(F8, F8, F8), "query"),
        (lambda: SelfAttention(4, 4).to(torch.float8_e4m3fn)(F8), "x"),
        (lambda: softmax_stable(F8), "x"),
    ],
)
def test_b1_float8_is_a_type_error_naming_the_argument_and_the_supported_dtypes(call, name):
    with pytest.raises(
        TypeError,
        match=rf"^{name} must have dtype torch\.float16, torch\.bfloat16, torch\.float32 or torch\.float64, "
        r"got torch\.float8_e4m3fn",
    ):
        call()


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors is in prototype stage")
@pytest.mark.parametrize("layout", [torch.strided, torch.jagged])
def test_b2_nested_tensor_is_a_type_error_naming_query(layout):
    nested = torch.nested.nested_tensor([torch.randn(2, 4), torch.randn(3, 4)], layout=layout)
    with pytest.raises(TypeError, match=r"^query must be a dense tensor, got a nested tensor"):
        scaled_dot_product_attention(nested, nested, nested)
    with pytest.raises(TypeError, match=r"^x must be a dense tensor, got a nested tensor"):
        CausalAttention(4, 4, 6, 0.0)(nested)


# torch warns that vmap runs its fused CPU kernel one sample at a time (no batching rule yet).
@pytest.mark.filterwarnings("ignore:There is a performance drop because we have not yet implemented")
@pytest.mark.parametrize(
    "name, need_weights",
    [(name, True) for name in ["SelfAttention", *CAUSAL_MODULES]] + [("MultiHeadAttention", False)],
)
def test_b3_per_sample_gradients_under_vmap_equal_a_loop(name, need_weights):
    torch.manual_seed(0)
    module = SelfAttention(4, 4) if name == "SelfAttention" else CAUSAL_MODULES[name](8)
    module.eval()
    kwargs = {} if need_weights else {"need_weights": False}
    params = {k: v.detach() for k, v in module.named_parameters()}
    buffers = dict(module.named_buffers())

    def loss(params, x):
        context, _ = functional_call(module, (params, buffers), (x,), kwargs)
        return context.square().sum()

    x = torch.randn(3, 5, 4)
    per_sample = vmap(grad(loss), in_dims=(None, 0))(params, x)
    for i in range(3):
        one = grad(loss)(params, x[i])
        for key in params:
            torch.testing.assert_close(per_sample[key][i], one[key])
    # and the function itself under vmap, against PyTorch's
    q, k, v = torch.randn(3, 5, 4), torch.randn(3, 5, 4), torch.randn(3, 5, 4)
    batched = vmap(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=causal_mask(5))[0])(q, k, v)
    torch.testing.assert_close(batched, F.scaled_dot_product_attention(q, k, v, is_causal=True))


@pytest.mark.parametrize(
    "device, error, message",
    [
        ("foo", ValueError, r"^device must name a device such as 'cpu', 'cuda' or 'meta', got 'foo'"),
        (5, TypeError, r"^device must be a torch\.device, a str such as 'cpu', or None, got int 5"),
        pytest.param(
            "cuda",
            ValueError,
            r"^device 'cuda' is not available here",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here"),
        ),
    ],
)
def test_b4_causal_mask_names_a_bad_device(device, error, message):
    with pytest.raises(error, match=message):
        causal_mask(3, device)
    assert causal_mask(3, torch.device("meta")).device.type == "meta"


@pytest.mark.parametrize("name", CAUSAL_MODULES)
def test_b5_huge_context_length_is_a_value_error_naming_the_mask_size(name):
    with pytest.raises(
        ValueError, match=r"^context_length = 10000000 needs a causal mask of 100,000,000,000,000 "
    ):
        CAUSAL_MODULES[name](10**7)
    # 10**5 used to take 10 GB without a word; on meta it costs nothing, so the old code built it.
    with torch.device("meta"), pytest.raises(ValueError, match=r"10,000,000,000 bytes \(9\.3 GiB\)"):
        CAUSAL_MODULES[name](10**5)
    CAUSAL_MODULES[name](2048)  # GPT-2's 1024 and more still fit


@pytest.mark.parametrize("name", CAUSAL_MODULES)
def test_b6_state_dict_with_a_meta_mask_loads(name):
    torch.manual_seed(0)
    with torch.device("meta"):
        meta_state = CAUSAL_MODULES[name](6).state_dict()
    module = CAUSAL_MODULES[name](6)
    state = module.state_dict()
    for key in state:
        if key.endswith("mask"):
            state[key] = meta_state[key]
    module.load_state_dict(state)
    for mask in _masks(module):
        assert torch.equal(mask, causal_mask(6))
    # a meta mask of the wrong shape is still refused, by its key
    key = next(k for k in state if k.endswith("mask"))
    state[key] = torch.empty(5, 5, dtype=torch.bool, device="meta")
    with pytest.raises(ValueError, match="^" + re.escape(key) + " in the state_dict must be the causal mask"):
        module.load_state_dict(state)


@pytest.mark.parametrize("name", ["SelfAttention", *CAUSAL_MODULES])
def test_b7_every_module_pickles_and_saves(name):
    torch.manual_seed(0)
    module = (SelfAttention(4, 4) if name == "SelfAttention" else CAUSAL_MODULES[name](6)).eval()
    x = torch.randn(2, 5, 4)
    copy = pickle.loads(pickle.dumps(module))
    torch.testing.assert_close(copy(x), module(x))
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    torch.testing.assert_close(loaded(x), module(x))
    # the loaded module still guards its mask
    for key in loaded.state_dict():
        if key.endswith("mask"):
            bad = loaded.state_dict()
            bad[key] = torch.zeros(6, 6, dtype=torch.bool)
            with pytest.raises(ValueError, match="must be the causal mask"):
                loaded.load_state_dict(bad)


def _ones_weights(module: torch.nn.Module, value: float) -> torch.nn.Module:
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(value)
    return module.eval()


@pytest.mark.parametrize(
    "make, x, kwargs",
    [
        # half precision: 300 * 300 * 4 = 360,000 > 65,504
        (lambda: SelfAttention(4, 4).half(), torch.full((3, 4), 300.0, dtype=torch.float16), {}),
        (lambda: CausalAttention(4, 4, 6, 0.0), torch.full((3, 4), 1e30), {}),
        (lambda: MultiHeadAttention(4, 4, 6, 0.0, num_heads=2), torch.full((3, 4), 1e30), {}),
        (
            lambda: MultiHeadAttention(4, 4, 6, 0.0, num_heads=2),
            torch.full((3, 4), 1e30),
            {"need_weights": False},
        ),
    ],
)
def test_b8_projection_overflow_names_x_and_says_scale_x_down(make, x, kwargs):
    module = _ones_weights(make(), 300.0 if x.dtype == torch.float16 else 1e10)
    with pytest.raises(
        ValueError,
        match=r"^the query projection of x overflowed torch\.float(16|32) .* although x is finite; scale x down",
    ):
        module(x, **kwargs)


def test_b9_sparse_mask_is_refused_as_not_dense():
    q = torch.randn(2, 3, 4)
    with pytest.raises(TypeError, match=r"^mask must be a dense tensor, got layout torch\.sparse_coo"):
        scaled_dot_product_attention(q, q, q, mask=causal_mask(3).to_sparse())


# ---- refusals where PyTorch returns a finite result -----------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_scores_that_overflow_only_after_the_product_are_computed_like_sdpa(dtype):
    q = torch.full((1, 2, 4), 1e19, dtype=dtype)
    context, attn_weights = scaled_dot_product_attention(q, q, q)
    torch.testing.assert_close(context, F.scaled_dot_product_attention(q, q, q))
    assert torch.isfinite(attn_weights).all()
    # A score that overflows to -inf is a weight of 0, as in SDPA; +inf is still refused.
    k = torch.tensor([[[1.0] * 4, [-3e19] * 4]])
    q, v = torch.full((1, 1, 4), 3e19), torch.randn(1, 2, 3)
    context, attn_weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(context, F.scaled_dot_product_attention(q, k, v))
    assert attn_weights.tolist() == [[[1.0, 0.0]]]
    with pytest.raises(ValueError, match="overflowed"):
        scaled_dot_product_attention(q, -k, v)


@pytest.mark.parametrize("factor", [40, 100])
def test_autocast_float16_is_computed_like_sdpa(factor):
    # 40: the probe's example; 100: scores beyond float16 even after the scaling by 1 / sqrt(d_k)
    torch.manual_seed(0)
    q = torch.randn(1, 4, 64) * factor
    with torch.autocast("cpu", dtype=torch.float16):
        context, attn_weights = scaled_dot_product_attention(q, q, q)
        reference = F.scaled_dot_product_attention(q, q, q)
    assert context.dtype == reference.dtype == torch.float16
    assert attn_weights.dtype == torch.float16
    torch.testing.assert_close(context, reference, atol=2e-2, rtol=1e-2)


def test_need_weights_never_changes_what_multi_head_attention_accepts():
    torch.manual_seed(0)
    mha = MultiHeadAttention(64, 64, 8, 0.0, num_heads=1).eval()
    with torch.no_grad():
        mha.W_query.weight.copy_(torch.eye(64))
        mha.W_key.weight.copy_(torch.eye(64))
    x = torch.randn(2, 4, 64) * 100  # scores near 100 * 100 * 64 / 8 = 80,000: beyond float16
    with torch.autocast("cpu", dtype=torch.float16):
        explicit, _ = mha(x)
        fused, none = mha(x, need_weights=False)
    assert none is None and explicit.dtype == fused.dtype
    torch.testing.assert_close(explicit, fused, atol=2e-2, rtol=1e-2)


def test_need_weights_never_changes_what_multi_head_attention_accepts_when_blocked_scores_overflow():
    # q0 . k1 overflows, but key 1 is later than query 0: the causal mask blocks that score.
    torch.manual_seed(0)
    mha = MultiHeadAttention(2, 2, 4, 0.0, num_heads=1).eval()
    with torch.no_grad():
        mha.W_query.weight.copy_(torch.tensor([[1e20, 0.0], [0.0, 0.0]]))
        mha.W_key.weight.copy_(torch.tensor([[1.0, 1e20], [0.0, 0.0]]))
    x = torch.eye(2)  # (T, d_in)
    explicit, attn_weights = mha(x)
    fused, _ = mha(x, need_weights=False)
    torch.testing.assert_close(explicit, fused)
    assert attn_weights.tolist() == [[[1.0, 0.0], [0.5, 0.5]]]


@pytest.mark.parametrize("name", CAUSAL_MODULES)
def test_module_score_overflow_says_scale_x_down(name):
    module = _ones_weights(CAUSAL_MODULES[name](6), 1.0)
    x = torch.full((3, 4), 1e19)  # projections 4e19 are finite, their scores are not
    with pytest.raises(ValueError, match=r"^attn_scores of x's queries and keys overflowed .* scale x down"):
        module(x)


@pytest.mark.parametrize("scale", [torch.tensor(0.5), True, "0.5"])
def test_scale_of_the_wrong_type_is_a_type_error(scale):
    q = torch.randn(3, 4)
    with pytest.raises(TypeError, match=r"^scale must be a float > 0 \(default 1 / sqrt\(d_k\)\), got "):
        scaled_dot_product_attention(q, q, q, scale=scale)
