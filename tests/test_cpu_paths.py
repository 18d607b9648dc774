"""Every snippet again, on another ATen CPU code path (CPU_PATHS=avx2,default; CI sets it).

A printed float can change with the order of a sum, and that order follows the
vector kernels the CPU runs (AVX-512, AVX2 or none). A reader's machine may run
other kernels than ours; ``ATEN_CPU_CAPABILITY`` makes one machine run them.
Each block of every Japanese page and of the README (the English pages carry
the same blocks: tests/test_docs.py) runs in a fresh interpreter forked from
one started on that path (tests/fresh_python.py), and prints exactly its
expected output, as pytest-codeblocks compares it on the native path.
The notebook's machine-dependent cells are run on the same paths by
tests/test_notebooks.py.
"""

import os
from pathlib import Path

import pytest
from pytest_codeblocks import extract_from_file

from tests.conftest import KNOWN_CPU_PATHS
from tests.fresh_python import ForkServer
from tests.markdown import README, ja_pages

CAPABILITY = {"avx2": "AVX2", "avx512": "AVX512", "default": "DEFAULT"}  # as torch reports it


def snippets() -> list[tuple[str, str, str]]:
    """(where, code, expected output) of every Python block that pytest-codeblocks runs."""
    found = []
    for path in [*ja_pages(), README]:
        for block in extract_from_file(path):
            if block.syntax == "python":
                found.append((f"{path.name}:{block.lineno}", block.code, block.expected_output))
    return found


@pytest.mark.machine_dependent
@pytest.mark.parametrize("cpu_path", [pytest.param(p, marks=pytest.mark.cpu_path) for p in KNOWN_CPU_PATHS])
def test_every_snippet_prints_its_output_on_another_cpu_path(cpu_path: str, tmp_path: Path):
    blocks = snippets()
    assert len(blocks) >= 60, "fewer snippets than the pages have: is extraction broken?"
    # One thread, as the test worker has: two workers share two cores, and a
    # thread per core would fight the other worker for it. (No printed output
    # depends on it: the snippets' tensors are too small for torch to split.)
    env = {**os.environ, "ATEN_CPU_CAPABILITY": cpu_path, "OMP_NUM_THREADS": "1"}
    server = ForkServer(tmp_path, env=env)
    failed = []
    with server as run:
        # The path asked for is the path taken: an ignored variable would test nothing.
        assert server.cpu_capability == CAPABILITY[cpu_path]
        for where, code, expected in blocks:
            rc, out, err = run(code)
            if rc != 0:
                failed.append(f"{where}: exit code {rc}\n{err}")
            elif out != expected:
                failed.append(f"{where}: printed\n{out}instead of\n{expected}")
    assert not failed, f"on ATEN_CPU_CAPABILITY={cpu_path}:\n\n" + "\n\n".join(failed)
