"""Every snippet again, on another ATen CPU code path (CPU_PATHS=avx2,default; CI sets it).

A printed float can change with the order of a sum, and that order follows the
vector kernels the CPU runs (AVX-512, AVX2 or none). A reader's machine may run
other kernels than ours; ``ATEN_CPU_CAPABILITY`` makes one machine run them.
Each block of every Japanese page and of the README (the English pages carry
the same blocks: tests/test_docs.py) runs in a fresh interpreter forked from
one started on that path (tests/fresh_python.py), and prints exactly its
expected output, as pytest-codeblocks compares it on the native path.
The notebook's machine-dependent cells are run on the same paths by
tests/test_notebooks.py. The modules' equalities with independent references
(SDPA, ``torch.logsumexp``, transformers, the book's package) are floating-point
comparisons with tolerances too: their test modules run again, whole, in a
pytest started on each path.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_codeblocks import extract_from_file

from tests.conftest import KNOWN_CPU_PATHS, ROOT
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


def on_path(cpu_path: str) -> dict[str, str]:
    """This process's environment, for a child that runs on ``cpu_path``.

    One thread, as the test worker has: two workers share two cores, and a
    thread per core would fight the other worker for it. (No printed output
    depends on it: the snippets' tensors are too small for torch to split.)
    """
    return {**os.environ, "ATEN_CPU_CAPABILITY": cpu_path, "OMP_NUM_THREADS": "1"}


@pytest.mark.machine_dependent
@pytest.mark.parametrize("cpu_path", [pytest.param(p, marks=pytest.mark.cpu_path) for p in KNOWN_CPU_PATHS])
def test_every_snippet_prints_its_output_on_another_cpu_path(cpu_path: str, tmp_path: Path):
    blocks = snippets()
    assert len(blocks) >= 60, "fewer snippets than the pages have: is extraction broken?"
    server = ForkServer(tmp_path, env=on_path(cpu_path))
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


# The test modules that compare the package with an independent implementation:
# part 1 (rotary embeddings, the KV cache, grouped queries, the decoder, against
# the book's package and transformers) and part 2 (tiled attention against SDPA
# and torch.logsumexp, the windowed module against SDPA with its mask, cached
# decoding against the full forward, MLA against DeepseekV3Attention).
REFERENCE_MODULES = [
    "tests/test_scaled_dot_product.py",
    "tests/test_rope.py",
    "tests/test_kv_cache.py",
    "tests/test_gqa.py",
    "tests/test_llama.py",
    "tests/test_references.py",
    "tests/test_tiled.py",
    "tests/test_sliding_window.py",
    "tests/test_sliding_window_gqa.py",
    "tests/test_mla.py",
]


@pytest.mark.machine_dependent
@pytest.mark.parametrize("cpu_path", [pytest.param(p, marks=pytest.mark.cpu_path) for p in KNOWN_CPU_PATHS])
def test_reference_equalities_hold_on_another_cpu_path(cpu_path: str):
    assert all((ROOT / m).is_file() for m in REFERENCE_MODULES), "a reference module was renamed"
    # CPU_PATHS emptied: the child runs no cpu_path test of its own. Its warm runs skip
    # what passed on this path before (ATEN_CPU_CAPABILITY is part of tests/unchanged.py's key).
    env = {**on_path(cpu_path), "CPU_PATHS": ""}
    env.pop("PAGE", None)
    # The process that runs the tests first checks that it took the path asked for:
    # an ignored variable would test nothing.
    script = (
        "import sys, torch, pytest; "
        f"assert torch.backends.cpu.get_cpu_capability() == {CAPABILITY[cpu_path]!r}, "
        "torch.backends.cpu.get_cpu_capability(); "
        "sys.exit(pytest.main(sys.argv[1:]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, "-q", "-n", "0", "-p", "no:cacheprovider", *REFERENCE_MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, (
        f"on ATEN_CPU_CAPABILITY={cpu_path}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    )
