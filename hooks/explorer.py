"""The attention explorer (issue 12): pick a token, see its attention weights and context vector.

A page asks for the widget with a marker line, an HTML comment of its own::

    <!-- attention-explorer: simplified -->

(``simplified``, ``trainable``, ``causal``, ``multihead`` or ``sliding``; any other name fails
the build). Python-Markdown keeps the comment in the page's HTML, where
``on_page_content`` replaces it; a marker shown inside a code block is escaped
there, so it is never taken for one.

Every number is computed here, at build time, by the package (:func:`states`),
and printed with 4 decimals as torch prints it. The printed numbers are cached
on disk (:func:`published`), keyed by the package's source, torch's version and
this file (:func:`numbers_key`), so a build in which none of those changed does
not import torch. The widget carries them in a
JSON data island, so it works from ``file://`` without fetching anything. Its
HTML stands on its own: without JavaScript the reader sees the full weight
matrix and the context vectors of every state as tables (``.ax-static``); ``explorer.js`` hides them and
shows the interactive part (``.ax-live``, rendered here for the initial token
and state, so the script only swaps numbers). The script and stylesheet are
linked from the pages that embed the widget, and only from those, with URLs
relative to the page (``on_post_page``).

The whole widget is left out of the search index (``data-search-exclude``):
its text is tables of numbers and button labels.
"""

import functools
import html
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

try:  # MkDocs loads a hook from its file, with hooks/ on sys.path while it does
    import build_cache
except ModuleNotFoundError:  # imported as hooks.explorer (the tests)
    from hooks import build_cache

if TYPE_CHECKING:
    import torch

MARKER = re.compile(r"<!--\s*attention-explorer:\s*(?P<view>[^\s>]*)\s*-->")
SCRIPT = "assets/javascripts/explorer.js"
STYLESHEET = "assets/stylesheets/explorer.css"
# The query the chapters follow: "journey", x^(2).
FIRST_TOKEN = 1


@dataclass(frozen=True)
class State:
    """One setting of a view's toggle: the (T, T) weights and the context vectors it gives.

    ``output`` is the module's output where it differs from ``context`` (the
    multi-head module's ``out_proj`` mixes the heads' contexts).
    """

    key: str
    attn_weights: "torch.Tensor"  # (T, T)
    context: "torch.Tensor"  # (T, d)
    output: "torch.Tensor | None" = None  # (T, d_out)
    causal: bool = False
    window: int | None = None  # with ``causal``: a sliding window of this many keys (the query's own too)
    sinks: int = 0  # with ``window``: the first keys every query keeps seeing


def blocked(state: dict, query: int, key: int) -> bool:
    """Whether ``state`` (as :func:`data` gives it) masks ``key`` for ``query``: explorer.js's rule too.

    Causal: every later key; with a window, also the keys ``window`` or more
    before the query that are not sinks (:func:`attention_notes.sliding_window.sliding_window_mask`).
    """
    if not state["causal"]:
        return False
    window = state.get("window")
    outside = window is not None and key <= query - window and key >= state.get("sinks", 0)
    return key > query or outside


@functools.cache
def states(view: str) -> tuple[tuple[State, ...], int]:
    """The states of ``view`` and the index of the one its page shows, computed by the package.

    The caller's random state is left as it was (``fork_rng``).
    """
    import torch

    from attention_notes.causal import CausalAttention
    from attention_notes.data import TOKENS, journey_inputs
    from attention_notes.gqa import GroupedQueryAttention
    from attention_notes.multihead import MultiHeadAttention
    from attention_notes.scaled_dot_product import scaled_dot_product_attention
    from attention_notes.simple_attention import simple_self_attention
    from attention_notes.trainable import SelfAttention

    T = len(TOKENS)
    x = journey_inputs()  # (T, D) = (6, 3)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        if view == "simplified":
            context, attn_weights = simple_self_attention(x)  # (T, D), (T, T): the page's weights
            scaled_context, scaled_weights = scaled_dot_product_attention(x, x, x)  # scores / sqrt(D)
            return (
                State("unscaled", attn_weights, context),
                State("scaled", scaled_weights, scaled_context),
            ), 0
        if view == "trainable":
            torch.manual_seed(789)  # the book's SelfAttention_v2
            sa = SelfAttention(3, 2).eval()
            context, attn_weights = sa(x)  # (T, d_out), (T, T): scaled by 1 / sqrt(d_k)
            queries, keys, values = sa.W_query(x), sa.W_key(x), sa.W_value(x)  # (T, d_out) each
            unscaled = scaled_dot_product_attention(queries, keys, values, scale=1.0)  # (context, weights)
            return (
                State("unscaled", unscaled[1], unscaled[0]),
                State("scaled", attn_weights, context),
            ), 1
        if view == "causal":
            torch.manual_seed(789)  # the same three nn.Linear(3, 2) as SelfAttention above
            ca = CausalAttention(3, 2, T, 0.0).eval()
            context, attn_weights = ca(x)  # (T, d_out), (T, T)
            queries, keys, values = ca.W_query(x), ca.W_key(x), ca.W_value(x)  # (T, d_out) each
            open_context, open_weights = scaled_dot_product_attention(queries, keys, values)  # no mask
            return (
                State("off", open_weights, open_context),
                State("on", attn_weights, context, causal=True),
            ), 1
        if view == "multihead":
            torch.manual_seed(123)  # the book's MultiHeadAttention
            mha = MultiHeadAttention(3, 2, T, 0.0, num_heads=2).eval()
            seen = []
            # The heads' contexts as the module computes them: what goes into out_proj.
            hook = mha.out_proj.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
            try:
                output, attn_weights = mha(x)  # (T, d_out), (H, T, T)
            finally:
                hook.remove()
            H, hd = mha.num_heads, mha.head_dim
            heads = seen[0].reshape(T, H, hd).transpose(0, 1)  # (1, T, H * hd) -> (H, T, hd)
            return tuple(
                State(f"head{h + 1}", attn_weights[h], heads[h], output=output, causal=True) for h in range(H)
            ), 0
        if view == "sliding":
            found = []
            for key, window, sinks in (("causal", None, 0), ("window", 3, 0), ("sinks", 3, 1)):
                torch.manual_seed(123)  # the sliding-window page's module; the same weights in every state
                attn = GroupedQueryAttention(
                    3, 2, 1, 1, context_length=T, sliding_window=window, sink_tokens=sinks
                ).eval()
                seen = []
                # The context as the module computes it: what goes into out_proj.
                hook = attn.out_proj.register_forward_pre_hook(
                    lambda module, args, seen=seen: seen.append(args[0])
                )
                try:
                    _, attn_weights = attn(x)  # (T, d_out), (H, T, T) with H = 1
                finally:
                    hook.remove()
                context = seen[0].reshape(T, attn.head_dim)  # (1, T, d_out) -> (T, hd): one head
                found.append(State(key, attn_weights[0], context, causal=True, window=window, sinks=sinks))
            return tuple(found), 1
    raise PluginError(
        f"attention explorer: unknown view {view!r}; the views are {', '.join(map(repr, VIEWS))}"
    )


VIEWS = ("simplified", "trainable", "causal", "multihead", "sliding")

# ---- labels -----------------------------------------------------------------------

TEXT = {
    "ja": {
        "tokens": "クエリにするトークン",
        "query_key": "クエリ＼キー",
        "weights": "アテンションの重み",
        "status": "「{token}」がクエリのときの重み（{state}）",
        "table": "アテンションの重み（{state}）：行がクエリ、列がキー",
        "scroll": "重みの表",
        "vectors": "{what}（{state}）：行がクエリ",
        "dimension": "クエリ＼次元",
        # Read by screen readers after the key's name: the hatching says it to the eye.
        "masked": "（マスクで隠れたキー）",
        "views": {
            "simplified": {
                "title": "単純化したセルフアテンションの重み",
                "source": "simple_self_attention(journey_inputs())",
                "group": "スコア",
                "states": ["スケーリングなし", "√D で割る（D = 3）"],
                "context": "コンテキストベクトル（入力の重み付き和、3 次元）",
            },
            "trainable": {
                "title": "射影行列を使うセルフアテンションの重み",
                "source": "torch.manual_seed(789); SelfAttention(3, 2)",
                "group": "スコア",
                "states": ["スケーリングなし", "√d_k で割る（d_k = 2）"],
                "context": "コンテキストベクトル（バリューの重み付き和、2 次元）",
            },
            "causal": {
                "title": "コーザルアテンションの重み",
                "source": "torch.manual_seed(789); CausalAttention(3, 2, 6, 0.0)",
                "group": "因果マスク",
                "states": ["マスクなし", "マスクあり"],
                "context": "コンテキストベクトル（バリューの重み付き和、2 次元）",
            },
            "multihead": {
                "title": "マルチヘッドアテンションのヘッドごとの重み",
                "source": "torch.manual_seed(123); MultiHeadAttention(3, 2, 6, 0.0, num_heads=2)",
                "group": "ヘッド",
                "states": ["ヘッド 1", "ヘッド 2"],
                "context": "このヘッドのコンテキスト（このヘッドのバリューの重み付き和、out_proj の前、"
                "1 次元）",
                "output": "モジュールの出力（2 つのヘッドを out_proj で混ぜたもの、2 次元、"
                "どちらのヘッドでも同じ）",
            },
            "sliding": {
                "title": "スライディングウィンドウアテンションの重み",
                "source": "torch.manual_seed(123); GroupedQueryAttention(3, 2, 1, 1, 6, sliding_window=3)",
                "group": "ウィンドウ",
                "states": ["ウィンドウなし", "W = 3", "W = 3、シンク 1 つ"],
                "context": "コンテキストベクトル（バリューの重み付き和、out_proj の前、2 次元）",
            },
        },
    },
    "en": {
        "tokens": "Query token",
        "query_key": "query \\ key",
        "weights": "Attention weights",
        "status": "Weights with “{token}” as the query ({state})",
        "table": "Attention weights ({state}): rows are queries, columns keys",
        "scroll": "Table of weights",
        "vectors": "{what} ({state}): one row per query",
        "dimension": "query \\ dimension",
        "masked": " (masked key)",
        "views": {
            "simplified": {
                "title": "Weights of simplified self-attention",
                "source": "simple_self_attention(journey_inputs())",
                "group": "Scores",
                "states": ["unscaled", "divided by √D (D = 3)"],
                "context": "Context vector (weighted sum of the inputs, 3 dimensions)",
            },
            "trainable": {
                "title": "Weights of self-attention with trainable weights",
                "source": "torch.manual_seed(789); SelfAttention(3, 2)",
                "group": "Scores",
                "states": ["unscaled", "divided by √d_k (d_k = 2)"],
                "context": "Context vector (weighted sum of the values, 2 dimensions)",
            },
            "causal": {
                "title": "Weights of causal attention",
                "source": "torch.manual_seed(789); CausalAttention(3, 2, 6, 0.0)",
                "group": "Causal mask",
                "states": ["mask off", "mask on"],
                "context": "Context vector (weighted sum of the values, 2 dimensions)",
            },
            "multihead": {
                "title": "Weights of each head of multi-head attention",
                "source": "torch.manual_seed(123); MultiHeadAttention(3, 2, 6, 0.0, num_heads=2)",
                "group": "Head",
                "states": ["head 1", "head 2"],
                "context": "This head's context (weighted sum of its values, before out_proj, 1 dimension)",
                "output": "Output of the module (both heads mixed by out_proj, 2 dimensions, "
                "the same for either head)",
            },
            "sliding": {
                "title": "Weights of sliding-window attention",
                "source": "torch.manual_seed(123); GroupedQueryAttention(3, 2, 1, 1, 6, sliding_window=3)",
                "group": "Window",
                "states": ["no window", "W = 3", "W = 3, one sink"],
                "context": "Context vector (weighted sum of the values, before out_proj, 2 dimensions)",
            },
        },
    },
}


def number(value: float) -> str:
    """A number as torch prints a tensor of weights: 4 decimals."""
    return f"{value:.4f}"


def numbers(tensor) -> list:
    """A tensor of any shape as nested lists of :func:`number` strings."""
    if tensor.dim() == 0:
        return number(tensor.item())
    return [numbers(t) for t in tensor]


def data(view: str) -> dict:
    """What the widget's script needs: every state's numbers, as strings of 4 decimals."""
    found, _ = states(view)
    out = []
    for state in found:
        item = {"weights": numbers(state.attn_weights), "context": numbers(state.context)}
        if state.output is not None:
            item["output"] = numbers(state.output)
        item["causal"] = state.causal
        if state.window is not None:
            item["window"], item["sinks"] = state.window, state.sinks
        out.append(item)
    return {"states": out}


def _package_sources() -> tuple[Path, list[Path]]:
    """The package's folder and every Python file in it, found without importing it (nor torch)."""
    spec = importlib.util.find_spec("attention_notes")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError("attention explorer: the package attention_notes is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root, sorted(root.rglob("*.py"))


def _cpu() -> str:
    """The CPU's model, where the system says it: torch's kernels, and so the last digits, follow the CPU."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        return platform.processor()


def numbers_key() -> str:
    """The key of :func:`published`'s numbers: everything that decides them.

    The package's source (every ``.py`` file of it), torch's version, this
    hook's source, Python's version, and the CPU code path torch runs on (the
    machine, its CPU, ``ATEN_CPU_CAPABILITY``).
    """
    root, sources = _package_sources()
    return build_cache.key(
        "explorer",
        build_cache.files_key(root, sources),
        importlib.metadata.version("torch"),
        Path(__file__).read_bytes(),
        platform.machine(),
        _cpu(),
        os.environ.get("ATEN_CPU_CAPABILITY", ""),
        sys.version_info[:2],
    )


def compute() -> dict:
    """Every view's numbers as the widget shows them, from the package (this imports torch)."""
    from attention_notes.data import TOKENS

    return {
        "tokens": list(TOKENS),
        "views": {view: {"first": states(view)[1], **data(view)} for view in VIEWS},
    }


def _compute_afresh() -> str:
    """:func:`compute`'s numbers as JSON, computed by a new Python process.

    Not in this one: `mkdocs serve` keeps its modules between rebuilds, so a
    package imported here before its source changed would give the old numbers
    under the new source's key, and the cache would keep them.
    """
    done = subprocess.run(
        [sys.executable, __file__], capture_output=True, text=True, encoding="utf-8", check=False
    )
    if done.returncode != 0:
        raise PluginError(f"attention explorer: computing the numbers failed:\n{done.stderr.strip()}")
    return done.stdout


def published(cache: "build_cache.Cache | None" = None) -> dict:
    """:func:`compute`'s numbers, read from ``cache`` when they are there, else computed and written to it.

    ``{"tokens": [...], "views": {view: {"first": index, "states": [...]}}}``,
    the states as :func:`data` gives them.
    """
    entry = numbers_key()
    if entry not in _published:
        text = cache.read(entry) if cache is not None else None
        if text is None:
            text = _compute_afresh()
            if cache is not None:
                cache.write(entry, text)
        _published[entry] = json.loads(text)
    return _published[entry]


# Numbers read or computed in this process, by key (`mkdocs serve` keeps them between rebuilds).
_published: dict[str, dict] = {}


def page_language(page: Page) -> str:
    """The page's language: mkdocs-static-i18n's locale of its source file, else the file's suffix."""
    locale = getattr(page.file, "locale", None)
    if locale is None:
        locale = "en" if page.file.src_uri.endswith(".en.md") else "ja"
    if locale not in TEXT:
        raise PluginError(f"attention explorer: no labels in {locale!r} for {page.file.src_uri}")
    return locale


# ---- HTML ---------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _token(token: str, lang: str) -> str:
    """A token, marked as English inside a page in another language (screen readers pronounce it so)."""
    return _e(token) if lang == "en" else f'<span lang="en">{_e(token)}</span>'


def _rows(tokens, state: dict, query: int, masked_label: str, lang: str) -> str:
    """The bars of one query's weights, one list item per key."""
    rows = []
    for j, (token, weight) in enumerate(zip(tokens, state["weights"][query], strict=True)):
        masked_key = blocked(state, query, j)
        masked = " ax-masked" if masked_key else " ax-self" if j == query else ""
        bar = f'<span class="ax-fill" style="width: {float(weight) * 100:.2f}%"></span>'
        note = f'<span class="ax-masked-note"{"" if masked_key else " hidden"}>{_e(masked_label)}</span>'
        rows.append(
            f'<li class="ax-row{masked}"><span class="ax-key">{_token(token, lang)}{note}</span>'
            f'<span class="ax-track" aria-hidden="true">{bar}</span>'
            f'<span class="ax-num" data-weight>{weight}</span></li>'
        )
    return "".join(rows)


def _vector(label: str, values: list[str], attribute: str) -> str:
    spans = ", ".join(f"<span {attribute}>{v}</span>" for v in values)
    return f'<p class="ax-vector">{_e(label)}: <span class="ax-nums">[{spans}]</span></p>'


def _table(tokens, weights: list[list[str]], caption: str, corner: str, lang: str, columns=None) -> str:
    """A matrix with a row per query token: the (T, T) weights (columns are keys), or the context vectors
    (``columns``: the dimensions)."""
    head = "".join(
        f'<th scope="col">{_token(t, lang) if columns is None else _e(t)}</th>'
        for t in (tokens if columns is None else columns)
    )
    body = "".join(
        f'<tr><th scope="row">{_token(t, lang)}</th>' + "".join(f"<td>{w}</td>" for w in row) + "</tr>"
        for t, row in zip(tokens, weights, strict=True)
    )
    kind = "ax-table" if columns is None else "ax-table ax-vectors"
    return (
        f'<table class="{kind}"><caption>{_e(caption)}</caption>'
        f'<thead><tr><td class="ax-corner">{_e(corner)}</td>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _radios(cls: str, label: str, names, checked: int, lang: str | None = None) -> str:
    """A radio group: one choice of several, the checked one the group's one tab stop (explorer.js
    moves it, and the arrow keys move the choice). ``lang``: the names' language, where it is not the page's.
    """
    marked = f' lang="{lang}"' if lang else ""
    buttons = "".join(
        f'<button type="button" role="radio" aria-checked="{str(i == checked).lower()}" '
        f'tabindex="{0 if i == checked else -1}"{marked}>{_e(name)}</button>'
        for i, name in enumerate(names)
    )
    return (
        f'<div class="{cls}" role="radiogroup" aria-label="{_e(label)}">'
        f'<span class="ax-label" aria-hidden="true">{_e(label)}</span>{buttons}</div>'
    )


def widget(view: str, lang: str, numbers: dict | None = None) -> str:
    """The explorer of ``view`` in ``lang``: static tables, the interactive part (hidden), the data.

    ``numbers`` are :func:`published`'s (computed if not given).
    """
    if view not in VIEWS:
        raise PluginError(
            f"attention explorer: unknown view {view!r}; the views are {', '.join(map(repr, VIEWS))}"
        )
    numbers = numbers if numbers is not None else published()
    tokens = numbers["tokens"]
    t, v = TEXT[lang], TEXT[lang]["views"][view]
    first = numbers["views"][view]["first"]
    payload = {"states": numbers["views"][view]["states"], "status": t["status"]}
    state, query, labels = payload["states"][first], FIRST_TOKEN, v["states"]
    tables = []
    for i, s in enumerate(payload["states"]):
        tables.append(_table(tokens, s["weights"], t["table"].format(state=labels[i]), t["query_key"], lang))
        dims = [str(k + 1) for k in range(len(s["context"][0]))]
        what = t["vectors"].format(what=v["context"], state=labels[i])
        tables.append(_table(tokens, s["context"], what, t["dimension"], lang, dims))
    if "output" in state:  # the same in every state: once
        dims = [str(k + 1) for k in range(len(state["output"][0]))]
        tables.append(_table(tokens, state["output"], v["output"], t["dimension"], lang, dims))
    tables = "".join(tables)
    before, _, after = t["status"].partition("{token}")
    status = _e(before) + _token(tokens[query], lang) + _e(after.format(state=labels[first]))
    vectors = _vector(v["context"], state["context"][query], "data-context")
    if "output" in state:
        vectors += _vector(v["output"], state["output"][query], "data-output")
    rows = _rows(tokens, state, query, t["masked"], lang)
    island = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return "".join(
        [
            f'<figure class="ax" data-attention-explorer="{view}" data-search-exclude>',
            f'<figcaption><span class="ax-title">{_e(v["title"])}</span> ',
            f"<code>{_e(v['source'])}</code></figcaption>",
            f'<div class="ax-static" role="region" aria-label="{_e(t["scroll"])}" tabindex="0">',
            f"{tables}</div>",
            '<div class="ax-live" hidden>',
            _radios("ax-tokens", t["tokens"], tokens, query, None if lang == "en" else "en"),
            _radios("ax-states", v["group"], labels, first),
            f'<p class="ax-status" aria-live="polite">{status}</p>',
            f'<ol class="ax-bars" aria-label="{_e(t["weights"])}">{rows}</ol>',
            f"{vectors}</div>",
            f'<script type="application/json" class="ax-data">{island}</script>',
            "</figure>",
        ]
    )


# ---- hooks --------------------------------------------------------------------------

# Pages that embed the widget (by URL, unique across languages) -> (stylesheet, script) URLs.
_assets: dict[str, tuple[str, str]] = {}


def _url(path: str, page: Page, config: MkDocsConfig) -> str:
    # Not looked up in `files`: mkdocs-static-i18n leaves the shared assets out of
    # the other languages' builds (they are written once, at the site's root).
    if not (Path(config.docs_dir) / path).is_file():
        raise PluginError(f"attention explorer: {path} is missing from the docs")
    return get_relative_url(path, page.url)


def on_page_content(output: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    _assets.pop(page.url, None)  # `mkdocs serve` rebuilds: the marker may be gone
    if "attention-explorer" not in output:
        return output
    lang = page_language(page)
    cache = build_cache.Cache.for_site(config, "explorer")

    def replace(m: re.Match) -> str:
        try:
            return widget(m["view"], lang, published(cache))
        except PluginError as err:
            raise PluginError(f"{page.file.src_uri}: {err}") from None

    output, count = MARKER.subn(replace, output)
    if count:
        _assets[page.url] = (_url(STYLESHEET, page, config), _url(SCRIPT, page, config))
    return output


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    urls = _assets.get(page.url)
    if urls is None:
        return output
    stylesheet, script = urls
    output = output.replace("</head>", f'<link rel="stylesheet" href="{_e(stylesheet)}">\n</head>', 1)
    return output.replace("</body>", f'<script src="{_e(script)}" defer></script>\n</body>', 1)


if __name__ == "__main__":  # _compute_afresh's process
    print(json.dumps(compute()))  # ASCII, whatever the locale
