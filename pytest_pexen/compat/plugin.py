"""Suites written for pytest-dependency and pytest-order, run by pexen.

Both plugins stay installed and keep doing in every process what they do
in a serial run: pytest-order sorts the tests, pytest-dependency skips a
test whose dependency did not succeed. What they cannot do is keep that
order and those results across xdist workers. pexen reads their markers as
order-only relations between tests (see ``Planner.order_only``): a test
waits until the tests it comes after have ended, however they ended, and
the original plugin then judges, in its own words. The relations are
derived from the order in which the tests reach pexen (after every plugin,
pytest-order included, has sorted them), so they always point backwards:
a serial run keeps exactly that order and those outcomes, and a relation
the plugin could not honour (an unknown name, a cycle) is never made.

Under xdist, the tests of a module that uses these markers run on one
worker, in that order (the state such tests share in the module or class
is then what a serial run gives them); modules run in parallel, held back
only by the relations between them. pytest-dependency's results cross
workers through the controller (compat/xdist.py).

``--pexen-compat`` (ini ``pexen_compat``) chooses the plugins whose markers
are read: ``all`` (default), ``dependency``, ``order`` or ``none``; with
``none`` the plugins work exactly as they do without pexen.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..graph.taskgraph import TestGraph
    from ..xdist.scheduler import PexenScheduling
    from ..xdist.worker import PexenWorker
    from .dependency import DependencyIndex, WorkerResults
    from .relations import Relations

MODES = ("all", "dependency", "order", "none")


def add_options(group: pytest.OptionGroup, parser: pytest.Parser) -> None:
    group.addoption(
        "--pexen-compat",
        choices=MODES,
        default=None,
        dest="pexen_compat",
        help="read the markers of pytest-dependency and pytest-order (all, the "
        "default), of one of them, or none",
    )
    parser.addini(
        "pexen_compat",
        type="string",
        default="all",
        help="--pexen-compat: all, dependency, order or none",
    )


def _mode(config: pytest.Config) -> str:
    mode = config.getoption("pexen_compat", None) or config.getini("pexen_compat").strip()
    if mode not in MODES:
        raise pytest.UsageError(
            f"pexen: ini option pexen_compat must be one of {', '.join(MODES)}, not {mode!r}"
        )
    return str(mode)


def plugin_loaded(config: pytest.Config, module: str) -> bool:
    """Whether the plugin module is registered (by its entry point or
    ``-p``): its markers mean nothing otherwise."""
    return any(getattr(p, "__name__", None) == module for p in config.pluginmanager.get_plugins())


class Compat:
    """The relations read from the markers, and what a worker needs at run
    time (pytest-dependency's names, for ``depends()``). A plain class: a
    dataclass is compiled when its module is imported, in every pytest
    process, and this one is rarely used."""

    __slots__ = ("dependency", "relations")

    def __init__(self, relations: Relations, dependency: DependencyIndex | None) -> None:
        self.relations = relations
        self.dependency = dependency

    def apply(self, graph: TestGraph) -> None:
        """Add the relations to the graph, as order-only tags."""
        rel = self.relations
        tags: set[str] = set()
        for nodeid, after in rel.after.items():
            graph.requires[nodeid] = (*graph.requires[nodeid], *after)
            tags.update(after)
        for nodeid, ends in rel.ends.items():
            graph.provides[nodeid] = tuple(sorted(set(graph.provides[nodeid]).union(ends)))
        graph.order_only = sorted(tags)
        graph.pins = dict(rel.pins)
        graph.notes = rel.notes
        graph.dependency = self.dependency is not None
        graph.order_groups()


def derive(config: pytest.Config, items: list[pytest.Item]) -> Compat | None:
    """The relations the plugins' markers put on ``items`` (in the order they
    will run), or None when neither plugin is in play: then nothing changes."""
    mode = _mode(config)
    dependency = mode in ("all", "dependency") and plugin_loaded(config, "pytest_dependency")
    order = mode in ("all", "order") and plugin_loaded(config, "pytest_order.plugin")
    if not (dependency or order) or not items:
        return None
    if not _in_use(config, items, dependency, order):
        return None
    from .relations import Relations

    relations = Relations()
    index = None
    used = False
    if dependency:
        from . import dependency as compat_dependency

        index = compat_dependency.read(config, items, relations)
        used = index is not None
    if order:
        from . import order as compat_order

        used = compat_order.read(config, items, relations) or used
    if not used:
        return None
    _keep_together(items, relations)
    return Compat(relations, index)


def _in_use(config: pytest.Config, items: list[pytest.Item], dependency: bool, order: bool) -> bool:
    """Whether the plugins' markers may ask anything of ``items``: one pass
    over the tests for both markers (the readers each make their own pass
    only then), or a setting that applies without markers."""
    if dependency and config.getini("automark_dependency"):
        return True
    if order and config.getoption("order_marker_prefix", None):
        return True
    from .relations import marked

    names = (*(("dependency",) if dependency else ()), *(("order",) if order else ()))
    cache: dict[int, bool] = {}
    return any(marked(item, names, cache) for item in items)


def _keep_together(items: list[pytest.Item], relations: Relations) -> None:
    """The tests of each pinned module follow one another in run order, on
    one worker: what they share in the module (globals, class attributes,
    module fixtures) is then what a serial run gives them."""
    previous: dict[str, str] = {}
    for item in items:
        nodeid = item.nodeid
        module = nodeid.partition("::")[0]
        if module not in relations.pinned:
            continue
        relations.pins[nodeid] = module
        before = previous.get(module)
        if before is not None:
            relations.follow(before, nodeid)
        previous[module] = nodeid


def attach_scheduler(scheduler: PexenScheduling) -> None:
    """The xdist controller: once the plan is made, a suite with
    pytest-dependency or pytest-order relations gets its placement
    (compat/xdist.py, imported only then: other runs never load it)."""
    sched = scheduler.graph

    def planned(spec: dict[str, Any]) -> None:
        if "pins" in spec or "order_only" in spec or "dependency" in spec:
            from .xdist import control

            control(sched, spec)

    sched.listeners.on_planned(planned)


def attach_worker(worker: PexenWorker) -> None:
    """An xdist worker whose suite uses pytest-dependency: its lookups are
    wrapped for the session (compat/xdist.py, imported only then), fed by the
    controller's ``pexen_phases`` commands."""
    results: list[WorkerResults] = []  # set when the loop starts

    def start() -> None:
        compat = worker.graph_source.compat
        if compat is not None and compat.dependency is not None:
            from .xdist import start_worker

            results.append(start_worker(worker, compat.dependency))

    def learn(args: dict[str, Any]) -> None:
        # outcomes of tests that ended elsewhere: known before the tests
        # sent next can look them up
        if results:
            results[0].learn(args["phases"])

    def end() -> None:
        if results:
            results[0].uninstall()

    worker.on_command("pexen_phases", learn)
    worker.on_loop(start, end)
