"""Execute the docs' notebooks: in place (to update their committed outputs), or for the tests, cached.

    python tools/execute_notebooks.py docs/experiment.ipynb docs/experiment.en.ipynb

The tests execute the notebooks again and compare every output with the
committed one, so run this after changing the package or a notebook's code.

The tests' executions are cached with jupyter-cache (the Executable Books
project's notebook cache, which Jupyter Book and MyST-NB use), in
``.cache/jupyter-cache``. jupyter-cache matches an executed notebook by a hash
of its code cells (their source and tags) and of the notebook
metadata it is told to hash; :func:`execution_key` puts into that metadata
everything else that decides the result: the package's source and results
files, torch's and numpy's versions, the pinned dependencies, the CPU model and
the ATen CPU code path, the kernel's thread count and this file. Change any
of them and the notebook runs again. A fresh clone has no cache, and CI
(``CI`` set) never reads it: there, every notebook is executed.
"""

import hashlib
import os
import sys
from importlib.metadata import version
from pathlib import Path

import nbformat
from filelock import FileLock
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.cache.main import JupyterCacheBase
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "attention_notes"
CACHE = ROOT / ".cache" / "jupyter-cache"
KEY = "attention_notes_execution"  # the notebook metadata that jupyter-cache hashes with the code
# One thread in the kernel: the tests run on two workers, one per core, and a
# kernel with a thread per core fights the other worker for it. The printed
# results do not depend on it (the experiment's tensors are too small for torch
# to split the work; tests/test_notebooks.py compares them either way).
KERNEL_THREADS = "1"


def execute(
    path: Path, nb: nbformat.NotebookNode | None = None, env: dict[str, str] | None = None
) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` (or ``nb``, read from there) in a fresh kernel."""
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    resources = {"metadata": {"path": str(path.parent)}}  # run from the notebook's folder
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources=resources)
    client.execute(env=env if env is not None else dict(os.environ))
    return nb


def files_digest(base: Path, paths: list[Path]) -> str:
    """A hash of each file's name (relative to ``base``) and bytes."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        name, data = path.relative_to(base).as_posix().encode(), path.read_bytes()
        digest.update(len(name).to_bytes(8, "little") + name + len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def execution_key(cpu_path: str | None) -> dict[str, str]:
    """What decides a notebook's outputs besides its code: part of jupyter-cache's hash.

    ``cpu_path``: an ``ATEN_CPU_CAPABILITY`` value for the kernel, or None for
    the machine's own path (which a capability set in this environment overrides).
    """
    import torch

    from attention_notes.lab.benchmark import machine_info

    package = [p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return {
        "package": files_digest(PACKAGE, package),
        "dependencies": files_digest(ROOT, [ROOT / "constraints.txt", ROOT / "pyproject.toml"]),
        "executor": files_digest(ROOT, [Path(__file__).resolve()]),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": version("numpy"),
        "cpu": machine_info()["cpu"],
        "cpu_capability": cpu_path.upper() if cpu_path else torch.backends.cpu.get_cpu_capability(),
        "kernel_threads": KERNEL_THREADS,
    }


class _Cache(JupyterCacheBase):
    """jupyter-cache's cache, hashing :data:`KEY` as well as the kernel spec (its default).

    Of the cells' metadata only the tags are hashed (the tests read them): the
    rest is what execution itself writes (timings), which would make an
    executed notebook's hash differ from the one it was run from.
    """

    def create_hashed_notebook(self, nb, nb_metadata=("kernelspec", KEY), cell_metadata=("tags",)):
        return super().create_hashed_notebook(nb, nb_metadata, cell_metadata)


def executed(path: Path, cpu_path: str | None = None) -> tuple[nbformat.NotebookNode, bool]:
    """The notebook at ``path`` executed on ``cpu_path``, from the cache when nothing changed.

    Returns the executed notebook (code cells only when it comes from the
    cache) and whether it came from the cache.
    """
    nb = nbformat.read(path, as_version=4)
    nb.metadata[KEY] = execution_key(cpu_path)
    CACHE.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(CACHE) + ".lock")  # the test workers share one SQLite database
    if not os.environ.get("CI"):
        with lock:
            cache = _Cache(str(CACHE))
            try:
                record = cache.match_cache_notebook(nb)
            except KeyError:
                pass
            else:
                return cache.get_cache_bundle(record.pk).nb, True
    env = {**os.environ, "OMP_NUM_THREADS": KERNEL_THREADS}
    if cpu_path:
        env["ATEN_CPU_CAPABILITY"] = cpu_path
    fresh = execute(path, nb, env)
    with lock:
        _Cache(str(CACHE)).cache_notebook_bundle(CacheBundleIn(fresh, str(path)), overwrite=True)
    return fresh, False


if __name__ == "__main__":
    for name in sys.argv[1:]:
        path = Path(name)
        nb = execute(path)
        nbformat.write(nb, path)
        print("executed", path)
