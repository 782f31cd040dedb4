"""What the plugin costs a serial pytest run (issue: plugin core figures).

Generates two suites of trivial tests (default 3,000): one unmarked, one with
a random dependency DAG (about 1.2 requires per test, each naming an earlier
test by node id, spread over shuffled files). Runs, in alternating pairs:

* unmarked suite, ``-p no:pexen``  (the anchor)
* unmarked suite, ``-p pexen``     (goal: <= 1.05x the anchor)
* DAG suite, ``-p pexen``          (goal: <= 1.15x the anchor)
* DAG suite, ``-p no:pexen``       (what pytest itself spends on the markers)

and prints the median wall times and the ratios.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import _bench

PER_FILE = 100


def write_suite(root: Path, tests: int, dag: bool, seed: int) -> None:
    """Trivial tests over shuffled files; with ``dag``, each test requires
    (by node id: every test implicitly provides its own) about 1.2 earlier
    tests."""
    rnd = random.Random(seed)
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    nfiles = max(1, tests // PER_FILE)
    file_of = [rnd.randrange(nfiles) for _ in range(tests)]
    files: list[list[str]] = [[] for _ in range(nfiles)]
    for i in range(tests):
        lines = []
        if dag and i:
            n = rnd.choice((0, 1, 1, 1, 2, 2))  # mean ~1.17
            deps = sorted({rnd.randrange(max(0, i - 200), i) for _ in range(n)})
            if deps:
                names = ", ".join(f"'test_{file_of[d]:03d}.py::test_{d}'" for d in deps)
                lines.append(f"@pexen.requires({names})")
        lines.append(f"def test_{i}(): pass")
        files[file_of[i]].append("\n".join(lines))
    for n, body in enumerate(files):
        head = "import pytest_pexen as pexen\n\n" if dag else ""
        (root / f"test_{n:03d}.py").write_text(head + "\n\n".join(body) + "\n")


def run(root: Path, plugin: str) -> float:
    return _bench.pytest(
        root, "-p", plugin, "-W", "ignore::pytest.PytestUnknownMarkWarning", str(root)
    ).wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=3000)
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain, dag = Path(tmp, "plain"), Path(tmp, "dag")
        write_suite(plain, args.tests, dag=False, seed=args.seed)
        write_suite(dag, args.tests, dag=True, seed=args.seed)
        runs = _bench.rounds(
            {
                "anchor": lambda: run(plain, "no:pexen"),
                "plugin": lambda: run(plain, "pexen"),
                "dag": lambda: run(dag, "pexen"),
                "bare": lambda: run(dag, "no:pexen"),
            },
            args.pairs,
        )
    med = {k: _bench.median(v) for k, v in runs.items()}
    print(f"{args.tests} trivial tests, median of {args.pairs} alternating runs")
    print(f"  unmarked, -p no:pexen (anchor): {med['anchor']:.3f} s")
    print(
        f"  unmarked, -p pexen:             {med['plugin']:.3f} s  "
        f"ratio {med['plugin'] / med['anchor']:.3f} (goal <= 1.05)"
    )
    print(
        f"  random DAG, -p pexen:           {med['dag']:.3f} s  "
        f"ratio {med['dag'] / med['anchor']:.3f} (goal <= 1.15)"
    )
    print(
        f"  random DAG, -p no:pexen:        {med['bare']:.3f} s  "
        f"ratio {med['bare'] / med['anchor']:.3f} (the markers alone, pytest's own cost)"
    )


if __name__ == "__main__":
    main()
