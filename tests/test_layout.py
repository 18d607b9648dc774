"""The package's layout: what a reader imports never needs the lab, and every module says what it holds.

The top level of ``attention_notes`` is what the pages import: one module per
concept, the helpers they share (``checks``, ``masks``, ``cli``) and what the
performance page reads (``performance``). The tooling that draws the figures
and runs the benchmarks lives in ``attention_notes.lab``, which needs
matplotlib, a dependency of the docs only: a reader who installs the package
and runs a snippet must never import it.
"""

import ast
import importlib
import importlib.util
import json
import pkgutil
from pathlib import Path

import pytest

import attention_notes
from tests.fresh_python import ForkServer

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes", "tests/fresh_python.py")

PACKAGE = Path(attention_notes.__file__).resolve().parent
LAB = "attention_notes.lab"
# Every top-level module or sub-package but the lab, and the package itself: what readers import.
READER_MODULES = [
    "attention_notes",
    *sorted(f"attention_notes.{m.name}" for m in pkgutil.iter_modules([str(PACKAGE)]) if m.name != "lab"),
]
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree: ast.Module) -> list[str]:
    """Every module an import statement of ``tree`` names, anywhere in it (also inside functions)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _is_lab(name: str) -> bool:
    return name == LAB or name.startswith(LAB + ".")


def test_the_lab_and_the_reader_modules_are_where_the_layout_says():
    assert (PACKAGE / "lab" / "__init__.py").exists()
    assert {"attention_notes.checks", "attention_notes.masks", "attention_notes.performance"} <= set(
        READER_MODULES
    )
    assert not any(_is_lab(name) for name in READER_MODULES)


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory):
    with ForkServer(tmp_path_factory.mktemp("layout")) as run:
        yield run


@pytest.mark.parametrize("module", READER_MODULES)
def test_a_reader_module_does_not_import_the_lab(module: str, fresh_python):
    """Imported alone in a fresh interpreter, the module loads neither the lab nor matplotlib."""
    rc, out, err = fresh_python(
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'\n"
        f"                      or m == {LAB!r} or m.startswith({LAB + '.'!r}))))\n"
    )
    assert rc == 0, err
    loaded = json.loads(out)
    assert not loaded, (
        f"importing {module} loads {', '.join(loaded[:5])}: a module readers import must not "
        f"depend on {LAB} (the tooling), directly or through another module"
    )


@pytest.mark.parametrize("module", READER_MODULES)
def test_a_reader_module_names_the_lab_nowhere_in_its_imports(module: str):
    """Also not inside a function, where importing the module alone would not show it."""
    spec = importlib.util.find_spec(module)
    paths = [Path(spec.origin)]
    if spec.submodule_search_locations and module != "attention_notes":  # a sub-package: all its modules
        paths = sorted(Path(spec.origin).parent.rglob("*.py"))
    for path in paths:
        # _imported names `from attention_notes import lab` as attention_notes.lab too.
        lab = [name for name in _imported(_tree(path)) if _is_lab(name)]
        assert not lab, f"{path.relative_to(PACKAGE.parent)} imports {lab}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_every_module_starts_with_a_one_line_summary(path: Path):
    docstring = ast.get_docstring(_tree(path), clean=True)
    assert docstring, f"{_name(path)} has no docstring: say in one line what lives there"
    lines = docstring.splitlines()
    assert lines[0].strip() and lines[0].rstrip().endswith("."), f"{_name(path)}: {lines[0]!r}"
    assert len(lines) == 1 or not lines[1].strip(), f"{_name(path)}: the summary must fit on one line"


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if p.name != "__main__.py"],  # a script, not a module to import from
    ids=lambda p: str(p.relative_to(PACKAGE.parent)),
)
def test_every_module_declares_what_it_exports(path: Path):
    declared = [
        node
        for node in _tree(path).body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and "__all__" in [t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])]
    ]
    assert declared, f"{_name(path)} has no __all__"
    module = importlib.import_module(_name(path))
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{_name(path)}.__all__ names what it does not define: {missing}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_module_reaches_into_another_modules_private_names(path: Path):
    """Shared helpers have public homes (checks, masks, cli); ``_name`` stays inside its module."""
    private = [
        name
        for name in _imported(_tree(path))
        if name.startswith("attention_notes.")
        and any(part.startswith("_") and part not in ("__init__", "__main__") for part in name.split("."))
    ]
    assert not private, f"{_name(path)} imports private names: {private}"
