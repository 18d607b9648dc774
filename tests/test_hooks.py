"""The build hooks (hooks/), on a small site of their own and on their own functions.

The small site (tests/fixtures/hooks/docs) goes through the real rendering
path, mkdocs-jupyter and nbconvert included, with the project's maths and
notebook hooks: a notebook whose Markdown holds shell variables in code, a
price and real maths, and a page with maths in its headings.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hooks.maths import plain_text
from hooks.notebooks import shrink_css

from tests.conftest import ROOT

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("hooks", "tools/katex_render.js", "tools/vendor", "tests/fixtures/hooks")

FIXTURES = ROOT / "tests" / "fixtures" / "hooks"


def small_site_config(name: str, hooks: list[str]) -> str:
    """What the project's mkdocs.yml says about notebooks and maths, and nothing else, with ``hooks``
    (file names in hooks/)."""
    listed = "".join(f"  - {ROOT / 'hooks' / hook}\n" for hook in hooks)
    return f"""
site_name: {name}
theme:
  name: material
  font: false
plugins:
  - search
  - mkdocs-jupyter:
      include: ["*.ipynb"]
      execute: false
      include_requirejs: false
      custom_mathjax_url: "data:text/javascript,"
      cache: false
markdown_extensions:
  - attr_list
  - toc:
      permalink: true
  - pymdownx.arithmatex:
      generic: true
hooks:
{listed}"""


CONFIG = small_site_config("Hooks", ["notebooks.py", "maths.py"])
ANNOTATION = re.compile(r'<annotation encoding="application/x-tex">(.*?)</annotation>')


@pytest.fixture(scope="module")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hooks")
    shutil.copytree(FIXTURES / "docs", root / "docs")
    (root / "mkdocs.yml").write_text(CONFIG, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return root / "site"


def _article(site: Path, page: str) -> str:
    html = (site / page / "index.html").read_text(encoding="utf-8")
    return html.split("<article", 1)[1].split("</article>", 1)[0]


def test_notebook_maths_is_what_the_markdown_marks_as_maths(small_site: Path):
    article = _article(small_site, "notebook")
    # Code spans are code, however many dollars they hold.
    assert "<code>$HOME</code> and <code>$PATH</code>" in article
    # A price is not a formula: the $ of $6 follows a space, so it cannot close one (pandoc's rule).
    assert "It costs $5 or $6." in article
    # The real maths is MathML: $x^2$ in a paragraph and in a heading, $$...$$ as a block.
    assert ANNOTATION.findall(article) == ["x^2", r"\sum_i a_i", "x^2"]
    assert article.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') == 1
    # Code cells and code blocks in Markdown keep their dollars.
    assert '<span class="s2">"$5 or $6"</span>' in article
    assert '<span class="nv">$HOME</span>' in article


def test_headings_with_maths_give_no_tex_to_toc_title_nav_or_search(small_site: Path):
    page = (small_site / "page" / "index.html").read_text(encoding="utf-8")
    notebook = (small_site / "notebook" / "index.html").read_text(encoding="utf-8")
    # Where markup cannot go: plain text, with Unicode superscripts.
    assert "<title>The x² page - Hooks</title>" in page
    assert re.search(
        r'<a href="\.\./page/" class="md-nav__link">\s*<span class="md-ellipsis">\s*The x² page', notebook
    )
    # The table of contents shows the heading's MathML.
    for html, anchor, tex in ((page, "step", "z^{(2)}"), (notebook, "square", "x^2")):
        entries = re.findall(rf'<a href="#{anchor}" class="md-nav__link">(.*?)</a>', html, re.S)
        assert entries, anchor
        for entry in entries:
            assert ANNOTATION.findall(entry) == [tex]
            assert "$" not in entry and "\\(" not in entry
    # Search: the formula's text, never its TeX.
    docs = json.loads((small_site / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    titles = {d["location"]: d["title"] for d in docs}
    assert titles["page/"] == "The x2 page"
    assert titles["page/#step"] == "Step z(2)"
    for d in docs:
        text = re.sub(r"<(code|pre)>.*?</\1>", "", d["title"] + d["text"], flags=re.S)
        assert not re.search(r"\\[(\[a-zA-Z]", text), d
    assert any("It costs $5 or $6." in d["text"] for d in docs)


@pytest.mark.parametrize(
    ("mathml", "text"),
    [
        ("<msup><mi>z</mi><mrow><mo>(</mo><mn>2</mn><mo>)</mo></mrow></msup>", "z⁽²⁾"),
        ("<msub><mi>α</mi><mrow><mn>2</mn><mi>j</mi></mrow></msub>", "α₂ⱼ"),
        ("<msup><mi>x</mi><mi>q</mi></msup>", "x^q"),  # no superscript q in Unicode
        ("<mfrac><mn>1</mn><mrow><mi>a</mi><mo>+</mo><mi>b</mi></mrow></mfrac>", "1/(a+b)"),
    ],
)
def test_plain_text_of_a_formula(mathml: str, text: str):
    formula = (
        f'<span class="katex"><math xmlns="http://www.w3.org/1998/Math/MathML"><semantics><mrow>{mathml}</mrow>'
        '<annotation encoding="application/x-tex">TeX</annotation></semantics></math></span>'
    )
    assert plain_text(f'Step {formula}<a class="headerlink" href="#s">¶</a>') == f"Step {text}"


# ---- hooks/notebooks.py: the notebook stylesheet, cut down to what the page uses ----


def _squeezed(css: str) -> str:
    """``css`` without whitespace, so that the tests do not depend on how tinycss2 spaces it."""
    return re.sub(r"\s+", "", css)


def test_css_strings_may_hold_braces():
    css = '.used::after { content: "}" } .unused { color: red } .used::before { content: "{" }'
    assert _squeezed(shrink_css(css, {"used"})) == '.used::after{content:"}"}.used::before{content:"{"}'


def test_css_comments_may_hold_braces():
    css = "/* .unused { */ .used { color: green } /* } .x { */ .unused { color: red }"
    assert _squeezed(shrink_css(css, {"used"})) == ".used{color:green}"


def test_css_media_blocks_keep_their_used_rules():
    css = (
        "@media (max-width: 600px) { .used { margin: 0 } .unused { margin: 1px } }"
        "@media print { .unused { display: none } }"
        "@font-face { font-family: X; src: local(X) }"
    )
    assert (
        _squeezed(shrink_css(css, {"used"}))
        == "@media(max-width:600px){.used{margin:0}}@font-face{font-family:X;src:local(X)}"
    )


def test_css_custom_properties_are_kept_only_when_a_kept_rule_reads_them():
    css = (
        ":root { --direct: 1px; --via: var(--inner, 0); --inner: 2px; --unread: 3px;"
        " --icon: url(data:image/svg+xml;utf8,<svg>{}</svg>) }"
        ".used { margin: var(--direct) var(--via) }"
        ".unused { padding: var(--unread) var(--icon) }"
    )
    assert _squeezed(shrink_css(css, {"used"})) == (
        ":root{--direct:1px;--via:var(--inner,0);--inner:2px}.used{margin:var(--direct)var(--via)}"
    )


def test_css_selectors_are_read_as_selectors():
    css = (
        '.used[data-mime-type="application/vnd.jupyter.stderr"] { color: red }'  # "jupyter" is no class here
        ".used:not(.absent) { color: blue }"  # matches elements without .absent
        ".absent, .used { color: green }"  # one selector of the list is enough
        ".used .absent { color: black }"
    )
    out = shrink_css(css, {"used"})
    assert "red" in out and "blue" in out and "green" in out
    assert "black" not in out
