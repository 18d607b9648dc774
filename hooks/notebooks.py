"""Make mkdocs-jupyter work with mkdocs-static-i18n, and give notebook headings real anchors.

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
