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
"""

import html
import re

import mkdocs.utils
from mkdocs.config.defaults import MkDocsConfig

import markdown

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
    return config


# ---- 3. page weight ------------------------------------------------------------
#
# mkdocs-jupyter inlines all of JupyterLab's stylesheet (about 570 KB) into
# every notebook page, for the few dozen classes a rendered notebook uses.
# Below, rules whose selectors name a class that the page does not contain are
# dropped, and so are custom properties (mostly inlined icons) that no kept
# rule uses. The rendering is unchanged; the page loses about nine tenths of it.

STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
CLASS_ATTR = re.compile(r'class="([^"]*)"')
SELECTOR_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
CUSTOM_PROPERTY = re.compile(r"(--[\w-]+)\s*:(?:[^;{}()]|\([^()]*\))*;?")  # values may hold url(data:...;...)
VAR_USE = re.compile(r"var\(\s*(--[\w-]+)")


def _blocks(css: str) -> list[tuple[str, str]]:
    """Split CSS into top-level (prelude, body) pairs; body is None for statements like @import."""
    out, i, n = [], 0, len(css)
    while i < n:
        brace = css.find("{", i)
        semi = css.find(";", i)
        if brace == -1:
            break
        if semi != -1 and semi < brace and css[i:semi].strip().startswith("@"):
            out.append((css[i : semi + 1], None))
            i = semi + 1
            continue
        depth, j = 1, brace + 1
        while j < n and depth:
            depth += {"{": 1, "}": -1}.get(css[j], 0)
            j += 1
        out.append((css[i:brace].strip(), css[brace + 1 : j - 1]))
        i = j
    return out


def _keep_selector(prelude: str, classes: set[str]) -> bool:
    return any(all(c in classes for c in SELECTOR_CLASS.findall(sel)) for sel in prelude.split(","))


def _shake(css: str, classes: set[str]) -> str:
    out = []
    for prelude, body in _blocks(css):
        if body is None:
            out.append(prelude)
        elif prelude.startswith(("@media", "@supports", "@layer")):
            inner = _shake(body, classes)
            if inner.strip():
                out.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith("@"):
            out.append(f"{prelude}{{{body}}}")
        elif _keep_selector(prelude, classes):
            out.append(f"{prelude}{{{body}}}")
    return "".join(out)


def _drop_unused_properties(css: str) -> str:
    used = set(VAR_USE.findall(CUSTOM_PROPERTY.sub("", css)))
    while True:  # properties defined in terms of other properties
        defined = [(m.group(1), m.group(0)) for m in CUSTOM_PROPERTY.finditer(css)]
        more = {v for name, decl in defined if name in used for v in VAR_USE.findall(decl)}
        if more <= used:
            break
        used |= more
    return CUSTOM_PROPERTY.sub(lambda m: m.group(0) if m.group(1) in used else "", css)


def on_post_page(output: str, page, config: MkDocsConfig) -> str:
    if not page.file.src_uri.endswith(NOTEBOOK) or "jupyter-wrapper" not in output:
        return output
    classes = {c for attr in CLASS_ATTR.findall(output) for c in attr.split()}
    classes |= {"jupyter-wrapper"}

    def shrink(m: re.Match) -> str:
        if len(m.group(2)) < 20_000:
            return m.group(0)
        return m.group(1) + _drop_unused_properties(_shake(m.group(2), classes)) + m.group(3)

    return STYLE.sub(shrink, output)
