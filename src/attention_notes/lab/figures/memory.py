"""The figure of the memory page: the KV cache of published models against the context length.

``kv-memory`` is drawn from :func:`attention_notes.kv_memory.kv_cache_bytes`
for the configurations in :data:`attention_notes.kv_memory.PUBLISHED` and for
counterfactuals of the same sizes (DeepSeek-V3's heads cached as MHA, GQA or
MQA; Gemma 3 27B with every layer global), so that it shows exactly what the
estimator computes: pure arithmetic, the same on every machine.
"""

import dataclasses

from matplotlib import rc_context
from matplotlib.figure import Figure

from attention_notes.kv_memory import PUBLISHED, CacheConfig, kv_cache_bytes
from attention_notes.lab.figures.style import STYLE

__all__ = ["LENGTHS", "TEXT", "curves", "load_memory_curves", "plot_kv_memory"]

# The context lengths drawn: 1K to 128K tokens, four points per doubling (so that a window's bend shows).
LENGTHS = tuple(round(2 ** (10 + i / 4)) for i in range(29))

# The words of the figure, and its alt text, in each language of the site.
TEXT = {
    "ja": {
        "length": "コンテキスト長（トークン数）",
        "memory": "KV キャッシュ（GiB、系列 1 つ、bfloat16）",
        "kv-memory_title": "1 系列のキャッシュ：実線は公開された設定、破線は同じ大きさの別の方式",
        "Llama 3 8B": "Llama 3 8B（GQA、KV ヘッド 8）",
        "Mistral 7B": "Mistral 7B v0.1（GQA、窓 4096）",
        "Gemma 3 27B": "Gemma 3 27B（ローカル 5：グローバル 1、窓 1024）",
        "DeepSeek-V3": "DeepSeek-V3（MLA）",
        "Gemma 3 27B, all global": "Gemma 3 27B をすべてグローバル層にしたら",
        "DeepSeek-V3 as MHA": "DeepSeek-V3 を MHA（KV ヘッド 128）にしたら",
        "DeepSeek-V3 as GQA": "DeepSeek-V3 を GQA（KV ヘッド 8）にしたら",
        "DeepSeek-V3 as MQA": "DeepSeek-V3 を MQA（KV ヘッド 1）にしたら",
        "context": "公開されたコンテキスト長",
        "kv-memory_alt": (
            "両対数グラフ。横軸はコンテキスト長で 1K から 128K トークン、"
            "縦軸は系列 1 つの KV キャッシュで単位は GiB。"
            "Llama 3 8B の線はまっすぐ増え、128K トークンで 16 GiB。"
            "Mistral 7B v0.1 の線は 4096 トークンまで Llama 3 8B の線に重なり、"
            "0.5 GiB に達したあと水平になる。"
            "Gemma 3 27B の線は 1024 トークンを過ぎると増え方が緩やかになり、128K トークンで約 10.4 GiB。"
            "DeepSeek-V3 の MLA の線は 128K トークンで約 8.6 GiB。"
            "破線は仮定の方式で、128K トークンでは、DeepSeek-V3 を MHA にすると 488 GiB、"
            "GQA（KV ヘッド 8）にすると 30.5 GiB、MQA にすると約 3.8 GiB、"
            "Gemma 3 27B をすべてグローバル層にすると 62 GiB。"
            "点は各モデルの公開されたコンテキスト長で、"
            "Llama 3 8B と Mistral 7B は 8K、Gemma 3 27B と DeepSeek-V3 は 128K。"
        ),
    },
    "en": {
        "length": "context length (tokens)",
        "memory": "KV cache (GiB, one sequence, bfloat16)",
        "kv-memory_title": (
            "One sequence's cache: solid, published configurations; dashed, other schemes at the same size"
        ),
        "Llama 3 8B": "Llama 3 8B (GQA, 8 KV heads)",
        "Mistral 7B": "Mistral 7B v0.1 (GQA, window 4096)",
        "Gemma 3 27B": "Gemma 3 27B (5 local : 1 global, window 1024)",
        "DeepSeek-V3": "DeepSeek-V3 (MLA)",
        "Gemma 3 27B, all global": "Gemma 3 27B if every layer were global",
        "DeepSeek-V3 as MHA": "DeepSeek-V3 as if MHA (128 KV heads)",
        "DeepSeek-V3 as GQA": "DeepSeek-V3 as if GQA (8 KV heads)",
        "DeepSeek-V3 as MQA": "DeepSeek-V3 as if MQA (1 KV head)",
        "context": "published context length",
        "kv-memory_alt": (
            "Log-log plot of one sequence's KV cache in GiB against the context length, 1K to 128K tokens. "
            "Llama 3 8B's line rises straight to 16 GiB at 128K tokens. Mistral 7B v0.1's line lies on "
            "Llama 3 8B's up to 4096 tokens, where it reaches 0.5 GiB, and then stays flat. Gemma 3 27B's "
            "line grows more slowly after 1024 tokens and reaches about 10.4 GiB at 128K tokens. "
            "DeepSeek-V3's MLA line reaches about 8.6 GiB at 128K tokens. Dashed lines are counterfactuals; "
            "at 128K tokens, DeepSeek-V3 as MHA would need 488 GiB, as GQA with 8 KV heads 30.5 GiB, as MQA "
            "about 3.8 GiB, and Gemma 3 27B with every layer global 62 GiB. Dots mark each model's "
            "published context length: 8K for Llama 3 8B and Mistral 7B, 128K for Gemma 3 27B and "
            "DeepSeek-V3."
        ),
    },
}

COLOURS = {
    "Llama 3 8B": "#3f51b5",
    "Mistral 7B": "#ef6c00",
    "Gemma 3 27B": "#2e7d32",
    "DeepSeek-V3": "#c0392b",
}


def curves() -> dict[str, tuple[str, CacheConfig]]:
    """Each line of the figure: its key in ``TEXT``, the published model it derives from, its cache config."""
    published = {name: (name, model.config) for name, model in PUBLISHED.items()}
    gemma = PUBLISHED["Gemma 3 27B"].config
    # DeepSeek-V3's 128 heads of 128 features, caching keys and values per KV head instead of the latent.
    heads = dataclasses.replace(PUBLISHED["DeepSeek-V3"].config, kv_lora_rank=None, qk_rope_head_dim=None)
    counterfactuals = {
        "Gemma 3 27B, all global": (
            "Gemma 3 27B",
            dataclasses.replace(gemma, window=None, global_every=None),
        ),
        "DeepSeek-V3 as MHA": ("DeepSeek-V3", heads),
        "DeepSeek-V3 as GQA": ("DeepSeek-V3", dataclasses.replace(heads, num_kv_heads=8)),
        "DeepSeek-V3 as MQA": ("DeepSeek-V3", dataclasses.replace(heads, num_kv_heads=1)),
    }
    return published | counterfactuals


def load_memory_curves() -> dict:
    """One sequence's cache in GiB at every length of ``LENGTHS``, per line, and at its model's context."""
    lines = {}
    for key, (model, config) in curves().items():
        lines[key] = {
            "model": model,
            "published": key == model,
            "gib": [kv_cache_bytes(config, n) / 2**30 for n in LENGTHS],
            "context_length": PUBLISHED[model].context_length,
            "gib_at_context": kv_cache_bytes(config, PUBLISHED[model].context_length) / 2**30,
        }
    return {"lengths": list(LENGTHS), "lines": lines}


def plot_kv_memory(data: dict, lang: str = "ja") -> Figure:
    """GiB against context length, log axes: solid lines for the published models, dashed for the others."""
    t = TEXT[lang]
    dashes = {
        "Gemma 3 27B, all global": (4, 2),
        "DeepSeek-V3 as MHA": (5, 2),
        "DeepSeek-V3 as GQA": (2, 2),
        "DeepSeek-V3 as MQA": (6, 2, 1, 2),
    }
    with rc_context(STYLE):
        fig = Figure(figsize=(8.0, 6.2), layout="constrained")
        ax = fig.subplots()
        for key, line in data["lines"].items():
            colour = COLOURS[line["model"]]
            if line["published"]:
                # Llama 3 8B's line is wider: Mistral 7B's lies on it up to the window.
                width = 3.5 if key == "Llama 3 8B" else 2.0
                ax.plot(data["lengths"], line["gib"], color=colour, linewidth=width, label=t[key])
                ax.plot(line["context_length"], line["gib_at_context"], "o", color=colour, ms=6)
            else:
                ax.plot(
                    data["lengths"],
                    line["gib"],
                    color=colour,
                    linewidth=1.4,
                    dashes=dashes[key],
                    label=t[key],
                )
        ax.plot([], [], "o", color="#555555", ms=6, label=t["context"])  # the dots' legend entry
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ticks = [2**10, 2**12, 2**13, 2**15, 2**17]
        ax.set_xticks(ticks, [f"{n // 1024}K" for n in ticks])
        ax.set(xlabel=t["length"], ylabel=t["memory"], xlim=(900, 150_000))
        ax.set_title(t["kv-memory_title"], fontsize=10)
        # Below the axes: in the upper left it covered DeepSeek-V3-as-MHA's line.
        fig.legend(loc="outside lower center", ncols=2, frameon=False, fontsize=8)
        ax.grid(alpha=0.3, which="both")
    return fig
