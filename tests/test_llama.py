"""The Llama-style decoder: its parts, cached and uncached generation, and its errors."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attention_notes.kv_cache import KVCache
from attention_notes.llama import FeedForward, LlamaConfig, LlamaModel, RMSNorm, generate

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

CFG = LlamaConfig(
    vocab_size=50,
    context_length=32,
    emb_dim=16,
    n_heads=4,
    n_layers=2,
    hidden_dim=24,
    n_kv_groups=2,
    dtype=torch.float64,
)


def make_model(cfg=CFG, seed=0):
    torch.manual_seed(seed)
    model = LlamaModel(cfg)
    with torch.no_grad():  # RMSNorm weights start at 1; random ones make the test see them
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return model.eval()


def test_rmsnorm_divides_by_the_root_mean_square_and_scales():
    norm = RMSNorm(4, eps=0.0)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    x = torch.tensor([[3.0, -3.0, 3.0, -3.0]])  # rms 3
    torch.testing.assert_close(norm(x), torch.tensor([[1.0, -2.0, 3.0, -4.0]]))
    assert RMSNorm(4, dtype=torch.bfloat16)(x.bfloat16()).dtype == torch.bfloat16


def test_swiglu_gates_with_silu():
    ff = FeedForward(2, 3)
    x = torch.randn(1, 4, 2)
    gate = torch.nn.functional.silu(x @ ff.fc1.weight.T)
    torch.testing.assert_close(ff(x), (gate * (x @ ff.fc2.weight.T)) @ ff.fc3.weight.T)


def test_logits_have_the_documented_shape_and_are_causal():
    model = make_model()
    idx = torch.randint(0, 50, (2, 7))
    logits = model(idx)
    assert logits.shape == (2, 7, 50)
    later_changed = idx.clone()
    later_changed[:, 5:] = (idx[:, 5:] + 1) % 50
    torch.testing.assert_close(
        model(later_changed)[:, :5], logits[:, :5]
    )  # earlier tokens never see later ones


@given(st.integers(1, 8), st.lists(st.integers(1, 4), min_size=1, max_size=5), st.integers(0, 2**16))
def test_cached_forward_in_chunks_equals_the_full_forward(prompt, chunks, seed):
    model = make_model(seed=seed % 4)
    T = prompt + sum(chunks)
    idx = torch.randint(0, 50, (2, T), generator=torch.Generator().manual_seed(seed))
    full = model(idx)
    caches, start, parts = model.new_cache(), 0, []
    for n in [prompt, *chunks]:
        parts.append(model(idx[:, start : start + n], caches))
        start += n
    torch.testing.assert_close(torch.cat(parts, dim=1), full)
    assert all(c.num_tokens == T for c in caches)


@pytest.mark.parametrize("n_kv_groups", [4, 2, 1])
def test_generate_gives_the_same_tokens_with_and_without_the_cache(n_kv_groups):
    cfg = LlamaConfig(**{**CFG.__dict__, "n_kv_groups": n_kv_groups})
    model = make_model(cfg)
    idx = torch.randint(0, 50, (2, 5), generator=torch.Generator().manual_seed(1))
    cached = generate(model, idx, max_new_tokens=12, use_cache=True)
    uncached = generate(model, idx, max_new_tokens=12, use_cache=False)
    assert cached.shape == (2, 17)
    assert torch.equal(cached, uncached)
    assert torch.equal(cached[:, :5], idx)
    # Greedy: each new token is the argmax of the logits of the sequence before it.
    logits = model(cached[:, :-1])
    assert torch.equal(logits[:, 4:].argmax(-1), cached[:, 5:])
    assert len(set(cached[0, 5:].tolist())) > 1  # a model that repeats one token would prove little


def test_generate_zero_tokens_returns_the_prompt():
    idx = torch.tensor([[1, 2, 3]])
    assert torch.equal(generate(make_model(), idx, 0), idx)


def test_the_model_has_the_books_state_dict_names():
    names = set(make_model().state_dict())
    assert {"tok_emb.weight", "final_norm.weight", "out_head.weight"} <= names
    assert {
        "trf_blocks.0.att.W_query.weight",
        "trf_blocks.0.att.W_key.weight",
        "trf_blocks.0.att.W_value.weight",
        "trf_blocks.0.att.out_proj.weight",
        "trf_blocks.0.ff.fc1.weight",
        "trf_blocks.0.ff.fc2.weight",
        "trf_blocks.0.ff.fc3.weight",
        "trf_blocks.0.norm1.weight",
        "trf_blocks.0.norm2.weight",
    } <= names


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: generate(make_model(), torch.zeros(1, 30, dtype=torch.long), 3),
            ValueError,
            "T = 30 tokens plus max_new_tokens = 3 go past context_length = 32",
        ),
        (
            lambda: generate(make_model(), torch.zeros(1, 3, dtype=torch.long), -1),
            ValueError,
            "max_new_tokens must be an int >= 0",
        ),
        (
            lambda: generate(make_model(), torch.zeros(1, 3, dtype=torch.long), 2, use_cache=1),
            TypeError,
            "use_cache must be a bool",
        ),
        (
            lambda: generate(torch.nn.Linear(2, 2), torch.zeros(1, 3, dtype=torch.long), 2),
            TypeError,
            "model must be a LlamaModel",
        ),
        (
            lambda: make_model()(torch.tensor([[1, 50]])),
            ValueError,
            r"token ids in \[0, vocab_size\) = \[0, 50\)",
        ),
        (lambda: make_model()(torch.zeros(1, 3)), TypeError, "idx must be a tensor of token ids"),
        (lambda: make_model()(torch.zeros(3, dtype=torch.long)), ValueError, r"idx must be \(B, T\)"),
        (
            lambda: make_model()(torch.zeros(1, 3, dtype=torch.long), [KVCache()]),
            TypeError,
            "caches must be a list of 2 KVCache",
        ),
        (
            lambda: LlamaModel(LlamaConfig(**{**CFG.__dict__, "n_kv_groups": 3})),
            ValueError,
            "num_kv_groups .* must divide num_heads = 4",
        ),
        (
            lambda: LlamaConfig(**{**CFG.__dict__, "dtype": torch.int32}),
            TypeError,
            "dtype must be a floating-point",
        ),
        (
            lambda: LlamaConfig(**{**CFG.__dict__, "n_layers": 0}),
            ValueError,
            "n_layers must be a positive int",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
