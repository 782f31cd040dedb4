"""pytest-dependency and pytest-order under ``--dist pexen`` (see compat).

Controller side (``CompatControl``, owned by the xdist scheduler):

* pinned modules: the first worker that starts a test of a pinned module
  owns it until its last test has ended; only the owner starts its tests
  (the module's globals, class attributes and fixtures are then those of a
  serial run). A worker that dies, or waits (below), lets its modules go.
* pytest-dependency's results: the controller keeps every test's phase
  outcomes; before it sends a test, it sends the worker the outcomes of the
  tests it comes after that ended elsewhere, so the plugin's check at setup
  finds them without a round trip.
* ``depends(request, names)`` at run time names tests nobody ordered: the
  worker asks for their outcomes (``hold``) and waits inside the running
  test. If one has not ended, the controller takes back the tests queued on
  that worker (one of them could be what the awaited test waits for), runs
  the awaited test next on another worker and answers once it has ended.
  When nothing runs any more but such waits (one worker, or the awaited
  test needs what the waiting test holds), the newest wait is answered
  with a reason and its test is skipped: never a deadlock.

Worker side: ``start_worker`` wraps pytest-dependency's lookups
(compat_dependency.WorkerResults) and sends the questions through the
worker loop (xdist_worker.PexenWorker.hold).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .compat import AFTER
from .compat_dependency import record_phase

if TYPE_CHECKING:
    from .xdist_scheduler import PexenScheduling
    from .xdist_worker import PexenWorker


@dataclass
class _Hold:
    test: str
    wait: list[str]


class CompatControl:
    """The controller's side of pinned modules and shared results."""

    def __init__(self, sched: PexenScheduling, spec: dict[str, Any]) -> None:
        self.sched = sched
        index = sched.index
        self.unit_of: dict[int, str] = {
            index[nodeid]: unit for nodeid, unit in spec.get("pins", {}).items() if nodeid in index
        }
        self.members: dict[str, list[int]] = {}
        for n in sorted(self.unit_of):
            self.members.setdefault(self.unit_of[n], []).append(n)
        self.left = {unit: len(members) for unit, members in self.members.items()}
        self.cursor: dict[str, int] = {}
        self.owner: dict[str, Any] = {}
        self.results = bool(spec.get("dependency"))
        # the tests each test comes after, whose outcomes its worker may need
        self.after: dict[int, list[str]] = {}
        if self.results:
            for task in spec["tasks"]:
                before = [tag[len(AFTER) :] for tag in task[1] if tag.startswith(AFTER)]
                if before:
                    self.after[index[task[0]]] = before
        self.partial: dict[str, dict[str, str]] = {}
        self.phases: dict[str, dict[str, str]] = {}  # final outcomes by node id
        self.ran_on: dict[str, Any] = {}
        self.holds: dict[Any, _Hold] = {}  # in the order they came
        self.urgent: list[str] = []

    # ------------------------------------------------------------ outcomes
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not getattr(report, "pexen_late", False):
            record_phase(self.partial.setdefault(report.nodeid, {}), report)

    def ended(self, nodeid: str, node: Any, crashed: bool = False) -> None:
        """A test is over (``node``: where it ran): keep its outcome, free
        its module once it was the last, answer the waits it ends."""
        phases = self.partial.pop(nodeid, {})
        if crashed:
            phases["call"] = "failed"
        self.phases[nodeid] = phases
        self.ran_on[nodeid] = node
        unit = self.unit_of.get(self.sched.index[nodeid])
        if unit is not None:
            self.left[unit] -= 1
            if not self.left[unit]:
                self.owner.pop(unit, None)
        for holder, hold in list(self.holds.items()):
            if all(n in self.phases for n in hold.wait):
                self._answer(holder, hold, revoked=True)

    # ------------------------------------------------------------ dispatch
    def elsewhere(self, node: Any, key: str) -> bool:
        """Whether ``key`` belongs to a module another worker owns."""
        unit = self.unit_of.get(self.sched.index[key])
        owner = None if unit is None else self.owner.get(unit)
        return owner is not None and owner is not node

    def pick(self, node: Any) -> str | None:
        """Start what this worker should run before anything else: a test a
        waiting worker needs, then the next test of a module it owns."""
        sched = self.sched
        planner = sched.planner
        assert planner is not None
        for key in list(self.urgent):
            if sched.taken[sched.index[key]]:
                self.urgent.remove(key)
            elif not self.elsewhere(node, key) and planner.start(key):
                self.urgent.remove(key)
                return key
        for unit, owner in self.owner.items():
            if owner is not node:
                continue
            members = self.members[unit]
            pos = self.cursor.get(unit, 0)
            while pos < len(members) and sched.taken[members[pos]]:
                pos += 1
            self.cursor[unit] = pos
            if pos < len(members) and planner.start(sched.collection[members[pos]]):
                return sched.collection[members[pos]]
        return None

    def sending(self, node: Any, entries: list[list[Any]]) -> None:
        """Before tests go to ``node``: it takes the modules they pin, and
        learns the outcomes of the tests they come after that ended
        elsewhere (pytest-dependency's check at setup reads them)."""
        push: dict[str, dict[str, str]] = {}
        for entry in entries:
            index = entry[0]
            unit = self.unit_of.get(index)
            if unit is not None:
                self.owner.setdefault(unit, node)
            for before in self.after.get(index, ()):
                if before in self.phases and self.ran_on.get(before) is not node:
                    push[before] = self.phases[before]
        if push:
            node.sendcommand("pexen_phases", phases=push)

    def holding(self, node: Any) -> bool:
        return node in self.holds

    def pinned(self, key: str) -> bool:
        return self.sched.index[key] in self.unit_of

    def owns_work(self, node: Any) -> bool:
        """Whether ``node`` owns a module with tests left: it then gets one
        test at a time, so that the module's next test never waits behind
        others queued there."""
        return any(owner is node for owner in self.owner.values())

    # ------------------------------------------------------------ waits
    def hold(self, node: Any, request: dict[str, Any]) -> None:
        """A worker's test asks for the outcomes of ``request["wait"]``."""
        sched = self.sched
        wait = [n for n in request.get("wait", []) if n in sched.index]
        hold = _Hold(str(request.get("test")), wait)
        pending = sched.node2pending.get(node)
        if pending is None:
            return  # the worker is gone
        if all(n in self.phases for n in wait):
            self._answer(node, hold, revoked=False)
            return
        if not pending or sched.collection[pending[0]] != hold.test:
            self._answer(node, hold, revoked=False, why="the test it runs is unknown to pexen")
            return
        running = pending.popleft()
        sched.resend.extend(pending)  # taken back: none of them may hold the awaited ones up
        sched.node2pending[node] = deque([running])
        keep = self.unit_of.get(running)
        for unit, owner in list(self.owner.items()):
            if owner is node and unit != keep:
                del self.owner[unit]
        self.holds[node] = hold
        for n in wait:
            if n not in self.phases and not sched.taken[sched.index[n]] and n not in self.urgent:
                self.urgent.append(n)
        sched._dispatch()

    def stalled(self) -> None:
        """Called after each dispatch: when no worker runs anything but the
        waiting tests, the newest wait cannot end; answer it with a reason."""
        if not self.holds:
            return
        for node, pending in self.sched.node2pending.items():
            if pending and node not in self.holds:
                return
        node = next(reversed(self.holds))
        self._answer(
            node,
            self.holds[node],
            revoked=True,
            why="had not run, and no other worker could run it first",
        )

    def node_gone(self, node: Any) -> None:
        self.holds.pop(node, None)
        for unit, owner in list(self.owner.items()):
            if owner is node:
                del self.owner[unit]

    def _answer(self, node: Any, hold: _Hold, revoked: bool, why: str = "") -> None:
        self.holds.pop(node, None)
        phases = {n: self.phases[n] for n in hold.wait if n in self.phases}
        reasons = {n: f"{n} {why}" for n in hold.wait if n not in self.phases}
        node.sendcommand("pexen_answer", phases=phases, reasons=reasons, revoked=revoked)


def start_worker(worker: PexenWorker) -> None:
    """On a pexen-controlled worker whose suite uses pytest-dependency:
    wrap its lookups for the session (undone at the end of the loop)."""
    compat = worker.graph_source.compat
    if compat is None or compat.dependency is None:
        return
    from .compat_dependency import WorkerResults

    def ask(test: str, wait: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        answer = worker.hold({"test": test, "wait": wait})
        if answer.get("stopping"):
            return {}, {n: "the run is stopping" for n in wait}
        return answer.get("phases", {}), answer.get("reasons", {})

    results = WorkerResults(compat.dependency, ask)
    results.install()
    worker.config.pluginmanager.register(results, "pexen-dependency-results")
    worker.compat_results = results
