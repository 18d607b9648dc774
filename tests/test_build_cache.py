"""The build's on-disk caches (hooks/build_cache.py and the hooks that use it).

A warm build must write the same bytes as a cold one, skip Node.js and torch
when nothing changed, notice what changed (the package's source, the TeX, the
KaTeX in use...), and never keep a failure. The builds here are of small sites
of their own, in temporary folders, each with its own ``.cache``.
"""

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import torch
from hooks import build_cache, explorer, maths, notebooks, search_sections, templates
from mkdocs.exceptions import PluginError

from attention_notes.data import TOKENS, journey_inputs
from attention_notes.simple_attention import all_scores, context_vectors, scores_to_weights
from tests.conftest import ROOT
from tests.test_hooks import small_site_config

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs(
    "hooks",
    "tools/katex_render.js",
    "tools/vendor",
    "tests/fixtures/hooks",
    "src/attention_notes",
    "docs/assets/javascripts/explorer.js",
    "docs/assets/stylesheets/explorer.css",
    "tests/test_hooks.py",
)

FIXTURES = ROOT / "tests" / "fixtures" / "hooks" / "docs"
HOOKS = ROOT / "hooks"
ISLAND = re.compile(r'<script type="application/json" class="ax-data">(.*?)</script>', re.S)
# Every hook that caches, with the plugins whose work they cache (search, notebooks).
CONFIG = small_site_config(
    "Caches", ["notebooks.py", "maths.py", "explorer.py", "search_sections.py", "templates.py"]
)
CACHES = {"maths", "explorer", "notebooks", "notebook-css", "search", "jinja"}


def _site(root: Path, config: str = CONFIG) -> Path:
    """A small site in ``root``: the hooks' fixture pages, and a page with the attention explorer."""
    shutil.copytree(FIXTURES, root / "docs")
    (root / "docs" / "explorer.md").write_text(
        "# Explorer\n\n<!-- attention-explorer: simplified -->\n", encoding="utf-8"
    )
    for asset in ("javascripts/explorer.js", "stylesheets/explorer.css"):
        target = root / "docs" / "assets" / asset
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "docs" / "assets" / asset, target)
    (root / "mkdocs.yml").write_text(config, encoding="utf-8")
    return root


def _build(root: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **env},
        check=False,
    )


def _files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def _entries(cache: Path) -> set[str]:
    return {p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()}


def _stand_ins(folder: Path) -> dict[str, str]:
    """An environment in which running ``node`` or importing torch fails the build, saying so."""
    bin_dir, lib = folder / "bin", folder / "lib" / "torch"
    bin_dir.mkdir(parents=True)
    lib.mkdir(parents=True)
    node = bin_dir / "node"
    node.write_text("#!/bin/sh\necho 'node was started' >&2\nexit 1\n", encoding="utf-8")
    node.chmod(0o755)
    (lib / "__init__.py").write_text("raise ImportError('torch was imported')\n", encoding="utf-8")
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(lib.parent), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }


# ---- the whole path: cold and warm builds --------------------------------------------


def test_a_warm_build_writes_the_same_site_without_node_or_torch(tmp_path: Path):
    root = _site(tmp_path / "site")
    cold = _build(root)
    assert cold.returncode == 0, cold.stderr
    shutil.move(root / "site", tmp_path / "cold")
    assert {p.name for p in (root / ".cache").iterdir()} >= CACHES

    warm = _build(root, **_stand_ins(tmp_path / "stand-ins"))
    assert warm.returncode == 0, warm.stderr
    cold_files, warm_files = _files(tmp_path / "cold"), _files(root / "site")
    assert cold_files.keys() == warm_files.keys()
    assert [name for name in cold_files if cold_files[name] != warm_files[name]] == []
    # The caches were read, and the pages have what they are for.
    page = warm_files["page/index.html"].decode()
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML"' in page
    assert "data-attention-explorer" in warm_files["explorer/index.html"].decode()
    assert "jupyter-wrapper" in warm_files["notebook/index.html"].decode()


EXPLORER_ONLY = f"""
site_name: Explorer
theme:
  name: mkdocs
hooks:
  - {HOOKS / "explorer.py"}
"""


def test_a_change_to_the_package_source_gives_new_explorer_numbers(tmp_path: Path):
    """The package is imported from a copy (PYTHONPATH); a change to the copy must show in the next build."""
    package = tmp_path / "lib" / "attention_notes"
    shutil.copytree(ROOT / "src" / "attention_notes", package, ignore=shutil.ignore_patterns("__pycache__"))
    root = _site(tmp_path / "site", EXPLORER_ONLY)
    env = {"PYTHONPATH": str(package.parent)}

    def island() -> dict:
        done = _build(root, **env)
        assert done.returncode == 0, done.stderr
        return json.loads(ISLAND.search((root / "site" / "explorer" / "index.html").read_text("utf-8"))[1])

    before = island()
    assert before == island()  # warm: the same numbers
    with (package / "data.py").open("a", encoding="utf-8") as f:
        f.write(
            "\n\n_journey_inputs = journey_inputs\n\n\n"
            "def journey_inputs(*args, **kwargs):\n    return _journey_inputs(*args, **kwargs) * 2\n"
        )
    after = island()
    x = journey_inputs() * 2  # (T, D), as the changed package gives it
    weights = scores_to_weights(all_scores(x))  # (T, T)
    assert after != before
    assert after["states"][0]["weights"] == explorer.numbers(weights)
    assert after["states"][0]["context"] == explorer.numbers(context_vectors(x, weights))


MATHS_ONLY = """
site_name: Maths
theme:
  name: mkdocs
markdown_extensions:
  - pymdownx.arithmatex:
      generic: true
hooks:
  - {hook}
""".format(hook=HOOKS / "maths.py")


def test_a_formula_katex_rejects_fails_the_build_with_a_warm_cache(tmp_path: Path):
    root = tmp_path / "site"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "index.md").write_text("# Good\n\n$x^2$ and $$\\sum_i a_i$$\n", encoding="utf-8")
    (root / "mkdocs.yml").write_text(MATHS_ONLY, encoding="utf-8")
    done = _build(root)
    assert done.returncode == 0, done.stderr
    cached = _entries(root / ".cache" / "maths")
    assert len(cached) == 2

    (root / "docs" / "bad.md").write_text("# Bad\n\n$x^2$ and $\\notamacro{y}$\n", encoding="utf-8")
    for _ in range(2):  # the failure is not kept: the second build fails the same way
        done = _build(root)
        assert done.returncode != 0
        assert "KaTeX could not render a formula on bad.md" in done.stderr
        assert "notamacro" in done.stderr
        assert _entries(root / ".cache" / "maths") == cached


# ---- keys: what decides each result is in its key ------------------------------------


def test_keys_frame_their_parts():
    assert build_cache.key("ab", "c") != build_cache.key("a", "bc")
    assert build_cache.key(b"ab", b"c") != build_cache.key(b"a", b"bc")  # file contents: bytes as they are
    assert build_cache.key(b"x") != build_cache.key("x")
    assert build_cache.key(True) != build_cache.key(1)
    assert build_cache.key("a", "b") == build_cache.key("a", "b")


def test_formula_key_follows_tex_display_and_renderer(tmp_path: Path):
    katex, renderer = tmp_path / "katex.min.js", tmp_path / "katex_render.js"
    katex.write_bytes(maths.KATEX.read_bytes())
    renderer.write_bytes(maths.RENDERER.read_bytes())
    base = maths.renderer_key(katex, renderer)
    assert base == maths.renderer_key()
    katex.write_bytes(katex.read_bytes().replace(b"0.19.1", b"0.19.2", 1))  # another KaTeX
    newer = maths.renderer_key(katex, renderer)
    renderer.write_bytes(renderer.read_bytes().replace(b'strict: "error"', b'strict: "warn"'))
    assert len({base, newer, maths.renderer_key(katex, renderer)}) == 3
    keys = {
        maths.formula_key("x^2", False, base),
        maths.formula_key("x^2", True, base),
        maths.formula_key("x^3", False, base),
        maths.formula_key("x^2", False, newer),
    }
    assert len(keys) == 4


def test_explorer_key_follows_the_package_torch_and_the_cpu_path(tmp_path: Path, monkeypatch):
    # Every Python file of the package, found without importing it.
    root, sources = explorer._package_sources()
    assert root == ROOT / "src" / "attention_notes"
    assert sources == sorted((ROOT / "src" / "attention_notes").rglob("*.py"))

    copy = tmp_path / "attention_notes"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(explorer, "_package_sources", lambda: (copy, sorted(copy.rglob("*.py"))))
    keys = [explorer.numbers_key()]
    assert explorer.numbers_key() == keys[0]
    with (copy / "multihead.py").open("a", encoding="utf-8") as f:
        f.write("\n# a comment is a change too: the key does not read the code\n")
    keys.append(explorer.numbers_key())
    (copy / "results").mkdir(exist_ok=True)
    (copy / "results" / "new_module.py").write_text("X = 1\n", encoding="utf-8")  # a new file, deeper down
    keys.append(explorer.numbers_key())
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    keys.append(explorer.numbers_key())
    version = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda name: "9.9.9" if name == "torch" else version(name)
    )
    keys.append(explorer.numbers_key())
    assert len(set(keys)) == len(keys)


def test_the_explorer_key_changes_with_the_hook(tmp_path: Path, monkeypatch):
    before = explorer.numbers_key()
    hook = tmp_path / "explorer.py"
    hook.write_bytes(Path(explorer.__file__).read_bytes() + b"\n")
    monkeypatch.setattr(explorer, "__file__", str(hook))
    assert explorer.numbers_key() != before


def test_explorer_numbers_come_from_the_source_as_it_is_now(tmp_path: Path, monkeypatch):
    """Computed by a new process, not by this one, which imported the package before any change.

    (`mkdocs serve` keeps its modules between rebuilds: numbers computed in it
    would be the old source's, filed under the new source's key.)
    """
    cache = build_cache.Cache(tmp_path / "cache")
    explorer._published.clear()
    computed = explorer.published(cache)
    assert computed["tokens"] == list(TOKENS)
    for view in explorer.VIEWS:
        assert computed["views"][view] == {"first": explorer.states(view)[1], **explorer.data(view)}
    explorer._published.clear()
    assert explorer.published(cache) == computed  # read back from the cache
    assert len(_entries(tmp_path / "cache")) == 1

    # The package changes (a copy, first on the path), while this process keeps the modules it imported.
    package = tmp_path / "lib" / "attention_notes"
    shutil.copytree(ROOT / "src" / "attention_notes", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "data.py").write_text(
        (package / "data.py").read_text(encoding="utf-8").replace("(0.55, 0.87, 0.66)", "(0.95, 0.07, 0.16)"),
        encoding="utf-8",
    )
    monkeypatch.setenv("PYTHONPATH", str(package.parent))
    monkeypatch.setattr(explorer, "_package_sources", lambda: (package, sorted(package.rglob("*.py"))))
    changed = explorer.published(cache)
    assert changed != computed
    x = journey_inputs()
    x[1] = torch.tensor([0.95, 0.07, 0.16])  # (T, D), "journey" as the changed package has it
    assert changed["views"]["simplified"]["states"][0]["weights"] == explorer.numbers(
        scores_to_weights(all_scores(x))
    )
    assert len(_entries(tmp_path / "cache")) == 2


def test_a_failed_computation_is_not_cached(tmp_path: Path, monkeypatch):
    def fails() -> str:
        raise PluginError("attention explorer: computing the numbers failed")

    monkeypatch.setattr(explorer, "_compute_afresh", fails)
    explorer._published.clear()
    with pytest.raises(PluginError):
        explorer.published(build_cache.Cache(tmp_path))
    assert not tmp_path.exists() or _entries(tmp_path) == set()


def test_notebook_conversion_key_follows_the_notebook_and_the_options(tmp_path: Path):
    notebook = tmp_path / "n.ipynb"
    notebook.write_bytes((FIXTURES / "notebook.ipynb").read_bytes())
    keys = [notebooks.conversion_key("nb2html", str(notebook), [("theme", "")])]
    keys.append(notebooks.conversion_key("nb2html", str(notebook), [("theme", "dark")]))
    keys.append(notebooks.conversion_key("toc", str(notebook), [("theme", "")]))
    notebook.write_bytes(notebook.read_bytes().replace(b"Prices", b"Costs"))
    keys.append(notebooks.conversion_key("nb2html", str(notebook), [("theme", "")]))
    assert len(set(keys)) == 4


def test_notebook_stylesheet_key_follows_the_css_and_the_classes():
    keys = {
        notebooks.shrink_key(".a{color:red}", {"a"}),
        notebooks.shrink_key(".a{color:blue}", {"a"}),
        notebooks.shrink_key(".a{color:red}", {"a", "b"}),
    }
    assert len(keys) == 3
    assert notebooks.shrink_key(".a{}", {"a", "b"}) == notebooks.shrink_key(".a{}", {"b", "a"})


def test_template_folder_follows_the_environment():
    plain = jinja2.Environment()
    with_loops = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"])
    trimmed = jinja2.Environment(trim_blocks=True)
    keys = {templates.environment_key(env) for env in (plain, with_loops, trimmed)}
    assert len(keys) == 3
    assert templates.environment_key(jinja2.Environment()) == templates.environment_key(plain)


# ---- what comes back from a cache is what went in -------------------------------------

SECTIONS_HTML = """
<p>Before any heading &amp; more.</p>
<h1 id="title">Title <a class="headerlink" href="#title">¶</a></h1>
<p>Some <code>code</code> and <sub>i</sub>.</p>
<div data-search-exclude><p>left out</p></div>
<section><h2 id="inner">Inner</h2><p>nested</p></section>
<pre><code>a  b
c</code></pre>
"""


def _sections(parser) -> list:
    return [
        (s.el.tag, s.el.attrs, s.depth, s.id, s.title, s.text, s.is_excluded())
        for s in parser.data  # everything Material's search plugin reads
    ]


def test_search_sections_from_the_cache_are_the_parsed_ones(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(search_sections.CachingParser, "cache", build_cache.Cache(tmp_path))
    parsed = search_sections.MaterialParser()
    parsed.feed(SECTIONS_HTML)
    parsed.close()
    for _ in range(2):  # cold (parses and writes), then warm (reads)
        parser = search_sections.CachingParser()
        parser.feed(SECTIONS_HTML)
        parser.close()
        assert _sections(parser) == _sections(parsed)
    assert len(_entries(tmp_path)) == 1
    assert any(s.depth == float("inf") for s in parsed.data)  # a section left: JSON's Infinity


def test_cache_writes_are_atomic(tmp_path: Path, monkeypatch):
    """The entry appears whole, by a rename of a complete temporary file: a reader never sees half of it."""
    cache = build_cache.Cache(tmp_path)
    text = "数式" * 100_000
    entry = build_cache.key("entry")
    renames = []
    replace = os.replace

    def checked_replace(source, target) -> None:
        assert cache.read(entry) is None  # not visible before the rename
        assert Path(source).read_text(encoding="utf-8") == text  # the whole text, already written
        assert Path(source).parent == Path(target).parent  # same folder, so the rename is atomic
        renames.append(target)
        replace(source, target)

    monkeypatch.setattr(build_cache.os, "replace", checked_replace)
    cache.write(entry, text)
    assert len(renames) == 1
    assert cache.read(entry) == text
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [entry]  # no temporary file left


def test_only_notebooks_are_read_as_notebooks(tmp_path: Path):
    """hooks/notebooks.py looks at mkdocs-jupyter's include patterns before the plugin reads a file."""
    import mkdocs_jupyter.plugin
    from mkdocs.structure.files import File

    plugin_class = mkdocs_jupyter.plugin.Plugin
    original = getattr(plugin_class.should_include, "__wrapped__", plugin_class.should_include)
    patterns_first = notebooks._include_first(original)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text("# Page\n", encoding="utf-8")
    # A notebook written in Markdown, as jupytext reads it.
    (docs / "script.md").write_text(
        "---\njupyter:\n  kernelspec:\n    display_name: Python 3\n    language: python\n"
        "    name: python3\n---\n\n# Script\n\n```python\nx = 1\n```\n",
        encoding="utf-8",
    )
    shutil.copyfile(FIXTURES / "notebook.ipynb", docs / "notebook.ipynb")
    seen = []
    for include in (["*.ipynb"], ["*.ipynb", "*.md"], ["*.md"]):
        plugin = plugin_class()
        plugin.load_config({"include": include})
        for name in ("page.md", "script.md", "notebook.ipynb"):
            file = File(name, str(docs), str(tmp_path / "site"), use_directory_urls=True)
            answer = patterns_first(plugin, file)
            assert answer == original(plugin, file), (include, name)
            seen.append(answer)
    assert True in seen and False in seen
