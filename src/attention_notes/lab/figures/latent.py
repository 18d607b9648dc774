r"""The figure of the multi-head latent attention page: what MLA computes from a token, and what it caches.

``mla-flow`` draws one layer of DeepSeek-V3's attention as boxes and arrows:
the token :math:`x_t` goes up to every head's query (a part without position
and a rotated part) and down to a small latent :math:`c_t` and one rotated key
:math:`k^R_t` shared by the heads. Only those two are cached; every head's key
and value are rebuilt from the latent by ``kv_b_proj``. The sizes printed in
the boxes are read from a :class:`~attention_notes.mla.MultiHeadLatentAttention`
built with DeepSeek-V3's configuration on PyTorch's ``meta`` device (shapes
only, no memory), so the figure shows what the package builds.
"""

import torch
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from attention_notes.lab.figures.diagrams import ARROW, CONTEXT, DECODER, ENCODER, INK, NEUTRAL, UNIT
from attention_notes.lab.figures.style import STYLE
from attention_notes.mla import MultiHeadLatentAttention

__all__ = ["DEEPSEEK_V3", "TEXT", "load_mla_sizes", "plot_mla_flow"]

# DeepSeek-V3's attention, from https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json
# (and DeepSeek-AI 2024, "DeepSeek-V3 Technical Report", section 4.2, https://arxiv.org/abs/2412.19437).
DEEPSEEK_V3 = {
    "d_model": 7168,  # "hidden_size"
    "num_heads": 128,  # "num_attention_heads"
    "kv_lora_rank": 512,  # "kv_lora_rank", the report's d_c
    "qk_nope_head_dim": 128,  # "qk_nope_head_dim", the report's d_h
    "qk_rope_head_dim": 64,  # "qk_rope_head_dim", the report's d_h^R
    "v_head_dim": 128,  # "v_head_dim"
    "q_lora_rank": 1536,  # "q_lora_rank", the report's d_c'
}

# The words of the figure, and its alt text, in each language of the site.
TEXT = {
    "ja": {
        "title": "DeepSeek-V3 のマルチヘッド潜在アテンション（1層）",
        "input": "トークン",
        "query": "クエリ（全ヘッド）",
        "q_nope": "位置を持たない部分",
        "q_rope": "RoPE で回転する部分",
        "down": "圧縮",
        "latent": "潜在ベクトル",
        "rope_key": "全ヘッドで共有する\n回転キー",
        "cache": "キャッシュ：1トークン・1層あたり {n}個",
        "up": "キーとバリューを復元",
        "score": "ヘッド h のスコア",
        "mla-flow_alt": (
            "マルチヘッド潜在アテンション 1層のデータの流れ。左のトークン x（7168次元）から、上には"
            "128ヘッドのクエリが作られ、各ヘッドのクエリは位置を持たない 128次元の部分と RoPE で回転する"
            "64次元の部分に分かれる。下には圧縮の射影 1つで、512次元の潜在ベクトル c と、全ヘッドで"
            "共有する 64次元の回転キー k^R が作られる。この 2つだけを囲んだ枠がキャッシュで、"
            "1トークン・1層あたり 576個の数値。潜在ベクトルからは復元の射影で、ヘッドごとに 128次元の"
            "キーと 128次元のバリューが復元される。ヘッド h のスコアは、位置を持たない部分どうしの内積と、"
            "回転した部分どうしの内積の和。"
        ),
    },
    "en": {
        "title": "DeepSeek-V3's multi-head latent attention (one layer)",
        "input": "token",
        "query": "queries (all heads)",
        "q_nope": "part without position",
        "q_rope": "part rotated by RoPE",
        "down": "compress",
        "latent": "latent",
        "rope_key": "rotated key\nshared by all heads",
        "cache": "cache: {n} numbers per token and layer",
        "up": "keys and values rebuilt",
        "score": "score of head h",
        "mla-flow_alt": (
            "The data flow of one layer of multi-head latent attention. From the token x on the left "
            "(7168 numbers), upwards: the queries of 128 heads, each split into a part without position "
            "(128 numbers) and a part rotated by RoPE (64 numbers). Downwards: one compressing projection "
            "makes a latent c of 512 numbers and a rotated key k^R of 64 numbers shared by all heads. "
            "A frame around these two alone is the cache: 576 numbers per token and layer. From the "
            "latent, the rebuilding projection makes every head's key (128 numbers) and value (128 "
            "numbers). The score of head h is the dot product of the parts without position plus that of "
            "the rotated parts."
        ),
    },
}

SIZE = 10  # the words and maths in the boxes


def load_mla_sizes() -> dict[str, int]:
    """The sizes the figure prints, read from the shapes of a DeepSeek-V3-sized MLA layer on ``meta``."""
    with torch.device("meta"):  # shapes only: the real layer would need 187M parameters of memory
        mla = MultiHeadLatentAttention(**DEEPSEEK_V3)
    H = mla.num_heads
    return {
        "d_model": mla.kv_a_proj_with_mqa.weight.shape[1],  # (r + dr, d_model)
        "num_heads": H,
        "cached": mla.kv_a_proj_with_mqa.weight.shape[0],  # r + dr: all a token leaves in the cache
        "kv_lora_rank": mla.kv_a_layernorm.weight.shape[0],  # r
        "qk_rope_head_dim": mla.qk_rope_head_dim,
        "query_per_head": mla.q_b_proj.weight.shape[0] // H,  # dn + dr
        "qk_nope_head_dim": mla.qk_nope_head_dim,
        "kv_per_head": mla.kv_b_proj.weight.shape[0] // H,  # dn + dv
        "v_head_dim": mla.v_head_dim,
    }


def plot_mla_flow(sizes: dict[str, int], lang: str = "ja") -> Figure:
    """Boxes for the token, queries, latent, shared key and rebuilt keys and values; the cache framed."""
    t = TEXT[lang]
    s = sizes
    H, r, dn, dr, dv = (
        s["num_heads"],
        s["kv_lora_rank"],
        s["qk_nope_head_dim"],
        s["qk_rope_head_dim"],
        s["v_head_dim"],
    )
    with rc_context(STYLE):
        fig, ax = _canvas((0.0, 10.8), (0.0, 6.6))
        _text(ax, 5.4, 6.25, t["title"], size=12)
        token = _box(ax, 0.9, 3.3, f"$x_t$\n{s['d_model']}", NEUTRAL, w=1.1, h=1.0, size=SIZE)
        _text(ax, 0.9, 2.55, t["input"], size=9)

        query = _box(ax, 3.0, 4.9, f"$q_t$\n{H} × {s['query_per_head']}", ENCODER, w=1.5, h=1.0, size=SIZE)
        _text(ax, 3.0, 5.65, t["query"], size=9)
        q_nope = _box(ax, 5.6, 5.35, f"$q^C_{{t,h}}$: {H} × {dn}", ENCODER, w=1.9, h=0.55, size=SIZE)
        _text(ax, 5.6, 5.85, t["q_nope"], size=9)
        q_rope = _box(ax, 5.6, 4.45, f"$q^R_{{t,h}}$: {H} × {dr}", ENCODER, w=1.9, h=0.55, size=SIZE)
        _text(ax, 5.6, 3.95, t["q_rope"], size=9)

        down = _box(ax, 3.0, 2.2, t["down"], NEUTRAL, w=1.3, h=0.6, size=9)
        latent = _box(ax, 5.6, 2.75, f"$c_t$: {r}", CONTEXT, w=1.5, h=0.55, size=SIZE)
        _text(ax, 5.6, 3.25, t["latent"], size=9)
        rope_key = _box(ax, 5.6, 1.55, f"$k^R_t$: {dr}", CONTEXT, w=1.5, h=0.55, size=SIZE)
        _text(ax, 5.6, 0.85, t["rope_key"], size=9)  # two lines, inside the frame
        ax.add_patch(
            Rectangle((4.35, 0.45), 2.5, 3.15, fill=False, ec=CONTEXT[0], lw=1.4, ls=(0, (4, 3)))
        )  # the cache: the latent and the shared rotated key, nothing else
        _text(ax, 5.6, 0.2, t["cache"].format(n=s["cached"]), size=9, color=CONTEXT[0])

        rebuilt = f"$k^C_{{t,h}}$: {H} × {dn}\n$v_{{t,h}}$: {H} × {dv}"
        up = _box(ax, 8.3, 2.75, rebuilt, DECODER, w=2.0, h=0.95, size=SIZE)
        _text(ax, 8.3, 2.0, t["up"], size=9)
        two_parts = r"$q^C_{t,h} \cdot k^C_{s,h} + q^R_{t,h} \cdot k^R_s$"
        score = _box(ax, 8.6, 4.9, two_parts, DECODER, w=2.3, h=0.6, size=9)
        _text(ax, 8.6, 5.45, t["score"], size=9)

        flows = [(token, query), (token, down), (query, q_nope), (query, q_rope)]
        flows += [(down, latent), (down, rope_key), (latent, up)]
        for start, end in flows:
            _arrow(ax, _centre(start), _centre(end), patches=(start, end))
        for start in (q_nope, q_rope, up):
            _arrow(ax, _centre(start), _centre(score), patches=(start, score))
        _arrow(ax, (6.35, 1.55), (9.6, 1.55), head=False)  # the shared key goes round the rebuilt keys
        _arrow(ax, (9.6, 1.55), (9.6, 4.6), patches=(None, score))
    return fig


def _canvas(xlim: tuple[float, float], ylim: tuple[float, float]):
    """One axes over the whole figure, in the diagrams' units (UNIT inches each), without axis lines."""
    fig = Figure(figsize=((xlim[1] - xlim[0]) * UNIT, (ylim[1] - ylim[0]) * UNIT))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=xlim, ylim=ylim)
    ax.set_axis_off()
    return fig, ax


def _text(ax, x: float, y: float, text: str, size: float, color: str = INK) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=size, color=color)


def _box(ax, x: float, y: float, text: str, colors: tuple[str, str], w: float, h: float, size: float):
    """A rounded box centred on (x, y) with ``text`` in it; returned for arrows to start and end at."""
    edge, fill = colors
    box = FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.1", fc=fill, ec=edge, lw=1.2
    )
    ax.add_patch(box)
    _text(ax, x, y, text, size)
    return box


def _arrow(ax, start, end, head: bool = True, patches=(None, None)) -> None:
    """An arrow (a line with ``head=False``) from ``start`` to ``end``, cut at the edges of ``patches``."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>" if head else "-",
            mutation_scale=11,
            color=ARROW,
            lw=1.2,
            shrinkA=1,
            shrinkB=1,
            patchA=patches[0],
            patchB=patches[1],
            zorder=1,
        )
    )


def _centre(patch) -> tuple[float, float]:
    return patch.get_x() + patch.get_width() / 2, patch.get_y() + patch.get_height() / 2
