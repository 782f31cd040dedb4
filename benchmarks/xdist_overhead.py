"""Controller overhead of ``--dist pexen`` on a plain suite (issue: xdist).

2,000 trivial unmarked tests (default) at ``-n 2``: ``--dist pexen`` against
xdist's own ``--dist load`` on the same suite, alternating pairs, median
wall time and the ratio (goal: <= 1.2x).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_suite(root: Path, tests: int) -> None:
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    per_file = 100
    for f in range(0, tests, per_file):
        body = "\n".join(f"def test_{i}(): pass" for i in range(f, min(tests, f + per_file)))
        (root / f"test_{f // per_file:03d}.py").write_text(body + "\n")


def run(root: Path, dist: str, workers: int) -> float:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "pexen",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "-n",
        str(workers),
        "--dist",
        dist,
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "suite")
        write_suite(root, args.tests)
        run(root, "load", args.workers)  # warm caches
        load, pexen = [], []
        for _ in range(args.pairs):
            load.append(run(root, "load", args.workers))
            pexen.append(run(root, "pexen", args.workers))
    lo, pe = statistics.median(load), statistics.median(pexen)
    print(f"{args.tests} trivial tests, -n {args.workers}, median of {args.pairs} pairs")
    print(f"  --dist load (anchor): {lo:.3f} s")
    print(f"  --dist pexen:         {pe:.3f} s  ratio {pe / lo:.3f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
