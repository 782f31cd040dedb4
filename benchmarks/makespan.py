"""Makespan and correctness of parallel runs (issue: xdist scheduler figures).

For several seeds, generates a synthetic suite: N tests over shuffled files,
a random DAG (each test requires 0-2 earlier tests), claims on a few
resources, sleep durations of 50-400 ms. Each test logs its own start, end
and worker. Runs, in one go:

* pytest-pexen, ``-n 4`` (twice: cold, then with durations from the cache);
* pytest-xdist ``--dist load``, ``-n 4`` (ignores dependencies: violations);
* the only correct peer: pytest-dependency + pytest-order
  ``--order-dependencies``, serial.

Prints, per run, the violations (a dependent started before its provider
ended, or two holders of a claim overlapped) and the makespan (first start
to last end, from the tests' own logs) against the lower bound
max(critical path, total work / 4, heaviest resource's total), and the
mean gap a worker spends between two tests (the run's own overhead: pytest
and the round trip to the controller). Per seed and as the median over the
seeds; ``--random-seeds K`` draws K fresh seeds (printed) so that figures
come from suites nobody tuned on.

``--simulate`` runs no pytest: it schedules each suite on paper with the
planner, as the xdist controller ranks tests for a suite without fixtures,
with no overhead at all, cold (no duration known: every test counts alike)
and warm (each test's duration known). That separates what the ranking
achieves from what the run pays per test, and takes a second for hundreds
of seeds. ``--claim-rate`` sets the share of tests that claim one of the 3
resources (0.15 by default; higher makes the resources the bottleneck).

The peers are installed into their own virtualenv (benchmarks/.venv-peers),
never into the project's.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-peers"
WORKERS = 4


def peer_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.create(VENV, with_pip=True)
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "-e",
                str(HERE.parent),
                "pytest-dependency",
                "pytest-order",
            ],
            check=True,
        )
    return python


class Suite:
    """One random suite: durations, dependencies and claims per test."""

    def __init__(self, tests: int, seed: int, claim_rate: float = 0.15) -> None:
        rnd = random.Random(seed)
        self.durations = [rnd.uniform(0.05, 0.4) for _ in range(tests)]
        self.deps = [
            sorted({rnd.randrange(i) for _ in range(rnd.choice((0, 1, 1, 2)))}) if i else []
            for i in range(tests)
        ]
        self.claims = [
            f"res{rnd.randrange(3)}" if rnd.random() < claim_rate else None for _ in range(tests)
        ]
        files = max(1, tests // 8)
        self.file_of = [rnd.randrange(files) for _ in range(tests)]
        self.files = files
        self.seed = seed

    def nodeid(self, i: int) -> str:
        return f"test_f{self.file_of[i]:02d}.py::test_{i}"

    def write(self, root: Path, style: str) -> None:
        root.mkdir(parents=True)
        (root / "pytest.ini").write_text("[pytest]\n")
        bodies: dict[int, list[str]] = {f: [] for f in range(self.files)}
        for i, duration in enumerate(self.durations):
            lines = []
            if style == "pexen":
                lines.append(f"@pexen.provides('t{i}')")
                for d in self.deps[i]:
                    lines.append(f"@pexen.requires('t{d}')")
                if self.claims[i]:
                    lines.append(f"@pexen.claims('{self.claims[i]}')")
            elif style == "dependency":
                depends = ", ".join(repr(self.nodeid(d)) for d in self.deps[i])
                lines.append(f"@pytest.mark.dependency(depends=[{depends}], scope='session')")
            lines.append(f"def test_{i}(): span({i}, {duration!r})")
            bodies[self.file_of[i]].append("\n".join(lines))
        head = (
            "import json, os, time\nimport pytest\nimport pytest_pexen as pexen\n\n"
            "def span(i, duration):\n"
            "    start = time.time()\n"
            "    time.sleep(duration)\n"
            "    with open(os.environ['SPAN_LOG'], 'a') as log:\n"
            "        log.write(json.dumps([i, start, time.time(), "
            "os.environ.get('PYTEST_XDIST_WORKER', 'main')]) + '\\n')\n\n"
        )
        for f, body in bodies.items():
            (root / f"test_f{f:02d}.py").write_text(head + "\n\n".join(body) + "\n")

    def lower_bound(self, durations: list[float] | None = None) -> float:
        """max(critical path, work / workers, heaviest resource) of the
        suite's durations, or of ``durations`` (what the tests took)."""
        durations = self.durations if durations is None else durations
        finish = [0.0] * len(durations)
        for i, duration in enumerate(durations):
            finish[i] = duration + max((finish[d] for d in self.deps[i]), default=0.0)
        per_resource: dict[str, float] = {}
        for i, res in enumerate(self.claims):
            if res:
                per_resource[res] = per_resource.get(res, 0.0) + durations[i]
        return max(max(finish), sum(durations) / WORKERS, max(per_resource.values(), default=0.0))

    def check(self, log: Path) -> tuple[int, float, int, float, float]:
        """(violations, makespan from the logs, tests that ran, the mean
        time a worker spent between the end of one test's body and the
        start of its next one: what a run pays on top of its ranking, and
        the lower bound of the durations the tests took: on a loaded
        machine a sleep overshoots, by 5% at load 12)."""
        spans: dict[int, tuple[float, float]] = {}
        by_worker: dict[str, list[tuple[float, float]]] = {}
        for line in log.read_text().splitlines():
            i, start, end, worker = json.loads(line)
            spans[i] = (start, end)
            by_worker.setdefault(worker, []).append((start, end))
        gaps = [
            b[0] - a[1] for runs in by_worker.values() for a, b in itertools.pairwise(sorted(runs))
        ]
        violations = 0
        for i, (start, _end) in spans.items():
            violations += sum(1 for d in self.deps[i] if d not in spans or spans[d][1] > start)
        holders: dict[str, list[tuple[float, float]]] = {}
        for i, res in enumerate(self.claims):
            if res and i in spans:
                holders.setdefault(res, []).append(spans[i])
        for intervals in holders.values():
            intervals.sort()
            violations += sum(1 for a, b in itertools.pairwise(intervals) if b[0] < a[1])
        makespan = max(e for _, e in spans.values()) - min(s for s, _ in spans.values())
        took = [
            spans[i][1] - spans[i][0] if i in spans else d for i, d in enumerate(self.durations)
        ]
        gap = statistics.mean(gaps) if gaps else 0.0
        return violations, makespan, len(spans), gap, self.lower_bound(took)


def simulate(suite: Suite, warm: bool) -> float:
    """The makespan of the suite scheduled on paper by the planner, as the
    xdist controller ranks tests for a suite without fixtures (the best
    ready test to each idle worker), with no overhead at all: what the
    ranking alone achieves, cold (no durations known) or warm (each test's
    own duration known)."""
    from pytest_pexen.sched.planner import Planner

    planner: Planner[int] = Planner(critical_path=True)
    for i, duration in enumerate(suite.durations):
        planner.add(
            i,
            requires=[f"t{d}" for d in suite.deps[i]],
            provides=[f"t{i}"],
            claims=[suite.claims[i]] if suite.claims[i] else [],
            duration=duration if warm else None,
        )
    planner.prepare()
    now, free, running = 0.0, WORKERS, []
    while planner.active:
        for i in planner.get_ready(free):
            free -= 1
            heapq.heappush(running, (now + suite.durations[i], i))
        if not running:
            raise SystemExit(f"the planner stalled with tests left (seed {suite.seed})")
        now, i = heapq.heappop(running)
        planner.done(i)
        free += 1
    return now


def run(python: Path, root: Path, log: Path, *args: str) -> None:
    log.unlink(missing_ok=True)
    env = dict(os.environ, SPAN_LOG=str(log))
    subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:randomly", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--random-seeds",
        type=int,
        metavar="K",
        help="K fresh random seeds instead of --seeds (printed, to measure on "
        "suites nobody tuned on)",
    )
    parser.add_argument(
        "--claim-rate",
        type=float,
        default=0.15,
        help="share of tests that claim one of 3 resources (default 0.15)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="no pytest: schedule each suite on paper with the planner (no "
        "overhead), cold and warm; fast, for many seeds",
    )
    parser.add_argument(
        "--skip-peers",
        action="store_true",
        help="only pytest-pexen (no --dist load, no serial peer)",
    )
    args = parser.parse_args()
    seeds = args.seeds
    if args.random_seeds:
        seeds = [random.SystemRandom().randrange(10**6) for _ in range(args.random_seeds)]
    print(f"seeds: {' '.join(map(str, seeds))}")
    ratios: dict[str, list[float]] = {"cold": [], "warm": []}
    if args.simulate:
        for seed in seeds:
            suite = Suite(args.tests, seed, args.claim_rate)
            bound = suite.lower_bound()
            cold, warm = simulate(suite, False) / bound, simulate(suite, True) / bound
            ratios["cold"].append(cold)
            ratios["warm"].append(warm)
            print(f"seed {seed}: cold {cold:.3f}x  warm {warm:.3f}x the lower bound")
        summarise(ratios, "on paper (no overhead)")
        return
    python = peer_python() if not args.skip_peers else Path(sys.executable)
    total_violations = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            suite = Suite(args.tests, seed, args.claim_rate)
            bound = suite.lower_bound()
            pexen_root, dep_root = Path(tmp, f"pexen{seed}"), Path(tmp, f"dep{seed}")
            suite.write(pexen_root, "pexen")
            suite.write(dep_root, "dependency")
            log = Path(tmp, "spans.jsonl")
            runs = [
                ("pexen -n 4 (cold)", pexen_root, ("-n", "4", "-p", "pexen")),
                ("pexen -n 4 (warm)", pexen_root, ("-n", "4", "-p", "pexen")),
            ]
            if not args.skip_peers:
                runs += [
                    (
                        "xdist --dist load -n 4",
                        pexen_root,
                        (
                            "-n",
                            "4",
                            "--dist",
                            "load",
                            "-p",
                            "pexen",
                            "-W",
                            "ignore::pytest_pexen.PexenWarning",
                        ),
                    ),
                    (
                        "dependency+order serial",
                        dep_root,
                        ("-p", "no:pexen", "-p", "no:xdist", "--order-dependencies"),
                    ),
                ]
            print(f"seed {seed}: {args.tests} tests, lower bound {bound:.2f} s")
            for name, root, extra in runs:
                run(python, root, log, *extra)
                violations, makespan, ran, gap, took_bound = suite.check(log)
                ratio = makespan / bound
                print(
                    f"  {name:26s} ran {ran:3d}  violations {violations:3d}  "
                    f"makespan {makespan:6.2f} s  = {ratio:.3f}x bound, "
                    f"{makespan / took_bound:.3f}x the bound of what the tests took  "
                    f"(gap between tests {gap * 1000:4.0f} ms)"
                )
                if name.startswith("pexen"):
                    kind = "warm" if "warm" in name else "cold"
                    total_violations += violations
                    ratios[kind].append(ratio)
                    ratios.setdefault(f"{kind}, of what the tests took", []).append(
                        makespan / took_bound
                    )
    summarise(ratios, "pytest-pexen -n 4")
    print(f"pytest-pexen: {total_violations} violations in all (goal: 0)")


def summarise(ratios: dict[str, list[float]], what: str) -> None:
    """Per-seed makespan ratios, their median and spread."""
    for kind, values in ratios.items():
        print(
            f"{what}, {kind}: median {statistics.median(values):.3f}x the lower bound "
            f"(min {min(values):.3f}, max {max(values):.3f}; goal cold <= 1.03x)"
        )


if __name__ == "__main__":
    main()
