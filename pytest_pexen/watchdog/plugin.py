"""The watchdog's side of the entry point: the limits read at configure,
the timers registered where a test has a limit.

Most runs have no time limit, and every pytest process (each xdist worker
too) would pay for importing the interrupts, the timers and the watchdog
thread: ``limits`` and ``timer`` are imported from here only by a run
that has one.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from ..graph.runtime import runs_tests
from .settings import (
    CONTROLLER,
    GRACE,
    LIMITS_KEY,
    SESSION_KEY,
    TIMER,
    Limits,
    limit_of,
    own_limits,
    seconds_of,
)

if TYPE_CHECKING:
    from ..xdist.scheduler import PexenScheduling
    from ..xdist.worker import PexenWorker
    from .limits import SessionLimit


def configure(config: pytest.Config) -> None:
    """Read and check the limits (every process: workers get the same
    options); set up the session limit where it applies."""
    grace = seconds_of(config, "pexen_timeout_grace", "pexen_timeout_grace")
    limits = Limits(
        seconds_of(config, "pexen_timeout", "pexen_timeout"),
        GRACE if grace is None else grace,
        seconds_of(config, "pexen_session_timeout", "pexen_session_timeout"),
    )
    config.stash[LIMITS_KEY] = limits
    if limits.session is None or config.getoption("collectonly"):
        return
    from .limits import SessionLimit

    workerinput = getattr(config, "workerinput", None)
    # a worker's share of the session is what was left when it was started
    left = workerinput.get("pexen_session_left") if workerinput is not None else None
    session = SessionLimit(limits.session, limits.session if left is None else left)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "pexen-session-limit")


def collected(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Where tests run: time them, if any has a limit."""
    limits = config.stash.get(LIMITS_KEY, None)
    if limits is None or not runs_tests(config) or config.getoption("collectonly"):
        return
    if limits.default is None and not any(limit_of(item, None) for item in items):
        return
    if config.pluginmanager.get_plugin(TIMER) is None:
        from .limits import TestTimer

        config.pluginmanager.register(TestTimer(config, limits), TIMER)


def attach_scheduler(scheduler: PexenScheduling) -> None:
    """The xdist controller: its scheduler sends no test once the session
    limit is reached; once the workers tell the tests' own limits (with
    their graph), they are timed here (and the default), if there is any;
    a worker's words on a test over its limit reach that timer."""
    graph = scheduler.graph
    config = graph.config
    graph.session_limit = config.stash.get(SESSION_KEY, None)

    def watch(payload: dict[str, Any]) -> None:
        tests = payload.get("limits") or {}
        limits = config.stash.get(LIMITS_KEY, None)
        if limits is None or (limits.default is None and not tests):
            return
        if config.pluginmanager.get_plugin(CONTROLLER) is None:
            from .limits import ControllerTimer

            timer = ControllerTimer(config, limits, scheduler, tests)
            config.pluginmanager.register(timer, CONTROLLER)

    def said(node: Any, note: dict[str, Any]) -> None:  # the worker exits next
        timer = config.pluginmanager.get_plugin(CONTROLLER)
        if timer is not None:
            timer.worker_said(note)

    graph.listeners.on_graph(watch)
    graph.listeners.on_message("pexen_timeout", said)


def attach_worker(worker: PexenWorker) -> None:
    """An xdist worker under pexen's scheduling tells the controller the
    tests' own limits (the controller does not collect)."""
    worker.add_to_graph("limits", own_limits)


def configure_node(node: Any) -> None:
    """The xdist controller tells each worker what is left of the session's
    time limit."""
    session: SessionLimit | None = node.config.stash.get(SESSION_KEY, None)
    if session is not None:
        node.workerinput["pexen_session_left"] = session.deadline - time.monotonic()
