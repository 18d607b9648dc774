"""Make mkdocs-jupyter work with mkdocs-static-i18n, give notebook headings real anchors,
and keep notebook pages light (section 3 below).

Two known breakages of this stack, fixed where they start:

1. mkdocs-static-i18n rebuilds MkDocs' file list after mkdocs-jupyter has
   marked notebooks as pages, and MkDocs itself only calls ``.md`` files
   pages, so notebooks were copied into the site as raw JSON, without a
   warning (mkdocs-static-i18n issue #198). Telling MkDocs that ``.ipynb`` is a
   page format fixes it for every plugin at once.

2. mkdocs-jupyter makes heading ids with an ASCII-only slug, so a Japanese
   heading gets ``id=""``: its permalink goes nowhere and Material's search
   cannot point into the section. Notebook headings here carry an explicit
   anchor, as the Markdown pages do (``## 結果 {#results}``); the patches
   below make both the rendered heading and the table of contents use it.
   Headings without one get a Unicode-aware slug, never an empty id.

Three more keep warm builds quick: the converted notebooks are cached on disk
(``.cache/notebooks``, :func:`conversion_key`), the plugin no longer reads every
Markdown page with jupytext to find out that it is not a notebook
(:func:`_include_first`), and the cut-down stylesheet is cached on disk
(``.cache/notebook-css``, :func:`shrink_key`).
"""

import functools
import html
import importlib.metadata
import json
import re
from pathlib import Path, PurePath

import mkdocs.utils
import tinycss2
from mkdocs.config.defaults import MkDocsConfig

import markdown

try:  # MkDocs loads a hook from its file, with hooks/ on sys.path while it does
    import build_cache
except ModuleNotFoundError:  # imported as hooks.notebooks (the tests)
    from hooks import build_cache

NOTEBOOK = ".ipynb"
EXPLICIT = re.compile(r"\s*\{#([A-Za-z0-9_-]+)\}\s*$")


def _slug(text: str) -> str:
    from pymdownx.slugs import slugify

    return slugify(case="lower")(text, "-") or "section"


def _heading(self, text: str, level: int, **attrs) -> str:
    """nbconvert's heading renderer, with ``{#id}`` anchors and Unicode slugs."""
    m = EXPLICIT.search(text)
    if m:
        anchor, text = m.group(1), text[: m.start()]
    else:
        anchor = _slug(re.sub(r"<[^>]+>", "", html.unescape(text)))
    link = f'<a class="anchor-link" href="#{anchor}">¶</a>'
    return f'<h{level} id="{anchor}">{text}{link}</h{level}>\n'


def _markdown_toc(markdown_source: str, toc_depth: int) -> list:
    """mkdocs-jupyter's table of contents, reading ``{#id}`` like the pages do."""
    md = markdown.Markdown(
        extensions=["attr_list", "toc"],
        extension_configs={"toc": {"toc_depth": toc_depth, "slugify": lambda v, s: _slug(v)}},
    )
    md.convert(markdown_source)
    return md.toc_tokens


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    if NOTEBOOK not in mkdocs.utils.markdown_extensions:
        mkdocs.utils.markdown_extensions = (*mkdocs.utils.markdown_extensions, NOTEBOOK)

    import mkdocs_jupyter.convert
    import mkdocs_jupyter.plugin
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    IPythonRenderer.heading = _heading
    mkdocs_jupyter.plugin._get_markdown_toc = _markdown_toc
    global _conversions
    _conversions = build_cache.Cache.for_site(config, "notebooks")
    nb2html = mkdocs_jupyter.convert.nb2html
    mkdocs_jupyter.convert.nb2html = _cached_nb2html(getattr(nb2html, "__wrapped__", nb2html))
    toc = mkdocs_jupyter.plugin._get_nb_toc_tokens
    mkdocs_jupyter.plugin._get_nb_toc_tokens = _cached_toc(getattr(toc, "__wrapped__", toc))
    include = mkdocs_jupyter.plugin.Plugin.should_include
    mkdocs_jupyter.plugin.Plugin.should_include = _include_first(getattr(include, "__wrapped__", include))
    return config


def _include_first(should_include):
    """mkdocs-jupyter's ``should_include``, which first looks at its ``include`` patterns.

    The plugin reads every ``.md`` file with jupytext (a notebook may be written
    in Markdown) before it looks at the patterns, for every file, several times
    per build and language: over a second of a warm build, for pages that
    ``include: ["*.ipynb"]`` rules out anyway. A file is included only if a
    pattern matches, so the answer is the same.
    """

    @functools.wraps(should_include)
    def patterns_first(self, file) -> bool:
        if file.abs_src_path is None:
            return False
        path = PurePath(file.abs_src_path)
        if not any(path.match(pattern) for pattern in self.config["include"]):
            return False
        return should_include(self, file)

    return patterns_first


# ---- the converted notebooks, cached ----------------------------------------------
#
# mkdocs-jupyter's own cache (its `cache` option, off in mkdocs.yml) never hit
# here: after each build it deletes the entries the build did not use, and
# mkdocs-static-i18n runs each language as a build of its own, so the Japanese
# build deleted the English notebook's entry and the other way round. It also
# writes its entries in place, so a build running at the same time (the tests
# build the site and the offline bundle in parallel) could read half of one.
# The plugin's two conversions are cached here instead, in .cache/notebooks,
# with atomic writes, keyed by the notebook, the options, the hooks (which
# change the conversion: headings and table of contents here, maths in
# hooks/maths.py) and the converters' versions.

# What converts a notebook, besides the hooks: a new version of any may change the page.
CONVERTERS = (
    "mkdocs-jupyter",
    "nbconvert",
    "nbformat",
    "jupytext",
    "mistune",
    "Pygments",
    "jupyterlab_pygments",
    "Markdown",
    "pymdown-extensions",
)
_conversions: build_cache.Cache | None = None


@functools.cache
def converters_key() -> str:
    """The key of the hooks' sources and the converters' versions."""
    hooks = Path(__file__).parent
    return build_cache.key(
        build_cache.files_key(hooks, hooks.glob("*.py")),
        *(importlib.metadata.version(name) for name in CONVERTERS),
    )


def conversion_key(kind: str, nb_path: str, *options) -> str:
    """The cache key of one conversion of the notebook at ``nb_path``."""
    return build_cache.key(kind, Path(nb_path).read_bytes(), *map(repr, options), converters_key())


def _cached(kind: str, convert, nb_path: str, *options):
    if _conversions is None:
        return convert()
    entry = conversion_key(kind, nb_path, *options)
    text = _conversions.read(entry)
    if text is None:
        result = convert()
        _conversions.write(entry, json.dumps(result, ensure_ascii=False))
        return result
    return json.loads(text)


def _cached_nb2html(nb2html):
    """mkdocs-jupyter's ``convert.nb2html``, cached unless it executes the notebook."""

    @functools.wraps(nb2html)
    def cached(nb_path, **options) -> str:
        if options.get("execute"):
            return nb2html(nb_path, **options)
        return _cached("nb2html", lambda: nb2html(nb_path, **options), nb_path, sorted(options.items()))

    return cached


def _cached_toc(toc_tokens):
    """mkdocs-jupyter's ``_get_nb_toc_tokens`` (the table of contents and the title), cached."""

    @functools.wraps(toc_tokens)
    def cached(nb_path, toc_depth) -> tuple[list, str | None]:
        tokens, title = _cached("toc", lambda: list(toc_tokens(nb_path, toc_depth)), nb_path, toc_depth)
        return tokens, title

    return cached


# ---- 3. page weight ------------------------------------------------------------
#
# mkdocs-jupyter inlines all of JupyterLab's stylesheet (about 570 KB) into
# every notebook page, for the few dozen classes a rendered notebook uses.
# Below, rules whose selectors name a class that the page does not contain are
# dropped, and so are custom properties (mostly inlined icons) that no kept
# rule uses. The rendering is unchanged; the page loses about nine tenths of it.
# tinycss2 reads the CSS as a browser does, so strings (content: "}"),
# comments and url(data:...) values cannot be taken for the end of a rule.

STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
CLASS_ATTR = re.compile(r'class="([^"]*)"')
# At-rules that hold rules; other at-rules (@font-face, @keyframes...) are kept whole.
GROUPING = {"media", "supports", "layer", "container", "document", "scope"}


def _needed_classes(prelude: list) -> list[set[str]]:
    """For each selector of a comma-separated list, the classes an element needs for it to match.

    Classes inside functional pseudo-classes (``:not(.x)``, ``:is(.x, .y)``) are
    not counted: a rule is dropped only when it surely matches nothing.
    """
    selectors, current, after_dot = [], set(), False
    for token in prelude:
        if token.type == "ident" and after_dot:
            current.add(token.value)
        elif token.type == "literal" and token.value == ",":
            selectors.append(current)
            current = set()
        after_dot = token.type == "literal" and token.value == "."
    return [*selectors, current]


def _shake(rules: list, classes: set[str]) -> list:
    """The rules that can match an element of the page; comments and parse errors dropped."""
    kept = []
    for rule in rules:
        if rule.type == "qualified-rule":
            if any(needed <= classes for needed in _needed_classes(rule.prelude)):
                kept.append(rule)
        elif rule.type == "at-rule" and rule.content is not None and rule.lower_at_keyword in GROUPING:
            inner = _shake(_parse_rules(rule.content), classes)
            if inner:
                kept.append((rule, inner))
        elif rule.type == "at-rule":
            kept.append(rule)
    return kept


def _parse_rules(css) -> list:
    return tinycss2.parse_rule_list(css, skip_comments=True, skip_whitespace=True)


def _declarations(rule) -> list:
    return tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True)


def _var_uses(tokens) -> set[str]:
    """Custom properties read with var() anywhere in ``tokens``, nested functions included."""
    found = set()
    for token in tokens or ():
        if token.type == "function":
            if token.lower_name == "var":
                name = next((t for t in token.arguments if t.type != "whitespace"), None)
                if name is not None and name.type == "ident":
                    found.add(name.value)
            found |= _var_uses(token.arguments)
        elif token.type in {"() block", "[] block", "{} block"}:
            found |= _var_uses(token.content)
    return found


def _used_properties(kept: list) -> set[str]:
    """Custom properties that a kept rule reads, directly or through other custom properties."""
    used, definitions = set(), {}

    def walk(items: list) -> None:
        for item in items:
            if isinstance(item, tuple):
                walk(item[1])
            elif item.type == "qualified-rule":
                for d in _declarations(item):
                    if d.type == "declaration" and d.name.startswith("--"):
                        definitions.setdefault(d.name, []).append(d.value)
                    elif d.type == "declaration":
                        used.update(_var_uses(d.value))
                    else:  # a nested rule
                        used.update(_var_uses(d.prelude) | _var_uses(getattr(d, "content", None)))
            else:  # an at-rule kept whole
                used.update(_var_uses(item.prelude) | _var_uses(item.content))

    walk(kept)
    todo = list(used)
    while todo:  # properties defined in terms of other properties
        for value in definitions.get(todo.pop(), []):
            more = _var_uses(value) - used
            used |= more
            todo.extend(more)
    return used


def _needed(declaration, used: set[str]) -> bool:
    name = getattr(declaration, "name", "")  # nested rules have none
    return not name.startswith("--") or name in used


def _serialize(kept: list, used: set[str]) -> str:
    out = []
    for item in kept:
        if isinstance(item, tuple):
            rule, inner = item
            out.append(f"@{rule.at_keyword}{tinycss2.serialize(rule.prelude)}{{{_serialize(inner, used)}}}")
        elif item.type == "qualified-rule":
            body = [d.serialize() for d in _declarations(item) if d.type != "error" and _needed(d, used)]
            if body:
                out.append(f"{tinycss2.serialize(item.prelude).strip()}{{{';'.join(body)}}}")
        else:
            out.append(item.serialize())
    return "".join(out)


@functools.lru_cache(maxsize=4)
def _stylesheet(css: str) -> list:
    """The parsed stylesheet: every notebook page carries the same one, and parsing is most of the work."""
    return tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)


def shrink_css(css: str, classes: set[str]) -> str:
    """``css`` without the rules that match no element with ``classes``, nor the custom properties
    that only those rules used."""
    kept = _shake(_stylesheet(css), classes)
    return _serialize(kept, _used_properties(kept))


def shrink_key(css: str, classes: set[str]) -> str:
    """The cache key of :func:`shrink_css`'s result: the stylesheet, the classes, tinycss2 and this file."""
    return build_cache.key(
        "shrink_css",
        css,
        " ".join(sorted(classes)),
        importlib.metadata.version("tinycss2"),
        Path(__file__).read_bytes(),
    )


def on_post_page(output: str, page, config: MkDocsConfig) -> str:
    if not page.file.src_uri.endswith(NOTEBOOK) or "jupyter-wrapper" not in output:
        return output
    classes = {c for attr in CLASS_ATTR.findall(output) for c in attr.split()}
    classes |= {"jupyter-wrapper"}
    # Parsing the stylesheet takes about half a second a page; the result is cached on disk.
    cache = build_cache.Cache.for_site(config, "notebook-css")

    def shrink(m: re.Match) -> str:
        if len(m.group(2)) < 20_000:
            return m.group(0)
        entry = shrink_key(m.group(2), classes)
        css = cache.read(entry)
        if css is None:
            css = shrink_css(m.group(2), classes)
            cache.write(entry, css)
        return m.group(1) + css + m.group(3)

    return STYLE.sub(shrink, output)
