"""Run the experiment under several CPU code paths of one machine, and record the spread.

    python tools/cpu_paths.py --out src/attention_notes/results/cpu_paths.json

Training results depend on the order of floating-point sums, which depends on
the vector kernels the CPU runs. One machine can imitate others: ATen (PyTorch's
own kernels) reads ``ATEN_CPU_CAPABILITY``, and MKL (matrix products) reads
``MKL_ENABLE_INSTRUCTIONS`` and ``MKL_CBWR``, when the process starts. Each path runs the full
published experiment (every seed) in a fresh interpreter; the differences from
the published run are what :data:`attention_notes.experiment.TOLERANCE` is
chosen from, and ``tests/test_experiment.py`` checks that they stay within it.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from attention_notes.lab.benchmark import machine_info

# name -> environment; "native" is what the machine runs when nothing is set.
PATHS = {
    "native": {},
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten-default-mkl-sse4_2": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    # MKL's conditional numerical reproducibility mode: its SSE2-compatible
    # kernels, the same on every x86 CPU (a third set of matrix products).
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
}
VARIABLES = {name for env in PATHS.values() for name in env}


def run_path(env: dict[str, str], seeds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        clean = {
            k: v for k, v in os.environ.items() if k not in {"ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS"}
        }
        subprocess.run(
            [sys.executable, "-m", "attention_notes.experiment", "--out", str(out), "--seeds", str(seeds)],
            env={**clean, **env},
            check=True,
        )
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=list(PATHS))
    args = parser.parse_args(argv)
    data = {"cpu": machine_info()["cpu"], "paths": {}}  # the CPU model, as the benchmark records it
    for name in args.paths:
        print(f"== {name} {PATHS[name]}", flush=True)
        result = run_path(PATHS[name], args.seeds)
        data["source"] = result["source"]  # the code every path trained (tests/test_results_fresh.py)
        data["paths"][name] = {
            "env": PATHS[name],
            "cpu_capability": result["cpu_capability"],
            "seconds": result["seconds"],
            "runs": result["runs"],
            "example_peaks": [max(range(len(r)), key=r.__getitem__) for r in result["example"]["weights"]],
            "example_correct": sum(
                p == t
                for p, t in zip(result["example"]["predicted"], result["example"]["target"], strict=True)
            ),
        }
        args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
