"""Controller overhead of ``--dist pexen`` on a plain suite (issue: xdist).

2,000 trivial unmarked tests (default) at ``-n 2``: ``--dist pexen`` against
xdist's own ``--dist load`` on the same suite, alternating pairs, median
wall time and the ratio (goal: <= 1.2x).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import _bench


def write_suite(root: Path, tests: int) -> None:
    root.mkdir()
    (root / "pytest.ini").write_text("[pytest]\n")
    per_file = 100
    for f in range(0, tests, per_file):
        body = "\n".join(f"def test_{i}(): pass" for i in range(f, min(tests, f + per_file)))
        (root / f"test_{f // per_file:03d}.py").write_text(body + "\n")


def run(root: Path, dist: str, workers: int) -> float:
    return _bench.pytest(root, "-p", "pexen", "-n", str(workers), "--dist", dist).wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "suite")
        write_suite(root, args.tests)
        times = _bench.rounds(
            {
                "load": lambda: run(root, "load", args.workers),
                "pexen": lambda: run(root, "pexen", args.workers),
            },
            args.pairs,
        )
    lo, pe = _bench.median(times["load"]), _bench.median(times["pexen"])
    print(f"{args.tests} trivial tests, -n {args.workers}, median of {args.pairs} pairs")
    print(f"  --dist load (anchor): {_bench.spread(times['load'])}")
    pexen = _bench.spread(times["pexen"])
    print(f"  --dist pexen:         {pexen}  ratio {pe / lo:.3f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
