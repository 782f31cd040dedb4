"""The pytest hooks that turn the collection into a task graph and enforce it.

At collection: read each test's metadata, resolve requirements, pull in
deselected providers, stop with a usage error (exit 4) on a missing provider,
a cycle or a malformed marker, and put the tests in a stable topological
order. At run time (in this process): skip a test whose providers did not
pass, tell the planner how each test ended, hand shared state on.

A suite that uses no pexen metadata is left exactly as collected.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import warnings
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..internals import HooksOnly, collect_cached, forks_tests
from ..sched.errors import DepcheckError, MutexError, PexenWarning
from ..sched.meta import READ_TAGS, SchedMeta
from .items import MetaError, build_meta
from .runtime import RUN_KEY, GraphRun
from .shared import SHARED_KEY, initial_shared

if TYPE_CHECKING:
    from . import taskgraph
    from .hookspecs import GraphRelations
    from .taskgraph import GraphSpec


class _Unfiltered(HooksOnly):
    """Under ``--lf``: each file's tests as collected, before the ``--lf``
    collect wrapper drops those that did not fail, which are the very
    providers a pull-in may need. Innermost wrapper (trylast), so it sees
    the result before that filter does."""

    def __init__(self) -> None:
        self.full: dict[pytest.Collector, list[pytest.Item | pytest.Collector]] = {}

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        if isinstance(collector, pytest.File) and report.passed:
            self.full[collector] = list(report.result)
        return report


class _LastWord(HooksOnly):
    """The outermost ``pytest_collection_modifyitems`` wrapper (registered
    at the start of the collection): its code after the ``yield`` sees the
    final list of tests."""

    def __init__(self, graph: GraphPlugin) -> None:
        self.graph = graph

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, items: list[pytest.Item]
    ) -> Generator[None]:
        yield
        self.graph.collection_modified(session, items)


class GraphPlugin(HooksOnly):
    """Collection-time planning and run-time enforcement for one session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.deselected: list[pytest.Item] = []
        self.graph: taskgraph.TestGraph | None = None
        self.order: list[pytest.Item] = []  # the planned order, under --pexen-plan
        self.compat: GraphRelations | None = None  # pytest-dependency / pytest-order markers
        workerinput = getattr(config, "workerinput", None)
        # on an xdist worker: is the controller scheduling with pexen?
        self.in_worker = workerinput is not None
        self.controlled = bool(workerinput and workerinput.get("pexen"))
        self.error: str | None = None
        self.exit: tuple[str, int | None] | None = None  # pytest.exit() on a worker
        self.notes: list[str] = []  # header lines besides the pull-in's
        self.last_word = _LastWord(self)
        self.unfiltered: _Unfiltered | None = None
        if config.getoption("lf", False) and not config.getoption("pexen_no_pull"):
            self.unfiltered = _Unfiltered()
            config.pluginmanager.register(self.unfiltered, "pexen-unfiltered")
        config.stash[SHARED_KEY] = initial_shared(config)

    # ------------------------------------------------------------ collection
    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.extend(items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self) -> None:
        """Plan after every other plugin has filtered and sorted, whatever
        their options: the outermost ``pytest_collection_modifyitems``
        wrapper is the one registered last, so it is registered now, after
        the plugins that register theirs at configure time (pytest-order
        does, as a wrapper with ``--order-after-ff``)."""
        if not self.config.pluginmanager.is_registered(self.last_word):
            self.config.pluginmanager.register(self.last_word, "pexen-last-word")

    def collection_modified(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """The tests as every plugin left them: plan them."""
        from ..sched.gcpause import gc_paused

        config = self.config
        # planning a large suite allocates only what lives on (metadata,
        # graph, planner): the collections it triggers free nothing and one
        # full pass walks all of pytest's nodes (0.1 s at 20,000 tests)
        try:
            with gc_paused(lambda: self.graph is not None):
                self._plan(session, items)
        except pytest.exit.Exception as exc:  # pytest.exit() in a pytest_pexen_task hook
            if not self.controlled:
                raise
            # an exception out of a worker's collection breaks xdist: the
            # controller stops the run with the same message and code
            self.exit = (str(exc.msg), exc.returncode)
            self.error = f"pexen: {exc.msg}"
        except pytest.UsageError as exc:
            if self.controlled:
                self.error = str(exc)  # the controller reports it and stops the run
            elif self.in_worker:  # another --dist mode: nothing is enforced anyway
                self._record_warning(f"{exc} (not enforced under --dist {self._other_dist()})")
            else:
                raise
        if self.controlled and self.graph is not None and RUN_KEY not in config.stash:
            # without metadata, xdist's own load scheduler runs the suite
            self._start_run(GraphRun(None, config.stash[SHARED_KEY]), [], items)

    def _start_run(
        self, run: GraphRun, planned: list[pytest.Item], items: list[pytest.Item]
    ) -> None:
        config = self.config
        config.stash[RUN_KEY] = run
        run.register(config.pluginmanager, planned, forks_tests(config, items))

    @property
    def run(self) -> GraphRun | None:
        return self.config.stash.get(RUN_KEY, None)

    def spec_for_controller(self, items: list[pytest.Item]) -> GraphSpec | None:
        """The graph for an xdist controller (None after an error)."""
        if self.error is not None:
            return None
        if self.graph is not None:
            return self.graph.spec()
        return plain_spec([i.nodeid for i in items])

    def _metas(
        self,
        items: list[pytest.Item],
        nodeids: list[str],
        metas: dict[str, SchedMeta],
        limits: dict[str | None, int | None],
        errors: list[str],
    ) -> None:
        """The metadata of each test (``nodeids``: theirs) not in ``metas`` yet."""
        hooked = bool(self.config.pluginmanager.hook.pytest_pexen_task.get_hookimpls())
        cache: dict[int, list[pytest.Mark]] = {}
        for item, nodeid in zip(items, nodeids, strict=True):
            if nodeid in metas:
                continue
            try:
                meta, workers = build_meta(item, hooked, cache)
            except MetaError as exc:
                errors.append(str(exc))
                continue
            metas[nodeid] = meta
            if workers is not None:
                old = limits.get(meta.group)
                limits[meta.group] = workers if old is None else min(old, workers)

    def _plan(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        config = self.config
        metas: dict[str, SchedMeta] = {}
        limits: dict[str | None, int | None] = {}
        errors: list[str] = []
        ids = [item.nodeid for item in items]  # read once (see TestGraph.nodeids)
        self._metas(items, ids, metas, limits, errors)
        if errors:
            raise _bad_metadata(errors)
        self.compat = compat = config.hook.pytest_pexen_relations(config=config, items=items)
        if compat is None and not any(_uses_pexen(metas[nodeid]) for nodeid in ids):
            if config.getoption("pexen_graph"):  # asked for: the tests, no edges
                from . import taskgraph

                self._write_graph(taskgraph.build(items, ids, [], [], metas, limits))
            return  # invisible when unused: pytest's own order, no planner
        from . import taskgraph

        pull = not config.getoption("pexen_no_pull")
        candidates: list[pytest.Item] = []
        candidate_ids: list[str] = []
        for item in self.deselected:
            nodeid = item.nodeid
            if nodeid not in metas:
                candidates.append(item)
                candidate_ids.append(nodeid)
        self._metas(candidates, candidate_ids, metas, limits, errors)
        if errors:  # a deselected test's too: it may be the provider pulled in
            raise _bad_metadata(errors)
        try:
            graph = taskgraph.build(items, ids, candidates, candidate_ids, metas, limits, pull)
            # a node-id selection (or --lf) leaves tests uncollected: look for
            # missing providers in the selected tests' modules, then the tree
            # (with pulling off too: their dependents are skipped, not errors)
            for more in (self._siblings, self._tree):
                if not graph.unresolved:
                    break
                seen = {*ids, *candidate_ids}
                extra = [(i, nodeid) for i in more(items) if (nodeid := i.nodeid) not in seen]
                extra_items, extra_ids = [i for i, _ in extra], [n for _, n in extra]
                self._metas(extra_items, extra_ids, metas, limits, errors)
                if errors:
                    raise _bad_metadata(errors)
                candidates += extra_items
                candidate_ids += extra_ids
                graph = taskgraph.build(items, ids, candidates, candidate_ids, metas, limits, pull)
            if compat is not None:
                compat.apply(graph)
            # under --dist pexen the controller plans (and checks) the graph;
            # its workers only need the tests, in collection order
            planner = (
                None
                if self.controlled
                else graph.planner(missing=config.getoption("pexen_missing"))
            )
        except (DepcheckError, MutexError, ValueError) as exc:
            raise pytest.UsageError(f"pexen: {exc}") from None
        self.graph = graph
        order = graph.items if planner is None else graph.order(planner)
        items[:] = order
        if config.getoption("pexen_plan"):  # kept only to be shown: a large suite's list
            self.order = order
        if graph.pulled:
            self._undeselect({p.item.nodeid for p in graph.pulled})
        if config.getoption("pexen_graph"):
            self._write_graph(graph)
        if self.in_worker:
            if not self.controlled and any(_uses_pexen(m) for m in metas.values()):
                self._warn_not_enforced()
            return  # the controller decides at run time (or nobody does)
        assert planner is not None
        from .host_tags import serial_skips

        run = GraphRun(planner, config.stash[SHARED_KEY], serial_skips(config, graph))
        self._start_run(run, order, order)

    def _write_graph(self, graph: taskgraph.TestGraph) -> None:
        """``--pexen-graph``: written by the first xdist worker only (every
        worker has the same graph), announced under "collected"."""
        from .views import write_dot

        dot = self.config.getoption("pexen_graph")
        first_worker = not self.in_worker or (self.config.workerinput.get("workerid") == "gw0")  # type: ignore[attr-defined]
        if first_worker:
            try:
                write_dot(graph, Path(dot))
            except OSError as exc:
                raise pytest.UsageError(
                    f"pexen: cannot write --pexen-graph={dot}: {exc.strerror or exc}"
                ) from None
        self.notes.append(f"pexen: dependency graph written to {dot}")

    def _warn_not_enforced(self) -> None:
        """Another --dist mode: say once (from the first worker) that the
        pexen metadata of the suite is not enforced (pytest-dependency's and
        pytest-order's markers alone are not pexen's to warn about)."""
        own = self.config.workerinput.get("pexen_own_scheduler")  # type: ignore[attr-defined]
        self._record_warning(
            f"pexen: --dist {self._other_dist()} does not enforce pexen ordering and locks; "
            f"use --dist pexen{'' if own else ' (the default with -n)'}"
        )

    def _other_dist(self) -> str:
        """How the warnings name the controller's --dist mode (a worker's)."""
        workerinput = self.config.workerinput  # type: ignore[attr-defined]
        dist = str(workerinput.get("pexen_dist"))
        if workerinput.get("pexen_own_scheduler"):
            return f"{dist} with the conftest's scheduler"
        return dist

    def _record_warning(self, text: str) -> None:
        """Record a PexenWarning once (first worker). Not raised: a raised
        one would break the worker's collection and with it the whole run.
        The warning filters apply: where they make it an error (``-W
        error``), it is a collection error instead, in one line, as a
        module's warning is; where they ignore it, nothing is said."""
        if self.config.workerinput.get("workerid") != "gw0":  # type: ignore[attr-defined]
            return
        message = PexenWarning(text)
        action = _filtered(message)
        if action == "error":
            report = pytest.CollectReport("", "failed", text, [])
            self.config.hook.pytest_collectreport(report=report)
            return
        if action == "ignore":
            return
        record = warnings.WarningMessage(message, PexenWarning, __file__, 0)
        self.config.hook.pytest_warning_recorded.call_historic(
            kwargs={"warning_message": record, "when": "collect", "nodeid": "", "location": None}
        )

    def _siblings(self, items: list[pytest.Item]) -> list[pytest.Item]:
        """Every test of the selected tests' modules."""
        modules = {id(m): m for item in items if (m := item.getparent(pytest.Module))}
        return [i for module in modules.values() for i in self._all_items(module)]

    def _tree(self, items: list[pytest.Item]) -> list[pytest.Item]:
        """Every test under ``testpaths`` (or the rootdir); only when a
        requirement is still not met, so it is rarely paid."""
        config = self.config
        roots = [config.rootpath / p for p in config.getini("testpaths")] or [config.rootpath]
        out: list[pytest.Item] = []
        for root in roots:
            node = self._directory(root, items) if items and root.is_dir() else None
            if node is not None:
                out.extend(self._all_items(node))
        return out

    def _directory(self, path: Path, items: list[pytest.Item]) -> pytest.Collector | None:
        """The session's own collector of the folder ``path``, reached from
        a folder the selected tests are in, so that the conftest fixtures
        registered on it apply (pytest >= 9.1 registers them on the node,
        and a second node of a package would set its fixtures up twice).
        A folder above every selected test is made afresh, as pytest makes
        one for a path on the command line. None if collection ignores it."""
        known: dict[Path, pytest.Collector] = {}
        for parent in {id(i.parent): i.parent for i in items if i.parent is not None}.values():
            for node in parent.listchain():
                if isinstance(node, pytest.Directory):
                    known.setdefault(node.path, node)
        found = next((known[p] for p in (path, *path.parents) if p in known), None)
        if found is None:
            session = items[0].session
            made: pytest.Collector | None = session.ihook.pytest_collect_directory(
                path=path, parent=session
            )
            return made
        while found is not None and found.path != path:
            found = next(
                (
                    c
                    for c in self._children(found)
                    if isinstance(c, pytest.Directory)
                    and (c.path == path or c.path in path.parents)
                ),
                None,
            )
        return found

    def _all_items(self, collector: pytest.Collector) -> list[pytest.Item]:
        """Every test below a collector (to find providers that a node-id
        selection or --lf left out of the session)."""
        out: list[pytest.Item] = []
        for node in self._children(collector):
            if isinstance(node, pytest.Item):
                out.append(node)
            elif isinstance(node, pytest.Collector):
                out.extend(self._all_items(node))
        return out

    def _children(self, collector: pytest.Collector) -> list[pytest.Item | pytest.Collector]:
        """What a collector holds, through the session's own cached collect
        step (``internals.collect_cached``, what pytest's genitems uses): a
        folder or module the session already collected gives back the very
        nodes it made, so the fixtures registered on them (conftest,
        package, module, autouse) are shared as in a normal collection; a new
        folder loads its conftests as usual. Under --lf a file gets all its
        tests back (see _Unfiltered), or is read now if --lf skipped it
        unread. What fails to collect is left out: it could not run anyway,
        and pytest reports it where it is selected."""
        report = collect_cached(collector)
        result = report.result if report.passed else []
        if self.unfiltered is None or not isinstance(collector, pytest.File):
            return result
        full = self.unfiltered.full.get(collector)
        if not full:
            try:
                full = self.unfiltered.full[collector] = list(collector.collect())
            except Exception:
                return []
        return full

    def _undeselect(self, nodeids: set[str]) -> None:
        """Pulled-in tests run, so they no longer count as deselected."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        stats = reporter.stats.get("deselected")
        if stats:
            stats[:] = [i for i in stats if getattr(i, "nodeid", None) not in nodeids]
            if not stats:
                del reporter.stats["deselected"]

    def header_lines(self) -> list[str]:
        """What pexen says under "collected" (sent on by xdist workers): the
        pulled-in providers, where the graph went."""
        if self.graph is None:
            return self.notes
        from . import taskgraph

        deselected = {item.nodeid for item in self.deselected}
        return taskgraph.describe_pulled(self.graph, deselected) + self.notes

    def pytest_report_collectionfinish(self) -> list[str]:
        run = self.config.stash.get(RUN_KEY, None)
        if (
            self.graph is not None
            and self.config.getoption("pexen_plan")
            and run is not None
            and run.planner is not None
        ):
            from .views import plan_lines

            return plan_lines(self.graph, self.order, run.planner) + self.header_lines()
        return self.header_lines()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.config.getoption("pexen_plan"):
            if self.graph is None:
                reporter = self.config.pluginmanager.get_plugin("terminalreporter")
                if reporter is not None:
                    reporter.write_line("pexen plan: no pexen metadata; pytest's own order:")
                    for n, item in enumerate(session.items, 1):
                        reporter.write_line(f"{n}. {item.nodeid}")
            return True  # the plan is shown, nothing runs
        return None


def plain_spec(nodeids: list[str]) -> GraphSpec:
    """The graph of tests without any pexen metadata: independent tasks
    (made here, not in taskgraph, which imports the planner: an xdist worker
    of a plain suite needs neither)."""
    return {
        "tasks": [[n, [], [], [], [], 0, None] for n in nodeids],
        "groups": [[None, None]],
        "phantoms": {},
    }


def _filtered(message: Warning) -> str:
    """What the warning filters in force (pytest's ``-W`` and
    ``filterwarnings`` during the collection) make of ``message``: "error",
    "ignore" or "show"; nothing is shown here either way."""
    with warnings.catch_warnings(record=True) as shown:
        try:
            warnings.warn(message, stacklevel=1)
        except Warning:
            return "error"
    return "show" if shown else "ignore"


def _bad_metadata(errors: list[str]) -> pytest.UsageError:
    """One line per test with bad metadata, the first three of them: a
    broken conftest hook fails every test below it alike."""
    more = f"\n(and {len(errors) - 3} more tests with bad pexen metadata)" if errors[3:] else ""
    return pytest.UsageError("pexen: " + "\n".join(errors[:3]) + more)


def _uses_pexen(meta: SchedMeta) -> bool:
    """Whether a test has any pexen metadata (its tags as stored: reading
    a ``MarkedMeta``'s attributes would make their sets)."""
    return bool(meta.priority or meta.group is not None or any(read(meta) for read in _READ_ALL))


_READ_ALL = tuple(READ_TAGS.values())
