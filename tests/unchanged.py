"""A warm run skips a test whose every input is unchanged since the test last passed.

A test's inputs are files: the code it checks, the pages or built files it
reads, and its own code. Two kinds of test name theirs:

- a module of package tests marks itself ``pytest.mark.inputs("src/attention_notes", ...)``:
  its inputs are those paths (files, or every file below a folder), its own
  source, the shared test code (tests/conftest.py, tests/strategies.py, this
  file), the pins (pyproject.toml, constraints.txt, so a new torch runs
  everything again), the Python version and CPU, and the environment's
  ``HYPOTHESIS_PROFILE`` and ``ATEN_CPU_CAPABILITY``;
- a browser check calls tests/browser/green.py, which adds the built files it
  loads, the site's assets and the browser's version.

When the test passes, the hash of its id and inputs is recorded in
``.cache/green/``; the next run with the same hash skips it, saying so. A fresh
clone has no records and CI (``CI`` set) reads none: there, every test runs.
"""

import functools
import hashlib
import os
import platform
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GREEN = ROOT / ".cache" / "green"
KEY = pytest.StashKey[str]()
REASON = "unchanged since it last passed (.cache/green; CI and a fresh clone always run it)"
SHARED = [
    ROOT / "tests" / "conftest.py",
    ROOT / "tests" / "strategies.py",
    ROOT / "tests" / "unchanged.py",
    ROOT / "pyproject.toml",
    ROOT / "constraints.txt",
]


def digest(*parts: bytes) -> str:
    """SHA-256 of ``parts``, each framed by its length (no two lists of parts run together)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little") + part)
    return h.hexdigest()


def _name(path: Path, root: Path) -> str:
    return (path.relative_to(root) if path.is_relative_to(root) else path.relative_to(ROOT)).as_posix()


def files(paths: Iterable[Path], root: Path = ROOT) -> bytes:
    """Each file's name (within ``root``, else within the repository) and a hash of its bytes."""
    return b"".join(_name(p, root).encode() + b"\0" + digest(p.read_bytes()).encode() for p in sorted(paths))


@functools.cache
def tree_digest(path: Path) -> str:
    """A file, or every file below a folder (but Python's bytecode caches)."""
    found = (
        [path]
        if path.is_file()
        else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    )
    return digest(files(found))


def skip_if_green(item: pytest.Item, key: str) -> None:
    """Skip ``item`` if it passed before under ``key`` (never on CI); else remember the key."""
    if not os.environ.get("CI") and (GREEN / key).exists():
        pytest.skip(REASON)
    item.stash[KEY] = key


# Settings in the environment that change what a test does or finds: hypothesis's
# profile (how many examples), the ATen code path (which vector kernels).
ENVIRONMENT = ("HYPOTHESIS_PROFILE", "ATEN_CPU_CAPABILITY")


@functools.cache
def _machine() -> bytes:
    from attention_notes.lab.benchmark import machine_info

    return f"{platform.python_version()} {machine_info()['cpu']}".encode()


def inputs_key(item: pytest.Item, paths: Iterable[Path]) -> str:
    """The key of a test marked ``inputs``: its id, its module, ``paths``, :data:`SHARED`, the
    Python version and CPU, and the settings of :data:`ENVIRONMENT`."""
    every = sorted({Path(item.path), *SHARED, *paths})
    settings = repr([os.environ.get(name) for name in ENVIRONMENT]).encode()
    return digest(item.nodeid.encode(), _machine(), settings, *(tree_digest(p).encode() for p in every))


def record(item: pytest.Item, report: pytest.TestReport) -> None:
    """After a test's call passed: remember its key."""
    if report.when == "call" and report.passed and KEY in item.stash:
        GREEN.mkdir(parents=True, exist_ok=True)
        (GREEN / item.stash[KEY]).touch()
