"""The attention explorer in a real browser (Debian's chromium through Playwright).

Served by the local server, every page that embeds it is checked during the
one desktop visit and the one phone visit of tests/browser/test_reader.py's
:func:`test_page` (tests/browser/explorer.py): the keyboard alone drives it,
every token of every state, clicked, shows the package's numbers, axe finds
nothing in it in light and dark, nothing in it overflows a 375-pixel phone.
tests/browser/test_reader.py's :func:`test_offline_page` makes the same
clicks in the offline bundle, over file://. Here: without JavaScript, the full
matrices and context vectors as tables.
"""

import pytest

from tests.browser import explorer
from tests.browser.conftest import PHONE, built_page, page_url
from tests.test_explorer import PAGES

CASES = [(lang, f"{page}/", view) for lang in ("ja", "en") for page, view in PAGES]
IDS = [f"{lang}:{view}" for lang, _, view in CASES]


@pytest.fixture(scope="module")
def no_js_page(browser):
    """One page of a context with JavaScript off, on a phone, shared by the no-JS checks."""
    context = browser.new_context(java_script_enabled=False, **PHONE)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize(("lang", "path", "view"), CASES, ids=IDS)
def test_without_javascript_the_tables_show_every_weight_and_context_vector(
    no_js_page, server, site, green, lang, path, view
):
    green.check(site, built_page(site, lang, path), package=True)
    page = no_js_page
    page.goto(page_url(server, lang, path), wait_until="load")
    root = page.locator(explorer.WIDGET)
    assert not root.locator(".ax-live").is_visible()
    want = explorer.want(view)
    weights = root.locator("table.ax-table:not(.ax-vectors)")
    vectors = root.locator("table.ax-table.ax-vectors")
    assert weights.count() == len(want)
    # Per state its context vectors; the module's output (multi-head: the same for both heads) once.
    want_vectors = [w["context"] for w in want] + ([want[0]["output"]] if "output" in want[0] else [])
    assert vectors.count() == len(want_vectors)
    for table, numbers in [
        *((weights.nth(i), w["weights"]) for i, w in enumerate(want)),
        *((vectors.nth(i), v) for i, v in enumerate(want_vectors)),
    ]:
        assert table.is_visible()
        cells = table.locator("td:not(.ax-corner)").all_inner_texts()
        assert cells == [n for row in numbers for n in row]
        # A row per query token (English words, marked so on a Japanese page).
        heads = table.locator("tbody th[scope=row]")
        assert heads.all_inner_texts() == list(explorer.TOKENS)
        langs = heads.evaluate_all("ths => ths.map((th) => th.querySelector('[lang]')?.lang ?? '')")
        assert langs == ["en" if lang == "ja" else ""] * len(explorer.TOKENS)
    # The tables scroll inside their own box on a phone; the page does not.
    width, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert max(width, inner) <= page.viewport_size["width"]  # not innerWidth alone: a phone widens it
