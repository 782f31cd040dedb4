"""``python -m pytest_pexen.journal PATH [--follow [--timeout S] | --timeline FILE.html]``:
a journal's summary, live or afterwards, or its timeline page.

The command line lives apart from the reader API (format.py) so that the
journal package never imports the timeline, which reads journals.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .format import GAP_FINISHED, JournalError, Record, follow, read


def _line(record: Record) -> str:
    outcome = str(record.get("outcome", "?")).upper()
    worker = f" [{record['worker']}]" if record.get("worker") else ""
    boot = f" (boot {record['boot']})" if record.get("boot") else ""
    # written again: a fixture it kept for the next test failed its teardown,
    # or added sub-results there
    again = " (again, after the teardown of a fixture it kept)" if record.get("replaces") else ""
    duration = record.get("duration") or 0.0
    return f"{outcome:6} {record.get('test')} {duration:.2f}s{worker}{boot}{again}"


def summary(records: Iterator[Record], out: IO[str]) -> int:
    """Print one line per finished test as the records come, then the
    totals; the number of tests that did not pass (for the exit code)."""
    header: Record = {}
    # each test's outcomes, in order: a suite can collect several tests
    # under one node id (pyyaml's does), each journaled in its turn
    ended: dict[str, list[str]] = {}
    running: set[str] = set()
    stop: Record | None = None
    for record in records:
        kind = record["type"]
        if kind == "run":  # first, or again: a new run rewrote the file being followed
            header, stop = record, None
            ended.clear()
            running.clear()
            out.write(f"pexen run {record.get('id')}: {len(record.get('tests', []))} tests\n")
        elif kind == "start":
            running.add(record["test"])
        elif kind == "end":
            running.discard(record["test"])
            ended.setdefault(record["test"], []).append(str(record.get("outcome")))
            out.write(_line(record) + "\n")
        elif kind == "boot":
            for test in sorted(running):
                out.write(f"STOPPED {test} (was running when the run stopped)\n")
            running.clear()
            out.write(f"-- boot {record.get('boot')}: resumed\n")
        elif kind == "back":
            running.discard(record["test"])
        elif kind == "reboot":
            running.discard(record["test"])
            out.write(f"REBOOT {record['test']} (boot {record.get('boot', 0)})\n")
        elif kind == "stop":
            stop = record
        elif kind == "gap":  # follow(): the journal lost records, nothing more comes
            header = {**header, "gap": record["gap"]}
        out.flush()
    tests: list[str] = header.get("tests", [])
    times = Counter(tests)  # how many tests have each node id
    counts: dict[str, int] = {}
    finished = failed = 0
    for test, outcomes in ended.items():
        for outcome in outcomes[-times.get(test, 1) :]:  # its last ones
            counts[outcome] = counts.get(outcome, 0) + 1
            finished += 1
            failed += outcome in ("fail", "error")
    total = len(tests)
    parts = [f"{n} {word}" for word, n in sorted(counts.items())]
    left = max(total - finished, 0)
    gap = header.get("gap")
    if left:
        # records lost: what became of the rest is not in the journal
        parts.append(f"{left} {'unknown' if gap else 'not finished'}")
    state = f"stopped: {stop.get('reason')}" if stop else "no stop record (running or killed)"
    if gap == GAP_FINISHED:
        state = "records lost (the journal could not be written), but the run finished"
    elif gap:
        state = "records lost (the journal could not be written) from there on"
    out.write(f"{finished} of {total} tests finished: {', '.join(parts) or 'none'}; {state}\n")
    return failed + left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_pexen.journal",
        description="Summarise a pytest-pexen journal (--pexen-state).",
    )
    parser.add_argument("path", help="the journal file")
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--follow", action="store_true", help="print results as the run writes them, until it stops"
    )
    how.add_argument(
        "--timeline",
        metavar="FILE.html",
        help="write the run's timeline page (every boot) instead of the summary",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="with --follow: end after S seconds without a new record "
        "(a killed run writes no stop record)",
    )
    args = parser.parse_args(argv)
    if args.timeout is not None and (not args.follow or args.timeout <= 0):
        parser.error("--timeout S needs --follow and S > 0")
    if args.timeline:
        return _timeline(args.path, Path(args.timeline))
    try:
        records = follow(args.path, timeout=args.timeout) if args.follow else read(args.path)
        bad = summary(records, sys.stdout)
    except JournalError as exc:
        print(f"pexen journal: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 1 if bad else 0


def _timeline(path: str, page: Path) -> int:
    """``--timeline``: 0 once written, 2 for a file that is not a journal or
    a page that cannot be written (one line on stderr either way)."""
    from ..timeline.page import write_page

    try:
        timeline = write_page(read(path), page)
    except JournalError as exc:
        print(f"pexen journal: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pexen journal: cannot write {page}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"timeline written to {page}: {timeline.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
