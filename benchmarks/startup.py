"""What the plugin adds to the start of every pytest process (issue 22, item 6).

A suite of 30 trivial tests (3 files of 10) is run by pytest with the
plugin installed the way users install it (a wheel, not an editable
install: pytest assertion-rewrites the modules of an installed plugin's
package, not those of an editable one) and ``PYTHONDONTWRITEBYTECODE=1``, as
in many container images. Contenders, each run a fresh process, taken in
alternating rounds (which goes first rotates):

* ``-p no:pexen`` (the anchor) and the plugin, serial (goal: <= +0.02 s);
* the same at ``-n 2`` (goal: <= +0.05 s): the controller and both workers
  start the plugin.

The plugin runs twice per round: named with ``-p pexen`` (as the README
shows it; pytest then looks through every installed distribution's entry
points once more to find it) and loaded by pytest's entry-point autoload
alone (no ``-p``: how an installed plugin is usually met).

Prints, per figure, the median of the pairs' differences with their spread
(min-max), the median times and their ratio, and the difference of the
best runs, in wall time and in CPU time
(user + system of pytest and the processes it waited for, which the load
of other processes changes less than the wall time).

The virtualenv is ``benchmarks/.venv-startup`` (git-ignored, see
``_bench.clean_python``).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import _bench


def write_suite(root: Path) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    for m in range(3):
        body = "\n\n".join(f"def test_{i}():\n    assert {i} == {i}\n" for i in range(10))
        (root / f"test_m{m}.py").write_text(body)


def run(exe: Path, root: Path, plugin: str, workers: int, extra: list[str]) -> tuple[float, float]:
    """One pytest process; its (wall, CPU) seconds. ``plugin`` "autoload":
    no ``-p`` at all."""
    cmd = [str(exe), "-m", "pytest", "-q", *extra]
    if plugin != "autoload":
        cmd[3:3] = ["-p", plugin]
    if workers:
        cmd += ["-n", str(workers)]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or "30 passed" not in proc.stdout:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def summary(label: str, anchor: list[float], ours: list[float], goal: float) -> str:
    """The median of the pairs' differences with their spread, and the
    difference of the best runs: a slow spell of a shared machine only ever
    adds time, so each contender's fastest run is the one it disturbed
    least (the figure to read when the spread is wider than the goal)."""
    diffs = [o - a for o, a in zip(ours, anchor, strict=True)]
    base, mine = statistics.median(anchor), statistics.median(ours)
    return (
        f"  {label:5s} {statistics.median(diffs):+.3f} s (spread {min(diffs):+.3f} to "
        f"{max(diffs):+.3f}; goal <= +{goal:.2f})   median {base:.3f} -> {mine:.3f} s "
        f"= {mine / base:.2f}x; best {min(anchor):.3f} -> {min(ours):.3f} s "
        f"= {min(ours) - min(anchor):+.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=7, help="pairs per figure (default 7)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="0: serial")
    parser.add_argument(
        "--pytest-args",
        default="",
        help="more pytest arguments for both contenders, e.g. '-p no:cacheprovider' (which "
        "also turns pexen's default journal off)",
    )
    args = parser.parse_args()
    exe = _bench.clean_python()
    extra = args.pytest_args.split()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_suite(root)
        for workers in args.workers:
            contenders = ["no:pexen", "pexen", "autoload"]
            times: dict[str, list[tuple[float, float]]] = {c: [] for c in contenders}
            run(exe, root, "pexen", workers, extra)  # warm the page cache, not counted
            for n in range(args.pairs):
                for plugin in contenders[n % 3 :] + contenders[: n % 3]:
                    times[plugin].append(run(exe, root, plugin, workers, extra))
            goal = 0.05 if workers else 0.02
            name = f"-n {workers}" if workers else "serial"
            print(f"{name}, 30 tests, median of {args.pairs} pairs, each run a fresh process:")
            for plugin, title in (("pexen", "-p pexen"), ("autoload", "autoloaded")):
                print(f" {title}:")
                for i, label in enumerate(("wall", "CPU")):
                    anchor = [t[i] for t in times["no:pexen"]]
                    ours = [t[i] for t in times[plugin]]
                    print(summary(label, anchor, ours, goal))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
