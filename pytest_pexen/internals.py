"""Every use of a private pytest or pytest-xdist internal, in one place.

A new pytest or xdist release is then one file to check. Each function
says which internal it relies on and why no public API does the job.
Also the wall clock as the records need it (``real_time``): tests patch
the standard one.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from types import FrameType, MethodType
from typing import Any, cast

import pytest
from _pytest.runner import CallInfo, check_interactive_exception


def _since_boot() -> Callable[[], float]:
    clock = getattr(time, "CLOCK_BOOTTIME", None)  # Linux: counts a suspend too
    if clock is None:
        return time.monotonic
    get = time.clock_gettime
    return lambda: get(clock)


# held in a tuple, not as module attributes: freezegun replaces every
# module's attribute that is a clock it fakes
_CLOCKS = (time.time, _since_boot(), time.monotonic)
_ANCHOR = (_CLOCKS[0](), _CLOCKS[1]())


def real_monotonic() -> float:
    """``time.monotonic()``, which freezegun fakes too: the watchdog's
    deadlines and the journal's syncs go on while a test freezes time."""
    return _CLOCKS[2]()


def real_time() -> float:
    """The wall clock for the run's records (the journal, the xUnit report),
    even while a test or fixture freezes time: freezegun replaces
    ``time.time`` wherever a module refers to it, time-machine patches the
    function itself (for a module or session fixture, or from a conftest,
    the whole run). It is ``time.time()`` while that agrees, within a
    second, with the wall time at import plus the time since (a clock that
    neither patches); otherwise the latter."""
    now = _CLOCKS[0]()
    anchored = _ANCHOR[0] + (_CLOCKS[1]() - _ANCHOR[1])
    return now if -1.0 < now - anchored < 1.0 else anchored


class HooksOnly:
    """Base of pexen's plugin classes: ``dir()`` of one lists its hooks only.

    pytest goes through every name ``dir()`` gives of each plugin object it
    registers: pluggy for hook implementations, and pytest's fixture
    manager for fixtures, which looks each name up along the class's MRO
    and unwraps what it finds (object's thirty dunders included). That is
    ~20 K instructions a name, so ~2 M per plugin object of a run, where
    only the ``pytest_*`` methods are anything to either."""

    def __dir__(self) -> tuple[str, ...]:
        cls = type(self)
        hooks: tuple[str, ...] | None = cls.__dict__.get("_hooks")
        if hooks is None:  # once per class, when pytest first looks
            names = {name: None for c in cls.__mro__ for name in vars(c)}
            hooks = tuple(name for name in names if name.startswith("pytest_"))
            cls._hooks = hooks  # type: ignore[attr-defined]
        return hooks


def module_dir(names: dict[str, Any], shown: list[str]) -> Callable[[], list[str]]:
    """A module's ``__dir__`` (PEP 562) for a plugin module (see HooksOnly):
    its hooks and the names in ``shown`` (its fixtures)."""
    listed = [name for name in names if name.startswith("pytest_")]
    listed += [name for name in shown if name not in listed]
    return lambda: listed


def find_interactor(config: pytest.Config) -> Any:
    """xdist's ``WorkerInteractor`` plugin of this worker process: it owns
    the channel to the controller and the item index put on each report."""
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "WorkerInteractor":
            return plugin
    raise RuntimeError("pexen: no xdist WorkerInteractor in this worker")


def option_given(config: pytest.Config, name: str) -> bool:
    """An option given on the command line or as the ini setting of the
    same name: what decides, before its module is imported, whether a run
    uses a capability (a run pays only for the modules it uses)."""
    return bool(config.getoption(name, None) or config.getini(name))


def add_dist_choice(parser: pytest.Parser) -> None:
    """xdist's ``--dist`` has fixed choices: add ``pexen`` once it exists
    (the option objects are only reachable through the parser's groups)."""
    for group in getattr(parser, "_groups", []):
        for option in group.options:
            if option.dest != "dist":
                continue
            action = getattr(option, "_action", None)  # pytest >= 9
            if action is not None and action.choices and "pexen" not in action.choices:
                action.choices = [*action.choices, "pexen"]
            attrs = getattr(option, "_attrs", None)  # pytest 8.4
            if (
                isinstance(attrs, dict)
                and attrs.get("choices")
                and ("pexen" not in attrs["choices"])
            ):
                attrs["choices"] = [*attrs["choices"], "pexen"]


def collect_cached(collector: pytest.Collector) -> pytest.CollectReport:
    """Collect through the session's own cached step (what pytest's genitems
    uses): a node the session already collected gives back the very nodes
    it made, with the fixtures pytest registered on them."""
    report: pytest.CollectReport = collector.session._collect_one_node(collector)[0]
    return report


def late_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> pytest.TestReport | None:
    """Tear down what ``item`` kept set up and ``nextitem`` does not share.

    The worker keeps every scope of a test alive until it knows the next
    one; when that teardown happens later and fails, the failure is the
    teardown error of ``item`` (as serial pytest and ``--dist load`` report
    it), so it gets a real teardown report of ``item``, with the output
    captured meanwhile. pytest's own teardown hook cannot run twice for an
    item (the logging plugin deletes its stash keys), so the setup state is
    torn down directly. A teardown that passed but added sub-results
    (``pexen_results`` in a kept fixture's teardown, which the results
    recorder puts on the report; hook ``pytest_pexen_late_results``) is
    reported too: serially they would be on the test's own teardown report.
    Returns the report (already logged), or None when there was nothing to
    report.
    """
    capman = item.config.pluginmanager.getplugin("capturemanager")
    session = item.session

    def teardown() -> None:
        __tracebackhide__ = True
        with capman.item_capture("teardown", item) if capman is not None else nullcontext():
            session._setupstate.teardown_exact(nextitem)

    call = CallInfo.from_call(
        teardown, when="teardown", reraise=(pytest.exit.Exception, KeyboardInterrupt)
    )
    if call.excinfo is None and not item.config.hook.pytest_pexen_late_results(item=item):
        return None
    report: pytest.TestReport = item.ihook.pytest_runtest_makereport(item=item, call=call)
    report.pexen_late = True  # type: ignore[attr-defined]
    item.ihook.pytest_runtest_logreport(report=report)
    if check_interactive_exception(call, report):
        item.ihook.pytest_exception_interact(node=item, call=call, report=report)
    return report


def nearest_items(items: list[pytest.Item]) -> list[pytest.Item | None]:
    """For each item, another item sharing the most of its parent chain.

    Used as ``nextitem`` when the real next test is not known yet: pytest
    then tears down only what no other test can share (the function scope,
    and a module or class of which this is the only test) and keeps the rest
    until the next test is known. None for a lone item (the session is
    shared by nothing else).
    """
    # up to two items under each collector, from the item's parent up; a
    # collector that has two already has them in every collector above it
    # too (each item under it is under those), so the walk stops there:
    # most items stop at their parent (0.4 ms at 5,000 tests, where a list
    # of the whole chain per item took 3.7 ms)
    two: dict[Any, list[pytest.Item]] = {}
    for item in items:
        node = item.parent
        while node is not None:
            seen = two.get(node)
            if seen is None:
                two[node] = [item]
            elif len(seen) == 2:
                break
            elif seen[0] is not item:  # the same test twice in the list is one
                seen.append(item)
            node = node.parent
    out: list[pytest.Item | None] = []
    for item in items:
        near = None
        node = item.parent
        while node is not None:
            seen = two[node]
            near = seen[0] if seen[0] is not item else seen[1] if len(seen) > 1 else None
            if near is not None:
                break
            node = node.parent
        out.append(near)
    return out


SHARED_SCOPES = ("class", "module", "package")


def fixture_scopes(item: pytest.Item) -> set[str]:
    """The scopes of the fixtures the item uses (xunit ``setup_module`` and
    ``setup_class`` included). A class, module or package one
    (``SHARED_SCOPES``): only then does running it next to its neighbours
    save a setup; any but "function": a teardown after its protocol (a
    worker's late teardown, at its shutdown too) can be its. Reads the
    item's fixture closure (``_fixtureinfo``), which pytest has no public
    accessor for."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    return {defs[-1].scope for defs in info.name2fixturedefs.values() if defs}


def requesting_item(request: pytest.FixtureRequest) -> pytest.Item | None:
    """The test on whose behalf a fixture of any scope is being set up (a
    session fixture's ``request.node`` is the session): ``_pyfuncitem``."""
    item = getattr(request, "_pyfuncitem", None)
    return item if isinstance(item, pytest.Item) else None


def skip_at_test(reason: str) -> None:
    """Skip the running test, reported at the test's own line (as a skip
    marker is) rather than at the caller's: ``_use_item_location``."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


_FROM_CALL = cast(MethodType, CallInfo.from_call).__func__.__code__


def in_test_phase(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside a test phase (setup, call, teardown):
    under ``CallInfo.from_call``, which turns any exception into that phase's
    failure. A watchdog interrupt raised anywhere else (pytest making or
    logging a report) would be an INTERNALERROR instead."""
    while frame is not None:
        if frame.f_code is _FROM_CALL:
            return True
        frame = frame.f_back
    return False


def local_pid(node: Any) -> int | None:
    """The process id of an xdist worker this machine started (``popen``,
    not through ``//via``), which may be killed; None for remote workers
    (ssh, socket), which are not ours to kill. execnet keeps the
    ``subprocess.Popen`` of a popen gateway in its private ``_io``."""
    gateway = getattr(node, "gateway", None)
    spec = getattr(gateway, "spec", None)
    if spec is None or not spec.popen or spec.via:
        return None
    popen = getattr(getattr(gateway, "_io", None), "popen", None)
    pid = getattr(popen, "pid", None)
    return pid if isinstance(pid, int) else None


# ``signal.signal`` and ``signal.getsignal`` wrap these C functions of
# CPython's ``_signal`` module in enum conversions that cost about 6 us per
# set-and-restore when the handler is a function (``Handlers(func)`` raises
# and is caught); the watchdog sets and restores one around each timed test.
_C_SIGNAL = importlib.import_module("_signal")
set_signal_handler: Callable[[int, Any], Any] = _C_SIGNAL.signal
get_signal_handler: Callable[[int], Any] = _C_SIGNAL.getsignal


def longrepr_text(report: pytest.TestReport) -> str:
    """A report's long text as ``report.longreprtext`` gives it, without the
    line an xdist controller puts first (the worker's id, platform and
    Python: ``toterminal`` writes it for a report with a ``node``), so that
    serial and xdist runs describe a failure in the same words. Uses
    pytest's private ``TerminalWriter``: no public API renders a longrepr."""
    from io import StringIO

    from _pytest._io import TerminalWriter

    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if not hasattr(longrepr, "toterminal"):
        return str(longrepr).strip()
    file = StringIO()
    writer = TerminalWriter(file)
    writer.hasmarkup = False
    cast(Any, longrepr).toterminal(writer)
    return file.getvalue().strip()


def no_socket_clones(config: pytest.Config) -> None:
    """xdist replaces a crashed worker by connecting again with its spec
    (``DSession._clone_node``); for a socket worker that connection goes to
    a server that died with it, and the failure ends the whole run with an
    INTERNALERROR. Wrap the private method so socket workers are not
    replaced (no public hook decides whether to replace a worker)."""
    dsession: Any = config.pluginmanager.get_plugin("dsession")
    clone = getattr(dsession, "_clone_node", None)
    if clone is None:
        return

    def clone_unless_socket(node: Any) -> Any:
        spec = node.gateway.spec
        if getattr(spec, "socket", None):
            dsession.report_line(
                f"pexen: socket worker {node.gateway.id} ({spec.socket}) is not replaced"
            )
            return None
        return clone(node)

    dsession._clone_node = clone_unless_socket


def observe_sends(node: Any, sent: Callable[[list[int]], None]) -> None:
    """Call ``sent(indices)`` just before xdist's controller sends tests to
    worker ``node``. Every xdist scheduler but ``each`` sends through
    ``send_runtest_some``; no hook tells of a send, and the worker's
    "test started" event arrives only after the test has begun (a test that
    takes the machine down can take the controller first)."""
    send = node.send_runtest_some

    def send_runtest_some(indices: Any) -> None:
        sent(list(indices))
        send(indices)

    node.send_runtest_some = send_runtest_some


QUEUED_EVENTS = "pexen_queued"  # several events as one item of DSession.queue


class _EventTaker:
    """``DSession.queue.get``, wrapped (see ``before_each_event`` and
    ``receive_together``)."""

    def __init__(self, events: Any) -> None:
        self.take = events.get
        self.waiting = events.queue  # the Queue's deque: an unlocked look, as Queue.empty()'s
        self.pending: deque[Any] = deque()  # the rest of an item of several events
        self.before: list[Callable[[bool], None]] = []

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        pending = self.pending
        if self.before:
            idle = not pending and not self.waiting
            for before in self.before:
                before(idle)
        if pending:
            return pending.popleft()
        event = self.take(block, timeout)
        if event[0] == QUEUED_EVENTS:
            pending.extend(event[1])
            return pending.popleft()
        return event


def _event_taker(config: pytest.Config) -> _EventTaker | None:
    """The one wrapper of the xdist controller's event queue, made at the
    first call; None where there is no such controller."""
    dsession: Any = config.pluginmanager.get_plugin("dsession")
    events: Any = getattr(dsession, "queue", None)
    if getattr(events, "get", None) is None or not hasattr(events, "queue"):
        return None
    taker = getattr(events, "pexen_taker", None)
    if taker is None:
        taker = events.pexen_taker = _EventTaker(events)
        events.get = taker.get
    return taker


def before_each_event(config: pytest.Config, before: Callable[[bool], None]) -> bool:
    """Call ``before(idle)`` each time xdist's controller takes its workers'
    next event, ``idle`` when none is queued (it is about to wait): its
    loop takes them one at a time from ``DSession.queue``, and no hook
    tells of that moment, so that queue's ``get`` is wrapped. False where
    there is no such controller."""
    taker = _event_taker(config)
    if taker is None:
        return False
    taker.before.append(before)
    return True


def receive_together(node: Any, kind: str) -> None:
    """Let worker ``node`` send several xdist events in one message
    ``(kind, {"events": [...]})``: each is made as xdist makes it (its
    ``process_from_remote``, on the receiver thread), and they go on the
    controller's queue as one item (through its ``putevent``), which the
    loop then takes one event at a time (``_EventTaker``): one lock, one
    wake-up of the loop. Called from ``pytest_configure_node``: xdist sets
    the channel's callback to ``process_from_remote`` after that hook, and
    no hook lets a plugin read a worker's messages."""
    receive, put = node.process_from_remote, node.putevent
    together = _event_taker(node.config) is not None

    def process_from_remote(eventcall: Any) -> None:
        if type(eventcall) is not tuple or eventcall[0] != kind:
            receive(eventcall)
            return
        queued: list[Any] = []
        node.putevent = queued.append  # xdist queues each event through it
        try:
            for event in eventcall[1]["events"]:
                receive(event)
        finally:
            node.putevent = put
        if together and len(queued) > 1:
            put((QUEUED_EVENTS, queued))
        else:  # one event, or no loop that unpacks them
            for event in queued:
                put(event)

    node.process_from_remote = process_from_remote


def forks_tests(config: pytest.Config, items: list[pytest.Item]) -> bool:
    """Whether pytest-forked runs some of ``items`` in a child process
    (``--forked``, or its ``forked`` marker): then a test's setup, call and
    teardown, and the making of their reports, happen in a process whose
    memory this one never sees; only its reports come back."""
    if not config.pluginmanager.has_plugin("pytest_forked"):
        return False
    return bool(config.getoption("forked", False)) or any(
        item.get_closest_marker("forked") is not None for item in items
    )


def junit_crash_failed(config: pytest.Config, report: pytest.TestReport) -> None:
    """xdist's report of a test whose worker died (``when`` "???") is an
    error in pytest's xUnit report (``--junitxml``), "failed on setup with
    ...". A test the watchdog stopped over its time limit (killing its
    worker) is failed: the terminal counts it failed, and serially it is a
    failure in every report. Its element, just written, becomes a failure
    with the report's first line as message. Uses pytest's private
    ``LogXML`` state: the test's open reporter, its elements, ``stats``."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    reporters = getattr(xml, "node_reporters", None)
    stats = getattr(xml, "stats", None)
    if xml is None or not isinstance(reporters, dict) or not isinstance(stats, dict):
        return
    node = getattr(report, "node", None)
    # the open ones (pytest drops a finished test's); keyed by its node id
    # object (pytest >= 9.2) or string, and the report's worker
    reporter = next(
        (r for (i, n), r in reporters.items() if str(i) == report.nodeid and n is node), None
    )
    for element in getattr(reporter, "nodes", None) or ():
        if element.tag == "error" and "error" in stats and "failure" in stats:
            element.tag = "failure"
            element.set("message", str(report.longrepr).partition("\n")[0])
            stats["error"] -= 1
            stats["failure"] += 1
            return


def junit_merge_late(config: pytest.Config, report: pytest.TestReport) -> None:
    """A fixture that an xdist worker's test kept for its next test failed
    its teardown (or added sub-results there) after the test's own
    teardown report (``pexen_late``):
    pytest's xUnit writer (``--junitxml``) had closed the test's testcase
    then, and has just opened a second one for this report. Its error goes
    into the first, which has the test's time and output, and the second
    is dropped: one testcase, counted once, with both times, as pytest
    writes a passed (or skipped) test with a teardown error in a serial
    run. Not when the first testcase already failed: serially, pytest
    then writes the teardown's error as a testcase of its own too. Uses
    pytest's private ``LogXML`` state: its testcases in order (a closed
    one's element is frozen, the same object at each ``to_xml()``) and
    ``cnt_double_fail_tests``."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    ordered = getattr(xml, "node_reporters_ordered", None)
    if xml is None or not ordered or not hasattr(xml, "cnt_double_fail_tests"):
        return
    new = ordered[-1].to_xml()
    name, classname = new.get("name"), new.get("classname")
    # the test's name as pytest's writer gives it: its parameters whole
    # (an id may hold "::" itself)
    path, bracket, params = report.nodeid.partition("[")
    if name != path.rpartition("::")[2] + bracket + params:
        return  # not the testcase this report opened: leave pytest's report as it is
    for at in range(len(ordered) - 2, -1, -1):
        first = ordered[at].to_xml()
        if first.get("name") == name and first.get("classname") == classname:
            break
    else:
        return
    failed = report.failed  # else it passed, with sub-results: pytest counted no test
    if failed and any(child.tag in ("failure", "error") for child in first):
        return
    # its properties are the test's, which the first has already
    first.extend([child for child in new if child.tag != "properties"])
    first.set("time", f"{float(first.get('time') or 0) + float(new.get('time') or 0):.3f}")
    del ordered[-1]
    if failed:
        xml.cnt_double_fail_tests += 1
