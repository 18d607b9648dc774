"""Charts of measured results: the experiment's accuracy and alignment, and the benchmark's timings.

``accuracy`` and ``alignment`` are drawn from :func:`attention_notes.experiment.load_results`
(the long-sequence experiment page), ``performance`` from
:func:`attention_notes.performance.load_benchmark` (the performance page).
"""

import matplotlib.ticker
from matplotlib import rc_context
from matplotlib.figure import Figure

from attention_notes.lab.figures.style import STYLE

__all__ = ["TEXT", "plot_accuracy", "plot_alignment", "plot_performance"]

# The words of the three charts, and their alt text, in each language of the site.
TEXT = {
    "ja": {
        "length": "系列長（トークン数）",
        "accuracy": "トークン正解率",
        "baseline": "アテンションなし（最終状態のみ）",
        "attention": "Bahdanau アテンションあり",
        "chance": "でたらめに答えた場合",
        "spread": "{n} つのシードの最小〜最大（線は平均）",
        "accuracy_title": "逆順タスク：系列が長くなると最終状態だけでは足りない",
        "accuracy_alt": (
            "系列長に対するトークン正解率の折れ線グラフ。"
            "線は 5 つのシードの平均、帯は最小から最大までの範囲。"
            "長さ 4 ではどちらのモデルもほぼ正解だが、"
            "系列が長くなるとアテンションなしのモデルは大きく下がり、"
            "アテンションありのモデルは高いまま。2 つの帯は長い系列で大きく離れている。"
        ),
        "source": "入力トークン（位置）",
        "output": "出力トークン（位置）",
        "alignment_title": "アテンションの重み（逆順なので反対角線に沿う）",
        "weight": "重み",
        "alignment_alt": (
            "訓練したアテンションモデルの重みのヒートマップ。行が出力の位置、列が入力の位置で、"
            "重みは右上から左下への反対角線に沿って、その 1 列右に集中している。"
        ),
        "time": "1 回の計算時間（秒）",
        "memory": "ピークメモリ（MiB）",
        "loop": "Python のループ",
        "vectorised": "行列積（このパッケージ）",
        "sdpa": "PyTorch の SDPA（(T, D) 入力）",
        "sdpa_fused": "PyTorch の SDPA（(B, H, T, D) 入力、融合カーネル）",
        "slope": "$T^2$ に比例",
        "matrix": "$T \\times T$ の重み行列 1 つ",
        "performance_title": "単純化したセルフアテンション（D = 64, float32, CPU）",
        "performance_alt": (
            "両対数グラフ 2 枚。左は系列長 T に対する 1 コアでの計算時間で、"
            "ループ版は行列積の数十倍から千倍以上遅い。"
            "行列積と (T, D) 入力の SDPA はほぼ重なり、T が大きいところでは T² に比例する傾きで増える。"
            "(B, H, T, D) 入力の SDPA は融合カーネルを使い、大きな T で 2〜3 倍速い。"
            "右はピークメモリで、行列積と (T, D) 入力の SDPA は T×T の重み行列と同じく T² に比例して増え、"
            "融合カーネルはほとんどメモリを増やさない。"
        ),
    },
    "en": {
        "length": "sequence length (tokens)",
        "accuracy": "token accuracy",
        "baseline": "no attention (final state only)",
        "attention": "with Bahdanau attention",
        "chance": "chance",
        "spread": "min to max over {n} seeds (line: mean)",
        "accuracy_title": "Reversal: one final state is not enough for long sequences",
        "accuracy_alt": (
            "Line chart of token accuracy against sequence length; lines are the mean over five seeds, "
            "bands the range from smallest to largest. At length 4 both models are almost perfect; as "
            "sequences grow, the model without attention falls steeply while the model with attention "
            "stays high, and the two bands are far apart for long sequences."
        ),
        "source": "input token (position)",
        "output": "output token (position)",
        "alignment_title": "Attention weights (reversal: along the anti-diagonal)",
        "weight": "weight",
        "alignment_alt": (
            "Heatmap of the trained attention model's weights, output positions as rows and input "
            "positions as columns; the weight runs from top right to bottom left, one column to the "
            "right of the anti-diagonal."
        ),
        "time": "time per call (s)",
        "memory": "peak memory (MiB)",
        "loop": "Python loops",
        "vectorised": "matrix products (this package)",
        "sdpa": "PyTorch SDPA, (T, D) input",
        "sdpa_fused": "PyTorch SDPA, (B, H, T, D) input: fused kernel",
        "slope": "proportional to $T^2$",
        "matrix": "one $T \\times T$ weight matrix",
        "performance_title": "Simplified self-attention (D = 64, float32, CPU)",
        "performance_alt": (
            "Two log-log plots. Left: time per call on one core against sequence length T; the loop "
            "version is tens to over a thousand times slower than matrix products, which nearly coincide "
            "with SDPA on a (T, D) input and, for large T, rise with the slope of T squared; SDPA on a "
            "(B, H, T, D) input uses a fused kernel and is two to three times faster for large T. Right: "
            "peak memory, which grows as T squared, like the T by T weight matrix, except for the fused "
            "kernel, which barely adds any."
        ),
    },
}


def plot_accuracy(results: dict, lang: str = "ja") -> Figure:
    """Token accuracy against sequence length, one line per model.

    For a run over several seeds (:func:`~attention_notes.experiment.run_seeds`)
    the line is the mean and a band shows the smallest and largest accuracy.
    """
    t = TEXT[lang]
    with rc_context(STYLE):
        fig = Figure(figsize=(6.4, 4.0), layout="constrained")
        ax = fig.subplots()
        lengths = results["lengths"]
        for name, fmt, color in (("baseline", "o--", "#888888"), ("attention", "o-", "#3f51b5")):
            ax.plot(lengths, results[name], fmt, color=color, label=t[name])
            if "range" in results:
                spread = results["range"][name]
                ax.fill_between(lengths, spread["min"], spread["max"], color=color, alpha=0.2, linewidth=0)
        if "range" in results:
            ax.fill_between(
                [], [], [], color="#888888", alpha=0.2, label=t["spread"].format(n=len(results["seeds"]))
            )
        chance = 1 / (results["config"]["vocab_size"] - 1)
        ax.axhline(chance, color="#bbbbbb", linewidth=1, linestyle=":", label=t["chance"])
        ax.set(xlabel=t["length"], ylabel=t["accuracy"], ylim=(0, 1.02), xticks=lengths)
        ax.set_title(t["accuracy_title"], fontsize=11)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 0.12), frameon=False)
        ax.grid(axis="y", alpha=0.3)
    return fig


def plot_alignment(example: dict, lang: str = "ja") -> Figure:
    """Heatmap of the attention weights of one decoded example (rows: outputs, columns: inputs)."""
    t = TEXT[lang]
    weights = example["weights"]
    src, out = example["source"], example["predicted"]
    with rc_context(STYLE):
        fig = Figure(figsize=(5.6, 5.0), layout="constrained")
        ax = fig.subplots()
        image = ax.imshow(weights, cmap="Greys", vmin=0, vmax=1)
        ax.set_xticks(range(len(src)), [f"{tok}\n{i}" for i, tok in enumerate(src)], fontsize=8)
        ax.set_yticks(range(len(out)), [f"{tok} ({i})" for i, tok in enumerate(out)], fontsize=8)
        ax.xaxis.tick_top()
        ax.xaxis.set_label_position("top")
        ax.set(xlabel=t["source"], ylabel=t["output"])
        ax.set_title(t["alignment_title"], fontsize=11, pad=12, y=-0.12)
        fig.colorbar(image, ax=ax, shrink=0.8, label=t["weight"])
    return fig


def plot_performance(bench: dict, lang: str = "ja") -> Figure:
    """Log-log time and peak memory against T for the four implementations."""
    t = TEXT[lang]
    lengths = bench["lengths"]
    styles = {
        "loop": ("s:", "#c0392b"),
        "vectorised": ("o-", "#3f51b5"),
        "sdpa": ("^--", "#2e7d32"),
        "sdpa_fused": ("v-.", "#ef6c00"),
    }
    with rc_context(STYLE):
        fig = Figure(figsize=(9.6, 4.2), layout="constrained")
        ax_time, ax_mem = fig.subplots(1, 2)
        for name, (fmt, color) in styles.items():
            res = bench["results"][name]
            pts = [(T, s) for T, s in zip(lengths, res["median_s"], strict=True) if s is not None]
            ax_time.plot(*zip(*pts, strict=True), fmt, color=color, label=t[name], markersize=4)
            mem = [(T, b / 2**20) for T, b in zip(lengths, res["peak_bytes"], strict=True) if b]
            if mem:
                ax_mem.plot(*zip(*mem, strict=True), fmt, color=color, label=t[name], markersize=4)
        # A T^2 line through the vectorised version's largest measurement.
        T_max, s_max = lengths[-1], bench["results"]["vectorised"]["median_s"][-1]
        ref = [T for T in lengths if T >= lengths[-1] // 16]
        ax_time.plot(
            ref, [s_max * (T / T_max) ** 2 for T in ref], color="#999999", lw=3, alpha=0.5, label=t["slope"]
        )
        ax_mem.plot(
            lengths, [T * T * 4 / 2**20 for T in lengths], color="#999999", lw=3, alpha=0.5, label=t["matrix"]
        )
        for ax, label in ((ax_time, t["time"]), (ax_mem, t["memory"])):
            ax.set(xscale="log", yscale="log", xlabel="T", ylabel=label)
            ax.set_xticks(lengths, [str(T) for T in lengths], fontsize=8)
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.grid(alpha=0.3, which="major")
            ax.legend(frameon=False, fontsize=9)
        fig.suptitle(t["performance_title"], fontsize=11)
    return fig
