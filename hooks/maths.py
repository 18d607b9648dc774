"""Render the maths to MathML at build time, with KaTeX (tools/vendor/katex).

Pages carry no TeX and no maths script, stylesheet or font: every browser in
use draws MathML itself (Chromium since 2023, Firefox and Safari long before),
screen readers read it, and it works without JavaScript, online or from
file://. It also keeps pages light: KaTeX's script alone is 270 KB, and its
HTML rendering of a formula several times the size of the MathML.

Markdown pages: pymdownx.arithmatex (generic mode) wraps formulas as
``<span class="arithmatex">\\(...\\)</span>`` and ``<div class="arithmatex">\\[...\\]</div>``.
Notebook pages: mkdocs-jupyter leaves ``$...$`` and ``$$...$$`` in the
rendered Markdown cells. Both are replaced here. Rendering runs KaTeX under
Node.js (tools/katex_render.js), once per page; a formula KaTeX cannot parse
fails the build.
"""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

RENDERER = Path(__file__).resolve().parent.parent / "tools" / "katex_render.js"
# KaTeX wraps its MathML in <span class="katex"> ... the tests look for that class.
ARITHMATEX = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*\\(?P<open>[(\[])(?P<tex>.*?)\\[)\]]\s*</(?P=tag)>', re.S
)
NOTEBOOK_MARKDOWN = re.compile(
    r'(<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown[^"]*"[^>]*>)(.*?)(</div>)', re.S
)
DOLLARS = re.compile(r"\$\$(?P<display>.+?)\$\$|(?<![\\$])\$(?P<inline>[^$\n]+?)\$", re.S)
_cache: dict[tuple[str, bool], str] = {}


def _render(formulas: list[tuple[str, bool]], where: str) -> None:
    todo = sorted({f for f in formulas if f not in _cache})
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
    _cache.update(zip(todo, json.loads(done.stdout), strict=True))


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    found = [(html.unescape(m["tex"]).strip(), m["open"] == "[") for m in ARITHMATEX.finditer(output)]
    cells = NOTEBOOK_MARKDOWN.findall(output)
    for _, body, _ in cells:
        for m in DOLLARS.finditer(body):
            tex = m["display"] if m["display"] is not None else m["inline"]
            found.append((html.unescape(tex).strip(), m["display"] is not None))
    if not found:
        return output
    _render(found, page.file.src_uri)

    def arithmatex(m: re.Match) -> str:
        rendered = _cache[(html.unescape(m["tex"]).strip(), m["open"] == "[")]
        return f'<{m["tag"]} class="arithmatex">{rendered}</{m["tag"]}>'

    def dollars(m: re.Match) -> str:
        display = m["display"] is not None
        tex = html.unescape(m["display"] if display else m["inline"]).strip()
        return _cache[(tex, display)]

    output = ARITHMATEX.sub(arithmatex, output)
    return NOTEBOOK_MARKDOWN.sub(lambda m: m[1] + DOLLARS.sub(dollars, m[2]) + m[3], output)
