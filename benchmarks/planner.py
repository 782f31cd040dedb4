"""The planner alone: 100,000 tasks / 200,000 edges to completion, simulated.

No pool and no threads: the graph (each task requires 2 tags among the
previous 50 tasks' own tags) is generated first, then the timer covers
adding the tasks, checking the graph (prepare) and driving it to the end
with 4 simulated workers completing in FIFO order. Goal: under 2 s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_pexen.sched.planner import Planner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    n = args.tasks
    specs = []
    for i in range(n):
        reqs = [f"t{i - rnd.randint(1, 50)}" for _ in range(2)] if i > 50 else []
        specs.append((i, reqs, (f"t{i}",), rnd.randint(0, 3)))
    edges = sum(len(r) for _, r, _, _ in specs)
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        planner: Planner[int] = Planner()
        for key, reqs, provides, priority in specs:
            planner.add(key, requires=reqs, provides=provides, priority=priority)
        planner.prepare()
        built = time.perf_counter()
        running: deque[int] = deque()
        done = 0
        while planner.active:
            running.extend(planner.get_ready(4 - len(running)))
            planner.done(running.popleft())
            done += 1
        end = time.perf_counter()
        assert done == n
        best = min(best, end - start)
        print(f"  build+check {built - start:.2f} s, run {end - built:.2f} s")
    print(
        f"planner: {n} tasks / {edges} edges in {best:.2f} s (best of {args.repeat}); "
        f"{best / 2.0:.2f} of the 2 s budget"
    )


if __name__ == "__main__":
    main()
