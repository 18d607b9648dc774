"""Render the maths to MathML at build time, with KaTeX (tools/vendor/katex).

Pages carry no TeX and no maths script, stylesheet or font: every browser in
use draws MathML itself (Chromium since 2023, Firefox and Safari long before),
screen readers read it, and it works without JavaScript, online or from
file://. It also keeps pages light: KaTeX's script alone is 270 KB, and its
HTML rendering of a formula several times the size of the MathML.

Only what a Markdown renderer marked as maths is rendered, never a ``$`` found
in the HTML (a regex over HTML would read ``<code>$HOME</code> ... <code>$PATH</code>``
as one formula). Markdown pages: pymdownx.arithmatex (generic mode) wraps
formulas as ``<span class="arithmatex">\\(...\\)</span>`` and
``<div class="arithmatex">\\[...\\]</div>``. Notebook pages: nbconvert's
Markdown renderer (mistune with nbconvert's maths rules) is made to wrap them
the same way (:func:`_mark_notebook_maths`). Rendering runs KaTeX under Node.js
(tools/katex_render.js), once per page, for the formulas that are not in the
cache yet (:func:`_render`); a formula KaTeX cannot parse fails the build.

The maths is rendered as soon as a page's HTML exists (``on_page_content``),
so everything made from that HTML gets MathML, not TeX: Material's search
index (which skips the TeX annotation inside each formula, see
:data:`SEARCH_SKIPS_TEX`), and the table of contents and page title, which
:func:`_titles` rebuilds from the rendered headings.
"""

import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

try:  # MkDocs loads a hook from its file, with hooks/ on sys.path while it does
    import build_cache
except ModuleNotFoundError:  # imported as hooks.maths (the tests)
    from hooks import build_cache

RENDERER = Path(__file__).resolve().parent.parent / "tools" / "katex_render.js"
# KaTeX wraps its MathML in <span class="katex"> ... the tests look for that class.
ARITHMATEX = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*\\(?P<open>[(\[])(?P<tex>.*?)\\[)\]]\s*</(?P=tag)>', re.S
)
# The TeX source KaTeX keeps in each formula: Material's search plugin leaves out
# elements marked data-search-exclude (and strips the mark from the page).
TEX_ANNOTATION = '<annotation encoding="application/x-tex">'
SEARCH_SKIPS_TEX = '<annotation encoding="application/x-tex" data-search-exclude="tex">'
# KaTeX, as tools/katex_render.js loads it.
KATEX = RENDERER.parent / "vendor" / "katex" / "katex.min.js"
# Formulas rendered in this process (`mkdocs serve` keeps it between rebuilds).
_cache: dict[tuple[str, bool], str] = {}


# ---- notebooks: maths as nbconvert's Markdown renderer sees it ------------------

# Pandoc's rule for $...$ (nbconvert's own takes "costs $5 or $6" for maths): the
# opening $ is followed by a non-space, the closing $ follows a non-space and is
# not followed by a digit, and an unescaped $ ends the formula.
INLINE_DOLLARS = r"(?<![$\\])\$(?![\s$])(?P<math_inline_tex>(?:[^$\\]|\\.)+?)(?<!\s)\$(?!\d)"


def _marked(body: str, display: bool) -> str:
    """A formula as pymdownx.arithmatex (generic mode) marks it."""
    tex = html.escape(body, quote=False)
    start, end = ("\\[", "\\]") if display else ("\\(", "\\)")
    # A span even for display maths: nbconvert puts it inside a paragraph.
    return f'<span class="arithmatex">{start}{tex}{end}</span>'


def _mark_notebook_maths() -> None:
    """Make nbconvert's Markdown renderer mark maths the way arithmatex does.

    nbconvert parses ``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]`` and
    ``\\begin{env}...\\end{env}`` with mistune (code spans and blocks are
    parsed first, so they never hold maths), and gives each formula to its
    renderer, which puts the delimiters back for MathJax. Here the renderer
    wraps them for :data:`ARITHMATEX` instead.
    """
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MathInlineParser

    MathInlineParser.SPECIFICATION["inline_math_tex"] = f"(?s:{INLINE_DOLLARS})"
    IPythonRenderer.inline_math = lambda self, body: _marked(body, display=False)
    IPythonRenderer.block_math = lambda self, body: _marked(body, display=True)
    IPythonRenderer.latex_environment = lambda self, name, body: _marked(
        f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True
    )


_disk: build_cache.Cache | None = None
_renderer_key = ""


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    global _disk, _renderer_key
    _mark_notebook_maths()
    _disk = build_cache.Cache.for_site(config, "maths")
    _renderer_key = renderer_key()
    return config


# ---- rendering ------------------------------------------------------------------


def renderer_key(katex: Path = KATEX, renderer: Path = RENDERER) -> str:
    """What decides how every formula renders: KaTeX's code and the renderer's (its options)."""
    return build_cache.key("katex", katex.read_bytes(), renderer.read_bytes())


def formula_key(tex: str, display: bool, renderer: str) -> str:
    """The cache key of one formula's markup: the renderer's key, the display mode and the TeX."""
    return build_cache.key("formula", renderer, display, tex)


def _render(formulas: list[tuple[str, bool]], where: str) -> None:
    """Put the markup of ``formulas`` in :data:`_cache`: from the disk cache, else from KaTeX.

    Only formulas found in neither cache go to Node.js (one process for the
    page); a build with every formula cached starts none. What KaTeX returns is
    cached; a formula it rejects fails the build and is cached nowhere.
    """
    todo = []
    for tex, display in sorted({f for f in formulas if f not in _cache}):
        markup = _disk.read(formula_key(tex, display, _renderer_key)) if _disk else None
        if markup is None:
            todo.append((tex, display))
        else:
            _cache[tex, display] = markup
    if not todo:
        return
    node = shutil.which("node")
    if node is None:
        raise PluginError("Node.js is needed to render the maths (hooks/maths.py); install nodejs")
    done = subprocess.run(
        [node, str(RENDERER)], input=json.dumps(todo), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PluginError(f"KaTeX could not render a formula on {where}:\n{done.stderr.strip()}")
    for (tex, display), markup in zip(todo, json.loads(done.stdout), strict=True):
        _cache[tex, display] = markup
        if _disk is not None:
            _disk.write(formula_key(tex, display, _renderer_key), markup)


def on_page_content(output: str, page: Page, config: MkDocsConfig, files) -> str:
    found = [(html.unescape(m["tex"]).strip(), m["open"] == "[") for m in ARITHMATEX.finditer(output)]
    if not found:
        return output
    _render(found, page.file.src_uri)

    def arithmatex(m: re.Match) -> str:
        rendered = _cache[(html.unescape(m["tex"]).strip(), m["open"] == "[")]
        rendered = rendered.replace(TEX_ANNOTATION, SEARCH_SKIPS_TEX)
        return f'<{m["tag"]} class="arithmatex">{rendered}</{m["tag"]}>'

    output = ARITHMATEX.sub(arithmatex, output)
    _titles(output, page)
    return output


# ---- the table of contents and the page title -------------------------------------
#
# Python-Markdown's toc extension (and mkdocs-jupyter's, for notebooks) names each
# heading with its text, TeX and all, and MkDocs takes the page title from the
# first <h1> the same way. For a heading that holds maths, both are rebuilt from
# the rendered heading: the table of contents shows its MathML (through
# ``typeset``, the attribute Material's typeset plugin sets and its template
# shows), and wherever markup cannot go (<title>, the navigation, aria-label)
# a plain-text version, z⁽²⁾ for z^{(2)}.

HEADING = re.compile(r'<h(?P<level>[1-6])[^>]*\sid="(?P<id>[^"]+)"[^>]*>(?P<inner>.*?)</h(?P=level)>', re.S)
PERMALINK = re.compile(r'<a class="(?:headerlink|anchor-link)"[^>]*>.*?</a>', re.S)
SEARCH_MARK = re.compile(r'\sdata-search-\w+="[^"]+"')
MATHML = re.compile(r"<math\b.*?</math>", re.S)
SUP = dict(
    zip(
        "0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ",
        strict=True,
    )
)
SUB = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True))
SCRIPTS = {
    "msup": [SUP],
    "mover": [SUP],
    "msub": [SUB],
    "munder": [SUB],
    "msubsup": [SUB, SUP],
    "munderover": [SUB, SUP],
}


def _script(text: str, table: dict[str, str]) -> str:
    if text and all(c in table for c in text):
        return "".join(table[c] for c in text)
    mark = "^" if table is SUP else "_"
    return mark + (text if len(text) == 1 else f"({text})")


def _mathml_text(el: ET.Element) -> str:
    """What a formula says, as plain text: Unicode super- and subscripts where they exist."""
    tag = el.tag.rsplit("}", 1)[-1]
    kids = list(el)
    if tag == "annotation":
        return ""
    if tag in SCRIPTS and len(kids) == len(SCRIPTS[tag]) + 1:
        base, *scripts = (_mathml_text(k) for k in kids)
        return base + "".join(_script(s, t) for s, t in zip(scripts, SCRIPTS[tag], strict=True))
    if tag == "mfrac" and len(kids) == 2:
        top, bottom = (_mathml_text(k) for k in kids)
        return "/".join(p if len(p) == 1 else f"({p})" for p in (top, bottom))
    return (el.text or "").strip() + "".join(_mathml_text(k) for k in kids)


def plain_text(fragment: str) -> str:
    """An HTML fragment with rendered maths (a heading, say) as plain text."""

    def formula(m: re.Match) -> str:
        try:
            return html.escape(_mathml_text(ET.fromstring(m[0])), quote=False)
        except ET.ParseError:  # not expected from KaTeX; the formula's text, then
            return re.sub(r"<annotation\b.*?</annotation>", "", m[0], flags=re.S)

    text = re.sub(r"<[^>]+>", "", MATHML.sub(formula, PERMALINK.sub("", fragment)))
    return " ".join(html.unescape(text).split())


def _anchors(items) -> dict:
    out = {}
    for item in items:
        out[item.id] = item
        out.update(_anchors(item.children))
    return out


def _titles(output: str, page: Page) -> None:
    anchors = _anchors(page.toc.items)
    for m in HEADING.finditer(output):
        anchor = anchors.get(m["id"])
        if anchor is None or 'class="katex' not in m["inner"]:
            continue
        plain = plain_text(m["inner"])
        # The page title came from this heading unless the nav or the front matter set it.
        if m["level"] == "1" and page.title and html.unescape(anchor.title).strip() == page.title.strip():
            page.title = plain
        anchor.title = html.escape(plain, quote=False)
        anchor.typeset = {"title": SEARCH_MARK.sub("", PERMALINK.sub("", m["inner"])).strip()}
