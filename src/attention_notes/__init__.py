"""Attention Notes: the code behind the study notes on attention.

Every code block in the docs imports from this package, so the pages and the
code cannot drift apart. One module per concept, in the order of the site:

- :mod:`attention_notes.data`: the toy sentence "Your journey starts with one step".
- :mod:`attention_notes.softmax`: naive and numerically stable softmax.
- :mod:`attention_notes.simple_attention`: self-attention without trainable weights.
- :mod:`attention_notes.scaled_dot_product`: softmax(QKᵀ/√d_k)V, the function the modules below wrap.
- :mod:`attention_notes.trainable`: self-attention with trainable query, key and value projections.
- :mod:`attention_notes.causal`: causal attention: a mask hides later tokens; dropout on the weights.
- :mod:`attention_notes.multihead`: multi-head attention, as stacked heads and as one split projection.
- :mod:`attention_notes.additive`: Bahdanau (additive) attention.
- :mod:`attention_notes.seq2seq`: GRU encoder-decoders with and without attention.
- :mod:`attention_notes.experiment`: the long-sequence experiment (``python -m``).

Attention in today's LLMs, and a small decoder built from it:

- :mod:`attention_notes.kv_cache`: the KV cache, and the causal mask of a query shorter than the keys.
- :mod:`attention_notes.gqa`: grouped-query (and multi-query) attention, with RoPE and an optional cache.
- :mod:`attention_notes.rope`: rotary position embeddings, in both layouts, and the permutation between them.
- :mod:`attention_notes.llama`: a Llama-style decoder and greedy generation with and without the cache.

What the concepts share, and what the performance page reads:

- :mod:`attention_notes.checks`: the input checks, and the one dtype rule (``compute_dtype``).
- :mod:`attention_notes.masks`: boolean masks (True = blocked), such as the causal mask, and their checks.
- :mod:`attention_notes.performance`: the published benchmark runs, which the performance page reads.
- :mod:`attention_notes.cli`: what the command lines share (the experiment's and the lab's).

:mod:`attention_notes.lab` holds the tooling that readers never need: how the
site's figures are drawn and its measurements made. Nothing above imports it.

Shape legend (batch-first everywhere):

======  ==============================================
``B``   batch size
``T``   query / sequence length
``S``   source (key) length
``D``   embedding size
``H``   number of heads
``Dh``  hidden size of an RNN (the encoder-decoders)
======  ==============================================

Tensors are written ``(B, T, D)`` and so on; a leading ``...`` means
"any number of batch dimensions, including none".
"""

from attention_notes.additive import AdditiveAttention
from attention_notes.causal import CausalAttention
from attention_notes.data import TOKENS, journey_inputs
from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import KVCache
from attention_notes.llama import LlamaConfig, LlamaModel, generate
from attention_notes.masks import causal_mask
from attention_notes.multihead import MultiHeadAttention, MultiHeadAttentionWrapper
from attention_notes.rope import apply_rope, compute_rope_params
from attention_notes.scaled_dot_product import scaled_dot_product_attention
from attention_notes.seq2seq import Decoder, Encoder, Seq2Seq
from attention_notes.simple_attention import (
    all_scores,
    all_scores_loop,
    context_vector,
    context_vectors,
    query_scores,
    query_scores_loop,
    scores_to_weights,
    simple_self_attention,
    simple_self_attention_loop,
)
from attention_notes.softmax import softmax_naive, softmax_stable
from attention_notes.trainable import SelfAttention, SelfAttentionV1

__all__ = [
    "TOKENS",
    "AdditiveAttention",
    "CausalAttention",
    "Decoder",
    "Encoder",
    "GroupedQueryAttention",
    "KVCache",
    "LlamaConfig",
    "LlamaModel",
    "MultiHeadAttention",
    "MultiHeadAttentionWrapper",
    "SelfAttention",
    "SelfAttentionV1",
    "Seq2Seq",
    "all_scores",
    "all_scores_loop",
    "apply_rope",
    "causal_mask",
    "compute_rope_params",
    "context_vector",
    "context_vectors",
    "generate",
    "journey_inputs",
    "query_scores",
    "query_scores_loop",
    "scaled_dot_product_attention",
    "scores_to_weights",
    "simple_self_attention",
    "simple_self_attention_loop",
    "softmax_naive",
    "softmax_stable",
]
