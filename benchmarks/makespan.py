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

``--compare`` (on paper too) sets the planner's ranking beside others, on
the same suites: insertion order, random order, transitive dependents, the
longest chain in tests, the planner warm, the best of ``--optimum M`` list
schedules that know the durations (random orders and shaken chains of
durations: an estimate of the best schedule there is), the best fixed
order for each suite's DAG tuned on ``--tune R`` other draws of its
durations and scored on R more (what a ranking that knows the DAG but not
the durations can hope for), and the same tests with no dependencies and
no claims in any order (where no ranking can help: every test's duration
is drawn alike).

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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_pexen.sched.planner import Planner

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


def simulate(suite: Suite, warm: bool, durations: list[float] | None = None) -> float:
    """The makespan of the suite scheduled on paper by the planner, as the
    xdist controller ranks tests for a suite without fixtures (the best
    ready test to each idle worker), with no overhead at all: what the
    ranking alone achieves, cold (no durations known) or warm (each test's
    own duration known). ``durations``: what the tests take instead of the
    suite's own."""
    durations = suite.durations if durations is None else durations
    planner = plan(suite, [*durations] if warm else [None] * len(durations))
    running: list[tuple[float, int]] = []
    now, free = 0.0, WORKERS
    while planner.active:
        for i in planner.get_ready(free):
            free -= 1
            heapq.heappush(running, (now + durations[i], i))
        if not running:
            raise SystemExit(f"the planner stalled with tests left (seed {suite.seed})")
        now, i = heapq.heappop(running)
        planner.done(i)
        free += 1
    return now


def list_schedule(suite: Suite, rank: list[Any], durations: list[float] | None = None) -> float:
    """The makespan of a list schedule: each idle worker takes the ready
    test of lowest ``rank`` whose resource is free (as the planner does
    with its own ranking), with no overhead."""
    durations = suite.durations if durations is None else durations
    dependents: list[list[int]] = [[] for _ in durations]
    need = [len(deps) for deps in suite.deps]
    for i, deps in enumerate(suite.deps):
        for d in deps:
            dependents[d].append(i)
    ready = [(rank[i], i) for i, n in enumerate(need) if not n]
    heapq.heapify(ready)
    held: set[str] = set()
    parked: dict[str, list[tuple[Any, int]]] = {}
    running: list[tuple[float, int]] = []
    now, free, left = 0.0, WORKERS, len(durations)
    while left:
        while free and ready:
            entry = heapq.heappop(ready)
            res = suite.claims[entry[1]]
            if res in held:
                parked.setdefault(res, []).append(entry)
                continue
            if res:
                held.add(res)
            free -= 1
            heapq.heappush(running, (now + durations[entry[1]], entry[1]))
        now, i = heapq.heappop(running)
        free, left = free + 1, left - 1
        res = suite.claims[i]
        if res:
            held.discard(res)
            for entry in parked.pop(res, []):
                heapq.heappush(ready, entry)
        for j in dependents[i]:
            need[j] -= 1
            if not need[j]:
                heapq.heappush(ready, (rank[j], j))
    return now


def compare(suite: Suite, optimum: int, tune: int) -> dict[str, float]:
    """Makespan / lower bound of one suite under several rankings (see the
    module docstring)."""
    n, bound = len(suite.durations), suite.lower_bound()
    rnd = random.Random(suite.seed)
    below = [0] * n  # transitive dependents, as bit sets
    chain = [0] * n  # longest chain of tests from each test on
    timed = [0.0] * n  # longest chain of durations from each test on
    for i in reversed(range(n)):
        for j in (j for j in range(i + 1, n) if i in suite.deps[j]):
            below[i] |= below[j] | 1 << j
            chain[i] = max(chain[i], chain[j])
            timed[i] = max(timed[i], timed[j])
        chain[i] += 1
        timed[i] += suite.durations[i]
    out = {
        "insertion order": list_schedule(suite, list(range(n))),
        "random order": list_schedule(suite, [rnd.random() for _ in range(n)]),
        "transitive dependents": list_schedule(
            suite, [(-below[i].bit_count(), i) for i in range(n)]
        ),
        "longest chain (tests)": list_schedule(suite, [(-chain[i], i) for i in range(n)]),
        "planner cold": simulate(suite, False),
        "planner warm": simulate(suite, True),
    }
    if optimum:
        # half random orders, half the chain of durations shaken
        best = out["planner warm"]
        for m in range(optimum):
            rank = [
                rnd.random()
                if m % 2
                else -timed[i] * rnd.uniform(0.5, 1.5) + rnd.uniform(-0.2, 0.2)
                for i in range(n)
            ]
            best = min(best, list_schedule(suite, rank))
        out[f"best of {optimum} list schedules (knows durations)"] = best
    alone = Suite(n, suite.seed)
    alone.deps = [[] for _ in range(n)]
    alone.claims = [None for _ in range(n)]
    out["no dependencies, no claims (any order)"] = list_schedule(alone, list(range(n)))
    ratios = {name: makespan / bound for name, makespan in out.items()}
    ratios["no dependencies, no claims (any order)"] = (
        out["no dependencies, no claims (any order)"] / alone.lower_bound()
    )
    if tune:
        ratios.update(tuned(suite, tune, rnd))
    return ratios


def tuned(suite: Suite, draws: int, rnd: random.Random) -> dict[str, float]:
    """The best fixed order for this suite's DAG and claims found by swaps
    (from the planner's cold order) on ``draws`` fresh draws of durations,
    and it and the planner cold scored on ``draws`` other draws."""
    n = len(suite.durations)

    def draw() -> list[float]:
        return [rnd.uniform(0.05, 0.4) for _ in range(n)]

    def score(rank: list[Any], samples: list[list[float]]) -> float:
        return statistics.mean(
            list_schedule(suite, rank, d) / suite.lower_bound(d) for d in samples
        )

    train, test = [draw() for _ in range(draws)], [draw() for _ in range(draws)]
    rank = [0] * n
    for position, i in enumerate(planned_order(suite)):
        rank[i] = position
    best = score(rank, train)
    for _ in range(10 * n):
        trial = rank.copy()
        a, b = rnd.randrange(n), rnd.randrange(n)
        trial[a], trial[b] = trial[b], trial[a]
        if (value := score(trial, train)) <= best:
            best, rank = value, trial
    return {
        f"planner cold, {draws} other draws": statistics.mean(
            simulate(suite, False, d) / suite.lower_bound(d) for d in test
        ),
        f"best fixed order for the DAG, {draws} other draws": score(rank, test),
    }


def planned_order(suite: Suite) -> list[int]:
    """The tests in the order the planner starts them cold on one worker."""
    return plan(suite, [None] * len(suite.durations)).order()


def plan(suite: Suite, durations: list[float | None]) -> Planner[int]:
    """A prepared planner of the suite, as the xdist controller builds it
    (ranked by critical path), each test with its duration if known."""
    from pytest_pexen.sched.planner import Planner

    planner: Planner[int] = Planner(critical_path=True)
    for i, duration in enumerate(durations):
        res = suite.claims[i]
        planner.add(
            i,
            requires=[f"t{d}" for d in suite.deps[i]],
            provides=[f"t{i}"],
            claims=[res] if res else [],
            duration=duration,
        )
    planner.prepare()
    return planner


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
        "--compare",
        action="store_true",
        help="on paper: the planner's ranking beside others (see above), medians",
    )
    parser.add_argument(
        "--optimum",
        type=int,
        default=0,
        metavar="M",
        help="with --compare: also the best of M list schedules that know the durations",
    )
    parser.add_argument(
        "--tune",
        type=int,
        default=0,
        metavar="R",
        help="with --compare: also the best fixed order per DAG, tuned on R draws "
        "of the durations and scored on R others (slow: use few seeds)",
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
    if args.compare:
        table: dict[str, list[float]] = {}
        for seed in seeds:
            suite = Suite(args.tests, seed, args.claim_rate)
            for name, ratio in compare(suite, args.optimum, args.tune).items():
                table.setdefault(name, []).append(ratio)
        for name, values in table.items():
            quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
            median, mean = statistics.median(values), statistics.mean(values)
            print(
                f"{name:52s} median {median:.4f}x  "
                f"(quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}, mean {mean:.4f})"
            )
        return
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
            runs: list[tuple[str, Path, tuple[str, ...]]] = [
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
