"""Kill soak: a 40-test suite killed at random moments, resumed each time.

The suite (dependencies, a lock, tests of 0.1-0.3 s) logs each execution
of each test with its boot count. A run is started, killed with SIGKILL
(the whole process group: controller and workers, as a power loss would)
at a random moment, resumed with ``--pexen-resume``, killed again, ...
until it completes; then a fresh run starts, until --kills kills are done.
After every kill the journal must parse, and at the end of each run:

- every test has exactly one end record (it finished exactly once);
- no test started again after the journal had recorded its end (0 finished
  tests re-run);
- a test executed again only after a kill that caught it running, each
  time with a higher boot count.

Prints "kills survived", "tests lost", "finished tests re-run" and exits
non-zero on any violation.

``--plain`` (with ``--workers``): the same 40 tests without pexen markers,
which ``-n`` hands to xdist's ``load`` scheduling on a first boot (its
tests are journaled as started when ``load`` sends them).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _bench

from pytest_pexen import journal

# what every soak test logs, and the bulk of the work: shared by both suites
RECORDED_WORK = """
def log(*words):
    with open(os.environ["SOAK_LOG"], "a") as f:
        f.write(" ".join(map(str, words)) + "\\n")

@pytest.fixture(autouse=True)
def record(request, pexen_boot_count):
    log("start", request.node.nodeid, pexen_boot_count)
    yield
    log("end", request.node.nodeid, pexen_boot_count)

@pytest.mark.parametrize("i", range(30))
def test_work(i):
    time.sleep(0.1 + (i * 7 % 5) * 0.05)
"""

SUITE = (
    """
import os, time, random
import pytest
import pytest_pexen as pexen
"""
    + RECORDED_WORK
    + """
@pexen.provides("db")
def test_db():
    time.sleep(0.2)

@pytest.mark.parametrize("i", range(6))
@pexen.requires("db")
def test_use(i):
    time.sleep(0.15)

@pytest.mark.parametrize("i", range(3))
@pexen.claims("lab")
def test_lab(i):
    time.sleep(0.2)

@pexen.requires("test_use")
def test_last():
    time.sleep(0.1)
"""
)


# the same tests without any pexen marker: xdist's load schedules the first boot
PLAIN_SUITE = (
    """
import os, time
import pytest
"""
    + RECORDED_WORK
    + """
@pytest.mark.parametrize("i", range(10))
def test_more(i):
    time.sleep(0.15)
"""
)


def executions(log: Path, offset: int = 0) -> list[tuple[str, str, int]]:
    with log.open() as f:
        f.seek(offset)
        return [(w[0], w[1], int(w[2])) for w in (line.split() for line in f) if len(w) == 3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--workers", type=int, default=0, help="-n for xdist (0: serial)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--plain", action="store_true", help="a suite without pexen markers (needs --workers)"
    )
    args = parser.parse_args()
    if args.plain and not args.workers:
        parser.error("--plain needs --workers (a plain suite goes to xdist's load under -n)")
    rng = random.Random(args.seed)
    problems: list[str] = []
    kills = runs = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "test_soak.py").write_text(PLAIN_SUITE if args.plain else SUITE)
        (root / "pytest.ini").write_text("[pytest]\n")
        state = root / "state.jsonl"
        cmd = [
            *_bench.BASE,
            "-p",
            "pexen",
            f"--pexen-state={state}",
        ]
        if args.workers:
            cmd += ["-p", "xdist", "-n", str(args.workers)]
        while kills < args.kills:
            runs += 1
            log = root / f"run{runs}.log"
            log.touch()
            os.environ["SOAK_LOG"] = str(log)
            resume: list[str] = []
            ended_at_kill: set[str] = set()
            while True:
                offset = log.stat().st_size
                output = root / "output.txt"
                with output.open("wb") as out:
                    proc = subprocess.Popen(
                        cmd + resume,
                        cwd=root,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                # a kill window that covers start-up (longer for xdist) and tests
                window = rng.uniform(1.5, 4.0) if args.workers else rng.uniform(0.6, 2.5)
                try:
                    proc.wait(timeout=window if kills < args.kills else None)
                    finished = True
                    if proc.returncode != 0:
                        problems.append(
                            f"run {runs}: pytest exited {proc.returncode}:\n"
                            + output.read_text()[-2000:]
                        )
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    finished = False
                again = {t for kind, t, _ in executions(log, offset) if kind == "start"}
                if again & ended_at_kill:
                    problems.append(
                        f"run {runs}: finished tests ran again: {sorted(again & ended_at_kill)}"
                    )
                if finished:
                    break
                kills += 1
                if not state.exists():  # killed before the first test started
                    continue
                try:
                    ended_at_kill = set(journal.load(state).ended)
                except journal.EmptyJournal:  # killed before its header: no run yet
                    ended_at_kill = set()
                except journal.JournalError as exc:
                    problems.append(f"kill {kills}: the journal does not parse: {exc}")
                    break
                resume = ["--pexen-resume"]
                time.sleep(0.05)
            problems += check_run(runs, state, log)
    lost = sum("ended 0 times" in p for p in problems)
    rerun = sum("ran again" in p for p in problems)
    mode = f"-n {args.workers}" if args.workers else "serial"
    mode += ", plain suite" if args.plain else ""
    print(
        f"killsoak ({mode}): {runs} runs, {kills - sum('parse' in p for p in problems)} of "
        f"{kills} kills survived, {lost} tests lost, {rerun} finished tests re-run"
    )
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


def check_run(run: int, state: Path, log: Path) -> list[str]:
    """Every test finished once; re-executions only with rising boot counts."""
    problems = []
    records = list(journal.read(state))
    tests = records[0]["tests"]
    ends: dict[str, int] = {}
    for record in records:
        if record["type"] == "end":
            ends[record["test"]] = ends.get(record["test"], 0) + 1
    for test in tests:
        if ends.get(test, 0) != 1:
            problems.append(f"run {run}: {test} ended {ends.get(test, 0)} times")
    counts: dict[str, list[int]] = {}
    for kind, test, boot in executions(log):
        if kind == "start":
            counts.setdefault(test, []).append(boot)
    interrupted = journal.load(state).interrupted
    for test, boots in counts.items():
        if boots != sorted(set(boots)):
            problems.append(f"run {run}: {test} ran again without a higher boot count: {boots}")
        if boots[-1] > interrupted.get(test, 0):
            problems.append(
                f"run {run}: {test} boot count {boots[-1]} but interrupted "
                f"{interrupted.get(test, 0)} times"
            )
    return problems


if __name__ == "__main__":
    sys.exit(main())
