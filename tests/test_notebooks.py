"""The experiment notebook runs, and its committed outputs are what it prints.

The site renders notebooks without running them (a build must stay fast), so
this is where they run: the Japanese notebook is executed in a fresh kernel and
every output is compared with the committed one. The English notebook has the
same code (checked below), so its text outputs must equal the same run's, and
its figures are redrawn in English from the same results.
"""

import re
from pathlib import Path

import nbformat
import pytest

from tests.markdown import english_of, ja_notebooks
from tools.execute_notebooks import execute

NOTEBOOKS = ja_notebooks()
IDS = [p.stem for p in NOTEBOOKS]
LANG_LINE = re.compile(r'^LANG = "(ja|en)"$', re.M)


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _code(nb) -> list[str]:
    return [LANG_LINE.sub('LANG = "<lang>"', c.source) for c in nb.cells if c.cell_type == "code"]


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


@pytest.fixture(scope="module")
def executed() -> dict[Path, nbformat.NotebookNode]:
    return {ja: execute(ja) for ja in NOTEBOOKS}


@pytest.mark.parametrize("ja", NOTEBOOKS, ids=IDS)
def test_executing_reproduces_the_committed_outputs(executed, ja: Path):
    fresh = _outputs(executed[ja])
    assert fresh == _outputs(_read(ja))

    # English: the same text outputs; figures drawn with English labels.
    en = _outputs(_read(english_of(ja)))
    assert len(en) == len(fresh)
    for fresh_cell, en_cell in zip(fresh, en, strict=True):
        if any("data" in o and "text/html" in o["data"] for o in fresh_cell):
            assert len(en_cell) == len(fresh_cell)
            continue
        assert en_cell == fresh_cell


@pytest.mark.parametrize("ja", NOTEBOOKS, ids=IDS)
def test_japanese_notebook_uses_the_glossary_terms(ja: Path, tmp_path: Path):
    from tests.test_docs import _avoided_variants, _japanese_prose

    text = "\n\n".join(c.source for c in _read(ja).cells if c.cell_type == "markdown")
    page = tmp_path / "cells.md"
    page.write_text(text, encoding="utf-8")
    prose = _japanese_prose(page)
    found = {v: term for v, term in _avoided_variants().items() if v in prose}
    assert not found, f"{ja.name}: use the glossary's term instead: {found}"


def test_english_figures_match_a_fresh_drawing():
    from attention_notes.experiment import load_results
    from attention_notes.figures import embed

    en = _read(Path(__file__).resolve().parent.parent / "docs" / "experiment.en.ipynb")
    html = [
        o.data["text/html"]
        for c in en.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "execute_result" and "text/html" in o.data
    ]
    results = load_results()
    assert html == [embed(name, results, "en").data for name in ("accuracy", "alignment")]
