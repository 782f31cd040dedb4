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
worker); the journal side is in resume.py.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import NoReturn

import pytest

from .results import runs_tests

BOOTS_KEY = pytest.StashKey[dict[str, int]]()
ENV = "PEXEN_BOOT_COUNT"


class RebootRequested(BaseException):
    """Raised by ``pexen.reboot()``: a BaseException, so the test's own
    ``except Exception`` handlers let it pass, as a real reboot would."""

    def __init__(self, nodeid: str, boot_count: int) -> None:
        super().__init__(f"pexen: {nodeid} asked for a reboot (boot count {boot_count})")
        self.nodeid = nodeid
        self.boot_count = boot_count


@dataclass
class Context:
    """What ``reboot()`` needs to know in this process."""

    command: str
    max_reboots: int
    boots: dict[str, int] = field(default_factory=dict)


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
    count = context.boots.get(nodeid, 0)
    if count >= context.max_reboots:
        pytest.fail(
            f"pexen.reboot(): {nodeid} has been rebooted {count} times "
            f"(--pexen-max-reboots={context.max_reboots}); a reboot loop?",
            pytrace=False,
        )
    raise RebootRequested(nodeid, count)


def reboot_command(config: pytest.Config) -> str:
    """``--pexen-reboot-cmd``, else the ini option (empty: none configured)."""
    return str(config.getoption("pexen_reboot_cmd") or config.getini("pexen_reboot_cmd"))


def configure(config: pytest.Config) -> None:
    """Set this process up for ``reboot()`` and boot counts; register the
    per-test hooks only when a reboot can happen or a run resumes."""
    boots = config.stash.get(BOOTS_KEY, None)
    if boots is None:
        workerinput = getattr(config, "workerinput", None)
        boots = dict(workerinput.get("pexen_boots") or {}) if workerinput else {}
        config.stash[BOOTS_KEY] = boots
    command = reboot_command(config)
    maximum = config.getoption("pexen_max_reboots")
    if maximum < 0:
        raise pytest.UsageError(f"pexen: --pexen-max-reboots={maximum}: give 0 or more")
    context = Context(command, maximum, boots)
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


def _restore_env(value: str | None) -> None:
    if value is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = value


def boot_count(config: pytest.Config, nodeid: str) -> int:
    """How often the run stopped while this test was running."""
    return config.stash.get(BOOTS_KEY, {}).get(nodeid, 0)


class RebootHooks:
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
        return report


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
