"""Fixture setups and wall time of ``-n`` runs (issue 7 figures).

Every contender runs in a fresh pytest process of its own, on the same
generated suite, with ``-p no:randomly -p no:cacheprovider`` (no durations
from earlier runs for anyone). Three figures:

1. Session fixtures: an autouse session fixture logs each setup with its
   process id; a plain and a marked suite run ``--runs`` times at ``-n 2``
   and ``-n 3`` under pexen. Goal: every worker sets it up exactly once, in
   every run.
2. Module-fixture setups at ``-n 2`` on a plain 10-module suite and on a
   marked 10-module random-DAG suite, pexen against ``--dist load`` (which
   ignores the dependencies), median over ``--runs``. Goal: plain equal to
   load, marked <= 1.25x load's.
3. Wall time of a 5,000-test random DAG of tiny tests at ``-n 2``, pexen
   against ``--dist load`` on the same suite, alternating, median of
   ``--pairs``. Goal: <= 1.10x.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import tempfile
from pathlib import Path

import _bench

CONFTEST = """
import os, pytest

def log(what):
    with open(os.environ["FIXTURE_LOG"], "a") as f:
        f.write(f"{what} {os.getpid()}\\n")

@pytest.fixture(scope="session", autouse=True)
def container():
    log("session")
    yield

@pytest.fixture(scope="module", autouse=True)
def schema(request):
    log("module " + request.module.__name__)
    yield
"""


def run(root: Path, log: Path, workers: int, dist: str) -> tuple[float, collections.Counter[str]]:
    """One fresh pytest process; its wall time and the fixture setups."""
    log.unlink(missing_ok=True)
    env = {**os.environ, "FIXTURE_LOG": str(log)}
    env.pop("PYTHONHASHSEED", None)
    args = ("-p", "pexen", "-n", str(workers), "--dist", dist)
    elapsed = _bench.pytest(root, *args, env=env).wall
    count: collections.Counter[str] = collections.Counter()
    for line in log.read_text().splitlines() if log.exists() else []:
        what, _, pid = line.rpartition(" ")
        count[f"session {pid}" if what == "session" else what] += 1
    return elapsed, count


def module_setups(count: collections.Counter[str]) -> int:
    return sum(n for what, n in count.items() if what.startswith("module"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--tests", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp, "fixtures.log")
        plain, marked = Path(tmp, "plain"), Path(tmp, "marked")
        _bench.dag_suite(plain, 10, 20, seed=1, marked=False, sleep=0.005)
        (plain / "conftest.py").write_text(CONFTEST)
        _bench.dag_suite(marked, 10, 20, seed=1, marked=True, sleep=0.005)
        (marked / "conftest.py").write_text(CONFTEST)

        print(f"1. session fixture setups per worker, {args.runs} runs each")
        for name, root in (("plain", plain), ("marked", marked)):
            for workers in (2, 3):
                good = 0
                for _ in range(args.runs):
                    count = run(root, log, workers, "pexen")[1]
                    sessions = [n for what, n in count.items() if what.startswith("session")]
                    good += len(sessions) == workers and all(n == 1 for n in sessions)
                print(f"   {name:6} -n {workers}: once per worker in {good} of {args.runs} runs")

        print(f"2. module-fixture setups, 10 modules x 20 tests, -n 2, median of {args.runs}")
        for name, root, goal in (("plain", plain, "= load"), ("marked", marked, "<= 1.25x")):
            load = statistics.median(
                module_setups(run(root, log, 2, "load")[1]) for _ in range(args.runs)
            )
            ours = statistics.median(
                module_setups(run(root, log, 2, "pexen")[1]) for _ in range(args.runs)
            )
            print(
                f"   {name:6}: --dist load (anchor) {load:g}, pexen {ours:g}, "
                f"ratio {ours / load:.3f} (goal {goal})"
            )

        big = Path(tmp, "big")
        _bench.dag_suite(big, args.tests // 100, 100, seed=2, marked=True)
        (big / "conftest.py").write_text(CONFTEST)
        times = _bench.rounds(
            {
                "load": lambda: run(big, log, 2, "load")[0],
                "pexen": lambda: run(big, log, 2, "pexen")[0],
            },
            args.pairs,
        )
        lo, ours = _bench.median(times["load"]), _bench.median(times["pexen"])
        print(f"3. {args.tests}-test random DAG of tiny tests, -n 2, median of {args.pairs} pairs")
        print(f"   --dist load (anchor, ignores the DAG): {lo:.3f} s")
        print(
            f"   --dist pexen:                          {ours:.3f} s  "
            f"ratio {ours / lo:.3f} (goal <= 1.10)"
        )


if __name__ == "__main__":
    main()
