"""The time limits a run has, and whether the watchdog is needed at all.

Every pytest process reads the limits (``--pexen-timeout``,
``--pexen-session-timeout``, ``--pexen-timeout-grace``, their ini options,
each test's ``pexen.timeout()``); only a run that has one imports
``limits`` (the interrupts, the controller's timers, the session limit) and
``timer`` (the watchdog thread): most runs have none, and every pytest
process, each xdist worker included, would otherwise pay for importing
them.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..graph.items import META_KEY
from ..graph.runtime import runs_tests

if TYPE_CHECKING:
    from ..xdist.scheduler import PexenScheduling
    from ..xdist.worker import PexenWorker
    from .limits import SessionLimit

LIMITS_KEY = pytest.StashKey["Limits"]()
SESSION_KEY = pytest.StashKey["SessionLimit"]()
TIMER = "pexen-timer"
CONTROLLER = "pexen-controller-timer"
GRACE = 1.0  # default seconds a test has, after its limit, to return


class Limits:
    """The run's time limits, in seconds."""

    __slots__ = ("default", "grace", "session")

    def __init__(self, default: float | None, grace: float, session: float | None) -> None:
        self.default = default  # each test's, unless its own pexen.timeout() says otherwise
        self.grace = grace
        self.session = session


def _seconds(config: pytest.Config, option: str, ini: str) -> float | None:
    """A positive number of seconds from the option, else the ini option;
    anything else is a usage error (exit 4) naming where it came from."""
    value = config.getoption(option)
    where = "--" + option.replace("_", "-")
    if value is None:
        value = config.getini(ini) or None
        where = f"ini option {ini}"
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise pytest.UsageError(f"pexen: {where}={value}: give a positive number of seconds")
    return seconds


def configure(config: pytest.Config) -> None:
    """Read and check the limits (every process: workers get the same
    options); set up the session limit where it applies."""
    grace = _seconds(config, "pexen_timeout_grace", "pexen_timeout_grace")
    limits = Limits(
        _seconds(config, "pexen_timeout", "pexen_timeout"),
        GRACE if grace is None else grace,
        _seconds(config, "pexen_session_timeout", "pexen_session_timeout"),
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


def limit_of(item: pytest.Item, default: float | None) -> float | None:
    """The test's own limit (marker or ``pytest_pexen_task``), else the default."""
    meta = item.stash.get(META_KEY, None)
    if meta is not None and meta.timeout is not None:
        return meta.timeout
    return default


def own_limits(items: list[pytest.Item]) -> dict[str, float]:
    """The tests that have a limit of their own (for the xdist controller,
    which does not collect)."""
    return {item.nodeid: limit for item in items if (limit := limit_of(item, None)) is not None}


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


def hang_path(journal_path: Path) -> Path:
    """Where faulthandler writes the stacks of a serial run stuck holding the GIL."""
    return journal_path.with_name(journal_path.name + ".hang")


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
