"""The xUnit report: ``--pexen-junitxml=PATH`` (ini ``pexen_junitxml``).

Built with the junit-xml package, in the process where reports arrive (the
serial run, or the xdist controller), from the reports alone: what the
tests' processes put on them (sub-results, pexen metadata, suite
properties) is all there is, so a serial run and an xdist run write the
same file. One testcase per test with its final outcome (the rule of
``results.final_outcome``), one per sub-result named
``<test name>::<sub-result name>``, all with the test's dotted tree path as
classname; at most one failure, error or skipped element per testcase, and
``tests=`` counts testcases. pexen's facts and pytest's ``record_property``
values are ``[[PROPERTY|name=value]]`` lines in the testcase's system-out
(what Jenkins' JUnit attachments convention reads), run-level facts and
``record_testsuite_property`` values are suite properties, and captured
output follows pytest's ``junit_logging`` and ``junit_log_passing_tests``.

junit-xml 1.9 does not produce what the Jenkins/pytest ``junit-10.xsd``
accepts (a ``disabled`` attribute, a suite time with up to 17 decimals or
in exponent notation, character references to lone surrogates): ``_schema_fixes`` and
``xml_text`` are the one place that corrects it. The file is written to a
temporary file beside it and renamed, so an interrupted run never leaves a
half-written report.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import datetime
import gc
import os
import platform
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from ..graph.keys import EARLIER_KEY
from ..graph.outcome import merge_own, own_outcome
from ..internals import HooksOnly, longrepr_text, real_time
from .recorder import (
    BAD,
    SubResult,
    final_outcome,
    first_line,
    soft_word,
    strict_warn,
    subtest_result,
)

#: the error of a test that started and did not finish (the run stopped)
INTERRUPTED = "interrupted: the test did not finish (the run stopped while it ran)"

_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold (NUL, ESC, lone
    surrogates...) shown as ``#xNN``, as pytest's own report does."""
    if _ILLEGAL.search(text) is None:
        return text
    return _ILLEGAL.sub(lambda m: f"#x{ord(m.group()):02X}", text)


def report_path(config: pytest.Config) -> Path | None:
    """Where the report goes: the option (relative to the invocation
    directory) or the ini setting (relative to the ini file)."""
    option = config.getoption("pexen_junitxml")
    if option:
        base = config.invocation_params.dir
        raw = str(option)
    else:
        raw = str(config.getini("pexen_junitxml"))
        if not raw:
            return None
        base = config.inipath.parent if config.inipath else config.rootpath
    return base / os.path.expanduser(os.path.expandvars(raw))


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """(classname, name) of a test as pytest's junitxml names it: the dotted
    path of the file (no ``.py``) and classes, and the function with its
    parameters (which may hold ``::`` or ``/``). A node id that is a path
    (a module's collection error, an executable test ``suite/net/ping.sh``)
    is named by the file (without ``.py``; other dots stay), its classname
    the dotted folder."""
    base, bracket, params = nodeid.partition("[")
    parts = base.split("::")
    if len(parts) == 1:
        folder, _, name = base.rpartition("/")
        return folder.replace("/", "."), name.removesuffix(".py") + bracket + params
    path = parts[0].removesuffix(".py").replace("/", ".")
    return ".".join([path, *parts[1:-1]]), parts[-1] + bracket + params


@dataclass
class Case:
    """One test as its reports tell it."""

    nodeid: str
    own: str = "pass"
    finished: bool = False  # it ended: logfinish, or xdist's crash report
    soft: str | None = None  # the word if its sub-results failed it (results.soft_word)
    message: str | None = None  # of the phases that decided ``own``
    detail: str | None = None
    duration: float = 0.0
    subs: list[SubResult] = field(default_factory=list)
    facts: list[list[str]] = field(default_factory=list)
    worker: str | None = None
    last: Any = None  # its latest report (captured output, user properties); None: none yet
    # its subtests' reports since its call began: its call report carries
    # them as sub-results, unless its worker died (or the run stopped) first
    subtests: list[Any] = field(default_factory=list)
    began: float = 0.0  # when it started (its logstart): the time of one that never finished


class XunitWriter(HooksOnly):
    """Registered where reports arrive when a report is asked for."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config = config
        self.path = path
        self.strict = strict_warn(config)
        self.suite_name = str(config.getini("junit_suite_name"))
        self.logging = str(config.getini("junit_logging"))
        self.log_passing = bool(config.getini("junit_log_passing_tests"))
        self.call_only = config.getini("junit_duration_report") == "call"
        subtest = getattr(pytest, "SubtestReport", None)  # pytest >= 9
        self.subtest: tuple[type, ...] = (subtest,) if subtest is not None else ()
        self.cases: dict[str, Case] = {}
        self.suite_properties: list[tuple[str, str]] = []
        self.start = real_time()
        self.problem: str | None = None
        self.written = True  # False: the session stopped before any test, nothing written
        self.pid = os.getpid()

    def pytest_sessionstart(self) -> None:
        self.start = real_time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        case = self.cases.get(nodeid)
        if isinstance(report, self.subtest):
            if case is not None:  # it arrives as a sub-result on its test's call report
                case.subtests.append(report)
            return
        rerun = report.outcome == "rerun"  # type: ignore[comparison-overlap]
        if case is None or rerun:  # pytest-rerunfailures: that attempt is void
            case = self.cases[nodeid] = Case(nodeid, began=real_time())
            if rerun:
                return
        case.last = report
        if report.when == "call":
            case.subtests.clear()  # they are on it
        extra = report.__dict__  # what pexen and xdist put on the report
        if "pexen_results" in extra:
            case.subs.extend(extra["pexen_results"])
        if "pexen_facts" in extra:
            case.facts = extra["pexen_facts"]
        if "pexen_suite_properties" in extra:
            self.suite_properties.extend(
                (str(k), str(v)) for k, v in extra["pexen_suite_properties"]
            )
        case.worker = extra.get("worker_id", case.worker)
        if not self.call_only or report.when == "call":
            case.duration += report.duration
        if report.outcome != "passed" or "wasxfail" in extra or "pexen_was" in extra:
            self._phase(case, report)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """A test started (serially, or its worker said so): from now on it
        is in the report, as an error if it never finishes."""
        if nodeid not in self.cases:
            self.cases[nodeid] = Case(nodeid, began=real_time())

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        case = self.cases.get(nodeid)
        if case is not None:
            case.finished = True

    def _phase(self, case: Case, report: pytest.TestReport) -> None:
        """Fold a phase into the test's own outcome; the phase that makes it
        worse gives the message, and a second failed phase (a teardown error
        after a failed call or setup) adds its message and text to the
        first one's: nothing hides another failure."""
        crashed = str(report.when) == "???"  # xdist: the worker died while it ran
        case.finished = case.finished or crashed
        if report.failed and getattr(report, "pexen_was", None):
            case.soft = case.soft or soft_word(report.when)  # failed by its sub-results
        own = own_outcome(report)
        if own in BAD and not getattr(report, "pexen_was", None):
            message, detail = failure_of(report, crashed)
            if case.own in BAD:  # the second failed phase of this test
                case.message = f"{case.message}; then {message}"
                case.detail = f"{case.detail}\n\n---- then, on {report.when} ----\n{detail}"
            else:
                case.message, case.detail = message, detail
            case.own = merge_own(case.own, own)
            return
        merged = merge_own(case.own, own)
        if merged == case.own:
            return
        case.own = merged
        if own in ("xfail", "xpass"):
            case.message = f"xfail: {report.wasxfail}".rstrip(": ")
        elif own == "skip" and isinstance(report.longrepr, tuple):
            case.message = str(report.longrepr[2]).removeprefix("Skipped: ")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.passed:
            return
        case = self.cases[report.nodeid] = Case(report.nodeid, finished=True, last=report)
        if report.failed:
            case.own, case.message = "error", "collection failure"
            case.detail = report.longreprtext
        else:
            case.own = "skip"
            longrepr = report.longrepr
            case.message = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)

    def pytest_pexen_stopping(self, item: pytest.Item, text: str) -> None:
        """The watchdog stops the process (see the hook): the stuck test
        fails in the phase it was in, with the time since its start, and
        the report is written now, as at the session's end."""
        case = self.cases.get(item.nodeid)
        last = case.last if case is not None else None
        when: Literal["setup", "call", "teardown"] = (
            "setup"
            if last is None
            else "call"
            if last.when == "setup" and last.passed
            else "teardown"  # after its call, or a setup that failed or skipped
        )
        took = real_time() - case.began - case.duration if case is not None and case.began else 0.0
        report = pytest.TestReport(
            item.nodeid, item.location, {}, "failed", text, when, duration=max(0.0, took)
        )
        self.pytest_runtest_logreport(report)
        self.pytest_runtest_logfinish(item.nodeid)
        self.pytest_sessionfinish(item.session)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if os.getpid() != self.pid:
            return  # a test's forked child that ran on: the report is the run's, not its
        if session.exitstatus == pytest.ExitCode.USAGE_ERROR and not self.cases:
            # stopped before any test (a refused --pexen-resume, a cycle): the
            # file may hold the report of the boots before, the run's only one
            self.written = False
            return
        try:
            # tens of thousands of new objects, none of them garbage: without
            # a pause, the collector would walk the whole session's heap
            # several times over while they are made
            collecting = gc.isenabled()
            gc.disable()
            try:
                # after a resume, the time of the boots before this one too
                data = render(
                    self.suite(), real_time() - self.start + self.config.stash.get(EARLIER_KEY, 0.0)
                )
            finally:
                if collecting:
                    gc.enable()
            write_atomically(self.path, data.encode("utf-8"))
        except OSError as exc:
            self.problem = (
                f"pexen: cannot write the xUnit report {self.path}: {exc.strerror or exc}"
            )
            if session.exitstatus == 0:
                session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.problem is not None:
            terminalreporter.write_sep("-", self.problem, red=True)
        elif self.written and self.config.get_verbosity() >= 0:
            terminalreporter.write_sep("-", f"pexen xUnit report: {self.path}")

    # ------------------------------------------------------------ building
    def suite(self) -> Any:
        """The junit-xml TestSuite of every test and sub-result."""
        from junit_xml import TestSuite

        cases = [
            tc
            for case in self.cases.values()
            if case.last is not None or not case.finished
            for tc in self.testcases(case)
        ]
        start = datetime.datetime.fromtimestamp(self.start).astimezone()
        return TestSuite(
            xml_text(self.suite_name),
            cases,
            hostname=xml_text(platform.node()),
            timestamp=start.isoformat(timespec="seconds"),
            properties=_Pairs(self.run_properties() + self.suite_properties),
        )

    def run_properties(self) -> list[tuple[str, str]]:
        """Run-level facts."""
        from .._version import __version__

        props = [("pexen.version", __version__), ("pytest.version", pytest.__version__)]
        workers = self.config.getoption("numprocesses", None)
        if workers:
            props += [
                ("pexen.workers", str(workers)),
                ("pexen.dist", str(self.config.getoption("dist", ""))),
            ]
        if self.strict:
            props.append(("pexen.strict_warn", "true"))
        return props

    def testcases(self, case: Case) -> list[Any]:
        """The test's own testcase, then one per sub-result."""
        from junit_xml import TestCase

        classname, name = (xml_text(part) for part in split_nodeid(case.nodeid))
        # a test whose call never reported (it crashed, or the run stopped):
        # its subtests that did, as the terminal and pytest's report show them
        subs = [*case.subs, *map(subtest_result, case.subtests)]
        final = final_outcome(
            case.own, [sub["outcome"] for sub in subs], strict=self.strict, soft=case.soft or "fail"
        )
        head: list[str] = []
        message, detail = case.message, case.detail
        if not case.finished:  # never a passed test that did not finish
            if case.began:  # it ran until the run stopped: not only its phases that ended
                case.duration = max(case.duration, real_time() - case.began)
            final = "error"
            message = INTERRUPTED if case.own not in BAD else f"{message}; {INTERRUPTED}"
            detail = "\n\n".join(part for part in (detail, INTERRUPTED) if part)
        elif final in BAD and case.own not in BAD:  # failed by its sub-results
            counted = (*BAD, "warn") if self.strict else BAD
            bad = [sub for sub in subs if sub["outcome"] in counted]
            verb = (
                "failed"
                if any(sub["outcome"] in BAD for sub in bad)
                else "warned under --pexen-strict-warn"
            )
            message = (
                f"{len(bad)} sub-result{'s' if len(bad) != 1 else ''} {verb}: {_label(bad[0])}"
            )
            detail = "\n".join(_label(sub) for sub in bad)
        elif final == "warn":
            head = [
                "warn: " + (f"{sub['name']}: " if sub["name"] else "") + (sub["message"] or "")
                for sub in subs
                if sub["outcome"] == "warn"
            ]
        last = case.last
        facts = [*case.facts, ["pexen.worker", case.worker]] if case.worker else case.facts
        props = [
            f"[[PROPERTY|{n}={_flat(v)}]]"
            for n, v in (*facts, *getattr(last, "user_properties", ()))
        ]
        out = err = ""
        if self.logging != "no" and last is not None:
            out, err = self._captured(
                last.capstdout, last.capstderr, last.caplog, final not in (*BAD, "skip", "xfail")
            )
        stdout = "\n".join([*head, *props, out]).strip("\n") if head or props or out else ""
        main = TestCase(
            name,
            classname,
            elapsed_sec=case.duration,
            stdout=xml_text(stdout) if stdout else None,
            stderr=xml_text(err) if err else None,
        )
        _outcome(main, final, message, detail)
        if not subs:
            return [main]
        cases = [main]
        used: set[str] = set()
        for n, sub in enumerate(subs, 1):
            label = sub["name"] or str(n)
            if label in used:
                k = 2
                while f"{label} ({k})" in used:
                    k += 1
                label = f"{label} ({k})"
            used.add(label)
            outcome = sub["outcome"]
            text = sub["message"] if outcome in _PASSING else None
            sub_err = None
            if self.logging != "no" and sub["source"] == "subtest":
                sub_out, sub_err = self._captured(
                    sub["out"], sub["err"], sub["log"], outcome not in BAD
                )
                text = "\n".join(p for p in (text, sub_out) if p)
            tc = TestCase(
                xml_text(f"{name}::{label}"),
                classname,
                elapsed_sec=sub["duration"],
                stdout=xml_text(text) if text else None,
                stderr=xml_text(sub_err) if sub_err else None,
            )
            if outcome not in _PASSING:
                _outcome(tc, outcome, sub["message"], sub["detail"])
            cases.append(tc)
        return cases

    def _captured(self, out: str, err: str, log: str, passed: bool) -> tuple[str, str]:
        """system-out and system-err text as pytest's ``junit_logging`` puts
        captured output (empty parts left out)."""
        logging = self.logging
        if logging == "no" or (passed and not self.log_passing):
            return "", ""
        parts_out, parts_err = [], []
        if logging in ("log", "all") and log:
            parts_out.append(_section(" Captured Log ", log))
        if logging in ("system-out", "out-err", "all") and out:
            parts_out.append(_section(" Captured Out ", out))
        if logging in ("system-err", "out-err", "all") and err:
            parts_err.append(_section(" Captured Err ", err))
        return "".join(parts_out), "".join(parts_err)


_PASSING = ("pass", "info", "warn")


class _Pairs(list[tuple[str, str]]):
    """Suite properties for junit-xml, which reads them with ``.items()``:
    a list keeps a name recorded twice (as pytest's own report does)."""

    def items(self) -> list[tuple[str, str]]:
        return [(xml_text(k), xml_text(v)) for k, v in self]


def failure_of(report: pytest.TestReport, crashed: bool) -> tuple[str, str]:
    """A failed phase's message and long text, the same serially and under
    xdist: the crash line of a traceback, else the first line of the text
    (not the worker header an xdist controller puts first); a setup or
    teardown error says which phase it was, as pytest's own report does."""
    detail = longrepr_text(report)
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else first_line(detail)
    if report.when in ("setup", "teardown") and not crashed:
        message = f"failed on {report.when}: {message}"
    return message, detail


def _label(sub: SubResult) -> str:
    return f"{sub['name'] or sub['outcome']}: {sub['message'] or sub['outcome']}"


def _flat(value: object) -> str:
    """A property value on one line (the ``[[PROPERTY|...]]`` format is line-based)."""
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _section(header: str, content: str) -> str:
    return "\n".join([header.center(80, "-"), content, ""])


def _outcome(tc: Any, outcome: str, message: str | None, detail: str | None) -> None:
    """The single failure, error or skipped element of a testcase, if any."""
    if outcome == "fail":
        tc.add_failure_info(
            xml_text(message or "failed"), xml_text(detail or message or ""), "pexen.fail"
        )
    elif outcome == "error":
        tc.add_error_info(
            xml_text(message or "error"), xml_text(detail or message or ""), "pexen.error"
        )
    elif outcome in ("skip", "xfail"):
        tc.add_skipped_info(xml_text(message or "skipped"), xml_text(detail) if detail else None)


def render(suite: Any, wall: float) -> str:
    """The whole document: junit-xml's suite element, made schema-valid,
    in a ``testsuites`` root."""
    element = _schema_fixes(suite.build_xml_doc(), wall)
    root = ET.Element(
        "testsuites",
        {key: element.get(key, "0") for key in ("name", "tests", "failures", "errors", "time")},
    )
    root.append(element)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def _schema_fixes(element: ET.Element, wall: float) -> ET.Element:
    """Where junit-xml 1.9 and junit-10.xsd disagree: no ``disabled``
    attribute, and the suite's time is the run's wall time with three
    decimals (junit-xml writes the sum of the cases' times, with as many
    decimals as a float has, or in exponent notation, which the schema's
    time pattern rejects; a testcase's time is free text there)."""
    element.attrib.pop("disabled", None)
    element.set("time", f"{wall:.3f}")
    return element


def write_atomically(path: Path, data: bytes) -> None:
    """Write a temporary file beside ``path``, then rename it over ``path``:
    readers see the old report or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
