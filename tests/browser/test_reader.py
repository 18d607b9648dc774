"""What a reader sees, checked in a real browser (Debian's chromium through Playwright).

For every page of the built site, in both languages: no request leaves the
local server, the maths is rendered, the language switcher keeps the reader on
the same page, code blocks have a copy button and their copied text prints
exactly the output shown, nothing overflows a 375-pixel phone in light or dark
mode, images have alt text in the page's language, axe-core finds no serious or
critical accessibility problem, and the first load stays under 600 KB. Search
is tried with real queries, and the offline bundle is opened from file://.
"""

import json
import re
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from pytest_codeblocks import extract_from_file

from tests.browser.conftest import ARTIFACTS, AXE, file_only_context, page_url, site_pages, skip_or_fail
from tests.conftest import build_site, built_once
from tests.fresh_python import ForkServer
from tests.markdown import english_of, fences, ja_notebooks, ja_pages
from tests.markdown import page_url as source_url

PAGES = [(lang, source_url(p)) for lang in ("ja", "en") for p in [*ja_pages(), *ja_notebooks()]]
IDS = [f"{lang}:{path or 'home'}" for lang, path in PAGES]
NOTEBOOK_PATHS = {source_url(p) for p in ja_notebooks()}
JA_SOURCES = {source_url(p): p for p in ja_pages()}
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
MAX_PAGE_BYTES = 600_000
# What a page weighs: the files the browser fetches to show it. The search
# index is data the search worker fetches alongside (one per language, in the
# language's folder: hooks/search_i18n.py); it is reported separately, not counted.
COUNTED = {"document", "stylesheet", "script", "font", "image", "other"}


def built_page(site: Path, lang: str, path: str) -> Path:
    """The built file of a page (``path`` as in PAGES) on the served site."""
    return site / ("en" if lang == "en" else "") / path / "index.html"


def search_index(site: Path, lang: str) -> Path:
    return site / ("en" if lang == "en" else "") / "search" / "search_index.json"


def test_every_built_page_is_checked(site: Path):
    assert sorted(site_pages(site)) == sorted(PAGES)
    assert set(SCREENSHOT_PAGES) <= {path for _, path in PAGES}


class Tab:
    """A browser context with one page, which visits one URL after another.

    Every request is recorded (``requests``); one to anywhere but the local
    server (or a data:/blob: URL) is also aborted and listed in ``outside``.
    Reusing one context for many pages is much cheaper than a context per page
    (0.4 s of CPU per visit instead of 1.8 s on our 2-core machine) and checks
    the same things: each visit is a new document, and the browser reports
    every file a page asks for, from its cache or not, so a page's weight
    (the served size of each file it asked for) is that of a first visit.

    ``search=False`` hands Material's search worker an index with no
    documents (the site's own search configuration, so the page's scripts run
    as usual): for checks of layout and code blocks, which do not need the
    worker to build the real index, 0.4 s of CPU per visit. Refusing the file
    instead breaks the page's other scripts (the palette toggle stops
    working). Search has its own tests.
    """

    def __init__(self, browser, base: str, site: Path, search: bool = True, **context_args):
        self.base, self.site = base, site
        self.requests: dict[str, str] = {}
        self.outside: list[str] = []
        self.context = browser.new_context(**context_args)
        # A pattern, not a Python predicate, so that the browser driver does the
        # matching and only requests that leave the server come back to Python.
        self.context.route(re.compile(rf"^(?!{re.escape(base)}|data:|blob:)"), self._leave)
        if not search:
            # Each language's index, in its own folder (hooks/search_i18n.py), with its own configuration.
            empty = {}
            for folder in ("", "en/"):
                index = site / folder / "search" / "search_index.json"
                config = json.loads(index.read_text(encoding="utf-8"))["config"]
                empty[f"{base}{folder}search/search_index.json"] = json.dumps({"config": config, "docs": []})
            self.context.route(
                re.compile(rf"^{re.escape(base)}(en/)?search/search_index\.json$"),
                lambda route: route.fulfill(body=empty[route.request.url], content_type="application/json"),
            )
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.setdefault(r.url, r.resource_type))

    def visit(self, url: str, until_search_index: bool = False):
        """Load ``url``; afterwards ``requests``, ``bytes`` and ``data_bytes`` describe this visit.

        Waits for the load event and, with ``until_search_index``, until the
        search worker has its index, the last file a page asks for.
        (Playwright's "networkidle" is no substitute once a tab has visited
        other pages: a search worker's request cut short by the next visit
        could keep it waiting for 30 s.)
        """
        self.requests = {}
        if until_search_index:
            # Each language's pages load their own language's index (hooks/search_i18n.py).
            folder = "en/" if url.startswith(f"{self.base}en/") else ""
            index = f"{self.base}{folder}search/search_index.json"
            with self.page.expect_request_finished(lambda r: r.url == index):
                self.page.goto(url, wait_until="load")
        else:
            self.page.goto(url, wait_until="load")
        return self.page

    @property
    def bytes(self) -> int:
        return sum(n for n, kind in self._sizes() if kind in COUNTED)

    @property
    def data_bytes(self) -> int:
        return sum(n for n, kind in self._sizes() if kind not in COUNTED)

    def _sizes(self) -> list[tuple[int, str]]:
        return [(_served_size(self.site, self.base, u), kind) for u, kind in self.requests.items()]

    def _leave(self, route) -> None:
        self.outside.append(route.request.url)
        route.abort()

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def tabs(browser, server, site):
    """``tabs(name, **context_args)``: a :class:`Tab` per name, made on first use, for this module."""
    made: dict[str, Tab] = {}

    def get(name: str, search: bool = True, **context_args) -> Tab:
        if name not in made:
            made[name] = Tab(browser, server, site, search, **context_args)
        return made[name]

    yield get
    for tab in made.values():
        tab.close()


DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True}


def _served_size(site: Path, base: str, url: str) -> int:
    if not url.startswith(base):
        return 0
    path = site / unquote(urlsplit(url).path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    return path.stat().st_size if path.exists() else 0


SCREENSHOT_PAGES = ["", "simplified-self-attention/", "bahdanau-attention/"]


def screenshot(page, lang: str, path: str, scheme: str, device: str) -> None:
    """Key pages in light and dark, desktop and phone (artifacts/screenshots/), for a reviewer.

    Taken during the page loads the checks make anyway.
    """
    if path in SCREENSHOT_PAGES:
        out = ARTIFACTS / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / f"{lang}-{path.strip('/') or 'home'}-{scheme}-{device}.png"))


# The whole page as text, title included (navigation, table of contents, header,
# footer, search, not just the article), without code and without the TeX
# source that each MathML formula carries as an annotation.
TEXT_OUTSIDE_CODE = """() => {
    const clone = document.body.cloneNode(true);
    clone.querySelectorAll("pre, code, script, style, annotation, .jp-InputArea, .jp-OutputArea")
         .forEach((e) => e.remove());
    return document.title + "\\n" + clone.textContent;
}"""
TEX_COMMAND = re.compile(r"\\[A-Za-z]+")


@pytest.mark.parametrize(("lang", "path"), PAGES, ids=IDS)
def test_page(tabs, server, site, green, lang, path):
    # The search index is loaded (and its size reported) but decides none of the checks.
    green.check(site, built_page(site, lang, path))
    # The real search index: the search worker loads the scripts its language
    # needs once it has one, and they count in the page's weight.
    tab = tabs("desktop", **DESKTOP)
    tab.outside.clear()
    page = tab.visit(page_url(server, lang, path), until_search_index=True)

    # Only the local server: no fonts, scripts or anything else from other hosts.
    assert not tab.outside, tab.outside
    screenshot(page, lang, path, "light", "desktop")

    # Maths: every formula rendered by KaTeX, no TeX source left anywhere in the page's text.
    text = page.evaluate(TEXT_OUTSIDE_CODE)
    for raw in ("$", "\\(", "\\[", "\\begin"):
        assert raw not in text, f"unrendered maths ({raw!r}) in {lang}:{path}"
    assert not TEX_COMMAND.search(text), f"TeX in {lang}:{path}: {TEX_COMMAND.findall(text)[:5]}"
    unrendered = page.evaluate(
        "() => [...document.querySelectorAll('.arithmatex')].filter(e => !e.querySelector('.katex')).length"
    )
    assert unrendered == 0

    # Code blocks: each has a copy button.
    missing = page.evaluate(
        "() => [...document.querySelectorAll('article pre')].filter(p => p.querySelector('code') && "
        "!p.querySelector('button.md-code__button[data-md-type=copy]')).length"
    )
    assert missing == 0, f"{missing} code blocks without a copy button"

    # Images: alt text, in the page's language.
    alts = page.evaluate(
        "() => [...document.querySelectorAll('article img')].map(i => i.getAttribute('alt'))"
    )
    for alt in alts:
        assert alt and alt.strip(), "an image without alt text"
        assert bool(JAPANESE.search(alt)) == (lang == "ja"), f"alt text not in {lang}: {alt!r}"

    # Weight of the first load, every file it fetched (artifacts/page-weight.jsonl).
    # Files from the browser's cache are reported too (the tab has visited
    # other pages): make sure, or the weight would be too low.
    assert {"document", "stylesheet", "script"} <= set(tab.requests.values()), tab.requests
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "page-weight.jsonl", "a", encoding="utf-8") as f:
        f.write(
            json.dumps(
                {
                    "page": f"{lang}:{path or 'home'}",
                    "bytes": tab.bytes,
                    "search_index_and_data_bytes": tab.data_bytes,
                }
            )
            + "\n"
        )
    assert tab.bytes <= MAX_PAGE_BYTES, f"{tab.bytes:,} bytes on first load"

    # Accessibility: axe-core, no serious or critical violations.
    if AXE.exists():
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))}))"""
        )
        assert not violations, json.dumps(violations, indent=1, ensure_ascii=False)

    # The language switcher links to the same page in the other language (as the
    # browser resolves the link; tests/test_site.py checks that page's <html lang>,
    # and the offline bundle's test follows the link by clicking it).
    other = "en" if lang == "ja" else "ja"
    target = page.locator(f"a.md-select__link[hreflang='{other}']").evaluate("a => a.href")
    assert target == page_url(server, other, path)

    if not AXE.exists():
        skip_or_fail("axe-core is not installed (npm ci): every check but accessibility passed")


@pytest.mark.parametrize(("lang", "path"), PAGES, ids=IDS)
def test_no_horizontal_overflow_on_a_phone(tabs, server, site, green, lang, path):
    """On a 375-pixel phone, in light mode and after switching to dark with the header's toggle."""
    green.check(site, built_page(site, lang, path))
    page = tabs("phone", search=False, color_scheme="light", **PHONE).visit(page_url(server, lang, path))
    toggle = page.locator("form[data-md-component=palette] label:visible")
    scheme_now = "() => document.body.getAttribute('data-md-color-scheme')"
    try:
        for scheme, palette in (("light", "default"), ("dark", "slate")):
            if scheme == "dark":
                toggle.click()
            assert page.evaluate(scheme_now) == palette
            screenshot(page, lang, path, scheme, "mobile")
            width, body, screen = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
            )
            assert max(width, body) <= screen, f"{scheme}: {max(width, body)} px wide on a {screen} px screen"
    finally:
        # Material keeps the choice in local storage: back to light for the next page.
        if page.evaluate(scheme_now) == "slate":
            toggle.click()


def _open_answers(page) -> None:
    """Exercise answers sit in collapsed <details>: open each one as a reader does, by clicking its summary."""
    closed = page.locator("article details:not([open]) > summary")
    while closed.count():
        closed.first.click()


# What a block's copy button put on the clipboard, and the output shown under the block.
# The page writes the clipboard asynchronously: wait for the text, then empty the
# clipboard for the next block.
COPIED = """
    const readClipboard = async () => {
        let code = "";
        for (let i = 0; i < 100 && !code; i++) {
            code = await navigator.clipboard.readText();
            if (!code) await new Promise((r) => setTimeout(r, 20));
        }
        await navigator.clipboard.writeText("");
        return code;
    };
    const shownOutput = (b) => {
        let n = b.nextElementSibling;
        while (n && !n.classList.contains("language-text")) n = n.nextElementSibling;
        return n ? n.querySelector("code").innerText : null;
    };
"""
# The page clicks each Python block's copy button itself: [[copied code, shown output], ...].
COPY_EACH = f"""async () => {{{COPIED}
    const out = [];
    for (const b of document.querySelectorAll("article div.language-python")) {{
        b.querySelector("button.md-code__button[data-md-type=copy]").click();
        out.push([await readClipboard(), shownOutput(b)]);
    }}
    return out;
}}"""
# After a real click on block ``b``'s button: [copied code, shown output].
READ_ONE = f"async (b) => {{{COPIED}\n    return [await readClipboard(), shownOutput(b)];\n}}"


def _python_blocks(page, real_clicks: bool = False) -> list[tuple[str, str]]:
    """(copied code, shown output) of every Python block, copied with its copy button.

    With ``real_clicks``, Playwright scrolls to each button, moves the mouse
    onto it (the hover that shows it) and clicks, as a reader does; otherwise
    the page clicks each button itself, which runs the same handler (Material's
    clipboard.js) and copies the same text, in one round trip for the page.
    """
    _open_answers(page)
    page.evaluate("() => navigator.clipboard.writeText('')")
    if not real_clicks:
        return [tuple(pair) for pair in page.evaluate(COPY_EACH)]
    pairs = []
    blocks = page.locator("article div.language-python")
    for i in range(blocks.count()):
        block = blocks.nth(i)
        block.locator("button.md-code__button[data-md-type=copy]").click()
        pairs.append(tuple(block.evaluate(READ_ONE)))
    return pairs


COPY_PAGES = [(lang, path) for lang, path in PAGES if path not in NOTEBOOK_PATHS]


def _source(lang: str, path: str) -> Path:
    ja = JA_SOURCES[path]
    return ja if lang == "ja" else english_of(ja)


@pytest.mark.parametrize(
    ("lang", "path"), COPY_PAGES, ids=[f"{lang}:{path or 'home'}" for lang, path in COPY_PAGES]
)
def test_the_copy_button_copies_the_code_that_ran(tabs, server, site, green, lang, path):
    """Each Python block, copied with its copy button, is exactly a block that the tests ran.

    pytest-codeblocks runs every block of the page's source and compares its
    output with the expected output under it (the English page's blocks and
    outputs are the Japanese page's: tests/test_docs.py). What the copy button
    puts on the clipboard is the source's fence, character for character (and
    that is, token for token, what ran: tests/test_docs.py), and the output
    shown under it is that expected output, so the copied block prints what the
    page shows without being run a second time here; the exercises' answers
    included. Notebook pages are left out: their cells build on one another,
    and tests/test_notebooks.py checks their outputs by running the notebook.
    :func:`test_copied_blocks_run_and_print_what_the_page_shows` runs a whole
    page's copies end to end.
    """
    source = _source(lang, path)
    green.check(site, built_page(site, lang, path), source)
    # The fences as the source shows them; tests/test_docs.py checks that each is,
    # token for token, the block pytest-codeblocks ran (which drops blank lines
    # from indented fences), and ``ran`` gives the output it was compared with.
    shown_code = [f.body for f in fences(source) if f.info == "python"]
    ran = [b.expected_output for b in extract_from_file(source) if b.syntax == "python"]
    tab = tabs("copy", search=False, permissions=["clipboard-read", "clipboard-write"])
    copied = _python_blocks(tab.visit(page_url(server, lang, path)))
    assert not tab.outside, tab.outside
    assert len(copied) == len(shown_code) == len(ran), (
        f"{len(copied)} Python blocks on the page, {len(ran)} in {source.name}"
    )
    for i, ((code, shown), want_code, want_output) in enumerate(zip(copied, shown_code, ran, strict=True)):
        where = f"{lang}:{path} Python block {i + 1}"
        assert code.rstrip("\n") == want_code.rstrip("\n"), (
            f"{where}: copied\n{code}\nin the source\n{want_code}"
        )
        assert shown is not None, f"{where}: no output block"
        assert shown.rstrip("\n") == want_output.rstrip("\n"), f"{where}: shows\n{shown}"
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "copied-blocks.txt", "a", encoding="utf-8") as f:
        f.write(f"{lang}:{path or 'home'}\t{len(copied)} blocks copied, each the code that ran\n")


def test_every_python_fence_has_a_copy_check():
    """Every page with Python blocks, in both languages, is in COPY_PAGES, answers to exercises included."""
    with_python = {source_url(p) for p in ja_pages() if any(f.info == "python" for f in fences(p))}
    assert {path for _, path in COPY_PAGES} >= with_python
    assert {lang for lang, _ in COPY_PAGES} == {"ja", "en"}
    assert sum(f.info == "python" and bool(f.indent) for p in ja_pages() for f in fences(p)) >= 20


# A whole page's blocks, copied from the clipboard and run, in each language.
RUN_PAGE = "simplified-self-attention/"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_copied_blocks_run_and_print_what_the_page_shows(tabs, server, site, green, tmp_path, lang):
    """Copy each block of a page with its button (real mouse clicks), run it as in a fresh
    interpreter, compare with the page.

    Each block runs in its own process with a new ``__main__``, forked from an
    interpreter that has only imported torch (tests/fresh_python.py).
    """
    green.check(site, built_page(site, lang, RUN_PAGE))
    tab = tabs("copy", search=False, permissions=["clipboard-read", "clipboard-write"])
    pairs = _python_blocks(tab.visit(page_url(server, lang, RUN_PAGE)), real_clicks=True)
    assert not tab.outside, tab.outside
    assert len(pairs) >= 10
    with ForkServer(tmp_path) as run:
        for i, (code, shown) in enumerate(pairs):
            rc, out, err = run(code)
            assert rc == 0, f"copied block {i + 1} failed:\n{code}\n{err}"
            assert shown is not None and out.rstrip("\n") == shown.rstrip("\n"), f"block {i + 1}:\n{code}"
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "copied-blocks.txt", "a", encoding="utf-8") as f:
        f.write(f"{lang}:{RUN_PAGE}\t{len(pairs)} blocks copied and run, each in a fresh process\n")


SEARCHES = [
    ("ja", "アテンション", "bahdanau-attention/"),
    ("ja", "内積", "simplified-self-attention/"),
    ("ja", "ソフトマックス", "simplified-self-attention/"),
    ("ja", "コンテキストベクトル", "simplified-self-attention/"),
    ("ja", "ボトルネック", "long-sequences/"),
    ("en", "softmax", "simplified-self-attention/"),
    ("en", "context vector", "simplified-self-attention/"),
    ("en", "bottleneck", "long-sequences/"),
]


def _search(page, query: str) -> list[str]:
    """Type ``query`` into Material's search box; the result links once they are for this query."""
    page.evaluate(
        "() => document.querySelectorAll('.md-search-result__item').forEach(e => e.dataset.stale = 1)"
    )
    if not page.evaluate("() => document.getElementById('__search').checked"):  # open, not toggle
        page.locator("label.md-search__icon, .md-search__input").first.click()
    page.locator("input.md-search__input").fill(query)
    # Material searches on key-up; `fill` types no keys (as an IME commits
    # Japanese text, a key-up follows), so end with one.
    page.keyboard.press("End")
    # Wait for this query's results, not the previous query's still on screen.
    page.wait_for_selector(".md-search-result__item:not([data-stale])", timeout=15_000)
    return page.evaluate(
        "() => [...document.querySelectorAll('.md-search-result__item > a')].map(a => a.href)"
    )


@pytest.mark.parametrize(("lang", "query", "expected"), SEARCHES, ids=[f"{q[0]}:{q[1]}" for q in SEARCHES])
def test_search_finds_the_right_page(tabs, server, site, green, lang, query, expected):
    green.check(site, search_index(site, lang), built_page(site, lang, ""))
    # One home page per language, searched again and again, as a reader would.
    tab = tabs(f"search-{lang}", **DESKTOP)
    if tab.page.url != page_url(server, lang, ""):
        tab.visit(page_url(server, lang, ""), until_search_index=True)
    hits = _search(tab.page, query)
    assert not tab.outside, tab.outside
    want = page_url(server, lang, expected)
    pages = [h.split("#")[0].split("?")[0] for h in hits]  # Material adds ?h=<query>
    # Each language has its own index: every result is a page of the reader's language.
    mine = [p for p in pages if ("/en/" in p) == (lang == "en")]
    assert mine == pages, f"{query!r}: results in the other language: {hits}"
    assert want in mine[:5], f"{query!r}: {hits[:8]}"
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "search.txt", "a", encoding="utf-8") as f:
        f.write(f"{lang}\t{query}\t{len(hits)} hits, {len(mine)} in {lang}\tfirst: {mine[0]}\n")


@pytest.mark.parametrize("path", SCREENSHOT_PAGES)
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_dark_desktop_screenshots(tabs, server, site, green, lang, path):
    """The one screenshot no check loads a page for (the others are taken during checks)."""
    green.check(site, built_page(site, lang, path))
    page = tabs("desktop-dark", search=False, color_scheme="dark", **DESKTOP).visit(
        page_url(server, lang, path)
    )
    assert page.evaluate("() => document.body.getAttribute('data-md-color-scheme')") == "slate"
    screenshot(page, lang, path, "dark", "desktop")


# ---- the offline bundle -------------------------------------------------------


def _offline_bundle(out: Path) -> None:
    """`make offline`'s zip, built and unpacked into ``out``."""
    from tools.zip_site import zip_site

    built = build_site(out.with_name(out.name + "-build"), offline=True)
    archive = zip_site(built, out.with_name(out.name + ".zip"))
    with zipfile.ZipFile(archive) as z:
        z.extractall(out)


@pytest.fixture(scope="session")
def offline(tmp_path_factory) -> Path:
    return built_once(tmp_path_factory, "offline", _offline_bundle)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_offline_bundle_works_from_file_urls(browser, offline, green, lang):
    root = offline / ("en" if lang == "en" else "")
    other_root = offline / ("" if lang == "en" else "en")
    visited = ["index.html", "simplified-self-attention.html", "search/search_index.js"]
    green.check(offline, *(root / name for name in visited), other_root / "simplified-self-attention.html")
    start = (root / "index.html").as_uri()
    context, outside = file_only_context(browser, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(start, wait_until="load")
        # Follow the navigation to a chapter, as a reader would.
        with page.expect_navigation(wait_until="load"):
            page.locator("a.md-nav__link[href$='simplified-self-attention.html']").first.click()
        assert page.url.endswith("simplified-self-attention.html")
        assert page.evaluate("() => document.querySelectorAll('.katex').length") > 10
        # The language switcher, from file://.
        other = "en" if lang == "ja" else "ja"
        with page.expect_navigation():
            page.locator(f"a.md-select__link[hreflang='{other}']").evaluate("a => a.click()")
        assert page.evaluate("() => document.documentElement.lang") == other
        # Search, without a server.
        page.goto(start, wait_until="load")
        query = "ソフトマックス" if lang == "ja" else "softmax"
        hits = [h.split("#")[0].split("?")[0] for h in _search(page, query)]
        assert (root / "simplified-self-attention.html").as_uri() in hits, hits
    finally:
        context.close()
    assert not outside, outside
