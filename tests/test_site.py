"""The built site: strict build, both languages, no third-party requests, maths from our own files."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.markdown import ROOT, english_of, headings, ja_notebooks, ja_pages, page_url, prose_lines


def _page_dirs() -> list[str]:
    """URL path of each page and notebook relative to a language root."""
    return [page_url(p) for p in [*ja_pages(), *ja_notebooks()]]


def _html(site: Path, lang: str, page: str) -> str:
    root = site if lang == "ja" else site / "en"
    return (root / page / "index.html").read_text(encoding="utf-8")


class _Resources(HTMLParser):
    """Collect every URL the browser would fetch while loading the page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "audio", "video", "embed"} and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href") and a.get("rel") not in {"alternate", "canonical"}:
            self.urls.append(a["href"])
        if tag == "object" and a.get("data"):
            self.urls.append(a["data"])


PAGES = [(lang, page) for lang in ("ja", "en") for page in _page_dirs()]
PAGE_IDS = [f"{lang}:{page or 'home'}" for lang, page in PAGES]


@pytest.mark.parametrize(("lang", "page"), PAGES, ids=PAGE_IDS)
def test_page_loads_nothing_from_other_hosts(site: Path, lang: str, page: str):
    html = _html(site, lang, page)
    parser = _Resources()
    parser.feed(html)
    external = [u for u in parser.urls if re.match(r"^(https?:)?//", u)]
    assert not external, external
    assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html


def test_stylesheets_and_scripts_load_nothing_from_other_hosts(site: Path):
    offenders = []
    for path in [*site.rglob("*.css"), *site.rglob("*.js")]:
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"(@import\s+url\(|url\()\s*['\"]?(https?:)?//", text):
            offenders.append(f"{path.relative_to(site)}: {text[m.start() : m.start() + 80]}")
    assert not offenders, offenders


@pytest.mark.parametrize(("lang", "page"), PAGES, ids=PAGE_IDS)
def test_page_language_and_switcher(site: Path, lang: str, page: str):
    html = _html(site, lang, page)
    assert f'<html lang="{lang}"' in html
    switch = dict(re.findall(r'<a href="([^"]*)" hreflang="(ja|en)" class="md-select__link"', html))
    switch = {v: k for k, v in switch.items()}
    assert set(switch) == {"ja", "en"}
    # The switcher keeps the reader on the same page in the other language.
    other = "en" if lang == "ja" else "ja"
    here = (site if lang == "ja" else site / "en") / page
    target = (here / switch[other]).resolve()
    expected = (site / "en" / page if other == "en" else site / page).resolve()
    assert target == expected


@pytest.mark.parametrize(("lang", "page"), PAGES, ids=PAGE_IDS)
def test_no_head_link_sends_materials_script_after_a_missing_sitemap(site: Path, lang: str, page: str):
    """Material fetches sitemap.xml under every <link rel="alternate" hreflang> of the <head>
    (hooks/language_switcher.py): two 404s a page, console errors. The switcher has the links."""
    head = _html(site, lang, page).split("</head>")[0]
    assert not re.search(r'<link rel="alternate"[^>]*hreflang', head)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_one_404_page_per_language(site: Path, lang: str):
    """404.html (Japanese, what a host serves for any missing address) and en/404.html (hooks/not_found.py):
    each in its language, searching its language's index, its language links to each 404 page."""
    folder = "en/" if lang == "en" else ""
    html = (site / folder / "404.html").read_text(encoding="utf-8")
    assert f'<html lang="{lang}"' in html
    heading = re.search(r"<h1>(.*?)</h1>", html)[1]
    japanese = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
    assert "404" in heading and bool(japanese.search(heading)) == (lang == "ja"), heading
    article = html.split('<article class="md-content__inner md-typeset">')[1].split("</article>")[0]
    text = re.sub(r"<[^>]+>", "", article)
    assert bool(japanese.search(text)) == (lang == "ja") and len(text.strip()) > 40, text
    # Links from the site's root: a 404 page is served at any address.
    config = json.loads(
        re.search(r'<script id="__config" type="application/json">(.*?)</script>', html, re.S)[1]
    )
    assert config["base"] == f"/{folder}"  # its search loads <base>search/search_index.json
    assert bool(japanese.search(config["translations"]["search.result.placeholder"])) == (lang == "ja")
    switch = dict(re.findall(r'<a href="([^"]*)" hreflang="(ja|en)" class="md-select__link"', html))
    assert switch == {"/404.html": "ja", "/en/404.html": "en"}
    assert f'href="/{folder}"' in article  # the home page of its language
    assert not (site / "ja" / "404.html").exists()


def test_site_name_is_translated(site: Path):
    assert "Attention Notes（アテンション学習ノート）" in _html(site, "ja", "")
    assert "アテンション学習ノート" not in _html(site, "en", "")


@pytest.mark.parametrize(("lang", "page"), PAGES, ids=PAGE_IDS)
def test_page_title_names_the_page_and_the_site_once(site: Path, lang: str, page: str):
    title = re.search(r"<title>(.*?)</title>", _html(site, lang, page), re.S)[1].strip()
    site_name = "Attention Notes（アテンション学習ノート）" if lang == "ja" else "Attention Notes"
    if page:
        assert title.endswith(" - " + site_name) and title != f"{site_name} - {site_name}", title
    else:
        assert title == site_name, title


def test_navigation_is_translated(site: Path):
    ja, en = _html(site, "ja", ""), _html(site, "en", "")
    assert "単純化したセルフアテンション" in ja and "用語集" in ja
    assert "Simplified self-attention" in en and "Glossary" in en


# TeX a reader could see: \( \) \[ \], $$, an inline $...$ (pandoc's rule: a $ that
# opens is followed by a non-space, one that closes follows a non-space and no
# digit follows it; "$5 or $6" is a price) and any TeX command.
TEX = re.compile(r"\\[()\[\]]|\$\$|(?<![\\$])\$(?![\s$])[^$\n]*?(?<!\s)\$(?!\d)|\\[A-Za-z]+")
# Elements whose text is not shown as text: code, and the TeX source inside each MathML formula.
NOT_TEXT = re.compile(r"<(pre|code|annotation|script|style)\b.*?</\1>", re.S)


def test_no_tex_anywhere_on_any_page(site: Path):
    """hooks/maths.py leaves no TeX outside code: article, <title>, navigation, table of contents, attributes."""
    found = []
    for path in sorted(site.rglob("*.html")):
        rest = NOT_TEXT.sub(" ", path.read_text(encoding="utf-8"))
        found += [
            f"{path.relative_to(site)}: {rest[m.start() - 40 : m.end() + 40]!r}" for m in TEX.finditer(rest)
        ]
    assert not found, "\n".join(found[:20])


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_no_tex_in_the_search_index(site: Path, lang: str):
    """Section titles and texts as Material's search shows them: a formula is its MathML's text."""
    root = site if lang == "ja" else site / "en"  # each language's index (hooks/search_i18n.py)
    docs = json.loads((root / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    assert len(docs) > 50
    found = []
    for entry in docs:
        for field in ("title", "text"):
            text = re.sub(r"<(pre|code)>.*?</\1>", " ", entry[field], flags=re.S)
            found += [f"{entry['location']} {field}: {m[0]!r}" for m in TEX.finditer(text)]
    assert not found, "\n".join(found[:20])


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_heading_with_maths_shows_it_in_the_table_of_contents(site: Path, lang: str):
    html = _html(site, lang, "simplified-self-attention/")
    entries = re.findall(r'<a href="#context-vector" class="md-nav__link">(.*?)</a>', html, re.S)
    assert entries
    for entry in entries:
        assert '<annotation encoding="application/x-tex">z^{(2)}</annotation>' in entry


MATHS_ASSETS = ("katex", "mathjax", "auto-render", ".woff", ".ttf", ".otf")


def test_no_page_refers_to_a_maths_script_stylesheet_or_font(site: Path):
    """MathML is drawn by the browser: nothing of KaTeX (or MathJax) is loaded, and no web font at all."""
    found = []
    for path in sorted(site.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        parser = _Resources()
        parser.feed(html)
        found += [
            f"{path.relative_to(site)}: {u}" for u in parser.urls if any(w in u.lower() for w in MATHS_ASSETS)
        ]
        found += [
            f"{path.relative_to(site)}: {w}" for w in ("katex.min", "katex.css", "auto-render") if w in html
        ]
    for path in sorted(site.rglob("*.css")):
        urls = re.findall(r"url\(([^)]*)\)", path.read_text(encoding="utf-8", errors="replace"))
        found += [f"{path.relative_to(site)}: {u}" for u in urls if any(w in u.lower() for w in MATHS_ASSETS)]
    assert not found, found
    assert not [p for p in site.rglob("*") if "katex" in p.name.lower() or "mathjax" in p.name.lower()]


SOURCES = [(lang, ja) for lang in ("ja", "en") for ja in [*ja_pages(), *ja_notebooks()]]
# The formulas of a source, as arithmatex and nbconvert (with hooks/maths.py) find them.
FORMULA = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?![\s$])(?:[^$\\]|\\.)+?(?<!\s)\$(?!\d)", re.S)


def _maths_source(source: Path) -> str:
    """The prose of a page or notebook, without code, where its maths is."""
    if source.suffix == ".ipynb":
        cells = json.loads(source.read_text(encoding="utf-8"))["cells"]
        lines = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").splitlines()
    else:
        lines = prose_lines(source)
    return re.sub(r"`[^`\n]*`", "", "\n".join(lines))


@pytest.mark.parametrize(("lang", "ja"), SOURCES, ids=[f"{lang}:{p.name}" for lang, p in SOURCES])
def test_every_formula_of_the_source_is_mathml(site: Path, lang: str, ja: Path):
    source = ja if lang == "ja" else english_of(ja)
    html = _html(site, lang, page_url(ja))
    article = html.split("<article", 1)[1].split("</article>", 1)[0]
    expected = len(FORMULA.findall(_maths_source(source)))
    assert article.count('<math xmlns="http://www.w3.org/1998/Math/MathML"') == expected
    assert article.count('<span class="katex">') == article.count('class="arithmatex"') == expected


def test_maths_is_mathml(site: Path):
    html = _html(site, "en", "simplified-self-attention/")
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML"') > 50
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"') >= 5


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_experiment_notebook_maths_still_renders(site: Path, lang: str):
    html = _html(site, lang, "experiment/")
    formulas = re.findall(r'<annotation encoding="application/x-tex">(.*?)</annotation>', html)
    assert {"i", "S - 1 - i", "S - i"} <= set(formulas)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_notebook_pages_carry_only_the_css_they_use(site: Path, lang: str):
    """hooks/notebooks.py cuts JupyterLab's 570 KB stylesheet down to the rules the page uses."""
    html = _html(site, lang, "experiment/")
    styles = re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)
    assert 0 < sum(map(len, styles)) < 60_000
    assert ".jupyter-wrapper .jp-Cell" in "".join(styles)  # the rules it uses are still there


MD_PAGES = [(lang, p) for lang in ("ja", "en") for p in ja_pages()]


@pytest.mark.parametrize(("lang", "source"), MD_PAGES, ids=[f"{lang}:{p.stem}" for lang, p in MD_PAGES])
def test_heading_ids_are_the_explicit_anchors(site: Path, lang: str, source: Path):
    html = _html(site, lang, page_url(source))
    for level, _, anchor in headings(source):
        assert re.search(rf'<h{level} id="{anchor}"', html), anchor


@pytest.mark.parametrize(("lang", "page"), PAGES, ids=PAGE_IDS)
def test_no_empty_ids_and_toc_links_resolve(site: Path, lang: str, page: str):
    """Japanese headings must not lose their ids (which breaks permalinks and search)."""
    html = _html(site, lang, page)
    assert 'id=""' not in html
    ids = set(re.findall(r' id="([^"]+)"', html))
    toc = re.findall(r'class="md-nav__link" href="#([^"]*)"', html)
    assert all(t in ids for t in toc), [t for t in toc if t not in ids]


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("notebook", ja_notebooks(), ids=lambda p: p.stem)
def test_notebooks_are_rendered_pages_not_raw_json(site: Path, lang: str, notebook: Path):
    html = _html(site, lang, page_url(notebook))
    assert '"cell_type"' not in html and '"nbformat"' not in html
    assert 'class="jp-Notebook' in html or "jp-Cell" in html
    assert not list(site.rglob("*.ipynb")), "a notebook was copied into the site as a file"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_figures_are_localized(site: Path, lang: str):
    root = site if lang == "ja" else site / "en"
    suffix = "" if lang == "ja" else ".en"
    for name in ("accuracy", "alignment", "encoder-decoder", "bahdanau-step", "toy-weights"):
        built = (root / "assets/figures" / f"{name}.svg").read_bytes()
        assert built == (ROOT / "docs/assets/figures" / f"{name}{suffix}.svg").read_bytes()


def test_no_broken_links_or_anchors(site: Path):
    from tests.links import broken_links

    checked, broken = broken_links(site)
    assert checked > 500
    assert not broken, "\n".join(broken)
