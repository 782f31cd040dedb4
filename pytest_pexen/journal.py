"""The journal: every run's record of what started and how it ended.

An append-only JSON-lines file (``--pexen-state``), written by the one
process that sees every report (the serial process, or the xdist
controller). It is what ``--pexen-resume`` continues from after a crash or a
reboot, and a live result stream that another process may follow while the
run goes on. JSON only: reading a journal never runs code.

Records (format 1; each a JSON object on one line, ``type`` first):

- ``run``: the header: ``format``, ``id``, ``t`` (epoch seconds),
  ``pexen`` (version), ``tests`` (selected node ids, sorted), ``identity``
  (hash of the tests and the options that change outcomes), ``options``.
- ``boot``: a ``--pexen-resume`` continues the run: ``boot`` (1, 2, ...).
- ``start``: ``test``, ``t``, ``worker`` (xdist id or null), ``boot``.
- ``end``: ``test``, ``t``, ``outcome`` (pass, fail, error, skip, xfail,
  xpass, warn, info), ``duration``, ``results`` (sub-results), ``shared``,
  ``provides``, ``ok``/``deps_ok``/``locks_ok``/``why`` (what the planner
  was told), ``worker``, ``boot``, ``reports`` (the test's reports, to
  report them again on resume: a plain passed phase as ``[when, duration,
  start, stop]``, any other as pytest serialises it for xdist).
- ``report``: a report of a test that had already ended (a fixture it kept
  torn down later): ``test``, ``report``.
- ``reboot``: the test asked for a reboot: ``test``, ``t``, ``boot``,
  ``command``.
- ``stop``: the run stopped: ``t``, ``reason`` (finished, reboot,
  interrupted, timeout), ``exitstatus``.

A test that has a ``start`` but no ``end`` was running when the run
stopped (a kill, a power loss, or its own reboot): on resume it runs again,
its boot count one higher. A torn last line (the writer was killed
mid-line) is ignored; any other line that is not a JSON object makes the
journal unreadable.

``python -m pytest_pexen.journal PATH [--follow]`` prints a summary.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FORMAT = 1
Record = dict[str, Any]


class JournalError(Exception):
    """The journal cannot be read (not JSON lines, not a pexen journal,
    a format this version does not know)."""


def _parse(line: bytes, path: Path, number: int) -> Record:
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        raise JournalError(f"{path}:{number}: not a pexen journal record")
    return record


def read(path: str | os.PathLike[str]) -> Iterator[Record]:
    """The records of a journal, in order. A torn last line is left out;
    a bad line before it raises JournalError, as does a first record that
    is not a pexen run header."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: empty, or a torn record
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = _parse(line, path, number)
        if number == 1:
            _check_header(record, path)
        yield record
    if torn.strip() and not lines:
        raise JournalError(f"{path}: not a pexen journal (no complete header line)")


def _check_header(record: Record, path: Path) -> None:
    if record.get("type") != "run":
        raise JournalError(f"{path}: not a pexen journal (no run header)")
    if record.get("format") != FORMAT:
        raise JournalError(
            f"{path}: journal format {record.get('format')!r}; this "
            f"pytest-pexen reads format {FORMAT}"
        )


def follow(
    path: str | os.PathLike[str], poll: float = 0.1, timeout: float | None = None
) -> Iterator[Record]:
    """The records of a journal as the run writes them: first those already
    there, then each new one as it is completed. Ends after a ``stop``
    record, or when nothing new arrived for ``timeout`` seconds (None: wait
    as long as it takes; a killed run never writes ``stop``). A journal
    started anew (a fresh run at the same path) is followed from its start."""
    path = Path(path)
    handle: IO[bytes] | None = None
    buffer = b""
    number = 0
    idle_since = time.monotonic()
    try:
        while True:
            if handle is None:
                try:
                    handle = path.open("rb")
                except FileNotFoundError:
                    handle = None
            chunk = handle.read() if handle is not None else b""
            if chunk:
                idle_since = time.monotonic()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    number += 1
                    record = _parse(line, path, number)
                    if number == 1:
                        _check_header(record, path)
                    yield record
                    if record["type"] == "stop":
                        return
                continue
            if timeout is not None and time.monotonic() - idle_since > timeout:
                return
            if handle is not None and _replaced(handle, path):
                handle.close()
                handle, buffer = None, b""
                continue
            time.sleep(poll)
    finally:
        if handle is not None:
            handle.close()


def _replaced(handle: IO[bytes], path: Path) -> bool:
    """The file at ``path`` is no longer the one open (a new run rewrote it)."""
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except OSError:
        return False


@dataclass
class State:
    """What a journal says about its run, for resuming it and summing it up."""

    header: Record
    ended: dict[str, Record] = field(default_factory=dict)  # in the order they ended
    late: list[Record] = field(default_factory=list)  # "report" records
    interrupted: dict[str, int] = field(default_factory=dict)  # test -> times
    boot: int = 0  # boots so far (the first run is boot 0)
    stop: Record | None = None  # the last stop record, if the run ended cleanly
    reboot: Record | None = None  # the last reboot request
    running: dict[str, Record] = field(default_factory=dict)  # started, not ended yet

    @property
    def tests(self) -> list[str]:
        tests: list[str] = self.header.get("tests", [])
        return tests


def load(path: str | os.PathLike[str]) -> State:
    """Read a whole journal into a State (JournalError if unreadable)."""
    state: State | None = None
    for record in read(path):
        kind = record["type"]
        if state is None:
            state = State(record)
            continue
        test = record.get("test")
        if kind == "start" and isinstance(test, str):
            state.running[test] = record
        elif kind == "end" and isinstance(test, str):
            state.running.pop(test, None)
            state.ended.pop(test, None)
            state.ended[test] = record
        elif kind == "report":
            state.late.append(record)
        elif kind == "reboot":
            state.reboot = record
            state.stop = None
        elif kind == "boot":
            _interrupt(state)
            state.boot = int(record.get("boot", state.boot + 1))
            state.stop = None
        elif kind == "stop":
            state.stop = record
    if state is None:
        raise JournalError(f"{path}: empty journal")
    return state


def _interrupt(state: State) -> None:
    """A boot ends: what was still running was interrupted."""
    for test in state.running:
        state.interrupted[test] = state.interrupted.get(test, 0) + 1
    state.running.clear()


def boot_counts(state: State) -> dict[str, int]:
    """Each interrupted test's boot count for the next boot: how often the
    run stopped while it was running (its own reboots included)."""
    counts = dict(state.interrupted)
    for test in state.running:
        counts[test] = counts.get(test, 0) + 1
    return counts


# the data and the file size, without other metadata (mtime): what a reader needs
_datasync = getattr(os, "fdatasync", os.fsync)
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=repr)
_string: Any = json.encoder.encode_basestring_ascii  # as _ENCODER writes a str


def start_line(test: str, t: float, worker: str | None, boot: int) -> str:
    """The ``start`` record, as ``_ENCODER`` would write it: every test has
    one, so it is formatted directly (the general encoder costs a few
    microseconds more a record, which is most of the journal's cost)."""
    worker_json = "null" if worker is None else _string(worker)
    return (
        f'{{"type":"start","test":{_string(test)},"t":{t!r},"worker":{worker_json},"boot":{boot}}}'
    )


def plain_end_line(
    test: str,
    t: float,
    duration: float,
    worker: str | None,
    boot: int,
    start: float,
    location: tuple[str, int | None, str],
    ran: list[float] | None,
    phases: list[list[Any]],
) -> str:
    """The ``end`` record of a test that passed and carries nothing but its
    times (no sub-results, shared state or provides; every report a plain
    passed phase ``[when, duration, start, stop]``), as ``_ENCODER`` would
    write it: the common case, formatted directly for the same reason."""
    worker_json = "null" if worker is None else _string(worker)
    path, lineno, name = location
    ran_json = "null" if ran is None else f"[{ran[0]!r},{ran[1]!r}]"
    reports = ",".join(
        [f"[{_string(when)},{took!r},{begin!r},{stop!r}]" for when, took, begin, stop in phases]
    )
    return (
        f'{{"type":"end","test":{_string(test)},"t":{t!r},"outcome":"pass",'
        f'"duration":{duration!r},"results":[],"shared":null,"provides":[],"ok":true,'
        f'"deps_ok":true,"locks_ok":true,"why":null,"worker":{worker_json},"boot":{boot},'
        f'"start":{start!r},"location":[{_string(path)},'
        f"{'null' if lineno is None else int(lineno)},{_string(name)}],"
        f'"ran":{ran_json},"reports":[{reports}]}}'
    )


class Writer:
    """Appends records; each goes through to the OS at once, so a killed
    process loses nothing. ``fsync``: ``auto`` also syncs to disk at most
    once a second and on ``sync()``; ``always`` after every record;
    ``never`` not at all."""

    def __init__(self, path: Path, fsync: str, fresh: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if fresh else 0)
        self.fd = os.open(path, flags, 0o644)
        self.path = path
        self.fsync = fsync
        self.synced = time.monotonic()
        self.deferred = False  # with always: a record written, its sync left to the next
        if not fresh:
            self._end_torn_line()

    def _end_torn_line(self) -> None:
        """A killed writer may have left half a line: cut it off, so that
        the next record starts a line of its own (a torn line in the middle
        would make the journal unreadable)."""
        size = os.fstat(self.fd).st_size
        if size == 0:
            return
        with self.path.open("rb") as handle:
            handle.seek(max(0, size - 65536))
            tail = handle.read()
        cut = tail.rfind(b"\n")
        keep = size - (len(tail) - cut - 1) if cut >= 0 else size - len(tail)
        if keep != size:
            os.truncate(self.path, keep)

    def write(self, record: Record, deferred: bool = False) -> None:
        """Append one record. What is not JSON (a plugin's object on a
        report, say) is written as its repr: the journal never fails a run."""
        self.write_line(_ENCODER.encode(record), deferred)

    def write_line(self, line: str, deferred: bool = False) -> None:
        """Append one record already formatted as a JSON object.
        ``deferred``: with ``always``, leave the sync to the next record (or
        ``sync()``), which is written before any more test code runs: the
        serial run's end record, synced with the next test's start."""
        os.write(self.fd, line.encode() + b"\n")
        if self.fsync == "always":
            self.deferred = deferred
            if not deferred:
                _datasync(self.fd)
        elif self.fsync == "auto" and time.monotonic() - self.synced >= 1.0:
            self.sync()

    def sync_deferred(self) -> None:
        """Sync a record whose sync was left to the next one (see
        ``write_line``) now: no record follows it before other code runs."""
        if self.deferred:
            self.sync()

    def sync(self) -> None:
        """To disk now (at the end, before the process exits); not with
        ``never``."""
        if self.fsync != "never":
            _datasync(self.fd)
            self.synced = time.monotonic()
            self.deferred = False

    def close(self) -> None:
        self.sync()
        os.close(self.fd)


# ------------------------------------------------------------ the summary
def _line(record: Record) -> str:
    outcome = str(record.get("outcome", "?")).upper()
    worker = f" [{record['worker']}]" if record.get("worker") else ""
    boot = f" (boot {record['boot']})" if record.get("boot") else ""
    duration = record.get("duration") or 0.0
    return f"{outcome:6} {record.get('test')} {duration:.2f}s{worker}{boot}"


def summary(records: Iterator[Record], out: IO[str]) -> int:
    """Print one line per finished test as the records come, then the
    totals; the number of tests that did not pass (for the exit code)."""
    header: Record = {}
    ended: dict[str, str] = {}
    running: set[str] = set()
    stop: Record | None = None
    for record in records:
        kind = record["type"]
        if kind == "run":
            header = record
            out.write(f"pexen run {record.get('id')}: {len(record.get('tests', []))} tests\n")
        elif kind == "start":
            running.add(record["test"])
        elif kind == "end":
            running.discard(record["test"])
            ended[record["test"]] = str(record.get("outcome"))
            out.write(_line(record) + "\n")
        elif kind == "boot":
            for test in sorted(running):
                out.write(f"STOPPED {test} (was running when the run stopped)\n")
            running.clear()
            out.write(f"-- boot {record.get('boot')}: resumed\n")
        elif kind == "reboot":
            running.discard(record["test"])
            out.write(f"REBOOT {record['test']} (boot {record.get('boot', 0)})\n")
        elif kind == "stop":
            stop = record
        out.flush()
    counts: dict[str, int] = {}
    for outcome in ended.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    total = len(header.get("tests", []))
    parts = [f"{n} {word}" for word, n in sorted(counts.items())]
    left = total - len(ended)
    if left:
        parts.append(f"{left} not finished")
    state = f"stopped: {stop.get('reason')}" if stop else "no stop record (running or killed)"
    out.write(f"{len(ended)} of {total} tests finished: {', '.join(parts) or 'none'}; {state}\n")
    return sum(1 for o in ended.values() if o in ("fail", "error")) + left


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
    args = parser.parse_args(argv)
    if args.timeline:
        return _timeline(args.path, Path(args.timeline))
    try:
        records = follow(args.path) if args.follow else read(args.path)
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
    from .timeline import write_page

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
    # the package's module, not this __main__ copy of it: the timeline
    # raises pytest_pexen.journal.JournalError, which main() must catch
    from pytest_pexen import journal

    sys.exit(journal.main())
