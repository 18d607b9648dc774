"""Keep what Material's search plugin reads from each page on disk (``.cache/search``).

To index a page, Material's search plugin parses its HTML with an
``html.parser`` subclass (``Parser``) into sections (a heading, its text). On
pages full of highlighted code and MathML this is a few hundredths of a second
each, half a second to a second per build of both languages, and
``mkdocs serve`` does it for every page on every save. The sections depend on
the page's HTML alone (and on the parser's code: Material's version), so they
are cached by those; the plugin still builds every index entry itself, from
the page's table of contents, URL and metadata, as before.

The parser is replaced by a subclass that collects what it is fed and, on
``close``, takes the sections from the cache, or parses as before and caches
them. Each section comes back as the same objects, with the same attributes.
"""

import importlib.metadata
import json
from pathlib import Path

import material.plugins.search.plugin as search
from mkdocs.config.defaults import MkDocsConfig

try:  # MkDocs loads a hook from its file, with hooks/ on sys.path while it does
    import build_cache
except ModuleNotFoundError:  # imported as hooks.search_sections (the tests)
    from hooks import build_cache

# Material's own parser, whatever this module has done to the plugin's.
MaterialParser = getattr(search.Parser, "material_parser", search.Parser)


def sections_key(html: str) -> str:
    """The cache key of a page's sections: its HTML, Material's version and this file."""
    return build_cache.key(
        "search-sections", html, importlib.metadata.version("mkdocs-material"), Path(__file__).read_bytes()
    )


def _dump(sections: list) -> str:
    return json.dumps(
        [
            {
                "tag": s.el.tag,
                "attrs": s.el.attrs,
                "depth": s.depth,  # float("inf") for a section that was left: JSON's Infinity
                "id": s.id,
                "title": s.title,
                "text": s.text,
            }
            for s in sections
        ],
        ensure_ascii=False,
    )


def _load(text: str) -> list:
    sections = []
    for item in json.loads(text):
        section = search.Section(search.Element(item["tag"], item["attrs"]), item["depth"])
        section.id, section.title, section.text = item["id"], item["title"], item["text"]
        sections.append(section)
    return sections


class CachingParser(MaterialParser):
    """Material's parser, which parses only a page it has not parsed before (:data:`cache`)."""

    material_parser = MaterialParser
    cache: build_cache.Cache | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._fed: list[str] = []

    def feed(self, data: str) -> None:
        self._fed.append(data)

    def close(self) -> None:
        html = "".join(self._fed)
        entry = sections_key(html)
        text = self.cache.read(entry) if self.cache is not None else None
        if text is not None:
            self.data = _load(text)
            return
        super().feed(html)
        super().close()
        if self.cache is not None:
            self.cache.write(entry, _dump(self.data))


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    CachingParser.cache = build_cache.Cache.for_site(config, "search")
    search.Parser = CachingParser
    return config
