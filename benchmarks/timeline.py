"""The timeline page of a 5,000-test run (issue: a timeline page per worker).

A generated suite of tiny tests (a random DAG by node id, some locks, some
sub-results and failures) runs once at ``-n 2`` with a journal. Then, each
in a fresh process, over several rounds:

1. write: what ``--pexen-timeline`` does when the session ends,
   ``write_page`` from the records the journaling process kept (the
   journal's records without their reports, read here beforehand, not
   timed; goal <= 0.5 s); and the same page made afterwards by
   ``python -m pytest_pexen.journal PATH --timeline``: reading the journal
   (every test's reports too) and writing the page, in-process and as a
   whole CLI process, for context. Wall and CPU time: this machine has 2
   cores shared with other work, so the CPU time is the steadier figure;
2. size of the page (goal <= 2 MB);
3. render: headless Chromium loads the page from file:// with
   ``--dump-dom``; the page records ``performance.now()`` when its script
   has drawn every bar and forced a layout (``data-rendered``, time since
   navigation start: parsing the page, its JSON, building and laying out
   the DOM; goal <= 2 s); the wall time of the whole Chromium process
   (start-up and exit included) for context.

``--screenshot PATH`` also saves what the page looks like.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _bench

PER_FILE = 100
WRITE = """
import sys, time
from pathlib import Path
from pytest_pexen.journal import read
from pytest_pexen.timeline.page import write_page
kept = [{k: v for k, v in r.items() if k != "reports"} for r in read(sys.argv[1])]
for records in (kept, read(sys.argv[1])):
    wall, cpu = time.perf_counter(), time.process_time()
    write_page(records, Path(sys.argv[2]))
    print(time.perf_counter() - wall, time.process_time() - cpu)
"""
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def write_suite(root: Path, tests: int, seed: int) -> None:
    rnd = random.Random(seed)
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    for f in range(0, tests, PER_FILE):
        lines = ["import pytest_pexen as pexen", ""]
        for t in range(f, min(tests, f + PER_FILE)):
            if t > f and rnd.random() < 0.3:
                lines.append(f'@pexen.requires("test_{rnd.randrange(f, t)}")')
            if rnd.random() < 0.05:
                lines.append(f'@pexen.claims("lab{rnd.randrange(3)}")')
            if rnd.random() < 0.05:
                lines.append(f"def test_{t}(pexen_results):")
                lines.append('    pexen_results.info("checked")')
                lines.append('    pexen_results.add("pass", name="second")')
            else:
                lines.append(f"def test_{t}():")
            lines.append("    assert 0" if rnd.random() < 0.01 else "    pass")
        (root / f"test_{f // PER_FILE:03d}.py").write_text("\n".join(lines) + "\n")


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def chromium(binary: str, page: Path, *args: str) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as profile:
        start = time.perf_counter()
        done = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--screenshot", type=Path, help="save a screenshot of the page here")
    args = parser.parse_args()
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "suite"
        write_suite(suite, args.tests, args.seed)
        start = time.perf_counter()
        subprocess.run(
            [
                *_bench.BASE,
                "-p",
                "pexen",
                "-n",
                str(args.workers),
                "--pexen-state=j.jsonl",
            ],
            cwd=suite,
            capture_output=True,
            text=True,
            check=False,
        )
        journal = suite / "j.jsonl"
        print(
            f"{args.tests} tests, -n {args.workers}: run {time.perf_counter() - start:.1f} s, "
            f"journal {journal.stat().st_size / 1e6:.1f} MB"
        )
        page = suite / "page.html"
        writes: list[list[float]] = [[], [], [], []]  # kept wall, cpu; journal wall, cpu
        clis = []
        for _ in range(args.rounds):
            done = subprocess.run(
                [sys.executable, "-c", WRITE, str(journal), str(page)],
                capture_output=True,
                text=True,
                check=True,
            )
            for figures, figure in zip(writes, done.stdout.split(), strict=True):
                figures.append(float(figure))
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest_pexen.journal",
                    str(journal),
                    "--timeline",
                    str(page),
                ],
                capture_output=True,
                check=True,
            )
            clis.append(time.perf_counter() - start)
        size = page.stat().st_size
        print(
            f"1. write, median of {args.rounds} (min-max): at the session's end "
            f"{spread(writes[0])} s wall, {spread(writes[1])} s CPU (goal <= 0.5 s); "
            f"from the journal file {spread(writes[2])} s wall, {spread(writes[3])} s CPU; "
            f"whole CLI process {spread(clis)} s wall"
        )
        print(f"2. size {size / 1e6:.2f} MB (goal <= 2 MB)")
        if binary is None:
            print("3. render: skipped, no chromium on PATH")
            return
        renders, walls = [], []
        for _ in range(args.rounds):
            wall, dom = chromium(binary, page, "--dump-dom")
            found = re.search(r'data-rendered="([\d.]+)"', dom)
            bars = len(
                re.findall(r'<b class="bar ', re.sub(r"<script.*?</script>", "", dom, flags=re.S))
            )
            if found is None or bars < args.tests:
                sys.exit(f"the page did not render ({bars} bars)")
            renders.append(float(found.group(1)) / 1000)
            walls.append(wall)
        print(
            f"3. render in headless Chromium ({bars} bars), median of {args.rounds} "
            f"(min-max): {spread(renders)} s (goal <= 2 s); whole Chromium process "
            f"{spread(walls)} s"
        )
        if args.screenshot:
            chromium(
                binary, page, f"--screenshot={args.screenshot.resolve()}", "--window-size=1400,500"
            )
            print(f"screenshot: {args.screenshot}")


if __name__ == "__main__":
    main()
