"""Executable tests (``--pexen-exec``): collection time and per-test overhead.

Generates a folder of tiny shell tests (default 1,000, ``#!/bin/sh`` and
``exit 0``) and, for the collection anchor, as many tiny Python test files.
Each contender runs in a fresh process; the times are taken inside it (a
small plugin or the loop itself), so interpreter start-up and imports do not
count. In alternating rounds:

* collection of the shell tests, ``pytest -p pexen --pexen-exec
  --collect-only`` (goal: <= 0.5 s), against pytest collecting the Python
  files (``-p no:pexen``, the anchor);
* the run of the shell tests, from the end of collection to the end of the
  session, against a bare ``subprocess.run`` of each script in a loop (the
  anchor); the difference per test is pexen's and pytest's overhead (goal:
  <= 2 ms). The run of as many trivial Python tests without pexen shows
  how much of it is pytest's own handling of a test.

It prints the medians and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TIMER = """
import json, os, time
import pytest

_t = {}

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection(session):
    _t["collect"] = time.perf_counter()
    try:
        return (yield)
    finally:
        _t["collected"] = time.perf_counter()

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump({"collect": _t["collected"] - _t["collect"],
                   "run": time.perf_counter() - _t["collected"]}, out)
"""

LOOP = """
import json, os, subprocess, sys, time
folder = os.path.abspath(sys.argv[1])
scripts = sorted(os.path.join(folder, n) for n in os.listdir(folder))
start = time.perf_counter()
for script in scripts:
    subprocess.run([script], cwd=folder, check=True)
with open(os.environ["BENCH_OUT"], "w") as out:
    json.dump({"run": time.perf_counter() - start}, out)
"""

QUIET = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]


def write_suites(root: Path, tests: int) -> None:
    shell, python = root / "shell", root / "python"
    shell.mkdir()
    python.mkdir()
    (root / "bench_timer.py").write_text(TIMER)
    (root / "pytest.ini").write_text("[pytest]\n")
    for i in range(tests):
        script = shell / f"t{i:05d}.sh"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
        (python / f"test_{i:05d}.py").write_text("def test_x():\n    pass\n")


def measure(root: Path, cmd: list[str]) -> dict[str, float]:
    """Run ``cmd`` in a fresh process in ``root``; the times it recorded."""
    out = root / "times.json"
    env = {**os.environ, "BENCH_OUT": str(out), "PYTHONPATH": str(root)}
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    times: dict[str, float] = json.loads(out.read_text())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pytest_cmd = [sys.executable, "-m", "pytest", *QUIET, "-p", "bench_timer"]
    contenders = {
        "collect shell (pexen)": [
            *pytest_cmd,
            "-p",
            "pexen",
            "--pexen-exec",
            "--collect-only",
            "shell",
        ],
        "collect python (anchor)": [*pytest_cmd, "-p", "no:pexen", "--collect-only", "python"],
        "run shell (pexen)": [*pytest_cmd, "-p", "pexen", "--pexen-exec", "shell"],
        "run loop (anchor)": [sys.executable, "-c", LOOP, "shell"],
        "run python (no pexen)": [*pytest_cmd, "-p", "no:pexen", "python"],
    }
    field = {name: "collect" if name.startswith("collect") else "run" for name in contenders}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_suites(root, args.tests)
        for cmd in contenders.values():  # warm the file system and bytecode caches
            measure(root, cmd)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, cmd in contenders.items():
                times[name].append(measure(root, cmd)[field[name]])
    med = {name: statistics.median(values) for name, values in times.items()}
    n = args.tests
    print(f"{n} tiny tests, median of {args.rounds} rounds, each contender a fresh process")
    for name, value in med.items():
        print(
            f"  {name:<24} {value:7.3f} s   (min {min(times[name]):.3f}, "
            f"max {max(times[name]):.3f})"
        )
    collect, anchor = med["collect shell (pexen)"], med["collect python (anchor)"]
    print(
        f"collection: {collect:.3f} s for {n} shell tests (goal <= 0.5 s at 1,000); "
        f"{collect / anchor:.2f}x pytest collecting {n} Python test files"
    )
    run, loop = med["run shell (pexen)"], med["run loop (anchor)"]
    print(
        f"per-test overhead: {(run - loop) / n * 1000:.2f} ms over a bare subprocess.run "
        f"(goal <= 2 ms); run {run / loop:.2f}x the loop"
    )
    # on a shared machine the medians carry other people's load; the fastest
    # rounds are the closest to the cost itself
    best = (min(times["run shell (pexen)"]) - min(times["run loop (anchor)"])) / n * 1000
    print(f"per-test overhead, fastest rounds: {best:.2f} ms")
    own = med["run python (no pexen)"] / n * 1000
    print(f"  of which pytest's own handling of a test (trivial Python tests): {own:.2f} ms")


if __name__ == "__main__":
    main()
