"""The fork server behaves like a fresh ``python -c``, which the copy-and-run test relies on."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fresh_python import ForkServer

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("tests/fresh_python.py")

SEEDED = "import torch\ntorch.manual_seed(123)\nprint(torch.rand(3))\nprint(__name__)\n"
UNSEEDED = (
    "import random\nimport numpy\nimport torch\nprint(torch.rand(3), random.random(), numpy.random.rand())\n"
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with ForkServer(tmp_path_factory.mktemp("fork")) as run:
        yield run


def test_prints_what_a_fresh_interpreter_prints(run, tmp_path: Path):
    fresh = subprocess.run([sys.executable, "-c", SEEDED], capture_output=True, text=True, cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    assert run(SEEDED) == (0, fresh.stdout, "")


def test_unseeded_random_numbers_differ_every_run_as_in_a_fresh_interpreter(run):
    # So a block that forgets its seed fails the comparison with the page.
    first, second = run(UNSEEDED), run(UNSEEDED)
    assert first[0] == second[0] == 0
    assert first[1] != second[1]


def test_each_block_starts_with_nothing_defined(run):
    assert run("x = 1\nprint(x)")[:2] == (0, "1\n")
    rc, out, err = run("print(x)")
    assert rc == 1 and out == ""
    assert "NameError: name 'x' is not defined" in err
    # torch is loaded in the server, but a block still has to import it.
    rc, _, err = run("print(torch.zeros(1))")
    assert rc == 1 and "NameError: name 'torch' is not defined" in err


def test_failures_and_exit_codes_are_reported(run):
    rc, out, err = run("print('before')\nraise ValueError('boom')")
    assert (rc, out) == (1, "before\n")
    assert err.rstrip().endswith("ValueError: boom")
    assert run("import sys\nsys.exit(3)")[0] == 3
    assert run("import torch\ntorch.manual_seed(0)\nprint(torch.initial_seed())") == (0, "0\n", "")
    assert run("import torch\nprint(torch.initial_seed())")[1] != "0\n"  # the seed did not leak back
    assert run("import torch\ntorch.set_printoptions(precision=1)")[0] == 0
    assert run("import torch\nprint(torch.tensor([0.12345]))")[1] == "tensor([0.1235])\n"


def test_the_cpu_code_path_can_be_chosen(tmp_path: Path):
    """What tests/test_cpu_paths.py relies on: ATEN_CPU_CAPABILITY reaches the server's torch."""
    import os

    chosen = ForkServer(tmp_path, env={**os.environ, "ATEN_CPU_CAPABILITY": "default"})
    with chosen as run:
        assert run("import torch\nprint(torch.backends.cpu.get_cpu_capability())")[:2] == (0, "DEFAULT\n")
    assert chosen.cpu_capability == "DEFAULT"
