"""A search index per language (hooks/search_i18n.py), on the built site and in the offline bundle.

Each language's index lies in its own folder (``search/`` for Japanese, the
default, ``en/search/`` for English), holds that language's entries and no
other's, and carries the search settings Material gives that language on its
own. Every page of the site is in its language's index, each of its sections
once; each index weighs about half of what the two together do. The pages of
each language point Material's search at their own folder (``base``).
"""

import html
import json
import re
from pathlib import Path

import pytest
from hooks.search_i18n import code_names, compact_code

from tests.markdown import ja_notebooks, ja_pages, page_url

LANGS = ("ja", "en")
# What Material's partials/languages/{ja,en}.html give search.config.*, that
# is what a site in that language alone would get.
SETTINGS = {
    "ja": {"lang": ["ja"], "separator": "[\\s\\-\u3000、。，．]+", "pipeline": ["stemmer"]},
    # English also splits at punctuation (hooks/search_i18n.py): "(softmax" holds the word softmax.
    "en": {
        "lang": ["en"],
        "separator": r'[\s\-,:;!?=\[\]{}()<>"/|]+|\.(?!\d)',
        "pipeline": ["stopWordFilter"],
    },
}
PAGE_PATHS = sorted(page_url(p) for p in [*ja_pages(), *ja_notebooks()])
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def _folder(site: Path, lang: str) -> Path:
    return site / "en" if lang == "en" else site


def _index(site: Path, lang: str) -> dict:
    return json.loads((_folder(site, lang) / "search" / "search_index.json").read_text(encoding="utf-8"))


def _script_index(bundle: Path, lang: str) -> dict:
    """The offline bundle's search/search_index.js, which search reads from file://."""
    script = (_folder(bundle, lang) / "search" / "search_index.js").read_text(encoding="utf-8")
    prefix = "var __index = "
    assert script.startswith(prefix)
    return json.loads(script[len(prefix) :])


def _base(page: Path) -> Path:
    """The folder that ``base`` in the page's ``__config`` names: where Material's search looks."""
    html = page.read_text(encoding="utf-8")
    config = re.search(r'<script id="__config" type="application/json">(.*?)</script>', html, re.S)
    return (page.parent / json.loads(config[1])["base"]).resolve()


def _pages(index: dict) -> set[str]:
    return {d["location"].split("#")[0] for d in index["docs"]}


@pytest.mark.parametrize("lang", LANGS)
def test_each_language_has_its_own_index_with_its_own_settings(site: Path, lang: str):
    index = _index(site, lang)
    assert {k: index["config"][k] for k in SETTINGS[lang]} == SETTINGS[lang]
    assert set(index["config"]["fields"]) == {"title", "text", "tags"}
    # Locations are relative to the language's folder: none leads into another language's.
    assert not [d["location"] for d in index["docs"] if d["location"].startswith("en/")]
    # Every page of the language, and nothing else.
    assert _pages(index) == set(PAGE_PATHS)


def test_english_search_finds_a_word_after_punctuation(site: Path):
    """lunr splits the text (and the query) with the index's separator, a JavaScript regular expression
    that Python reads the same way: in the English index "torch.softmax(x, dim=-1)" holds the word
    softmax, and no word keeps a bracket, comma or quote."""
    index = _index(site, "en")
    separator = re.compile(index["config"]["separator"])
    text = " ".join(d["title"] + " " + d["text"] for d in index["docs"])
    assert "torch.softmax(" in text  # the case in question is there (inline code in the prose)
    words = {w for w in separator.split(re.sub(r"<[^>]+>", " ", text)) if w}
    assert {"softmax", "softmax_stable", "torch", "tensor"} <= words
    assert not [w for w in words if re.search(r"[()\[\],\"]", w)][:10]
    assert "1.0" in words or "0.5" in words  # a decimal point does not split a number


def test_the_entries_are_in_the_language_of_their_index(site: Path):
    """Japanese text on every page of the Japanese index; next to none in the English index.

    The English glossary gives each term in Japanese too, and one chapter
    quotes a Japanese phrase: a few per cent of their characters at most.
    """
    for lang in LANGS:
        text: dict[str, str] = {}
        for d in _index(site, lang)["docs"]:
            page = d["location"].split("#")[0]
            text[page] = text.get(page, "") + d["title"] + " " + d["text"]
        share = {page: len(JAPANESE.findall(t)) / len(t) for page, t in text.items()}
        if lang == "ja":
            assert min(share.values()) > 0.12, share
        else:
            assert max(share.values()) < 0.08, share


@pytest.mark.parametrize("lang", LANGS)
def test_every_section_of_every_page_is_in_its_language_index_once(site: Path, lang: str):
    """One entry per page and one per heading with an id, as Material indexes them; none twice."""
    locations = [d["location"] for d in _index(site, lang)["docs"]]
    assert len(locations) == len(set(locations))
    for path in PAGE_PATHS:
        html = (_folder(site, lang) / path / "index.html").read_text(encoding="utf-8")
        article = html.split("<article", 1)[1].split("</article>", 1)[0]
        sections = [f"{path}#{i}" for i in re.findall(r'<h[2-6] id="([^"]+)"', article)]
        # A notebook's title (its h1) has an entry of its own besides the page's.
        titles = {f"{path}#{i}" for i in re.findall(r'<h1 id="([^"]+)"', article)}
        mine = sorted(loc for loc in locations if loc.split("#")[0] == path and loc not in titles)
        assert mine == sorted([path, *sections]), path


def test_the_two_indexes_together_hold_every_entry_and_each_about_half(site: Path):
    ja, en = (_index(site, lang) for lang in LANGS)
    assert len(ja["docs"]) == len(en["docs"])  # every page is translated, heading for heading
    sizes = {lang: (_folder(site, lang) / "search" / "search_index.json").stat().st_size for lang in LANGS}
    total = sum(sizes.values())
    # Japanese is the heavier (three bytes a character in UTF-8), but neither comes near the whole.
    assert all(0.3 * total <= n <= 0.65 * total for n in sizes.values()), sizes
    # Text as written, not as \\u escapes (which would double the Japanese index).
    assert "\\u30" not in (site / "search" / "search_index.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", LANGS)
def test_each_page_points_search_at_its_own_language_folder(site: Path, lang: str):
    """Material loads ``<base>/search/search_index.json`` and resolves result links against ``base``."""
    for path in PAGE_PATHS:
        assert _base(_folder(site, lang) / path / "index.html") == _folder(site, lang).resolve(), path


@pytest.mark.parametrize("lang", LANGS)
def test_offline_bundle_has_a_search_script_per_language(offline: Path, lang: str):
    index = _script_index(offline, lang)
    assert index == json.loads(
        (_folder(offline, lang) / "search" / "search_index.json").read_text(encoding="utf-8")
    )
    assert {k: index["config"][k] for k in SETTINGS[lang]} == SETTINGS[lang]
    # Links as the bundle has them (no directory URLs), relative to the language's folder.
    assert _pages(index) == {("index.html" if not p else p.rstrip("/") + ".html") for p in PAGE_PATHS}
    # The pages of the language load this script: their base is the language's folder.
    for html_path in _folder(offline, lang).glob("*.html"):
        if html_path.name == "404.html":
            continue
        assert _base(html_path) == _folder(offline, lang).resolve(), html_path


def test_printed_outputs_are_not_in_the_index_but_on_the_page(site: Path):
    """hooks/search_outputs.py: a snippet's output is shown, not indexed; the code stays indexed."""
    output = "tensor([0.4419, 0.6515, 0.5683])"  # simplified-self-attention's first context vector
    page = (site / "simplified-self-attention" / "index.html").read_text(encoding="utf-8")
    assert output in page and "data-search-exclude" in page
    texts = " ".join(entry["text"] for entry in _index(site, "ja")["docs"])
    assert output not in texts
    assert "simple_self_attention" in texts  # the code is still searchable


def test_code_blocks_are_indexed_as_the_names_they_use(site: Path):
    """hooks/search_i18n.py: a Python block is in the index as its names, each once, not as its text."""
    # The pages' entries (the notebook's also carry each cell's text outside its <pre>).
    notebooks = tuple(page_url(p) for p in ja_notebooks())
    entries = [e for e in _index(site, "ja")["docs"] if not e["location"].startswith(notebooks)]
    texts = " ".join(entry["text"] for entry in entries)
    blocks = re.findall(r"<pre><code>(.*?)</code></pre>", texts, re.S)
    assert len(blocks) > 100
    assert not [b for b in blocks if re.search(r"[()=\n]", b)][:3]  # no code, names alone
    assert "simple_self_attention" in texts and "manual_seed" in texts
    code = "import torch\nfrom attention_notes.kv_cache import KVCache\ntorch.manual_seed(123)\n"
    code += "cache = KVCache(window=4)  # (T, T)\nprint(cache.keys.shape, 'x')\n"
    assert (
        code_names(code) == "torch attention_notes kv_cache KVCache manual_seed cache window print keys shape"
    )
    assert compact_code(f"<p>a</p><pre><code>{html.escape(code)}</code></pre>") == (
        f"<p>a</p><pre><code>{code_names(code)}</code></pre>"
    )
