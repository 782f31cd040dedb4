"""``--dist pexen``: the xdist scheduler, driven by the planner.

It lives in the controller and implements xdist's ``Scheduling`` protocol.
Workers send the task graph they collected (see xdist_worker); the planner
decides what may start; a test goes to an idle worker only when its
providers have passed and its locks are free, and it stays "running" for
the planner (locks held) until its worker reports it complete. Tests that
can never run are sent with their skip reason, so reports look exactly as
in a serial run. When many independent tests are ready they go in small
batches, which keeps the controller's overhead low on large plain suites.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import pytest

from .runtime import bad_outcome
from .sched.errors import DepcheckError
from .sched.planner import Planner, Unrunnable
from .taskgraph import GraphSpec, plain_spec, spec_planner

MAX_BATCH = 32
PREFETCH = 2


class Outcomes:
    """How each test ended, read off the reports as they reach the controller."""

    def __init__(self) -> None:
        self.started: set[str] = set()  # began on a worker, not complete yet
        self.bad: dict[str, str] = {}
        self.flags: dict[str, tuple[bool, bool]] = {}
        self.shared: dict[str, dict[str, Any]] = {}

    def record(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        bad = bad_outcome(report)
        if bad is not None:
            self.bad.setdefault(nodeid, bad)
        flags = getattr(report, "pexen_flags", None)
        if flags and report.failed:
            self.flags[nodeid] = (bool(flags[0]), bool(flags[1]))
        shared = getattr(report, "pexen_shared", None)
        if shared:
            self.shared[nodeid] = shared

    def pop(self, nodeid: str) -> tuple[str | None, tuple[bool, bool] | None, dict[str, Any]]:
        return (self.bad.pop(nodeid, None), self.flags.pop(nodeid, None),
                self.shared.pop(nodeid, {}))


class PexenScheduling:
    """xdist scheduler that asks the planner what may run where."""

    def __init__(self, config: pytest.Config, log: Any, outcomes: Outcomes,
                 durations: dict[str, float]) -> None:
        self.config = config
        self.log = log
        self.outcomes = outcomes
        self.durations = durations
        self.numnodes = len(config.getoption("tx") or [])
        self.node2collection: dict[Any, list[str]] = {}
        self.node2pending: dict[Any, deque[int]] = {}
        self.spec: GraphSpec | None = None
        self.error: str | None = None
        self.planner: Planner[str] | None = None
        self.collection: list[str] = []
        self.index: dict[str, int] = {}
        self.skips: deque[tuple[int, str]] = deque()
        self.resend: deque[int] = deque()
        self.shared: dict[str, dict[str, Any]] = {}
        self.finished: set[int] = set()

    # ------------------------------------------------------------ protocol
    @property
    def nodes(self) -> list[Any]:
        return list(self.node2pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.node2collection) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        if not self.collection_is_completed or self.planner is None:
            return False
        if self.planner.active or self.skips or self.resend:
            return False
        return not any(self.node2pending.values())

    @property
    def has_pending(self) -> bool:
        if self.planner is None:
            return False
        return (self.planner.active or bool(self.skips) or bool(self.resend)
                or any(self.node2pending.values()))

    def add_node(self, node: Any) -> None:
        self.node2pending[node] = deque()

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        self.node2collection[node] = list(collection)

    def remove_pending_tests_from_node(self, node: Any, indices: Any) -> None:
        """Our workers send their task graph through this call (see
        xdist_worker); it carries nothing else, as we never steal."""
        if isinstance(indices, dict) and "pexen" in indices:
            payload = indices["pexen"]
            if payload.get("error") and self.error is None:
                self.error = payload["error"]
            if payload.get("spec") is not None and self.spec is None:
                self.spec = payload["spec"]
                reporter = self.config.pluginmanager.get_plugin("terminalreporter")
                for line in payload.get("header") or []:
                    if reporter is not None:
                        reporter.write_line(line)

    def mark_test_pending(self, item: str) -> None:
        """A crash handler (pytest-rerunfailures) wants a crashed test run
        again: it runs once more, on any worker; what it provided was given
        up when it crashed, so its dependents stay skipped."""
        self.resend.append(self.index[item])
        self._dispatch()

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        pending = self.node2pending[node]
        if pending and pending[0] == item_index:
            pending.popleft()
        elif item_index in pending:
            pending.remove(item_index)
        self.finished.add(item_index)
        nodeid = self.collection[item_index]
        self.outcomes.started.discard(nodeid)
        self.durations[nodeid] = duration
        self._ended(nodeid)
        self._dispatch()

    def remove_node(self, node: Any) -> str | None:
        pending = self.node2pending.pop(node)
        self.node2collection.pop(node, None)
        if not pending:
            return None
        if self.collection[pending[0]] not in self.outcomes.started:
            # the worker died between two tests: none of its tests was running
            self.resend.extend(pending)
            self._dispatch()
            return None
        crashed = pending.popleft()
        self.resend.extend(pending)  # not started yet: another worker runs them
        nodeid = self.collection[crashed]
        self.outcomes.started.discard(nodeid)
        self.finished.add(crashed)
        if self.planner is not None and self.planner.is_running(nodeid):
            self.outcomes.pop(nodeid)
            self._done(nodeid, ok=False, deps_ok=False, locks_ok=True,
                       outcome="crashed (its worker died)")
        self._dispatch()
        return nodeid

    def schedule(self) -> None:
        """Called once collection is complete, and again for each replaced
        worker: build the plan the first time, then hand out work."""
        if self.planner is None:
            self._start()
        self._dispatch()

    # ------------------------------------------------------------ planning
    def _start(self) -> None:
        if self.error is not None:
            raise pytest.UsageError(self.error)
        collections = list(self.node2collection.values())
        self.collection = collections[0]
        for other in collections[1:]:
            if other != self.collection:
                raise pytest.UsageError(
                    "pexen: workers collected different tests; run with the same "
                    "environment on every worker (or see pytest-xdist's "
                    "'Different tests were collected' advice)")
        self.index = {nodeid: n for n, nodeid in enumerate(self.collection)}
        spec = self.spec or plain_spec(self.collection)
        known = {task[0] for task in spec["tasks"]}
        if known != set(self.collection):
            raise pytest.UsageError("pexen: the task graph from the workers does not match "
                                    "their collection")
        try:
            # always rank by critical path: unknown durations count alike
            self.planner = spec_planner(spec, self.config.getoption("pexen_missing"),
                                        durations=self.durations)
        except DepcheckError as exc:  # the workers found it first; kept as a guard
            raise pytest.UsageError(f"pexen: {exc}") from None
        self._queue_skips(self.planner.unrunnable)

    def _queue_skips(self, dropped: list[Unrunnable[str]]) -> None:
        for u in dropped:
            if u.task in self.index:
                self.skips.append((self.index[u.task], f"pexen: {u.reason}"))

    def _ended(self, nodeid: str) -> None:
        bad, flags, shared = self.outcomes.pop(nodeid)
        assert self.planner is not None
        if not self.planner.is_running(nodeid):
            return  # a skip we sent, or a re-run: already settled in the planner
        deps_ok, locks_ok = flags if flags is not None else (bad is None, True)
        self._done(nodeid, ok=bad is None, deps_ok=deps_ok, locks_ok=locks_ok,
                   outcome=bad or "failed", shared=shared)

    def _done(self, nodeid: str, ok: bool, deps_ok: bool, locks_ok: bool, outcome: str,
              shared: dict[str, Any] | None = None) -> None:
        planner = self.planner
        assert planner is not None
        dropped = planner.done(nodeid, ok=ok, deps_ok=deps_ok, locks_ok=locks_ok,
                               outcome=outcome)
        self._queue_skips(dropped)
        if deps_ok and shared:
            for dep in planner.dependents(nodeid):
                self.shared.setdefault(dep, {}).update(shared)

    # ------------------------------------------------------------ dispatching
    def _dispatch(self) -> None:
        planner = self.planner
        if planner is None:
            return
        # a worker gets work when idle; while plenty of tests are ready it
        # also gets its next batch a little before it runs dry
        plenty = planner.ready >= 8 * max(1, len(self.node2pending))
        idle = [node for node, pending in self.node2pending.items()
                if node in self.node2collection
                and (not pending or (plenty and len(pending) <= PREFETCH))]
        for node in idle:
            entries = self._next_entries()
            if not entries:
                break
            self._send(node, entries)
        if (idle and planner.active and not self.skips and not self.resend
                and not any(self.node2pending.values())):
            # nothing runs and nothing can start: never let xdist drop tests
            self._queue_skips(planner.abort("no test could start (pexen internal stall)"))
            self._dispatch()

    def _next_entries(self) -> list[list[Any]]:
        """What to send to one idle worker: tests of a dead worker first,
        then skips (instant), then what the planner lets start."""
        entries: list[list[Any]] = []
        while self.resend and len(entries) < MAX_BATCH:
            index = self.resend.popleft()
            entries.append([index, None, self.shared.pop(self.collection[index], None)])
        while self.skips and len(entries) < MAX_BATCH:
            index, reason = self.skips.popleft()
            entries.append([index, reason, None])
        if entries:
            return entries
        assert self.planner is not None
        ready = self.planner.get_ready(self._batch_size())
        self._queue_skips(self.planner.take_dropped())
        return [[self.index[k], None, self.shared.pop(k, None)] for k in ready]

    def _batch_size(self) -> int:
        """One test at a time unless plenty are ready for the idle workers."""
        assert self.planner is not None
        waiting = self.planner.ready
        workers = max(1, len(self.node2pending))
        return max(1, min(MAX_BATCH, waiting // (4 * workers)))

    def _send(self, node: Any, entries: list[list[Any]]) -> None:
        last = entries[-1][0]
        hint = self._hint(last)
        self.node2pending[node].extend(e[0] for e in entries)
        node.sendcommand("pexen_run", entries=entries, hint=hint)

    def _hint(self, index: int) -> int | None:
        """A guess of the worker's next test, so fixtures it likely shares
        are kept: the next test in order that has not finished."""
        n = index + 1
        while n < len(self.collection) and n in self.finished:
            n += 1
        return n if n < len(self.collection) else None
