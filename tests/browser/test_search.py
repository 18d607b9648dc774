"""Search per language, in a real browser (issue 11): a reader finds pages of the reader's language only.

Each language has its own index (hooks/search_i18n.py). These tests type
queries into Material's search box, on the local server and in the offline
bundle opened from file://, and check that every result links to a page of
the reader's language, that the page one would expect is among them, and that
the page loaded its own language's index and no other. The queries include
English words on the Japanese site (its pages use softmax, GRU, PyTorch and
the like as they are) and Japanese words on the English site (its glossary
gives every term in Japanese too). Results go to artifacts/search-languages.txt.
"""

import pytest

from tests.browser.conftest import ARTIFACTS, console_errors, page_url
from tests.browser.test_reader import _search

# (reader's language, query, a page the results must include, and within how many
# of the first results, if it must be near the top)
QUERIES = [
    ("ja", "アテンション", "bahdanau-attention/", 5),
    ("ja", "ソフトマックス", "simplified-self-attention/", 5),
    ("ja", "内積", "simplified-self-attention/", 5),
    ("ja", "コンテキストベクトル", "simplified-self-attention/", 5),
    ("ja", "ボトルネック", "long-sequences/", 5),
    ("ja", "softmax", "simplified-self-attention/", None),
    ("ja", "attention", "simplified-self-attention/", None),
    ("ja", "query", "trainable-self-attention/", None),
    ("ja", "GRU", "bahdanau-attention/", None),
    ("ja", "PyTorch", "performance/", None),
    ("en", "softmax", "simplified-self-attention/", 5),
    ("en", "attention", "simplified-self-attention/", None),
    ("en", "queries", "trainable-self-attention/", None),
    ("en", "GRU", "bahdanau-attention/", None),
    ("en", "context vector", "simplified-self-attention/", 5),
    ("en", "bottleneck", "long-sequences/", 5),
    ("en", "ソフトマックス", "glossary/", None),
    ("en", "アテンション", "glossary/", None),
    ("en", "内積", "glossary/", None),
]
IDS = [f"{lang}:{query}" for lang, query, _, _ in QUERIES]
# Searching from a chapter as well as from the home page: result links are
# resolved against the page's base, which differs by one folder.
START = {"ja": "", "en": "bahdanau-attention/"}


class Reader:
    """One page in a browser context of its own, on a language's site, online or from file://.

    Requests anywhere but the site itself (or data:/blob:) are aborted and
    listed in ``outside``; every search index the page asks for is listed in
    ``indexes``.
    """

    def __init__(self, browser, root: str, start: str, index: str):
        self.root, self.outside, self.indexes = root, [], []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()
        self.page.on("request", self._record)
        self.errors = console_errors(self.page)
        # Search once the worker has fetched its index (the last file a page asks for).
        with self.page.expect_request_finished(lambda r: r.url == index):
            self.page.goto(start, wait_until="load")

    def _guard(self, route) -> None:
        url = route.request.url
        if url.startswith((self.root, "data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _record(self, request) -> None:
        if "search_index" in request.url:
            self.indexes.append(request.url)

    def search(self, query: str) -> tuple[list[str], str]:
        """Result links (without Material's ?h= and anchors) and the count the page shows."""
        hits = [h.split("#")[0].split("?")[0] for h in _search(self.page, query)]
        return hits, self.page.locator(".md-search-result__meta").inner_text()


@pytest.fixture(scope="module")
def readers(browser, server, offline):
    """``reader(where, lang)``: a :class:`Reader` for "online" or "offline", made on first use."""
    made: dict[tuple[str, str], Reader] = {}

    def get(where: str, lang: str) -> tuple[Reader, str]:
        if where == "online":
            site = page_url(server, lang, "")  # the language's folder, as a URL
            start, index = site + START[lang], site + "search/search_index.json"
            root = server
        else:
            folder = offline / "en" if lang == "en" else offline
            site = folder.as_uri() + "/"
            start, index = _page(site, where, START[lang]), site + "search/search_index.js"
            root = "file://"
        if (where, lang) not in made:
            made[where, lang] = Reader(browser, root, start, index)
        return made[where, lang], site

    yield get
    for reader in made.values():
        reader.context.close()


def _page(site: str, where: str, path: str) -> str:
    """The URL of ``path`` (as in QUERIES) on a language's site; the offline bundle has no directory URLs."""
    if where == "online":
        return site + path
    return site + (path.rstrip("/") + ".html" if path else "index.html")


@pytest.mark.parametrize("where", ["online", "offline"])
@pytest.mark.parametrize(("lang", "query", "expected", "top"), QUERIES, ids=IDS)
def test_results_are_in_the_readers_language(
    readers, green, site, offline, where, lang, query, expected, top
):
    root = site if where == "online" else offline
    folder = root / "en" if lang == "en" else root
    index = folder / "search" / ("search_index.json" if where == "online" else "search_index.js")
    start = folder / (START[lang] + "index.html" if where == "online" else _page("", where, START[lang]))
    green.check(root, index, start)
    reader, site = readers(where, lang)
    hits, shown = reader.search(query)
    # The reader's site, and on the Japanese one not the English folder inside it.
    foreign = [h for h in hits if not h.startswith(site) or (lang == "ja" and h.startswith(site + "en/"))]
    want = _page(site, where, expected)
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "search-languages.txt", "a", encoding="utf-8") as f:
        f.write(
            f"{where}\t{lang}\t{query}\t{len(hits)} result links, {shown}\t"
            + (f"all {lang}" if not foreign else f"{len(foreign)} NOT {lang}")
            + f"\t{'found' if want in hits else 'MISSING'} {expected}\n"
        )
    assert not foreign, f"{query!r} on the {lang} site: {foreign}"
    assert want in hits, f"{query!r} on the {lang} site: {hits}"
    if top:
        assert want in hits[:top], f"{query!r} on the {lang} site: {hits[:8]}"
    # The page asked for its own language's index, and no other.
    own = site + ("search/search_index.json" if where == "online" else "search/search_index.js")
    assert set(reader.indexes) == {own}, reader.indexes
    assert not reader.outside, reader.outside
    assert not reader.errors, "\n".join(reader.errors)
