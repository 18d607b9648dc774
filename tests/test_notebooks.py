"""The experiment notebook runs, and its committed outputs are what it prints.

The site renders notebooks without running them (a build must stay fast), so
this is where they run: the Japanese notebook is executed in a fresh kernel and
every output is compared with the committed one. The English notebook has the
same code (checked below), so its text outputs must equal the same run's, and
its figures are redrawn in English from the same results.

An execution is cached (jupyter-cache, tools/execute_notebooks.py) under a key
that holds everything that decides its outputs: the code cells, the package's
source, the dependencies, torch's version, the CPU and its ATen code path. A
warm run whose key is unchanged compares the cached execution; a fresh clone
and CI always execute. With CPU_PATHS set (CI), the notebook is also executed
on each of those code paths.

Cells tagged ``machine-dependent`` show the results of training, which depend
on the CPU's vector kernels (attention_notes.experiment says why). Their
outputs are compared with a measured tolerance: the same text, every decimal
number within ``TOLERANCE``, images of the same size and alt text. Every other
output, including the notebook's own check that the run lies within the
tolerance and that the page's claims hold, must be identical on every machine.
"""

import base64
import copy
import io
import re
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from attention_notes.experiment import TOLERANCE
from tests.conftest import KNOWN_CPU_PATHS
from tests.markdown import english_of, ja_notebooks
from tools import execute_notebooks
from tools.execute_notebooks import executed, execution_key

NOTEBOOKS = ja_notebooks()
IDS = [p.stem for p in NOTEBOOKS]
LANG_LINE = re.compile(r'^LANG = "(ja|en)"$', re.M)
MACHINE_DEPENDENT = "machine-dependent"
DECIMAL = re.compile(r"-?\d+\.\d+")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
IMG = re.compile(r'^<img src="data:image/png;base64,(?P<png>[A-Za-z0-9+/=]+)" alt="(?P<alt>[^"]*)"')


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _code(nb) -> list[str]:
    return [LANG_LINE.sub('LANG = "<lang>"', c.source) for c in nb.cells if c.cell_type == "code"]


def _tagged(nb) -> list[bool]:
    """For each code cell: is it tagged machine-dependent?"""
    return [MACHINE_DEPENDENT in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"]


def _image_size_and_alt(html: str) -> tuple[tuple[int, int], str]:
    m = IMG.match(html)
    assert m, f"not an embedded PNG: {html[:80]}"
    return Image.open(io.BytesIO(base64.b64decode(m["png"]))).size, m["alt"]


def assert_close_outputs(fresh: list[dict], committed: list[dict]) -> None:
    """A machine-dependent cell: same text but for decimals within TOLERANCE; images alike in size."""
    assert len(fresh) == len(committed)
    for f, c in zip(fresh, committed, strict=True):
        assert f.keys() == c.keys()
        if "stream" in f:
            assert f["stream"] == c["stream"]
            # Integers (token ids the model predicted, counts) are not compared:
            # only that the text around the numbers is the same.
            assert NUMBER.sub("#", f["text"]) == NUMBER.sub("#", c["text"]), (f["text"], c["text"])
            got = [float(x) for x in DECIMAL.findall(f["text"])]
            want = [float(x) for x in DECIMAL.findall(c["text"])]
            assert len(got) == len(want)
            far = [(g, w) for g, w in zip(got, want, strict=True) if abs(g - w) > TOLERANCE]
            assert not far, f"beyond the tolerance {TOLERANCE}: {far}\n{f['text']}"
        elif "data" in f:
            assert f["data"].keys() == c["data"].keys()
            assert _image_size_and_alt(f["data"]["text/html"]) == _image_size_and_alt(c["data"]["text/html"])
        else:
            assert f == c


def _outputs(nb) -> list[list[dict]]:
    """Outputs of each code cell, without volatile fields (execution counts)."""
    cells = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        outs = []
        for o in c.outputs:
            if o.output_type == "stream":
                outs.append({"stream": o.name, "text": o.text})
            elif o.output_type in {"execute_result", "display_data"}:
                outs.append({"data": dict(o.data)})
            else:
                outs.append({"other": o.output_type, "content": dict(o)})
        cells.append(outs)
    return cells


def _headings(nb) -> list[tuple[int, str]]:
    found = []
    for c in nb.cells:
        if c.cell_type == "markdown":
            for m in re.finditer(r"^(#{1,6})\s+.*?\{#([A-Za-z0-9_-]+)\}\s*$", c.source, re.M):
                found.append((len(m.group(1)), m.group(2)))
    return found


@pytest.mark.parametrize("ja", NOTEBOOKS, ids=IDS)
def test_both_languages_have_the_same_code_and_anchors(ja: Path):
    ja_nb, en_nb = _read(ja), _read(english_of(ja))
    assert _code(ja_nb) == _code(en_nb)
    assert LANG_LINE.search("\n".join(c.source for c in ja_nb.cells)).group(1) == "ja"
    assert LANG_LINE.search("\n".join(c.source for c in en_nb.cells)).group(1) == "en"
    assert _headings(ja_nb) == _headings(en_nb)
    md_headings = [
        line
        for c in ja_nb.cells + en_nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("#")
    ]
    assert all(re.search(r"\{#[A-Za-z0-9_-]+\}$", h) for h in md_headings), md_headings


@pytest.mark.parametrize("ja", NOTEBOOKS, ids=IDS)
def test_notebooks_are_committed_with_outputs_and_no_errors(ja: Path):
    for path in (ja, english_of(ja)):
        nb = _read(path)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.outputs for c in code), f"{path.name}: a code cell has no output"
        assert not any(o.output_type == "error" for c in code for o in c.outputs)


# The machine's own CPU code path, then the others that CPU_PATHS asks for (tests/conftest.py).
CPU_PATH_PARAMS = [None, *(pytest.param(p, marks=pytest.mark.cpu_path) for p in KNOWN_CPU_PATHS)]


@pytest.mark.machine_dependent
@pytest.mark.parametrize("cpu_path", CPU_PATH_PARAMS, ids=lambda p: p or "native")
@pytest.mark.parametrize("ja", NOTEBOOKS, ids=IDS)
def test_executing_reproduces_the_committed_outputs(ja: Path, cpu_path: str | None):
    """Executed in a fresh kernel, or taken from jupyter-cache when nothing that decides the
    result has changed (tools/execute_notebooks.py; never on CI or a fresh clone)."""
    run, _ = executed(ja, cpu_path)
    committed_nb = _read(ja)
    fresh, committed = _outputs(run), _outputs(committed_nb)
    tagged = _tagged(committed_nb)
    assert len(fresh) == len(committed) == len(tagged)
    for i, (f, c, machine_dependent) in enumerate(zip(fresh, committed, tagged, strict=True)):
        if machine_dependent:
            assert_close_outputs(f, c)
        else:
            assert f == c, f"code cell {i} is not tagged {MACHINE_DEPENDENT!r}, so it must be exact"

    # English: the same text outputs as the Japanese; figures drawn with English labels.
    en = _outputs(_read(english_of(ja)))
    assert len(en) == len(committed)
    for committed_cell, en_cell in zip(committed, en, strict=True):
        if any("data" in o and "text/html" in o["data"] for o in committed_cell):
            assert len(en_cell) == len(committed_cell)
            continue
        assert en_cell == committed_cell


@pytest.mark.parametrize("ja", NOTEBOOKS, ids=IDS)
def test_only_cells_that_train_are_tagged_machine_dependent(ja: Path):
    """The tag loosens the comparison, so it goes only where a cell shows what training produced."""
    for path in (ja, english_of(ja)):
        nb = _read(path)
        code = [c for c in nb.cells if c.cell_type == "code"]
        tagged = [c.source for c, t in zip(code, _tagged(nb), strict=True) if t]
        assert tagged, f"{path.name}: no cell is tagged {MACHINE_DEPENDENT!r}"
        for source in tagged:
            assert re.search(r"\bresults\b|\bexample\b", source), (
                f"tagged, but shows no training result:\n{source}"
            )
        # Both languages tag the same cells.
    assert _tagged(_read(ja)) == _tagged(_read(english_of(ja)))


def test_machine_dependent_comparison_can_fail():
    table = "length  baseline\n     4     0.993\n"
    same = [{"stream": "stdout", "text": table}]
    assert_close_outputs([{"stream": "stdout", "text": table.replace("0.993", "0.900")}], same)
    for wrong in (table.replace("0.993", "0.700"), table.replace("baseline", "attention"), table + "x\n"):
        with pytest.raises(AssertionError):
            assert_close_outputs([{"stream": "stdout", "text": wrong}], same)


@pytest.mark.parametrize("ja", NOTEBOOKS, ids=IDS)
def test_japanese_notebook_uses_the_glossary_terms(ja: Path, tmp_path: Path):
    from tests.test_docs import _avoided_variants, _japanese_prose

    text = "\n\n".join(c.source for c in _read(ja).cells if c.cell_type == "markdown")
    page = tmp_path / "cells.md"
    page.write_text(text, encoding="utf-8")
    prose = _japanese_prose(page)
    found = {v: term for v, term in _avoided_variants().items() if v in prose}
    assert not found, f"{ja.name}: use the glossary's term instead: {found}"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_committed_figures_are_the_published_seed_0_run(lang: str):
    """The committed notebooks were run on the machine of the published results: their figures are
    that run's (seed 0), drawn again here in each language."""
    from attention_notes.experiment import load_results
    from attention_notes.lab.figures import embed

    name = "experiment.ipynb" if lang == "ja" else "experiment.en.ipynb"
    nb = _read(Path(__file__).resolve().parent.parent / "docs" / name)
    html = [
        o.data["text/html"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "execute_result" and "text/html" in o.data
    ]
    published = load_results()
    seed0 = {**published, **published["runs"][0]}
    del seed0["range"]  # one run: no band
    assert html == [embed(name, seed0, lang).data for name in ("accuracy", "alignment")]


def test_the_execution_key_follows_what_decides_the_outputs(tmp_path: Path, monkeypatch):
    """A cached execution is reused only while the package, the CPU path and the rest are unchanged."""
    import shutil

    native = execution_key(None)
    assert native == execution_key(None)
    assert len({native["cpu_capability"], execution_key("avx2")["cpu_capability"], "DEFAULT"}) >= 2
    assert execution_key("default")["cpu_capability"] == "DEFAULT"
    # The package's source: a copy, then one changed character in one module.
    copy = tmp_path / "attention_notes"
    shutil.copytree(execute_notebooks.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(execute_notebooks, "PACKAGE", copy)
    assert execution_key(None) == native
    module = copy / "seq2seq.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert execution_key(None)["package"] != native["package"]
    assert {k for k, v in execution_key(None).items() if v != native[k]} == {"package"}
    # A result file the notebook reads counts too.
    results = copy / "results" / "experiment.json"
    results.write_bytes(results.read_bytes() + b" ")
    assert execution_key(None)["package"] != native["package"]


def test_the_cache_hashes_the_key_with_the_code(tmp_path: Path):
    """jupyter-cache matches on the code cells, their tags and :data:`KEY`: a change to any is a miss."""
    nb = _read(NOTEBOOKS[0])
    cache = execute_notebooks._Cache(str(tmp_path / "cache"))
    nb.metadata[execute_notebooks.KEY] = {"package": "a"}
    _, base = cache.create_hashed_notebook(nb)
    other_key = copy.deepcopy(nb)
    other_key.metadata[execute_notebooks.KEY] = {"package": "b"}
    untagged = copy.deepcopy(nb)
    code = [c for c in untagged.cells if c.cell_type == "code"]
    code[0].metadata["tags"] = ["something-else"]
    edited = copy.deepcopy(nb)
    next(c for c in edited.cells if c.cell_type == "code").source += "\n"
    prose = copy.deepcopy(nb)
    next(c for c in prose.cells if c.cell_type == "markdown").source += " more prose"
    hashes = [cache.create_hashed_notebook(x)[1] for x in (other_key, untagged, edited)]
    assert base not in hashes and len(set(hashes)) == 3
    assert cache.create_hashed_notebook(prose)[1] == base  # prose is not executed
