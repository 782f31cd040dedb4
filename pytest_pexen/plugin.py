"""The pytest entry point (``pytest -p pexen``): options, markers, wiring.

Each capability lives in its own module; this one only registers options,
ini settings, markers and hook specifications, and plugs the capability
objects into the session.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from . import hookspecs
from .compat import plugin as compat
from .graph import hookspecs as graph_hookspecs
from .graph import host_tags
from .graph.plugin import GraphPlugin
from .graph.runtime import pexen_shared, runs_tests
from .internals import add_dist_choice, option_given
from .journal import reboots, resume
from .journal.reboots import pexen_boot_count, pexen_reboot
from .markers import MARKERS
from .results import recorder as results
from .results.recorder import pexen_results
from .watchdog import plugin as timeouts
from .watchdog.settings import hang_path

if TYPE_CHECKING:
    from pathlib import Path

    from .graph.hookspecs import GraphRelations, StoppedBoot
    from .xdist.scheduler import PexenScheduling
    from .xdist.worker import PexenWorker

__all__ = [
    "pexen_boot_count",
    "pexen_reboot",
    "pexen_results",
    "pexen_shared",
    "pytest_cmdline_main",
    "pytest_configure_node",
]

_parser: list[pytest.Parser] = []  # kept to extend options of plugins loaded after us


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)
    pluginmanager.add_hookspecs(graph_hookspecs)
    # the xdist driver's are added where it runs (pytest_configure): a run
    # without xdist never imports the driver


def _add_xdist_hookspecs(config: pytest.Config) -> None:
    from .xdist import hookspecs as xdist_hookspecs

    config.pluginmanager.add_hookspecs(xdist_hookspecs)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, Any, Any]:
    """Before pytest's cache plugin clears the cache (at configure): refuse
    ``--cache-clear --pexen-resume`` while the journal is in the cache. And
    before xdist turns ``-n N`` into ``--dist load``: make it pexen."""
    resume.check_cache_clear(config)
    if getattr(config.option, "numprocesses", None):  # no -n: nothing to choose
        from .xdist.plugin import choose_dist

        choose_dist(config)
    return (yield)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """What each xdist worker is told at its start (xdist hook)."""
    from .xdist.plugin import configure_node

    configure_node(node)
    resume.configure_node(node)
    timeouts.configure_node(node)


def pytest_pexen_relations(
    config: pytest.Config, items: list[pytest.Item]
) -> GraphRelations | None:
    """The graph asks for other plugins' relations: the compat layer's."""
    return compat.derive(config, items)


def pytest_pexen_resumed(session: pytest.Session, ended: dict[str, dict[str, Any]]) -> None:
    """A serial run resumed: pytest-dependency learns how the tests of the
    earlier boots ended (under xdist the compat layer's controller does)."""
    if compat.plugin_loaded(session.config, "pytest_dependency"):
        from .compat.dependency import restore_records

        restore_records(session.items, ended)


def pytest_pexen_sub_results(config: pytest.Config) -> results.Results:
    """An executable test's sub-results go to the results recorder."""
    return results.Results(results.recorder(config))


def pytest_pexen_reboot(config: pytest.Config) -> NoReturn:
    """An executable test asks for a reboot: ``pexen.reboot()``."""
    reboots.reboot()


def pytest_pexen_lost_ends(
    config: pytest.Config, journal: Path, state: StoppedBoot
) -> tuple[list[dict[str, Any]], Path]:
    """A run resumes: the tests the watchdog's last resort stopped, with the
    stacks it left beside the journal."""
    from .watchdog.limits import hang_records

    return hang_records(config, journal, state), hang_path(journal)


@pytest.hookimpl(optionalhook=True)  # its spec comes with the xdist driver
def pytest_pexen_xdist_scheduler(scheduler: PexenScheduling) -> None:
    """The xdist controller's scheduler: the capabilities plug in."""
    resume.attach_scheduler(scheduler)
    timeouts.attach_scheduler(scheduler)
    compat.attach_scheduler(scheduler)


@pytest.hookimpl(optionalhook=True)
def pytest_pexen_xdist_worker(worker: PexenWorker) -> None:
    """A worker's loop under pexen's scheduling: the capabilities plug in."""
    config = worker.config
    # a test asked for a reboot: no test begins here any more
    worker.on_command(reboots.STOP, lambda args: reboots.stop(config, str(args.get("reason"))))
    timeouts.attach_worker(worker)
    compat.attach_worker(worker)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pexen", "pexen: run the suite as a task graph")
    group.addoption(
        "--pexen-no-pull",
        action="store_true",
        dest="pexen_no_pull",
        help="do not pull in deselected providers; skip their dependents instead",
    )
    group.addoption(
        "--pexen-missing",
        choices=("error", "skip"),
        default="error",
        dest="pexen_missing",
        help="a requirement no collected test provides: usage error (default) or "
        "skip the tests that need it",
    )
    group.addoption(
        "--pexen-shared",
        action="append",
        metavar="KEY=VALUE",
        default=[],
        dest="pexen_shared",
        help="initial pexen_shared value: KEY=VALUE a string, KEY:=JSON a JSON value; repeatable",
    )
    group.addoption(
        "--pexen-plan",
        action="store_true",
        dest="pexen_plan",
        help="print the order tests would start in, with their metadata; run nothing",
    )
    group.addoption(
        "--pexen-graph",
        metavar="FILE.dot",
        dest="pexen_graph",
        help="write the dependency graph in Graphviz format",
    )
    group.addoption(
        "--pexen-junitxml",
        metavar="PATH",
        dest="pexen_junitxml",
        help="write an xUnit report with a testcase per test and per sub-result",
    )
    group.addoption(
        "--pexen-exec",
        action="store_true",
        dest="pexen_exec",
        help="collect the executable files of the test tree as tests",
    )
    group.addoption(
        "--pexen-strict-warn",
        action="store_true",
        dest="pexen_strict_warn",
        help="a test with a 'warn' sub-result fails",
    )
    compat.add_options(group, parser)
    host_tags.add_options(group, parser)
    group.addoption(
        "--pexen-state",
        metavar="PATH",
        dest="pexen_state",
        help="the run's journal (default: pexen/state.jsonl in pytest's cache "
        "directory; 'none': no journal)",
    )
    group.addoption(
        "--pexen-fsync",
        default="auto",
        dest="pexen_fsync",
        choices=("auto", "always", "never"),
        help="sync the journal to disk: at most once a second and before a "
        "reboot (auto, default), after every record (always), never",
    )
    group.addoption(
        "--pexen-resume",
        action="store_true",
        dest="pexen_resume",
        help="continue the run in the journal: finished tests are reported again, not run again",
    )
    group.addoption(
        "--pexen-timeline",
        metavar="FILE.html",
        dest="pexen_timeline",
        help="write a page showing which test ran when on which worker, and why "
        "it waited (every boot of a resumed run)",
    )
    group.addoption(
        "--pexen-reboot-cmd",
        metavar="CMD",
        dest="pexen_reboot_cmd",
        help="command that reboots the machine when a test calls pexen.reboot()",
    )
    group.addoption(
        "--pexen-max-reboots",
        type=int,
        default=10,
        metavar="N",
        dest="pexen_max_reboots",
        help="a test asking for more reboots than this fails (default 10)",
    )
    group.addoption(
        "--pexen-timeout",
        metavar="S",
        dest="pexen_timeout",
        help="time limit of each test, setup to teardown, in seconds "
        "(a test's own pexen.timeout() wins)",
    )
    group.addoption(
        "--pexen-session-timeout",
        metavar="S",
        dest="pexen_session_timeout",
        help="time limit of the whole run: after it no test starts, the rest "
        "are reported skipped and the run fails",
    )
    group.addoption(
        "--pexen-timeout-grace",
        metavar="S",
        dest="pexen_timeout_grace",
        help="seconds a test has to return after its limit before pexen stops "
        "its process (default 1)",
    )
    parser.addini(
        "pexen_timeout",
        type="string",
        default="",
        help="--pexen-timeout: time limit of each test, in seconds",
    )
    parser.addini(
        "pexen_session_timeout",
        type="string",
        default="",
        help="--pexen-session-timeout: time limit of the whole run, in seconds",
    )
    parser.addini(
        "pexen_timeout_grace",
        type="string",
        default="",
        help="--pexen-timeout-grace: seconds a test has to return after its limit",
    )
    parser.addini(
        "pexen_state",
        type="string",
        default="",
        help="--pexen-state: path of the journal (relative to this file), or none",
    )
    parser.addini(
        "pexen_reboot_cmd",
        type="string",
        default="",
        help="--pexen-reboot-cmd: command that reboots the machine",
    )
    parser.addini(
        "pexen_shared",
        type="linelist",
        default=[],
        help="initial pexen_shared values, KEY=VALUE (a string) or KEY:=JSON per line",
    )
    parser.addini(
        "pexen_junitxml",
        type="string",
        default="",
        help="--pexen-junitxml: path of the xUnit report (relative to this file)",
    )
    parser.addini(
        "pexen_exec",
        type="bool",
        default=False,
        help="--pexen-exec: collect the executable files of the test tree as tests",
    )
    parser.addini(
        "pexen_timeline",
        type="string",
        default="",
        help="--pexen-timeline: path of the timeline page (relative to this file)",
    )
    parser.addini(
        "pexen_strict_warn",
        type="bool",
        default=False,
        help="--pexen-strict-warn: a test with a 'warn' sub-result fails",
    )
    _parser[:] = [parser]
    add_dist_choice(parser)


def pytest_plugin_registered(plugin: Any, manager: pytest.PytestPluginManager) -> None:
    if _parser and getattr(plugin, "__name__", "") == "xdist.plugin":
        add_dist_choice(_parser[0])


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    graph = GraphPlugin(config)
    config.pluginmanager.register(graph, "pexen-graph")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if workerinput.get("pexen"):
            from .xdist.worker import PexenWorker

            _add_xdist_hookspecs(config)
            config.pluginmanager.register(PexenWorker(config, graph), "pexen-worker")
    else:
        host_tags.given_tags(config)  # a malformed --pexen-host-tags is a usage error at once
        if config.getoption("dist", "no") == "pexen" and config.getoption("tx", None):
            from .xdist.plugin import DistPlugin

            _add_xdist_hookspecs(config)
            config.pluginmanager.register(DistPlugin(config), "pexen-dist")
    resume.configure(config)
    if option_given(config, "pexen_timeline"):
        from .timeline import page as timeline

        timeline.configure(config)
    reboots.configure(config)
    timeouts.configure(config)
    if config.getoption("pexen_exec") or config.getini("pexen_exec"):
        from .exec.items import PLUGIN, ExecPlugin

        config.pluginmanager.register(ExecPlugin(config), PLUGIN)
    results.configure(config)
    if runs_tests(config) and results.report_wanted(config):
        from .results import suite_properties  # it uses the recorder: registered from here

        config.pluginmanager.register(suite_properties, "pexen-suite-properties")
    if workerinput is None and results.report_wanted(config):
        from .graph.outputs import check_writable
        from .results.junit import XunitWriter, report_path

        path = report_path(config)
        assert path is not None
        check_writable(path)
        config.pluginmanager.register(XunitWriter(config, path), "pexen-junitxml")


def pytest_collection_finish(session: pytest.Session) -> None:
    results.collected(session.config, session.items)
    timeouts.collected(session.config, session.items)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    results.terminal_summary(terminalreporter, config)
