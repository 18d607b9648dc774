"""Numbers quoted in the prose come from the published results.

A sentence such as "the five seeds took 580 s" quotes a results file; a
re-run of ``make bench`` or of the experiment must not leave it behind. Each
quote below is a piece of a page's text with ``{}`` where a number goes, and
where that number comes from: the test renders the quote from the current
results and requires it, so rendered, on the page. The sweep then finds every
number in the prose of these pages that looks like a measurement (a time, a
ratio, a size, an accuracy) and requires it to be inside a checked quote or
listed, with the reason, as not coming from a results file.

Code blocks and their outputs are not prose: the snippet tests compare them.
"""

import json
import re
from pathlib import Path

import pytest

from attention_notes import experiment
from attention_notes.experiment import load_cpu_paths, load_results
from attention_notes.performance import load_attention_memory, load_benchmark, load_multihead
from tools import ja_style

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs(
    "src/attention_notes",
    "docs/performance.md",
    "docs/performance.en.md",
    "docs/long-sequences.md",
    "docs/long-sequences.en.md",
    "docs/experiment.ipynb",
    "docs/experiment.en.ipynb",
    "docs/flash-attention.md",
    "docs/flash-attention.en.md",
    "docs/sliding-window.md",
    "docs/sliding-window.en.md",
)

DOCS = Path(__file__).resolve().parent.parent / "docs"


def prose(name: str) -> str:
    """A page's text outside fenced code blocks (a notebook's markdown cells), whitespace collapsed."""
    text = (DOCS / name).read_text(encoding="utf-8")
    if name.endswith(".ipynb"):
        cells = json.loads(text)["cells"]
        text = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = re.sub(r"^( *)(```|~~~).*?^\1\2[^\n]*$", "", text, flags=re.M | re.S)
    text = re.sub(r"`[^`\n]*`", "`code`", text)  # inline code is not prose
    text = re.sub(r"\]\([^)\s]*\)", "]", text)  # nor are link targets
    return " ".join(text.split())


# --- where the quoted numbers come from ---------------------------------------------------------


def _window(key: str) -> float:
    """A ratio of the windowed-decoding benchmark (results/window_decoding.json)."""
    return json.loads(
        (Path(experiment.__file__).parent / "results" / "window_decoding.json").read_text("utf-8")
    )["ratios"][key]


def _at(data: dict, T: int) -> int:
    return data["lengths"].index(T)


def _bench(path: str, T: int) -> float:
    """A value of the simple benchmark at length T: "ratios.loop_over_vectorised" or "results.loop.median_s"."""
    data = load_benchmark()
    value = data
    for key in path.split("."):
        value = value[key]
    return value[_at(data, T)]


def _multihead(path: str, T: int) -> float:
    data = load_multihead()
    value = data
    for key in path.split("."):
        value = value[key]
    return value[_at(data, T)]


def _final_losses(model: str) -> list[float]:
    return [run[model] for run in (r["final_loss"] for r in load_results()["runs"])]


def _largest_cpu_path_difference() -> float:
    published = load_results()["runs"]
    largest = 0.0
    for path in load_cpu_paths()["paths"].values():
        for mine, theirs in zip(path["runs"], published, strict=True):
            for model in experiment.MODELS:
                largest = max(largest, *(abs(a - b) for a, b in zip(mine[model], theirs[model], strict=True)))
    return largest


def _rows_moved() -> int:
    published = load_results()["example"]["weights"]
    peaks = [max(range(len(row)), key=row.__getitem__) for row in published]
    return max(
        sum(a != b for a, b in zip(peaks, path["example_peaks"], strict=True))
        for path in load_cpu_paths()["paths"].values()
    )


def _other_path_seconds() -> list[float]:
    return [p["seconds"] for name, p in load_cpu_paths()["paths"].items() if name != "native"]


def _seconds() -> float:
    return load_results()["seconds"]


def _minutes_a_seed() -> int:
    results = load_results()
    return round(results["seconds"] / len(results["seeds"]) / 60)


def _loop_microseconds_a_step() -> float:
    """The loop's median time for each of its 2 T^2 steps, the median over the lengths from 16 on."""
    data = load_benchmark()
    per_step = [
        s / (2 * T * T) * 1e6
        for T, s in zip(data["lengths"], data["results"]["loop"]["median_s"], strict=True)
        if s is not None and T >= 16
    ]
    return sorted(per_step)[len(per_step) // 2]


def _mib(load, name: str, T: int) -> float:
    data = load()
    return data["results"][name]["peak_bytes"][_at(data, T)] / 2**20


def _bench_range(ratio: str, keep) -> list[float]:
    data = load_benchmark()
    return [r for T, r in zip(data["lengths"], data["ratios"][ratio], strict=True) if keep(T)]


def _multihead_range(ratio: str, keep) -> list[float]:
    data = load_multihead()
    return [r for T, r in zip(data["lengths"], data["ratios"][ratio], strict=True) if keep(T)]


def _flash(variant: str, name: str, T: int = 16384, key: str = "median_s") -> float:
    """A value of the attention-memory run: a method's median time, or with key="peak_bytes" its peak."""
    data = load_attention_memory()
    return data["variants"][variant]["results"][name][key][_at(data, T)]


def _flash_ratio(variant: str, ratio: str, T: int = 16384) -> float:
    data = load_attention_memory()
    return data["variants"][variant]["ratios"][ratio][_at(data, T)]


def _flash_mib(name: str) -> float:
    return _flash("non_causal", name, key="peak_bytes") / 2**20


def _flash_spread_mib() -> float:
    """The largest difference between the repeated peak measurements of one method and length."""
    data = load_attention_memory()
    return (
        max(
            max(runs) - min(runs)
            for variant in data["variants"].values()
            for result in variant["results"].values()
            for runs in result["peak_runs"]
        )
        / 2**20
    )


# name -> (value, format): what the quotes below refer to by name.
SOURCES = {
    "loop_us": (_loop_microseconds_a_step, "{:.0f}"),
    "loop8": (lambda: _bench("ratios.loop_over_vectorised", 8), "{:.0f}"),
    "check8": (lambda: _bench("ratios.vectorised_over_unchecked", 8), "{:.1f}"),
    "sdpa8": (lambda: _bench("ratios.vectorised_over_sdpa", 8), "{:.2f}"),
    "vec_jump": (
        lambda: _bench("results.vectorised.median_s", 512) / _bench("results.vectorised.median_s", 256),
        "{:.1f}",
    ),
    "fused_jump": (
        lambda: _bench("results.sdpa_fused.median_s", 512) / _bench("results.sdpa_fused.median_s", 256),
        "{:.1f}",
    ),
    "check_long_min": (lambda: min(_bench_range("vectorised_over_unchecked", lambda T: T >= 512)), "{:.2f}"),
    "check_long_max": (lambda: max(_bench_range("vectorised_over_unchecked", lambda T: T >= 512)), "{:.2f}"),
    "sdpa1024": (lambda: _bench("ratios.vectorised_over_sdpa", 1024), "{:.2f}"),
    "fused1024": (lambda: _bench("ratios.vectorised_over_sdpa_fused", 1024), "{:.1f}"),
    "peak_fused": (lambda: _mib(load_benchmark, "sdpa_fused", 4096), "{:.1f}"),
    "bench_minutes": (lambda: load_benchmark()["seconds"] / 60, "{:.0f}"),
    "matmul1024": (lambda: _bench("results.vectorised.median_s", 1024) * 1e3, "{:.2f}"),
    "expl8": (lambda: _multihead("ratios.explicit_over_sdpa", 8), "{:.2f}"),
    "expl4096": (lambda: _multihead("ratios.explicit_over_sdpa", 4096), "{:.2f}"),
    "peak_expl": (lambda: _mib(load_multihead, "explicit", 4096), "{:.0f}"),
    "peak_sdpa": (lambda: _mib(load_multihead, "sdpa", 4096), "{:.0f}"),
    "peak_nnmha": (lambda: _mib(load_multihead, "nn_mha", 4096), "{:.0f}"),
    "short_min": (lambda: min(_multihead_range("sdpa_over_nn_mha", lambda T: T <= 64)), "{:.2f}"),
    "short_max": (lambda: max(_multihead_range("sdpa_over_nn_mha", lambda T: T <= 64)), "{:.2f}"),
    "nnmha1024": (lambda: 1 / _multihead("ratios.sdpa_over_nn_mha", 1024), "{:.1f}"),
    "nnmha4096": (lambda: 1 / _multihead("ratios.sdpa_over_nn_mha", 4096), "{:.1f}"),
    "same1024": (lambda: _multihead("ratios.sdpa_over_nn_mha_sdpa", 1024), "{:.2f}"),
    "same4096": (lambda: _multihead("ratios.sdpa_over_nn_mha_sdpa", 4096), "{:.2f}"),
    "same_min": (lambda: min(_multihead_range("sdpa_over_nn_mha_sdpa", lambda T: T < 1024)), "{:.2f}"),
    "same_max": (lambda: max(_multihead_range("sdpa_over_nn_mha_sdpa", lambda T: T < 1024)), "{:.2f}"),
    "mh_minutes": (lambda: load_multihead()["seconds"] / 60, "{:.0f}"),
    "baseline_20": (lambda: load_results()["baseline"][-1], "{:.3f}"),
    "attention_20": (lambda: load_results()["attention"][-1], "{:.3f}"),
    "baseline_loss_min": (lambda: min(_final_losses("baseline")), "{:.2f}"),
    "baseline_loss_max": (lambda: max(_final_losses("baseline")), "{:.2f}"),
    "attention_loss_min": (lambda: min(_final_losses("attention")), "{:.2f}"),
    "attention_loss_max": (lambda: max(_final_losses("attention")), "{:.2f}"),
    "cpu_path_difference": (_largest_cpu_path_difference, "{:.3f}"),
    "tolerance": (lambda: experiment.TOLERANCE, "{:g}"),
    "seconds": (_seconds, "{:.0f}"),
    "minutes_a_seed": (_minutes_a_seed, "{}"),
    "other_paths_min": (lambda: min(_other_path_seconds()), "{:.0f}"),
    "other_paths_max": (lambda: max(_other_path_seconds()), "{:.0f}"),
    "rows_moved": (_rows_moved, "{}"),
    "example_correct": (lambda: min(p["example_correct"] for p in load_cpu_paths()["paths"].values()), "{}"),
    "win_bytes": (lambda: _window("full_over_window_nbytes"), "{:.0f}"),
    "win_time": (lambda: _window("full_over_window_time"), "{:.2f}"),
    "win_filled": (lambda: _window("filled_at"), "{}"),
    "win_full_growth": (lambda: _window("full_last_over_filled_time"), "{:.2f}"),
    "win_window_growth": (lambda: _window("window_last_over_filled_time"), "{:.2f}"),
    "fa_spread": (_flash_spread_mib, "{:.1f}"),
    "fa_peak_explicit": (lambda: _flash_mib("explicit"), "{:.0f}"),
    "fa_peak_tiled": (lambda: _flash_mib("tiled"), "{:.1f}"),
    "fa_peak_sdpa": (lambda: _flash_mib("sdpa"), "{:.1f}"),
    "fa_peak_factor": (lambda: _flash_mib("explicit") / _flash_mib("tiled"), "{:.0f}"),
    "fa_tiled_sdpa": (lambda: _flash_ratio("non_causal", "tiled_over_sdpa"), "{:.1f}"),
    "fa_explicit_sdpa": (lambda: _flash_ratio("non_causal", "explicit_over_sdpa"), "{:.1f}"),
    "fa_tiled_explicit": (lambda: _flash_ratio("non_causal", "tiled_over_explicit"), "{:.2f}"),
    "fa_tiled_sdpa_min": (
        lambda: min(load_attention_memory()["variants"]["non_causal"]["ratios"]["tiled_over_sdpa"]),
        "{:.1f}",
    ),
    "fa_tiled_sdpa_max": (
        lambda: max(load_attention_memory()["variants"]["non_causal"]["ratios"]["tiled_over_sdpa"]),
        "{:.1f}",
    ),
    "fa_sdpa_causal_share": (lambda: _flash("causal", "sdpa") / _flash("non_causal", "sdpa"), "{:.2f}"),
    "fa_tiled_causal_share": (lambda: _flash("causal", "tiled") / _flash("non_causal", "tiled"), "{:.1f}"),
    "fa_causal_tiled_sdpa": (lambda: _flash_ratio("causal", "tiled_over_sdpa"), "{:.1f}"),
    "fa_causal_explicit_sdpa": (lambda: _flash_ratio("causal", "explicit_over_sdpa"), "{:.1f}"),
    "fa_causal_explicit_sdpa_medians": (
        lambda: _flash("causal", "explicit") / _flash("causal", "sdpa"),
        "{:.1f}",
    ),
    "fa_minutes": (lambda: load_attention_memory()["seconds"] / 60, "{:.0f}"),
}

# page -> quotes; {name} is SOURCES[name], rendered.
QUOTES = {
    "performance.en.md": [
        "costs about {loop_us} microseconds for each of its $2T^2$ steps",
        "The loop is {loop8} times slower for 8 tokens",
        "the fused path then takes {fused_jump} times as long, while the matrix version takes about {vec_jump} "
        "times as long",
        "the package takes {check8} times as long as the bare three operations",
        "a little slower than the math path there ({sdpa8} times as long)",
        "from $T = 512$ on the package takes {check_long_min} to {check_long_max} times as long as the bare "
        "operations",
        "at $T = 1024$ it takes about {sdpa1024} of its time",
        "faster than the package at every length, {fused1024} times at $T = 1024$ on one core",
        "its peak memory rises by {peak_fused} MiB",
        "({bench_minutes} minutes on the author's machine, which was busy at the time)",
        "7 ms against the published {matmul1024} ms",
        "published as {sdpa1024}",
        "The explicit path takes {expl8} times as long as fused for 8 tokens and {expl4096} times as long for 4096",
        "rises by {peak_expl} MiB against {peak_sdpa} MiB",
        "fused takes from {short_min} to {short_max} times as long as nn_mha",
        "{nnmha1024} times at $T = 1024$ and {nnmha4096} times at 4096",
        "({peak_nnmha} MiB for PyTorch's module at 4096)",
        "Fused takes {same1024} of nn_mha_sdpa's time at $T = 1024$ and {same4096} at 4096, and from "
        "{same_min} to {same_max} times as long for shorter sequences",
        "({mh_minutes} minutes on the author's busy machine;",
    ],
    "performance.md": [
        "どの長さでも約 {loop_us} マイクロ秒かかります",
        "8 トークンで行列積版の {loop8} 倍",
        "この間に融合経路の時間は {fused_jump} 倍になるのに対して、行列積版の時間は約 {vec_jump} 倍",
        "検査なしの 3 つの演算の {check8} 倍の時間がかかります",
        "短い系列では math 経路より少し遅くなります（{sdpa8} 倍）",
        "$T = 512$ 以上では、検査なしの {check_long_min}〜{check_long_max} 倍です",
        "パッケージの時間は math 経路の約 {sdpa1024} 倍です",
        "1 コアでパッケージの {fused1024} 倍の速さです",
        "ピークメモリの増加は {peak_fused} MiB にとどまります",
        "（ほかの処理で混み合っていた筆者のマシンで {bench_minutes} 分ほど）",
        "7 ミリ秒と公開結果の {matmul1024} ミリ秒",
        "公開結果では {sdpa1024} です",
        "8 トークンでは fused の {expl8} 倍、4096 トークンでは {expl4096} 倍",
        "fused の {peak_sdpa} MiB に対して {peak_expl} MiB です",
        "fused の時間は nn_mha の {short_min}〜{short_max} 倍です",
        "$T = 1024$ で {nnmha1024} 倍、4096 では {nnmha4096} 倍の速さです",
        "（PyTorch のモジュールは 4096 で {peak_nnmha} MiB）",
        "nn_mha_sdpa に対して $T = 1024$ で {same1024} 倍、4096 で {same4096} 倍、それより短い系列では "
        "{same_min}〜{same_max} 倍です",
        "（混み合っていた筆者のマシンで {mh_minutes} 分ほど。",
    ],
    "long-sequences.en.md": [
        "falls to a mean of {baseline_20} at length 20",
        "keeps a mean of {attention_20}",
        "with a loss of {baseline_loss_min} to {baseline_loss_max} against {attention_loss_min} to "
        "{attention_loss_max} for the model with attention",
        "accuracies differed by up to {cpu_path_difference}",
        "the tolerance is {tolerance}",
        "within {tolerance} of the same seed's published one",
        "the five seeds took {seconds} s, about {minutes_a_seed} minutes a seed, and the same run under the "
        "other code paths {other_paths_min} to {other_paths_max} s",
        "takes about {minutes_a_seed} minutes on one core of the author's machine",
    ],
    "long-sequences.md": [
        "長さ 20 では平均 {baseline_20} になります",
        "平均 {attention_20} を保ちます",
        "アテンションなしのモデルで {baseline_loss_min}〜{baseline_loss_max}、アテンションありのモデルで "
        "{attention_loss_min}〜{attention_loss_max}",
        "正解率の差は最大 {cpu_path_difference} でした",
        "を {tolerance} としています",
        "との差が {tolerance} 以内であれば",
        "5 シードで {seconds} 秒、1 シードあたり約 {minutes_a_seed} 分かかりました。"
        "ほかのコードパスでの同じ実行には {other_paths_min}〜{other_paths_max} 秒",
        "筆者のマシンの 1 コアで約 {minutes_a_seed} 分",
    ],
    "experiment.en.ipynb": [
        "took {seconds} s on the author's machine, about {minutes_a_seed} minutes a seed",
        "differed by up to {cpu_path_difference}",
        "the tolerance `code` is {tolerance}",
        "within {tolerance} of the same seed's published one",
        "{rows_moved} of the 12 rows moved and {example_correct} of the 12 tokens were still correct",
    ],
    "experiment.ipynb": [
        "1 コアで {seconds} 秒、1 シードあたり約 {minutes_a_seed} 分かかりました",
        "正解率の差は最大 {cpu_path_difference} でした",
        "`code` を {tolerance} としています",
        "公開結果から {tolerance} 以内に",
        "12 行のうち {rows_moved} 行で帯の位置が変わり、正しく出力できたトークンは 12 個のうち {example_correct} 個",
    ],
}

QUOTES["sliding-window.en.md"] = [
    "the cache without a window is {win_bytes} times as large",
    "a token took {win_time} times as long without the window as with it",
    "From {win_filled} tokens, when the window is full, to 4096, the time per token rose {win_full_growth} times "
    "without the window and only {win_window_growth} times with it",
]
QUOTES["sliding-window.md"] = [
    "ウィンドウなしのキャッシュはその {win_bytes} 倍です",
    "ウィンドウなしの 1 トークンの時間はウィンドウありの {win_time} 倍でした",
    "ウィンドウが埋まったあとの {win_filled} トークンの時点から 4096 トークンまでに、ウィンドウなしの時間は "
    "{win_full_growth} 倍に増え、ウィンドウありは {win_window_growth} 倍にとどまりました",
]
QUOTES["flash-attention.en.md"] = [
    "the two measurements differed by at most {fa_spread} MiB",
    "the peak memory of explicit attention rises by {fa_peak_explicit} MiB",
    "`code` needs {fa_peak_tiled} MiB, about 1/{fa_peak_factor} of that",
    "SDPA needs less still, {fa_peak_sdpa} MiB",
    "`code` takes {fa_tiled_sdpa} times as long as SDPA, and explicit attention {fa_explicit_sdpa} times as long",
    "taking {fa_tiled_explicit} of its time",
    "stays between {fa_tiled_sdpa_min} and {fa_tiled_sdpa_max} times at every length",
    "its time with the mask is {fa_sdpa_causal_share} of its time without",
    "its time grows to {fa_tiled_causal_share} times its time without the mask",
    "widens to {fa_causal_tiled_sdpa} times",
    "Explicit attention takes {fa_causal_explicit_sdpa} times as long as SDPA",
    "dividing the table's median times gives {fa_causal_explicit_sdpa_medians}",
    "({fa_minutes} minutes on the author's machine)",
]
QUOTES["flash-attention.md"] = [
    "2 回の差は最大 {fa_spread} MiB でした",
    "明示的なアテンションのピークメモリの増加は {fa_peak_explicit} MiB です",
    "`code` は {fa_peak_tiled} MiB で、明示的なアテンションの約 {fa_peak_factor} 分の 1 です",
    "SDPA は {fa_peak_sdpa} MiB で、さらに少なく済みます",
    "`code` の時間は SDPA の {fa_tiled_sdpa} 倍、明示的なアテンションは {fa_explicit_sdpa} 倍です",
    "その {fa_tiled_explicit} 倍の時間で済みます",
    "SDPA との時間の比はどの長さでも {fa_tiled_sdpa_min}〜{fa_tiled_sdpa_max} 倍で",
    "因果マスクありの時間が因果マスクなしの {fa_sdpa_causal_share} 倍になります",
    "時間は因果マスクなしの {fa_tiled_causal_share} 倍に増えます",
    "SDPA との差は {fa_causal_tiled_sdpa} 倍に広がります",
    "明示的なアテンションは SDPA の {fa_causal_explicit_sdpa} 倍です",
    "表の時間の中央値どうしで割ると {fa_causal_explicit_sdpa_medians} 倍になります",
    "筆者のマシンで {fa_minutes} 分ほど",
]

# page -> numbers in the prose that look like measurements but do not come from a results file, each with why.
NOT_RESULTS = {
    "performance.en.md": {
        "16 ×": "a matrix shape",
        "128 KiB": "the mmap threshold the benchmark sets",
        "32 MiB": "glibc's cap on the threshold",
        "128 MiB": "2 x 64 MiB, computed on the page",
        "64 MiB": "one 4096 x 4096 float32 matrix, computed on the page",
        "4 GiB": "one 32768 x 32768 float32 matrix, computed on the page",
        "7 ms": "the exercise's hypothetical time",
        "1.1 times": "the target tests/test_performance.py checks",
    },
    "performance.md": {
        "16 ×": "a matrix shape",
        "0.5 秒": "the loop budget, a setting",
        "128 KiB": "the mmap threshold the benchmark sets",
        "32 MiB": "glibc's cap on the threshold",
        "128 MiB": "2 x 64 MiB, computed on the page",
        "64 MiB": "one 4096 x 4096 float32 matrix, computed on the page",
        "4 GiB": "one 32768 x 32768 float32 matrix, computed on the page",
        "7 ミリ秒": "the exercise's hypothetical time",
        "1.1 倍": "the target tests/test_performance.py checks",
        "1,000 倍": "'over a thousand times': tests/test_performance.py checks it",
        "2 倍": "doubling T, or an order of magnitude in words",
        "4 倍": "2 squared",
        "16 倍": "4 squared, exercise 1",
        "3 分": "'3 分の 1', a third",
    },
    "long-sequences.en.md": {
        "0.1": "guessing among ten symbols",
        "0.3": "the gap experiment.check_claims requires",
        "3.32 times": "exercise 2's printed output",
        "3.42 times": "exercise 2's printed output",
        "18 %": "exercise 2's printed output (54,155 / 45,899)",
    },
    "long-sequences.md": {
        "0.1": "guessing among ten symbols",
        "0.3": "the gap experiment.check_claims requires",
        "3.32 倍": "exercise 2's printed output",
        "3.42 倍": "exercise 2's printed output",
        "2 倍": "hidden_dim from 64 to 128",
        "4 倍": "2 squared",
        "18 %": "exercise 2's printed output (54,155 / 45,899)",
    },
    "experiment.en.ipynb": {
        "0.1": "guessing among ten symbols",
        "0.3": "the gap experiment.check_claims requires",
    },
    "experiment.ipynb": {
        "0.1": "guessing among ten symbols",
        "0.3": "the gap experiment.check_claims requires",
    },
    "flash-attention.en.md": {
        "1.4950": "a score the snippet prints",
        "4 GiB": "one 32768 x 32768 float32 matrix, exercise 3",
        "8 GiB": "two of them, exercise 3",
        "1 GiB": "one 16384 x 16384 float32 matrix, computed on the page",
        "8 MiB": "one (16384, 128) float32 block of scores, computed on the page",
        "4 MiB": "one (16384, 64) float32 tensor",
        "128 MiB": "the bound tests/test_tiled.py checks",
        "128 KiB": "the mmap threshold the benchmark sets",
    },
    "flash-attention.md": {
        "1.4950": "a score the snippet prints",
        "4 GiB": "one 32768 x 32768 float32 matrix, exercise 3",
        "8 GiB": "two of them, exercise 3",
        "1 GiB": "one 16384 x 16384 float32 matrix, computed on the page",
        "8 MiB": "one (16384, 128) float32 block of scores, computed on the page",
        "4 MiB": "one (16384, 64) float32 tensor",
        "128 MiB": "the bound tests/test_tiled.py checks",
        "128 KiB": "the mmap threshold the benchmark sets",
        "2 倍": "doubling T",
        "4 倍": "2 squared",
        "8 分": "'8 分の 1', an eighth (the bound tests/test_tiled.py checks)",
    },
}

NOT_RESULTS["sliding-window.en.md"] = {
    "0.8430": "the made-up head's weight on key 0, printed by the snippet above it",
    "0.173": "(5 x 1024 + 131072) / (6 x 131072), printed by the snippet above it",
}
NOT_RESULTS["sliding-window.md"] = {
    "0.8430": "the made-up head's weight on key 0, printed by the snippet above it",
    "0.173": "(5 x 1024 + 131072) / (6 x 131072), printed by the snippet above it",
    "10 倍": "'more than ten times': 1.3436 / 0.1124, printed by the snippet above it",
}

# What looks like a measurement: a number with a unit of time, size or ratio, or a decimal fraction.
MEASUREMENT = re.compile(
    r"(?<![\w.$])(\d[\d,]*(?:\.\d+)?)\s?"
    r"(ms|µs|s|seconds?|minutes?|MiB|GiB|KiB|%|times|×|ミリ秒|マイクロ秒|秒|分|倍)(?![A-Za-z0-9])"
    r"|(?<![\w.$])(\d+\.\d+)(?!\w|\.\d)"
)


def render(template: str, page: str = "") -> str:
    """The quote with the results' numbers; on a Japanese page, each numeral against its counter (tools/ja_style.py)."""
    values = {name: fmt.format(get()) for name, (get, fmt) in SOURCES.items() if "{" + name + "}" in template}
    text = template.format(**values)
    return text if ".en." in page or not page else ja_style.fix(text)


@pytest.mark.parametrize("page", list(QUOTES))
def test_quoted_numbers_match_the_results(page):
    text = prose(page)
    missing = [render(quote, page) for quote in QUOTES[page] if render(quote, page) not in text]
    assert not missing, (
        f"docs/{page} no longer says what the results say; the text, rendered from the current results, "
        f"is not on the page: {missing}"
    )


@pytest.mark.parametrize("page", list(QUOTES))
def test_every_measured_number_in_the_prose_is_checked(page):
    text = prose(page)
    covered = []
    for quote in QUOTES[page]:
        rendered = render(quote, page)
        start = text.find(rendered)
        while start >= 0:
            covered.append((start, start + len(rendered)))
            start = text.find(rendered, start + 1)
    allowed = {render(number, page) for number in NOT_RESULTS.get(page, {})}
    unchecked = []
    for match in MEASUREMENT.finditer(text):
        inside = any(a <= match.start() and match.end() <= b for a, b in covered)
        if not inside and match.group(0).strip() not in allowed:
            unchecked.append(text[max(0, match.start() - 30) : match.end() + 10])
    assert not unchecked, (
        f"docs/{page}: numbers in the prose that no test ties to a results file; add a quote to QUOTES "
        f"(or, if it is not a measurement, to NOT_RESULTS with the reason): {unchecked}"
    )
