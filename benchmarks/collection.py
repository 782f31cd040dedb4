"""Collection of a large marked suite: time and peak memory (issue 22, item 5).

A suite of 20,000 trivial tests with a random dependency DAG (the suite of
overhead.py: about 1.2 requires per test, by node id, over shuffled files of
100 tests) is collected with ``--collect-only -q``:

* with ``-p no:pexen`` (the anchor: pytest itself, markers and all);
* with the plugin (goals: <= 1.05x the anchor's time, <= 1.15x its peak
  memory).

Each measurement is a fresh process running ``pytest.main`` (the clock
covers the whole call; the peak is the process's maximum resident set
size), the two take turns (which goes first alternates), and the script
prints the medians of ``--pairs`` pairs with the spread of the pairs'
ratios, in wall time, CPU time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _bench
from overhead import write_suite


def measure(root: Path, plugin: str) -> dict[str, float]:
    """Collect the suite once in this process."""
    import pytest

    cpu, start = time.process_time(), time.perf_counter()
    code = pytest.main(
        ["--collect-only", "-q", "-p", plugin, "-p", "no:cacheprovider", str(root)],
        plugins=[],
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"collection failed with exit code {code}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB -> MB on Linux
    return {"wall": wall, "cpu": cpu, "peak": peak}


def run_fresh(root: Path, plugin: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--measure", plugin, "--root", str(root)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    return dict(json.loads(proc.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    _bench.add_clean_option(parser)
    args = parser.parse_args()
    _bench.in_clean_python(args.clean)
    if args.measure:
        with open(os.devnull, "w") as sink:  # pytest's listing of 20,000 tests
            stdout, sys.stdout = sys.stdout, sink
            try:
                figures = measure(args.root, args.measure)
            finally:
                sys.stdout = stdout
        print(json.dumps(figures))
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "suite"
        write_suite(root, args.tests, dag=True, seed=args.seed)
        runs: dict[str, list[dict[str, float]]] = {"no:pexen": [], "pexen": []}
        for n in range(args.pairs):
            order = ["no:pexen", "pexen"] if n % 2 == 0 else ["pexen", "no:pexen"]
            for plugin in order:
                runs[plugin].append(run_fresh(root, plugin))
    print(
        f"{args.tests} marked tests, --collect-only, median of {args.pairs} pairs, "
        "each run a fresh process:"
    )
    for figure, unit, goal in (("wall", "s", 1.05), ("cpu", "s", 1.05), ("peak", "MB", 1.15)):
        anchor = [r[figure] for r in runs["no:pexen"]]
        ours = [r[figure] for r in runs["pexen"]]
        ratios = [o / a for o, a in zip(ours, anchor, strict=True)]
        print(
            f"  {figure:5s} {statistics.median(anchor):8.2f} -> {statistics.median(ours):8.2f} "
            f"{unit:2s} = {statistics.median(ratios):.3f}x (pairs {min(ratios):.3f}-"
            f"{max(ratios):.3f}; goal <= {goal:.2f}x)"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
