"""``--dist pexen``: the xdist scheduler, driven by the planner.

It lives in the controller and implements xdist's ``Scheduling`` protocol.
Workers send the task graph they collected (see worker.py); the planner
decides what may start; a test goes to an idle worker only when its
providers have passed and its locks are free, and it stays "running" for
the planner (locks held) until its worker reports it complete, or its
crash is final. Tests that can never run are sent with their skip reason,
so reports look exactly as in a serial run. When many independent tests are
ready they go in batches, which keeps the controller's overhead low, and a
worker of short tests gets its next batch before it runs dry
(``_low_water``).

Fixture locality: a worker keeps the scopes of its last test set up (see
worker.py). For tests that use class, module or package scoped fixtures
(as the workers report), each worker is given, among the ready tests of the
best priority, the next ones of its class, then of its module, leaves its
module only when idle, and then avoids the modules other workers are in.
Other tests go purely by the planner's ranking (priority, critical path).

Chains without round trips: when a worker's queue runs short, the next test
of its module that waits only for tests queued on that very worker (and
whose locks are free now) goes there ahead, with those tests as its
condition (``Planner.start_after``; the entry's fourth field). The worker
runs it if they all passed there. If one did not, the planner drops it as
it drops a waiting test, and its worker waits for that verdict (a
``pexen_verdict`` command with the planner's skip reason), which costs the
round trip only when a chain breaks. A worker that dies first puts such
tests back in the planner (``Planner.put_back``).

xdist drives ``PexenScheduling``, which delegates to one implementation,
chosen once: ``GraphScheduling`` (pexen's own), or, for a suite without any
pexen metadata (nothing to enforce), xdist's own ``load`` scheduler
(``PlainLoad``), so that its fixtures and outcomes are exactly ``load``'s.
The choice needs the workers' graph, so it is made at the first
``schedule()``, when every worker has collected.

No capability is imported here: the watchdog, the journal and the compat
layer register on ``GraphScheduling.listeners`` (worker messages by kind,
tests sent, the graph, the plan) and fill its slots (``compat``: a
``Placement``; ``earlier``: a resumed run; ``session_limit``), see
protocol.py.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest
from xdist.scheduler import LoadScheduling

from ..graph.host_tags import given_tags
from ..graph.items import base_id, module_id
from ..graph.runtime import note_outcome
from ..sched.errors import DepcheckError, MutexError
from . import hosts
from .protocol import Deadline, Earlier, Entry, Listeners, Placement, on_the_wire

if TYPE_CHECKING:
    from ..graph.taskgraph import GraphSpec
    from ..sched.planner import Planner, Unrunnable

MAX_BATCH = 32
# tests shorter than SHORT: as many as take about MAX_BATCH * SHORT seconds
# (the longest batch of longer tests), at most this many
TINY_BATCH = 256
PREFETCH = 2  # a worker's queue (its running test included) short enough to refill
SCAN = 128  # tests looked at when continuing in a worker's class or module
LOOK = 64  # ready tests looked at to keep a worker out of others' modules
SHORT = 0.02  # seconds: tests this short are worth sending before a worker is idle
AHEAD = 2  # a worker's queue (beyond its running test) short enough to send a follow-on
LONG = 4  # a test this many times the typical one (and SHORT or more) has nothing queued behind it


class Outcomes:
    """How each test ended, read off the reports as they reach the controller."""

    def __init__(self) -> None:
        # began on a worker, not complete yet: when the controller last heard
        # of it (its start, or its latest report; see plugin.pytest_handlecrashitem)
        self.started: dict[str, float] = {}
        self.bad: dict[str, str] = {}
        self.flags: dict[str, tuple[bool, bool]] = {}
        self.shared: dict[str, dict[str, Any]] = {}

    def record(self, report: pytest.TestReport) -> None:
        if not note_outcome(report, self.bad, self.flags):
            if str(report.outcome) == "rerun":  # pytest-rerunfailures: the attempt is void
                self.shared.pop(report.nodeid, None)
            return
        shared = report.__dict__.get("pexen_shared")
        if shared:
            self.shared[report.nodeid] = shared

    def pop(self, nodeid: str) -> tuple[str | None, tuple[bool, bool] | None, dict[str, Any]]:
        return (
            self.bad.pop(nodeid, None),
            self.flags.pop(nodeid, None),
            self.shared.pop(nodeid, {}),
        )


def scopes_of(nodeid: str) -> list[str]:
    """The fixture scopes a test shares with others, closest first: its
    class (if any), then its module."""
    module = module_id(nodeid)
    owner = base_id(nodeid).rpartition("::")[0]
    return [owner, module] if owner != module else [module]


def running_on(node2pending: Mapping[Any, Sequence[int]], index: int | None) -> Any:
    """The worker whose running test (the first of its pending ones) has
    collection index ``index``, or None: one search for both schedulers."""
    return next(
        (node for node, pending in node2pending.items() if pending and pending[0] == index),
        None,
    )


def _compact(spec: GraphSpec) -> GraphSpec:
    """The spec's task rows as tuples, their tag lists as tuples too: the
    controller keeps the spec for the run (the journal's header and end
    records read it), and its lists (25,000 at 5,000 tests) were each
    garbage-collected object that every full collection walked; a tuple of
    strings is untracked after the collector's first look, and so is a row
    of them."""
    spec["tasks"] = [
        (nodeid, tuple(requires), tuple(provides), tuple(claims), tuple(uses), priority, group)
        for nodeid, requires, provides, claims, uses, priority, group in spec["tasks"]
    ]
    return spec


def _has_compat(spec: GraphSpec) -> bool:
    """Whether the graph carries pytest-dependency or pytest-order relations
    (the compat layer places such a suite's tests)."""
    return "pins" in spec or "order_only" in spec or "dependency" in spec


class PexenScheduling:
    """What xdist drives (and names in its "scheduling tests via" line):
    pexen's own scheduling (``GraphScheduling``) until the workers' graph
    shows a suite without pexen metadata, then xdist's ``load`` for good
    (``PlainLoad``), chosen once, at the first ``schedule()``. Worker
    messages always go to the listeners (a plain suite's workers send
    them too)."""

    def __init__(self, graph: GraphScheduling) -> None:
        self.config = graph.config  # crash handlers read it (pytest-rerunfailures)
        self.log = graph.log
        self.graph = graph
        self.listeners = graph.listeners
        self.active: GraphScheduling | PlainLoad = graph

    @property
    def handed(self) -> bool:
        """Whether xdist's ``load`` runs the suite."""
        return self.active is not self.graph

    @property
    def spec(self) -> GraphSpec | None:
        return self.graph.spec

    @property
    def nodes(self) -> list[Any]:
        return self.active.nodes

    @property
    def collection_is_completed(self) -> bool:
        return self.graph.collection_is_completed

    @property
    def tests_finished(self) -> bool:
        return self.active.tests_finished

    @property
    def has_pending(self) -> bool:
        return self.active.has_pending

    def add_node(self, node: Any) -> None:
        self.active.add_node(node)

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        self.active.add_node_collection(node, collection)

    def remove_pending_tests_from_node(self, node: Any, indices: Any) -> None:
        """Our workers send their messages through this call (see worker.py);
        it carries nothing else, as we never steal."""
        self.listeners.route(node, indices)

    def mark_test_pending(self, item: str) -> None:
        self.active.mark_test_pending(item)

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        self.active.mark_test_complete(node, item_index, duration)

    def remove_node(self, node: Any) -> str | None:
        return self.active.remove_node(node)

    def schedule(self) -> None:
        graph = self.graph
        if self.active is graph and graph.planner is None and graph.plain and graph.error is None:
            self.active = graph.hand_to_load()
            return
        self.active.schedule()

    def worker_of(self, nodeid: str) -> Any:
        """The worker running this test (the first of its pending tests), or
        None; for the controller's time limits (watchdog.limits.ControllerTimer)."""
        return self.active.worker_of(nodeid)

    def crash_reported(self, report: pytest.TestReport) -> None:
        self.graph.crash_reported(report)


class PlainLoad(LoadScheduling):  # type: ignore[misc]
    """xdist's ``load``, for a suite without pexen metadata, with what the
    listeners need: each test goes to the ``on_sent`` listeners when it is
    sent, before its worker can begin it (the journal writes its start, as
    under pexen's own scheduling: the controller hears of a start only
    after the fact, and a test that takes the machine down may take the
    controller with it first: a resume then runs it again with a higher
    boot count, never an innocent one instead); and a lost socket worker
    strands the run as in ``GraphScheduling.lost``."""

    def __init__(self, graph: GraphScheduling) -> None:
        super().__init__(graph.config, graph.log)
        self.graph = graph
        self.index: dict[str, int] = {}

    @property
    def tests_finished(self) -> bool:
        if self.graph.stranded:
            return True  # no worker left, none coming: the rest cannot run
        return bool(super().tests_finished)

    def _send_tests(self, node: Any, num: int) -> None:
        # xdist's one place that sends tests (schedule, check_schedule)
        sent = self.graph.listeners.sent
        if sent and self.collection is not None:
            nodeids = [self.collection[index] for index in self.pending[:num]]
            for listener in sent:
                listener(node, nodeids)
        super()._send_tests(node, num)

    def remove_node(self, node: Any) -> str | None:
        crashed: str | None = super().remove_node(node)
        self.graph.lost(node, lambda: None if self.node2pending else len(self.pending))
        return crashed

    def worker_of(self, nodeid: str) -> Any:
        if not self.index:
            self.index = {key: n for n, key in enumerate(self.collection or [])}
        index = self.index.get(nodeid)
        return running_on(self.node2pending, index)


class GraphScheduling:
    """pexen's own scheduling: asks the planner what may run where."""

    def __init__(
        self, config: pytest.Config, log: Any, outcomes: Outcomes, durations: dict[str, float]
    ) -> None:
        self.config = config
        self.listeners = Listeners()
        self.listeners.on_message("pexen", self._graph_message)
        self.log = log
        self.outcomes = outcomes
        self.durations = durations
        self.numnodes = len(config.getoption("tx") or [])
        self.node2collection: dict[Any, list[str]] = {}
        self.node2pending: dict[Any, deque[int]] = {}
        self.spec: GraphSpec | None = None
        self.plain: bool | None = None
        self.error: str | None = None
        self.exit: tuple[str, int | None] | None = None  # pytest.exit() on a worker
        self.planner: Planner[str] | None = None
        self.collection: list[str] = []
        self.index: dict[str, int] = {}
        self.priority: list[int] = []
        self.skips: deque[tuple[int, str]] = deque()
        self.resend: deque[int] = deque()
        self.shared: dict[str, dict[str, Any]] = {}
        self.sent: dict[int, Entry] = {}  # sent, not complete: resent as they were
        self.taken: bytearray = bytearray()  # sent at least once
        self.scope_kept: bytearray = bytearray()  # uses class/module/package fixtures
        self.last: dict[Any, int] = {}  # each worker's latest test sent (its scopes)
        self.ran: dict[Any, int] = {}  # each worker's latest test completed
        self.crashed: dict[str, int] = {}  # crashed, rerun or not yet decided
        self.rerun: set[int] = set()  # crashed tests a crash handler re-queued
        self.typical = SHORT  # moving average of test durations in this run (see _start)
        self.scoped: list[int] = []  # as the workers report it
        # tests using any fixture beyond function scope (session too), as
        # the workers report it: their fixtures can outlive their end
        self.kept: set[int] = set()
        self.members: dict[str, list[int]] = {}
        self.cursor: dict[str, int] = {}
        self.compat: Placement | None = None  # pytest-dependency / pytest-order
        self.earlier: Earlier | None = None  # --pexen-resume (set by the journal)
        self.replay: Callable[[], None] | None = None  # report the earlier boots' tests again
        self.resumed: set[str] = set()  # ended in an earlier boot (--pexen-resume)
        self.session_limit: Deadline | None = None  # set by the watchdog; None once reached
        self.host_of: dict[Any, str] = {}  # each worker's host (hosts.node_host)
        self.hosts: hosts.HostTable | None = None  # tests with host locks or tags
        self.revivable: set[str] = set()  # hosts that lost a worker xdist replaces
        self.stranded = False  # no worker left, none coming (socket workers)
        self.frozen = False  # see _freeze
        self.early: Planner[str] | pytest.UsageError | None = None  # see _graph_message

    # ------------------------------------------------------------ protocol
    @property
    def nodes(self) -> list[Any]:
        return list(self.node2pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.node2collection) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        # xdist asks after every event from a worker (six a test): while the
        # planner has tests left (most of the run) one attribute says no
        planner = self.planner
        if self.stranded:
            return True  # no worker left, none coming: the rest cannot run
        if planner is None or planner.active or not self.collection_is_completed:
            return False
        return not self.has_pending

    @property
    def has_pending(self) -> bool:
        if self.planner is None:
            return False
        return (
            self.planner.active
            or bool(self.skips)
            or bool(self.resend)
            or bool(self.crashed)
            or any(self.node2pending.values())
        )

    def add_node(self, node: Any) -> None:
        self.node2pending[node] = deque()

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        self.node2collection[node] = list(collection)

    def _graph_message(self, node: Any, payload: dict[str, Any]) -> None:
        """A worker's task graph (see worker.py), sent before its collection."""
        host = self.host_of[node] = hosts.node_host(node, payload.get("host"))
        if self.hosts is not None:
            self.hosts.saw(host)  # a replacement worker
        if self.plain is not None:
            return
        if payload.get("error") and self.error is None:
            self.error = payload["error"]
            if payload.get("exit"):
                self.exit = payload["exit"]
        if self.spec is None and (payload.get("spec") is not None or payload.get("plain")):
            spec = payload["spec"]
            self.spec = None if spec is None else _compact(json.loads(spec))  # see worker.py
            self.plain = bool(payload.get("plain"))
            self.scoped = payload.get("scoped") or []
            self.kept = set(payload.get("kept") or [])
            for listener in self.listeners.graph:
                listener(payload)
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            for line in payload.get("header") or []:
                if reporter is not None:
                    reporter.write_line(line)
            if self.spec is not None and self.error is None:
                # planned now, while the other workers still collect (30 ms
                # at 5,000 tests, which the first test would wait for); the
                # run starts with it once every collection is in (_start).
                # A graph that cannot be planned before the collections are
                # checked (a node id twice) is planned again, and its
                # problem said, after _start has checked them
                with contextlib.suppress(Exception):
                    self.early = self._make_planner(self.spec)

    def _make_planner(self, spec: GraphSpec) -> Planner[str] | pytest.UsageError:
        """The planner of the workers' graph, or why there is none."""
        from ..graph.taskgraph import spec_planner  # not for a suite handed to load

        # rank by critical path (unknown durations count alike), except for
        # suites with pytest-dependency/pytest-order relations: there the
        # run order (theirs) decides, so a test that calls depends() at run
        # time finds the tests before it ended or running, never all workers
        # waiting on a test that none of them can start
        try:
            return spec_planner(
                spec,
                self.config.getoption("pexen_missing"),
                durations=None if _has_compat(spec) else self.durations,
                hosts_apart=True,
            )
        except (DepcheckError, MutexError) as exc:  # DepcheckError: the workers found it first
            return pytest.UsageError(f"pexen: {exc}")

    def mark_test_pending(self, item: str) -> None:
        """A crash handler (pytest-rerunfailures) wants a crashed test run
        again: it is still running for the planner (its locks held), and
        goes to the next free worker with what it was first given."""
        index = self.index[item]
        if item in self.crashed and index in self.sent:
            self.rerun.add(index)
            self.resend.append(index)
            self.dispatch()

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        self.durations[self.collection[item_index]] = duration
        pending = self.node2pending[node]
        if pending and pending[0] == item_index:
            pending.popleft()
        elif item_index in pending:
            pending.remove(item_index)
        entry = self.sent.pop(item_index, None)
        self.ran[node] = item_index
        self.typical += (duration - self.typical) / 8
        key = self.collection[item_index]
        if entry is not None and len(entry) > 3:
            self.shared.pop(key, None)  # handed on while it waited on its worker
        self.outcomes.started.pop(key, None)
        self._ended(key)
        if self.compat is not None:
            self.compat.ended(key, node)
        self.dispatch()

    def _all_fed(self, low: int) -> bool:
        """Whether ``dispatch()`` has nothing to do: every worker has more
        tests queued than its next batch waits for (``low``), and more than
        a follow-on waits for (``AHEAD``), so none is idle, and no skip,
        resend, session limit, compat layer or host table needs a look.
        Most tests of a large run of short tests end so: of 5,003
        dispatches of 5,000 tiny tests at ``-n 2``, 93 are left."""
        if (
            self.compat is not None
            or self.hosts is not None
            or self.session_limit is not None
            or self.skips
            or self.resend
        ):
            return False
        least = max(low, AHEAD)
        return all(len(pending) > least for pending in self.node2pending.values())

    def remove_node(self, node: Any) -> str | None:
        """A worker is gone. Its tests that had not started go to others,
        as they were sent. If it died while running a test, that test is
        the crash (final once xdist reports it, see ``crash_reported``); if
        it died between tests, while tearing down fixtures it had kept for
        the next test, that is the teardown error of its last test."""
        # its collection stays counted (as in xdist's schedulers): a worker
        # that replaces it after the others finished must not find the
        # collection incomplete, which would leave it waiting forever
        pending = self.node2pending.pop(node)
        if self.compat is not None:
            self.compat.node_gone(node)
        self.last.pop(node, None)
        last = self.ran.pop(node, None)
        died = getattr(node, "workeroutput", None) is None
        running = None
        if pending and self.collection[pending[0]] in self.outcomes.started:
            running = pending.popleft()
        self.resend.extend(self._put_back(pending))
        self.lost(node, self._unrun)
        if running is None:
            # between tests: tearing down fixtures its last test kept, if it
            # kept any (a host gone after its work is no test's failure)
            if died and last is not None and last in self.kept and (pending or node.shutting_down):
                self._late_crash(node, last)
            self.dispatch()
            return None
        nodeid = self.collection[running]
        self.crashed[nodeid] = running  # still started: its crash report's time
        self.dispatch()
        return nodeid

    def _put_back(self, pending: deque[int]) -> list[int]:
        """A dead worker's tests that had not begun, but for those it had
        been sent ahead of their providers (``_follow_ons``): they wait in
        the planner again, with what was handed to them, and go out anew."""
        if not pending:  # a worker gone before the plan was made had been sent nothing
            return []
        assert self.planner is not None
        keep = []
        for index in pending:
            entry = self.sent[index]
            if len(entry) <= 3:
                keep.append(index)
                continue
            key = self.collection[index]
            del self.sent[index]
            self.taken[index] = 0
            given = self.shared.pop(key, None)
            if entry[2] or given:
                self.shared[key] = {**(entry[2] or {}), **(given or {})}
            self.planner.put_back(key)
        return keep

    def _unrun(self) -> int | None:
        """With no worker left: how many tests did not run (None: workers are left)."""
        if self.node2pending or self.planner is None:
            return None
        left = sum(1 for taken in self.taken if not taken) + len(self.resend)
        self.resend.clear()
        return left

    def lost(self, node: Any, unrun: Callable[[], int | None]) -> None:
        """A worker is gone: xdist replaces it, unless it was a socket
        worker (its server died with it; see internals.no_socket_clones).
        With no worker left and none coming (``unrun`` says how many tests
        did not run then), what did not run stays unrun: the run stops (the
        journal keeps those tests unfinished, for ``--pexen-resume``)."""
        host = self.host_of.pop(node, None)
        if getattr(node, "workeroutput", None) is not None:
            return  # it finished normally
        if not hosts.is_socket_node(node):
            if host is not None:
                self.revivable.add(host)
            return
        left = unrun()
        if left is None:
            return
        self.stranded = True
        if not left:
            return
        dsession = self.config.pluginmanager.get_plugin("dsession")
        reason = (
            f"pexen: no worker is left (socket workers are not replaced): {left} "
            f"test{'s' if left != 1 else ''} did not run; run the same command with "
            "--pexen-resume once the hosts are back"
        )
        if dsession is not None and not dsession.shouldstop:
            dsession.shouldstop = reason

    def crash_reported(self, report: pytest.TestReport) -> None:
        """xdist has reported a crashed test (after crash handlers such as
        pytest-rerunfailures had their say): unless it runs again, it
        failed, its locks are released and its dependents skipped."""
        self.outcomes.started.pop(report.nodeid, None)
        index = self.crashed.pop(report.nodeid, None)
        if index is None:
            return
        if index in self.rerun:  # it runs again: still running for the planner
            self.rerun.discard(index)
            return
        self.sent.pop(index, None)
        self.outcomes.pop(report.nodeid)
        if self.planner is not None and self.planner.is_running(report.nodeid):
            self._done(
                report.nodeid,
                ok=False,
                deps_ok=False,
                locks_ok=True,
                outcome="timed out"
                if hasattr(report, "pexen_timeout")
                else "crashed (its worker died)",
            )
        if self.compat is not None:
            self.compat.ended(report.nodeid, None, crashed=True)
        self.dispatch()

    def schedule(self) -> None:
        """Called once collection is complete, and again for each replaced
        worker: build the plan the first time, then hand out work."""
        if self.planner is None:
            self._start()
        self.dispatch()

    def worker_of(self, nodeid: str) -> Any:
        index = self.index.get(nodeid)
        return running_on(self.node2pending, index)

    # ------------------------------------------------------------ planning
    def hand_to_load(self) -> PlainLoad:
        """No pexen metadata: xdist's load scheduler runs the suite as is."""
        load = PlainLoad(self)
        for node in self.node2pending:
            load.add_node(node)
        # every collection, a dead worker's too (add_node_collection only
        # takes live ones): load counts them to know collection is complete
        load.node2collection.update(self.node2collection)
        load.schedule()
        return load

    def _start(self) -> None:
        if self.exit is not None:
            message, code = self.exit
            pytest.exit(message, code)
        if self.error is not None:
            raise pytest.UsageError(self.error)
        collections = list(self.node2collection.values())
        self.collection = collections[0]
        for other in collections[1:]:
            if other != self.collection:
                raise pytest.UsageError(
                    "pexen: workers collected different tests; run with the same "
                    "environment on every worker (or see pytest-xdist's "
                    "'Different tests were collected' advice)"
                )
        self.index = {nodeid: n for n, nodeid in enumerate(self.collection)}
        if len(self.index) != len(self.collection):  # a collector repeated a node id
            twice = next(n for n, times in Counter(self.collection).items() if times > 1)
            raise pytest.UsageError(
                f"pexen: several tests have the node id {twice}, and pexen's scheduling "
                "tells tests apart by node id: run them with --dist load, without "
                "--pexen-resume"
            )
        spec = self.spec
        priority = {task[0]: task[5] for task in spec["tasks"]} if spec else {}
        if (
            spec is None
            or len(priority) != len(self.collection)
            or any(nodeid not in priority for nodeid in self.collection)
        ):
            raise pytest.UsageError(
                "pexen: the task graph from the workers does not match their collection"
            )
        self.priority = [priority[nodeid] for nodeid in self.collection]
        self.taken = bytearray(len(self.collection))
        self.scope_kept = bytearray(len(self.collection))
        for n in self.scoped:
            self.scope_kept[n] = 1
            for scope in scopes_of(self.collection[n]):
                self.members.setdefault(scope, []).append(n)
        planner = self.early if self.early is not None else self._make_planner(spec)
        self.early = None
        if isinstance(planner, pytest.UsageError):
            raise planner
        self.planner = planner
        known = sorted(d for d in map(self.durations.get, self.collection) if d is not None)
        if known:  # an earlier run's: the typical test from the start, not after a few
            self.typical = known[len(known) // 2]
        if spec.get("hosts"):
            if _has_compat(spec):  # its placements (pinned modules, depends() waits) know no hosts
                raise pytest.UsageError(
                    "pexen: per-host locks and host tags cannot be combined with "
                    "pytest-dependency or pytest-order markers under xdist yet; run such "
                    "a suite without -n, or leave one of them out"
                )
            self.hosts = hosts.HostTable(spec["hosts"], given_tags(self.config))
            for host in self.host_of.values():
                self.hosts.saw(host)
        earlier = self.earlier
        if earlier is not None:
            self.resumed = {test for test in earlier.ended if test in self.index}
        self._queue_skips(self.planner.unrunnable)
        for listener in self.listeners.planned:
            listener(spec)  # the compat layer's placement (self.compat)
        if earlier is not None:
            self._resume(earlier)
        self._freeze()

    def _freeze(self) -> None:
        """Keep what the controller holds for the whole run (pytest's
        objects, the collection, the graph and the planner: 60,000 objects
        at 5,000 tests) out of the garbage collector's passes until the
        run ends: they live on, and each of the run's full collections
        walked them all (a third of the controller's collecting time, 0.1 s
        at 5,000 tests). No test runs in this process; the objects go back
        to the collector when pytest cleans up (DistPlugin, after pytest's
        last collection: an in-process run's caller collects them as
        before). Left alone if something else froze objects already: that
        one decides."""
        if not gc.get_freeze_count():
            gc.freeze()
            self.frozen = True

    def _resume(self, earlier: Earlier) -> None:
        """``--pexen-resume``: what ended in an earlier boot is settled in
        the planner and reported again, never sent."""
        assert self.planner is not None
        for test in self.resumed:
            self.taken[self.index[test]] = 1
        self._queue_skips(earlier.restore(self.planner, self.index.__contains__, self._hand_on))
        if self.replay is not None:
            self.replay()

    def _queue_skips(self, dropped: list[Unrunnable[str]]) -> None:
        verdicts: dict[Any, dict[int, str]] = {}
        for u in dropped:
            if u.task in self.index and u.task not in self.resumed:
                index, reason = self.index[u.task], f"pexen: {u.reason}"
                if index in self.sent:  # sent ahead: a test it came after did not pass
                    self._overrule(index, reason, verdicts)
                else:
                    self.skips.append((index, reason))
        for node, tests in verdicts.items():
            with contextlib.suppress(OSError):  # its worker just died: remove_node
                node.sendcommand("pexen_verdict", tests=tests)

    def _overrule(self, index: int, reason: str, verdicts: dict[Any, dict[int, str]]) -> None:
        """A test sent ahead (``_follow_ons``) is skipped after all: its
        worker waits for the reason, or (its worker dead) it goes out again
        as this skip."""
        self.sent[index] = [index, reason, None]
        self.shared.pop(self.collection[index], None)
        for node, pending in self.node2pending.items():
            if index in pending:
                verdicts.setdefault(node, {})[index] = reason
                return

    def _ended(self, nodeid: str) -> None:
        bad, flags, shared = self.outcomes.pop(nodeid)
        assert self.planner is not None
        if not self.planner.is_running(nodeid):
            return  # a skip we sent: already settled in the planner
        deps_ok, locks_ok = flags if flags is not None else (bad is None, True)
        self._done(
            nodeid,
            ok=bad is None,
            deps_ok=deps_ok,
            locks_ok=locks_ok,
            outcome=bad or "failed",
            shared=shared,
        )

    def _done(
        self,
        nodeid: str,
        ok: bool,
        deps_ok: bool,
        locks_ok: bool,
        outcome: str,
        shared: dict[str, Any] | None = None,
    ) -> None:
        planner = self.planner
        assert planner is not None
        dropped = planner.done(nodeid, ok=ok, deps_ok=deps_ok, locks_ok=locks_ok, outcome=outcome)
        if self.hosts is not None:
            self.hosts.release(nodeid, locks_ok)
        self._queue_skips(dropped)
        if deps_ok and shared:
            for dep in planner.dependents(nodeid):
                self._hand_on(dep, shared)

    def _hand_on(self, dependent: str, shared: dict[str, Any]) -> None:
        self.shared.setdefault(dependent, {}).update(shared)

    def _late_crash(self, node: Any, index: int) -> None:
        """Report a worker's death while it tore down kept fixtures as the
        teardown error of its last test (that test itself had ended)."""
        nodeid = self.collection[index]
        path, _, name = nodeid.partition("::")
        report = pytest.TestReport(
            nodeid=nodeid,
            location=(path, None, name.replace("::", ".") or path),
            keywords={},
            outcome="failed",
            longrepr=(
                f"worker {node.gateway.id!r} crashed while tearing down the fixtures "
                f"that {nodeid!r} had kept set up for the next test"
            ),
            when="teardown",
        )
        report.node = node  # type: ignore[attr-defined]
        report.pexen_late = True  # type: ignore[attr-defined]
        self.config.hook.pytest_runtest_logreport(report=report)

    # ------------------------------------------------------------ dispatching
    def dispatch(self) -> None:
        """Hand out work to the idle workers (also the compat layer's, after a wait)."""
        planner = self.planner
        if planner is None:
            return
        limit = self.session_limit
        if limit is not None and limit.over():
            # --pexen-session-timeout: no new test; those sent meet it on their worker
            self.session_limit = None
            self._queue_skips(planner.abort(limit.reason))
        low = self._low_water()
        if self._all_fed(low):
            return
        # a worker gets work when idle; while plenty of tests are ready, or
        # tests are so short that a round trip to the controller would idle
        # the worker for a good part of one, it also gets its next batch a
        # little before it runs dry
        plenty = planner.ready >= 8 * max(1, len(self.node2pending)) or (
            self.typical < SHORT and planner.ready > 0
        )
        compat = self.compat
        idle = [
            node
            for node, pending in self.node2pending.items()
            if node in self.node2collection
            and not node.shutting_down
            and (
                not pending
                or (
                    plenty
                    and len(pending) <= low
                    and not (compat is not None and compat.owns_work(node))
                    and not self._long(self.collection[pending[-1]])
                )
            )
            and not (compat is not None and compat.holding(node))
        ]
        if len(idle) > 1:
            # a worker with nothing queued first: the best test ready goes
            # where it starts now, not behind another worker's queue
            idle.sort(key=lambda node: len(self.node2pending[node]) > 0)
        for node in idle:
            entries = self._next_entries(node)
            if not entries:
                if (self.compat is not None and self.compat.owns_any()) or self.hosts is not None:
                    continue  # what is ready may belong to another worker's module or host
                break
            self.send(node, entries)
        if (
            idle
            and planner.active
            and not self.skips
            and not self.resend
            and not self.crashed
            and not any(self.node2pending.values())
        ):
            # nothing runs and nothing can start: never let xdist drop tests
            self._queue_skips(planner.abort("no test could start (pexen internal stall)"))
            self.dispatch()
        if self.compat is not None:
            self.compat.follow_ons()
            self.compat.stalled()
        elif self.hosts is None:
            self._follow_ons()

    def _follow_ons(self) -> None:
        """Send each worker whose queue runs short the next tests of its
        module that wait only for tests queued there (see the module
        docstring), with those tests as their condition, so that a chain
        runs without a round trip to the controller per test. Only at the
        best priority ready (or none ready), and never a test whose locks
        are not free now: locks and other workers' tests stay as strict.

        Only a chain: a dependent of the last test queued, then one of it.
        None of them could start on another worker before the test before
        it ends, so queuing them here costs no parallelism. Two tests that
        wait for the same one (siblings) are not queued one behind the
        other: each may start on the first free worker once it ends (on
        random DAGs of 50-400 ms tests at ``-n 4``, siblings queued on one
        worker ran one after the other while the others were busy with
        tests of shorter chains)."""
        planner = self.planner
        assert planner is not None
        best = planner.best_priority()
        collection, index, priority = self.collection, self.index, self.priority
        for node, pending in self.node2pending.items():
            if not pending or len(pending) > AHEAD or node.shutting_down:
                continue
            queued = {collection[i] for i in pending}
            line = list(pending)  # the worker's queue, in its order
            entries: list[Entry] = []
            key = collection[pending[-1]]
            # a dependent of the last test queued, then one of it, ...: none
            # can start anywhere before the test before it ends
            while len(pending) + len(entries) <= AHEAD:
                module = module_id(key)
                deps = planner.dependents(key)
                follow = None
                for dep in planner.by_rank(deps) if len(deps) > 1 else deps:
                    n = index[dep]
                    if (
                        self.taken[n]
                        or module_id(dep) != module
                        or (best is not None and priority[n] > best)
                    ):
                        continue
                    after = planner.start_after(dep, queued.__contains__)
                    if after is None:
                        continue
                    before = sorted((index[k] for k in after), key=line.index)
                    entries.append([n, None, self.shared.pop(dep, None), before])
                    line.append(n)
                    self.taken[n] = 1
                    queued.add(dep)
                    follow = dep
                    break
                if follow is None or self._long(follow):
                    break  # nothing queued behind a long test
                key = follow
            if entries:
                self.last[node] = entries[-1][0]
                self.send(node, entries)

    def _next_entries(self, node: Any) -> list[Entry]:
        """What to send to one idle worker: tests of a dead worker first (as
        they were sent), then skips (instant), then what the planner lets
        start, near the worker's fixtures."""
        entries: list[Entry] = []
        if self.hosts is not None and self.resend:
            self._resend_on_host(node, entries)
        while self.resend and len(entries) < MAX_BATCH:
            entries.append(self.sent[self.resend.popleft()])
        while self.skips and len(entries) < MAX_BATCH:
            index, reason = self.skips.popleft()
            entries.append([index, reason, None])
        if entries:
            return entries
        assert self.planner is not None
        for _ in range(self._batch_size()):
            # a worker leaves its module only when idle: a test it will make
            # ready may be the next one there
            key = self._pick(node, move=not entries and not self.node2pending[node])
            if key is None:
                break
            index = self.index[key]
            skip = self._host_skip(node, key)
            entries.append([index, skip, None if skip else self.shared.pop(key, None)])
            self.last[node] = index
            if self.compat is not None and self.compat.pinned(key):
                break  # its module's next test goes to this worker: none queued before it
            if self._long(key):
                break  # nothing queued behind it: another worker may be free sooner
        self._queue_skips(self.planner.take_dropped())
        return entries

    def _pick(self, node: Any, move: bool) -> str | None:
        """Start the test this worker should run next: the next ready one of
        its class, then of its module (at the best priority), else (if it may
        ``move``, or its module has no test left to start) the planner's best
        outside the modules other busy workers are in."""
        planner = self.planner
        assert planner is not None
        compat = self.compat
        if compat is not None:
            key = compat.pick(node)  # awaited by depends(), or its own module's next
            if key is not None:
                return key
        if self.hosts is not None:
            return self._pick_on_host(node)
        last = self.last.get(node)
        if last is not None and self.scope_kept[last]:
            best = planner.best_priority()
            if best is None:
                return None
            for scope in scopes_of(self.collection[last]):
                key = self._continue_in(node, scope, best)
                if key is not None:
                    return key
            module = module_id(self.collection[last])
            if not move and self.cursor.get(module, 0) < len(self.members[module]):
                return None  # its module has tests left: wait for them
        busy = {
            module_id(self.collection[i])
            for n, i in self.last.items()
            if n is not node and self.scope_kept[i] and self.node2pending.get(n)
        }
        if compat is not None and compat.owns_any():
            # never a test of a module another worker owns
            def theirs(key: str) -> bool:
                return compat.elsewhere(node, key)

            everything = len(self.collection)
            return (
                busy
                and planner.get_ready_avoiding(
                    lambda key: theirs(key) or module_id(key) in busy, LOOK, strict=True
                )
            ) or planner.get_ready_avoiding(theirs, everything, strict=True)
        if not busy:
            return planner.get_ready_avoiding(lambda key: False, 1)
        return planner.get_ready_avoiding(lambda key: module_id(key) in busy, LOOK)

    # ------------------------------------------------------------ hosts
    def _live_hosts(self) -> list[str]:
        """Hosts that have a worker, or will have one again (xdist replaces
        a crashed popen or ssh worker; see ``lost``)."""
        live = [self.host_of[n] for n in self.node2pending if n in self.host_of]
        return list(dict.fromkeys([*live, *sorted(self.revivable)]))

    def _pick_on_host(self, node: Any) -> str | None:
        """Start the best ready test that may run on this worker's host now
        (its tags, its host locks free), or one no live host can ever run
        (sent as a skip, see ``_host_skip``). Fixture locality gives way to
        the hosts here."""
        table, planner = self.hosts, self.planner
        assert table is not None and planner is not None
        host = self.host_of.get(node, "")
        live = self._live_hosts()

        def elsewhere(key: str) -> bool:
            return not table.fits(host, key) and table.why_not(key, live) is None

        return planner.get_ready_avoiding(elsewhere, len(self.collection), strict=True)

    def _host_skip(self, node: Any, key: str) -> str | None:
        """A test just started for this worker: take its host locks, or say
        why it is skipped (no live host has its tags, or its host locks are
        held for good on every such host)."""
        table = self.hosts
        if table is None:
            return None
        reason = table.why_not(key, self._live_hosts())
        if reason is None:
            table.take(self.host_of.get(node, ""), key)
        else:
            table.forget(key)
        return reason

    def _resend_on_host(self, node: Any, entries: list[Entry]) -> None:
        """Tests of a dead worker that had not started go to a worker of a
        host that may run them: their host locks move along (or, where no
        live host can run them any more, they are sent as skips)."""
        table = self.hosts
        assert table is not None
        host = self.host_of.get(node, "")
        live = self._live_hosts()
        keep: deque[int] = deque()
        while self.resend and len(entries) < MAX_BATCH:
            index = self.resend.popleft()
            key = self.collection[index]
            held = table.holding.get(key)
            if held == host:
                entries.append(self.sent[index])
                continue
            table.release(key)
            reason = table.why_not(key, live)
            if reason is not None:
                table.forget(key)
                entries.append([index, reason, None])
            elif table.fits(host, key):
                table.take(host, key)
                entries.append(self.sent[index])
            else:
                if held is not None:
                    table.take(held, key)  # still waits for a worker of its host
                keep.append(index)
        keep.extend(self.resend)
        self.resend = keep

    def _continue_in(self, node: Any, scope: str, best: int) -> str | None:
        members, taken = self.members[scope], self.taken
        pos = self.cursor.get(scope, 0)
        while pos < len(members) and taken[members[pos]]:
            pos += 1
        self.cursor[scope] = pos
        assert self.planner is not None
        for index in members[pos : pos + SCAN]:
            if taken[index] or self.priority[index] != best:
                continue
            key = self.collection[index]
            if self.compat is not None and self.compat.elsewhere(node, key):
                continue
            if self.planner.start(key):
                return key
        return None

    def _long(self, key: str) -> bool:
        """Whether a test took, in an earlier run (durations from pytest's
        cache), ``SHORT`` or more and several times the typical test of this
        run: one queued behind it on its worker would wait for it while the
        other workers run several tests each, and may end the run late.
        Nothing is queued behind such a test; behind the others, a worker's
        next tests may be (it saves a round trip to the controller each)."""
        duration = self.durations.get(key, 0.0)
        return duration >= SHORT and duration >= LONG * self.typical

    def _low_water(self) -> int:
        """How short a worker's queue may get, while plenty of tests are
        ready, before it is sent its next batch: ``PREFETCH``, or for short
        tests about ``SHORT`` seconds of them (at most half a batch). The
        controller hears of a test's end some time after it (six events a
        test, queued behind the other worker's), so a queue refilled at two
        tiny tests ran dry about 60 times a worker in a 5,000-test run.
        Longer tests keep short queues: a test made ready later (the next
        link of a chain) waits behind what is queued."""
        if self.typical >= SHORT:
            return PREFETCH
        enough = int(SHORT / max(self.typical, SHORT / MAX_BATCH))
        return max(PREFETCH, min(MAX_BATCH // 2, enough))

    def _batch_size(self) -> int:
        """One test at a time unless plenty are ready for the idle workers;
        more when tests are short (a send costs the controller about as
        much as running such a test). A batch holds ``MAX_BATCH`` tests;
        of tests shorter than ``SHORT``, as many as take about as long as
        ``MAX_BATCH`` tests of ``SHORT`` (up to ``TINY_BATCH``): each send
        costs the controller a message and a journal write, and at
        ``MAX_BATCH`` a send, 5,000 tiny tests took 162 sends, where
        xdist's load takes a few dozen."""
        assert self.planner is not None
        waiting = self.planner.ready
        short = self.typical < SHORT
        workers = max(1, len(self.node2pending)) * (1 if short else 4)
        most = MAX_BATCH
        if short:
            most = min(TINY_BATCH, int(MAX_BATCH * SHORT / max(self.typical, 1e-6)))
        return max(1, min(most, waiting // workers))

    def send(self, node: Any, entries: list[Entry]) -> None:
        """Send tests to ``node`` (the compat layer sends a module's next tests too)."""
        if self.compat is not None:
            self.compat.sending(node, entries)
        for entry in entries:
            self.sent[entry[0]] = entry
            self.taken[entry[0]] = 1
        if self.listeners.sent:
            nodeids = [self.collection[entry[0]] for entry in entries]
            for listener in self.listeners.sent:
                listener(node, nodeids)
        self.node2pending[node].extend(e[0] for e in entries)
        with contextlib.suppress(OSError):  # its worker just died: remove_node
            node.sendcommand("pexen_run", entries=on_the_wire(entries))  # hands its tests to others
