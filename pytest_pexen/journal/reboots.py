"""Reboots asked for by tests, and boot counts: ``pexen.reboot()``.

A test that must reboot the machine (a kernel update, a reboot-survival
check) calls ``pexen.reboot()`` (or the ``pexen_reboot`` fixture). As with
tmt-reboot, the test ends there: the process that runs it reports it as
"rebooting", the journaling process records the request, lets the other
running tests finish, stops the run and runs ``--pexen-reboot-cmd``. After
the reboot, ``pytest ... --pexen-resume`` runs the test again from its
start, with its boot count (``pexen_boot_count``, ``PEXEN_BOOT_COUNT``) one
higher, so it can tell where it is.

This module is what the test-running process needs (serial, or an xdist
worker); the journal side is in journal/resume.py.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Generator
from typing import Any, NoReturn

import pytest

from ..graph.keys import BOOTS_KEY, boot_count
from ..graph.runtime import runs_tests
from ..internals import HooksOnly

JOURNALED_KEY = pytest.StashKey[bool]()  # this run writes a journal (a reboot needs one)
ENV = "PEXEN_BOOT_COUNT"
STOP = "pexen_stop"  # the xdist controller to every worker: a test asked for a reboot
UNJOURNALED = "pexen_unjournaled"  # the controller to every worker: the journal lost records


class RebootRequested(BaseException):
    """Raised by ``pexen.reboot()``: a BaseException, so the test's own
    ``except Exception`` handlers let it pass, as a real reboot would."""

    def __init__(self, nodeid: str, boot_count: int) -> None:
        super().__init__(f"pexen: {nodeid} asked for a reboot (boot count {boot_count})")
        self.nodeid = nodeid
        self.boot_count = boot_count


class Context:
    """What ``reboot()`` needs to know in this process. A plain class: a
    dataclass is compiled when its module is imported, in every pytest
    process."""

    __slots__ = ("boots", "command", "journaled", "max_reboots")

    def __init__(
        self, command: str, max_reboots: int, boots: dict[str, int], journaled: bool = True
    ) -> None:
        self.command = command
        self.max_reboots = max_reboots
        self.boots = boots
        self.journaled = journaled  # the run writes a journal: without one it cannot resume


_CONTEXT: list[Context] = []  # this process's pytest run (one at a time)


def current_test() -> str | None:
    """The node id of the test running now, from pytest's own
    ``PYTEST_CURRENT_TEST`` ("<node id> (call)")."""
    current = os.environ.get("PYTEST_CURRENT_TEST")
    return current.rpartition(" (")[0] if current else None


def reboot() -> NoReturn:
    """Have the machine rebooted and run this test again after it, from its
    start, with ``pexen_boot_count`` one higher. Never returns."""
    __tracebackhide__ = True
    if not _CONTEXT:
        raise RuntimeError(
            "pexen.reboot() works only in a test of a pytest run with the pexen plugin"
        )
    context = _CONTEXT[-1]
    nodeid = current_test() or "?"
    if not context.command:
        pytest.fail(
            "pexen.reboot(): no reboot command is configured; give "
            "--pexen-reboot-cmd=CMD or the ini option pexen_reboot_cmd",
            pytrace=False,
        )
    if not context.journaled:
        pytest.fail(
            "pexen.reboot(): this run writes no journal (--pexen-state=none, the "
            "cache provider disabled, or the journal cannot be written), so it "
            "could not resume after the reboot; give it a journal",
            pytrace=False,
        )
    count = context.boots.get(nodeid, 0)
    if count >= context.max_reboots:
        pytest.fail(
            f"pexen.reboot(): {nodeid} has been rebooted {count} times "
            f"(--pexen-max-reboots={context.max_reboots}); a reboot loop?",
            pytrace=False,
        )
    raise RebootRequested(nodeid, count)


def unjournaled() -> None:
    """The run's journal stopped taking records (a full disk, say): a
    resume would refuse it, so a reboot asked for from now on would strand
    the run; ``reboot()`` fails the test instead, and the run goes on."""
    if _CONTEXT:
        _CONTEXT[-1].journaled = False


def reboot_command(config: pytest.Config) -> str:
    """``--pexen-reboot-cmd``, else the ini option (empty: none configured)."""
    return str(config.getoption("pexen_reboot_cmd") or config.getini("pexen_reboot_cmd"))


def configure(config: pytest.Config) -> None:
    """Set this process up for ``reboot()`` and boot counts; register the
    per-test hooks only when a reboot can happen or a run resumes."""
    workerinput = getattr(config, "workerinput", None)
    boots = config.stash.get(BOOTS_KEY, None)
    if boots is None:
        boots = dict(workerinput.get("pexen_boots") or {}) if workerinput else {}
        config.stash[BOOTS_KEY] = boots
    if workerinput is not None:
        journaled = bool(workerinput.get("pexen_journaled", True))
    else:
        journaled = config.stash.get(JOURNALED_KEY, False)
    command = reboot_command(config)
    maximum = config.getoption("pexen_max_reboots")
    if maximum < 0:
        raise pytest.UsageError(f"pexen: --pexen-max-reboots={maximum}: give 0 or more")
    context = Context(command, maximum, boots, journaled)
    _CONTEXT.append(context)
    config.add_cleanup(lambda: _CONTEXT.remove(context))
    if not runs_tests(config):
        return
    # 0 for every test of the session (no per-test cost); RebootHooks sets
    # it per test when some test has been interrupted before
    before = os.environ.get(ENV)
    os.environ[ENV] = "0"
    config.add_cleanup(lambda: _restore_env(before))
    if command or boots:
        config.pluginmanager.register(RebootHooks(boots), "pexen-reboot")
        if workerinput is not None and command:
            config.pluginmanager.register(WorkerStop(), WORKER_STOP)


def _restore_env(value: str | None) -> None:
    if value is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = value


class RebootHooks(HooksOnly):
    """Per test, where tests run: ``PEXEN_BOOT_COUNT`` in the environment,
    and a reboot request turned into a "rebooting" report."""

    def __init__(self, boots: dict[str, int]) -> None:
        self.boots = boots

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        os.environ[ENV] = str(self.boots.get(item.nodeid, 0))
        try:
            return (yield)
        finally:
            os.environ[ENV] = "0"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        excinfo = call.excinfo
        if excinfo is not None and isinstance(excinfo.value, RebootRequested):
            count = excinfo.value.boot_count
            path, line = item.reportinfo()[:2]
            report.outcome = "skipped"
            report.longrepr = (
                str(path),
                (line or 0) + 1,
                f"pexen: rebooting (boot count {count}); the run resumes "
                "with --pexen-resume after the reboot",
            )
            report.pexen_reboot = count  # type: ignore[attr-defined]
            stop(item.config, f"pexen: {excinfo.value.nodeid} asked for a reboot")
            report.pexen_reboot_host = socket.gethostname()  # type: ignore[attr-defined]
        return report


WORKER_STOP = "pexen-worker-stop"


def stop(config: pytest.Config, reason: str) -> None:
    """On an xdist worker: a test asked for a reboot (here, or on another
    worker: the controller's STOP command); no test begins here any more."""
    guard = config.pluginmanager.get_plugin(WORKER_STOP)
    if guard is not None:
        guard.stopping = reason
        if guard.session is not None:
            guard.session.shouldstop = reason


class WorkerStop(HooksOnly):
    """On an xdist worker of a run that can reboot: once a reboot is asked
    for, tests sent here but not begun are not run (no reports at all):
    the controller journals them as handed back (``back``), and they run
    after the reboot. A test already running finishes."""

    def __init__(self) -> None:
        self.stopping: str | None = None
        self.session: pytest.Session | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """xdist's own worker loop (a suite handed to ``load``): teach its
        command handler the STOP and UNJOURNALED commands (pexen's loop
        knows them already)."""
        from ..internals import find_interactor

        interactor = find_interactor(session.config)
        handle = interactor.handle_command

        def handle_command(command: Any) -> None:
            if isinstance(command, tuple) and command[0] == STOP:
                stop(session.config, str(command[1].get("reason")))
            elif isinstance(command, tuple) and command[0] == UNJOURNALED:
                unjournaled()
            else:
                handle(command)

        interactor.handle_command = handle_command
        try:
            return (yield)
        finally:
            interactor.handle_command = handle

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> bool | None:
        return True if self.stopping is not None else None


def reboot_env(report: dict[str, Any]) -> dict[str, str]:
    """The environment of ``--pexen-reboot-cmd`` (it runs on the controller):
    which host to reboot and which worker ran the test, from the attributes
    of the test's "rebooting" report (an empty worker: a serial run)."""
    return {
        "PEXEN_REBOOT_HOST": str(report.get("pexen_reboot_host") or socket.gethostname()),
        "PEXEN_REBOOT_WORKER": str(report.get("worker_id") or ""),
    }


@pytest.fixture
def pexen_boot_count(request: pytest.FixtureRequest) -> int:
    """How often the run stopped (a reboot, a crash) while this test ran:
    0 on its first run, 1 after one reboot, ..."""
    return boot_count(request.config, request.node.nodeid)


@pytest.fixture
def pexen_reboot() -> Callable[[], NoReturn]:
    """``pexen.reboot``: call it to have the machine rebooted and this test
    run again after it (``pexen_boot_count`` one higher)."""
    return reboot
