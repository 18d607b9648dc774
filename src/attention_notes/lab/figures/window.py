"""Figures of the sliding-window page: the window's mask, and decoding with and without it.

``window-mask`` is drawn from :func:`attention_notes.sliding_window.sliding_window_mask`
and :func:`attention_notes.causal.causal_mask` on the toy sentence's six
tokens; ``window-decoding`` from the published ``results/window_decoding.json``
(``make bench``, :mod:`attention_notes.lab.window_decoding`), so that each
shows what the package computes.
"""

import json
from importlib import resources

from matplotlib import rc_context
from matplotlib.figure import Figure

from attention_notes.causal import causal_mask
from attention_notes.data import TOKENS
from attention_notes.lab.figures.style import STYLE
from attention_notes.sliding_window import sliding_window_mask

__all__ = ["TEXT", "load_window_decoding", "load_window_masks", "plot_window_decoding", "plot_window_mask"]

# The words of the two figures, and their alt text, in each language of the site.
TEXT = {
    "ja": {
        "key": "キー",
        "query": "クエリ",
        "causal": "因果マスク",
        "window": "ウィンドウ W = 3",
        "sinks": "W = 3、シンク 1 つ",
        "window-mask_alt": (
            "例文の 6 つのトークンに対する真偽値のマスク 3 枚。黒いマスが見てはいけない位置。"
            "左の因果マスクでは、各クエリが自分と前のすべてのトークンを見る。"
            "中央のウィンドウ 3 では、各クエリが自分と直前の 2 つだけを見るので、"
            "見える位置が対角線に沿った帯になる。"
            "右はそれに先頭の 1 トークンをシンクとして加えたもので、帯に加えて左端の列がいつも見える。"
        ),
        "position": "デコードしたトークン数",
        "cache": "KV キャッシュ（KiB）",
        "time": "1 トークンの時間（ミリ秒）",
        "with_window": "ウィンドウ 512",
        "without": "ウィンドウなし",
        "cache_title": "キャッシュの大きさ",
        "time_title": "アテンション層 1 つの時間（CPU、1 スレッド）",
        "window-decoding_alt": (
            "折れ線グラフ 2 枚。横軸はデコードしたトークン数で、0 から 4096。"
            "左はキャッシュのバイト数で、ウィンドウなしの線は原点から一直線に増え続け、"
            "ウィンドウ 512 の線は 512 トークンで止まってそのあとは平らになる。"
            "右は 1 トークンあたりの時間で、ウィンドウなしの線は位置とともに上がり、"
            "ウィンドウ 512 の線はほぼ平らなまま。"
        ),
    },
    "en": {
        "key": "key",
        "query": "query",
        "causal": "causal mask",
        "window": "window W = 3",
        "sinks": "W = 3, one sink",
        "window-mask_alt": (
            "Three boolean masks over the six tokens of the toy sentence; black cells are blocked. Left, "
            "the causal mask: each query sees itself and every token before it. Middle, a window of 3: "
            "each query sees itself and the two tokens just before it, so what it sees is a band along the "
            "diagonal. Right, the same with the first token kept as a sink: the band, and the leftmost "
            "column always visible."
        ),
        "position": "tokens decoded",
        "cache": "KV cache (KiB)",
        "time": "time per token (ms)",
        "with_window": "window 512",
        "without": "no window",
        "cache_title": "Size of the cache",
        "time_title": "One attention layer (CPU, one thread)",
        "window-decoding_alt": (
            "Two line charts; the horizontal axis is the number of tokens decoded, 0 to 4096. Left, the "
            "cache's bytes: without a window the line rises straight from the origin and keeps rising; "
            "with a window of 512 it stops at 512 tokens and stays flat. Right, the time per token: "
            "without a window the line rises with the position; with the window it stays almost flat."
        ),
    },
}

WINDOW = 3  # the page's example: a window of 3
SINKS = 1  # and one sink


def load_window_masks() -> dict:
    """The causal mask, a window of 3, and a window of 3 with one sink, on the six tokens; True = blocked."""
    T = len(TOKENS)
    return {
        "causal": causal_mask(T).tolist(),  # (T, T)
        "window": sliding_window_mask(T, WINDOW).tolist(),  # (T, T)
        "sinks": sliding_window_mask(T, WINDOW, sink_tokens=SINKS).tolist(),  # (T, T)
    }


def plot_window_mask(masks: dict, lang: str = "ja") -> Figure:
    """The three masks side by side, rows and columns labelled with the tokens."""
    t = TEXT[lang]
    with rc_context(STYLE):
        fig = Figure(figsize=(9.0, 3.6), layout="constrained")
        axes = fig.subplots(1, 3, sharey=True)  # the query tokens labelled once, on the left
        for ax, name in zip(axes, ("causal", "window", "sinks"), strict=True):
            mask = masks[name]
            # One embedded image and a grid of lines: a light SVG (a mesh would be a path per cell).
            ax.imshow(
                [[0.8 if b else 0.0 for b in row] for row in mask],
                cmap="Greys",
                vmin=0,
                vmax=1,
                interpolation="none",
                extent=(0, len(mask[0]), len(mask), 0),
            )
            edges = range(len(mask) + 1)
            ax.set_xticks(edges, minor=True)
            ax.set_yticks(edges, minor=True)
            ax.grid(which="minor", color="#888888", linewidth=0.8)
            ax.tick_params(which="minor", length=0)
            ticks = [j + 0.5 for j in range(len(TOKENS))]
            ax.set_xticks(ticks, TOKENS, fontsize=8, rotation=60, ha="right", rotation_mode="anchor")
            ax.tick_params(length=0)
            ax.set_xlabel(t["key"], fontsize=9)
            ax.set_title(t[name], fontsize=10)
            for side in ("top", "right", "bottom", "left"):
                ax.spines[side].set_visible(False)
        axes[0].set_yticks([j + 0.5 for j in range(len(TOKENS))], TOKENS, fontsize=8)
        axes[0].set_ylabel(t["query"], fontsize=9)
    return fig


def load_window_decoding() -> dict:
    """The published run of ``make bench``'s windowed decoding (``results/window_decoding.json``)."""
    return json.loads(resources.files("attention_notes").joinpath("results/window_decoding.json").read_text())


def plot_window_decoding(results: dict, lang: str = "ja") -> Figure:
    """Cache bytes (left) and time per token (right) against the tokens decoded, windowed and not."""
    t = TEXT[lang]
    checkpoints = results["checkpoints"]
    tokens = checkpoints["tokens"]
    with rc_context(STYLE):
        fig = Figure(figsize=(9.0, 3.6), layout="constrained")
        ax_cache, ax_time = fig.subplots(1, 2)
        for name, label, fmt, colour in (  # lines without markers: the page carries the numbers in a table
            ("window", "with_window", "-", "#3f51b5"),
            ("full", "without", "--", "#c0392b"),
        ):
            run = checkpoints[name]
            # The cache starts empty: draw it from the origin.
            ax_cache.plot(
                [0, *tokens],
                [0, *(b / 2**10 for b in run["nbytes"])],
                fmt,
                color=colour,
                label=t[label],
                linewidth=2,
            )
            ax_time.plot(
                tokens, [s * 1e3 for s in run["s_per_token"]], fmt, color=colour, label=t[label], linewidth=2
            )
        ax_cache.set(xlabel=t["position"], ylabel=t["cache"], ylim=(0, None), xlim=(0, None))
        ax_cache.set_title(t["cache_title"], fontsize=10)
        ax_time.set(xlabel=t["position"], ylabel=t["time"], ylim=(0, None), xlim=(0, None))
        ax_time.set_title(t["time_title"], fontsize=10)
        ax_cache.legend(frameon=False, fontsize=9)  # the same lines in both panels: one legend
        for ax in (ax_cache, ax_time):
            ax.grid(alpha=0.3)
    return fig
