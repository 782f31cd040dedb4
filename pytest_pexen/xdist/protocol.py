"""How capabilities plug into the xdist driver, without the driver knowing them.

The controller's scheduler (scheduler.py) and the worker loop (worker.py)
know no capability. The watchdog, the journal and the compat layer are
wired in by the entry point (plugin.py) through pexen's internal hooks
(hookspecs.py): each gets the scheduler, or the worker, and registers here
what it needs:

- worker messages by kind (``pexen_hold``, ``pexen_timeout``; the core's
  own ``pexen`` carries the task graph), each routed to the one handler
  registered for it, or dropped;
- listeners for the tests sent to a worker, for the graph message of the
  first worker, and for the moment the plan is made;
- on the worker: commands by kind, additions to the graph message, and
  what to do when the loop starts and ends.

The Protocols below are what the scheduler asks of those that plug in.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..sched.planner import Planner, Unrunnable

# [item index, skip reason or None, shared state or None], and for a test sent
# ahead of its providers (scheduler.GraphScheduling._follow_ons) a fourth
# field: the indices of the tests queued before it that must pass for it to run
Entry = list[Any]

BATCH = "pexen_events"  # a worker's event: several xdist events in one message


def on_the_wire(entries: list[Entry]) -> list[Entry | int]:
    """``entries`` as the controller sends them: a test with nothing but its
    index (most) as the index alone. execnet's serializer walks nested data
    in Python, a list of three costing four times an int, on both sides."""
    return [e[0] if e[1] is None and e[2] is None and len(e) == 3 else e for e in entries]


def off_the_wire(entries: list[Entry | int]) -> list[Entry]:
    """The entries a worker was sent, each a list again."""
    return [[e, None, None] if isinstance(e, int) else e for e in entries]


class Listeners:
    """What capabilities registered on the controller's scheduler."""

    def __init__(self) -> None:
        self.messages: dict[str, Callable[[Any, Any], None]] = {}
        self.sent: list[Callable[[Any, list[str]], None]] = []
        self.graph: list[Callable[[dict[str, Any]], None]] = []
        self.planned: list[Callable[[dict[str, Any]], None]] = []

    def on_message(self, kind: str, handler: Callable[[Any, Any], None]) -> None:
        """``handler(node, payload)`` gets a worker's ``{kind: payload}``
        message (sent as xdist's "unscheduled" event, see worker.py)."""
        self.messages[kind] = handler

    def on_sent(self, listener: Callable[[Any, list[str]], None]) -> None:
        """``listener(node, nodeids)``: tests are about to go to ``node``
        (before its worker can begin them)."""
        self.sent.append(listener)

    def on_graph(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """``listener(payload)``: the first worker's graph message (once)."""
        self.graph.append(listener)

    def on_planned(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """``listener(spec)``: the planner is made (once, before any test is sent)."""
        self.planned.append(listener)

    def route(self, node: Any, message: Any) -> None:
        if isinstance(message, dict):
            for kind, payload in message.items():
                handler = self.messages.get(kind)
                if handler is not None:
                    handler(node, payload)


class Placement(Protocol):
    """Where tests may go beyond what the planner says (the compat layer's
    pinned modules and waits, see compat/xdist.py)."""

    def pick(self, node: Any) -> str | None: ...
    def elsewhere(self, node: Any, key: str) -> bool: ...
    def owns_any(self) -> bool: ...
    def owns_work(self, node: Any) -> bool: ...
    def holding(self, node: Any) -> bool: ...
    def pinned(self, key: str) -> bool: ...
    def sending(self, node: Any, entries: list[Entry]) -> None: ...
    def ended(self, nodeid: str, node: Any, crashed: bool = False) -> None: ...
    def node_gone(self, node: Any) -> None: ...
    def follow_ons(self) -> None: ...
    def stalled(self) -> None: ...


class Earlier(Protocol):
    """An earlier boot of the run (``--pexen-resume``, journal/resume.py)."""

    ended: dict[str, dict[str, Any]]

    def restore(
        self,
        planner: Planner[str],
        known: Callable[[str], bool],
        hand_on: Callable[[str, dict[str, Any]], None],
    ) -> list[Unrunnable[str]]: ...


class Deadline(Protocol):
    """The session's time limit (watchdog/limits.py): no test starts after it."""

    reason: str

    def over(self) -> bool: ...


class Scheduler(Protocol):
    """What a capability may ask of the xdist-facing scheduler."""

    def worker_of(self, nodeid: str) -> Any: ...
