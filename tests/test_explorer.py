"""The attention explorer (hooks/explorer.py, issue 12), without a browser.

Its numbers are the package's: computed again here, independently of the hook,
and compared with the hook's data, with what the chapters print, and with what
the built pages carry (the no-JavaScript tables and the JSON data island).
tests/browser/test_explorer.py clicks through the widget in a real browser.
"""

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hooks import explorer

from attention_notes.causal import CausalAttention, causal_mask
from attention_notes.data import TOKENS, journey_inputs
from attention_notes.gqa import GroupedQueryAttention
from attention_notes.multihead import MultiHeadAttention
from attention_notes.rope import apply_rope, compute_rope_params
from attention_notes.scaled_dot_product import scaled_dot_product_attention
from attention_notes.simple_attention import all_scores, context_vectors, scores_to_weights
from attention_notes.sliding_window import sliding_window_mask
from attention_notes.trainable import SelfAttention
from tests.conftest import ROOT

DOCS = ROOT / "docs"
# (page, view): the pages that embed the widget, with the view they ask for.
PAGES = [
    ("simplified-self-attention", "simplified"),
    ("trainable-self-attention", "trainable"),
    ("causal-attention", "causal"),
    ("multi-head-attention", "multihead"),
    ("sliding-window", "sliding"),
]
# The sliding view's states: (window, sinks), None for the plain causal mask.
SLIDING = [(None, 0), (3, 0), (3, 1)]
VIEWS = [view for _, view in PAGES]
T = len(TOKENS)
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
WIDGET = re.compile(r'<figure class="ax" data-attention-explorer="(?P<view>[^"]+)".*?</figure>', re.S)
MAX_BYTES = 20_000


def expected(view: str) -> list[dict]:
    """Every state of ``view`` as the package computes it, by another path than the hook's.

    A list of ``{"weights": (T, T), "context": (T, d)[, "output": (T, d_out)]}``,
    in the order of the widget's toggle.
    """
    x = journey_inputs()  # (T, D)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        if view == "simplified":
            attn_scores = all_scores(x)  # (T, T)
            states = []
            for scale in (1.0, 1 / 3**0.5):  # the page's weights, then scores / sqrt(D)
                attn_weights = scores_to_weights(attn_scores * scale)  # (T, T)
                states.append({"weights": attn_weights, "context": context_vectors(x, attn_weights)})
            return states
        if view == "trainable":
            torch.manual_seed(789)
            sa = SelfAttention(3, 2)
            queries, keys, values = sa.W_query(x), sa.W_key(x), sa.W_value(x)  # (T, d_out)
            context, attn_weights = sa(x)
            unscaled = torch.softmax(queries @ keys.T, dim=-1)  # (T, T), no 1 / sqrt(d_k)
            return [
                {"weights": unscaled, "context": unscaled @ values},
                {"weights": attn_weights, "context": context},
            ]
        if view == "causal":
            torch.manual_seed(789)
            ca = CausalAttention(3, 2, T, 0.0)
            queries, keys, values = ca.W_query(x), ca.W_key(x), ca.W_value(x)  # (T, d_out)
            open_weights = torch.softmax(queries @ keys.T / 2**0.5, dim=-1)  # (T, T), no mask
            context, attn_weights = ca(x)
            return [
                {"weights": open_weights, "context": open_weights @ values},
                {"weights": attn_weights, "context": context},
            ]
        if view == "multihead":
            torch.manual_seed(123)
            mha = MultiHeadAttention(3, 2, T, 0.0, num_heads=2)
            output, attn_weights = mha(x)  # (T, d_out), (H, T, T)
            states = []
            for h in range(2):  # head_dim 1: head h owns row h of each projection
                rows = slice(h, h + 1)
                q = x @ mha.W_query.weight[rows].T  # (T, 1)
                k = x @ mha.W_key.weight[rows].T
                v = x @ mha.W_value.weight[rows].T
                context, weights = scaled_dot_product_attention(q, k, v, mask=causal_mask(T))
                torch.testing.assert_close(weights, attn_weights[h])
                states.append({"weights": attn_weights[h], "context": context, "output": output})
            return states
        if view == "sliding":
            torch.manual_seed(123)
            gqa = GroupedQueryAttention(
                3, 2, 1, 1, context_length=T
            )  # its parameters; the masks are built here
            cos, sin = compute_rope_params(2, 10_000.0, T)  # (T, 2) each: head_dim 2
            queries = apply_rope(gqa.W_query(x), cos, sin)  # (T, 2): rotated at positions 0..5
            keys = apply_rope(gqa.W_key(x), cos, sin)
            values = gqa.W_value(x)  # (T, 2)
            states = []
            for window, sinks in SLIDING:
                mask = causal_mask(T) if window is None else sliding_window_mask(T, window, sinks)  # (T, T)
                attn_scores = (queries @ keys.T / 2**0.5).masked_fill(mask, -torch.inf)  # (T, T)
                attn_weights = torch.softmax(attn_scores, dim=-1)
                states.append({"weights": attn_weights, "context": attn_weights @ values})
            return states
    raise ValueError(view)


def mask(view: str, state: int) -> torch.Tensor:
    """The (T, T) mask the widget hatches in ``state`` of ``view`` (True = masked), built by the package."""
    if view == "sliding":
        window, sinks = SLIDING[state]
        return causal_mask(T) if window is None else sliding_window_mask(T, window, sinks)
    if view == "multihead" or (view == "causal" and state == 1):
        return causal_mask(T)
    return torch.zeros(T, T, dtype=torch.bool)


def fmt(tensor: torch.Tensor) -> list:
    """A tensor as nested lists of 4-decimal strings."""
    return [fmt(t) for t in tensor] if tensor.dim() else f"{tensor.item():.4f}"


def _html(site: Path, lang: str, page: str) -> str:
    return ((site if lang == "ja" else site / "en") / page / "index.html").read_text(encoding="utf-8")


def _widget(site: Path, lang: str, page: str) -> str:
    found = WIDGET.findall(_html(site, lang, page))
    assert len(found) == 1, f"{lang}:{page}: {len(found)} widgets"
    return WIDGET.search(_html(site, lang, page))[0]


def _unmarked(html: str) -> str:
    """``html`` without the ``<span lang="en">`` around the English tokens of a Japanese page."""
    return re.sub(r'<span lang="en">([^<]*)</span>', r"\1", html).replace(' lang="en"', "")


def _island(widget: str) -> dict:
    return json.loads(
        re.search(r'<script type="application/json" class="ax-data">(.*?)</script>', widget, re.S)[1]
    )


# ---- the numbers ----------------------------------------------------------------


@pytest.mark.parametrize("view", VIEWS)
def test_hook_data_is_the_package_output(view):
    states, _ = explorer.states(view)
    want = expected(view)
    assert len(states) == len(want) == (3 if view == "sliding" else 2)
    for state, w in zip(states, want, strict=True):
        torch.testing.assert_close(state.attn_weights, w["weights"], rtol=0, atol=1e-6)
        torch.testing.assert_close(state.context, w["context"], rtol=0, atol=1e-6)
        if "output" in w:
            torch.testing.assert_close(state.output, w["output"], rtol=0, atol=1e-6)
    got = explorer.data(view)["states"]
    for state, w in zip(got, want, strict=True):
        assert state["weights"] == fmt(w["weights"])
        assert state["context"] == fmt(w["context"])
        assert state.get("output") == (fmt(w["output"]) if "output" in w else None)


@pytest.mark.parametrize("view", VIEWS)
def test_weights_are_softmax_rows_and_the_mask_blocks_later_keys(view):
    states, _ = explorer.states(view)
    for i, state in enumerate(states):
        w = state.attn_weights
        assert w.shape == (T, T)
        torch.testing.assert_close(w.sum(dim=-1), torch.ones(T))
        blocked = mask(view, i)
        assert torch.all(w[blocked] == 0) and torch.all(w[~blocked] > 0)
        # What the widget hatches (hooks/explorer.py's rule, explorer.js's too) is that mask.
        shown = explorer.data(view)["states"][i]
        assert [[explorer.blocked(shown, q, k) for k in range(T)] for q in range(T)] == blocked.tolist()
    # The toggle changes the numbers (a toggle that shows the same matrix twice is broken).
    for a, b in itertools.pairwise(states):
        assert not torch.equal(a.attn_weights, b.attn_weights)


def test_scaling_flattens_the_weights():
    """Dividing the scores by sqrt(d) before softmax makes every row more even (lower maximum)."""
    for view in ("simplified", "trainable"):
        (unscaled, scaled), _ = explorer.states(view)
        assert torch.all(scaled.attn_weights.amax(dim=-1) < unscaled.attn_weights.amax(dim=-1))


def _printed(page: str) -> str:
    """A page's source, with torch's column padding removed ("[-0.07,  0.07]" -> "[-0.07, 0.07]")."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.sub(r"\[\s+", "[", re.sub(r",\s+", ", ", text))


@pytest.mark.parametrize(
    ("source", "view", "field"),
    [
        ("simplified-self-attention.md", "simplified", "weights"),
        ("simplified-self-attention.md", "simplified", "context"),
        ("trainable-self-attention.md", "trainable", "context"),
        ("causal-attention.md", "causal", "weights"),
        ("multi-head-attention.md", "multihead", "output"),
        ("sliding-window.md", "sliding", "weights"),
    ],
)
def test_the_page_shows_the_numbers_its_chapter_prints(source, view, field):
    """The widget's first state is what the chapter printed: every row, as torch printed it."""
    states, first = explorer.states(view)
    rows = fmt(getattr(states[first], "attn_weights" if field == "weights" else field))
    printed = _printed(source)
    for row in rows:
        assert f"[{', '.join(row)}]" in printed, f"{source}: {row} not printed"


def test_journey_row_of_the_simplified_weights():
    assert explorer.data("simplified")["states"][0]["weights"][1] == [
        "0.1385",
        "0.2379",
        "0.2333",
        "0.1240",
        "0.1082",
        "0.1581",
    ]


def test_computing_leaves_the_random_state_alone():
    explorer.states.cache_clear()
    torch.manual_seed(0)
    before = torch.get_rng_state()
    for view in VIEWS:
        explorer.states(view)
    assert torch.equal(torch.get_rng_state(), before)


# ---- the built pages --------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize(("page", "view"), PAGES)
def test_built_page_carries_the_widget_and_the_no_js_tables(site: Path, lang, page, view):
    widget = _widget(site, lang, page)
    assert f'data-attention-explorer="{view}"' in widget
    # Two radio groups: a radio per token, its text the token, one checked and the group's only tab
    # stop; then the two states.
    groups = re.findall(r'<div class="(ax-tokens|ax-states)" role="radiogroup" aria-label="[^"]+">', widget)
    assert groups == ["ax-tokens", "ax-states"]
    buttons = re.findall(
        r'<button type="button" role="radio" aria-checked="(true|false)" tabindex="(0|-1)"( lang="en")?>'
        r"([^<]*)</button>",
        widget,
    )
    assert [b[3] for b in buttons[:T]] == list(TOKENS)
    assert [(c, t) for c, t, _, _ in buttons[:T]].count(("true", "0")) == 1
    assert [(c, t) for c, t, _, _ in buttons[T:]].count(("true", "0")) == 1
    want = expected(view)
    assert len(buttons) == T + len(want)  # and the states of the toggle
    assert "aria-pressed" not in widget and 'role="toolbar"' not in widget
    # The tokens are English words: marked so inside a Japanese page, wherever they are shown.
    assert [bool(b[2]) for b in buttons] == [lang == "ja"] * T + [False] * len(want)
    outside_data = widget.split('class="ax-data">')[0]
    for token in TOKENS:
        shown = re.findall(rf"<(\w+)([^>]*)>{token}</\1>", outside_data)
        assert shown, token
        marked = [attributes for _, attributes in shown if 'lang="en"' in attributes]
        assert len(marked) == (len(shown) if lang == "ja" else 0), (token, shown)
    # Without JavaScript: per state, a table with every weight, and one with every context vector, in
    # order; the module's output (multi-head: the same for both heads) once.
    tables = re.findall(r'<table class="ax-table">.*?</table>', widget, re.S)
    assert len(tables) == len(want)
    for table, w in zip(tables, want, strict=True):
        cells = re.findall(r"<td>([^<]*)</td>", table)
        assert cells == [n for row in fmt(w["weights"]) for n in row]
        assert [_unmarked(h) for h in re.findall(r'<th scope="col">(.*?)</th>', table)] == list(TOKENS)
    vectors = re.findall(r'<table class="ax-table ax-vectors">.*?</table>', widget, re.S)
    want_vectors = [w["context"] for w in want] + ([want[0]["output"]] if "output" in want[0] else [])
    assert len(vectors) == len(want_vectors)
    for table, values in zip(vectors, want_vectors, strict=True):
        assert re.findall(r"<td>([^<]*)</td>", table) == [n for row in fmt(values) for n in row]
        assert [_unmarked(h) for h in re.findall(r'<th scope="row">(.*?)</th>', table)] == list(TOKENS)
    # The data island: every state's weights and context vectors.
    states = _island(widget)["states"]
    for state, w in zip(states, want, strict=True):
        assert state["weights"] == fmt(w["weights"])
        assert state["context"] == fmt(w["context"])
    # The interactive part, rendered for the initial query ("journey") and state.
    _, first = explorer.states(view)
    shown = re.findall(r"<span[^>]* data-weight>([^<]*)</span>", widget)
    assert shown == fmt(want[first]["weights"])[explorer.FIRST_TOKEN]
    # A masked key is named so for a screen reader, not only hatched for the eye.
    notes = re.findall(r'<span class="ax-masked-note"( hidden)?>', widget)
    assert [not hidden for hidden in notes] == mask(view, first)[explorer.FIRST_TOKEN].tolist()


@pytest.mark.parametrize(("page", "view"), PAGES)
def test_both_languages_have_the_same_widget_with_translated_labels(site: Path, page, view):
    # The Japanese widget marks its English tokens (lang="en"); the English needs no mark.
    ja, en = _unmarked(_widget(site, "ja", page)), _widget(site, "en", page)
    assert 'lang="' not in en
    tags = re.compile(r"<(/?[a-z]+)(?:\s[^>]*?)?>")
    assert tags.findall(ja) == tags.findall(en)
    assert _island(ja)["states"] == _island(en)["states"]
    labels = re.compile(
        r'aria-label="([^"]*)"|<(?:caption|figcaption|span class="ax-title"|p class="ax-status"[^>]*)>([^<]*)'
    )
    ja_labels = [a or b for a, b in labels.findall(ja)]
    en_labels = [a or b for a, b in labels.findall(en)]
    assert len(ja_labels) == len(en_labels) > 5
    assert all(JAPANESE.search(label) for label in ja_labels if label), ja_labels
    assert not any(JAPANESE.search(label) for label in en_labels), en_labels
    assert not JAPANESE.search(en.split('class="ax-data">')[0])
    assert _island(ja)["status"] != _island(en)["status"]


def test_only_embedding_pages_load_the_script_and_stylesheet(site: Path):
    embedding = {page for page, _ in PAGES}
    for html_file in sorted(site.rglob("*.html")):
        html = html_file.read_text(encoding="utf-8")
        links = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]*explorer\.(?:js|css))"', html)
        rel = html_file.relative_to(site).parent.as_posix().removeprefix("en").strip("/")
        if rel in embedding:
            assert len(links) == 2, f"{html_file}: {links}"
            assert "data-attention-explorer" in html
            for link in links:  # relative to the page, and there
                assert not link.startswith(("/", "http")), link
                assert (html_file.parent / link).resolve().is_file(), link
        else:
            assert not links and "data-attention-explorer" not in html, html_file


def test_widget_is_left_out_of_the_search_index(site: Path):
    """Its text is tables of numbers and button labels: the section around it is indexed, not it."""
    # Every index of the site (one for both languages, or one per language).
    docs = [
        doc
        for index in site.rglob("search_index.json")
        for doc in json.loads(index.read_text(encoding="utf-8"))["docs"]
    ]
    sections = [d for d in docs if d["location"].endswith("/#explorer")]
    assert len(sections) >= len(PAGES)
    for section in sections:
        assert not re.search(r"\d\.\d{4}", section["text"]), section
        assert "journey" not in section["text"] or "step" not in section["text"], section
    text = " ".join(d["text"] for d in docs)
    for label in ("クエリ＼キー", "query \\ key", "クエリにするトークン", "Query token"):
        assert label not in text, label


def test_script_and_stylesheet_are_small_and_self_contained():
    js = DOCS / "assets" / "javascripts" / "explorer.js"
    css = DOCS / "assets" / "stylesheets" / "explorer.css"
    size = js.stat().st_size + css.stat().st_size
    assert size < MAX_BYTES, f"{size} bytes"
    code = js.read_text(encoding="utf-8")
    for word in ("fetch(", "XMLHttpRequest", "import ", "http:", "https:", "//cdn"):
        assert word not in code, word
    assert not re.search(r"url\(|@import|https?:", css.read_text(encoding="utf-8"))


# ---- the hook on a small site of its own ---------------------------------------------

CONFIG = f"""
site_name: Explorer
theme:
  name: mkdocs
markdown_extensions:
  - pymdownx.superfences
hooks:
  - {ROOT / "hooks" / "explorer.py"}
"""


# The two builds below depend on the hook, the package and the widget's files, not on the pages:
# a warm run skips them while those are unchanged since they passed (tests/unchanged.py).
BUILD_INPUTS = pytest.mark.inputs(
    "hooks",
    "src/attention_notes",
    "docs/assets/javascripts/explorer.js",
    "docs/assets/stylesheets/explorer.css",
)


def _build(tmp_path: Path, page: str) -> subprocess.CompletedProcess:
    docs = tmp_path / "docs"
    for asset in ("javascripts/explorer.js", "stylesheets/explorer.css"):
        target = docs / "assets" / asset
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((DOCS / "assets" / asset).read_bytes())
    (docs / "index.md").write_text(page, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(CONFIG, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )


@BUILD_INPUTS
def test_an_unknown_view_fails_the_build(tmp_path: Path):
    done = _build(tmp_path, "# Page\n\n<!-- attention-explorer: transformer -->\n")
    assert done.returncode != 0
    assert "unknown view 'transformer'" in done.stderr
    assert "index.md" in done.stderr


@BUILD_INPUTS
def test_a_marker_in_a_code_block_is_shown_not_replaced(tmp_path: Path):
    page = (
        "# Page\n\n```text\n<!-- attention-explorer: causal -->\n```\n\n<!-- attention-explorer: causal -->\n"
    )
    done = _build(tmp_path, page)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert html.count("data-attention-explorer=") == 1
    assert "&lt;!-- attention-explorer: causal --&gt;" in html
    assert '<script src="assets/javascripts/explorer.js" defer>' in html
