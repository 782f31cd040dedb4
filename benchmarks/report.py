"""Cost of the xUnit report (issue: several results per test).

2,000 tests (default) with 3 sub-results each: the run with
``--pexen-junitxml`` against the same run without it (goal: <= 1.10x), and
what the report adds against what pytest's own ``--junitxml`` adds to the
same suite without sub-results (goal: pexen's cost <= pytest's). Each
contender runs in a fresh process, in alternating rounds; medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import _bench

PER_FILE = 100


def write_suites(root: Path, tests: int) -> tuple[Path, Path]:
    """The suite with sub-results, and the same tests without them."""
    subs, plain = root / "subs", root / "plain"
    for suite, body in (
        (
            subs,
            (
                "def test_{i}(pexen_results):\n"
                "    pexen_results.add('pass', 'ping')\n"
                "    pexen_results.info('kernel 6.1', name='kernel')\n"
                "    pexen_results.add('pass', 'fans')\n"
            ),
        ),
        (plain, "def test_{i}():\n    pass\n"),
    ):
        suite.mkdir(parents=True)
        (suite / "pytest.ini").write_text("[pytest]\n")
        for f in range(0, tests, PER_FILE):
            text = "\n".join(body.format(i=i) for i in range(f, min(tests, f + PER_FILE)))
            (suite / f"test_{f // PER_FILE:03d}.py").write_text(text)
    return subs, plain


def run(suite: Path, extra: list[str], workers: int) -> float:
    cmd = [
        *_bench.PYTEST,
        "-p",
        "pexen",
        *extra,
    ]
    if workers:
        cmd += ["-p", "xdist", "-n", str(workers)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=suite, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--workers", type=int, default=0, help="-n for xdist (0: serial)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subs, plain = write_suites(Path(tmp), args.tests)
        contenders = {
            "sub-results, no report": (subs, []),
            "sub-results, --pexen-junitxml": (subs, ["--pexen-junitxml=ours.xml"]),
            "plain, no report": (plain, []),
            "plain, --junitxml (pytest)": (plain, ["--junitxml=theirs.xml"]),
        }
        for suite, extra in contenders.values():  # warm caches, check the suites pass
            run(suite, extra, args.workers)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, (suite, extra) in contenders.items():
                times[name].append(run(suite, extra, args.workers))
        testcases = ET.parse(subs / "ours.xml").getroot().get("tests")
    med = {name: statistics.median(values) for name, values in times.items()}
    base, ours = med["sub-results, no report"], med["sub-results, --pexen-junitxml"]
    plain_base, theirs = med["plain, no report"], med["plain, --junitxml (pytest)"]
    mode = f"-n {args.workers}" if args.workers else "serial"
    print(
        f"{args.tests} tests x 3 sub-results ({testcases} testcases), {mode}, "
        f"median of {args.rounds} rounds"
    )
    for name, value in med.items():
        print(f"  {name:32s} {value:.3f} s")
    print(f"  --pexen-junitxml adds {ours - base:+.3f} s: ratio {ours / base:.3f} (goal <= 1.10)")
    print(
        f"  pytest's --junitxml adds {theirs - plain_base:+.3f} s on the plain suite: "
        f"pexen's cost / pytest's {(ours - base) / max(theirs - plain_base, 1e-9):.2f} "
        f"(goal <= 1)"
    )


if __name__ == "__main__":
    main()
