"""A warm run skips a browser check whose every input is unchanged since the check last passed.

What a browser check finds is decided by bytes: the built files it loads, the
site's assets, the code that drives the browser and judges what it shows, the
numbers it compares with, and the versions of chromium, Playwright and
axe-core. A check names the built files it loads (:meth:`Green.check`); its
key hashes those files and:

- every asset of the built site it runs on (stylesheets, scripts, fonts,
  images, figures: all files but the pages, the search indexes and the
  sitemap), since any page may load any of them;
- the test code: tests/browser/ and the modules it imports from tests/;
- the test's own id and parameters, and for the explorer's checks, which
  compute their expected numbers from the package, the package's source;
- chromium's version (``--version``), Playwright's, and axe-core's script.

When the check passes, the key is recorded in ``.cache/green/``
(tests/unchanged.py); the next run with the same key skips the check, saying
so, without starting the browser. A fresh clone has no records and CI (``CI``
set) reads none: there, every check drives the browser.
"""

import functools
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.unchanged import ROOT, digest, skip_if_green, tree_digest
from tests.unchanged import files as files_part

TESTS = ROOT / "tests"
TEST_CODE = [
    *sorted((TESTS / "browser").glob("*.py")),
    TESTS / "conftest.py",
    TESTS / "markdown.py",
    TESTS / "fresh_python.py",
    TESTS / "unchanged.py",
    TESTS / "test_explorer.py",  # the explorer's expected numbers
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def _is_asset(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    return path.suffix != ".html" and "search" not in rel.parts and not rel.name.startswith("sitemap")


@functools.cache
def assets_digest(root: Path) -> str:
    """Every asset of a built site (or offline bundle) at ``root``."""
    return digest(files_part((p for p in root.rglob("*") if p.is_file() and _is_asset(p, root)), root))


@functools.cache
def tools_digest(chromium: str | None) -> str:
    """The test code, chromium's version, Playwright's, and axe-core's script."""
    try:
        browser = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, TypeError, subprocess.SubprocessError):
        browser = "no chromium"
    try:
        playwright = version("playwright")
    except Exception:
        playwright = "no playwright"
    axe = AXE.read_bytes() if AXE.exists() else b"no axe"
    return digest(files_part(TEST_CODE, ROOT), browser.encode(), playwright.encode(), axe)


class Green:
    """``green.check(root, *files)`` at the start of a browser check."""

    def __init__(self, item: pytest.Item, chromium: str | None):
        self.item, self.chromium = item, chromium

    def check(self, root: Path, *files: Path, package: bool = False) -> None:
        """Skip if the check passed before with exactly these inputs; else remember its key.

        ``root``: the built site or offline bundle the check loads from;
        ``files``: the built files it loads (pages, search indexes);
        ``package``: the check compares with numbers it computes from the
        package (the explorer's), so the package's source is an input too.
        """
        key = digest(
            self.item.nodeid.encode(),
            tools_digest(self.chromium).encode(),
            assets_digest(root).encode(),
            files_part(files, root),
            tree_digest(ROOT / "src" / "attention_notes").encode() if package else b"",
        )
        skip_if_green(self.item, key)
