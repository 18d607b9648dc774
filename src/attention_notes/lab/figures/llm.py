"""Figures of the part on today's LLMs: the decode-step mask, generation's time, grouped heads, RoPE.

``decode-mask`` (the KV cache page) is drawn from
:func:`attention_notes.kv_cache.bottom_right_causal_mask`, ``generation-time``
(the same page) from the published ``results/generation.json`` (``make bench``), ``gqa-heads`` (the
grouped-query attention page) from the grouping ``repeat_interleave`` gives,
and ``rope-rotation`` (the RoPE page) from :mod:`attention_notes.rope`, so
that each shows what the package computes.
"""

import json
from importlib import resources

import torch
from matplotlib import rc_context
from matplotlib.figure import Figure

from attention_notes.kv_cache import bottom_right_causal_mask
from attention_notes.lab.figures.style import STYLE
from attention_notes.rope import apply_rope, compute_rope_params

__all__ = [
    "TEXT",
    "load_decode_masks",
    "load_generation",
    "load_gqa_grouping",
    "load_rope_rotation",
    "plot_decode_mask",
    "plot_generation_time",
    "plot_gqa_heads",
    "plot_rope_rotation",
]

# The words of the four figures, and their alt text, in each language of the site.
TEXT = {
    "ja": {
        "key": "キー（位置）",
        "query": "クエリ（位置）",
        "top_left": "is_causal=True（左上にそろえる）：誤り",
        "bottom_right": "右下にそろえたマスク：正しい",
        "decode": "デコードの 1 ステップ",
        "decode-mask_alt": (
            "真偽値のマスク 3 枚。黒いマスが見てはいけない位置。キーは 6 トークン、位置 0 から 5。"
            "左はクエリが位置 4 と 5 の 2 つのとき、PyTorch の is_causal=True が作るマスクで、"
            "1 つ目のクエリはキー 0 だけ、2 つ目はキー 0 と 1 だけを見る。"
            "中央は同じクエリに右下にそろえたマスクで、1 つ目のクエリはキー 0 から 4、"
            "2 つ目は 6 つすべてを見る。右はクエリが 1 つのデコードのステップで、何も塞がない。"
        ),
        "query_head": "クエリヘッド",
        "kv_head": "KV ヘッド",
        "interleave_title": "repeat_interleave：正しい",
        "repeat_title": "repeat：誤り",
        "gqa-heads_alt": (
            "4 つのクエリヘッドと 2 つの KV ヘッドを線で結んだ図 2 枚。"
            "左の repeat_interleave では、クエリヘッド 0 と 1 が KV ヘッド 0 を、"
            "2 と 3 が KV ヘッド 1 を共有する。"
            "右の repeat では、クエリヘッド 0 と 2 が KV ヘッド 0 を、1 と 3 が KV ヘッド 1 を使い、"
            "ヘッド 1 と 2 が学習したのとは違うキーとバリューを読む。"
        ),
        "pair_title": "1 組目の 2 次元（θ = 1）：位置ごとに 1 ラジアン回る",
        "score_title": "回転後のスコアは距離 n − m だけで決まる",
        "distance": "キーの位置 − クエリの位置",
        "score": "スコア",
        "from_m": "クエリの位置 m = {m}",
        "position": "デコードするトークンの位置",
        "step_time": "1 ステップの時間（ミリ秒）",
        "cached": "KV キャッシュあり",
        "uncached": "キャッシュなし（毎回系列全体）",
        "generation_title": "1 層のデコーダ（d = 256、8 ヘッド、KV ヘッド 2、CPU）",
        "generation-time_alt": (
            "デコードの 1 ステップにかかる時間を、トークンの位置 128 から 2048 に対して描いた折れ線グラフ。"
            "キャッシュありの線はほぼ平らで、キャッシュなしの線は位置とともに増え、"
            "位置 2048 ではキャッシュありの何倍もかかる。"
        ),
        "rope-rotation_alt": (
            "2 枚の図。左は、同じ 2 次元のベクトルを位置 0 から 5 で回転させた矢印で、"
            "位置が 1 増えるごとに 1 ラジアンずつ反時計回りに回り、長さは変わらない。"
            "右は、クエリを位置 m、キーを位置 n に置いて回転させたときのスコアを、"
            "距離 n − m に対して描いた折れ線で、m = 0 と m = 20 の 2 本の線はぴったり重なる。"
        ),
    },
    "en": {
        "key": "key (position)",
        "query": "query (position)",
        "top_left": "is_causal=True (top-left): wrong",
        "bottom_right": "bottom-right mask: right",
        "decode": "one decode step",
        "decode-mask_alt": (
            "Three boolean masks; black cells are blocked. The keys are six tokens, positions 0 to 5. "
            "Left: two queries, positions 4 and 5, with the mask PyTorch's is_causal=True builds: the "
            "first query sees key 0 only, the second keys 0 and 1. Middle: the same queries with the "
            "mask aligned bottom-right: the first sees keys 0 to 4, the second all six. Right: one "
            "query, a decode step, which blocks nothing."
        ),
        "query_head": "query heads",
        "kv_head": "key/value heads",
        "interleave_title": "repeat_interleave: right",
        "repeat_title": "repeat: wrong",
        "gqa-heads_alt": (
            "Two diagrams joining four query heads to two key/value heads. Left, repeat_interleave: "
            "query heads 0 and 1 share key/value head 0, heads 2 and 3 share key/value head 1. Right, "
            "repeat: query heads 0 and 2 read key/value head 0 and heads 1 and 3 read key/value head 1, "
            "so heads 1 and 2 read keys and values they were not trained with."
        ),
        "pair_title": "The first pair (θ = 1): one radian per position",
        "score_title": "Rotated scores depend on n − m only",
        "distance": "key position − query position",
        "score": "score",
        "from_m": "query at m = {m}",
        "position": "position of the token decoded",
        "step_time": "time of one step (ms)",
        "cached": "with the KV cache",
        "uncached": "without (the whole sequence each step)",
        "generation_title": "One-layer decoder (d = 256, 8 heads, 2 key/value heads, CPU)",
        "generation-time_alt": (
            "Line chart of the time of one decoding step against the token's position, 128 to 2048. "
            "With the cache the line is almost flat; without it the line rises with the position, "
            "and at position 2048 a step takes many times as long as with the cache."
        ),
        "rope-rotation_alt": (
            "Two plots. Left: arrows of the same two-dimensional vector rotated for positions 0 to 5; "
            "each step turns it one radian anticlockwise, and its length stays the same. Right: the "
            "score of a query rotated to position m and a key rotated to position n, against the "
            "distance n − m; the lines for m = 0 and m = 20 lie exactly on top of each other."
        ),
    },
}

DECODE_KEYS = 6  # the toy sentence's six tokens


def load_decode_masks() -> dict:
    """Top-left (is_causal=True) and bottom-right masks, (T, S) = (2, 6), and a decode step, (1, 6).

    True = blocked, as everywhere in the package.
    """
    top_left = ~torch.ones(2, DECODE_KEYS, dtype=torch.bool).tril()  # (2, 6): SDPA's mask, inverted
    return {
        "top_left": top_left.tolist(),
        "bottom_right": bottom_right_causal_mask(2, DECODE_KEYS).tolist(),  # (2, 6)
        "decode": bottom_right_causal_mask(1, DECODE_KEYS).tolist(),  # (1, 6)
    }


def plot_decode_mask(masks: dict, lang: str = "ja") -> Figure:
    """The three masks side by side, rows labelled with each query's position among the keys."""
    t = TEXT[lang]
    with rc_context(STYLE):
        fig = Figure(figsize=(9.0, 2.1), layout="constrained")
        axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 1]})
        for ax, name in zip(axes, ("top_left", "bottom_right", "decode"), strict=True):
            mask = masks[name]
            first = DECODE_KEYS - len(mask)  # the queries are the last tokens
            ax.pcolormesh(
                [[0.8 if b else 0.0 for b in row] for row in mask],
                cmap="Greys",
                vmin=0,
                vmax=1,
                edgecolors="#888888",
                linewidth=0.8,
            )
            ax.set_aspect("equal")
            ax.invert_yaxis()
            ax.set_xticks(
                [j + 0.5 for j in range(DECODE_KEYS)], [str(j) for j in range(DECODE_KEYS)], fontsize=9
            )
            ax.set_yticks(
                [i + 0.5 for i in range(len(mask))], [str(first + i) for i in range(len(mask))], fontsize=9
            )
            ax.tick_params(length=0)
            ax.set_xlabel(t["key"], fontsize=9)
            ax.set_ylabel(t["query"], fontsize=9)
            ax.set_title(t[name], fontsize=10)
            for side in ("top", "right", "bottom", "left"):
                ax.spines[side].set_visible(False)
    return fig


def load_gqa_grouping(num_heads: int = 4, num_kv_groups: int = 2) -> dict:
    """The key/value head each query head reads, with repeat_interleave (right) and repeat (wrong)."""
    kv_heads = torch.arange(num_kv_groups)  # (G,)
    group_size = num_heads // num_kv_groups
    return {
        "interleave": kv_heads.repeat_interleave(group_size).tolist(),  # (H,): 0 0 1 1
        "repeat": kv_heads.repeat(group_size).tolist(),  # (H,): 0 1 0 1
        "num_kv_groups": num_kv_groups,
    }


def plot_gqa_heads(grouping: dict, lang: str = "ja") -> Figure:
    """Query heads (top row) joined to the key/value head they read (bottom row), both ways of repeating."""
    t = TEXT[lang]
    colours = ["#3f51b5", "#ef6c00", "#2e7d32", "#c0392b"]
    with rc_context(STYLE):
        fig = Figure(figsize=(8.0, 2.8), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, name in zip(axes, ("interleave", "repeat"), strict=True):
            reads = grouping[name]
            H, G = len(reads), grouping["num_kv_groups"]
            kv_x = [(g + 0.5) * H / G - 0.5 for g in range(G)]  # key/value heads centred under their groups
            for h, g in enumerate(reads):
                ax.plot([h, kv_x[g]], [1, 0], color=colours[g], linewidth=2)
            for h in range(H):
                ax.add_patch(_box(h, 1, colours[reads[h]]))
                ax.text(h, 1, f"Q{h}", ha="center", va="center", fontsize=10, color="white")
            for g in range(G):
                ax.add_patch(_box(kv_x[g], 0, colours[g]))
                ax.text(kv_x[g], 0, f"KV{g}", ha="center", va="center", fontsize=10, color="white")
            ax.text(-0.9, 1, t["query_head"], ha="right", va="center", fontsize=9)
            ax.text(-0.9, 0, t["kv_head"], ha="right", va="center", fontsize=9)
            ax.set_xlim(-3.2, H - 0.4)
            ax.set_ylim(-0.4, 1.4)
            ax.set_title(t[f"{name}_title"], fontsize=10)
            ax.axis("off")
    return fig


def _box(x: float, y: float, colour: str):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch(
        (x - 0.3, y - 0.15), 0.6, 0.3, boxstyle="round,pad=0.02", facecolor=colour, edgecolor="none"
    )


def load_rope_rotation() -> dict:
    """A pair rotated to positions 0..5, and rotated scores against distance from two query positions.

    The vector and the query and key are fixed (seed 123, head_dim 8, theta_base 10 000); the
    caller's random state is left as it was.
    """
    cos, sin = compute_rope_params(8, context_length=64)  # (64, 8) each
    vector = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]).expand(1, 1, 6, 8)  # (B, H, T, hd)
    rotated = apply_rope(vector, cos, sin)[0, 0]  # (6, 8): pair 0 is features 0 and 4
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)  # (B, H, 1, hd)
    distances = list(range(0, 24))
    scores = {}
    for m in (0, 20):
        q_rot = apply_rope(q, cos, sin, offset=m)  # (1, 1, 1, hd)
        scores[m] = [float((q_rot * apply_rope(k, cos, sin, offset=m + d)).sum()) for d in distances]
    return {"pair": rotated[:, [0, 4]].tolist(), "distances": distances, "scores": scores}


def plot_rope_rotation(data: dict, lang: str = "ja") -> Figure:
    """Left: one pair's arrow at positions 0..5. Right: score against distance, from two query positions."""
    t = TEXT[lang]
    with rc_context(STYLE):
        fig = Figure(figsize=(9.0, 3.8), layout="constrained")
        ax_pair, ax_score = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
        for m, (x, y) in enumerate(data["pair"]):
            ax_pair.annotate(
                "", xy=(x, y), xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "color": "#3f51b5", "lw": 1.5}
            )
            ax_pair.text(1.25 * x, 1.25 * y, f"m = {m}", ha="center", va="center", fontsize=9)
        ax_pair.set(xlim=(-1.4, 1.4), ylim=(-1.4, 1.4), aspect="equal")
        ax_pair.axhline(0, color="#cccccc", linewidth=0.8)
        ax_pair.axvline(0, color="#cccccc", linewidth=0.8)
        ax_pair.set_title(t["pair_title"], fontsize=10)
        for (m, scores), (fmt, colour) in zip(
            data["scores"].items(), (("o-", "#3f51b5"), ("x--", "#ef6c00")), strict=True
        ):
            ax_score.plot(
                data["distances"], scores, fmt, color=colour, label=t["from_m"].format(m=m), markersize=5
            )
        ax_score.set(xlabel=t["distance"], ylabel=t["score"])
        ax_score.set_title(t["score_title"], fontsize=10)
        ax_score.legend(frameon=False, fontsize=9)
        ax_score.grid(alpha=0.3)
    return fig


def load_generation() -> dict:
    """The published run of ``make bench``'s generation benchmark (``results/generation.json``)."""
    return json.loads(resources.files("attention_notes").joinpath("results/generation.json").read_text())


def plot_generation_time(results: dict, lang: str = "ja") -> Figure:
    """One decoding step's time against the position, with and without the cache (the bench's ``steps``)."""
    t = TEXT[lang]
    steps = results["steps"]
    with rc_context(STYLE):
        fig = Figure(figsize=(6.4, 3.8), layout="constrained")
        ax = fig.subplots()
        for name, fmt, colour in (("cached", "o-", "#3f51b5"), ("uncached", "s--", "#c0392b")):
            ms = [s * 1e3 for s in steps[f"{name}_median_s"]]
            ax.plot(steps["positions"], ms, fmt, color=colour, label=t[name], markersize=4)
        ax.set(xlabel=t["position"], ylabel=t["step_time"], ylim=(0, None))
        ax.set_title(t["generation_title"], fontsize=10)
        ax.legend(frameon=False, fontsize=9)
        ax.grid(alpha=0.3)
    return fig
