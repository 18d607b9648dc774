"""Heatmaps of attention weights on the toy sentence: simplified, causal (with its mask), per head.

Each is computed here from the package's modules, untrained, with the seeds
of the pages: ``toy-weights`` (the simplified self-attention page),
``causal-mask`` (the causal attention page) and ``head-weights`` (the
multi-head attention page).
"""

import math

import torch
from matplotlib import rc_context
from matplotlib.figure import Figure

from attention_notes.causal import CausalAttention
from attention_notes.data import TOKENS, journey_inputs
from attention_notes.lab.figures.style import STYLE
from attention_notes.masks import causal_mask
from attention_notes.multihead import MultiHeadAttention
from attention_notes.simple_attention import simple_self_attention

__all__ = [
    "TEXT",
    "load_causal_example",
    "load_head_weights",
    "load_toy_weights",
    "plot_causal_mask",
    "plot_head_weights",
    "plot_toy_weights",
]

# The words of the three heatmaps, and their alt text, in each language of the site.
TEXT = {
    "ja": {
        "query": "クエリ（見る側のトークン）",
        "key": "キー（見られる側のトークン）",
        "weight": "重み",
        "toy_title": "単純化したセルフアテンションの重み（各行の合計は 1）",
        "toy-weights_alt": (
            "6 × 6 のヒートマップ。行がクエリ、列がキーで、どちらも Your journey starts with one step の "
            "6 トークン。各マスは単純化したセルフアテンションの重みを小数第 2 位まで示し、各行の合計は 1。"
            "重みはすべて 0.10 から 0.24 の間にある。journey と starts の行では journey と starts の列が "
            "0.24 と 0.23 で最も大きく、1 行目では Your 自身が 0.21 で最も大きい。"
        ),
        "causal_mask_title": "因果マスク（True = 見てはいけない）",
        "causal_weights_title": "マスクしたアテンションの重み",
        "causal-mask_alt": (
            "6 × 6 のヒートマップ 2 枚。行がクエリ、列がキーで、"
            "どちらも Your journey starts with one step の 6 トークン。"
            "左は因果マスクで、対角線より右上のマスだけが True（見てはいけない位置）。"
            "右はマスクしたアテンションの重みで、右上は 0、各行の残りの重みの合計は 1。"
            "1 行目は Your 自身に 1.00、2 行目は 0.55 と 0.45、"
            "最終行は 6 トークンにほぼ均等に広がる。"
        ),
        "head": "ヘッド {h}",
        "head_weights_title": "MultiHeadAttention の各ヘッドの重み（シード 123、訓練前）",
        "head-weights_alt": (
            "6 × 6 のヒートマップ 2 枚で、MultiHeadAttention の 2 つのヘッドそれぞれの"
            "アテンションの重み。行がクエリ、列がキー。どちらも対角線より右上は 0 で、1 行目は 1.00。"
            "訓練前なので、残りの重みは各行でほぼ均等に分かれ、"
            "2 つのヘッドの違いは小数第 2 位に表れる程度。"
        ),
    },
    "en": {
        "query": "query (the token that looks)",
        "key": "key (the token looked at)",
        "weight": "weight",
        "toy_title": "Simplified self-attention weights (each row sums to 1)",
        "toy-weights_alt": (
            "A 6 by 6 heatmap, queries as rows and keys as columns, both the six tokens of Your journey "
            "starts with one step. Each cell gives a weight of simplified self-attention to two decimals, "
            "and each row sums to 1. All weights lie between 0.10 and 0.24. In the rows of journey and "
            "starts, the columns of journey and starts are largest, 0.24 and 0.23; in the first row, "
            "Your itself is largest, 0.21."
        ),
        "causal_mask_title": "Causal mask (True = may not look)",
        "causal_weights_title": "Masked attention weights",
        "causal-mask_alt": (
            "Two 6 by 6 heatmaps, queries as rows and keys as columns, both the six tokens of "
            "Your journey starts with one step. Left: the causal mask, True only above the diagonal, "
            "where a query would look at a later token. Right: the masked attention weights, 0 above "
            "the diagonal, each row's remaining weights summing to 1: the first row puts 1.00 on Your "
            "itself, the second 0.55 and 0.45, the last spreads almost evenly over all six tokens."
        ),
        "head": "head {h}",
        "head_weights_title": "Weights of each head of MultiHeadAttention (seed 123, untrained)",
        "head-weights_alt": (
            "Two 6 by 6 heatmaps, the attention weights of each of the two heads of MultiHeadAttention, "
            "queries as rows and keys as columns. Both are 0 above the diagonal and 1.00 in the first row. "
            "Untrained, each row splits its weight almost evenly, and the two heads differ only in the "
            "second decimal."
        ),
    },
}


def _weight_label(value: float) -> str:
    return "0" if value == 0 else f"{value:.2f}"  # exact zeros (masked) read differently from small weights


def _annotated_heatmap(ax, values, labels, vmax: float = 1.0, fontsize: float = 7):
    """Grey heatmap of a matrix of values in [0, vmax], with a label in each cell, readable on any shade."""
    image = ax.imshow(values, cmap="Greys", vmin=0, vmax=vmax)
    for i, (row, row_labels) in enumerate(zip(values, labels, strict=True)):
        for j, (value, label) in enumerate(zip(row, row_labels, strict=True)):
            color = "white" if value > 0.55 * vmax else "black"
            ax.text(j, i, label, ha="center", va="center", fontsize=fontsize, color=color)
    return image


def _token_axes(ax, tokens, t: dict, fontsize: float = 8) -> None:
    ax.set_xticks(
        range(len(tokens)), tokens, fontsize=fontsize, rotation=45, ha="left", rotation_mode="anchor"
    )
    ax.set_yticks(range(len(tokens)), tokens, fontsize=fontsize)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.tick_params(length=0)
    ax.set_xlabel(t["key"], fontsize=fontsize + 1)
    ax.set_ylabel(t["query"], fontsize=fontsize + 1)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)


def load_toy_weights() -> dict:
    """Simplified self-attention's weights on the toy sentence, (T, T): rows are queries, columns keys."""
    _, attn_weights = simple_self_attention(journey_inputs())  # (T, T)
    return {"tokens": TOKENS, "weights": attn_weights.tolist()}


def plot_toy_weights(example: dict, lang: str = "ja") -> Figure:
    """The T × T weights of the toy sentence, each cell labelled with its weight to 2 decimals.

    The grey scale stops at the next multiple of 0.1 above the largest weight, not
    at 1: without trainable weights, every weight lies between 0.09 and 0.24, and
    on a scale to 1 all cells would look alike.
    """
    t = TEXT[lang]
    tokens, weights = example["tokens"], example["weights"]
    vmax = math.ceil(max(max(row) for row in weights) * 10) / 10
    with rc_context(STYLE):
        fig = Figure(figsize=(5.0, 4.7), layout="constrained")
        ax = fig.subplots()
        image = _annotated_heatmap(
            ax, weights, [[_weight_label(w) for w in row] for row in weights], vmax=vmax, fontsize=10
        )
        _token_axes(ax, tokens, t, fontsize=11)
        fig.supxlabel(t["toy_title"], fontsize=12)  # under the whole figure: wider than the matrix
        fig.colorbar(image, ax=ax, shrink=0.8, label=t["weight"])
    return fig


def load_causal_example() -> dict:
    """The causal mask and the masked weights of the toy sentence, from a seed-789 CausalAttention.

    Seed 789 gives the three ``nn.Linear(3, 2)`` of the book's ``SelfAttention_v2``
    (the mask and dropout draw no random numbers), so the weights are the book's
    masked weights. The caller's random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(789)
        _, attn_weights = CausalAttention(3, 2, len(TOKENS), 0.0)(journey_inputs())  # (T, T)
    return {"tokens": TOKENS, "mask": causal_mask(len(TOKENS)).tolist(), "weights": attn_weights.tolist()}


def plot_causal_mask(example: dict, lang: str = "ja") -> Figure:
    """The causal mask (True = blocked) and the masked attention weights, side by side."""
    t = TEXT[lang]
    tokens = example["tokens"]
    with rc_context(STYLE):
        fig = Figure(figsize=(9.6, 4.6), layout="constrained")
        ax_mask, ax_weights = fig.subplots(1, 2)
        mask, weights = example["mask"], example["weights"]
        shades = [[0.7 if blocked else 0.0 for blocked in row] for row in mask]
        _annotated_heatmap(ax_mask, shades, [[str(blocked) for blocked in row] for row in mask])
        image = _annotated_heatmap(ax_weights, weights, [[_weight_label(w) for w in row] for row in weights])
        for ax, title in ((ax_mask, t["causal_mask_title"]), (ax_weights, t["causal_weights_title"])):
            _token_axes(ax, tokens, t)
            ax.set_title(title, fontsize=11, y=-0.1)
        fig.colorbar(image, ax=ax_weights, shrink=0.8, label=t["weight"])
    return fig


def load_head_weights() -> dict:
    """Each head's weights on the toy sentence, (H, T, T).

    From the book's seed-123 ``MultiHeadAttention(3, 2, 6, 0.0, num_heads=2)``;
    the caller's random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(123)
        mha = MultiHeadAttention(3, 2, len(TOKENS), 0.0, num_heads=2)
        _, attn_weights = mha(journey_inputs())  # (H, T, T)
    return {"tokens": TOKENS, "weights": attn_weights.tolist()}


def plot_head_weights(example: dict, lang: str = "ja") -> Figure:
    """One heatmap of attention weights per head, on one colour scale."""
    t = TEXT[lang]
    tokens, weights = example["tokens"], example["weights"]
    with rc_context(STYLE):
        fig = Figure(figsize=(4.6 * len(weights) + 0.8, 4.6), layout="constrained")
        axes = fig.subplots(1, len(weights), squeeze=False)[0]
        for h, (ax, head) in enumerate(zip(axes, weights, strict=True)):
            image = _annotated_heatmap(ax, head, [[_weight_label(w) for w in row] for row in head])
            _token_axes(ax, tokens, t)
            ax.set_title(t["head"].format(h=h + 1), fontsize=11, y=-0.1)
        fig.colorbar(image, ax=list(axes), shrink=0.8, label=t["weight"])
        fig.suptitle(t["head_weights_title"], fontsize=11)
    return fig
