"""pytest-xdist integration: ``-n N`` and ``--dist pexen``.

Controller side: make ``--dist`` accept ``pexen``, take over xdist's default
``load`` mode when ``-n`` is given without ``--dist``, build the pexen
scheduler, mark workers as pexen-controlled, read outcomes off the reports
and keep test durations (in pytest's cache) for the critical-path ranking
of later runs. The worker side is in worker.py. Capabilities (the
watchdog, the journal, the compat layer) plug into the scheduler and the
worker through pexen's internal hooks (hookspecs.py, protocol.py); this
module knows none of them.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import gc
import math
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from ..graph.outcome import is_subtest
from ..internals import (
    HooksOnly,
    junit_crash_failed,
    junit_merge_late,
    local_pid,
    real_time,
    receive_together,
)
from .hosts import warn_open_gateways

if TYPE_CHECKING:
    from .scheduler import Outcomes, PexenScheduling

DURATIONS_KEY = "pexen/durations"


class LateJunit(HooksOnly):
    """Registered in the xdist controller with ``--junitxml``: a test the
    watchdog stopped over its limit by killing its worker is a failure there
    (``internals.junit_crash_failed``), and a kept
    fixture's late teardown report (a failure, or sub-results) joins its test's testcase in pytest's
    report (``internals.junit_merge_late``), after pytest wrote it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        extra = report.__dict__
        if extra.get("pexen_late"):
            junit_merge_late(self.config, report)
        elif "pexen_timeout" in extra and str(report.when) == "???":
            junit_crash_failed(self.config, report)


class DistPlugin(HooksOnly):
    """Registered in the xdist controller when pexen schedules."""

    def __init__(self, config: pytest.Config) -> None:
        # made with the scheduler, whose module is imported when xdist asks
        # for it (the workers are starting then), not here, before they start;
        # the durations of earlier runs are read then too
        self.outcomes: Outcomes | None = None
        self.durations: dict[str, float] = {}
        self.config = config
        self.scheduler: PexenScheduling | None = None
        warn_open_gateways(config)
        # registered now, before pytest's own plugins' cleanups (pexen's
        # configure runs first), so it runs after them: pytest's last
        # garbage collection (unraisableexception) still skips what the
        # scheduler froze for the run (GraphScheduling._freeze)
        config.add_cleanup(self._unfreeze)
        if getattr(config.option, "xmlpath", None):  # pytest's --junitxml
            config.pluginmanager.register(LateJunit(config), "pexen-late-junit")

    def _unfreeze(self) -> None:
        if self.scheduler is not None and self.scheduler.graph.frozen:
            self.scheduler.graph.frozen = False
            gc.unfreeze()

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> PexenScheduling:
        from ..internals import no_socket_clones
        from .scheduler import GraphScheduling, Outcomes, PexenScheduling

        no_socket_clones(config)
        cache = getattr(config, "cache", None)
        self.durations = durations(cache.get(DURATIONS_KEY, {}) if cache is not None else {})
        self.outcomes = outcomes = Outcomes()
        graph = GraphScheduling(config, log, outcomes, self.durations)
        self.scheduler = PexenScheduling(graph)
        config.hook.pytest_pexen_xdist_scheduler(scheduler=self.scheduler)
        return self.scheduler

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        if self.outcomes is not None:  # None: another plugin made the scheduler
            self.outcomes.started[nodeid] = real_time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcomes = self.outcomes
        if outcomes is not None:
            outcomes.record(report)
            # a phase ended (a subtest's report is within its test's call,
            # which a crash report takes the time of: see handlecrashitem)
            if report.nodeid in outcomes.started and not is_subtest(report):
                outcomes.started[report.nodeid] = real_time()
        if str(report.when) == "???" and self.scheduler is not None:  # xdist's crash report
            self.scheduler.crash_reported(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport) -> None:
        """xdist's report of a test whose worker died says it took no time:
        it ran from its last phase's end (or its start) until the controller
        heard of the death. Set before any plugin reads the report, so the
        terminal, both xUnit reports and the journal agree."""
        began = self.outcomes.started.get(crashitem) if self.outcomes is not None else None
        if began is not None and not report.duration:
            report.duration = max(0.0, real_time() - began)

    def pytest_sessionfinish(self) -> None:
        """Keep the durations for the next run's ranking; not for a suite
        handed to xdist's ``load``, which ranks nothing."""
        cache = getattr(self.config, "cache", None)
        handed = self.scheduler is not None and self.scheduler.handed
        if cache is not None and self.durations and not handed:
            # a cache that cannot be written (a read-only checkout) is said
            # once, by the journal's warning or pytest's own; durations not
            # kept only cost the next run its ranking
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pytest.PytestCacheWarning)
                cache.set(DURATIONS_KEY, self.durations)


def durations(saved: object) -> dict[str, float]:
    """The durations an earlier run kept in pytest's cache, without what is
    not a test's duration in seconds: the cache is a file anyone may edit
    or break, and it must not break the run."""
    if not isinstance(saved, dict):
        return {}
    return {
        key: float(value)
        for key, value in saved.items()
        if isinstance(key, str)
        and type(value) in (int, float)
        and math.isfinite(value)
        and value >= 0
    }


def configure_node(node: Any) -> None:
    """Tell each worker how the controller distributes, and whether the
    controller kills it when a test will not stop (a local worker under
    pexen's scheduling)."""
    dist = node.config.getoption("dist")
    node.workerinput["pexen_dist"] = dist
    # for the warning that another mode enforces nothing
    node.workerinput["pexen_own_scheduler"] = node.config.stash.get(OWN_SCHEDULER, False)
    node.workerinput["pexen"] = dist == "pexen"
    node.workerinput["pexen_killable"] = dist == "pexen" and local_pid(node) is not None
    if dist == "pexen":  # a test's last events come in one message (worker.ControllerChannel)
        from .protocol import BATCH

        receive_together(node, BATCH)


OWN_SCHEDULER = pytest.StashKey[bool]()


def own_scheduler(config: pytest.Config) -> bool:
    """Whether the suite brings a scheduler of its own: a conftest (or
    another plugin) that implements ``pytest_xdist_make_scheduler``, which
    under ``-n`` alone xdist asks before making its ``load``. Its scheduler
    is the suite's choice, as an explicit ``--dist`` is. Asked before
    xdist's controller (which implements the hook too) is registered; the
    controller does not collect: its conftests are the initial ones, loaded
    by then."""
    hook = getattr(config.pluginmanager.hook, "pytest_xdist_make_scheduler", None)
    return hook is not None and bool(hook.get_hookimpls())


def choose_dist(config: pytest.Config) -> str | None:
    """Before xdist turns ``-n N`` into ``--dist load``: make it pexen,
    unless the suite has a scheduler of its own (``own_scheduler``).

    A resume is scheduled by pexen whatever ``--dist`` says: xdist's own
    modes send every collected test, so the finished ones would run again
    (and a test that asked for a reboot would ask again, for ever). Returns
    the header line that says so, if the mode was another one. ``each``
    runs every test on every worker: no single journal entry tells whether
    a test is finished there, so its resume is refused."""
    option = config.option
    if getattr(option, "pexen_plan", False):
        option.numprocesses = 0  # the plan is computed and shown serially
        return None
    distributed = getattr(option, "numprocesses", None) or getattr(option, "tx", None)
    mode = "load" if getattr(option, "distload", False) else getattr(option, "dist", "no")
    if not distributed or mode == "pexen":
        return None
    if mode == "no":  # without -n, --tx alone does not distribute
        if not getattr(option, "numprocesses", None):
            return None
        config.stash[OWN_SCHEDULER] = own = own_scheduler(config)  # for configure_node
        if not own:
            option.dist = "pexen"
            return None
        mode = "load with the conftest's scheduler"
    if not getattr(option, "pexen_resume", False):
        return None
    if mode == "each":
        raise pytest.UsageError(
            "pexen: --pexen-resume cannot continue a --dist each run (every worker "
            "runs every test); resume it serially or with --dist pexen"
        )
    option.dist, option.distload = "pexen", False
    line = (
        f"pexen: --pexen-resume is scheduled by pexen (--dist pexen), not --dist {mode}: "
        "xdist's scheduler would send the tests that finished before again"
    )
    if mode not in ("load", "worksteal"):  # the tests it kept together may now overlap
        line += "; its grouping of tests does not hold in this boot"
    return line
