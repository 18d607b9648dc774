"""The built site: strict build, both languages, no third-party requests, maths from our own files."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.markdown import ROOT, headings, ja_notebooks, ja_pages, page_url


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


def test_site_name_is_translated(site: Path):
    assert "Attention Notes（アテンション学習ノート）" in _html(site, "ja", "")
    assert "アテンション学習ノート" not in _html(site, "en", "")


def test_navigation_is_translated(site: Path):
    ja, en = _html(site, "ja", ""), _html(site, "en", "")
    assert "単純化したセルフアテンション" in ja and "用語集" in ja
    assert "Simplified self-attention" in en and "Glossary" in en


@pytest.mark.parametrize(("lang", "page"), PAGES, ids=PAGE_IDS)
def test_maths_is_rendered_at_build_time(site: Path, lang: str, page: str):
    """hooks/maths.py turns every formula into MathML: no TeX and no maths script on the page."""
    html = _html(site, lang, page)
    article = html.split("<article", 1)[1].split("</article>", 1)[0]
    text = re.sub(r"<(pre|code|annotation|script|style)\b.*?</\1>", " ", article, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    for raw in ("\\(", "\\[", "$$"):
        assert raw not in text, f"unrendered maths {raw!r}"
    assert "katex.min.js" not in html and "auto-render" not in html
    if 'class="arithmatex"' in html:
        assert html.count('class="katex"') >= html.count('class="arithmatex"')


def test_maths_is_mathml(site: Path):
    html = _html(site, "en", "simplified-self-attention/")
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML"') > 50
    assert html.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"') >= 5
    assert not (site / "assets/vendor/katex").exists()  # no maths script, stylesheet or font


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
    for name in ("accuracy", "alignment"):
        built = (root / "assets/figures" / f"{name}.svg").read_bytes()
        assert built == (ROOT / "docs/assets/figures" / f"{name}{suffix}.svg").read_bytes()


def test_no_broken_links_or_anchors(site: Path):
    from tests.links import broken_links

    checked, broken = broken_links(site)
    assert checked > 500
    assert not broken, "\n".join(broken)
