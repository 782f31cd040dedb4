"""Several results per test: ``pexen_results``, pytest's ``subtests``, the final outcome.

A system test says more than pass or fail: "passed, but the disk is 91%
full" (warn), "kernel 6.1" (info), several named checks, soft failures that
let the test go on. This module owns:

- the ``pexen_results`` fixture and the sub-result record (plain data);
- the rule for a test's final outcome (``final_outcome``: the worst of its
  own and its sub-results), used alike where the test runs and where the
  xUnit report is written;
- ``Recorder``, the per-test hooks in the process that runs the tests. It
  collects the sub-results of the test running now (from the fixture, from
  any fixture serving that test, in its setup or teardown, and from
  pytest's ``subtests``) and puts them on that test's next phase report as
  ``report.pexen_results``. Reports are what pytest, xdist and every
  reporting plugin already carry from a worker to the controller, so the
  sub-results travel with them and nothing is buffered where a worker's
  death could lose it. The report that ends the test also carries the final
  outcome: a soft failure turns a passed call report into a failed one, so
  the planner (serial or xdist) and the terminal see the same outcome;
- the terminal summary: warn and fail messages, and how many tests warned.

Invisible when unused: the recorder is registered only when a collected
test uses ``pexen_results`` or ``subtests``, or an xUnit report or strict
warnings are asked for; otherwise pexen adds no per-test hook.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import pytest

from ..graph.keys import RECORDER
from ..graph.outcome import OUTCOMES, merge_own, own_outcome
from ..internals import HooksOnly, option_given, requesting_item

_RANK = {word: len(OUTCOMES) - n for n, word in enumerate(OUTCOMES)}
BAD = ("error", "fail")

SubResult = dict[str, Any]
"""One sub-result, as it travels on reports (plain data, JSON-able):
``outcome``, ``name`` (None: numbered in the report), ``message``,
``detail`` (a failure's long text), ``source`` ("pexen" or "subtest"),
``duration`` (seconds or None) and, for subtests, captured ``out``, ``err``
and ``log``."""


def worst(outcomes: Iterable[str]) -> str | None:
    """The worst of some outcome words (None for none)."""
    return max(outcomes, key=_RANK.__getitem__, default=None)


def final_outcome(own: str, subs: Iterable[str], *, strict: bool, soft: str = "fail") -> str:
    """A test's final outcome from its own (``error``, ``fail``, ``pass``,
    ``skip``, ``xfail``, ``xpass``) and its sub-results' outcomes.

    Sub-results rank among themselves; against the test they can only make
    it worse, and only by failing: a ``fail`` or ``error`` sub-result (or
    ``warn`` under strict warnings) fails a test that had not failed on its
    own, with the word ``soft`` ("fail"; "error" when the failure landed on
    a setup or teardown report, which is how pytest's terminal counts it),
    and ``warn`` marks a passed test warned. ``pass`` and ``info`` never
    change an outcome: a skipped, xfailed or rebooting test stays so. An
    xfail-marked test is judged by its marker alone (its failure is the
    expected one), and a test that failed on its own keeps its own word.
    """
    if own in ("xfail", "xpass", *BAD):
        return own
    subs = list(subs)
    if any(sub in BAD or (strict and sub == "warn") for sub in subs):
        return soft
    if own == "pass" and "warn" in subs:
        return "warn"
    return own


def soft_word(when: str | None) -> str:
    """The outcome word of a test failed by its sub-results, by the phase
    whose report carried the failure: pytest counts a failed call report
    as FAILED and a failed setup or teardown report as ERROR."""
    return "fail" if when == "call" else "error"


def transportable(text: object) -> str:
    """``text`` as a string that crosses to an xdist controller and into any
    encoder: lone surrogates (undecodable bytes) become ``\\udcxx`` escapes."""
    text = str(text)
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def strict_warn(config: pytest.Config) -> bool:
    """``--pexen-strict-warn`` or the ini option ``pexen_strict_warn``."""
    return option_given(config, "pexen_strict_warn")


class TestState:
    """What the recorder knows of the test running now (a plain class: a
    dataclass is compiled at import, in every pytest process)."""

    __test__ = False  # not a test class, whatever pytest's name pattern says
    __slots__ = ("nodeid", "own", "pending", "reported_bad", "soft", "subs")

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.subs: list[SubResult] = []  # all of this attempt
        self.pending: list[SubResult] = []  # not on a report yet
        self.own = "pass"
        self.reported_bad = False
        self.soft = "fail"  # the word if its sub-results fail it (see soft_word)


def soft_summary(subs: list[SubResult], strict: bool) -> str:
    """The long text of a report failed by its sub-results: one line each."""
    counted = (*BAD, "warn") if strict else BAD
    bad = [sub for sub in subs if sub["outcome"] in counted]
    if all(sub["source"] == "subtest" for sub in bad):  # in pytest's own words
        return f"contains {len(bad)} failed subtest{'s' if len(bad) != 1 else ''}"
    lines = []
    for n, sub in enumerate(subs, 1):
        if sub["outcome"] in counted:
            what = "subtest" if sub["source"] == "subtest" else sub["outcome"]
            name = sub["name"] or f"#{n}"
            lines.append(f"  {what} {name}: {sub['message'] or sub['outcome']}")
    if any(sub["outcome"] in BAD for sub in subs):
        head = "pexen: failed by sub-results:"
    else:
        head = "pexen: warned, and --pexen-strict-warn makes that a failure:"
    return "\n".join([head, *lines])


class Recorder(HooksOnly):
    """The per-test hooks that collect sub-results where tests run (serial
    process or xdist worker) and put them, with the final outcome, on the
    tests' reports."""

    def __init__(self, config: pytest.Config, facts: bool) -> None:
        self.strict = strict_warn(config)
        self.facts = facts  # an xUnit report is written: put metadata on reports too
        self.state: TestState | None = None
        self.in_call = False
        self.suite_properties: list[list[str]] = []
        subtest = getattr(pytest, "SubtestReport", None)  # pytest >= 9
        self.subtest: tuple[type, ...] = (subtest,) if subtest is not None else ()

    def begin(self, nodeid: str) -> None:
        """A test (or another attempt of it) starts its setup."""
        self.state = TestState(nodeid)

    def add(self, sub: SubResult) -> None:
        state = self.state
        if state is None:
            raise RuntimeError(
                "pexen_results: no test is running; sub-results belong to "
                "the test whose setup, call or teardown adds them"
            )
        state.subs.append(sub)
        state.pending.append(sub)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None]:
        __tracebackhide__ = True  # a failing setup's traceback is the user's
        self.begin(item.nodeid)
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None]:
        __tracebackhide__ = True  # a failing test's traceback is the user's
        self.in_call = True  # reports made now are subtests' (see makereport)
        try:
            return (yield)
        finally:
            self.in_call = False

    def pytest_pexen_late_results(self, item: pytest.Item) -> bool | None:
        """Sub-results a fixture kept for a later test added in its late
        teardown (xdist): they go on a teardown report of ``item``."""
        state = self.state
        return True if state is not None and state.nodeid == item.nodeid and state.pending else None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.state
        if isinstance(report, self.subtest) and state is not None and state.nodeid == report.nodeid:
            self.add(subtest_result(report))  # type: ignore[arg-type]

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        state = self.state
        if self.in_call or state is None or state.nodeid != item.nodeid:
            return report  # a subtest's report, or a test we did not see start
        if call.when == "setup" and self.facts and (facts := item_facts(item)):
            report.pexen_facts = facts  # type: ignore[attr-defined]
        if self.suite_properties:
            report.pexen_suite_properties = self.suite_properties  # type: ignore[attr-defined]
            self.suite_properties = []
        if state.pending:
            report.pexen_results = state.pending  # type: ignore[attr-defined]
            state.pending = []
        self._settle(state, report)
        return report

    def _settle(self, state: TestState, report: pytest.TestReport) -> None:
        """Fold the phase into the test's own outcome, and make the report
        carry the final outcome: the first report after a failed sub-result
        (the call report, or the teardown report if the call had passed or
        never ran) turns failed, unless the test already failed. A setup
        report is never changed: pytest runs the test only if its setup
        passed. A skipped report stays skipped (see final_outcome)."""
        when = report.when
        state.own = merge_own(state.own, own_outcome(report))
        state.reported_bad = state.reported_bad or report.failed
        if not state.subs or when == "setup":
            return
        if not state.reported_bad:
            state.soft = soft_word(when)
        final = final_outcome(
            state.own, [s["outcome"] for s in state.subs], strict=self.strict, soft=state.soft
        )
        report.pexen_outcome = final  # type: ignore[attr-defined]
        if final in BAD and not state.reported_bad:
            report.pexen_was = report.outcome  # type: ignore[attr-defined]
            report.outcome = "failed"
            report.longrepr = soft_summary(state.subs, self.strict)
            state.reported_bad = True


def item_facts(item: pytest.Item) -> list[list[str]]:
    """The test's pexen metadata for the xUnit report, as name/value pairs."""
    from ..graph.items import EMPTY_META, META_KEY
    from ..graph.keys import boot_count

    meta = item.stash.get(META_KEY, None)
    facts = []
    if count := boot_count(item.config, item.nodeid):
        facts.append(["pexen.boot_count", str(count)])
    if meta is None or meta is EMPTY_META:
        return facts
    for name in ("requires", "provides", "claims", "uses", "host_claims", "host_uses", "host_tags"):
        values = getattr(meta, name)
        if values:
            facts.append([f"pexen.{name}", ", ".join(sorted(values))])
    if meta.priority:
        facts.append(["pexen.priority", str(meta.priority)])
    if meta.group is not None:
        facts.append(["pexen.group", meta.group])
    return facts


def subtest_result(report: pytest.SubtestReport) -> SubResult:
    """A report of pytest's ``subtests`` as a sub-result."""
    context = report.context
    parts = [f"[{context.msg}]"] if context.msg is not None else []
    if context.kwargs:
        parts.append("(" + ", ".join(f"{k}={v}" for k, v in context.kwargs.items()) + ")")
    message, detail = None, None
    if hasattr(report, "wasxfail"):
        outcome, message = "skip", f"xfail: {report.wasxfail}".rstrip(": ")
    elif report.failed:
        outcome, detail = "fail", report.longreprtext
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else first_line(detail)
    elif report.skipped:
        outcome = "skip"
        message = report.longrepr[2] if isinstance(report.longrepr, tuple) else None
    else:
        outcome = "pass"
    return {
        "outcome": outcome,
        "name": transportable(" ".join(parts)) if parts else None,
        "message": transportable(message) if message is not None else None,
        "detail": transportable(detail) if detail else None,
        "source": "subtest",
        "duration": report.duration,
        "out": report.capstdout,
        "err": report.capstderr,
        "log": report.caplog,
    }


def first_line(text: str) -> str:
    """The first non-empty line of a long text (a failure's message)."""
    return next((line for line in text.splitlines() if line.strip()), "failed")


def recorder(config: pytest.Config) -> Recorder:
    """The process's recorder, registered on first need."""
    plugin = config.pluginmanager.get_plugin(RECORDER)
    if plugin is None:
        plugin = Recorder(config, facts=report_wanted(config))
        config.pluginmanager.register(plugin, RECORDER)
    assert isinstance(plugin, Recorder)
    return plugin


def report_wanted(config: pytest.Config) -> bool:
    return option_given(config, "pexen_junitxml")


class Results:
    """The ``pexen_results`` fixture: sub-results of the test running now.

    Session-scoped, so that a fixture of any scope can report on the test it
    serves: what its setup or teardown adds belongs to the test in whose
    setup or teardown it runs.
    """

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def add(self, outcome: str, name: str | None = None, message: str | None = None) -> None:
        """Record a sub-result: ``outcome`` is one of pass, info, warn, fail,
        error, skip; ``name`` makes it a named check (unnamed ones are
        numbered in the report)."""
        __tracebackhide__ = True
        if outcome not in _RANK:
            pytest.fail(
                f"pexen_results.add(): unknown outcome {outcome!r}; use one of "
                f"{', '.join(OUTCOMES)}",
                pytrace=False,
            )
        if name is not None and not isinstance(name, str):
            pytest.fail(
                f"pexen_results.add(): name must be a string or None, not {name!r}", pytrace=False
            )
        self._recorder.add(
            {
                "outcome": outcome,
                "name": transportable(name) if name else None,
                "message": transportable(message) if message is not None else None,
                "detail": None,
                "source": "pexen",
                "duration": None,
            }
        )

    def info(self, message: str, name: str | None = None) -> None:
        """A fact worth keeping ("kernel 6.1"); it never changes the outcome."""
        __tracebackhide__ = True
        self.add("info", name, message)

    def warn(self, message: str, name: str | None = None) -> None:
        """Passed, but something is off; fails the run only under
        ``--pexen-strict-warn``."""
        __tracebackhide__ = True
        self.add("warn", name, message)

    def fail(self, message: str, name: str | None = None) -> None:
        """A soft failure: the test goes on, and is reported failed at the end."""
        __tracebackhide__ = True
        self.add("fail", name, message)


def fixture_value(request: pytest.FixtureRequest) -> Results:
    """What the ``pexen_results`` fixture gives (the fixture is the entry
    point's, so that a run that does not use it does not import this)."""
    plugin = request.config.pluginmanager.get_plugin(RECORDER)
    if plugin is None:  # asked for by name at run time (getfixturevalue)
        plugin = recorder(request.config)
        item = requesting_item(request)
        if item is not None:
            plugin.begin(item.nodeid)
    return Results(plugin)


def terminal_summary(reporter: Any, config: pytest.Config) -> None:
    """The warn, fail and error messages of ``pexen_results`` (pytest shows
    subtests' own), how many tests warned and how many they failed;
    nothing at all for a suite without them (the entry point calls this
    only where tests ran with a recorder, or on an xdist controller)."""
    # on an xdist controller this looks at every report of the run: a
    # plain look for sub-results first (each failed getattr below raises
    # and catches an AttributeError inside, ~60 M instructions at 5,000 tests)
    if not any(
        "pexen_results" in getattr(report, "__dict__", ())
        for reports in reporter.stats.values()
        for report in reports
    ):
        return
    lines: list[tuple[int, str]] = []
    warned: dict[str, bool] = {}
    failed: set[str] = set()  # failed by sub-results: pexen's, or pytest's subtests
    failing = (*BAD, "warn") if strict_warn(config) else BAD
    counted: set[str] = set()  # with a pexen_results sub-result that fails a test
    for reports in reporter.stats.values():
        for report in reports:
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "failed", False) or getattr(report, "skipped", False):
                warned[nodeid] = False  # only a passed test warned (final_outcome)
            if getattr(report, "failed", False) and getattr(report, "pexen_was", None):
                failed.add(nodeid)  # not an xfailed test, nor one that failed on its own
            for sub in getattr(report, "pexen_results", None) or ():
                if sub["source"] != "pexen" or sub["outcome"] not in ("warn", *BAD):
                    continue
                if sub["outcome"] in failing:
                    counted.add(nodeid)
                if sub["outcome"] == "warn":
                    warned.setdefault(nodeid, True)
                name = f"::{sub['name']}" if sub["name"] else ""
                text = f"{sub['outcome'].upper()} {nodeid}{name}"
                if sub["message"]:
                    text += f" - {sub['message']}"
                lines.append((_RANK[sub["outcome"]], text))
    if not lines:
        return
    reporter.write_sep("=", "pexen results")
    for _, text in sorted(lines, key=lambda line: -line[0]):
        reporter.write_line(text)
    counts = []
    if n := sum(warned.values()):
        counts.append(f"{n} test{'s' if n != 1 else ''} warned")
    if n := len(failed & counted):  # pytest counts those its subtests failed itself
        counts.append(f"{n} failed by sub-results")
    if counts:
        reporter.write_line("pexen: " + ", ".join(counts))
