"""What a reader sees, checked in a real browser (Debian's chromium through Playwright).

Every page of the built site, in both languages, is visited once on a desktop
and once on a 375-pixel phone (:func:`test_page`); each visit makes all the
checks of that page and device:

- desktop (the real search index loaded): no request leaves the local
  server, no console error, the maths is rendered, every code block has a copy
  button, images have alt text in the page's language, the first load stays
  under 600 KB, axe-core finds no serious or critical accessibility problem,
  the language switcher leads to the same page in the other language, and
  every Python block, copied with its button, is exactly the code that ran
  and shows exactly the output it printed; on the attention explorer's pages,
  the keyboard alone drives it and every token of every state shows the
  package's numbers (tests/browser/explorer.py);
- phone: nothing overflows the screen in light mode, nor after switching to
  dark with the header's toggle, no console error; on the explorer's pages,
  nothing in it is cut off and axe finds nothing in it (dark).

Besides: a page's copies run end to end, the 404 pages, and the offline
bundle opened from file://. Search has its own module (test_search.py).
"""

import json
import re
from pathlib import Path

import pytest
from pytest_codeblocks import extract_from_file

from tests.browser import explorer
from tests.browser.conftest import (
    ARTIFACTS,
    AXE,
    DESKTOP,
    PHONE,
    built_page,
    console_errors,
    file_only_context,
    page_url,
    site_pages,
    skip_or_fail,
)
from tests.fresh_python import ForkServer
from tests.markdown import english_of, fences, ja_notebooks, ja_pages
from tests.markdown import page_url as source_url

PAGES = [(lang, source_url(p)) for lang in ("ja", "en") for p in [*ja_pages(), *ja_notebooks()]]
IDS = [f"{lang}:{path or 'home'}" for lang, path in PAGES]
NOTEBOOK_PATHS = {source_url(p) for p in ja_notebooks()}
JA_SOURCES = {source_url(p): p for p in ja_pages()}
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
MAX_PAGE_BYTES = 600_000
SCREENSHOT_PAGES = ["", "simplified-self-attention/", "bahdanau-attention/"]
# Pages whose Python blocks are copied (notebook pages are left out: their cells
# build on one another, and tests/test_notebooks.py checks their outputs by running the notebook).
COPY_PAGES = [(lang, path) for lang, path in PAGES if path not in NOTEBOOK_PATHS]


def test_every_built_page_is_checked(site: Path):
    assert sorted(site_pages(site)) == sorted(PAGES)
    assert set(SCREENSHOT_PAGES) <= {path for _, path in PAGES}
    assert set(explorer.VIEWS) <= {path for _, path in PAGES}


def screenshot(page, lang: str, path: str, scheme: str, device: str) -> None:
    """Key pages in light and dark, desktop and phone (artifacts/screenshots/), for a reviewer.

    Taken during the page loads the checks make anyway.
    """
    if path in SCREENSHOT_PAGES:
        out = ARTIFACTS / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / f"{lang}-{path.strip('/') or 'home'}-{scheme}-{device}.png"))


# What the checks read from a page, in one round trip: the whole page as text,
# title included (navigation, table of contents, header, footer, search, not
# just the article), without code and without the TeX source that each MathML
# formula carries as an annotation; formulas not rendered; code blocks without
# a copy button; the images' alt texts; the palette.
READ_PAGE = """() => {
    const clone = document.body.cloneNode(true);
    clone.querySelectorAll("pre, code, script, style, annotation, .jp-InputArea, .jp-OutputArea")
         .forEach((e) => e.remove());
    return {
        text: document.title + "\\n" + clone.textContent,
        unrendered: [...document.querySelectorAll(".arithmatex")].filter((e) => !e.querySelector(".katex")).length,
        withoutCopy: [...document.querySelectorAll("article pre")].filter((p) => p.querySelector("code") &&
            !p.querySelector("button.md-code__button[data-md-type=copy]")).length,
        alts: [...document.querySelectorAll("article img")].map((i) => i.getAttribute("alt")),
        scheme: document.body.getAttribute("data-md-color-scheme"),
    };
}"""
TEX_COMMAND = re.compile(r"\\[A-Za-z]+")
SCHEME = "() => document.body.getAttribute('data-md-color-scheme')"
WIDTHS = "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"


def _source(lang: str, path: str) -> Path:
    ja = JA_SOURCES[path]
    return ja if lang == "ja" else english_of(ja)


@pytest.mark.parametrize(("lang", "path"), PAGES, ids=IDS)
def test_page(tabs, server, site, green, lang, path):
    """Every check of one page, in one desktop visit and one phone visit (see the module's docstring)."""
    copied = (lang, path) in COPY_PAGES
    view = explorer.VIEWS.get(path)
    # The search index is loaded (and its size reported) but decides none of the checks;
    # the copies are compared with the source; the explorer's numbers with the package's.
    green.check(
        site, built_page(site, lang, path), *([_source(lang, path)] if copied else []), package=bool(view)
    )
    if not AXE.exists():
        skip_or_fail("axe-core is not installed (npm ci)")
    where = f"{lang}:{path or 'home'}"
    _desktop(tabs, server, lang, path, view, where, copied)
    _phone(tabs, server, lang, path, view, where)
    if path in SCREENSHOT_PAGES or path == explorer.SCREENSHOT_PAGE:
        _dark_desktop(tabs, server, lang, path, view, where)


def _desktop(tabs, server, lang, path, view, where, copied: bool) -> None:
    # Until search is ready: the search worker loads the scripts its language
    # needs once it has its index, and they count in the page's weight. The
    # worker gets the real index's configuration with no documents (search=False):
    # building the real index costs a second of CPU a page and decides none of
    # these checks (test_search.py searches the real one); the index's served
    # size is reported all the same.
    tab = tabs(
        "desktop",
        search=False,
        color_scheme="light",
        permissions=["clipboard-read", "clipboard-write"],
        **DESKTOP,
    )
    page = tab.visit(page_url(server, lang, path), until_search_ready=True)
    # Only the local server: no fonts, scripts or anything else from other hosts.
    assert not tab.outside, tab.outside
    screenshot(page, lang, path, "light", "desktop")
    read = page.evaluate(READ_PAGE)
    assert read["scheme"] == "default"  # a light system: the light palette
    # Maths: every formula rendered by KaTeX, no TeX source left anywhere in the page's text.
    for raw in ("$", "\\(", "\\[", "\\begin"):
        assert raw not in read["text"], f"unrendered maths ({raw!r}) in {where}"
    assert not TEX_COMMAND.search(read["text"]), f"TeX in {where}: {TEX_COMMAND.findall(read['text'])[:5]}"
    assert read["unrendered"] == 0
    # Code blocks: each has a copy button.
    assert read["withoutCopy"] == 0, f"{read['withoutCopy']} code blocks without a copy button"
    # Images: alt text, in the page's language.
    for alt in read["alts"]:
        assert alt and alt.strip(), "an image without alt text"
        assert bool(JAPANESE.search(alt)) == (lang == "ja"), f"alt text not in {lang}: {alt!r}"
    # Weight of the first load, every file it fetched (artifacts/page-weight.jsonl).
    # Files from the browser's cache are reported too (the tab has visited
    # other pages): make sure, or the weight would be too low.
    assert {"document", "stylesheet", "script"} <= set(tab.requests.values()), tab.requests
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "page-weight.jsonl", "a", encoding="utf-8") as f:
        weight = {"page": where, "bytes": tab.bytes, "search_index_and_data_bytes": tab.data_bytes}
        f.write(json.dumps(weight) + "\n")
    assert tab.bytes <= MAX_PAGE_BYTES, f"{tab.bytes:,} bytes on first load"
    # The language switcher links to the same page in the other language (as the
    # browser resolves the link; tests/test_site.py checks that page's <html lang>,
    # and the offline bundle's test follows the link by clicking it).
    other = "en" if lang == "ja" else "ja"
    target = page.locator(f"a.md-select__link[hreflang='{other}']").evaluate("a => a.href")
    assert target == page_url(server, other, path)
    if view:
        # The keyboard alone, from the page's own state; then every token of every state, clicked.
        explorer.keyboard(page, view, f"online {where}", lang)
        explorer.walk(page, view, f"online {where}", lang)
        explorer.last_state(page)
        explorer.fits(page, f"desktop {where}")
    # Accessibility: axe-core, no serious or critical violations (on the explorer's
    # pages, in its last state: none of any impact in it).
    violations = explorer.axe(page, widget=bool(view))
    assert not violations, explorer.dumps(violations)
    if view:
        explorer.page_state(page, view)
        explorer.screenshot(page, lang, path, "light", "desktop")
    if copied:  # after axe: this opens the exercises' answers
        _copies(page, lang, path, where)
    assert not tab.outside, tab.outside
    assert not tab.errors, "\n".join(tab.errors)


def _dark_desktop(tabs, server, lang, path, view, where) -> None:
    """The screenshot pages, as a reader with a dark system sees them first: Material follows the system."""
    tab = tabs("desktop-dark", search=False, color_scheme="dark", **DESKTOP)
    page = tab.visit(page_url(server, lang, path))
    assert page.evaluate(SCHEME) == "slate"
    screenshot(page, lang, path, "dark", "desktop")
    if view:
        explorer.screenshot(page, lang, path, "dark", "desktop")  # the page's own state, as loaded
        explorer.last_state(page)
    assert not tab.outside, tab.outside
    assert not tab.errors, "\n".join(tab.errors)
    if view:  # last: this cuts the page down to the widget
        violations = explorer.axe(page, widget=True, pruned=True)
        assert not violations, explorer.dumps(violations)


def _phone(tabs, server, lang, path, view, where) -> None:
    """On a 375-pixel phone, in light mode and after switching to dark with the header's toggle."""
    tab = tabs("phone", search=False, color_scheme="light", **PHONE)
    page = tab.visit(page_url(server, lang, path))
    toggle = page.locator("form[data-md-component=palette] label:visible")
    try:
        for scheme, palette in (("light", "default"), ("dark", "slate")):
            if scheme == "dark":
                toggle.click()
            assert page.evaluate(SCHEME) == palette
            screenshot(page, lang, path, scheme, "mobile")
            width, body, inner = page.evaluate(WIDTHS)
            # Against the phone's width, not innerWidth: a phone's browser widens its
            # layout viewport to content that overflows, and innerWidth with it.
            screen = page.viewport_size["width"]
            assert max(width, body, inner) <= screen, (
                f"{scheme}: {max(width, body, inner)} px wide on a {screen} px screen"
            )
            if view:
                explorer.fits(page, f"phone {scheme} {where}")
                explorer.screenshot(page, lang, path, scheme, "mobile")
            if view and scheme == "light" and path == explorer.SCREENSHOT_PAGE:
                # The screenshot page's explorer in every scheme and device: here, light on a phone.
                explorer.last_state(page)
                violations = explorer.axe(page, widget=True, only=True)
                assert not violations, explorer.dumps(violations)
                explorer.page_state(page, view)
        if view:
            explorer.last_state(page)
            explorer.fits(page, f"phone dark {where}")
        assert not tab.outside, tab.outside
        assert not tab.errors, "\n".join(tab.errors)
        if view:  # last: this cuts the page down to the widget
            violations = explorer.axe(page, widget=True, pruned=True)
            assert not violations, explorer.dumps(violations)
    finally:
        # Material keeps the reader's choice of palette: forget it before the next page.
        page.evaluate("() => localStorage.clear()")


# The page clicks each closed summary itself (the toggle a reader's click runs), round after round
# (an answer can sit in another); returns how many are still closed.
OPEN_EACH = """() => {
    const closed = () => document.querySelectorAll("article details:not([open]) > summary");
    for (let round = 0; round < 10 && closed().length; round++) closed().forEach((s) => s.click());
    return closed().length;
}"""


def _open_answers(page, real_clicks: bool = False) -> None:
    """Exercise answers sit in collapsed <details>: open each one by clicking its summary.

    With ``real_clicks``, Playwright's mouse clicks each, as a reader does;
    otherwise the page clicks them itself, which opens the same elements in
    one round trip (Playwright's click waits for each to be visible and
    still, 0.1 s of CPU a summary).
    """
    if not real_clicks:
        assert page.evaluate(OPEN_EACH) == 0, "an exercise's answer stays closed after clicking its summary"
        return
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
    _open_answers(page, real_clicks)
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


def _copies(page, lang: str, path: str, where: str) -> None:
    """Each Python block, copied with its copy button, is exactly a block that the tests ran.

    pytest-codeblocks runs every block of the page's source and compares its
    output with the expected output under it (the English page's blocks and
    outputs are the Japanese page's: tests/test_docs.py). What the copy button
    puts on the clipboard is the source's fence, character for character (and
    that is, token for token, what ran: tests/test_docs.py), and the output
    shown under it is that expected output, so the copied block prints what the
    page shows without being run a second time here; the exercises' answers
    included. :func:`test_copied_blocks_run_and_print_what_the_page_shows` runs
    a whole page's copies end to end.
    """
    source = _source(lang, path)
    # The fences as the source shows them; tests/test_docs.py checks that each is,
    # token for token, the block pytest-codeblocks ran (which drops blank lines
    # from indented fences), and ``ran`` gives the output it was compared with.
    shown_code = [f.body for f in fences(source) if f.info == "python"]
    ran = [b.expected_output for b in extract_from_file(source) if b.syntax == "python"]
    copied = _python_blocks(page)
    assert len(copied) == len(shown_code) == len(ran), (
        f"{len(copied)} Python blocks on the page, {len(ran)} in {source.name}"
    )
    for i, ((code, shown), want_code, want_output) in enumerate(zip(copied, shown_code, ran, strict=True)):
        at = f"{where} Python block {i + 1}"
        assert code.rstrip("\n") == want_code.rstrip("\n"), (
            f"{at}: copied\n{code}\nin the source\n{want_code}"
        )
        assert shown is not None, f"{at}: no output block"
        assert shown.rstrip("\n") == want_output.rstrip("\n"), f"{at}: shows\n{shown}"
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "copied-blocks.txt", "a", encoding="utf-8") as f:
        f.write(f"{where}\t{len(copied)} blocks copied, each the code that ran\n")


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
    assert not tab.errors, "\n".join(tab.errors)
    assert len(pairs) >= 10
    with ForkServer(tmp_path) as run:
        for i, (code, shown) in enumerate(pairs):
            rc, out, err = run(code)
            assert rc == 0, f"copied block {i + 1} failed:\n{code}\n{err}"
            assert shown is not None and out.rstrip("\n") == shown.rstrip("\n"), f"block {i + 1}:\n{code}"
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "copied-blocks.txt", "a", encoding="utf-8") as f:
        f.write(f"{lang}:{RUN_PAGE}\t{len(pairs)} blocks copied and run, each in a fresh process\n")


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


# ---- the offline bundle -------------------------------------------------------


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
        errors = console_errors(page)
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
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="module")
def file_page(browser, offline):
    """One page of a file://-only context (its blocked requests and console errors), for the offline pages.

    The search script gets its index with no documents: building the real one
    costs a second of CPU a page, and test_offline_bundle_works_from_file_urls
    and test_search.py search the real one.
    """
    context, outside = file_only_context(browser, **DESKTOP)
    scripts = {}
    for folder in (offline, offline / "en"):
        index = json.loads((folder / "search" / "search_index.json").read_text(encoding="utf-8"))
        empty = json.dumps({"config": index["config"], "docs": []})
        scripts[(folder / "search" / "search_index.js").as_uri()] = "var __index = " + empty
    context.route(
        re.compile(r"^file://.*/search/search_index\.js$"),
        lambda route: route.fulfill(body=scripts[route.request.url], content_type="text/javascript"),
    )
    page = context.new_page()
    yield page, outside, console_errors(page)
    context.close()


@pytest.mark.parametrize(("lang", "path"), PAGES, ids=IDS)
def test_offline_page(file_page, offline, green, lang, path):
    """Every page of the offline bundle, opened from file://: no request leaves the bundle, no console
    error; on the explorer's pages, every state and token, clicked, shows the package's numbers."""
    html = offline / ("en" if lang == "en" else "") / (path.rstrip("/") + ".html" if path else "index.html")
    view = explorer.VIEWS.get(path)
    green.check(offline, html, package=bool(view))
    page, outside, errors = file_page
    outside.clear()
    errors.clear()
    page.goto(html.as_uri(), wait_until="load")
    assert page.evaluate("() => document.documentElement.lang") == lang
    if view:
        assert page.locator(explorer.WIDGET).get_attribute("data-attention-explorer") == view
        explorer.walk(page, view, f"offline {lang}:{path}", lang)
    assert not outside, outside
    assert not errors, "\n".join(errors)


# ---- the 404 pages ------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_404_page_is_in_its_language_and_searches_its_own_index(tabs, server, site, green, lang):
    """The local server answers a missing address with the root's 404.html, as GitHub Pages does; the
    English 404 page is en/404.html. Each is in its language, searches its language's index, and its
    language links lead to the other language's 404 page."""
    folder = "en/" if lang == "en" else ""
    green.check(site, site / folder / "404.html", site / folder / "search" / "search_index.json")
    tab = tabs("search", **DESKTOP)
    url = server + ("en/404.html" if lang == "en" else "no/such/page/")
    page = tab.visit(url, until_search_index=True)
    indexes = [u for u in tab.requests if "search_index" in u]
    assert indexes == [f"{server}{folder}search/search_index.json"], indexes
    assert page.evaluate("() => document.documentElement.lang") == lang
    heading = page.locator("article h1").inner_text()
    assert "404" in heading and bool(JAPANESE.search(heading)) == (lang == "ja"), heading
    query, expected = ("ソフトマックス", "") if lang == "ja" else ("softmax", "en/")
    hits = [h.split("#")[0].split("?")[0] for h in _search(page, query)]
    assert f"{server}{expected}simplified-self-attention/" in hits, hits
    assert all(
        h.startswith(server + folder) and (lang == "en" or not h.startswith(server + "en/")) for h in hits
    )
    # The language link, clicked: the other language's 404 page.
    other = "en" if lang == "ja" else "ja"
    page.keyboard.press("Escape")  # close the search
    with page.expect_navigation(wait_until="load"):
        page.locator(f"a.md-select__link[hreflang='{other}']").evaluate("a => a.click()")
    assert page.url == server + ("en/404.html" if other == "en" else "404.html")
    assert page.evaluate("() => document.documentElement.lang") == other
    assert not tab.outside, tab.outside
    # The one error expected: the missing address itself, answered with status 404.
    missing = f"status of 404 (Not Found) ({url}:"
    errors = [e for e in tab.errors if missing not in e]
    assert not errors, "\n".join(errors)
