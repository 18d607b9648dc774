"""The attention explorer in a real browser (Debian's chromium through Playwright).

Every token of every state on every embedding page, in both languages, served
by the local server and opened from the offline bundle over file://: each
number shown is compared with the package's, computed here
(tests/test_explorer.py's :func:`expected`). The keyboard alone drives it; axe
finds nothing in light or dark; nothing overflows a 375-pixel phone; without
JavaScript the full matrices are there; no request leaves the machine.
"""

import json

import pytest

from attention_notes.data import TOKENS
from tests.browser.conftest import ARTIFACTS, AXE, file_only_context, page_url, skip_or_fail
from tests.browser.test_reader import (
    DESKTOP,
    PHONE,
    Tab,
    built_page,
    offline,  # noqa: F401  (the offline bundle, a fixture)
)
from tests.test_explorer import PAGES, expected, fmt

WIDGET = "[data-attention-explorer]"
CASES = [(lang, f"{page}/", view) for lang in ("ja", "en") for page, view in PAGES]
IDS = [f"{lang}:{view}" for lang, _, view in CASES]
SCREENSHOT_PAGE = "causal-attention/"  # the mask shows as well as the bars

# What the widget shows: the pressed buttons and every number, as text.
READ_BODY = """
    const text = (sel) => [...root.querySelectorAll(sel)].map((e) => e.textContent);
    const pressed = (sel) => [...root.querySelectorAll(sel + " button")]
        .findIndex((b) => b.getAttribute("aria-pressed") === "true");
    const tabStops = [...root.querySelectorAll("button")].filter((b) => b.tabIndex === 0).length;
    const label = (sel) => root.querySelector(sel + " button[aria-pressed=true]").textContent;
    return {weights: text("[data-weight]"), context: text("[data-context]"), output: text("[data-output]"),
            token: pressed(".ax-tokens"), state: pressed(".ax-states"), tabStops,
            tokenLabel: label(".ax-tokens"), stateLabel: label(".ax-states"),
            status: root.querySelector(".ax-status").textContent,
            focused: document.activeElement.closest("[data-attention-explorer]") === root
                ? document.activeElement.textContent : null};
"""
READ = f"root => {{{READ_BODY}}}"
# Records what the widget shows after each click, in the page: the widget's own
# click handlers (on its buttons) have run by the time the click reaches the
# root, so one round trip at the end reads every view.
RECORD = f"""root => {{
    const read = () => {{{READ_BODY}}};
    window.axViews = [];
    root.addEventListener("click", () => window.axViews.push(read()));
}}"""


def _want(view: str) -> list[dict]:
    """Per state, the strings the widget must show for each query token."""
    return [{key: fmt(value) for key, value in state.items()} for state in expected(view)]


def _check(shown: dict, want: list[dict], state: int, token: int, where: str) -> None:
    w = want[state]
    assert (shown["state"], shown["token"]) == (state, token), where
    assert shown["weights"] == w["weights"][token], where
    assert shown["context"] == w["context"][token], where
    assert shown["output"] == (w["output"][token] if "output" in w else []), where
    assert shown["tabStops"] == 2, f"{where}: one tab stop per group of buttons"


def _walk(page, view: str, where: str) -> int:
    """Click every state and every token (real clicks); compare what is shown. Returns the number of token views."""
    root = page.locator(WIDGET)
    tokens, states = root.locator(".ax-tokens button"), root.locator(".ax-states button")
    assert tokens.all_inner_texts() == list(TOKENS)
    root.evaluate(RECORD)
    clicked = []  # (state, token) after each click
    for s in range(states.count()):
        states.nth(s).click()
        clicked.append((s, None))
        for t in range(tokens.count()):
            tokens.nth(t).click()
            clicked.append((s, t))
    views = page.evaluate("() => window.axViews")
    assert len(views) == len(clicked), f"{where}: {len(views)} views recorded for {len(clicked)} clicks"
    want = _want(view)
    count = 0
    for (s, t), shown in zip(clicked, views, strict=True):
        assert shown["state"] == s, f"{where}: state {s} clicked, {shown['state']} pressed"
        if t is None:
            continue
        _check(shown, want, s, t, f"{where} state {s} token {t}")
        assert shown["tokenLabel"] == TOKENS[t] and shown["tokenLabel"] in shown["status"], where
        assert shown["stateLabel"] in shown["status"], where
        count += 1
    return count


WHERE = ["online", "offline"]


@pytest.fixture(scope="module")
def readers(browser, server, site):
    """``reader(where)``: one tab online (local server only) or one file://-only page, per module."""
    made: dict[str, tuple] = {}

    def get(where: str):
        if where not in made:
            if where == "online":
                tab = Tab(browser, server, site, search=False, **DESKTOP)
                made[where] = (tab.page, tab.outside, tab.close)
            else:
                context, outside = file_only_context(browser, **DESKTOP)
                made[where] = (context.new_page(), outside, context.close)
            errors = []  # uncaught errors thrown by the widget's script
            made[where][0].on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
            made[where] = (*made[where], errors)
        return made[where]

    yield get
    for _, _, close, _ in made.values():
        close()


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize(("lang", "path", "view"), CASES, ids=IDS)
def test_every_token_view_shows_the_package_numbers(
    readers,
    server,
    site,
    offline,  # noqa: F811  (the fixture imported above)
    green,
    where,
    lang,
    path,
    view,
):
    """Online and from file://: every state and token, each number against the package's."""
    if where == "online":
        green.check(site, built_page(site, lang, path), package=True)
        url = page_url(server, lang, path)
    else:
        html = offline / ("en" if lang == "en" else "") / (path.rstrip("/") + ".html")
        green.check(offline, html, package=True)
        url = html.as_uri()
    page, outside, _, errors = readers(where)
    page.goto(url, wait_until="load")
    assert page.locator(WIDGET).get_attribute("data-attention-explorer") == view
    count = _walk(page, view, f"{where} {lang}:{path}")
    assert count == 2 * 6  # 2 states, 6 tokens
    assert not [e for e in errors if "explorer.js" in e], errors
    assert not outside, outside
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "explorer.txt", "a", encoding="utf-8") as f:
        f.write(f"{where} {lang}:{view}: {count} token views matched the package's numbers\n")


@pytest.fixture(scope="module")
def tabs(browser, server, site):
    made: dict[str, Tab] = {}

    def get(name: str, **context_args) -> Tab:
        if name not in made:
            made[name] = Tab(browser, server, site, search=False, **context_args)
        return made[name]

    yield get
    for tab in made.values():
        tab.close()


@pytest.mark.parametrize(("lang", "path", "view"), CASES, ids=IDS)
def test_keyboard_alone(tabs, server, site, green, lang, path, view):
    green.check(site, built_page(site, lang, path), package=True)
    tab = tabs("keyboard", **DESKTOP)
    page = tab.visit(page_url(server, lang, path))
    root = page.locator(WIDGET)
    want = _want(view)
    start = root.evaluate(READ)
    state = start["state"]
    # The pressed token is the tokens' one tab stop: Tab from the element before the widget reaches it.
    page.locator(WIDGET).evaluate(
        """root => {
            const before = document.createElement("button");
            before.id = "ax-before";
            root.before(before);
            before.focus();
        }"""
    )
    page.keyboard.press("Tab")
    shown = root.evaluate(READ)
    assert shown["focused"] == "journey" and shown["token"] == 1
    page.evaluate("() => document.getElementById('ax-before').remove()")
    # (key, the token chosen after it): selection follows focus, wrapping at the ends.
    for key, token in [
        ("Home", 0),
        ("ArrowRight", 1),
        ("ArrowRight", 2),
        ("ArrowLeft", 1),
        ("End", 5),
        ("ArrowRight", 0),
        ("ArrowLeft", 5),
    ]:
        page.keyboard.press(key)
        shown = root.evaluate(READ)
        assert shown["focused"] == TOKENS[token], key
        _check(shown, want, state, token, f"{lang}:{view} after {key}")
    # Enter and Space choose the focused button (focus moved there without choosing it).
    for key, token in [("Enter", 2), ("Space", 4)]:
        root.locator(".ax-tokens button").nth(token).focus()
        page.keyboard.press(key)
        _check(root.evaluate(READ), want, state, token, f"{lang}:{view} after {key}")
    # Tab leaves the tokens for the toggle, whose arrows switch the state.
    page.keyboard.press("Tab")
    assert root.evaluate(READ)["focused"] == root.locator(".ax-states button").nth(state).inner_text()
    page.keyboard.press("ArrowRight")
    other = (state + 1) % 2
    _check(root.evaluate(READ), want, other, 4, f"{lang}:{view} after ArrowRight on the toggle")
    page.keyboard.press("ArrowLeft")
    _check(root.evaluate(READ), want, state, 4, f"{lang}:{view} after ArrowLeft on the toggle")
    # Shift+Tab goes back to the chosen token, not the first one.
    page.keyboard.press("Shift+Tab")
    assert root.evaluate(READ)["focused"] == "one"
    assert not tab.outside, tab.outside


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async (sel) => (await axe.run({include: [sel]}, {resultTypes: ["violations"]})).violations
            .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))}))""",
        WIDGET,
    )


def _screenshot(page, lang: str, path: str, scheme: str, device: str) -> None:
    """The widget in each language, scheme and device (artifacts/explorer-*.png), for a reviewer."""
    if path == SCREENSHOT_PAGE:
        ARTIFACTS.mkdir(exist_ok=True)
        out = ARTIFACTS / f"explorer-{lang}-{scheme}-{device}.png"
        page.locator(WIDGET).screenshot(path=str(out))
        assert out.stat().st_size > 0


# Every page in one scheme (the other in the other language), the screenshot page in
# both: the widget's stylesheet is the same on every page, so a contrast or
# layout fault of one scheme shows on every page in it (and test_reader.py runs
# axe on each whole page, widget included, in the light scheme).
SCHEME_CASES = [
    (*case, scheme)
    for i, case in enumerate(CASES)
    for scheme in (
        ["light", "dark"] if case[1] == SCREENSHOT_PAGE else [("light", "dark")[(i + (case[0] == "en")) % 2]]
    )
]


@pytest.mark.parametrize(
    ("lang", "path", "view", "scheme"), SCHEME_CASES, ids=[f"{c[0]}:{c[2]}-{c[3]}" for c in SCHEME_CASES]
)
def test_axe_finds_nothing_and_nothing_overflows(tabs, server, site, green, lang, path, view, scheme):
    """axe on the widget (any impact) on the desktop, then a 375-pixel phone, in ``scheme``."""
    green.check(site, built_page(site, lang, path))
    if not AXE.exists():
        skip_or_fail("axe-core is not installed (npm ci)")
    palette = {"light": "default", "dark": "slate"}[scheme]
    for device, args in (("desktop", DESKTOP), ("mobile", PHONE)):
        tab = tabs(f"{scheme}-{device}", color_scheme=scheme, **args)
        page = tab.visit(page_url(server, lang, path))
        assert page.evaluate("() => document.body.getAttribute('data-md-color-scheme')") == palette
        root = page.locator(WIDGET)
        # The last state and the last token: the longest labels and, for causal ones, the mask.
        root.locator(".ax-states button").last.click()
        root.locator(".ax-tokens button").nth(2).click()
        violations = _axe(page)
        assert not violations, json.dumps(violations, indent=1, ensure_ascii=False)
        width, body, screen = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
        )
        assert max(width, body) <= screen, f"{device}: {max(width, body)} px wide on a {screen} px screen"
        # Nothing inside the widget is cut off or scrolls sideways either.
        inner = root.evaluate(
            # (.ax-masked-note is clipped on purpose: it is read aloud, not shown.)
            """root => [...root.querySelectorAll("*:not(.ax-masked-note)")].filter((e) => e.offsetParent !== null)
                .filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
                .map((e) => e.className)"""
        )
        assert not inner, inner
        box = root.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= screen
        # Back to the page's own state for the screenshot: journey, the chapter's weights.
        root.locator(".ax-tokens button").nth(1).click()
        root.locator(".ax-states button").nth(1 if view in ("trainable", "causal") else 0).click()
        _screenshot(page, lang, path, scheme, device)
        assert not tab.outside, tab.outside


@pytest.fixture(scope="module")
def no_js_page(browser):
    """One page of a context with JavaScript off, on a phone, shared by the no-JS checks."""
    context = browser.new_context(java_script_enabled=False, **PHONE)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize(("lang", "path", "view"), CASES, ids=IDS)
def test_without_javascript_the_tables_show_every_weight(no_js_page, server, site, green, lang, path, view):
    green.check(site, built_page(site, lang, path), package=True)
    page = no_js_page
    page.goto(page_url(server, lang, path), wait_until="load")
    root = page.locator(WIDGET)
    assert not root.locator(".ax-live").is_visible()
    tables = root.locator("table.ax-table")
    want = _want(view)
    assert tables.count() == len(want)
    for i, state in enumerate(want):
        assert tables.nth(i).is_visible()
        cells = tables.nth(i).locator("td:not(.ax-corner)").all_inner_texts()
        assert cells == [n for row in state["weights"] for n in row]
    # The tables scroll inside their own box on a phone; the page does not.
    width, screen = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= screen
