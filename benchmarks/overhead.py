"""What the plugin costs a serial pytest run (issue: plugin core figures).

Generates two suites of trivial tests (default 3,000): one unmarked, one with
a random dependency DAG (about 1.2 requires per test, each naming an earlier
test by node id, spread over shuffled files). Runs, in alternating pairs:

* unmarked suite, ``-p no:pexen``  (the anchor)
* unmarked suite, ``-p pexen``     (goal: <= 1.05x the anchor)
* DAG suite, ``-p pexen``          (goal: <= 1.10x the anchor)
* DAG suite, ``-p no:pexen``       (what pytest itself spends on the markers)

and prints the median wall and CPU times and the ratios (median of the
rounds' ratios, with their spread). ``--old DIR`` adds the DAG suite run by
another checkout's pytest_pexen (DIR first on ``PYTHONPATH``), in the same
rounds: old and new code side by side.
"""

from __future__ import annotations

import argparse
import functools
import os
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


def run(root: Path, plugin: str, old: Path | None = None) -> _bench.Timing:
    """One pytest process; with ``old``, that directory's pytest_pexen is
    imported instead of this checkout's (first on ``PYTHONPATH``)."""
    env = None
    if old is not None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(old), env.get("PYTHONPATH")]))
    return _bench.pytest(
        root, "-p", plugin, "-W", "ignore::pytest.PytestUnknownMarkWarning", str(root), env=env
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=3000)
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--root", type=Path, help="write the suites here and keep them")
    parser.add_argument(
        "--old",
        type=Path,
        help="a directory holding another pytest_pexen: its DAG run is a fifth contender",
    )
    _bench.add_clean_option(parser)
    args = parser.parse_args()
    _bench.in_clean_python(args.clean)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.root or Path(tmp)
        plain, dag = base / "plain", base / "dag"
        if not plain.exists():
            write_suite(plain, args.tests, dag=False, seed=args.seed)
        if not dag.exists():
            write_suite(dag, args.tests, dag=True, seed=args.seed)
        timings: dict[str, list[_bench.Timing]] = {}
        contenders: dict[str, tuple[Path, str, Path | None]] = {
            "anchor": (plain, "no:pexen", None),
            "plugin": (plain, "pexen", None),
            "dag": (dag, "pexen", None),
            "bare": (dag, "no:pexen", None),
        }
        if args.old is not None:
            contenders["old"] = (dag, "pexen", args.old)

        def measure(name: str) -> float:
            timing = run(*contenders[name])
            timings.setdefault(name, []).append(timing)
            return timing.wall

        print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
        _bench.rounds({name: functools.partial(measure, name) for name in contenders}, args.pairs)
    for runs in timings.values():
        del runs[0]  # the warm-up round
    print(
        f"{args.tests} trivial tests, median of {args.pairs} rounds (each contender once "
        "per round, fresh processes); ratios: median of the rounds' ratios (min-max)"
    )
    labels = {
        "anchor": "unmarked, -p no:pexen (anchor)",
        "plugin": "unmarked, -p pexen (goal <= 1.05)",
        "dag": "random DAG, -p pexen (goal <= 1.10)",
        "bare": "random DAG, -p no:pexen (pytest's own cost of the markers)",
    }
    if args.old is not None:
        labels["old"] = f"random DAG, -p pexen, the pytest_pexen of {args.old}"
    for name, label in labels.items():
        parts = []
        for figure in ("wall", "cpu"):
            ours = [getattr(t, figure) for t in timings[name]]
            anchor = [getattr(t, figure) for t in timings["anchor"]]
            ratios = [o / a for o, a in zip(ours, anchor, strict=True)]
            parts.append(
                f"{figure} {_bench.median(ours):.3f} s "
                f"{_bench.median(ratios):.3f}x ({min(ratios):.3f}-{max(ratios):.3f})"
            )
        print(f"  {label}:\n      " + "; ".join(parts))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
