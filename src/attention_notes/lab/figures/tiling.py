"""The FlashAttention page's figure: peak memory and time of explicit attention, the tiled loop and SDPA.

``attention-memory`` is drawn from the published ``results/attention_memory.json``
(:mod:`attention_notes.lab.attention_memory`, part of ``make bench``), read by
:func:`attention_notes.performance.load_attention_memory`.
"""

import matplotlib.ticker
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from attention_notes.lab.figures.style import STYLE

__all__ = ["TEXT", "plot_attention_memory"]

# The words of the figure, and its alt text, in each language of the site.
TEXT = {
    "ja": {
        "memory": "ピークメモリの増加（MiB）",
        "time": "1 回の計算時間（秒、1 コア）",
        "explicit": "明示的なアテンション（T×T を作る）",
        "tiled": "tiled_attention（block_size=128）",
        "sdpa": "PyTorch の SDPA（融合カーネル）",
        "matrix": "float32 の T×T 行列 1 つ",
        "non_causal": "実線：因果マスクなし",
        "causal": "破線：因果マスクあり",
        "memory_title": "メモリ（因果マスクなし）",
        "time_title": "時間",
        "attention-memory_title": "1 ヘッド、d = 64、float32、CPU、勾配なし",
        "attention-memory_alt": (
            "両対数グラフ 2 枚。横軸は系列長 T で 1024 から 16384。"
            "左はピークメモリの増加で、明示的なアテンションは T×T 行列 1 つの線の約 2 倍の高さを、"
            "T の 2 乗に比例して上がっていく。tiled_attention と SDPA は T に比例して増えるだけで、"
            "T = 16384 では明示的なアテンションよりはるかに小さい。"
            "右は 1 コアでの計算時間で、3 つとも T の 2 乗に比例して増える。"
            "SDPA がいちばん速い。因果マスクありでは SDPA の時間が半分ほどになり、"
            "ほかの 2 つとの差が広がる。"
        ),
    },
    "en": {
        "memory": "rise of peak memory (MiB)",
        "time": "time per call (s, one core)",
        "explicit": "explicit attention (builds T×T)",
        "tiled": "tiled_attention (block_size=128)",
        "sdpa": "PyTorch SDPA (fused kernel)",
        "matrix": "one float32 T×T matrix",
        "non_causal": "solid: no causal mask",
        "causal": "dashed: causal mask",
        "memory_title": "Memory (no causal mask)",
        "time_title": "Time",
        "attention-memory_title": "One head, d = 64, float32, CPU, no gradients",
        "attention-memory_alt": (
            "Two log-log plots against the sequence length T, from 1024 to 16384. Left: the rise of "
            "peak memory. Explicit attention climbs as T squared, about twice as high as the line of "
            "one T by T matrix; tiled_attention and SDPA grow only in proportion to T and at T = 16384 "
            "stay far below explicit attention. Right: time on one core, which grows as T squared for "
            "all three. SDPA is the fastest; with a causal mask its time drops by about half, and the "
            "gap to the other two widens."
        ),
    },
}

STYLES = {"explicit": ("o", "#c0392b"), "tiled": ("s", "#3f51b5"), "sdpa": ("^", "#2e7d32")}


def plot_attention_memory(results: dict, lang: str = "ja") -> Figure:
    """Log-log peak memory (non-causal) and time (both variants) against T, one line per method."""
    t = TEXT[lang]
    lengths = results["lengths"]
    variants = results["variants"]
    with rc_context(STYLE):
        fig = Figure(figsize=(9.6, 4.4), layout="constrained")
        ax_mem, ax_time = fig.subplots(1, 2)
        for name, (marker, color) in STYLES.items():
            peaks = variants["non_causal"]["results"][name]["peak_bytes"]
            pts = [(T, b / 2**20) for T, b in zip(lengths, peaks, strict=True) if b]
            if pts:
                ax_mem.plot(*zip(*pts, strict=True), marker + "-", color=color, label=t[name], markersize=4)
            for variant, line in (("non_causal", "-"), ("causal", "--")):
                times = variants[variant]["results"][name]["median_s"]
                ax_time.plot(lengths, times, marker + line, color=color, markersize=4)
        ax_mem.plot(
            lengths, [T * T * 4 / 2**20 for T in lengths], color="#999999", lw=3, alpha=0.5, label=t["matrix"]
        )
        ax_mem.legend(frameon=False, fontsize=8, loc="upper left")
        ax_time.legend(
            [Line2D([], [], color="#555555", ls=ls) for ls in ("-", "--")],
            [t["non_causal"], t["causal"]],
            frameon=False,
            fontsize=8,
            loc="upper left",
        )
        for ax, label, title in (
            (ax_mem, t["memory"], t["memory_title"]),
            (ax_time, t["time"], t["time_title"]),
        ):
            ax.set(xscale="log", yscale="log", xlabel="T", ylabel=label)
            ax.set_title(title, fontsize=10)
            ax.set_xticks(lengths, [str(T) for T in lengths], fontsize=8)
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.grid(alpha=0.3, which="major")
        fig.suptitle(t["attention-memory_title"], fontsize=11)
    return fig
