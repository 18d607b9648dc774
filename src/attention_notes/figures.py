"""The figures of the docs, drawn from the package's own results.

    python -m attention_notes.figures --out docs/assets/figures

writes one SVG per figure and language: ``name.svg`` (Japanese, the site's
default) and ``name.en.svg`` (English; mkdocs-static-i18n serves it on the
English pages under the same name). A test redraws them and compares, so a
committed figure cannot fall behind the code or the data.

The schematic diagrams, which draw no data (``encoder-decoder``,
``bahdanau-step``), are drawn by :mod:`attention_notes.diagrams`; their words,
like every figure's, are in :data:`TEXT`.

Text is stored as glyph outlines, so the SVGs look the same everywhere without
any font; the Japanese glyphs come from IPAexGothic (matplotlib-fontja).
"""

import base64
import html
import io
import math
from pathlib import Path

import matplotlib.ticker
import matplotlib_fontja  # noqa: F401  (registers IPAexGothic with matplotlib)
from matplotlib import rc_context
from matplotlib.figure import Figure

from attention_notes import _cli, diagrams
from attention_notes.benchmark import load_benchmark
from attention_notes.experiment import load_results

__all__ = [
    "FIGURES",
    "TEXT",
    "embed",
    "load_causal_example",
    "load_head_weights",
    "load_toy_weights",
    "plot_accuracy",
    "plot_alignment",
    "plot_bahdanau_step",
    "plot_causal_mask",
    "plot_encoder_decoder",
    "plot_head_weights",
    "plot_performance",
    "plot_toy_weights",
    "render_png",
    "render_svg",
    "write_all",
]

STYLE = {
    "font.family": ["IPAexGothic"],
    "font.size": 11,
    "svg.fonttype": "path",
    "svg.hashsalt": "attention-notes",
    "axes.spines.top": False,
    "axes.spines.right": False,
}

TEXT = {
    "ja": {
        "length": "系列長（トークン数）",
        "accuracy": "トークン正解率",
        "baseline": "アテンションなし（最終状態のみ）",
        "attention": "Bahdanau アテンションあり",
        "chance": "でたらめに答えた場合",
        "spread": "{n} つのシードの最小〜最大（線は平均）",
        "accuracy_title": "逆順タスク：系列が長くなると最終状態だけでは足りない",
        "source": "入力トークン（位置）",
        "output": "出力トークン（位置）",
        "alignment_title": "アテンションの重み（逆順なので反対角線に沿う）",
        "weight": "重み",
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
            "両対数グラフ 2 枚。左は系列長 T に対する計算時間で、ループ版は行列積の数百倍遅い。"
            "行列積と (T, D) 入力の SDPA はほぼ重なり、T が大きいところでは T² に比例する傾きで増える。"
            "(B, H, T, D) 入力の SDPA は融合カーネルを使い、大きな T で数倍速い。"
            "右はピークメモリで、行列積と (T, D) 入力の SDPA は T×T の重み行列と同じく T² に比例して増え、"
            "融合カーネルはほとんどメモリを増やさない。"
        ),
        "accuracy_alt": (
            "系列長に対するトークン正解率の折れ線グラフ。"
            "線は 5 つのシードの平均、帯は最小から最大までの範囲。"
            "長さ 4 ではどちらのモデルもほぼ正解だが、"
            "系列が長くなるとアテンションなしのモデルは大きく下がり、"
            "アテンションありのモデルは高いまま。2 つの帯は長い系列で大きく離れている。"
        ),
        "alignment_alt": (
            "訓練したアテンションモデルの重みのヒートマップ。行が出力の位置、列が入力の位置で、"
            "重みは右上から左下への反対角線に沿って、その 1 列右に集中している。"
        ),
        "causal_query": "クエリ（見る側のトークン）",
        "causal_key": "キー（見られる側のトークン）",
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
        "ed_source": "I ate an apple yesterday",
        "ed_target": "私は 昨日 りんごを 食べた",
        "ed_input": "入力",
        "ed_encoder": "エンコーダ",
        "ed_context": "コンテキスト",
        "ed_decoder": "デコーダ",
        "ed_output": "出力",
        "ed_bottleneck_title": "アテンションなし：最終状態 1 つがボトルネック",
        "ed_bottleneck_note": (
            "入力の情報はすべて、固定サイズの最終状態 $h_5$ を通る。\n"
            "デコーダはどのステップでも同じ $c$ を受け取る。"
        ),
        "ed_attention_title": "Bahdanau アテンションあり",
        "ed_attention_note": (
            "ステップ $i$ ごとに、すべての $h_j$ を重み $\\alpha_{ij}$ で混ぜた $c_i$ を受け取る。\n"
            "太線はその出力で重みが最も大きい入力の例。"
        ),
        "step_title": "Bahdanau アテンション：デコーダの 1 ステップ（出力 $i$）",
        "step_tokens": "入力トークン",
        "step_forward": "順方向 GRU",
        "step_backward": "逆方向 GRU",
        "step_annotations": "エンコーダの状態",
        "step_softmax": "ソフトマックス（$j$ について）",
        "step_scores": "スコア",
        "step_weights": "重み",
        "step_query": "クエリ",
        "step_decoder": "デコーダ",
        "toy_title": "単純化したセルフアテンションの重み（各行の合計は 1）",
        "encoder-decoder_alt": (
            "上下 2 段の図。上の段はアテンションなしの RNN エンコーダ・デコーダで、"
            "エンコーダが入力 I ate an apple yesterday の 5 トークンを状態 h1 から h5 へ順に読み、"
            "最後の h5 だけがコンテキスト c として、私は 昨日 りんごを 食べた を出力する"
            "デコーダの状態 s1 から s4 のすべてに渡る。入力の情報はすべて、この固定サイズの状態 1 つを通る。"
            "下の段は Bahdanau アテンションありで、デコーダのステップごとにコンテキスト c1 から c4 があり、"
            "それぞれがエンコーダの状態 h1 から h5 のすべてと線で結ばれている。"
            "太線は各出力で重みが最も大きい入力の例で、私は は I、昨日 は yesterday、"
            "りんごを は apple、食べた は ate と結ばれる。"
        ),
        "bahdanau-step_alt": (
            "Bahdanau アテンションでデコーダが 1 ステップ進む図。下から順に、入力トークン x1 から x4、"
            "左から右へ読む順方向 GRU、右から左へ読む逆方向 GRU があり、"
            "位置 j ごとに 2 つの状態をつなげたものがエンコーダの状態 hj になる。"
            "左側のデコーダの直前の状態 s(i−1) がクエリとして、各 hj とともにスコアの式 "
            "eij = wvᵀ tanh(Wquery s(i−1) + Wkey hj) に入る。"
            "スコア ei1 から ei4 は j についてのソフトマックスで重み αi1 から αi4 になり、"
            "重みからコンテキストベクトル ci = Σj αij hj が作られる。"
            "デコーダは s(i−1)、直前の出力 y(i−1)、ci から新しい状態 si を計算し、yi を出力する。"
        ),
        "toy-weights_alt": (
            "6 × 6 のヒートマップ。行がクエリ、列がキーで、どちらも Your journey starts with one step の "
            "6 トークン。各マスは単純化したセルフアテンションの重みを小数第 2 位まで示し、各行の合計は 1。"
            "重みはすべて 0.10 から 0.24 の間にある。journey と starts の行では journey と starts の列が "
            "0.24 と 0.23 で最も大きく、1 行目では Your 自身が 0.21 で最も大きい。"
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
        "source": "input token (position)",
        "output": "output token (position)",
        "alignment_title": "Attention weights (reversal: along the anti-diagonal)",
        "weight": "weight",
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
            "Two log-log plots. Left: time per call against sequence length T; the loop version is "
            "hundreds of times slower than matrix products, which nearly coincide with SDPA on a (T, D) "
            "input and, for large T, rise with the slope of T squared; SDPA on a (B, H, T, D) input uses "
            "a fused kernel and is several times faster for large T. Right: peak memory, which grows as "
            "T squared, like the T by T weight matrix, except for the fused kernel, which barely adds any."
        ),
        "accuracy_alt": (
            "Line chart of token accuracy against sequence length; lines are the mean over five seeds, "
            "bands the range from smallest to largest. At length 4 both models are almost perfect; as "
            "sequences grow, the model without attention falls steeply while the model with attention "
            "stays high, and the two bands are far apart for long sequences."
        ),
        "alignment_alt": (
            "Heatmap of the trained attention model's weights, output positions as rows and input "
            "positions as columns; the weight runs from top right to bottom left, one column to the "
            "right of the anti-diagonal."
        ),
        "causal_query": "query (the token that looks)",
        "causal_key": "key (the token looked at)",
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
        "ed_source": "I ate an apple yesterday",
        "ed_target": "私は 昨日 りんごを 食べた",
        "ed_input": "input",
        "ed_encoder": "encoder",
        "ed_context": "context",
        "ed_decoder": "decoder",
        "ed_output": "output",
        "ed_bottleneck_title": "Without attention: one final state is the bottleneck",
        "ed_bottleneck_note": (
            "Everything about the input passes through the fixed-size $h_5$;\n"
            "the decoder gets the same $c$ at every step."
        ),
        "ed_attention_title": "With Bahdanau attention",
        "ed_attention_note": (
            "Each step $i$ gets its own $c_i$: every $h_j$, mixed with weights $\\alpha_{ij}$.\n"
            "Thick lines: the input with the largest weight, for example."
        ),
        "step_title": "Bahdanau attention: one decoder step (output $i$)",
        "step_tokens": "input tokens",
        "step_forward": "forward GRU",
        "step_backward": "backward GRU",
        "step_annotations": "encoder states",
        "step_softmax": "softmax over $j$",
        "step_scores": "scores",
        "step_weights": "weights",
        "step_query": "query",
        "step_decoder": "decoder",
        "toy_title": "Simplified self-attention weights (each row sums to 1)",
        "encoder-decoder_alt": (
            "Two panels, one above the other. Top: an RNN encoder-decoder without attention. The encoder "
            "reads the five tokens of I ate an apple yesterday into states h1 to h5, and only the last one, "
            "h5, goes on as the context c to every decoder state s1 to s4, which output 私は 昨日 りんごを "
            "食べた: everything about the input passes through that one fixed-size state. Bottom: with "
            "Bahdanau attention, each decoder step has its own context, c1 to c4, each connected by lines "
            "to all the encoder states h1 to h5. As an example, a thick line marks the input with the "
            "largest weight for each output: 私は with I, 昨日 with yesterday, りんごを with apple, "
            "食べた with ate."
        ),
        "bahdanau-step_alt": (
            "One decoder step of Bahdanau attention. From the bottom: input tokens x1 to x4, a forward GRU "
            "reading left to right and a backward GRU reading right to left; at each position j the two "
            "states joined make the encoder state hj. On the left, the decoder's previous state s(i−1) is "
            "the query: with each hj it goes into the score eij = wvᵀ tanh(Wquery s(i−1) + Wkey hj). "
            "A softmax over j turns the scores ei1 to ei4 into weights αi1 to αi4, and the weights give "
            "the context vector ci = Σj αij hj. The decoder computes its new state si from s(i−1), the "
            "previous output y(i−1) and ci, and outputs yi."
        ),
        "toy-weights_alt": (
            "A 6 by 6 heatmap, queries as rows and keys as columns, both the six tokens of Your journey "
            "starts with one step. Each cell gives a weight of simplified self-attention to two decimals, "
            "and each row sums to 1. All weights lie between 0.10 and 0.24. In the rows of journey and "
            "starts, the columns of journey and starts are largest, 0.24 and 0.23; in the first row, "
            "Your itself is largest, 0.21."
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
    ax.set_xlabel(t["causal_key"], fontsize=fontsize + 1)
    ax.set_ylabel(t["causal_query"], fontsize=fontsize + 1)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)


def load_causal_example() -> dict:
    """The causal mask and the masked weights of the toy sentence, from a seed-789 CausalAttention.

    Seed 789 gives the three ``nn.Linear(3, 2)`` of the book's ``SelfAttention_v2``
    (the mask and dropout draw no random numbers), so the weights are the book's
    masked weights. The caller's random state is left as it was.
    """
    import torch

    from attention_notes.causal import CausalAttention, causal_mask
    from attention_notes.data import TOKENS, journey_inputs

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
    import torch

    from attention_notes.data import TOKENS, journey_inputs
    from attention_notes.multihead import MultiHeadAttention

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


def load_toy_weights() -> dict:
    """Simplified self-attention's weights on the toy sentence, (T, T): rows are queries, columns keys."""
    from attention_notes.data import TOKENS, journey_inputs
    from attention_notes.simple_attention import simple_self_attention

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


def plot_encoder_decoder(_: object = None, lang: str = "ja") -> Figure:
    """RNN encoder-decoder without and with attention: :func:`attention_notes.diagrams.encoder_decoder`."""
    with rc_context(STYLE):
        return diagrams.encoder_decoder(TEXT[lang])


def plot_bahdanau_step(_: object = None, lang: str = "ja") -> Figure:
    """One decoder step of Bahdanau attention: :func:`attention_notes.diagrams.bahdanau_step`."""
    with rc_context(STYLE):
        return diagrams.bahdanau_step(TEXT[lang])


def _no_data() -> None:
    return None  # a diagram draws no data


FIGURES = {
    "accuracy": (load_results, plot_accuracy),
    "alignment": (load_results, lambda results, lang: plot_alignment(results["example"], lang)),
    "performance": (load_benchmark, plot_performance),
    "causal-mask": (load_causal_example, plot_causal_mask),
    "head-weights": (load_head_weights, plot_head_weights),
    "encoder-decoder": (_no_data, plot_encoder_decoder),
    "bahdanau-step": (_no_data, plot_bahdanau_step),
    "toy-weights": (load_toy_weights, plot_toy_weights),
}


def render_svg(fig: Figure) -> str:
    """The figure as SVG text, without a date so that the same figure gives the same bytes."""
    buffer = io.StringIO()
    with rc_context(STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def render_png(fig: Figure, dpi: int = 110, colors: int = 64) -> bytes:
    """The figure as a palette PNG: a chart needs few colours, and so weighs a few tens of KB.

    No timestamp or software tag is written, so the same figure gives the same bytes.
    """
    from PIL import Image

    buffer = io.BytesIO()
    with rc_context(STYLE):
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").quantize(colors=colors)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def embed(name: str, results: dict, lang: str = "ja"):
    """Show a figure in a notebook as an image with alt text in ``lang``.

    Returns an ``IPython.display.HTML`` object with the image inside it as a
    PNG data URI: a notebook has no separate image files, and a PNG of a
    chart weighs half as much as the SVG with its lettering as outlines.
    """
    from IPython.display import HTML

    png = render_png(FIGURES[name][1](results, lang))
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    alt = html.escape(TEXT[lang][f"{name}_alt"], quote=True)
    return HTML(f'<img src="{uri}" alt="{alt}" style="max-width: 100%">')


def write_all(out_dir: Path) -> list[Path]:
    """Draw every figure in both languages from the published data into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (load, draw) in FIGURES.items():
        results = load()
        for lang in TEXT:
            path = out_dir / (f"{name}.svg" if lang == "ja" else f"{name}.{lang}.svg")
            path.write_text(render_svg(draw(results, lang)), encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = _cli.parser("attention_notes.figures", "Draw the figures of the docs.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the SVG files")
    args = parser.parse_args(argv)
    _cli.check_out_dir(parser, args.out)
    for path in write_all(args.out):
        print(path)


if __name__ == "__main__":
    main()
