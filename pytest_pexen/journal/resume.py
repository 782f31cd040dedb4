"""Journaling a run and resuming it: ``--pexen-state``, ``--pexen-resume``.

The journaling process is the one that sees every report: the serial
process, or the xdist controller (workers never write). It writes the run
header once the selection is known and the first test starts, a ``start``
record when a test starts and an ``end`` record, with the test's reports,
when it is over (see journal.py for the format).

On ``--pexen-resume`` it reads the journal first (at configure, so that the
boot counts reach xdist workers with their start-up data), checks that it
is a journal of this very run once the selection is known, then, before any
test runs: tells the planner how each finished test ended (provides and
shared state restored), and reports those tests again from their journaled
reports, marked resumed, so the terminal, ``--junitxml`` and the pexen xUnit
report cover the whole run. Finished tests are not run again; those that
were running when the run stopped run again, their boot count one higher.

A reboot asked for by a test (reboot.py) stops the run: serially at once;
under xdist no new test is sent, the workers begin none of the tests queued
there (journaled as handed back, ``back``), the running ones finish and are
journaled. The reboot command runs last, when the journal is on disk.

The journal never costs a run: one run holds it at a time (journal.lock);
a default journal that cannot be had (a read-only checkout, another run
holding it) leaves the run un-journaled with one PexenJournalWarning, a
named one is a usage error; a write that fails (a full disk) ends the
journal there, marked as incomplete, with one warning.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import os
import subprocess
import uuid
import warnings
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from ..graph.keys import BOOTS_KEY, EARLIER_KEY, JOURNAL
from ..graph.outcome import is_subtest, merge_own, own_outcome
from ..graph.runtime import RUN_KEY, GraphRun, bad_outcome, unserialisable
from ..internals import HooksOnly, before_each_event, observe_sends, option_given, real_time
from . import format as journal
from .format import PexenJournalWarning
from .reboots import JOURNALED_KEY, STOP, UNJOURNALED, reboot_command, reboot_env, unjournaled

if TYPE_CHECKING:
    from ..sched.planner import Planner, Unrunnable
    from ..xdist.scheduler import PexenScheduling

RESUME_KEY = pytest.StashKey["Resume"]()
OUTPUT_CAP = 4000  # characters of a passed phase's captured output kept, per section
# what a plain passed phase report holds (pytest's fields, xdist's additions)
_PLAIN_FIELDS = frozenset(
    (
        "_id",
        "nodeid",
        "location",
        "keywords",
        "outcome",
        "longrepr",
        "when",
        "user_properties",
        "sections",
        "duration",
        "start",
        "stop",
        "item_index",
        "worker_id",
        "testrun_uid",
        "node",
        "$report_type",
    )
)
# a subtest's report (pytest >= 9): what a plain passed one holds besides
_SUBTEST = getattr(pytest, "SubtestReport", None)
_SUBTEST_FIELDS = _PLAIN_FIELDS | {"context", "_report_type", "_subtest.context"}  # (xdist's)


def journal_path(config: pytest.Config) -> tuple[Path | None, str]:
    """Where the journal is (None: no journal), and why if none."""
    value = config.getoption("pexen_state")
    base = Path(config.invocation_params.dir)
    if not value:
        value = str(config.getini("pexen_state") or "")
        base = config.inipath.parent if config.inipath else config.rootpath
    if value:
        if value.lower() == "none":
            return None, "--pexen-state=none"
        return base / value, ""
    cache = getattr(config, "cache", None)
    if cache is None:
        return None, "the cache provider is disabled and no --pexen-state is given"
    return cache.mkdir("pexen") / "state.jsonl", ""


def run_options(config: pytest.Config) -> dict[str, Any]:
    """The options that change outcomes, and so belong to a run's identity."""
    from ..graph.shared import SHARED_KEY

    return {
        "shared": config.stash.get(SHARED_KEY, {}),
        "strict_warn": option_given(config, "pexen_strict_warn"),
    }


def identity(tests: list[str], options: dict[str, Any]) -> str:
    text = json.dumps([tests, options], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Resume:
    """A journal being continued: what ended, what was interrupted."""

    def __init__(self, path: Path, state: journal.State) -> None:
        self.path = path
        self.state = state
        self.boots = journal.boot_counts(state)
        self.boot = state.boot + 1
        self.ended = state.ended
        self.repeats = state.repeats  # see journal.State
        self.late_ends: list[dict[str, Any]] = []  # ended, but only known now
        self.late_source: Path | None = None  # where they were read: gone once journaled

    @property
    def finished(self) -> int:
        """The tests that ended before (a node id given to several tests
        counts each)."""
        return len(self.ended) + sum(map(len, self.repeats.values()))

    def add_ended(self, records: list[dict[str, Any]], source: Path) -> None:
        """Tests whose end the stopped boot could not journal (the watchdog's
        last resort stopped it, leaving ``source``): they count as ended, and
        go into the journal before this boot's record (they ended in the
        boot before: readers, the timeline among them, place them there),
        whose time runs until the last of them."""
        state = self.state
        for record in records:
            self.ended[record["test"]] = record
            t = record.get("t")
            if isinstance(t, float) and t > state.last:
                state.elapsed += t - state.last
                state.last = t
        self.late_ends += records
        if records:
            self.late_source = source

    def check(self, tests: list[str], options: dict[str, Any]) -> None:
        """UsageError unless this run selects what the journal's run did."""
        header = self.state.header
        if header.get("identity") == identity(tests, options):
            return
        theirs = header.get("tests", [])
        if sorted(theirs) != tests:
            mine = set(tests)
            extra = next((t for t in tests if t not in set(theirs)), None)
            missing = next((t for t in theirs if t not in mine), None)
            what = (
                f"it selected {len(theirs)} tests, this run {len(tests)}"
                + (f"; {missing} is not selected now" if missing else "")
                + (f"; {extra} is new" if extra else "")
            )
        else:
            what = f"other options: {header.get('options')} (now {options})"
        raise pytest.UsageError(
            f"pexen: the journal {self.path} is of another run ({what}); run with the "
            "same selection and options to resume it, or without --pexen-resume to "
            "start afresh"
        )

    def restore(
        self,
        planner: Planner[str],
        known: Callable[[str], bool],
        hand_on: Callable[[str, dict[str, Any]], None],
    ) -> list[Unrunnable[str]]:
        """Tell the planner how each finished test ended, in the order they
        ended, and hand their shared state on to their dependents; the
        tests that can no longer run (their providers failed)."""
        dropped: list[Unrunnable[str]] = []
        for test, record in self.ended.items():
            if not known(test) or not planner.start(test):
                continue  # skipped for a failed provider: dropped again by its provider
            dropped += planner.done(
                test,
                ok=bool(journal.value(record, "ok")),
                deps_ok=bool(journal.value(record, "deps_ok")),
                locks_ok=bool(journal.value(record, "locks_ok")),
                outcome=str(record.get("why") or "failed"),
            )
            shared = record.get("shared")
            if journal.value(record, "deps_ok") and isinstance(shared, dict) and shared:
                for dep in planner.dependents(test):
                    hand_on(dep, shared)
        return dropped

    def replay(self, config: pytest.Config) -> None:
        """Report every finished test again, from its journaled reports."""
        hook = config.hook
        said = self.state.warnings
        for test, last in self.ended.items():
            for record in self.repeats.get(test, ()):
                self._replay_one(config, test, record, [])
            self._replay_one(config, test, last, said.get(test, []))
        for record in self.state.late:
            report = report_from_journal(config, record.get("report"))
            if report is not None:
                report.pexen_resumed = True
                hook.pytest_runtest_logreport(report=report)

    @staticmethod
    def _replay_one(
        config: pytest.Config, test: str, record: dict[str, Any], said: list[Any]
    ) -> None:
        """Report one finished test again, from its end record, and the
        warnings it raised (``said``)."""
        location = journal.location(record)
        replayed = []
        earlier: list[Any] | None = None  # see shared_sections
        for data in record.get("reports") or []:
            if isinstance(data, list) and len(data) == 5:
                earlier = resolve_sections(data, earlier)
                data = [*data[:4], earlier]
            report: Any = (
                compact_report(config, test, location, record.get("worker"), data, record)
                if isinstance(data, list)
                else report_from_journal(config, data)
            )
            if report is None:
                continue
            report.pexen_resumed = True
            location = location or getattr(report, "location", None)
            replayed.append(report)
        if not replayed:
            return
        first = replayed[0]
        facts = list(getattr(first, "pexen_facts", None) or [])
        first.pexen_facts = [*facts, ["pexen.resumed", "true"]]
        hook = config.hook
        hook.pytest_runtest_logstart(nodeid=test, location=location)
        for report in replayed:
            hook.pytest_runtest_logreport(report=report)
        hook.pytest_runtest_logfinish(nodeid=test, location=location)
        for entry in said:
            message = warning_from_journal(entry)
            if message is not None:
                hook.pytest_warning_recorded.call_historic(
                    kwargs={
                        "warning_message": message,
                        "when": "runtest",
                        "nodeid": test,
                        "location": None,
                    }
                )

    def header_line(self, selected: int) -> str:
        again = ", ".join(
            f"{t} (boot count {n})" for t, n in self.boots.items() if t not in self.ended
        )
        return (
            f"pexen: resuming {self.path} (boot {self.boot}): {self.finished} of "
            f"{selected} tests finished before" + (f"; running again: {again}" if again else "")
        )


def warning_from_journal(entry: Any) -> warnings.WarningMessage | None:
    """A journaled ``[category, message, filename, lineno]`` as the warning
    pytest recorded: its category the class of that name where one is at
    hand (the builtins, pytest's), else a class made with that name (the
    summary shows the name; reading a journal imports nothing)."""
    if not (isinstance(entry, list) and len(entry) == 4 and all(type(x) is str for x in entry[:3])):
        return None
    path, _, name = entry[0].rpartition(".")
    home = builtins if path == "builtins" else pytest if path == "pytest" else None
    known = getattr(home, name, None)
    category = (
        known
        if isinstance(known, type) and issubclass(known, Warning)
        else type(name, (Warning,), {"__module__": path})
    )
    lineno = entry[3] if type(entry[3]) is int else 0
    return warnings.WarningMessage(category(entry[1]), category, entry[2], lineno)


def report_from_journal(config: pytest.Config, data: Any) -> Any:
    """A report serialised into the journal, as pytest made it: JSON has no
    tuples, and pytest's terminal insists on a skip's ``longrepr`` (path,
    line, reason) being one (xdist's channel keeps them)."""
    if not isinstance(data, dict):
        return None
    for key in ("longrepr", "location"):
        if isinstance(data.get(key), list):
            data = {**data, key: tuple(data[key])}
    report = config.hook.pytest_report_from_serializable(config=config, data=data)
    context = getattr(report, "context", None)
    if context is not None and isinstance(data.get("_subtest.context"), dict):
        # a subtest's: pytest repr()s its kwargs again as it reads them back
        # ("i=0" would read "i='0'"); they are what the first boot showed
        object.__setattr__(context, "kwargs", data["_subtest.context"].get("kwargs") or {})
    return report


def compact_report(
    config: pytest.Config,
    nodeid: str,
    location: tuple[str, int | None, str] | None,
    worker: str | None,
    data: list[Any],
    record: dict[str, Any],
) -> Any:
    """A plain passed phase report again, from ``[when, duration, start,
    stop]`` (the times relative to its end ``record``'s), with its captured
    output from ``[..., sections]``; a plain passed subtest's from ``[...,
    msg, kwargs]``, made by pytest from what its serialiser would have
    written."""
    when, duration = data[0], data[1]
    start, stop = journal.phase_times(record, data)
    if len(data) > 5:
        serialised = {
            "nodeid": nodeid,
            "location": location or (nodeid, None, nodeid),
            "keywords": {},
            "outcome": "passed",
            "longrepr": None,
            "when": when,
            "user_properties": [],
            "sections": [],
            "duration": duration,
            "start": start,
            "stop": stop,
            "_report_type": "SubTestReport",
            "_subtest.context": {"msg": data[4], "kwargs": data[5]},
        }
        if worker is not None:
            serialised["worker_id"] = worker
        return report_from_journal(config, serialised)
    report = pytest.TestReport(
        nodeid,
        location or (nodeid, None, nodeid),
        {},
        "passed",
        None,
        when,
        [(title, text) for title, text in data[4]] if len(data) == 5 else [],
        duration,
        start=start,
        stop=stop,
    )
    if worker is not None:
        report.worker_id = worker  # type: ignore[attr-defined]
    return report


class _Test:
    """A test between its start and end, as the journaling process sees it
    (a plain class: a dataclass is compiled at import, in every pytest
    process)."""

    __slots__ = (
        "bad",
        "began",
        "duration",
        "flags",
        "location",
        "outcome",
        "pexen_outcome",
        "plain",
        "reboot",
        "reports",
        "rerun",
        "results",
        "sections",
        "shared",
        "start",
        "voided",
        "worker",
    )

    def __init__(self, start: float, worker: str | None) -> None:
        self.start = start
        self.worker = worker
        self.bad: str | None = None  # how it did not pass (the planner's words)
        self.flags: list[bool] | None = None  # TaskFailError's deps_ok, locks_ok
        self.outcome = "pass"  # its own, phase by phase
        self.pexen_outcome: str | None = None  # with its sub-results (results.Recorder)
        self.reports: list[dict[str, Any] | list[Any]] = []
        # the captured sections of its last phase journaled with them (see shared_sections)
        self.sections: list[Any] | None = None
        self.shared: dict[str, Any] | None = None
        self.results: list[Any] = []
        self.duration = 0.0
        self.reboot: int | None = None  # asked for a reboot at this boot count
        self.rerun = False  # under xdist: this attempt is void, another follows
        # an attempt was void (pytest-rerunfailures): the next one's setup
        # starts its duration afresh, as the xUnit reports count only the last
        self.voided = False
        self.location: tuple[str, int | None, str] | None = None
        # it has reports, each a plain passed phase (see JournalPlugin._serialise),
        # and pytest's location: its end record is written the cheap way
        self.plain = False
        self.began = False  # under xdist: its worker said it began (not only sent)


def _skipped_at_setup(test: _Test) -> bool:
    """Whether a test was skipped before its call (it had no call phase)."""
    return test.outcome == "skip" and not any(
        (data[0] if isinstance(data, list) else data.get("when")) == "call" for data in test.reports
    )


class _Ended:
    """A test whose end record is written, as it said (see
    ``JournalPlugin._ended_again``)."""

    __slots__ = (
        "deps_ok",
        "duration",
        "locks_ok",
        "nodeid",
        "ok",
        "provides",
        "shared",
        "t",
        "test",
    )

    def __init__(
        self,
        nodeid: str,
        test: _Test,
        t: float,
        duration: float,
        provides: Sequence[str],
        shared: dict[str, Any] | None,
        ok: bool,
        deps_ok: bool,
        locks_ok: bool,
    ) -> None:
        self.nodeid, self.test, self.t, self.duration = nodeid, test, t, duration
        self.provides, self.shared = provides, shared
        self.ok, self.deps_ok, self.locks_ok = ok, deps_ok, locks_ok

    def record(self, outcome: str, boot: int, **fields: Any) -> dict[str, Any]:
        """Its ``end`` record, with ``outcome`` (and any other ``fields``)."""
        test = self.test
        return journal.end_record(
            self.nodeid,
            self.t,
            outcome,
            self.duration,
            test.location,
            test.reports,
            results=test.results,
            shared=self.shared,
            provides=list(self.provides),
            ok=self.ok,
            deps_ok=self.deps_ok,
            locks_ok=self.locks_ok,
            why=test.bad,
            worker=test.worker,
            boot=boot,
            **fields,
        )


def shared_sections(test: _Test, data: list[Any]) -> None:
    """A phase's captured sections (``data[4]``) as the journal keeps them:
    each that the test's previous phase journaled with them, at the same
    place, as that place's number (pytest gives every phase of a test the
    sections of the phases before it too: a teardown's repeats what its
    call printed). ``resolve_sections`` reads them back."""
    kept = data[4]
    earlier, test.sections = test.sections, kept
    if earlier:
        data[4] = [
            n if n < len(earlier) and earlier[n] == entry else entry for n, entry in enumerate(kept)
        ]


def resolve_sections(data: list[Any], earlier: list[Any] | None) -> list[list[str]]:
    """The sections of a ``[when, duration, start, stop, sections]`` report,
    each place number replaced by that section of ``earlier`` (the previous
    such report's); what is not a ``[title, text]`` pair is left out."""
    sections = []
    for entry in data[4] if isinstance(data[4], list) else ():
        if type(entry) is int and earlier is not None and 0 <= entry < len(earlier):
            entry = earlier[entry]
        if isinstance(entry, list) and len(entry) == 2 and all(type(x) is str for x in entry):
            sections.append(entry)
    return sections


def capped(text: str) -> str:
    """A passed phase's captured output as the journal keeps it: whole up
    to OUTPUT_CAP characters a section, else its start and its end, with a
    line saying so (what ``-rA`` and ``junit_logging`` of a resumed run
    show). A run's journal and a resume's memory stay small however much
    passing tests print; a failing test's output is kept whole."""
    if len(text) <= OUTPUT_CAP:
        return text
    half = OUTPUT_CAP // 2
    return (
        f"{text[:half]}\n[pexen: {len(text) - OUTPUT_CAP} characters of this passed test's "
        f"output left out of the journal (it keeps {OUTPUT_CAP} a section)]\n{text[-half:]}"
    )


def _plain_location(location: Any) -> bool:
    """Whether a report location is pytest's ``(path, lineno, name)``."""
    return (
        type(location) is tuple
        and len(location) == 3
        and type(location[0]) is str
        and type(location[2]) is str
        and (location[1] is None or type(location[1]) is int)
    )


STRANDED = "the journal could not be written, so the run could not resume after the reboot"


def tell_workers(dsession: Any, command: str, **kwargs: Any) -> None:
    """Send a command to every xdist worker that is connected (none before
    xdist's scheduler exists); a worker gone meanwhile is skipped."""
    for node in getattr(getattr(dsession, "sched", None), "nodes", None) or []:
        with contextlib.suppress(OSError):
            node.sendcommand(command, **kwargs)


class JournalPlugin(HooksOnly):
    """The journaling process's hooks (serial process or xdist controller)."""

    # the serial process (this process runs the tests), not an xdist
    # controller (ControllerJournal): it writes each test's records around
    # its protocol
    serial = True

    def __init__(self, config: pytest.Config, path: Path | None, resume: Resume | None) -> None:
        self.config = config
        self.path = path  # None: no journal file (the records are only kept, see below)
        self.resume = resume
        self.fsync = str(config.getoption("pexen_fsync"))
        self.writer: journal.Writer | None = None
        self.opened = False  # the run header (or boot record) is out
        self.holding = False  # end records wait for the controller's idle moment
        self.header: dict[str, Any] | None = None  # a fresh run's, made ahead (xdist)
        # the records of a fresh run without their reports, kept for the
        # timeline page (--pexen-timeline), so it is made without reading
        # the journal back; None: not wanted, or a resume (the page is made
        # from the journal file, for every boot)
        self.kept: list[dict[str, Any]] | None = None
        self.tests: list[str] | None = None  # the selection, once known
        self.open: dict[str, _Test] = {}
        # under xdist, by worker: its last ended test that ran its setup and
        # any tests skipped at setup after it, with what their end records
        # said; a fixture one of them kept for the worker's next test may
        # still fail its teardown (see _ended_again)
        self.last_end: dict[str | None, dict[str, _Ended]] = {}
        self.replaying = False
        self.replayed = 0  # finished tests reported again
        self.skip_ended: SkipEnded | None = None  # a serial resume's: what it does not run
        self.reboot: tuple[str, int] | None = None  # the test that asked, its boot count
        self.reboot_env: dict[str, str] = {}  # PEXEN_REBOOT_HOST, PEXEN_REBOOT_WORKER
        self.session: pytest.Session | None = None
        self.provides: dict[str, Sequence[str]] | None = None
        self.run: GraphRun | None = None  # the session's pexen run in this process, if any
        self.run_looked = False  # for it (see _end)
        self.unwritten: str | None = None  # why the journal could not be opened
        self.trouble: str | None = None  # what went wrong with it, if not said yet
        self.stranded_said = False  # the terminal said that the reboot command will not run
        self.pid = os.getpid()  # a test's forked child that runs on reboots nothing
        self.interrupt: int | None = None  # the exit status of a Ctrl-C or pytest.exit()

    # ------------------------------------------------------------ selection
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.serial:
            return  # an xdist controller: the workers collect
        self._selected([item.nodeid for item in session.items])

    def _selected(self, ids: list[str]) -> None:
        self.tests = sorted(ids)
        if self.resume is not None:
            self.resume.check(self.tests, run_options(self.config))

    # ------------------------------------------------------------ writing
    def _write(self, record: dict[str, Any], deferred: bool = False) -> None:
        if not self.opened:
            self._open()
        self._emit(record, deferred)

    def _emit(self, record: dict[str, Any], deferred: bool = False) -> None:
        if self.writer is not None:
            self.writer.write(record, deferred)
        if self.kept is not None:
            self.kept.append({k: v for k, v in record.items() if k != "reports"})

    def _open(self) -> None:
        resume = self.resume
        self.opened = True
        if self.path is not None:
            try:
                self.writer = journal.Writer(self.path, self.fsync, fresh=resume is None)
                self.writer.on_lost = self._lost
            except OSError as exc:  # gone read-only, or full, since configure
                self.unwritten = f"cannot write {self.path}: {exc.strerror or exc}"
        if resume is None:
            header = self.header if self.header is not None else self._header()
            header["t"] = real_time()
            self._emit(header)
            self.header = None
        else:
            for record in resume.late_ends:
                self._emit(record)
            self._emit(
                {"type": "boot", "boot": resume.boot, "t": real_time(), "workers": self.workers}
            )
            if resume.late_source is not None:
                resume.late_source.unlink(missing_ok=True)

    def _lost(self) -> None:
        """The journal lost a record: no reboot from now on (a resume would
        refuse this journal), here and in the processes started later."""
        self.config.stash[JOURNALED_KEY] = False
        unjournaled()

    def _header(self) -> dict[str, Any]:
        """A fresh run's header record (its time ``t`` set when written)."""
        tests = self.tests or []
        options = run_options(self.config)
        from .._version import __version__

        header = {
            "type": "run",
            "gap": journal.NO_GAP,  # second: see journal.GAP_PREFIX
            "format": journal.FORMAT,
            "id": uuid.uuid4().hex,
            "t": 0.0,
            "pexen": __version__,
            "tests": tests,
            "identity": identity(tests, options),
            "options": options,
            "workers": self.workers,
        }
        graph = run_graph(self.config)
        if graph is not None:
            header["graph"] = graph
        return header

    @property
    def workers(self) -> int:
        """The processes that run this boot's tests."""
        return 1 if self.serial else len(self.config.getoption("tx") or [])

    @property
    def boot(self) -> int:
        return self.resume.boot if self.resume is not None else 0

    def started(self, nodeids: list[str], worker: str | None) -> None:
        """Tests start (serial: one), or are sent to a worker together (xdist):
        the controller learns of a start only after the fact, and a test that
        kills the machine may kill the controller first; so under xdist a
        test counts as running once sent, and a resume runs it again. The
        start records of tests sent together go in one write: a write
        releases the GIL, which the controller's execnet threads are often
        waiting for (in a 5,000-test run a write took the main thread 0.1 ms,
        cProfile, against 2 us in a process of its own)."""
        now, boot = real_time(), self.boot
        for nodeid in nodeids:
            self.open[nodeid] = _Test(start=now, worker=worker)
        if self.writer is not None and self.kept is None:  # the common case, made cheap
            self.writer.write_line(
                "\n".join([journal.start_line(nodeid, now, worker, boot) for nodeid in nodeids])
            )
        else:
            for nodeid in nodeids:
                self._write(journal.start_record(nodeid, now, worker, boot))

    def pytest_warning_recorded(
        self, warning_message: warnings.WarningMessage, when: str, nodeid: str
    ) -> None:
        """A warning a test raised, in a record of its own (an xdist worker
        tells of it after the test's end): a resume shows it in the
        warnings summary again."""
        if when != "runtest" or self.replaying or not nodeid:
            return
        category = warning_message.category
        entry = [
            f"{category.__module__}.{category.__qualname__}",
            str(warning_message.message),
            str(warning_message.filename),
            warning_message.lineno,
        ]
        self._write({"type": "warning", "test": nodeid, "warning": entry})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.replaying:
            return
        extra = report.__dict__
        test = self.open.get(report.nodeid)
        if test is None or extra.get("pexen_late"):  # read back one by one: a dict
            if not (extra.get("pexen_late") and self._ended_again(report)):
                self._write({"type": "report", "test": report.nodeid, "report": self._full(report)})
            return
        if test.voided and report.when == "setup":
            test.duration, test.voided = 0.0, False
        data = self._serialise(report)
        if type(data) is list and len(data) == 5:
            shared_sections(test, data)
        test.reports.append(data)
        if test.location is None:
            test.location = report.location
            test.plain = _plain_location(test.location)
        test.worker = extra.get("worker_id", test.worker)
        if type(data) is list:  # plain, passed (see _serialise): nothing else to read
            if len(data) < 6:
                test.duration += report.duration
            else:  # a subtest: its time is in its test's call's
                test.plain = False
            return
        if not is_subtest(report):  # a subtest's time is in its test's call's
            test.duration += report.duration
        test.plain = False
        if "pexen_results" in extra:
            test.results.extend(extra["pexen_results"])
        if str(report.outcome) == "rerun":  # pytest-rerunfailures: the attempt is void
            test.bad, test.flags, test.outcome, test.results = None, None, "pass", []
            test.rerun = test.voided = True
            return
        if "pexen_outcome" in extra:
            test.pexen_outcome = extra["pexen_outcome"]
        if str(report.when) == "???":  # xdist: its worker crashed, or was killed
            test.outcome = merge_own(test.outcome, own_outcome(report))
            timed_out = "pexen_timeout" in extra
            test.bad = test.bad or ("timed out" if timed_out else "crashed (its worker died)")
            test.pexen_outcome = None  # what its sub-results made of it: it did not end
            self._end(report.nodeid)
            return
        if report.when is not None and type(report) is pytest.TestReport:
            test.outcome = merge_own(test.outcome, own_outcome(report))
            bad = bad_outcome(report)
            if bad is not None and test.bad is None:
                test.bad = bad
        if "pexen_flags" in extra and report.failed:
            test.flags = [bool(f) for f in extra["pexen_flags"]]
        if "pexen_shared" in extra:
            test.shared = extra["pexen_shared"]
        if "pexen_reboot" in extra:
            test.reboot = int(extra["pexen_reboot"])
            env = reboot_env(extra)
            if self.reboot is None:
                self.reboot_env = env  # the command reboots the first asker's host
            self._rebooting(report.nodeid, test.reboot, env)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        """Serially, a test's start is written before any hook of pytest or
        another plugin runs for it, and its end after the last one: only
        pytest's run loop runs between one test's end and the next test's
        start, so --pexen-fsync=always syncs the two records at once (the
        last test's end, and one after which the loop stops, at once) and
        every record is on disk before more code of a test or a hook runs.
        A test interrupted (an exception out of its protocol) gets no end."""
        nodeid = item.nodeid
        mine = (
            self.serial
            and not self.replaying
            and nodeid not in self.open
            and (self.skip_ended is None or id(item) not in self.skip_ended.done)
        )
        if not mine:
            return (yield)
        self.started([nodeid], None)
        result = yield
        if nodeid in self.open:
            self._end(nodeid)
        if nextitem is None and self.writer is not None:
            self.writer.sync_deferred()
        return result

    def _serialise(self, report: pytest.TestReport) -> dict[str, Any] | list[Any]:
        """The report as the journal keeps it: a passed phase that carries
        nothing but its times (the common case) as ``[when, duration,
        start, stop]``, or nothing but its times and what it printed or
        logged as ``[when, duration, start, stop, sections]`` (each
        ``[title, text]``), a passed subtest that carries nothing else as
        ``[when, duration, start, stop, msg, kwargs]`` (a test can have
        thousands: pytest's serialiser took a trivial subtest's time again),
        anything else as pytest serialises it for xdist."""
        extra = report.__dict__
        if (
            extra["outcome"] == "passed"
            and extra["longrepr"] is None
            and not extra["user_properties"]
        ):
            kind = type(report)
            sections = extra["sections"]
            if kind is pytest.TestReport and extra.keys() <= _PLAIN_FIELDS:
                if not sections:
                    return [report.when, report.duration, report.start, report.stop]
                if all(type(title) is str and type(text) is str for title, text in sections):
                    # what it printed or logged (each section capped), in the
                    # record's own fast form, not through pytest's serialiser
                    kept = [[title, capped(text)] for title, text in sections]
                    return [report.when, report.duration, report.start, report.stop, kept]
            elif kind is _SUBTEST and not sections and extra.keys() <= _SUBTEST_FIELDS:
                context = extra["context"]
                when, took, start, stop = report.when, report.duration, report.start, report.stop
                return [when, took, start, stop, context.msg, dict(context.kwargs)]
        return self._full(report)

    def _full(self, report: pytest.TestReport) -> dict[str, Any]:
        """The report as pytest serialises it for xdist, for the journal."""
        extra = report.__dict__
        data: dict[str, Any] = self.config.hook.pytest_report_to_serializable(
            config=self.config, report=report
        )
        data.pop("node", None)  # the xdist controller's handle on the worker
        data["keywords"] = {}  # not needed to report it again, often the biggest part
        if extra["outcome"] == "passed" and data.get("sections"):
            data["sections"] = [[title, capped(text)] for title, text in data["sections"]]
        return data

    def _end(self, nodeid: str) -> None:
        test = self.open.pop(nodeid)
        if test.reboot is not None:
            return  # it runs again after the reboot: not over
        ok = test.bad is None
        deps_ok, locks_ok = test.flags if test.flags else (ok, True)
        shared = test.shared
        if shared is None:
            if not self.run_looked:  # the first end: a run in this process began before it
                self.run, self.run_looked = self.config.stash.get(RUN_KEY, None), True
            run = self.run
            shared = run.shared.get(nodeid) if run is not None else None
            if shared and unserialisable(shared) is not None:
                shared = None  # it failed the test for that already
        outcome = test.pexen_outcome or test.outcome
        provides = self._provides(nodeid) if ok and deps_ok else []
        now = real_time()
        duration = test.duration
        if not 0.0 <= duration <= now - test.start + 1.0:
            # pytest's clock for the phases was one a test froze or moved
            # (freezegun fakes perf_counter too): the time between its start
            # and end records is what it took
            duration = now - test.start
        ended = _Ended(
            nodeid, test, now, round(duration, 6), provides, shared, ok, deps_ok, locks_ok
        )
        if not self.serial:
            recent = self.last_end.get(test.worker)
            if recent is None or not _skipped_at_setup(test):
                # a test skipped at setup may have set nothing up (the
                # controller's skips are not even begun): its worker's kept
                # fixtures may still be an earlier test's
                recent = self.last_end[test.worker] = {}
            recent[nodeid] = ended
        if (
            self.writer is not None
            and self.kept is None
            and ok
            and test.flags is None
            and test.plain
            and outcome == "pass"
            and shared is None
            and not test.results
        ):
            line = journal.plain_end_line(
                nodeid,
                now,
                ended.duration,
                test.worker,
                self.boot,
                test.location,  # type: ignore[arg-type]
                test.reports,  # type: ignore[arg-type]
                provides,
            )
            if self.holding:
                self.writer.hold(line)
            else:
                self.writer.write_line(line, self.serial)
            return
        record = ended.record(outcome, self.boot)
        # not held: a test that did not simply pass (a crash, say: its worker
        # is replaced next, which the controller waits for) is journaled at once
        self._write(record, self.serial)
        if self.kept is not None:  # kept without its reports: say when it ran
            ran = journal.ran({"t": 0.0, "reports": test.reports})  # times absolute here
            self.kept[-1]["ran"] = None if ran is None else list(ran)

    def _ended_again(self, report: pytest.TestReport) -> bool:
        """A fixture that an xdist worker's last test kept set up for its
        next test failed its teardown once that next test was known (or the
        worker died in it, or the teardown added sub-results), after the
        test's end record was written: the
        end record is written again, with that report and the outcome it
        makes, marked ``replaces`` (readers take a test's last end record,
        as the journal's summary, a resume and the timeline do); what the
        planner was told (``ok`` to ``why``, ``provides``) stays as it was.
        False when the report is of none of its worker's last tests (see
        ``last_end``): then it goes in a ``report`` record of its own."""
        extra = report.__dict__
        worker = extra.get("worker_id")
        if worker is None and "node" in extra:  # the controller's: its worker died in it
            worker = extra["node"].gateway.id
        last = self.last_end.get(worker, {}).get(report.nodeid)
        if last is None or (report.passed and "pexen_results" not in extra):
            return False
        test = last.test
        test.reports.append(self._full(report))
        test.results.extend(extra.get("pexen_results", ()))
        # a second late report (two kept fixtures) builds on this one
        test.outcome = merge_own(test.outcome, own_outcome(report))
        if "pexen_outcome" in extra:  # the recorder's word, from every sub-result so far
            test.pexen_outcome = extra["pexen_outcome"]
        elif test.outcome in ("error", "fail"):  # a failure of its own outranks them
            test.pexen_outcome = None
        self._write(last.record(test.pexen_outcome or test.outcome, self.boot, replaces=True))
        return True

    def _provides(self, nodeid: str) -> Sequence[str]:
        if self.provides is None:
            self.provides = provided_tags(self.config)
        return self.provides.get(nodeid, [])

    def timed_out(self, item: pytest.Item, text: str) -> bool:
        """The watchdog's last resort (watchdog.limits.TestTimer), from its thread,
        while the main thread is stuck in ``item`` past its limit and grace:
        journal the test's end, failed with ``text`` as the report of the
        phase it was in, and the stop of the run, so that ``--pexen-resume``
        reports it timed out and continues after it. False if the test was
        not journaled as started (nothing to continue)."""
        test = self.open.get(item.nodeid)
        if test is None or self.writer is None:
            return False
        done = {data[0] if isinstance(data, list) else data.get("when") for data in test.reports}
        when: Literal["setup", "call", "teardown"] = (
            "teardown" if "call" in done else "call" if "setup" in done else "setup"
        )
        report = pytest.TestReport(
            item.nodeid, item.location, {}, "failed", text, when, duration=real_time() - test.start
        )
        test.bad = "timed out"
        self.pytest_runtest_logreport(report)
        self._end(item.nodeid)
        self.writer.write(
            {
                "type": "stop",
                "t": real_time(),
                "reason": "timeout",
                "exitstatus": int(pytest.ExitCode.TESTS_FAILED),
            }
        )
        self.writer.sync()  # the process exits next, without closing anything
        return True

    # ------------------------------------------------------------ reboot
    def _rebooting(self, nodeid: str, count: int, env: dict[str, str]) -> None:
        """A test asked for a reboot: record it, and stop the run (under
        xdist: no new test is sent, the running ones finish)."""
        command = reboot_command(self.config)
        self._write(
            {
                "type": "reboot",
                "test": nodeid,
                "t": real_time(),
                "boot": self.boot,
                "boot_count": count,
                "command": command,
                **env,  # the host and worker of the test that asked
            }
        )
        if self.reboot is None:
            self.reboot = (nodeid, count)
        reason = f"pexen: {nodeid} asked for a reboot"
        dsession = self.config.pluginmanager.get_plugin("dsession")
        if dsession is not None:
            if not dsession.shouldstop:
                dsession.shouldstop = reason
            # no test may begin anywhere from now on: the tests queued on the
            # workers are handed back (journal "back") and run after the reboot
            tell_workers(dsession, STOP, reason=reason)
        elif self.session is not None:
            self.session.shouldstop = reason

    # ------------------------------------------------------------ resume
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """Serial resume: the planner learns what ended before, and those
        tests are reported again before the run goes on. Their failures
        count for the exit status, but neither stop this boot's run (``-x``)
        nor read as collection errors. When the loop stops (-x, an
        interrupt), a record whose sync waited for the next test's start is
        synced (see ``pytest_runtest_protocol``)."""
        resume = self.resume
        resumed_failures = 0
        if resume is not None and self.serial:  # under xdist its scheduler restores
            resumed_failures = self._resume_serial(session, resume)
        try:
            return (yield)
        finally:
            session.testsfailed += resumed_failures
            if self.writer is not None:
                self.writer.sync_deferred()

    def _resume_serial(self, session: pytest.Session, resume: Resume) -> int:
        """Restore the planner, report the finished tests again, let the
        capabilities restore their records of them (pytest-dependency's,
        through ``pytest_pexen_resumed``); the number of their failures."""
        run = self.config.stash.get(RUN_KEY, None)
        if run is not None and run.planner is not None:
            ids = {item.nodeid for item in session.items}
            resume.restore(run.planner, ids.__contains__, run.hand_on)
        failed = session.testsfailed
        self.replay()
        self.config.hook.pytest_pexen_resumed(session=session, ended=resume.ended)
        resumed_failures = session.testsfailed - failed
        session.testsfailed = failed
        if any(item.nodeid in resume.ended for item in session.items):
            self.skip_ended = SkipEnded(session.items, resume)
            self.config.pluginmanager.register(self.skip_ended, "pexen-skip-ended")
        return resumed_failures

    def replay(self) -> None:
        resume = self.resume
        if resume is None:
            return
        if not self.opened:
            self._open()  # the boot record, before anything else of this boot
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(resume.header_line(len(self.tests or [])))
        self.replaying = True
        option = self.config.option
        maxfail = option.maxfail
        option.maxfail = 0  # -x counts this boot's failures only: the replay sets no shouldfail
        try:
            resume.replay(self.config)
        finally:
            self.replaying = False
            option.maxfail = maxfail
        self.replayed = resume.finished

    # ------------------------------------------------------------ the end
    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C, or ``pytest.exit()``: pytest sets the session's exit
        status only once the hooks for it have run, so a second Ctrl-C
        during them leaves it at 0 (see ``_stop``)."""
        code = getattr(excinfo.value, "returncode", None)
        self.interrupt = int(pytest.ExitCode.INTERRUPTED if code is None else code)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.opened:
            self._stop(exitstatus)
        writer = self.writer
        if writer is not None and writer.lost is not None:
            self.trouble = (
                f"pexen: the journal {self.path} could not be written from "
                f"{writer.lost_where()} on ({writer.lost}); it is incomplete, and "
                "--pexen-resume will not continue this run"
            )
        elif self.unwritten is not None:
            self.trouble = f"pexen: this run is not journaled: {self.unwritten}"
        if self.trouble is not None and warn(self.trouble):
            self.trouble = None  # said

    def _stop(self, exitstatus: int) -> None:
        """The stop record; before it, a ``back`` record for each test sent
        to a worker that never began it: it is not running, and runs after
        a resume as if never sent."""
        if not self.serial:
            for nodeid, test in list(self.open.items()):
                if not test.began and not test.reports:
                    del self.open[nodeid]
                    self._emit(
                        {"type": "back", "test": nodeid, "t": real_time(), "boot": self.boot}
                    )
        # a test that began and never ended: whatever the status (an
        # INTERNALERROR, a conftest's sys.exit()), the run did not finish
        stopped = self.interrupt is not None or bool(self.open)
        if exitstatus == pytest.ExitCode.OK and self.reboot is None and stopped:
            # a second Ctrl-C while pytest handled the first: the session's
            # status is still 0, with a test unfinished (or the handling begun)
            exitstatus = pytest.ExitCode.INTERRUPTED if self.interrupt is None else self.interrupt
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED or stopped
        reason = (
            "reboot" if self.reboot is not None else "interrupted" if interrupted else "finished"
        )
        self._emit(
            {"type": "stop", "t": real_time(), "reason": reason, "exitstatus": int(exitstatus)}
        )
        if self.writer is not None:
            self.writer.close(finished=reason == "finished")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.trouble is not None:  # not said as a warning (-W error)
            terminalreporter.write_line(self.trouble, yellow=True)
        if self.replayed:
            terminalreporter.write_line(f"pexen: {self.replayed} results resumed from {self.path}")
        unfinished = [n for n, t in self.open.items() if self.serial or t.began or t.reports]
        if unfinished and self.reboot is None:
            # pytest counts and shows the phases that ended (a passed call,
            # say, when the run stopped in its teardown): say that the test did not
            shown = ", ".join(unfinished[:5]) + (
                f" and {len(unfinished) - 5} more" if len(unfinished) > 5 else ""
            )
            resumable = self.writer is not None and self.writer.lost is None
            one = len(unfinished) == 1
            terminalreporter.write_line(
                f"pexen: did not finish (the run stopped while {'it' if one else 'they'} ran): "
                + shown
                + (f"; --pexen-resume runs {'it' if one else 'them'} again" if resumable else ""),
                yellow=True,
            )
        if self.reboot is not None:
            nodeid, count = self.reboot
            command = reboot_command(self.config)
            if self._stranded():
                what = f"not running {command!r}: {STRANDED}"
                self.stranded_said = True
            else:
                what = (
                    f"running {command!r}; after it, run the same pytest command "
                    "with --pexen-resume"
                )
            terminalreporter.write_line(
                f"pexen: {nodeid} asked for a reboot (boot count {count}); {what}", yellow=True
            )

    def _stranded(self) -> bool:
        """Whether the journal lost records (or was never written): a
        resume would refuse it, so a reboot would strand the run."""
        return self.unwritten is not None or (self.writer is not None and bool(self.writer.lost))

    def pytest_unconfigure(self) -> None:
        if self.reboot is None or os.getpid() != self.pid:
            return
        if self.writer is not None:
            self.writer.wait()  # the journal on disk before the machine reboots
        command = reboot_command(self.config)
        if self._stranded():
            if not self.stranded_said:  # the terminal's summary said it otherwise
                print(f"pexen: not running the reboot command {command!r}: {STRANDED}")
            return
        done = subprocess.run(
            command, shell=True, check=False, env={**os.environ, **self.reboot_env}
        )
        if done.returncode != 0:
            print(f"pexen: the reboot command {command!r} failed (exit {done.returncode})")


class ControllerJournal(JournalPlugin):
    """The journal of an xdist controller: it learns of a test's start and
    end from its worker's reports (a serial process journals each test
    around its protocol, and registers none of these hooks: each costs
    every pytest process its registration, and every test its call)."""

    serial = False

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.tests is None:
            self._selected(list(ids))
            self.holding = self.path is not None and before_each_event(
                self.config, self._before_event
            )
            if self.resume is None and self.path is not None and not self.opened:
                # made now, while the other workers still collect, not on
                # the way of the first tests to their worker (10 ms at 5,000)
                self.header = self._header()
        if self.config.option.dist != "pexen":
            # another --dist mode: its tests are journaled as started when
            # xdist's scheduler sends them, as pexen's scheduler tells of
            # its sends (attach_scheduler)
            worker = node.gateway.id
            observe_sends(node, lambda indices: self.started([ids[i] for i in indices], worker))

    def _lost(self) -> None:
        """... and on every worker (a test asking for a reboot there fails;
        one whose request was already on its way stops the run without
        the reboot, see ``pytest_unconfigure``)."""
        super()._lost()
        if not reboot_command(self.config):
            return  # no reboot can be asked for (the workers know no such command)
        tell_workers(self.config.pluginmanager.get_plugin("dsession"), UNJOURNALED)

    def _before_event(self, idle: bool) -> None:
        """The controller takes its next event: the end records held are
        written if it has none to take (it waits for its workers), or if
        the first has waited long enough (see ``journal.Writer.hold``)."""
        writer = self.writer
        if writer is not None and writer.held and (idle or writer.overdue()):
            writer.release()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """The end records held are written when the run loop ends, however
        it ends: the session's end, where the rest is written, may not get
        to this plugin (another plugin's hook that raises)."""
        try:
            return (yield)
        finally:
            if self.writer is not None:
                self.writer.release()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        if self.replaying:
            return
        test = self.open.get(nodeid)
        if test is None:  # a test started without being sent (not in this process)
            self.started([nodeid], None)
        else:  # sent to a worker (xdist): it has begun there
            test.began = True

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        test = self.open.get(nodeid)
        if self.replaying or test is None:
            return
        if test.rerun:  # pytest-rerunfailures tells of each attempt's end: not the test's
            test.rerun = False
            return
        self._end(nodeid)


class _Header(HooksOnly):
    """A line under pytest's header (what a resume found)."""

    def __init__(self, line: str) -> None:
        self.line = line

    def pytest_report_header(self) -> list[str]:
        return [self.line]


class ResumedStatus(HooksOnly):
    """Reports of finished tests told again read "PASSED (resumed)" in the
    terminal (registered only when a run resumes)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> Generator[None, Any, Any]:
        status = yield
        if getattr(report, "pexen_resumed", False) and isinstance(status, tuple) and status[2]:
            category, letter, word = status
            if isinstance(word, tuple):
                word = (f"{word[0]} (resumed)", word[1])
            else:
                word = f"{word} (resumed)"
            return category, letter, word
        return status


class SkipEnded(HooksOnly):
    """Serial resume: tests that ended before are not run again (they were
    reported from the journal); the test before one of them tears down as
    if it were not there. Of several tests under one node id, as many as
    ended, the first ones (they ran first)."""

    def __init__(self, items: list[pytest.Item], resume: Resume) -> None:
        left = {test: 1 + len(resume.repeats.get(test, ())) for test in resume.ended}
        self.done: set[int] = set()  # id() of each test not to run again
        for item in items:
            if left.get(item.nodeid, 0):
                left[item.nodeid] -= 1
                self.done.add(id(item))
        self.next_real: dict[int, pytest.Item | None] = {}
        following: pytest.Item | None = None
        for item in reversed(items):
            self.next_real[id(item)] = following
            if id(item) not in self.done:
                following = item

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        if id(item) in self.done:
            return True
        if nextitem is not None and id(nextitem) in self.done:
            real = self.next_real[id(item)]
            item.ihook.pytest_runtest_protocol(item=item, nextitem=real)
            return True
        return None


def under_xdist(config: pytest.Config) -> bool:
    """Whether this process is an xdist controller (its workers run the tests)."""
    return getattr(config.option, "dist", "no") != "no" and bool(config.getoption("tx", None))


def provided_tags(config: pytest.Config) -> dict[str, Sequence[str]]:
    """Each test's provided tags (serial: from the graph; xdist: from the
    graph the workers sent)."""
    graph = getattr(config.pluginmanager.get_plugin("pexen-graph"), "graph", None)
    if graph is not None:
        return {nodeid: sorted(meta.provides) for nodeid, meta in graph.metas.items()}
    dist = config.pluginmanager.get_plugin("pexen-dist")
    spec = getattr(getattr(dist, "scheduler", None), "spec", None)
    if spec:
        return {task[0]: task[2] for task in spec["tasks"]}
    return {}


def run_graph(config: pytest.Config) -> dict[str, Any] | None:
    """The task graph for the journal's header, so that a reader (the
    timeline page) can tell why a test waited and find the critical path:
    each test that has pexen metadata, by node id, with ``[requires,
    provides, claims, uses, priority, group]`` as the planner got them
    (requirements resolved, implicit node-id tags included), and the groups
    in run order. None for a suite without metadata: nothing to carry."""
    graph = getattr(config.pluginmanager.get_plugin("pexen-graph"), "graph", None)
    if graph is not None:
        spec = graph.spec()
    else:
        dist = config.pluginmanager.get_plugin("pexen-dist")
        spec = getattr(getattr(dist, "scheduler", None), "spec", None)
    if not spec:
        return None
    tasks = {  # as JSON reads them back (an xdist controller's rows are tuples)
        task[0]: [list(task[1]), list(task[2]), list(task[3]), list(task[4]), task[5], task[6]]
        for task in spec["tasks"]
        if any(task[1:5]) or task[5] or task[6] is not None
    }
    return {"tasks": tasks, "groups": spec["groups"]} if tasks else None


def warn(message: str) -> bool:
    """Say ``message`` as a PexenJournalWarning (from a ``pytest_sessionfinish``
    hook, where pytest records it for its warnings summary). False where
    warnings are errors (``-W error``): the caller says it in the terminal
    summary instead, as the journal never fails a run."""
    import warnings

    try:
        warnings.warn(PexenJournalWarning(message), stacklevel=2)
    except PexenJournalWarning:
        return False
    return True


class Unjournaled(HooksOnly):
    """Registered when the run cannot have its journal: says so once, as a
    warning where the machine stops it (pytest warns so of its own cache),
    as a line of the summary where another run holds it: runs side by side
    (``tox p``, an editor's test runner, a test that runs pytest on its
    own checkout) are ordinary, and pytest says nothing of them."""

    def __init__(self, message: str, warns: bool) -> None:
        self.message = message
        self.warns = warns
        self.said = False

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        self.said = self.warns and warn(self.message)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.said:
            terminalreporter.write_line(self.message, yellow=True)


def explicit_path(config: pytest.Config) -> bool:
    """Whether the user named the journal (option or ini), rather than
    taking the default in pytest's cache."""
    return bool(config.getoption("pexen_state") or config.getini("pexen_state"))


def attach_scheduler(scheduler: PexenScheduling) -> None:
    """The xdist controller: each test is journaled as started when it is
    sent (see ``JournalPlugin.started``); on ``--pexen-resume`` the
    scheduler settles what ended in an earlier boot and has it reported
    again."""
    graph = scheduler.graph
    config = graph.config
    plugin = config.pluginmanager.get_plugin(JOURNAL)
    if plugin is not None:

        def sent(node: Any, nodeids: list[str]) -> None:
            plugin.started(nodeids, node.gateway.id)

        graph.listeners.on_sent(sent)
    resume = config.stash.get(RESUME_KEY, None)
    if resume is not None:
        graph.earlier = resume
        graph.replay = plugin.replay if plugin is not None else None


def configure_node(node: Any) -> None:
    """The xdist controller tells each worker the boot counts and whether
    the run is journaled (a reboot needs a journal)."""
    node.workerinput["pexen_boots"] = node.config.stash.get(BOOTS_KEY, {})
    node.workerinput["pexen_journaled"] = node.config.stash.get(JOURNALED_KEY, False)


def check_cache_clear(config: pytest.Config) -> None:
    """``--cache-clear --pexen-resume`` with the journal in the cache: the
    cache would be cleared (the journal with it) before the resume reads
    it. A usage error before pytest's cache plugin gets to it."""
    if (
        getattr(config.option, "cacheclear", False)
        and getattr(config.option, "pexen_resume", False)
        and not explicit_path(config)
    ):
        raise pytest.UsageError(
            "pexen: --cache-clear would delete the journal that --pexen-resume "
            "continues (it is in pytest's cache); drop one of the two"
        )


def _hold(config: pytest.Config, path: Path, strict: bool) -> Unjournaled | None:
    """Take the journal's lock for this run (journal.lock), keeping it until
    the end; what says why this run cannot have the journal, or None. With
    ``strict`` (a journal the user named, or a resume) that reason is a
    usage error instead: nothing has run yet."""
    try:
        fd = journal.lock(path)
    except journal.Busy as busy:
        # a test that runs pytest.main() in its own process holds no lock of
        # its own: the run around it does
        holder = (
            "the pytest run this one runs inside"
            if busy.pid == str(os.getpid())
            else f"another pytest run (pid {busy.pid})"
        )
        if strict:
            raise pytest.UsageError(
                f"pexen: the journal {path} is in use by {holder}; wait for it to "
                "end, or give this run its own --pexen-state"
            ) from None
        return Unjournaled(
            f"pexen: this run is not journaled: {path} is in use by {holder}", warns=False
        )
    except OSError as exc:
        if strict:
            raise pytest.UsageError(
                f"pexen: cannot write the journal {path}: {exc.strerror or exc}"
            ) from None
        return Unjournaled(
            f"pexen: this run is not journaled: cannot write {path}: {exc.strerror or exc}",
            warns=True,
        )
    if fd is not None:
        config.add_cleanup(lambda: os.close(fd))
    return None


def _load(config: pytest.Config, path: Path) -> tuple[Resume | None, str | None]:
    """The journal to resume, or None and the note of a fresh run (empty
    or cut in its header, or its run finished with records lost)."""
    try:
        state = journal.load(path)
    except journal.EmptyJournal:
        return None, (
            f"pexen: --pexen-resume: {path} holds no complete first record (its run "
            "stopped before it had one); starting a fresh run"
        )
    except journal.JournalError as exc:
        raise pytest.UsageError(f"pexen: --pexen-resume: {exc}") from None
    gap = state.header.get("gap", journal.NO_GAP)
    if gap == journal.GAP_FINISHED:
        return None, (
            f"pexen: --pexen-resume: the journal {path} lost records, but its run "
            "finished; starting a fresh run"
        )
    if gap != journal.NO_GAP:
        raise pytest.UsageError(
            f"pexen: --pexen-resume: the journal {path} lost records (it could not "
            "be written, a full disk?) and its run did not finish: what ran after "
            "the gap is unknown; run without --pexen-resume"
        )
    return Resume(path, state), None


def configure(config: pytest.Config) -> None:
    """Read the journal to resume (before xdist starts its workers, which get
    the boot counts), and start journaling in this process."""
    if getattr(config, "workerinput", None) is not None:
        return  # xdist workers never journal
    if config.getoption("pexen_fsync") not in ("auto", "always", "never"):
        raise pytest.UsageError("pexen: --pexen-fsync must be auto, always or never")
    resuming = bool(config.getoption("pexen_resume"))
    quiet = config.getoption("collectonly") or config.getoption("pexen_plan")
    strict = resuming or explicit_path(config)
    unjournaled = None
    try:
        path, why = journal_path(config)
    except OSError as exc:  # cache.mkdir in a read-only checkout
        if resuming:
            raise pytest.UsageError(
                f"pexen: --pexen-resume: cannot open pytest's cache: {exc.strerror or exc}"
            ) from None
        path, why = None, "pytest's cache cannot be written"
        unjournaled = Unjournaled(
            f"pexen: this run is not journaled: {why} ({exc.strerror or exc})", warns=True
        )
    if path is not None and (resuming or not quiet):
        unjournaled = _hold(config, path, strict)
        if unjournaled is not None:
            path, why = None, unjournaled.message
    if unjournaled is not None and not quiet:
        config.pluginmanager.register(unjournaled, "pexen-unjournaled")
    config.stash[JOURNALED_KEY] = path is not None and not quiet
    resume: Resume | None = None
    note = None
    if resuming:
        if path is None:
            raise pytest.UsageError(f"pexen: --pexen-resume: there is no journal ({why})")
        if path.exists():
            resume, note = _load(config, path)
        else:
            note = f"pexen: --pexen-resume: no journal at {path}; starting a fresh run"
        if resume is not None:
            for lost, source in config.hook.pytest_pexen_lost_ends(
                config=config, journal=path, state=resume.state
            ):
                resume.add_ended(lost, source)
            config.stash[BOOTS_KEY] = resume.boots
            config.stash[RESUME_KEY] = resume
            config.stash[EARLIER_KEY] = resume.state.elapsed  # the run's time before this boot
            config.pluginmanager.register(ResumedStatus(), "pexen-resumed-status")
        else:
            config.stash[BOOTS_KEY] = {}
    if quiet:
        return
    timeline = option_given(config, "pexen_timeline")
    if path is None and not timeline:
        return
    plugin = (ControllerJournal if under_xdist(config) else JournalPlugin)(config, path, resume)
    if timeline and resume is None:
        plugin.kept = []
    config.pluginmanager.register(plugin, JOURNAL)
    if note is not None:
        config.pluginmanager.register(_Header(note), "pexen-journal-header")
