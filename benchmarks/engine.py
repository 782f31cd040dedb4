"""Engine throughput: our Sched against pexen 0.0.3 and a bare thread pool.

Builds one DAG (N tasks; task i provides "t<i>" and requires 0-2 tags of the
previous 50; priorities 0-3; 5% claim one of 8 resources) and runs it
through:

* our ``Sched`` with ``ThreadWorkerPool(workers=4)``;
* pexen 0.0.3 from PyPI, ``ThreadWorkerPool(workers=4)``, in its own
  virtualenv that this script creates (benchmarks/.venv-pexen003; never a
  project dependency), on the same DAG from the same seed;
* ``concurrent.futures.ThreadPoolExecutor(4).map`` over N no-op callables:
  the floor for any thread-pool engine.

Every task body is a no-op. Prints tasks/s and the ratios (goals: >= 10x
pexen 0.0.3 at 10,000 tasks; >= 0.5x the floor at 50,000).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OLD_VENV = HERE / ".venv-pexen003"


def dag(n: int, seed: int) -> list[dict[str, Any]]:
    """The task graph as plain data, identical for every engine."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        reqs = sorted({f"t{rnd.randrange(max(0, i - 50), i)}" for _ in range(rnd.randint(0, 2))}
                      ) if i else []
        claims = [f"r{rnd.randrange(8)}"] if rnd.random() < 0.05 else []
        out.append({"requires": reqs, "provides": [f"t{i}"], "claims": claims,
                    "priority": rnd.randint(0, 3)})
    return out


def make_tasks(spec: list[dict[str, Any]], assign_val: Any) -> list[Any]:
    tasks = []
    for fields in spec:
        def task() -> None:
            pass
        assign_val(task, **fields)
        tasks.append(task)
    return tasks


def time_engine(n: int, seed: int, repeat: int, old: bool) -> dict[str, float]:
    """Run in this interpreter: ours, or pexen 0.0.3 (in its venv)."""
    if old:
        from pexen import sched  # type: ignore[import-not-found]
    else:
        sys.path.insert(0, str(HERE.parent))
        from pytest_pexen import sched
    spec = dag(n, seed)
    best = float("inf")
    for _ in range(repeat):
        tasks = make_tasks(spec, sched.meta.assign_val)
        start = time.perf_counter()
        s = sched.Sched(tasks)
        pool = sched.pool.ThreadWorkerPool(workers=4)
        done = sum(1 for _ in (s.run(poolinst=pool) if old else s.run(pool)))
        best = min(best, time.perf_counter() - start)
        if done != n:
            raise SystemExit(f"{'pexen 0.0.3' if old else 'ours'} ran {done} of {n} tasks")
    return {"seconds": best}


def old_python() -> Path:
    python = OLD_VENV / "bin" / "python"
    if not python.exists():
        venv.create(OLD_VENV, with_pip=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "pexen==0.0.3"], check=True)
    return python


def time_old(n: int, seed: int, repeat: int, timeout: float) -> float | None:
    cmd = [str(old_python()), __file__, "--worker-old", "--tasks", str(n), "--seed", str(seed),
           "--repeat", str(repeat)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return float(json.loads(proc.stdout.splitlines()[-1])["seconds"])


def time_floor(n: int, repeat: int) -> float:
    noops = [lambda: None for _ in range(n)]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda f: f(), noops))
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of k runs")
    parser.add_argument("--skip-pexen003", action="store_true")
    parser.add_argument("--old-timeout", type=float, default=300)
    parser.add_argument("--worker-old", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_old:
        print(json.dumps(time_engine(args.tasks[0], args.seed, args.repeat, old=True)))
        return
    for n in args.tasks:
        ours = time_engine(n, args.seed, args.repeat, old=False)["seconds"]
        floor = time_floor(n, args.repeat)
        print(f"{n} tasks (best of {args.repeat}):")
        print(f"  ours (Sched, 4 threads):      {n / ours:10.0f} tasks/s")
        print(f"  ThreadPoolExecutor(4) floor:  {n / floor:10.0f} tasks/s   "
              f"ours/floor = {floor / ours:.2f} (goal >= 0.5)")
        if not args.skip_pexen003:
            old = time_old(n, args.seed, 1, args.old_timeout)
            if old is None:
                print(f"  pexen 0.0.3:                  did not finish in {args.old_timeout:.0f} s"
                      f"   ours/pexen003 > {args.old_timeout / ours:.0f}x")
            else:
                print(f"  pexen 0.0.3 (4 threads):      {n / old:10.0f} tasks/s   "
                      f"ours/pexen003 = {old / ours:.1f}x (goal >= 10)")


if __name__ == "__main__":
    main()
