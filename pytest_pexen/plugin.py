"""The pytest entry point (``pytest -p pexen``): options, markers, wiring.

Each capability lives in its own module; this one only registers options,
ini settings, markers and hook specifications, and plugs the capability
objects into the session.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Generator
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from . import hookspecs
from .compat import plugin as compat
from .graph import hookspecs as graph_hookspecs
from .graph import host_tags
from .graph.keys import RECORDER
from .graph.plugin import GraphPlugin
from .graph.runtime import pexen_shared, runs_tests
from .internals import HooksOnly, add_dist_choice, module_dir, option_given
from .journal import reboots
from .journal.reboots import pexen_boot_count, pexen_reboot
from .markers import MARKERS
from .watchdog import plugin as timeouts
from .watchdog.settings import hang_path

if TYPE_CHECKING:
    from pathlib import Path

    from .graph.hookspecs import GraphRelations, StoppedBoot
    from .results.recorder import Results
    from .xdist.scheduler import PexenScheduling
    from .xdist.worker import PexenWorker

__all__ = [
    "pexen_boot_count",
    "pexen_reboot",
    "pexen_results",
    "pexen_shared",
    "pytest_cmdline_main",
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
    if getattr(config.option, "pexen_resume", False):
        from .journal import resume

        resume.check_cache_clear(config)
    if getattr(config.option, "numprocesses", None) or getattr(config.option, "tx", None):
        from .xdist.plugin import choose_dist

        note = choose_dist(config)
        if note is not None:
            config.pluginmanager.register(_HeaderLine(note), "pexen-dist-note")
    return (yield)


class _HeaderLine(HooksOnly):
    """One line at the start of the run, under ``-q`` too (registered only
    when there is one)."""

    def __init__(self, line: str) -> None:
        self.line = line

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(self.line)


def pytest_pexen_relations(
    config: pytest.Config, items: list[pytest.Item]
) -> GraphRelations | None:
    """The graph asks for other plugins' relations: the compat layer's."""
    return compat.derive(config, items)


# The hooks below are registered only by a run that can call them: each
# hook implementation registered costs every pytest process time (pluggy
# inspects and checks it), and most runs resume nothing, run no
# executable test and start no xdist worker.


class _ResumeHooks(HooksOnly):
    """What a resumed run asks of other capabilities (``--pexen-resume``)."""

    def pytest_pexen_resumed(
        self, session: pytest.Session, ended: dict[str, dict[str, Any]]
    ) -> None:
        """A serial run resumed: pytest-dependency learns how the tests of the
        earlier boots ended (under xdist the compat layer's controller does)."""
        if compat.plugin_loaded(session.config, "pytest_dependency"):
            from .compat.dependency import restore_records

            restore_records(session.items, ended)

    def pytest_pexen_lost_ends(
        self, config: pytest.Config, journal: Path, state: StoppedBoot
    ) -> tuple[list[dict[str, Any]], Path]:
        """A run resumes: the tests the watchdog's last resort stopped, with the
        stacks it left beside the journal."""
        from .watchdog.limits import hang_records

        return hang_records(config, journal, state), hang_path(journal)


class _ExecHooks(HooksOnly):
    """What executable tests (``--pexen-exec``) ask of other capabilities."""

    def pytest_pexen_sub_results(self, config: pytest.Config) -> Results:
        """An executable test's sub-results go to the results recorder."""
        from .results import recorder

        return recorder.Results(recorder.recorder(config))

    def pytest_pexen_reboot(self, config: pytest.Config) -> NoReturn:
        """An executable test asks for a reboot: ``pexen.reboot()``."""
        reboots.reboot()


class _XdistHooks(HooksOnly):
    """An xdist controller's and a pexen-scheduled worker's hooks (the
    specifications of pexen's own come with the driver: optional here)."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """What each xdist worker is told at its start (xdist hook)."""
        from .journal import resume
        from .xdist.plugin import configure_node

        configure_node(node)
        resume.configure_node(node)
        timeouts.configure_node(node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_pexen_xdist_scheduler(self, scheduler: PexenScheduling) -> None:
        """The xdist controller's scheduler: the capabilities plug in."""
        from .journal import resume

        resume.attach_scheduler(scheduler)
        timeouts.attach_scheduler(scheduler)
        compat.attach_scheduler(scheduler)

    @pytest.hookimpl(optionalhook=True)
    def pytest_pexen_xdist_worker(self, worker: PexenWorker) -> None:
        """A worker's loop under pexen's scheduling: the capabilities plug in."""
        config = worker.config
        # a test asked for a reboot: no test begins here any more
        worker.on_command(reboots.STOP, lambda args: reboots.stop(config, str(args.get("reason"))))
        # the journal lost records: a reboot could not resume any more
        worker.on_command(reboots.UNJOURNALED, lambda args: reboots.unjournaled())
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
    # called for every plugin registered (a hundred a run): most are objects
    # without ``__name__``, whose failed lookup would raise inside getattr
    if _parser and isinstance(plugin, ModuleType) and plugin.__name__ == "xdist.plugin":
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
            config.pluginmanager.register(_XdistHooks(), "pexen-xdist-hooks")
            config.pluginmanager.register(PexenWorker(config, graph), "pexen-worker")
    else:
        host_tags.given_tags(config)  # a malformed --pexen-host-tags is a usage error at once
        if config.getoption("dist", "no") != "no":  # xdist's controller
            config.pluginmanager.register(_XdistHooks(), "pexen-xdist-hooks")
        if config.getoption("dist", "no") == "pexen" and config.getoption("tx", None):
            from .xdist.plugin import DistPlugin

            _add_xdist_hookspecs(config)
            config.pluginmanager.register(DistPlugin(config), "pexen-dist")
    if config.getoption("pexen_resume"):
        config.pluginmanager.register(_ResumeHooks(), "pexen-resume-hooks")
    if workerinput is None:  # xdist workers never journal
        from .journal import resume

        resume.configure(config)
    if option_given(config, "pexen_timeline"):
        from .timeline import page as timeline

        timeline.configure(config)
    reboots.configure(config)
    timeouts.configure(config)
    if config.getoption("pexen_exec") or config.getini("pexen_exec"):
        from .exec.items import PLUGIN, ExecPlugin

        config.pluginmanager.register(ExecPlugin(config), PLUGIN)
        config.pluginmanager.register(_ExecHooks(), "pexen-exec-hooks")
    # the results capability: records from the start of a run that asks for
    # its report or strict warnings, else from when a collected test uses
    # its fixture (pytest_collection_finish); imported only then
    report = option_given(config, "pexen_junitxml")
    if runs_tests(config) and (report or option_given(config, "pexen_strict_warn")):
        from .results.recorder import recorder

        recorder(config)
        if report:
            from .results import suite_properties  # it uses the recorder: registered from here

            config.pluginmanager.register(suite_properties, "pexen-suite-properties")
    if workerinput is None and report:
        from .graph.outputs import check_writable
        from .results.junit import XunitWriter, report_path

        path = report_path(config)
        assert path is not None
        check_writable(path)
        config.pluginmanager.register(XunitWriter(config, path), "pexen-junitxml")


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if not config.pluginmanager.has_plugin(RECORDER) and not config.getoption("collectonly"):
        # record sub-results from now on if a test uses them (a look at each
        # test's fixture names, once; a plain loop: no generator per test)
        for item in session.items:
            names = getattr(item, "fixturenames", ())
            if "pexen_results" in names or "subtests" in names:
                from .results.recorder import recorder

                recorder(config)
                break
    timeouts.collected(session.config, session.items)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if config.pluginmanager.has_plugin(RECORDER) or not runs_tests(config):
        # sub-results were recorded here, or an xdist controller looks at its reports
        from .results.recorder import terminal_summary

        terminal_summary(terminalreporter, config)


@pytest.fixture(scope="session")
def pexen_results(request: pytest.FixtureRequest) -> Results:
    """Several results per test: ``add(outcome, name, message)``, ``info``,
    ``warn``, ``fail`` (soft). Goes to the test running now."""
    from .results.recorder import fixture_value

    return fixture_value(request)


# pytest looks at every name of a plugin module (see HooksOnly): show it the hooks and fixtures
__dir__ = module_dir(globals(), __all__)
