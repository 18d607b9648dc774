"""Shared test set-up.

pytest-codeblocks runs every ```python block of the docs with ``exec`` in this
process, each with fresh globals. It runs the Japanese pages' blocks and the
README's: an English page's code and outputs are the Japanese page's, which
tests/test_docs.py proves, so running them again would prove nothing new
(``--ignore-glob`` in pyproject.toml). Fresh globals catch a block that leans on a
name from an earlier block; the hook below catches the other way a block can
depend on what ran before it: torch's global state. Before each block the
random generator is set to a seed no page uses and the print options are reset,
so a block that prints random numbers without calling ``torch.manual_seed``
itself, or relies on print options set elsewhere, prints something else than
its expected output and fails, just as it would for a reader pasting it into a
fresh interpreter.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from filelock import FileLock
from hypothesis import settings

from tests import unchanged

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile("default", deadline=None, max_examples=60, derandomize=True)
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

_UNUSED_SEED = 987_654_321

# pytest runs on two workers (`-n 2`), one per core of the machines this
# project is built on. With torch's default of one intra-op thread per core,
# each worker's OpenMP threads spin on the core the other worker is using:
# a 0.6 s training test took 12 s that way. One thread per worker keeps each
# on its own core. (Thread count does not change any printed output: the
# tensors in the docs are far too small for torch to split the work.)
torch.set_num_threads(1)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # A module marked `inputs` is skipped while none of its inputs changed since it passed.
    marker = item.get_closest_marker("inputs")
    if marker is not None:
        unchanged.skip_if_green(item, unchanged.inputs_key(item, [ROOT / path for path in marker.args]))
    if type(item).__name__ == "TestBlock":  # a pytest-codeblocks item
        torch.manual_seed(_UNUSED_SEED)
        torch.set_printoptions(profile="default")
        torch.set_default_dtype(torch.float32)
        torch.set_grad_enabled(True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    unchanged.record(item, report)  # a test that passed under a key of its inputs (tests/unchanged.py)
    return report


def build_site(out: Path, offline: bool = False) -> Path:
    """`mkdocs build --strict` into ``out``; any warning fails the build."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "OFFLINE": "true" if offline else "false"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr}"
    assert "WARNING" not in done.stderr, done.stderr
    return out


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build) -> Path:
    """``build(folder)`` run once per test run, however many xdist workers ask for it.

    Every worker has its own session, so a session fixture alone would build
    once per worker. The first worker to get here builds into a folder that
    all workers of this run share (the parent of their temporary folders);
    the others wait on the lock, then use it. A build that failed leaves no
    ``.done`` mark, so the next worker tries again and fails the same way.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # basetemp is <this run's folder>/popen-gw<N>
        shared = shared.parent
    out, done = shared / name, shared / f"{name}.done"
    with FileLock(shared / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)
            build(out)
            done.touch()
    return out


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once per test run (`mkdocs build --strict`)."""
    return built_once(tmp_path_factory, "site", build_site)


def _offline_bundle(out: Path) -> None:
    """`make offline`'s zip, built and unpacked into ``out``."""
    from tools.zip_site import zip_site

    built = build_site(out.with_name(out.name + "-build"), offline=True)
    archive = zip_site(built, out.with_name(out.name + ".zip"))
    with zipfile.ZipFile(archive) as z:
        z.extractall(out)


@pytest.fixture(scope="session")
def offline(tmp_path_factory) -> Path:
    """The offline bundle, built and unpacked once per test run (all workers)."""
    return built_once(tmp_path_factory, "offline", _offline_bundle)


# The tests that take longest, longest first. pytest-xdist's "worksteal"
# scheduler (pyproject.toml) hands each of the N workers an equal, contiguous
# share of the collection and lets a worker that runs dry steal from the tail
# of another's share; so the long tests go to the heads of the shares, one
# per worker in turn. Left where collection puts them, the two longest once
# landed on one worker, which then ran for 80 s after the other had finished.
LONG = (
    # Trains both models (35 to 50 s a run); with CPU_PATHS, once per CPU code path.
    "test_executing_reproduces_the_committed_outputs",
    "test_every_snippet_prints_its_output_on_another_cpu_path",  # every snippet, forked: 10 to 20 s
    "test_reference_equalities_hold_on_another_cpu_path",  # ten test modules again: 10 to 25 s
    "test_offline_bundle_works_from_file_urls",  # builds the offline site
    "test_copied_blocks_run_and_print_what_the_page_shows",  # a page copied and run
)


def _long_rank(item: pytest.Item) -> int | None:
    return next((i for i, name in enumerate(LONG) if item.name.startswith(name)), None)


# Other ATen CPU code paths, as in CPU_PATHS=avx2,default (CI sets it; see
# `make test-cpu-paths`): the tests marked ``cpu_path`` run every snippet and
# the notebook again under each, in child processes started with
# ATEN_CPU_CAPABILITY set, so that a tolerance that is too tight fails here
# rather than on a reader's machine. Without CPU_PATHS they are deselected.
KNOWN_CPU_PATHS = ("avx2", "default")


def cpu_paths_asked() -> tuple[str, ...]:
    return tuple(p.strip() for p in os.environ.get("CPU_PATHS", "").split(",") if p.strip())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "machine_dependent: the result depends on the CPU's vector kernels; the cpu_path tests "
        "(`make test-cpu-paths`, CPU_PATHS in CI) run these again under other ATEN_CPU_CAPABILITY values",
    )
    config.addinivalue_line(
        "markers", "cpu_path: runs under another ATen CPU code path, only when CPU_PATHS names it"
    )
    config.addinivalue_line(
        "markers",
        "inputs(*paths): the files (or folders) besides its own module that decide the test; a warm "
        "run skips it while they are unchanged since it passed (tests/unchanged.py)",
    )
    unknown = [p for p in cpu_paths_asked() if p not in KNOWN_CPU_PATHS]
    if unknown:
        raise pytest.UsageError(f"CPU_PATHS: unknown {unknown}; known: {', '.join(KNOWN_CPU_PATHS)}")
    page = os.environ.get("PAGE")
    if page and not any((ROOT / "docs" / f"{page}{ext}").exists() for ext in (".md", ".ipynb")):
        names = sorted({p.name.split(".")[0] for p in (ROOT / "docs").glob("*.*") if p.is_file()})
        raise pytest.UsageError(
            f"PAGE={page}: no docs/{page}.md or docs/{page}.ipynb; pages: {', '.join(names)}"
        )


def about_page(item: pytest.Item, page: str) -> bool:
    """Whether ``item`` checks the page ``page`` (a name such as ``causal-attention``; ``index`` is home).

    A snippet of its source; a test with a parameter that is its source file
    (either language), its name or its URL path (``causal-attention/``, or ``""``
    for the home page).
    """
    if type(item).__name__ == "TestBlock":
        return item.path.name == f"{page}.md"
    callspec = getattr(item, "callspec", None)
    for value in callspec.params.values() if callspec else ():
        if isinstance(value, Path) and value.name.split(".")[0] == page:
            return True
        if isinstance(value, str) and value in {page, f"{page}/"} | ({""} if page == "index" else set()):
            return True
    return False


def _cpu_path_of(item: pytest.Item) -> str | None:
    if item.get_closest_marker("cpu_path") is None:
        return None
    return item.callspec.params["cpu_path"]


# (file, line) of every block pytest-codeblocks collected, before any deselection:
# tests/test_docs.py checks it against the pages.
COLLECTED_BLOCKS = pytest.StashKey[set[tuple[Path, int]]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash[COLLECTED_BLOCKS] = {
        (Path(item.path), item.obj.lineno) for item in items if type(item).__name__ == "TestBlock"
    }
    # Every snippet prints floats, and a printed float can change with the
    # order of a sum (1. on one CPU path, 1.0000 on another).
    for item in items:
        if type(item).__name__ == "TestBlock":
            item.add_marker(pytest.mark.machine_dependent)
    asked, page = cpu_paths_asked(), os.environ.get("PAGE")
    keep, drop = [], []
    for item in items:
        cpu_path = _cpu_path_of(item)
        wanted = (cpu_path is None or cpu_path in asked) and (not page or about_page(item, page))
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    long = sorted((item for item in items if _long_rank(item) is not None), key=_long_rank)
    rest = [item for item in items if _long_rank(item) is None]
    # Collection happens in each worker, which knows how many workers there are.
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    for k, item in enumerate(long):  # worker w's share starts at index w * len(items) // workers
        rest.insert(k % workers * len(items) // workers + k // workers, item)
    items[:] = rest
