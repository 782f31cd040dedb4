"""Cost of the journal, and of resuming from it (issue: journal and resume).

1. 2,000 trivial tests (default), serial: the run with the default journal
   (``--pexen-fsync=auto``) and with ``--pexen-fsync=always`` against the
   same run with ``--pexen-state=none``; the cost per test is the median
   of the rounds' differences over the number of tests (goals: <= 0.05 ms
   with auto, <= 0.5 ms with always). Each run is a fresh process, the
   contenders take turns round by round. ``--subtests K``: each test runs
   K trivial subtests (pytest's ``subtests`` fixture, pytest >= 9), and the
   cost is given per subtest too.
2. A journal of a finished 10,000-test run: reading, checking and
   restoring it (``journal.load``, ``Resume.check``, ``Resume.restore`` into
   the run's planner), timed in a fresh process (goal: <= 1 s); and, for
   context, the whole resumed pytest run (all 10,000 reported again, none
   run) against ``--collect-only`` of the same suite.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _bench

PER_FILE = 100

RESTORE = """
import sys, time
t0 = time.perf_counter()
from pytest_pexen import journal
from pytest_pexen.journal.resume import Resume, identity
from pytest_pexen.graph.plugin import plain_spec
from pytest_pexen.graph.taskgraph import spec_planner
path = sys.argv[1]
start = time.perf_counter()
state = journal.load(path)
resume = Resume(path, state)
tests = state.tests
resume.check(sorted(tests), state.header["options"])
planner = spec_planner(plain_spec(tests))
resume.restore(planner, set(tests).__contains__, lambda dep, shared: None)
assert not planner.active, "every test restored as finished"
print(time.perf_counter() - start)
"""


def write_suite(root: Path, tests: int, subtests: int = 0) -> Path:
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    body = (
        f"(subtests):\n    for n in range({subtests}):\n        with subtests.test(n=n):\n"
        "            pass\n"
        if subtests
        else "():\n    pass\n"
    )
    for f in range(0, tests, PER_FILE):
        text = "\n".join(f"def test_{i}{body}" for i in range(f, min(tests, f + PER_FILE)))
        (root / f"test_{f // PER_FILE:03d}.py").write_text(text)
    return root


def run(suite: Path, extra: list[str]) -> tuple[float, float]:
    """Wall time of a fresh pytest process, and its CPU time (user +
    system), which a machine shared with other work disturbs much less."""
    timing = _bench.pytest(suite, "-p", "pexen", *extra)
    return timing.wall, timing.cpu


def journal_cost(root: Path, tests: int, rounds: int, subtests: int) -> None:
    """Each journal mode against ``--pexen-state=none`` in rounds of one run
    each, taking turns; the cost is the median of the rounds' differences
    (a slow spell of the machine hits both runs of a round alike). The modes
    are measured one after the other, so that ``always``'s disk writes do
    not slow down the other runs."""
    suite = write_suite(root / "cost", tests, subtests)
    base = ["--pexen-state=none"]
    modes = {
        "auto (default)": ["--pexen-state=j.jsonl"],
        "always": ["--pexen-state=j.jsonl", "--pexen-fsync=always"],
    }
    each = f", {subtests} trivial subtests each" if subtests else ""
    print(f"{tests} trivial tests{each}, serial, each run a fresh process, {rounds} rounds")
    for name, extra in modes.items():
        run(suite, base)  # warm caches, check the suite passes
        run(suite, extra)
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for _ in range(rounds):
            theirs.append(run(suite, base))
            ours.append(run(suite, extra))
        for n, measure in enumerate(("wall", "cpu")):
            diff = statistics.median(o[n] - t[n] for o, t in zip(ours, theirs, strict=True))
            anchor = statistics.median(t[n] for t in theirs)
            per_subtest = (
                f", {diff / (tests * subtests) * 1000:+.4f} ms per subtest" if subtests else ""
            )
            print(
                f"  {name:15} {measure:4}: {diff / tests * 1000:+.4f} ms per test{per_subtest} "
                f"({(anchor + diff) / anchor:.3f}x the {anchor:.3f} s of "
                "--pexen-state=none)"
            )


def resume_cost(root: Path, tests: int, rounds: int) -> None:
    suite = write_suite(root / "resume", tests)
    run(suite, ["--pexen-state=j.jsonl"])
    path = suite / "j.jsonl"
    size = path.stat().st_size
    restore = []
    for _ in range(rounds):
        proc = subprocess.run(
            [sys.executable, "-c", RESTORE, str(path)], capture_output=True, text=True, check=True
        )
        restore.append(float(proc.stdout))
    whole, collect = [], []
    for _ in range(max(3, rounds // 2)):
        whole.append(
            run(suite, ["--pexen-state=j.jsonl", "--pexen-resume", "--pexen-fsync=never"])[0]
        )
        collect.append(run(suite, ["--pexen-state=none", "--collect-only"])[0])
        path.write_bytes(path.read_bytes()[:size])  # drop the boot records again
    best = min(restore)
    print(
        f"resume of a {tests}-test journal ({size / 1e6:.1f} MB): read + check + restore "
        f"{best:.3f} s (best of {rounds}; goal <= 1 s: {best / 1.0:.2f}x of it)"
    )
    print(
        f"  whole resumed run (all reported again) {statistics.median(whole):.2f} s, "
        f"--collect-only of the same suite {statistics.median(collect):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--subtests", type=int, default=0, help="trivial subtests per test")
    parser.add_argument("--resume-tests", type=int, default=10000, help="0: skip figure 2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        journal_cost(Path(tmp), args.tests, args.rounds, args.subtests)
        if args.resume_tests:
            resume_cost(Path(tmp), args.resume_tests, args.rounds)


if __name__ == "__main__":
    main()
