"""Fixtures for the browser tests: the built site on a local server, and Debian's chromium.

The browser tests skip, with the reason, where there is no chromium or no
Playwright; with REQUIRE_BROWSER=1 (set by CI) they fail instead, so that a
machine without a browser can never turn them green.

In a warm run, a check whose inputs are all unchanged since it last passed is
skipped (tests/browser/green.py); chromium starts only when a check needs it.
"""

import functools
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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
