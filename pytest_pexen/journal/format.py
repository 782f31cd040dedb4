"""The journal: every run's record of what started and how it ended.

An append-only JSON-lines file (``--pexen-state``), written by the one
process that sees every report (the serial process, or the xdist
controller). It is what ``--pexen-resume`` continues from after a crash or a
reboot, and a live result stream that another process may follow while the
run goes on. JSON only: reading a journal never runs code.

Records (format 3; each a JSON object on one line, ``type`` first; times
``t`` in epoch seconds, to the microsecond):

- ``run``: the header: ``gap`` first (0; patched in place to 1 when a
  record could not be written, 2 when that run still finished: see
  ``Writer``), ``format``, ``id``, ``t``,
  ``pexen`` (version), ``tests`` (selected node ids, sorted), ``identity``
  (hash of the tests and the options that change outcomes), ``options``.
- ``boot``: a ``--pexen-resume`` continues the run: ``boot`` (1, 2, ...).
- ``start``: ``test``, ``t``, ``worker`` (xdist id), ``boot``.
- ``end``: ``test``, ``t``, ``outcome`` (pass, fail, error, skip, xfail,
  xpass, warn, info), ``duration``, ``results`` (sub-results), ``shared``,
  ``provides``, ``ok``/``deps_ok``/``locks_ok``/``why`` (what the planner
  was told), ``worker``, ``boot``, ``line`` (pytest's location of the
  test is ``(path, line, domain)`` as its node id gives them) or
  ``location`` (when the node id does not give them), ``reports`` (the
  test's reports, to report them again on resume: a plain passed phase as
  ``[when, duration, start, stop]``, ``start`` and ``stop`` relative to the
  record's ``t``, one that printed or logged as ``[..., sections]``; any
  other as pytest serialises it for xdist); ``replaces`` (true: written
  again after a late teardown failed the test, see ``JournalPlugin.
  _ended_again``; a test's last end record is its outcome).
- ``back``: a test sent to an xdist worker that never began it (the run
  stopped first): ``test``, ``t``, ``boot``; it is not running, and runs
  after a resume as if never sent.
- ``report``: a report of a test that had already ended, when no end
  record of it can be written again: ``test``, ``report``.
- ``warning``: a warning a test raised: ``test``, ``warning``
  (``[category, message, filename, lineno]``).
- ``reboot``: the test asked for a reboot: ``test``, ``t``, ``boot``,
  ``command``.
- ``stop``: the run stopped: ``t``, ``reason`` (finished, reboot,
  interrupted, timeout), ``exitstatus``.

A ``start`` or ``end`` field at its usual value is left out (most records
are a passed test's, and most of their fields say nothing): ``DEFAULTS``
has those values, and ``value`` reads a record with them. When a test's
phases ran (``ran``) is read off its reports (``ran``).

A test that has a ``start`` but no ``end`` was running when the run
stopped (a kill, a power loss, or its own reboot): on resume it runs again,
its boot count one higher. A torn last line (the writer was killed
mid-line) is ignored; any other line that is not a JSON object makes the
journal unreadable.

An empty journal, or one cut inside its header line (a power loss in a
run's first second), is no journal (``EmptyJournal``).

``python -m pytest_pexen.journal PATH [--follow [--timeout S]]`` prints a
summary (see ``__main__``).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import pytest

from ..internals import real_monotonic

FORMAT = 3
# the formats read: 3 added the compact form of a passed phase with captured output
READS = (2, 3)
Record = dict[str, Any]
# the values of the start and end fields that a record leaves out
DEFAULTS: dict[str, Any] = {
    "worker": None,
    "boot": 0,
    "results": (),
    "shared": None,
    "provides": (),
    "ok": True,
    "deps_ok": True,
    "locks_ok": True,
    "why": None,
    "replaces": False,
}


class PexenJournalWarning(pytest.PytestCacheWarning):  # type: ignore[misc]
    """The run is not journaled, or not completely (a read-only checkout, a
    full disk, another run holding the journal). A cache warning, as
    pytest's own about a cache it cannot write: a filter for those covers
    it too."""


class JournalError(Exception):
    """The journal cannot be read (not JSON lines, not a pexen journal,
    a format this version does not know)."""


class EmptyJournal(JournalError):
    """The file holds no complete header line: empty, or cut inside its
    first line. Nothing of a run was recorded: for resuming, no journal."""


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
    lines.pop()  # after the last newline: empty, or a torn record (left out)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = _parse(line, path, number)
        if number == 1:
            _check_header(record, path)
        yield record
    if not any(line.strip() for line in lines):
        raise EmptyJournal(f"{path}: empty journal (no complete header line)")


def _check_header(record: Record, path: Path) -> None:
    if record.get("type") != "run":
        raise JournalError(f"{path}: not a pexen journal (no run header)")
    if record.get("format") not in READS:
        raise JournalError(
            f"{path}: journal format {record.get('format')!r}; this "
            f"pytest-pexen reads formats {' and '.join(map(str, READS))}"
        )
    tests = record.get("tests", [])
    if not isinstance(tests, list) or not all(type(test) is str for test in tests):
        raise JournalError(f"{path}: a damaged journal (its header's tests are not node ids)")


def follow(
    path: str | os.PathLike[str], poll: float = 0.1, timeout: float | None = None
) -> Iterator[Record]:
    """The records of a journal as the run writes them: first those already
    there, then each new one as it is completed. Ends after a ``stop``
    record, or when nothing new arrived for ``timeout`` seconds (None: wait
    as long as it takes; a killed run never writes ``stop``), or once the
    journal lost records (its header's ``gap``, set in place: the writer
    writes nothing more), with a last ``{"type": "gap", "gap": N}`` that is
    no record of the file. A journal started anew (a fresh run at the same
    path, which truncates it or replaces it) is followed from its start:
    its ``run`` record comes again."""
    path = Path(path)
    handle: IO[bytes] | None = None
    buffer = b""
    number = 0
    first = b""  # the header line as read: a new run at the same path rewrites it
    idle_since = real_monotonic()
    try:
        while True:
            if handle is None:
                try:
                    handle = path.open("rb")
                except FileNotFoundError:
                    handle = None
            if handle is not None and _rewritten(handle, first):
                handle.seek(0)
                buffer, number, first = b"", 0, b""
            chunk = handle.read() if handle is not None else b""
            if chunk:
                idle_since = real_monotonic()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    number += 1
                    record = _parse(line, path, number)
                    if number == 1:
                        _check_header(record, path)
                        first = line + b"\n"
                    yield record
                    if record["type"] == "stop":
                        return
                continue
            gap = _gap(handle) if handle is not None and first else NO_GAP
            if gap != NO_GAP:
                yield {"type": "gap", "gap": gap}
                return
            if timeout is not None and real_monotonic() - idle_since > timeout:
                return
            if handle is not None and _replaced(handle, path):
                handle.close()
                handle, buffer, number, first = None, b"", 0, b""
                continue
            time.sleep(poll)
    finally:
        if handle is not None:
            handle.close()


def _rewritten(handle: IO[bytes], first: bytes) -> bool:
    """The open file was truncated (a fresh run starts it anew in place):
    it is shorter than what was read, or no longer starts with the header
    line read from it (but for its ``gap``, which the writer sets in place)."""
    fd = handle.fileno()
    if os.fstat(fd).st_size < handle.tell():
        return True
    if not first:
        return False
    now = os.pread(fd, len(first), 0)
    at = len(GAP_PREFIX)
    if first.startswith(GAP_PREFIX) and len(now) == len(first):
        return now[:at] + now[at + 1 :] != first[:at] + first[at + 1 :]
    return now != first


def _gap(handle: IO[bytes]) -> int:
    """The ``gap`` the header of the open journal says now."""
    head = os.pread(handle.fileno(), len(GAP_PREFIX) + 1, 0)
    digit = head[len(GAP_PREFIX) :]
    return int(digit) if head.startswith(GAP_PREFIX) and digit.isdigit() else NO_GAP


def _replaced(handle: IO[bytes], path: Path) -> bool:
    """The file at ``path`` is no longer the one open (a new run rewrote it)."""
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except OSError:
        return False


class State:
    """What a journal says about its run, for resuming it and summing it up.
    A plain class, not a dataclass: those are compiled at import, and every
    pytest process imports this module."""

    def __init__(self, header: Record) -> None:
        self.header = header
        self.ended: dict[str, Record] = {}  # in the order they ended
        # a node id the header lists more than once (a collector can give
        # several tests one): the end records before its last, in order
        self.repeats: dict[str, list[Record]] = {}
        # each test's warnings ("warning" records: [category, message,
        # filename, lineno]), those of a test that did not end dropped
        self.warnings: dict[str, list[Any]] = {}
        self.late: list[Record] = []  # "report" records
        self.interrupted: dict[str, int] = {}  # test -> times
        self.boot = 0  # boots so far (the first run is boot 0)
        self.stop: Record | None = None  # the last stop record, if the run ended cleanly
        self.reboot: Record | None = None  # the last reboot request
        self.running: dict[str, Record] = {}  # started, not ended yet
        # the run's time so far: each boot's, from its first record to its last
        self.elapsed = 0.0
        self.last = 0.0  # the time of its last record

    @property
    def tests(self) -> list[str]:
        tests: list[str] = self.header.get("tests", [])
        return tests


def load(path: str | os.PathLike[str]) -> State:
    """Read a whole journal into a State (JournalError if unreadable)."""
    state: State | None = None
    first = last = 0.0  # the current boot's first and last record times
    shared: set[str] = set()  # node ids the header lists more than once
    for record in read(path):
        kind = record["type"]
        t = record.get("t")
        if state is None:
            state = State(record)
            first = last = t if isinstance(t, float) else 0.0
            shared = {test for test, times in Counter(state.tests).items() if times > 1}
            continue
        if isinstance(t, float):
            if kind == "boot":
                state.elapsed += last - first
                first = t
            last = t
        test = record.get("test")
        if kind == "start" and isinstance(test, str):
            state.running[test] = record
        elif kind == "back" and isinstance(test, str):
            state.running.pop(test, None)
        elif kind == "end" and isinstance(test, str):
            _check_reports(record, path)
            state.running.pop(test, None)
            earlier = state.ended.pop(test, None)
            if earlier is not None and test in shared:
                state.repeats.setdefault(test, []).append(earlier)
            state.ended[test] = record
        elif kind == "report":
            state.late.append(record)
        elif kind == "warning" and isinstance(test, str):
            state.warnings.setdefault(test, []).append(record.get("warning"))
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
        raise EmptyJournal(f"{path}: empty journal")
    state.elapsed += last - first
    state.last = last
    return state


def _check_reports(record: Record, path: str | os.PathLike[str]) -> None:
    """An end record's compact reports (``[when, duration, start, stop,
    ...]``) are what a resume can report again; a damaged one is a
    ``JournalError``, not a traceback in the middle of the resume."""
    reports = record.get("reports") or []
    if not isinstance(reports, list):
        reports = [None]
    t = record.get("t")
    for data in reports:
        if isinstance(data, dict):
            continue
        if (
            isinstance(data, list)
            and 4 <= len(data) <= 6
            and type(data[0]) is str
            and all(type(x) in (int, float) for x in data[1:4])
            and type(t) in (int, float)
        ):
            continue
        raise JournalError(
            f"{path}: a damaged journal (the end record of {record.get('test')} "
            "has a report it cannot read)"
        )


def _interrupt(state: State) -> None:
    """A boot ends: what was still running was interrupted."""
    for test in state.running:
        state.interrupted[test] = state.interrupted.get(test, 0) + 1
        state.warnings.pop(test, None)  # it runs again, and warns again
    state.running.clear()


def boot_counts(state: State) -> dict[str, int]:
    """Each interrupted test's boot count for the next boot: how often the
    run stopped while it was running (its own reboots included)."""
    counts = dict(state.interrupted)
    for test in state.running:
        counts[test] = counts.get(test, 0) + 1
    return counts


def value(record: Record, key: str) -> Any:
    """A start or end record's field, its usual value (``DEFAULTS``) if left out."""
    return record.get(key, DEFAULTS.get(key))


def location(record: Record) -> tuple[str, int | None, str] | None:
    """pytest's ``(path, line, domain)`` of an end record's test: given
    whole, or as its ``line`` when the node id says the rest."""
    given = record.get("location")
    if isinstance(given, list) and len(given) == 3:
        return (given[0], given[1], given[2])
    if "line" in record and isinstance(record.get("test"), str):
        return derived_location(record["test"], record["line"])
    return None


def derived_location(nodeid: str, line: int | None) -> tuple[str, int | None, str]:
    """The location pytest gives a test, from its node id: the file, and the
    names after it joined by dots (``TestX.test_m[1]``)."""
    path, _, names = nodeid.partition("::")
    return (path, line, names.replace("::", "."))


def phase_times(record: Record, phase: list[Any]) -> tuple[float, float]:
    """A plain passed phase's ``start`` and ``stop`` in epoch seconds (the
    record keeps them relative to its ``t``)."""
    t = record["t"]
    return t + phase[2], t + phase[3]


def ran(record: Record) -> tuple[float, float] | None:
    """When the test's first phase began and its last one ended, as measured
    where it ran: from its reports (each that says), or the ``ran`` of a
    record kept without them; None if nothing says."""
    given = record.get("ran")
    if given is not None:
        return (given[0], given[1]) if isinstance(given, list) and len(given) == 2 else None
    begin = end = None
    for data in record.get("reports") or ():
        if (
            isinstance(data, list)
            and len(data) in (4, 5)
            and type(record.get("t")) in (int, float)
            and type(data[2]) in (int, float)
            and type(data[3]) in (int, float)
        ):
            start, stop = phase_times(record, data)
        elif isinstance(data, dict) and data.get("start") and data.get("stop"):
            start, stop = data["start"], data["stop"]  # (a crash report has none)
        else:
            continue
        begin = start if begin is None else begin
        end = stop
    return None if begin is None or end is None else (begin, end)


# the data and the file size, without other metadata (mtime): what a reader needs
_datasync = getattr(os, "fdatasync", os.fsync)
# the longest an xdist controller holds a test's end record (Writer.hold)
HOLD = 0.1
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=repr)
_string: Any = json.encoder.encode_basestring_ascii  # as _ENCODER writes a str


def start_line(test: str, t: float, worker: str | None, boot: int) -> str:
    """The ``start`` record, formatted directly: every test has one, and the
    general encoder costs a few microseconds more a record, which is most of
    the journal's cost. The same JSON as ``start_record``."""
    line = f'{{"type":"start","test":{_string(test)},"t":{t:.6f}'
    if worker is not None:
        line += f',"worker":{_string(worker)}'
    return f'{line},"boot":{boot}}}' if boot else line + "}"


def _usual(value: Any, default: Any) -> bool:
    """``value`` is the usual one (an empty list for an empty tuple; ``True``
    is not ``1``)."""
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple)) and not value
    return type(value) is type(default) and value == default


def start_record(test: str, t: float, worker: str | None, boot: int) -> Record:
    """The ``start`` record, its usual values left out."""
    record: Record = {"type": "start", "test": test, "t": round(t, 6)}
    if worker is not None:
        record["worker"] = worker
    if boot:
        record["boot"] = boot
    return record


def plain_end_line(
    test: str,
    t: float,
    duration: float,
    worker: str | None,
    boot: int,
    where: tuple[str, int | None, str],
    phases: list[list[Any]],
    provides: Sequence[str],
) -> str:
    """The ``end`` record of a test that passed and carries nothing but its
    times and the tags it provides (no sub-results or shared state; every
    report a plain passed phase ``[when, duration, start, stop]``, with
    its captured output ``[..., sections]``),
    formatted directly for the same reason as ``start_line``: the common
    case. The same JSON as ``end_record`` makes of it."""
    t = round(t, 6)  # the phases' times are relative to the t written
    line = (
        f'{{"type":"end","test":{_string(test)},"t":{t:.6f},"outcome":"pass",'
        f'"duration":{duration!r}'
    )
    if provides:
        line += f',"provides":[{",".join([_string(tag) for tag in provides])}]'
    if worker is not None:
        line += f',"worker":{_string(worker)}'
    if boot:
        line += f',"boot":{boot}'
    path, lineno, name = where
    if where == derived_location(test, lineno):
        line += f',"line":{"null" if lineno is None else int(lineno)}'
    else:
        line += (
            f',"location":[{_string(path)},{"null" if lineno is None else int(lineno)},'
            f"{_string(name)}]"
        )
    reports = ",".join(
        [
            f"[{_string(phase[0])},{phase[1]!r},{phase[2] - t:.6f},{phase[3] - t:.6f}]"
            if len(phase) == 4
            else f"[{_string(phase[0])},{phase[1]!r},{phase[2] - t:.6f},{phase[3] - t:.6f},"
            f"[{','.join([_section(entry) for entry in phase[4]])}]]"
            for phase in phases
        ]
    )
    return f'{line},"reports":[{reports}]}}'


def _section(entry: Any) -> str:
    """A captured section of a plain phase: ``[title, text]``, or the place
    of the same section in the test's previous phase (an int)."""
    if type(entry) is int:
        return str(entry)
    return f"[{_string(entry[0])},{_string(entry[1])}]"


def end_record(
    test: str,
    t: float,
    outcome: str,
    duration: float,
    where: tuple[str, int | None, str] | None,
    phases: list[Any],
    **fields: Any,
) -> Record:
    """The ``end`` record: ``fields`` (``DEFAULTS``' keys) left out at their
    usual value; each plain passed phase's times made relative to ``t``."""
    t = round(t, 6)
    record: Record = {"type": "end", "test": test, "t": t, "outcome": outcome}
    record["duration"] = duration
    for key, value in fields.items():
        if not _usual(value, DEFAULTS[key]):
            record[key] = value
    if where is not None:
        if tuple(where) == derived_location(test, where[1]):
            record["line"] = where[1]
        else:
            record["location"] = list(where)
    record["reports"] = [
        [data[0], data[1], round(data[2] - t, 6), round(data[3] - t, 6), *data[4:]]
        if isinstance(data, list)
        else data
        for data in phases
    ]
    return record


# the header's first bytes: ``gap`` comes right after ``type``, so that a
# writer that can write no more can still say so, in place (see Writer)
GAP_PREFIX = b'{"type":"run","gap":'
NO_GAP, GAP, GAP_FINISHED = 0, 1, 2


class Busy(Exception):
    """Another process holds the journal (``lock``)."""

    def __init__(self, pid: str) -> None:
        super().__init__(pid)
        self.pid = pid


_PID_WIDTH = 24  # bytes of the pid line in the lock file (Linux pids have 7 digits at most)


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def lock(path: Path) -> int | None:
    """Hold the journal at ``path`` for this process's whole life: one run
    per journal. An OS lock (``flock``) on ``<path>.lock``, which names the
    holder's pid; the kernel drops it when the process ends, however it
    ends, so a killed run leaves no stale lock. Returns the descriptor to
    keep open; Busy (with the holder's pid) if another process holds it,
    OSError if it cannot be written (a read-only checkout). The directory
    is made if missing, and the journal file (if there is one) opened for
    appending, to find out now rather than once tests run.

    A journal that is not a file (``/dev/null``, a reader's pipe) is not
    locked (None): no run can be resumed from it, and its lock file would
    have to be made beside it, in ``/dev``, which only root may write."""
    import fcntl

    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = stat.S_IFREG  # not there yet: the journal file is made, and locked
    if not stat.S_ISREG(mode):
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND))  # written to? found out now
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(fd, _PID_WIDTH, 0).decode(errors="replace").partition("\n")[0].strip()
        os.close(fd)
        raise Busy(pid or "unknown") from None
    except OSError:
        os.close(fd)
        raise
    try:
        # the pid in a line of fixed width, written over the last holder's:
        # truncating the file would free its block, which costs milliseconds
        # on a disk mounted with ``discard``, in every run
        os.pwrite(fd, f"{os.getpid():<{_PID_WIDTH - 1}}\n".encode(), 0)
        if path.exists():  # else the directory's turn: the lock file was made there
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    except OSError:
        os.close(fd)
        raise
    return fd


def mark_gap(path: Path, value: int) -> None:
    """Say in the header, in place, that records were lost (GAP) or that
    they were but the run finished (GAP_FINISHED). An overwrite of a byte
    the file already has needs no free space. Nothing if the header is
    not there (it was the record that could not be written)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return
    try:
        if os.pread(fd, len(GAP_PREFIX) + 1, 0)[: len(GAP_PREFIX)] == GAP_PREFIX:
            os.pwrite(fd, str(value).encode(), len(GAP_PREFIX))
    except OSError:
        pass
    finally:
        os.close(fd)


_ASIDE = ".old-"  # the last run's journal, renamed aside: ``<name>.old-<pid>``


def _remove_aside(path: Path) -> None:
    """Remove the journals set aside at ``path`` (see ``Writer._fresh``)."""
    prefix = path.name + _ASIDE
    try:
        with os.scandir(path.parent) as entries:
            for entry in entries:
                if entry.name.startswith(prefix):
                    os.unlink(entry.path)
    except OSError:
        pass  # left for the next run


class Writer:
    """Appends records; each goes through to the OS at once, so a killed
    process loses nothing. ``fsync``: ``auto`` also syncs to disk at most
    once a second and on ``sync()``; ``always`` after every record;
    ``never`` not at all.

    A record that cannot be written (a full disk) never fails the run: the
    writer stops there (``lost`` says why, ``lost_line`` is the record),
    and marks the header (``gap``), so that no resume trusts a journal
    with a hole in it.

    Only the process that opened it writes: a test that forks a child which
    goes on running the session (it returned or raised where it should have
    called ``os._exit``) would otherwise journal a second run over the real
    one, with the same tests and other outcomes.

    An xdist controller ``hold``s the end records of the events it has
    queued, and writes them with the next record, or when it has no event
    left to handle (``release``): one write for many ends. A write releases
    the GIL, which the controller's execnet threads are often waiting for,
    and took the controller 80 us a test in a 5,000-test run (cProfile)."""

    def __init__(self, path: Path, fsync: str, fresh: bool) -> None:
        self.path = path
        self.pid = os.getpid()
        self.fsync = fsync
        self.synced = real_monotonic()
        self.deferred = False  # with always: a record written, its sync left to the next
        self.lost: str | None = None
        self.lost_line: str | None = None
        self.on_lost: Callable[[], None] | None = None  # called once, at the first record lost
        self.aside = False  # the last run's journal is set aside (see _fresh)
        self.closing: threading.Thread | None = None  # see close()
        self.held: list[str] = []  # see hold()
        self.held_since = 0.0
        if fresh:
            self.fd = self._fresh()
            return
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._end_torn_line()
        except OSError:
            os.close(self.fd)
            raise

    def _fresh(self) -> int:
        """A new, empty journal at ``path``. Emptying the last run's in place
        (``O_TRUNC``) or removing it frees its blocks, which on a disk
        mounted with ``discard`` waits for the device in the call (2 ms
        here, at the first test's start): the old journal is renamed aside
        instead (a directory entry) and removed at the end (``close``). A
        journal that cannot be renamed (gone, or a directory that forbids
        it) is emptied in place as before."""
        path = self.path
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
        aside = path.with_name(f"{path.name}{_ASIDE}{os.getpid()}")
        try:  # a regular file only: a symlink's target, or a device, is written through
            if not stat.S_ISREG(os.lstat(path).st_mode):
                return os.open(path, flags, 0o644)
            os.rename(path, aside)
        except OSError:
            return os.open(path, flags, 0o644)
        try:
            fd = os.open(path, flags | os.O_EXCL, 0o644)
        except OSError:  # no inode left on a full disk: the old one, emptied, then
            os.rename(aside, path)
            return os.open(path, flags, 0o644)
        self.aside = True
        return fd

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
        """Append one record already formatted as a JSON object (or several,
        a line each, in one write).
        ``deferred``: with ``always``, leave the sync to the next record (or
        ``sync()``), which is written before any more test code runs: the
        serial run's end record, synced with the next test's start."""
        if self.lost is not None or os.getpid() != self.pid:
            return
        if self.held:
            self.held.append(line)
            line = "\n".join(self.held)
            self.held.clear()
        data = line.encode() + b"\n"
        try:
            done = os.write(self.fd, data)
            while done < len(data):  # a short write: the disk is filling up
                done += os.write(self.fd, data[done:])
            if self.fsync == "always":
                self.deferred = deferred
                if not deferred:
                    self._datasync()
            elif self.fsync == "auto" and real_monotonic() - self.synced >= 1.0:
                self.sync()
        except OSError as exc:
            self._lose(line, exc)

    def hold(self, line: str) -> None:
        """Append a record with the next one, or at ``release()``, which
        the caller makes sure comes before it waits for anything, and once
        the first record held is ``overdue()`` (a controller that never runs
        out of events to handle). With ``always``: at once."""
        held = self.held
        if self.fsync == "always":
            self.write_line(line)
        elif not held:
            held.append(line)
            self.held_since = real_monotonic()
        else:
            held.append(line)
            if self.overdue():
                self.release()

    def overdue(self) -> bool:
        """Whether the first record held has waited ``HOLD`` seconds."""
        return bool(self.held) and real_monotonic() - self.held_since >= HOLD

    def release(self) -> None:
        """Write the records held (see ``hold``)."""
        if self.held:
            self.write_line(self.held.pop())  # after the others, which it writes first

    def _lose(self, line: str, exc: OSError) -> None:
        first = self.lost is None
        self.lost = exc.strerror or str(exc)
        self.lost_line = line
        mark_gap(self.path, GAP)
        if first and self.on_lost is not None:
            self.on_lost()

    def sync_deferred(self) -> None:
        """Sync a record whose sync was left to the next one (see
        ``write_line``) now: no record follows it before other code runs."""
        if self.deferred:
            self.sync()

    def sync(self) -> None:
        """To disk now (at the end, before the process exits); not with
        ``never``."""
        self.release()
        if self.fsync != "never" and self.lost is None:
            try:
                self._datasync()
            except OSError as exc:
                self._lose("", exc)
            self.synced = real_monotonic()
            self.deferred = False

    def _datasync(self) -> None:
        """``fdatasync``; a journal that cannot be synced (``/dev/null``, a
        pipe: EINVAL) has nothing on a disk to lose, and is not synced
        again."""
        try:
            _datasync(self.fd)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self.fsync = "never"

    def close(self, finished: bool = False) -> None:
        """Sync and close; ``finished``: the run ran to its end (a journal
        that lost records then says so: see ``GAP_FINISHED``). The sync,
        and the removal of the last run's journal set aside by ``_fresh``
        (and any a killed run left), wait for the disk, not for this
        process: a thread does them while pytest reports the run and exits
        (the interpreter waits for it before it exits; ``wait()`` before a
        reboot command). A journal that lost records is closed here. A
        forked copy of the process leaves it alone."""
        if os.getpid() != self.pid:
            return
        self.release()
        if self.lost is not None:
            self._finish(finished)
            return
        self.closing = threading.Thread(
            target=self._finish, args=(finished,), name="pexen-journal-close"
        )
        self.closing.start()

    def wait(self) -> None:
        """On disk and closed (see ``close``)."""
        if self.closing is not None:
            self.closing.join()

    def _finish(self, finished: bool) -> None:
        lost = self.lost
        self.sync()
        os.close(self.fd)
        if self.lost is not None and finished:
            mark_gap(self.path, GAP_FINISHED)
        if lost is None and self.lost is not None:  # after pytest's report: said here
            print(
                f"pexen: the journal {self.path} could not be synced to disk at the end "
                f"({self.lost}); --pexen-resume will not continue this run",
                file=sys.stderr,
            )
        if self.aside:
            _remove_aside(self.path)

    def lost_where(self) -> str:
        """Where the records stop, in words: the first one not written."""
        try:
            record = json.loads((self.lost_line or "").partition("\n")[0])
        except ValueError:
            return "its end"
        kind = record.get("type")
        return f"the {kind} of {record['test']}" if "test" in record else f"its {kind} record"
