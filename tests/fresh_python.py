"""Run code as if pasted into a fresh Python, without paying torch's import each time.

A reader pastes a block into a new interpreter. Starting one per block costs
about two seconds of CPU, nearly all of it ``import torch``; with fifty blocks
that was the slowest part of the test suite. :class:`ForkServer` starts one
interpreter, imports torch there (and nothing else: no package of ours, no
seed, no print options), and forks a child per block. Each child gets a new
``__main__`` module, its own stdout and stderr files and /dev/null as stdin,
and runs the block with :func:`exec`, as ``python -c`` would.

What the child shares with a fresh interpreter: its random generators (torch,
``random`` and NumPy's) are seeded afresh from the operating system, as a new
interpreter seeds them, so a block that prints random numbers without setting
a seed prints different numbers on every run; and every name must be imported
by the block itself. What it does not: ``torch`` is already in
``sys.modules``, so ``import torch`` is instant; only a block that inspects
``sys.modules`` could tell. tests/test_fresh_python.py checks all of this
against a real fresh interpreter.
"""

import json
import subprocess
import sys
from pathlib import Path

_SERVER = r"""
import json, os, random, sys, traceback, types
import torch

# The first line tells the parent which ATen CPU code path this interpreter runs.
print(json.dumps({"cpu_capability": torch.backends.cpu.get_cpu_capability()}), flush=True)
for line in sys.stdin:
    job = json.loads(line)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            for fd, name, mode in ((0, os.devnull, os.O_RDONLY), (1, job["out"], os.O_WRONLY | os.O_CREAT),
                                   (2, job["err"], os.O_WRONLY | os.O_CREAT)):
                os.dup2(os.open(name, mode, 0o644), fd)
            sys.stdin = open(0, encoding="utf-8", closefd=False)
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
            # A new interpreter seeds its generators from the OS; so does the child.
            torch.seed()
            random.seed()
            if "numpy" in sys.modules:
                sys.modules["numpy"].random.seed()
            main = types.ModuleType("__main__")
            sys.modules["__main__"] = main
            sys.argv = ["-c"]
            exec(compile(job["code"], "<string>", "exec"), main.__dict__)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class ForkServer:
    """``with ForkServer(cwd) as run: rc, out, err = run(code)``

    ``env``: the server's environment (default: this process's). With
    ``ATEN_CPU_CAPABILITY`` in it, every block runs on that ATen CPU code path;
    ``cpu_capability`` says which path the server's torch actually chose.
    """

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.cwd = Path(cwd)
        self.env = env
        self.count = 0
        self.cpu_capability: str | None = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            text=True,
            encoding="utf-8",
        )
        hello = self.proc.stdout.readline()
        if not hello:
            raise RuntimeError(f"the fork server did not start (exit code {self.proc.wait()})")
        self.cpu_capability = json.loads(hello)["cpu_capability"]
        return self.run

    def run(self, code: str) -> tuple[int, str, str]:
        self.count += 1
        out, err = self.cwd / f"block-{self.count}.out", self.cwd / f"block-{self.count}.err"
        job = {"code": code, "out": str(out), "err": str(err)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError(f"the fork server stopped (exit code {self.proc.wait()})")
        rc = json.loads(reply)["rc"]
        return rc, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
