"""Engine throughput: our Sched against a bare thread pool and pexen 0.0.3.

One DAG of N tasks (task i provides "t<i>" and requires 0-2 tags of the
previous 50; priorities 0-3; 5% claim one of 8 resources), run by:

* ours: ``Sched(tasks).run(ThreadWorkerPool(workers=4))``;
* floor: ``concurrent.futures.ThreadPoolExecutor(4).map`` calling the same
  task callables, without any scheduling: the floor for any thread-pool
  engine;
* pexen 0.0.3 from PyPI, ``ThreadWorkerPool(workers=4)``, in its own
  virtualenv made from this interpreter (benchmarks/.venv-pexen003, created
  on first use; never a project dependency), on the same DAG.

Every contender is measured the same way: each measurement is a fresh
process of its own (a process that has just run 50,000 tasks has a large,
fragmented heap and slows whatever it times next), the contenders take turns
round after round, and the best of ``--repeat`` runs counts. Each process
builds its N task callables, all with the same no-op body, before the clock
starts (the two engines attach their metadata, the floor needs none); the
clock covers making the scheduler or executor, running every task and
collecting every result, and shutting the pool down.

Prints tasks/s and the ratios (goals: ours >= 0.8x the floor at 50,000
tasks; ours >= 15x pexen 0.0.3 at 10,000), by wall time and by CPU time.
Each process keeps only its task callables alive when the clock starts
(the DAG spec they were made from is dropped, and the heap collected): a
floor process that still held the spec ran its garbage collections over it
and looked 10-20% slower than it is. Each has its engine's modules
imported by then (pytest-pexen imports them on first use, some 10 ms of
importing multiprocessing among them; the floor's executor is imported
before its clock too).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import time
import venv
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OLD_VENV = HERE / ".venv-pexen003"
CONTENDERS = {
    "ours": "ours (Sched, ThreadWorkerPool(4))",
    "floor": "floor (ThreadPoolExecutor(4).map)",
    "pexen003": "pexen 0.0.3 (ThreadWorkerPool(4))",
}


def dag(n: int, seed: int) -> list[dict[str, Any]]:
    """The task graph as plain data, identical for every contender."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        picks = rnd.randint(0, 2)
        reqs = sorted({f"t{rnd.randrange(max(0, i - 50), i)}" for _ in range(picks)}) if i else []
        claims = [f"r{rnd.randrange(8)}"] if rnd.random() < 0.05 else []
        out.append(
            {
                "requires": reqs,
                "provides": [f"t{i}"],
                "claims": claims,
                "priority": rnd.randint(0, 3),
            }
        )
    return out


def make_tasks(
    spec: list[dict[str, Any]], assign_val: Callable[..., Any] | None
) -> list[Callable[[], None]]:
    """One no-op callable per task, with its metadata if ``assign_val``."""
    tasks = []
    for fields in spec:

        def task() -> None:
            pass

        if assign_val is not None:
            assign_val(task, **fields)
        tasks.append(task)
    return tasks


def call(fn: Callable[[], None]) -> None:
    fn()


def build(contender: str, n: int, seed: int) -> list[Callable[[], None]]:
    """The task callables of one contender; the DAG spec they were made from
    is dropped on return, so that only the callables stay alive (a 50,000
    entry spec slows the garbage collections of whatever runs next)."""
    spec = dag(n, seed)
    if contender == "floor":
        return make_tasks(spec, None)
    if contender == "pexen003":
        from pexen import sched  # type: ignore[import-not-found]
    else:
        from pytest_pexen import sched
    return make_tasks(spec, sched.meta.assign_val)


def measure(contender: str, n: int, seed: int) -> tuple[float, float]:
    """Run one contender once in this process; the seconds it took, wall
    and CPU (all threads of the process: the load of other processes
    changes it less than the wall time)."""
    if contender == "ours":
        sys.path.insert(0, str(HERE.parent))
    tasks = build(contender, n, seed)
    gc.collect()  # every contender starts from the same clean heap
    if contender == "floor":
        from concurrent.futures import ThreadPoolExecutor

        cpu, start = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(4) as executor:
            done = sum(1 for _ in executor.map(call, tasks))
    else:
        if contender == "pexen003":
            from pexen import sched
        else:
            from pytest_pexen import sched
        # as the floor imports its executor before the clock: pytest-pexen's
        # engine modules are imported on first use, which is not what is timed
        make_sched, make_pool = sched.Sched, sched.pool.ThreadWorkerPool
        cpu, start = time.process_time(), time.perf_counter()
        engine = make_sched(tasks)
        pool = make_pool(workers=4)
        results = engine.run(poolinst=pool) if contender == "pexen003" else engine.run(pool)
        done = sum(1 for _ in results)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if done != n:
        raise SystemExit(f"{contender} ran {done} of {n} tasks")
    return seconds, cpu


def old_python() -> Path:
    python = OLD_VENV / "bin" / "python"
    if not python.exists():
        venv.create(OLD_VENV, with_pip=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "pexen==0.0.3"], check=True)
    return python


def run_fresh(contender: str, n: int, seed: int, timeout: float) -> tuple[float, float] | None:
    """One measurement in a fresh process, (wall, CPU) seconds; None if it
    did not finish in time."""
    python = old_python() if contender == "pexen003" else Path(sys.executable)
    cmd = [str(python), __file__, "--measure", contender, "--tasks", str(n), "--seed", str(seed)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    out = json.loads(proc.stdout.splitlines()[-1])
    return float(out["seconds"]), float(out["cpu"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of k runs (default 3)")
    parser.add_argument(
        "--contenders", nargs="+", choices=list(CONTENDERS), default=list(CONTENDERS)
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120,
        help="seconds one run may take (pexen 0.0.3 needs ~4 min at 50,000)",
    )
    parser.add_argument("--measure", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        seconds, cpu = measure(args.measure, args.tasks[0], args.seed)
        print(json.dumps({"seconds": seconds, "cpu": cpu}))
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    for n in args.tasks:
        runs: dict[str, list[tuple[float, float] | None]] = {c: [] for c in args.contenders}
        for _ in range(args.repeat):
            for contender in args.contenders:
                if None not in runs[contender]:  # once too slow, always too slow
                    runs[contender].append(run_fresh(contender, n, args.seed, args.timeout))
        best = {c: min((s[0] for s in r if s is not None), default=None) for c, r in runs.items()}
        best_cpu = {
            c: min((s[1] for s in r if s is not None), default=None) for c, r in runs.items()
        }
        print(f"{n} tasks, best of {args.repeat}, each run a fresh process:")
        for contender, seconds in best.items():
            spread = " ".join(
                "timeout" if s is None else f"{s[0]:.3f} s ({s[1]:.3f} CPU)"
                for s in runs[contender]
            )
            rate = (
                f"{n / seconds:10.0f} tasks/s" if seconds else f"> {args.timeout:.0f} s".rjust(17)
            )
            print(f"  {CONTENDERS[contender]:36s}{rate}   runs: {spread}")
        ours, ours_cpu = best.get("ours"), best_cpu.get("ours")
        floor, floor_cpu = best.get("floor"), best_cpu.get("floor")
        if ours and floor and ours_cpu and floor_cpu:
            print(
                f"  ours/floor = {floor / ours:.2f} wall, {floor_cpu / ours_cpu:.2f} CPU "
                "(goal >= 0.8 at 50,000)"
            )
        if ours and "pexen003" in best:
            old = best["pexen003"]
            ratio = f"{old / ours:.1f}x" if old else f"> {args.timeout / ours:.0f}x"
            print(f"  ours/pexen 0.0.3 = {ratio} (goal >= 15 at 10,000)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
