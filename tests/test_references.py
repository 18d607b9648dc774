"""The LLM modules against independent references: the book's package and Hugging Face transformers.

- ``llms-from-scratch`` (the book's PyPI package, installed by the Makefile
  without its dependencies): ``llama3.compute_rope_params``, ``apply_rope``,
  ``GroupedQueryAttention`` and ``Llama3Model``, with weights loaded by name;
- ``transformers``: ``apply_rotary_pos_emb`` with ``LlamaRotaryEmbedding``'s
  tables, ``LlamaAttention`` (eager) and ``LlamaForCausalLM``, with weights
  copied, cached and uncached, and its greedy ``generate``.

Tiny configurations are built here with random weights: nothing is downloaded
(``HF_HUB_OFFLINE=1``). Comparisons run in float64, so the tolerances are tight.
"""

import importlib

import pytest
import torch

from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import KVCache
from attention_notes.llama import LlamaConfig, LlamaModel, generate
from attention_notes.rope import apply_rope, compute_rope_params

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")

HEADS = [(4, 4), (4, 2), (4, 1), (6, 3), (8, 2)]  # (num_heads, num_kv_groups): MHA, GQA, MQA, ...


@pytest.fixture(scope="module")
def hf():
    """transformers' Llama pieces, imported with the Hub offline (imported here: it takes seconds)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        transformers = importlib.import_module("transformers")
        llama = importlib.import_module("transformers.models.llama.modeling_llama")
        yield transformers, llama


@pytest.fixture(scope="module")
def book():
    """The book's ``llama3`` module (llms-from-scratch 1.0.19)."""
    return importlib.import_module("llms_from_scratch.llama3")


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def hf_config(
    transformers, emb_dim, n_heads, n_kv_groups, n_layers=1, vocab_size=50, hidden_dim=24, context_length=32
):
    return transformers.LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=emb_dim,
        intermediate_size=hidden_dim,
        num_hidden_layers=n_layers,
        num_attention_heads=n_heads,
        num_key_value_heads=n_kv_groups,
        max_position_embeddings=context_length,
        rope_theta=10_000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        attn_implementation="eager",
        # No special tokens: greedy generation must not stop at (or avoid) an end-of-sequence id.
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )


# The book's package.


@pytest.mark.parametrize(
    ("head_dim", "theta_base", "context_length"),
    [(2, 10_000.0, 5), (16, 10_000.0, 64), (64, 500_000.0, 4096)],
)
def test_rope_tables_equal_the_books(book, head_dim, theta_base, context_length):
    cos, sin = compute_rope_params(head_dim, theta_base, context_length)
    book_cos, book_sin = book.compute_rope_params(head_dim, theta_base, context_length)
    assert torch.equal(cos, book_cos)
    assert torch.equal(sin, book_sin)


@pytest.mark.parametrize("offset", [0, 3, 20])
def test_apply_rope_equals_the_books(book, offset):
    cos, sin = compute_rope_params(8, context_length=32, dtype=torch.float64)
    x = randn(2, 3, 5, 8)
    # The book's apply_rope has no offset: it takes the tables' first rows, so slice them.
    torch.testing.assert_close(
        apply_rope(x, cos, sin, offset), book.apply_rope(x, cos[offset:], sin[offset:])
    )


def test_the_same_seed_gives_the_books_weights(book):
    torch.manual_seed(0)
    theirs = book.GroupedQueryAttention(12, 16, 4, 2)
    torch.manual_seed(0)
    ours = GroupedQueryAttention(12, 16, 4, 2)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert all(torch.equal(ours.state_dict()[k], v) for k, v in theirs.state_dict().items())


@pytest.mark.parametrize(("num_heads", "num_kv_groups"), HEADS)
def test_grouped_query_attention_equals_the_books(book, num_heads, num_kv_groups):
    d_in, d_out, T = 10, num_heads * 4, 7
    theirs = book.GroupedQueryAttention(d_in, d_out, num_heads, num_kv_groups, dtype=torch.float64)
    ours = GroupedQueryAttention(d_in, d_out, num_heads, num_kv_groups, context_length=16).double()
    ours.load_state_dict(theirs.state_dict())  # by name, strictly
    cos, sin = book.compute_rope_params(4, context_length=16)
    x = randn(2, T, d_in)
    expected = theirs(x, torch.ones(T, T, dtype=torch.bool).triu(1), cos.double(), sin.double())
    context, _ = ours(x)
    torch.testing.assert_close(context, expected)
    torch.testing.assert_close(ours(x, need_weights=False)[0], expected)


def test_the_decoder_equals_the_books_llama3_model(book):
    cfg = LlamaConfig(
        vocab_size=50,
        context_length=32,
        emb_dim=16,
        n_heads=4,
        n_layers=2,
        hidden_dim=24,
        n_kv_groups=2,
        dtype=torch.float64,
    )
    torch.manual_seed(0)
    theirs = book.Llama3Model({**cfg.__dict__, "rope_freq": None}).eval()
    with torch.no_grad():
        for p in theirs.parameters():  # RMSNorm weights start at 1: random ones make the test see them
            p.uniform_(-0.5, 0.5)
    ours = LlamaModel(cfg).eval()
    ours.load_state_dict(theirs.state_dict())
    idx = torch.randint(0, 50, (2, 9), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours(idx), theirs(idx))


# Hugging Face transformers.


@pytest.mark.parametrize("offset", [0, 5])
def test_apply_rope_equals_hugging_faces_apply_rotary_pos_emb(hf, offset):
    transformers, llama = hf
    config = hf_config(transformers, emb_dim=32, n_heads=4, n_kv_groups=2)
    rotary = llama.LlamaRotaryEmbedding(config)
    q, k = randn(2, 4, 6, 8, seed=1), randn(2, 2, 6, 8, seed=2)
    position_ids = torch.arange(offset, offset + 6).expand(2, 6)  # (B, T)
    hf_cos, hf_sin = rotary(q, position_ids)  # (B, T, hd) each
    hf_q, hf_k = llama.apply_rotary_pos_emb(q, k, hf_cos, hf_sin)
    cos, sin = compute_rope_params(8, context_length=32, dtype=torch.float64)
    torch.testing.assert_close(apply_rope(q, cos, sin, offset), hf_q)
    torch.testing.assert_close(apply_rope(k, cos, sin, offset), hf_k)


def copy_attention(ours, theirs):
    """HF's q/k/v/o projections into the book's names."""
    with torch.no_grad():
        for mine, hf_name in (
            ("W_query", "q_proj"),
            ("W_key", "k_proj"),
            ("W_value", "v_proj"),
            ("out_proj", "o_proj"),
        ):
            getattr(ours, mine).weight.copy_(getattr(theirs, hf_name).weight)


@pytest.mark.parametrize(("num_heads", "num_kv_groups"), HEADS)
def test_grouped_query_attention_equals_hugging_faces_llama_attention(hf, num_heads, num_kv_groups):
    transformers, llama = hf
    d, T = num_heads * 4, 6
    config = hf_config(transformers, emb_dim=d, n_heads=num_heads, n_kv_groups=num_kv_groups)
    torch.manual_seed(0)
    theirs = llama.LlamaAttention(config, layer_idx=0).double().eval()
    ours = GroupedQueryAttention(d, d, num_heads, num_kv_groups, context_length=32).double()
    copy_attention(ours, theirs)
    x = randn(2, T, d)
    position_ids = torch.arange(T).expand(2, T)
    cos, sin = llama.LlamaRotaryEmbedding(config)(x, position_ids)
    additive_mask = torch.zeros(2, 1, T, T, dtype=torch.float64).masked_fill(
        torch.ones(T, T, dtype=torch.bool).triu(1), -torch.inf
    )
    hf_out, hf_weights = theirs(x, position_embeddings=(cos, sin), attention_mask=additive_mask)
    context, attn_weights = ours(x)
    torch.testing.assert_close(context, hf_out)
    torch.testing.assert_close(attn_weights, hf_weights)
    # A decode step with a cache: positions 0..3 prefilled, then 4 and 5.
    cache = KVCache()
    ours(x[:, :4], cache=cache)
    torch.testing.assert_close(ours(x[:, 4:], cache=cache, need_weights=False)[0], hf_out[:, 4:])


HF_NAMES = {
    "model.embed_tokens": "tok_emb",
    "model.norm": "final_norm",
    "lm_head": "out_head",
    "self_attn.q_proj": "att.W_query",
    "self_attn.k_proj": "att.W_key",
    "self_attn.v_proj": "att.W_value",
    "self_attn.o_proj": "att.out_proj",
    "mlp.gate_proj": "ff.fc1",
    "mlp.up_proj": "ff.fc2",
    "mlp.down_proj": "ff.fc3",
    "input_layernorm": "norm1",
    "post_attention_layernorm": "norm2",
    "model.layers": "trf_blocks",
}


def from_hf(state_dict):
    out = {}
    for name, tensor in state_dict.items():
        for theirs, ours in HF_NAMES.items():
            name = name.replace(theirs, ours)
        out[name] = tensor
    return out


@pytest.fixture(scope="module", params=[(4, 2), (4, 4), (4, 1)], ids=["gqa", "mha", "mqa"])
def twin_models(hf, request):
    """LlamaForCausalLM with random weights, and the package's decoder with the same weights."""
    transformers, _ = hf
    n_heads, n_kv_groups = request.param
    torch.manual_seed(0)
    theirs = (
        transformers.LlamaForCausalLM(hf_config(transformers, 16, n_heads, n_kv_groups, n_layers=2))
        .double()
        .eval()
    )
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            if "norm" in name:  # RMSNorm weights start at 1: random ones make the test see them
                p.uniform_(0.5, 1.5)
    cfg = LlamaConfig(
        vocab_size=50,
        context_length=32,
        emb_dim=16,
        n_heads=n_heads,
        n_layers=2,
        hidden_dim=24,
        n_kv_groups=n_kv_groups,
        dtype=torch.float64,
    )
    ours = LlamaModel(cfg).eval()
    ours.load_state_dict(from_hf(theirs.state_dict()))  # strict: every name maps
    return theirs, ours


def test_decoder_logits_equal_llama_for_causal_lm_cached_and_uncached(twin_models):
    theirs, ours = twin_models
    idx = torch.randint(0, 50, (2, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(idx).logits
        torch.testing.assert_close(ours(idx), expected)
        caches = ours.new_cache()
        parts = [ours(idx[:, :6], caches), ours(idx[:, 6:7], caches), ours(idx[:, 7:], caches)]
        torch.testing.assert_close(torch.cat(parts, dim=1), expected)
        # And Hugging Face's own cache, prefill then one step, agrees with both.
        prefill = theirs(idx[:, :9], use_cache=True)
        step = theirs(idx[:, 9:], cache=prefill.cache).logits
        torch.testing.assert_close(step, expected[:, 9:])


def test_greedy_tokens_equal_hugging_faces_generate(twin_models):
    theirs, ours = twin_models
    idx = torch.randint(0, 50, (2, 5), generator=torch.Generator().manual_seed(2))
    expected = theirs.generate(
        idx,
        attention_mask=torch.ones_like(idx),
        max_new_tokens=12,
        do_sample=False,
    )
    assert torch.equal(generate(ours, idx, 12, use_cache=True), expected)
    assert torch.equal(generate(ours, idx, 12, use_cache=False), expected)
