"""What the watchdog costs, and how fast a hung worker is replaced (issue 10).

1. Overhead: a serial run of 3,000 trivial tests (default), each contender a
   fresh process, in rotating order, median of ``--rounds``:

   * no limit, ``-p no:timeout``                  (the anchor)
   * ``--pexen-timeout=60``, ``-p no:timeout``    (goal: <= 1.03x the anchor)
   * pytest-timeout's ``--timeout=60``            (goal: pexen no slower)

   pexen is loaded in all three (it is invisible without a limit), so each
   limit is one tool's alone.

2. Recovery: ``-n 2``, a test that hangs in C code with a 2 s limit and
   holds a lock the next test claims. The hang holds the GIL (the worker
   cannot stop itself: the controller kills it) or blocks the signal in a
   sleep (the worker exits by itself). Figure: how long after the limit
   the next test starts (goal <= 2 s), and that the worker was replaced.

pytest-timeout must be installed (it is in the ``test`` extra).
"""

from __future__ import annotations

import argparse
import importlib.util
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

PER_FILE = 100
LIMIT = 2

HANG = """
import ctypes, json, os, signal, time
import pytest_pexen as pexen

def mark(name):
    with open(os.environ["MARKS"], "a") as f:
        f.write(json.dumps([name, time.time()]) + "\\n")

@pexen.priority(-1)
@pexen.claims("lab")
@pexen.timeout({limit})
def test_hang():
    mark("hang")
    {hang}

@pexen.claims("lab")
def test_next():
    mark("next")
"""
HANGS = {
    "C code holding the GIL (controller kills)": "ctypes.PyDLL(None).sleep(60)",
    "sleep with the signal blocked (worker exits)": (
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM}); time.sleep(60)"
    ),
}


def write_suite(root: Path, tests: int) -> None:
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    for n in range(max(1, tests // PER_FILE)):
        body = "\n".join(f"def test_{n}_{i}(): pass" for i in range(PER_FILE))
        (root / f"test_{n:03d}.py").write_text(body + "\n")


def run(root: Path, *args: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one pytest process: the
    CPU time is much less disturbed by other jobs on the machine."""
    cmd = [
        *_bench.PYTEST,
        "-p",
        "pexen",
        "-p",
        "no:rerunfailures",
        *args,
        str(root),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def overhead(tests: int, rounds: int) -> None:
    contenders = {
        "no limit (anchor)": ["-p", "no:timeout"],
        "--pexen-timeout=60": ["-p", "no:timeout", "--pexen-timeout=60"],
        "pytest-timeout --timeout=60": ["-p", "timeout", "--timeout=60"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "suite")
        write_suite(root, tests)
        run(root, "-p", "no:timeout")  # warm the file system and bytecode caches
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
        names = list(contenders)
        for r in range(rounds):
            for name in names[r % 3 :] + names[: r % 3]:  # rotate who goes first
                times[name].append(run(root, *contenders[name]))
    print(f"{tests} trivial tests, serial, median of {rounds} rounds (each a fresh process)")
    for n, what in enumerate(("wall", "CPU")):
        med = {name: statistics.median(t[n] for t in runs) for name, runs in times.items()}
        anchor = med["no limit (anchor)"]
        for name, value in med.items():
            print(f"  {what:4} {name:30} {value:.3f} s  ratio {value / anchor:.3f}")
        ours, theirs = med["--pexen-timeout=60"], med["pytest-timeout --timeout=60"]
        print(
            f"  {what:4} pexen / anchor: {ours / anchor:.3f} (goal <= 1.03); "
            f"pexen / pytest-timeout: {ours / theirs:.3f} (goal <= 1.00)"
        )


def recovery(rounds: int) -> None:
    print(
        f"-n 2, a {LIMIT} s limit, the next test waits for the hung test's lock; "
        f"median (max) of {rounds} runs"
    )
    for label, hang in HANGS.items():
        delays = []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                (root / "test_hang.py").write_text(HANG.format(limit=LIMIT, hang=hang))
                marks = root / "marks.jsonl"
                proc = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        "-p",
                        "pexen",
                        "-p",
                        "no:randomly",
                        "-p",
                        "no:cacheprovider",
                        "-n",
                        "2",
                        str(root),
                    ],
                    cwd=root,
                    capture_output=True,
                    text=True,
                    env={**os.environ, "MARKS": str(marks)},
                )
                seen = dict(json.loads(line) for line in marks.read_text().splitlines())
                if "replacing crashed worker" not in proc.stdout or "next" not in seen:
                    sys.exit(f"the hung worker was not replaced:\n{proc.stdout[-3000:]}")
                delays.append(seen["next"] - (seen["hang"] + LIMIT))
        print(
            f"  {label:46} next test {statistics.median(delays):.2f} s "
            f"({max(delays):.2f} s) after the limit (goal <= 2)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--recovery-rounds", type=int, default=5)
    args = parser.parse_args()
    if importlib.util.find_spec("pytest_timeout") is None:
        sys.exit("pytest-timeout is not installed: pip install -e '.[test]'")
    recovery(args.recovery_rounds)
    overhead(args.tests, args.rounds)


if __name__ == "__main__":
    main()
