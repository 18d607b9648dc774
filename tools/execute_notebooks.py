"""Execute the docs' notebooks in place, so their committed outputs are current.

    python tools/execute_notebooks.py docs/experiment.ipynb docs/experiment.en.ipynb

The tests execute the notebooks again and compare every output with the
committed one, so run this after changing the package or a notebook's code.
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in a fresh kernel; return the result."""
    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}  # run from the notebook's folder
    NotebookClient(nb, timeout=600, kernel_name="python3", resources=resources).execute()
    return nb


if __name__ == "__main__":
    for name in sys.argv[1:]:
        path = Path(name)
        nb = execute(path)
        nbformat.write(nb, path)
        print("executed", path)
