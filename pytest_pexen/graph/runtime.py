"""Running the task graph inside one pytest process (a serial run).

The tests were already put in order at collection; at run time the planner
answers "may this test run, or must it be skipped (and why)?", and learns
how each test ended, so a failed provider's dependents are skipped with the
tag and the culprit named, transitively. Shared state flows from a provider
that passed to its direct dependents.

The order was made by running the planner on paper, every test passing. A
run that goes the same way would only repeat that run, so while it does
(``OnPlan``) the planner is not told; the first thing that differs catches
it up and ``PlannerHooks`` take over.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from itertools import islice
from typing import TYPE_CHECKING, Any

import pytest

from ..internals import HooksOnly
from ..sched.errors import failure_flags
from .shared import SHARED_KEY

if TYPE_CHECKING:
    from ..sched.planner import Planner

RUN_KEY = pytest.StashKey["GraphRun"]()

_PHASE_OUTCOME = {"setup": "errored", "call": "failed", "teardown": "errored in teardown"}
_SUB_OUTCOME = {"fail": "failed", "error": "errored"}  # failed by its sub-results


def runs_tests(config: pytest.Config) -> bool:
    """Whether tests run in this process (serial, or an xdist worker), not
    in an xdist controller: what the capabilities that hook into running
    tests (sub-results, reboots, the watchdog) ask first."""
    if getattr(config, "workerinput", None) is not None:
        return True
    return config.getoption("dist", "no") == "no" or not config.getoption("tx", None)


def bad_outcome(report: pytest.TestReport) -> str | None:
    """How a phase report says its test did not pass, in the words of a
    skip reason ("failed", "errored", "was skipped", ...); None if it did.
    A report failed by the test's sub-results carries the final outcome
    (see results.recorder.Recorder)."""
    if report.failed:
        if getattr(report, "pexen_was", None):
            return _SUB_OUTCOME.get(getattr(report, "pexen_outcome", ""), "failed")
        return _PHASE_OUTCOME.get(report.when or "", "errored")
    if report.skipped:
        return "xfailed" if hasattr(report, "wasxfail") else "was skipped"
    return None


def note_outcome(
    report: pytest.TestReport, bad: dict[str, str], flags: dict[str, tuple[bool, bool]]
) -> bool:
    """Note a phase report's bad outcome and failure flags in ``bad`` and
    ``flags``. One function for the xdist controller and for a worker that
    runs a test sent ahead of its providers: both must agree on whether a
    test ended well. False for a report that does not count: a kept
    fixture's late teardown (its test had ended), or a "rerun"
    (pytest-rerunfailures), which voids the attempt's notes so far."""
    extra = report.__dict__
    if extra.get("outcome") == "passed":
        # most reports (the xdist controller notes each): nothing to note;
        # a getattr of an absent attribute raises and catches inside
        return not extra.get("pexen_late", False)
    nodeid = report.nodeid
    if extra.get("pexen_late", False):
        return False
    if str(report.outcome) == "rerun":
        bad.pop(nodeid, None)
        flags.pop(nodeid, None)
        return False
    reason = bad_outcome(report)
    if reason is not None:
        bad.setdefault(nodeid, reason)
    failure = getattr(report, "pexen_flags", None)
    if failure and report.failed:
        flags[nodeid] = (bool(failure[0]), bool(failure[1]))
    return True


class GraphRun:
    """The run-time state of the graph in this process.

    Without a planner (on an xdist worker under ``--dist pexen``) the
    controller decides: it presets each test's skip reason and shared state,
    and reads back outcome flags and shared state from the reports. The
    worker notes the same (``ended_well``, ``outputs``) for the tests the
    controller sent ahead on the condition that tests before them pass.
    """

    def __init__(
        self,
        planner: Planner[str] | None,
        initial_shared: dict[str, Any],
        host_skips: dict[str, str] | None = None,
    ) -> None:
        self._planner = planner
        # tests whose host tags this host lacks (graph.host_tags.serial_skips): started
        # in the planner in their turn and skipped, so dependents are too
        self.host_skips = host_skips or {}
        self.initial_shared = initial_shared
        self.shared: dict[str, dict[str, Any]] = {}  # of each test's current attempt
        self.inputs: dict[str, dict[str, Any]] = {}  # what providers handed each test
        self.started: set[str] = set()
        self.bad: dict[str, str] = {}
        self.flags: dict[str, tuple[bool, bool]] = {}
        self.skipped: dict[str, str] = {}
        self.again: set[str] = set()  # tests a rerun plugin runs once more
        self.outputs: dict[str, dict[str, Any]] = {}  # controlled: what each test hands on
        self._on_plan: OnPlan | None = None  # the run still goes as planned (see OnPlan)
        self._plugins: pytest.PytestPluginManager | None = None
        self._decided: tuple[str, str | None] | None = None  # see ForkedHooks

    @property
    def planner(self) -> Planner[str] | None:
        """The planner (None: controlled mode), told of every test so far:
        reading it ends the run as planned (a resume restores into it, the
        session's time limit aborts it)."""
        if self._on_plan is not None:
            self.leave_plan()
        return self._planner

    def register(
        self, plugins: pytest.PytestPluginManager, planned: list[pytest.Item], forked: bool
    ) -> None:
        """Register the run's hooks. ``planned``: the tests in their planned
        order; the run follows them as planned (``OnPlan``) where it can: a
        serial run without tests this host skips, none run in a forked
        child (``forked``: see ``ForkedHooks``)."""
        self._plugins = plugins
        planner = self._planner
        if forked:
            plugins.register(ForkedHooks(self), "pexen-run-forked")
        if planner is None:
            plugins.register(RunHooks(self), RUN_PLUGIN)
            return
        if self.host_skips or not planned or forked:
            plugins.register(PlannerHooks(self), RUN_PLUGIN)
            return
        if planner.unrunnable:  # never started on paper: they end the planned stretch
            doomed = {u.task for u in planner.unrunnable}
            end = next((n for n, i in enumerate(planned) if i.nodeid in doomed), len(planned))
            planned = planned[:end]
        self._on_plan = OnPlan(self, planned)
        plugins.register(self._on_plan, RUN_PLUGIN)

    def leave_plan(self) -> None:
        """The run no longer goes as planned: tell the planner what the
        tests run so far did (each started and ended well, as on paper; the
        one under way started), and let ``PlannerHooks`` take over."""
        on_plan, planner, plugins = self._on_plan, self._planner, self._plugins
        if on_plan is None:  # already (a hook call under way still calls OnPlan's)
            return
        assert planner is not None and plugins is not None
        self._on_plan = None
        on_plan.end = 0  # its hooks, if called still, do what PlannerHooks' do
        ended = on_plan.next - 1 if on_plan.inside else on_plan.next
        for item in islice(on_plan.tests, ended):
            planner.start(item.nodeid)
            planner.done(item.nodeid)
        if on_plan.inside:
            nodeid = on_plan.tests[ended].nodeid
            planner.start(nodeid)
            self.started.add(nodeid)
        plugins.unregister(on_plan)
        plugins.register(PlannerHooks(self), RUN_PLUGIN)

    def shared_for(self, nodeid: str) -> dict[str, Any]:
        """The ``pexen_shared`` dict of a test's current attempt (created on
        first use): its own deep copy of the initial values and of what its
        providers handed it, so neither another test nor a failed earlier
        attempt can change what it starts from."""
        shared = self.shared.get(nodeid)
        if shared is None:
            if self._on_plan is not None:  # the hooks that pass shared state on take over
                self.leave_plan()
            shared = self.shared[nodeid] = json_copy(self.initial_shared)
            given = self.inputs.get(nodeid)
            if given:
                shared.update(json_copy(given))
        return shared

    def begin(self, nodeid: str) -> str | None:
        """An attempt of the test starts (a rerun plugin may make several):
        what an earlier attempt wrote is discarded. Start the test in the
        planner, or say why it must be skipped (``skip_reason``), unless
        that was decided before its process was forked (``decide``)."""
        if self._decided is not None and self._decided[0] == nodeid:
            reason, self._decided = self._decided[1], None
            return reason
        if self.shared:
            self.shared.pop(nodeid, None)
        return self.skip_reason(nodeid)

    def decide(self, nodeid: str) -> None:
        """Start the test in the planner, or decide its skip, now, in this
        process, before pytest-forked forks the child that sets it up: the
        child's ``begin`` takes the decision it inherits."""
        self._decided = (nodeid, self.begin(nodeid))

    def returned(self, report: pytest.TestReport) -> None:
        """A report made in a forked child: note here what the child noted
        (failure flags, the shared state its test hands on)."""
        extra = report.__dict__
        nodeid = report.nodeid
        shared = extra.get("pexen_shared")
        if shared is not None:
            if self._planner is None:
                self.outputs[nodeid] = shared
            else:
                self.shared[nodeid] = shared
        flags = extra.get("pexen_flags")
        if flags and report.failed and self._planner is not None:
            self.flags[nodeid] = (bool(flags[0]), bool(flags[1]))

    def preset(self, nodeid: str, skip: str | None, shared: dict[str, Any] | None) -> None:
        """The controller's word on a test about to run (controlled mode)."""
        self.inputs[nodeid] = shared or {}
        if skip is not None:
            self.skipped[nodeid] = skip

    def skip_reason(self, nodeid: str) -> str | None:
        """Start the test in the planner, or say why it must be skipped."""
        if self._planner is None:
            return self.skipped.get(nodeid)
        reason = self._why_not(nodeid)
        if reason is not None:
            self.skipped[nodeid] = reason
        return reason

    def _why_not(self, nodeid: str) -> str | None:
        planner = self._planner
        if planner is None or nodeid not in planner:
            return None
        if planner.start(nodeid):  # most tests (a dropped one never starts)
            self.started.add(nodeid)
            return self.host_skips.get(nodeid) if self.host_skips else None
        why = planner.unrunnable_reason(nodeid)
        if why is not None:
            return f"pexen: {why.reason}"
        if planner.is_waiting(nodeid):
            return (
                "pexen: a requirement of this test has not run yet (the test order "
                "was changed after pexen sorted the tests)"
            )
        return None

    def made(
        self,
        nodeid: str,
        when: str,
        report: pytest.TestReport,
        excinfo: pytest.ExceptionInfo[BaseException] | None,
    ) -> None:
        """A phase's report was made: keep what only the exception tells
        (TaskFailError flags); on an xdist worker, put on the report what the
        controller needs (flags, shared state)."""
        flags = None
        if when == "call" and report.failed and excinfo is not None:
            flags = failure_flags(excinfo.value)
        if flags is not None:  # for the controller, or the journal
            report.pexen_flags = list(flags)  # type: ignore[attr-defined]
        if self._planner is not None:
            if flags is not None:
                self.flags[nodeid] = flags
            return
        if when == "teardown":
            self.skipped.pop(nodeid, None)
            shared = self.shared.pop(nodeid, None)
            if shared and unserialisable(shared) is None:
                report.pexen_shared = shared  # type: ignore[attr-defined]
                self.outputs[nodeid] = shared
            elif self.outputs:
                self.outputs.pop(nodeid, None)

    def logged(self, nodeid: str, report: pytest.TestReport) -> None:
        """A phase's report was logged: note a bad outcome. A report turned
        into a "rerun" (pytest-rerunfailures) voids the attempt so far."""
        if self._planner is None:
            # controlled mode: noted exactly as the controller reads the same
            # report, so that worker and controller agree on ``ended_well``
            note_outcome(report, self.bad, self.flags)
            return
        if nodeid not in self.started:
            return
        if str(report.outcome) == "rerun":
            self.bad.pop(nodeid, None)
            self.flags.pop(nodeid, None)
            self.again.add(nodeid)
        elif nodeid not in self.bad and (bad := bad_outcome(report)) is not None:
            self.bad[nodeid] = bad

    def ended_well(self, nodeid: str) -> bool:
        """Controlled mode: whether a test that ran here satisfied what it
        provides (the planner's ``deps_ok``)."""
        flags = self.flags.get(nodeid)
        return flags[0] if flags is not None else nodeid not in self.bad

    def finish(self, nodeid: str) -> None:
        """The test is over (all attempts): tell the planner and pass its
        shared state on."""
        planner, started = self._planner, self.started
        if planner is None or nodeid not in started:
            return
        if self.again and nodeid in self.again:  # another attempt follows
            self.again.discard(nodeid)
            return
        started.discard(nodeid)
        # most tests pass and have no flags: the dicts are empty
        bad = self.bad.pop(nodeid, None) if self.bad else None
        flags = self.flags.pop(nodeid, None) if self.flags else None
        if bad is None and flags is None:
            planner.done(nodeid)
            deps_ok = True
        else:
            deps_ok, locks_ok = flags or (bad is None, True)
            planner.done(
                nodeid, ok=bad is None, deps_ok=deps_ok, locks_ok=locks_ok, outcome=bad or "failed"
            )
        if self.inputs:
            self.inputs.pop(nodeid, None)
        shared = self.shared.get(nodeid) if self.shared else None
        if deps_ok and shared and unserialisable(shared) is None:
            for dep in planner.dependents(nodeid):
                self.hand_on(dep, shared)

    def hand_on(self, dependent: str, shared: dict[str, Any]) -> None:
        """A provider that passed hands its shared state to a dependent."""
        self.inputs.setdefault(dependent, {}).update(json_copy(shared))


def json_copy(data: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of JSON data, exactly as it would cross to another process."""
    copy: dict[str, Any] = json.loads(json.dumps(data))
    return copy


def unserialisable(shared: dict[str, Any]) -> str | None:
    """Why ``shared`` cannot cross processes or go into the journal, if so."""
    for key, value in shared.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            return (
                f"pexen_shared[{key!r}] = {value!r} is not JSON serialisable ({exc}); "
                "shared state must be plain JSON data"
            )
    return None


RUN_PLUGIN = "pexen-run"


def _begin(run: GraphRun, item: pytest.Item) -> None:
    """A test's setup begins: start it in the planner, or skip it."""
    reason = run.begin(item.nodeid)
    if reason is not None:
        pytest.skip(reason)


class OnPlan(HooksOnly):
    """The per-test hooks of a serial run while it goes as the planner's run
    on paper went (``TestGraph.order``): each test in its planned turn (the
    one before has ended: pytest's protocol starts a test after the last
    one's end), and every phase passed. Telling the planner
    would repeat that run (a start and an end per test), so it is not told;
    the first thing that differs hands over to ``PlannerHooks``, the planner
    caught up first (``GraphRun.leave_plan``): a test out of its turn or one
    the plan drops, a phase that did not pass, an exception out of a test's
    call (before its report is made: ``RunHooks`` reads the exception for a
    controlled failure's flags), shared state, or anyone reading the planner.
    Three hooks instead of four, none a ``makereport`` wrapper."""

    def __init__(self, run: GraphRun, tests: list[pytest.Item]) -> None:
        self.run = run
        self.tests = tests
        self.end = len(tests)
        self.next = 0  # the next test's place in ``tests``
        self.inside = False  # between a test's setup and its passed teardown

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        n = self.next
        self.inside = True
        if n < self.end and item is self.tests[n]:
            self.next = n + 1
            return
        self.inside = False  # the test before has ended; this one starts below
        self.run.leave_plan()
        _begin(self.run, item)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None]:
        __tracebackhide__ = True  # a failing test's traceback is the user's
        try:
            return (yield)
        except BaseException:
            self.run.leave_plan()
            raise

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.outcome == "passed":  # ``report.passed``, without a call
            if report.when == "teardown":
                self.inside = False
            return
        run = self.run
        run.leave_plan()
        run.logged(report.nodeid, report)  # as RunHooks would have


class RunHooks(HooksOnly):
    """The per-test hooks, registered only when a graph runs in this process
    (so a plain suite pays nothing per test). These alone on an xdist
    worker (controlled mode), whose tests' ends the controller's planner
    reads off their reports; ``PlannerHooks`` where this process has the
    planner."""

    def __init__(self, run: GraphRun) -> None:
        self.run = run

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        _begin(self.run, item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        run = self.run
        when = call.when
        if (
            report.passed
            and (when != "call" or not run.shared)
            and (when != "teardown" or run._planner is not None)
        ):
            # a passed phase: nothing to note, unless the test left shared
            # state (checked below), or it is the teardown of a test on a
            # worker (what it hands on goes on that report: see ``made``)
            return report
        nodeid = item.nodeid
        if when == "call" and report.passed and nodeid in run.shared:
            problem = unserialisable(run.shared[nodeid])
            if problem is not None:
                report.outcome = "failed"
                report.longrepr = f"pexen: {problem}"
        if when == "setup" and report.skipped and nodeid in run.skipped:
            # point at the test, as pytest's own skip markers do, not at pexen
            path, line = item.reportinfo()[:2]
            report.longrepr = (str(path), (line or 0) + 1, run.skipped[nodeid])
        run.made(nodeid, when, report, call.excinfo)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.passed:  # a passed phase changes nothing (see GraphRun.logged)
            self.run.logged(report.nodeid, report)


class ForkedHooks(HooksOnly):
    """Beside the run's hooks when pytest-forked runs tests in a child
    process: it calls ``logstart``, ``logreport`` and ``logfinish`` here,
    but a test's setup, call and teardown, and the making of their reports,
    in a forked child whose memory this process never sees. So a serial
    run's planner starts the test here, before the fork, and what the child
    noted comes back on its reports: the failure flags (already on them)
    and the shared state the test hands on (put on its teardown report, as
    on an xdist worker)."""

    def __init__(self, run: GraphRun) -> None:
        self.run = run
        self.pid = os.getpid()
        self.running: str | None = None  # the test whose protocol runs

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.running = item.nodeid
        try:
            return (yield)
        finally:
            self.running = None

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        # only a test that runs now: a resume reports the tests that ended
        # before (logstart and all) outside any protocol
        if nodeid == self.running and self.run._planner is not None:
            self.run.decide(nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "teardown" and os.getpid() != self.pid:
            shared = self.run.shared.get(item.nodeid)
            if shared and unserialisable(shared) is None:
                report.pexen_shared = shared  # type: ignore[attr-defined]
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid == self.running:
            self.run.returned(report)


class PlannerHooks(RunHooks):
    """``RunHooks`` where this process has the planner (a serial run): the
    planner hears of each test's end."""

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.run.finish(nodeid)


@pytest.fixture
def pexen_shared(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The test's shared dict: initial values, plus what its providers left."""
    run = request.config.stash.get(RUN_KEY, None)
    if run is None:
        return json_copy(request.config.stash[SHARED_KEY])
    return run.shared_for(request.node.nodeid)
