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
(dependency.WorkerResults) and sends the questions through the worker loop
(xdist.worker.PexenWorker.hold).

Both sides plug into the xdist driver through its registration interface
(xdist/protocol.py) from compat.plugin's ``attach_scheduler`` and
``attach_worker``, which import this module only for a suite that uses the
plugins' markers.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ..internals import HooksOnly
from .dependency import DependencyIndex, WorkerResults, journaled_phases, record_phase
from .relations import AFTER

if TYPE_CHECKING:
    from ..xdist.scheduler import GraphScheduling
    from ..xdist.worker import PexenWorker


FOLLOW = 4  # tests of its own module a worker may have queued ahead


@dataclass
class _Hold:
    test: str
    wait: list[str]
    keep: list[int] = field(default_factory=list)  # its module's tests, queued behind it


class CompatControl(HooksOnly):
    """The controller's side of pinned modules and shared results."""

    def __init__(self, sched: GraphScheduling, spec: dict[str, Any]) -> None:
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
            record_phase(
                self.partial.setdefault(report.nodeid, {}), report.when, str(report.outcome)
            )

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

    def resumed(self, ended: dict[str, dict[str, Any]]) -> None:
        """Tests that ended in an earlier boot (``--pexen-resume``) are over;
        their outcomes come from their journal records."""
        for nodeid in sorted(ended):
            self.phases[nodeid] = journaled_phases(ended[nodeid])
            unit = self.unit_of.get(self.sched.index[nodeid])
            if unit is not None:
                self.left[unit] -= 1

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
            if owner is node and (following := self._next(unit)) and planner.start(following):
                return following
        return None

    def _next(self, unit: str) -> str | None:
        """The first test of the module not sent yet."""
        sched = self.sched
        members = self.members[unit]
        pos = self.cursor.get(unit, 0)
        while pos < len(members) and sched.taken[members[pos]]:
            pos += 1
        self.cursor[unit] = pos
        return sched.collection[members[pos]] if pos < len(members) else None

    def follow_ons(self) -> None:
        """Queue the next tests of its modules on a busy owner ahead of time
        when all they wait for runs there (the module's chain), so that a
        module runs without a round trip to the controller per test."""
        sched = self.sched
        planner = sched.planner
        assert planner is not None
        for node, pending in sched.node2pending.items():
            if not pending or node.shutting_down or node in self.holds:
                continue
            queued = {sched.collection[i] for i in pending}
            entries: list[list[Any]] = []
            for unit, owner in list(self.owner.items()):
                while owner is node and len(pending) + len(entries) < FOLLOW:
                    key = self._next(unit)
                    if key is None or not (
                        planner.start(key) or planner.start_early(key, queued.__contains__)
                    ):
                        break
                    queued.add(key)
                    index = sched.index[key]
                    entries.append([index, None, sched.shared.pop(key, None)])
                    sched.taken[index] = 1  # _next moves on
            if entries:
                sched.last[node] = entries[-1][0]
                sched.send(node, entries)

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

    def owns_any(self) -> bool:
        """Whether some worker owns a pinned module now."""
        return bool(self.owner)

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
        # the tests queued behind it are taken back (none may hold the
        # awaited ones up), but for those of its own pinned module: they
        # come after it, and nothing before it waits for them
        keep = self.unit_of.get(running)
        hold.keep = [i for i in pending if keep is not None and self.unit_of.get(i) == keep]
        sched.resend.extend(i for i in pending if i not in hold.keep)
        sched.node2pending[node] = deque([running, *hold.keep])
        for unit, owner in list(self.owner.items()):
            if owner is node and unit != keep:
                del self.owner[unit]
        self.holds[node] = hold
        for n in wait:
            if n not in self.phases and not sched.taken[sched.index[n]] and n not in self.urgent:
                self.urgent.append(n)
        sched.dispatch()

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
        node.sendcommand(
            "pexen_answer", phases=phases, reasons=reasons, revoked=revoked, keep=hold.keep
        )


def control(sched: GraphScheduling, spec: dict[str, Any]) -> None:
    """The controller, once the plan is made: a suite with pytest-dependency
    or pytest-order relations gets its placement (``CompatControl``), which
    answers the workers' ``pexen_hold`` messages (compat.plugin's
    ``attach_scheduler`` calls it)."""
    control = CompatControl(sched, spec)
    sched.compat = control
    earlier = sched.earlier
    control.resumed(
        {test: earlier.ended[test] for test in sched.resumed} if earlier is not None else {}
    )
    if "dependency" in spec:  # it keeps the outcomes pytest-dependency needs
        sched.config.pluginmanager.register(control, "pexen-compat-control")
    sched.listeners.on_message("pexen_hold", control.hold)  # depends() waits for tests


def start_worker(worker: PexenWorker, index: DependencyIndex) -> WorkerResults:
    """On a pexen-controlled worker whose suite uses pytest-dependency:
    wrap its lookups for the session (undone at the end of the loop)."""

    def ask(test: str, wait: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        answer = worker.hold({"test": test, "wait": wait})
        if answer.get("stopping"):
            why = answer.get("why", "the run is stopping")
            return {}, {n: why for n in wait}
        return answer.get("phases", {}), answer.get("reasons", {})

    results = WorkerResults(index, ask)
    results.install()
    worker.config.pluginmanager.register(results, "pexen-dependency-results")
    return results
