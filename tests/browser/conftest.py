"""Fixtures for the browser tests: the built site on a local server, Debian's chromium, and tabs.

The browser tests skip, with the reason, where there is no chromium or no
Playwright; with REQUIRE_BROWSER=1 (set by CI) they fail instead, so that a
machine without a browser can never turn them green.

In a warm run, a check whose inputs are all unchanged since it last passed is
skipped (tests/browser/green.py); chromium starts only when a check needs it.

A worker has one browser and, per kind of visit (desktop, phone, ...), one
context with one page, which visits one URL after another (:class:`Tab`).
Every visit records the console's errors and the page's uncaught errors; a
check fails on any.
"""

import functools
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.browser.green import Green
from tests.conftest import ROOT

CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root on CI
    "--disable-gpu",
    "--disable-background-networking",  # no calls home: the network is closed
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def skip_or_fail(what: str) -> None:
    """Skip, saying why; with REQUIRE_BROWSER=1 (CI), fail instead."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what} (REQUIRE_BROWSER=1: browser tests may not be skipped)")
    pytest.skip(what)


def chromium_path() -> str | None:
    """$CHROMIUM (any Chromium-based browser, e.g. a CI runner's Chrome), else chromium on PATH."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class _LazyBrowser:
    """Playwright's browser, launched on first use: a run whose checks are all green starts none."""

    def __init__(self, executable: str):
        self.executable = executable
        self._playwright = self._browser = None

    def __getattr__(self, name: str):
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, args=CHROMIUM_ARGS
            )
        return getattr(self._browser, name)

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._playwright.stop()


@pytest.fixture(scope="session")
def browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("Playwright for Python is not installed (make test installs it)")
    executable = chromium_path()
    if executable is None:
        skip_or_fail(
            "no chromium on PATH and no $CHROMIUM (tools/install_browser.sh installs it as root on Debian)"
        )
    browser = _LazyBrowser(executable)
    yield browser
    browser.close()


@pytest.fixture
def green(request, browser) -> Green:
    """Skips a check whose inputs are unchanged since it last passed (tests/browser/green.py)."""
    return Green(request.node, browser.executable)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output readable
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A missing file: the site's 404.html, with status 404, as GitHub Pages serves it."""
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[str]:
    """The built site served on 127.0.0.1 at a free port; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def file_only_context(browser, **options):
    """A browser context for the offline bundle: file://, data: and blob: only.

    Returns the context and the list into which every other request it blocked is put.
    """
    context = browser.new_context(**options)
    outside: list[str] = []

    def guard(route):
        if route.request.url.startswith(("file://", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    return context, outside


def console_errors(page) -> list[str]:
    """A list that collects, from now on, every console message of type error and every uncaught
    error of ``page`` (a failed request, a script that threw). Empty it between visits."""
    errors: list[str] = []

    def console(message) -> None:
        if message.type == "error":
            where = message.location or {}
            errors.append(f"console: {message.text} ({where.get('url', '')}:{where.get('lineNumber', '')})")

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}\n{e.stack}"))
    return errors


# What a page weighs: the files the browser fetches to show it. The search
# index is data the search worker fetches alongside (one per language, in the
# language's folder: hooks/search_i18n.py); it is reported separately, not counted.
COUNTED = {"document", "stylesheet", "script", "font", "image", "other"}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True}


def _served_size(site: Path, base: str, url: str) -> int:
    if not url.startswith(base):
        return 0
    path = site / unquote(urlsplit(url).path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    return path.stat().st_size if path.exists() else 0


SEARCH_READY = """() => {
    const meta = document.querySelector(".md-search-result__meta");
    const config = JSON.parse(document.getElementById("__config").textContent);
    return meta !== null && meta.textContent.trim() === config.translations["search.result.placeholder"];
}"""


class Tab:
    """A browser context with one page, which visits one URL after another.

    Every request is recorded (``requests``); one to anywhere but the local
    server (or a data:/blob: URL) is also aborted and listed in ``outside``;
    console errors and uncaught errors go to ``errors``. Reusing one context
    for many pages is much cheaper than a context per page (0.4 s of CPU per
    visit instead of 1.8 s on our 2-core machine) and checks the same things:
    each visit is a new document, and the browser reports every file a page
    asks for, from its cache or not, so a page's weight (the served size of
    each file it asked for) is that of a first visit.

    ``search=False`` hands Material's search worker an index with no
    documents (the site's own search configuration, so the page's scripts run
    as usual): for checks of layout, which do not need the worker to build the
    real index. Refusing the file instead breaks the page's other scripts (the
    palette toggle stops working). Search has its own tests.
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
        self.errors = console_errors(self.page)

    def visit(self, url: str, until_search_index: bool = False, until_search_ready: bool = False):
        """Load ``url``; afterwards ``requests``, ``bytes``, ``data_bytes``, ``outside`` and ``errors``
        describe this visit.

        Waits for the load event and, with ``until_search_index``, until the
        search worker has its index; with ``until_search_ready``, until search
        is ready (the worker has its index and the scripts its language needs,
        the last files a page asks for: Material then shows "Type to start
        searching" where it showed "Initializing search").
        (Playwright's "networkidle" is no substitute once a tab has visited
        other pages: a search worker's request cut short by the next visit
        could keep it waiting for 30 s.)
        """
        self.requests = {}
        self.outside.clear()
        self.errors.clear()
        if until_search_index:
            # Each language's pages load their own language's index (hooks/search_i18n.py).
            folder = "en/" if url.startswith(f"{self.base}en/") else ""
            index = f"{self.base}{folder}search/search_index.json"
            # Only a request of this visit counts: a request of the tab's previous page (its
            # search worker's, still in flight) can finish after the reset above.
            with self.page.expect_request_finished(lambda r: r.url == index and index in self.requests):
                self.page.goto(url, wait_until="load")
        else:
            self.page.goto(url, wait_until="load")
        if until_search_ready:
            self.page.wait_for_function(SEARCH_READY)
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


@pytest.fixture(scope="session")
def tabs(browser, server, site):
    """``tabs(name, search=True, **context_args)``: this worker's :class:`Tab` of that name, made on first
    use and shared by every module (one context per kind of visit, not per test)."""
    made: dict[str, Tab] = {}

    def get(name: str, search: bool = True, **context_args) -> Tab:
        if name not in made:
            made[name] = Tab(browser, server, site, search, **context_args)
        return made[name]

    yield get
    for tab in made.values():
        tab.close()


def site_pages(site: Path) -> list[tuple[str, str]]:
    """(lang, path) of every page of the built site, found in the site itself."""
    pages = []
    for html in sorted(site.rglob("index.html")):
        rel = html.parent.relative_to(site).as_posix()
        rel = "" if rel == "." else rel + "/"
        if rel.startswith(("search/", "assets/")):
            continue
        lang, path = ("en", rel[3:]) if rel.startswith("en/") else ("ja", rel)
        pages.append((lang, path))
    return pages


def page_url(base: str, lang: str, path: str) -> str:
    return base + ("en/" if lang == "en" else "") + path


def built_page(site: Path, lang: str, path: str) -> Path:
    """The built file of a page (``path`` as in page_url) on the served site."""
    return site / ("en" if lang == "en" else "") / path / "index.html"
