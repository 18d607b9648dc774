"""The attention explorer's checks in a real browser, run during the page visits of the browser tests.

tests/browser/test_reader.py calls these on the pages that embed the widget,
in the one desktop visit and the one phone visit it makes of every page;
tests/browser/test_explorer.py calls :func:`walk` on the offline bundle's pages
and checks the no-JavaScript tables. Each number shown is compared with the
package's, computed here (tests/test_explorer.py's :func:`expected`).
"""

import json

from attention_notes.data import TOKENS
from tests.browser.conftest import ARTIFACTS, AXE
from tests.test_explorer import PAGES, expected, fmt, mask

WIDGET = "[data-attention-explorer]"
VIEWS = {f"{page}/": view for page, view in PAGES}  # page path -> view
SCREENSHOT_PAGE = "causal-attention/"  # the mask shows as well as the bars

# What the widget shows: the checked radios and every number, as text.
READ_BODY = """
    const text = (sel) => [...root.querySelectorAll(sel)].map((e) => e.textContent);
    const group = (sel) => root.querySelector(sel);
    const checked = (sel) => [...group(sel).querySelectorAll("button")]
        .findIndex((b) => b.getAttribute("aria-checked") === "true");
    const tabStops = [...root.querySelectorAll("button")].filter((b) => b.tabIndex === 0).length;
    const label = (sel) => group(sel).querySelector("button[aria-checked=true]").textContent;
    const roles = (sel) => [group(sel).getAttribute("role"),
        ...[...group(sel).querySelectorAll("button")].map((b) => b.getAttribute("role"))];
    const statusToken = root.querySelector(".ax-status [lang]");
    const masked = [...root.querySelectorAll(".ax-row")].map((r) => r.classList.contains("ax-masked")
        && !r.querySelector(".ax-masked-note").hidden);
    return {weights: text("[data-weight]"), context: text("[data-context]"), output: text("[data-output]"),
            masked,
            token: checked(".ax-tokens"), state: checked(".ax-states"), tabStops,
            tokenLabel: label(".ax-tokens"), stateLabel: label(".ax-states"),
            tokenRoles: roles(".ax-tokens"), stateRoles: roles(".ax-states"),
            tokenLangs: [...group(".ax-tokens").querySelectorAll("button")].map((b) => b.lang),
            statusTokenLang: statusToken ? [statusToken.lang, statusToken.textContent] : null,
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
# The centre of each radio, in the viewport, once the widget is in view.
CENTRES = """root => {
    root.scrollIntoView({block: "center"});
    const centre = (b) => { const r = b.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; };
    return {states: [...root.querySelectorAll(".ax-states button")].map(centre),
            tokens: [...root.querySelectorAll(".ax-tokens button")].map(centre)};
}"""


def want(view: str) -> list[dict]:
    """Per state, the strings the widget must show for each query token, and the keys it hatches."""
    return [
        {**{key: fmt(value) for key, value in state.items()}, "masked": mask(view, i).tolist()}
        for i, state in enumerate(expected(view))
    ]


def check(shown: dict, wanted: list[dict], state: int, token: int, where: str, lang: str) -> None:
    """One view of the widget: the checked radios, every number, and what it is to a screen reader."""
    w = wanted[state]
    assert (shown["state"], shown["token"]) == (state, token), where
    assert shown["weights"] == w["weights"][token], where
    assert shown["context"] == w["context"][token], where
    assert shown["output"] == (w["output"][token] if "output" in w else []), where
    # Hatched and named so for a screen reader: exactly the keys the mask blocks for this query.
    assert shown["masked"] == w["masked"][token], where
    assert shown["tabStops"] == 2, f"{where}: one tab stop per radio group"
    # Two radio groups; the tokens, English words, marked so on a Japanese page, in the status too.
    assert shown["tokenRoles"] == ["radiogroup"] + ["radio"] * len(TOKENS), where
    assert shown["stateRoles"] == ["radiogroup"] + ["radio"] * len(wanted), where
    assert shown["tokenLangs"] == ["en" if lang == "ja" else ""] * len(TOKENS), where
    assert shown["statusTokenLang"] == (["en", TOKENS[token]] if lang == "ja" else None), where


def walk(page, view: str, where: str, lang: str) -> int:
    """Click every state and every token with the mouse (real clicks, at each radio's centre); compare
    what is shown after each click, read in the page. Returns the number of token views."""
    root = page.locator(WIDGET)
    assert root.locator(".ax-tokens button").all_inner_texts() == list(TOKENS)
    centres = root.evaluate(CENTRES)
    root.evaluate(RECORD)
    clicked = []  # (state, token) after each click
    for s, (x, y) in enumerate(centres["states"]):
        page.mouse.click(x, y)
        clicked.append((s, None))
        for t, (x, y) in enumerate(centres["tokens"]):
            page.mouse.click(x, y)
            clicked.append((s, t))
    views = page.evaluate("() => window.axViews")
    assert len(views) == len(clicked), f"{where}: {len(views)} views recorded for {len(clicked)} clicks"
    wanted = want(view)
    count = 0
    for (s, t), shown in zip(clicked, views, strict=True):
        assert shown["state"] == s, f"{where}: state {s} clicked, {shown['state']} checked"
        if t is None:
            continue
        check(shown, wanted, s, t, f"{where} state {s} token {t}", lang)
        assert shown["tokenLabel"] == TOKENS[t] and shown["tokenLabel"] in shown["status"], where
        assert shown["stateLabel"] in shown["status"], where
        count += 1
    assert count == len(wanted) * len(TOKENS), where  # every state
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "explorer.txt", "a", encoding="utf-8") as f:
        f.write(f"{where}: {count} token views matched the package's numbers\n")
    return count


def keyboard(page, view: str, where: str, lang: str) -> None:
    """The keyboard alone drives the widget (from the page's initial state): a radio group's keys."""
    root = page.locator(WIDGET)
    wanted = want(view)
    state = root.evaluate(READ)["state"]
    # The checked token is the tokens' one tab stop: Tab from the element before the widget reaches it.
    root.evaluate(
        """root => {
            const before = document.createElement("button");
            before.id = "ax-before";
            root.before(before);
            before.focus();
        }"""
    )
    page.keyboard.press("Tab")
    shown = root.evaluate(READ)
    assert shown["focused"] == "journey" and shown["token"] == 1, where
    page.evaluate("() => document.getElementById('ax-before').remove()")
    # (key, the token checked after it): the choice follows focus, wrapping at the ends.
    for key, token in [
        ("Home", 0),
        ("ArrowRight", 1),
        ("ArrowDown", 2),
        ("ArrowLeft", 1),
        ("ArrowUp", 0),
        ("End", 5),
        ("ArrowRight", 0),
        ("ArrowLeft", 5),
        ("ArrowDown", 0),
        ("ArrowUp", 5),
    ]:
        page.keyboard.press(key)
        shown = root.evaluate(READ)
        assert shown["focused"] == TOKENS[token], f"{where}: {key}"
        check(shown, wanted, state, token, f"{where} after {key}", lang)
    # Space (a radio's key) and Enter (a button's) check the focused radio (focus moved there
    # without checking it).
    for key, token in [("Space", 2), ("Enter", 4)]:
        root.locator(".ax-tokens button").nth(token).focus()
        page.keyboard.press(key)
        check(root.evaluate(READ), wanted, state, token, f"{where} after {key}", lang)
    # Tab leaves the tokens for the states, whose arrows switch the state.
    page.keyboard.press("Tab")
    assert root.evaluate(READ)["focused"] == root.locator(".ax-states button").nth(state).inner_text()
    page.keyboard.press("ArrowRight")
    other = (state + 1) % len(wanted)
    check(root.evaluate(READ), wanted, other, 4, f"{where} after ArrowRight on the states", lang)
    page.keyboard.press("ArrowLeft")
    check(root.evaluate(READ), wanted, state, 4, f"{where} after ArrowLeft on the states", lang)
    # Shift+Tab goes back to the checked token, not the first one.
    page.keyboard.press("Shift+Tab")
    assert root.evaluate(READ)["focused"] == "one", where


def last_state(page) -> None:
    """The last state and the third token: the longest labels and, for causal ones, the mask."""
    root = page.locator(WIDGET)
    root.locator(".ax-states button").last.click()
    root.locator(".ax-tokens button").nth(2).click()


def page_state(page, view: str) -> None:
    """Back to the page's own state for a screenshot: journey, the chapter's weights."""
    root = page.locator(WIDGET)
    root.locator(".ax-tokens button").nth(1).click()
    root.locator(".ax-states button").nth(1 if view in ("trainable", "causal", "sliding") else 0).click()


def fits(page, where: str) -> None:
    """Nothing inside the widget is cut off or scrolls sideways, and the widget is within the screen."""
    root = page.locator(WIDGET)
    inner = root.evaluate(
        # (.ax-masked-note is clipped on purpose: it is read aloud, not shown.)
        """root => [...root.querySelectorAll("*:not(.ax-masked-note)")].filter((e) => e.offsetParent !== null)
            .filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
            .map((e) => e.className)"""
    )
    assert not inner, f"{where}: {inner}"
    box = root.bounding_box()
    width, body, inner = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    screen = page.viewport_size["width"]  # not innerWidth, which a phone widens to overflowing content
    assert max(width, body, inner) <= screen, (
        f"{where}: {max(width, body, inner)} px wide on a {screen} px screen"
    )
    assert box["x"] >= 0 and box["x"] + box["width"] <= screen, f"{where}: {box} on {screen} px"


# Violations of any impact inside the widget, of serious or critical impact anywhere else
# (``widget`` null: the whole page, serious and critical only).
AXE_RUN = """async ({widget, only}) => {
    const context = only ? {include: [widget]} : document;
    const found = (await axe.run(context, {resultTypes: ["violations"]})).violations;
    const inWidget = (n) => widget !== null && !!document.querySelector(n.target[0])?.closest(widget);
    return found.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.filter((n) => v.impact === "serious" || v.impact === "critical"
                                                          || inWidget(n)).map((n) => n.target.join(" "))}))
        .filter((v) => v.nodes.length)
        .map((v) => ({...v, nodes: v.nodes.slice(0, 3)}));
}"""
# Everything in the body but the widget and its ancestors, removed: axe then
# looks at the widget alone (a quarter of the time), with every style that
# applies to it still there. The page is not usable after this.
PRUNE = """(widget) => {
    let node = document.querySelector(widget);
    while (node.parentElement && node !== document.body) {
        for (const other of [...node.parentElement.children]) if (other !== node) other.remove();
        node = node.parentElement;
    }
}"""


def axe(page, widget: bool, only: bool = False, pruned: bool = False) -> list[dict]:
    """axe-core on the page: serious and critical violations anywhere, and with ``widget``, any inside the
    explorer. ``only``: on the explorer alone; ``pruned``: that, with the page cut down to the widget
    first (the last thing a visit does)."""
    if pruned:
        page.evaluate(PRUNE, WIDGET)
    page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN, {"widget": WIDGET if widget else None, "only": only or pruned})


def screenshot(page, lang: str, path: str, scheme: str, device: str) -> None:
    """The widget in each language, scheme and device (artifacts/explorer-*.png), for a reviewer."""
    if path == SCREENSHOT_PAGE:
        ARTIFACTS.mkdir(exist_ok=True)
        out = ARTIFACTS / f"explorer-{lang}-{scheme}-{device}.png"
        page.locator(WIDGET).screenshot(path=str(out))
        assert out.stat().st_size > 0


def dumps(violations) -> str:
    return json.dumps(violations, indent=1, ensure_ascii=False)
