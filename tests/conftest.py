"""Shared test set-up.

pytest-codeblocks runs every ```python block of the docs with ``exec`` in this
process, each with fresh globals. Fresh globals catch a block that leans on a
name from an earlier block; the hook below catches the other way a block can
depend on what ran before it: torch's global state. Before each block the
random generator is set to a seed no page uses and the print options are reset,
so a block that prints random numbers without calling ``torch.manual_seed``
itself, or relies on print options set elsewhere, prints something else than
its expected output and fails, just as it would for a reader pasting it into a
fresh interpreter.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

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
    if type(item).__name__ == "TestBlock":  # a pytest-codeblocks item
        torch.manual_seed(_UNUSED_SEED)
        torch.set_printoptions(profile="default")
        torch.set_default_dtype(torch.float32)
        torch.set_grad_enabled(True)


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


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once per test session."""
    return build_site(tmp_path_factory.mktemp("site"))
