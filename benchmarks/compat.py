"""A real pytest-dependency / pytest-order suite at ``-n 2`` with pexen.

Runs the suite in ``--suite DIR`` plainly and serially (``-p no:pexen``,
the anchor) and with pexen at ``-n N``, alternating, and prints: whether
every test ended the same way (outcome and skip reason, compared test by
test), the median wall times and the ratio ``-n N`` / serial. For contrast
it also runs plain xdist (``-p no:pexen -n N``) once and counts the tests
whose outcome differs there.

The suite and its dependencies are the caller's to set up (see
benchmarks/README.md for the suites used); ``--env KEY=VALUE`` adds to the
environment, arguments after ``--`` go to pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECORDER = """
import json, os

WORKER = []

def pytest_configure(config):
    WORKER.append(hasattr(config, "workerinput"))

def pytest_runtest_logreport(report):
    if WORKER[-1] or (report.passed and report.when != "call"):
        return
    reason = ""
    if report.skipped and isinstance(report.longrepr, (tuple, list)):
        reason = str(report.longrepr[2])
    kind = report.outcome
    if hasattr(report, "wasxfail"):
        kind = "xfailed" if report.skipped else "xpassed"
    with open(os.environ["COMPAT_BENCH_LOG"], "a") as log:
        log.write(json.dumps([report.nodeid, report.when, kind, reason]) + "\\n")
"""


def run(suite: Path, env: dict[str, str], log: Path, args: list[str]) -> float:
    log.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "compat_bench_recorder",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        *args,
    ]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=suite, env={**env, "COMPAT_BENCH_LOG": str(log)}, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1) or not log.exists():
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return elapsed


def outcomes(log: Path) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for line in log.read_text().splitlines():
        nodeid, when, kind, reason = json.loads(line)
        out.setdefault(nodeid, []).append((when, kind, reason))
    return out


def differing(
    a: dict[str, list[tuple[str, str, str]]], b: dict[str, list[tuple[str, str, str]]]
) -> list[str]:
    return sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, required=True, help="folder to run pytest in")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "compat_bench_recorder.py").write_text(RECORDER)
        env = dict(os.environ)
        env.update(pair.split("=", 1) for pair in args.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tmp, env.get("PYTHONPATH")) if p)
        serial_args = ["-p", "no:pexen", "-p", "no:xdist", *args.pytest_args]
        pexen_args = ["-p", "pexen", "-n", str(args.workers), *args.pytest_args]
        logs = {name: Path(tmp, f"{name}.jsonl") for name in ("serial", "pexen", "xdist")}
        run(args.suite, env, logs["serial"], serial_args)  # warm caches
        serial, pexen, mismatches = [], [], set()
        for _ in range(args.rounds):
            serial.append(run(args.suite, env, logs["serial"], serial_args))
            anchor = outcomes(logs["serial"])
            pexen.append(run(args.suite, env, logs["pexen"], pexen_args))
            mismatches.update(differing(anchor, outcomes(logs["pexen"])))
        run(
            args.suite,
            env,
            logs["xdist"],
            ["-p", "no:pexen", "-n", str(args.workers), *args.pytest_args],
        )
        plain_xdist = differing(anchor, outcomes(logs["xdist"]))
    se, pe = statistics.median(serial), statistics.median(pexen)
    counts: dict[str, int] = {}
    for results in anchor.values():
        kind = next((k for w, k, _ in results if k != "passed" or w == "call"), "passed")
        counts[kind] = counts.get(kind, 0) + 1
    print(f"{args.suite}: {len(anchor)} tests {counts}, median of {args.rounds} rounds")
    print(f"  plain serial (anchor): {se:.2f} s")
    print(f"  pexen -n {args.workers}:          {pe:.2f} s  ratio {pe / se:.3f}")
    print(
        f"  outcomes of pexen -n {args.workers} differing from serial, over all rounds: "
        f"{len(mismatches)}{' ' + str(sorted(mismatches)[:5]) if mismatches else ''}"
    )
    print(f"  (plain xdist -n {args.workers}, no pexen: {len(plain_xdist)} tests differ)")


if __name__ == "__main__":
    main()
