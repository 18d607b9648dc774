"""The warm-run skip of browser checks (tests/browser/green.py), without a browser."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import unchanged
from tests.browser.green import Green, assets_digest
from tests.unchanged import KEY, record


@pytest.fixture
def built(tmp_path: Path, monkeypatch) -> Path:
    """A tiny built site: two pages, an asset, a search index; records kept under tmp_path."""
    monkeypatch.setattr(unchanged, "GREEN", tmp_path / "green")
    monkeypatch.delenv("CI", raising=False)
    site = tmp_path / "site"
    for name, text in {
        "index.html": "home",
        "a/index.html": "page a",
        "assets/x.css": "body {}",
        "search/search_index.json": "{}",
    }.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    return site


def _check(site: Path, *files: Path, nodeid: str = "t[ja:a/]", package: bool = False) -> str | None:
    """The key the check remembers, or None if it was skipped as green."""
    item = SimpleNamespace(nodeid=nodeid, stash=pytest.Stash())
    try:
        Green(item, None).check(site, *files, package=package)
    except pytest.skip.Exception:
        return None
    key = item.stash[KEY]
    record(item, SimpleNamespace(when="call", passed=True))  # the check passed
    return key


def test_a_check_is_skipped_only_while_every_input_is_unchanged(built: Path):
    page = built / "a" / "index.html"
    assert _check(built, page) is not None  # first run: drives the browser
    assert _check(built, page) is None  # unchanged: green
    assert _check(built, page, nodeid="t[en:a/]") is not None  # another check
    assert _check(built, page, package=True) is not None  # the package's numbers are an input too
    page.write_text("page a, edited")
    assert _check(built, page) is not None  # its page changed
    assert _check(built, page) is None
    (built / "index.html").write_text("home, edited")
    assert _check(built, page) is None  # another page changed: not an input of this check
    assets_digest.cache_clear()
    (built / "assets" / "x.css").write_text("body { color: red }")
    assets_digest.cache_clear()
    assert _check(built, page) is not None  # an asset changed: any page may load it
    assets_digest.cache_clear()


def test_a_failed_check_is_not_remembered(built: Path):
    item = SimpleNamespace(nodeid="t", stash=pytest.Stash())
    Green(item, None).check(built, built / "index.html")
    record(item, SimpleNamespace(when="call", passed=False))
    again = SimpleNamespace(nodeid="t", stash=pytest.Stash())
    Green(again, None).check(built, built / "index.html")  # not skipped
    assert KEY in again.stash


def test_ci_reads_no_record(built: Path, monkeypatch):
    page = built / "a" / "index.html"
    _check(built, page)
    assert _check(built, page) is None
    monkeypatch.setenv("CI", "true")
    assert _check(built, page) is not None


def test_the_search_index_and_pages_are_not_assets(built: Path):
    before = assets_digest(built)
    assets_digest.cache_clear()
    (built / "search" / "search_index.json").write_text('{"docs": []}')
    (built / "a" / "index.html").write_text("changed")
    assert assets_digest(built) == before
    assets_digest.cache_clear()


def test_a_package_test_runs_again_under_another_profile_or_cpu_path(monkeypatch):
    item = SimpleNamespace(
        nodeid="tests/test_softmax.py::t", path=unchanged.ROOT / "tests" / "test_softmax.py"
    )
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    base = unchanged.inputs_key(item, [])
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "thorough")
    thorough = unchanged.inputs_key(item, [])
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    assert len({base, thorough, unchanged.inputs_key(item, [])}) == 3
