"""A link checker for a built site: every internal link, image, script and anchor must resolve."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") in {"canonical", "alternate"}):
                self.refs.append(a[key])


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(site: Path) -> tuple[int, list[str]]:
    """Check every HTML file under ``site``; return (links checked, broken ones)."""
    cache: dict[Path, _Page] = {}

    def page(path: Path) -> _Page:
        if path not in cache:
            cache[path] = _parse(path)
        return cache[path]

    checked, broken = 0, []
    for html in sorted(site.rglob("*.html")):
        for ref in page(html).refs:
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith("//"):
                continue  # external (links only: test_site checks nothing external is loaded)
            checked += 1
            if parts.path.startswith("/"):
                # Only 404.html has these: it is served at any URL, so MkDocs
                # links it from the site root.
                target = (site / unquote(parts.path).lstrip("/")).resolve()
                if parts.path.endswith("/"):
                    target = target / "index.html"
            elif parts.path:
                target = (html.parent / unquote(parts.path)).resolve()
                if target.is_dir() or parts.path.endswith("/"):
                    target = target / "index.html"
            else:
                target = html
            where = f"{html.relative_to(site)} -> {ref}"
            if not target.exists() or site.resolve() not in target.parents:
                broken.append(f"{where}: no such file")
                continue
            if parts.fragment and target.suffix == ".html":
                anchor = unquote(parts.fragment)
                if anchor not in page(target).ids and not re.fullmatch(r"__\w+", anchor):
                    broken.append(f"{where}: no element with id {anchor!r}")
    return checked, broken
