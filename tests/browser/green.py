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
- the test's own id and parameters, and any expected data it is given;
- chromium's version (``--version``), Playwright's, and axe-core's script.

When the check passes, the key is recorded in ``.cache/browser-green/``; the
next run with the same key skips the check, saying so, without starting the
browser. A fresh clone has no records and CI (``CI`` set) reads none: there,
every check drives the browser.
"""

import functools
import hashlib
import json
import os
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import ROOT

GREEN = ROOT / ".cache" / "browser-green"
KEY = pytest.StashKey[str]()
REASON = "unchanged since it last passed (.cache/browser-green; CI and a fresh clone always run it)"
TESTS = ROOT / "tests"
TEST_CODE = [
    *sorted((TESTS / "browser").glob("*.py")),
    TESTS / "conftest.py",
    TESTS / "markdown.py",
    TESTS / "fresh_python.py",
    TESTS / "test_explorer.py",  # the explorer's expected numbers
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def _hash(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def _name(path: Path, root: Path) -> str:
    return (path.relative_to(root) if path.is_relative_to(root) else path.relative_to(ROOT)).as_posix()


def _files(paths, root: Path) -> bytes:
    """Each file's name (within ``root``, else within the repository) and a hash of its bytes."""
    return b"".join(_name(p, root).encode() + b"\0" + _hash(p.read_bytes()).encode() for p in sorted(paths))


def _is_asset(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    return path.suffix != ".html" and "search" not in rel.parts and not rel.name.startswith("sitemap")


@functools.cache
def assets_digest(root: Path) -> str:
    """Every asset of a built site (or offline bundle) at ``root``."""
    return _hash(_files((p for p in root.rglob("*") if p.is_file() and _is_asset(p, root)), root))


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
    return _hash(_files(TEST_CODE, ROOT), browser.encode(), playwright.encode(), axe)


class Green:
    """``green.check(root, *files, data=...)`` at the start of a browser check."""

    def __init__(self, item: pytest.Item, chromium: str | None):
        self.item, self.chromium = item, chromium

    def check(self, root: Path, *files: Path, data: object = None) -> None:
        """Skip if the check passed before with exactly these inputs; else remember its key.

        ``root``: the built site or offline bundle the check loads from;
        ``files``: the built files it loads (pages, search indexes); ``data``:
        anything else it compares with, as JSON.
        """
        key = _hash(
            self.item.nodeid.encode(),
            tools_digest(self.chromium).encode(),
            assets_digest(root).encode(),
            _files(files, root),
            json.dumps(data, sort_keys=True, default=str).encode(),
        )
        if not os.environ.get("CI") and (GREEN / key).exists():
            pytest.skip(REASON)
        self.item.stash[KEY] = key


def record(item: pytest.Item, report: pytest.TestReport) -> None:
    """After a check's call passed: remember its key (see :class:`Green`)."""
    if report.when == "call" and report.passed and KEY in item.stash:
        GREEN.mkdir(parents=True, exist_ok=True)
        (GREEN / item.stash[KEY]).touch()
