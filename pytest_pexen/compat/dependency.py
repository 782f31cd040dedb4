"""pytest-dependency under pexen: its markers as order-only relations, its
results across xdist workers.

pytest-dependency records the phase outcomes of each test it knows (one
marked ``dependency``, or every test with ``automark_dependency``) in a
``DependencyManager`` per scope node (session, package, module, class) of
the process it runs in, under a name per scope: the ``name`` of the
closest marker, else the node id (session, package), the node id without
the module (module) or without module and class (class). At a dependent's
setup, and in ``depends(request, names)``, it skips unless each name's
record shows setup, call and teardown passed. So it judges right only in
one process that ran the dependency before.

pexen leaves the judging to it (its words, its options such as
``--ignore-unknown-dependency``) and supplies what it lacks:

* the order: a test marked with ``depends`` comes after the test each name
  resolves to, which is the last test recorded under that name in that scope
  before it in the run order (the one whose record the plugin reads in a
  serial run). The relation only orders; the plugin still decides.
* under xdist, the records: on a pexen-controlled worker each lookup first
  sets the manager's record of each name to the outcome of the test that
  name resolves to, wherever it ran (``WorkerResults``; the controller's
  side is in compat/xdist.py).
* after ``--pexen-resume``, the records of the tests that ended in an
  earlier boot, from their journaled reports (``journaled_phases``).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

import pytest

from ..graph.items import module_id
from ..internals import HooksOnly, skip_at_test
from .relations import Relations, marked

Key = tuple[str, str, Hashable]  # scope, node id of the scope's node, name
Node = pytest.Item | pytest.Collector


def _scope_classes() -> dict[str, type[Node]]:
    from pytest_dependency import DependencyManager

    classes: dict[str, type[Node]] = DependencyManager.ScopeCls
    return classes


class DependencyIndex:
    """Which test each name resolves to, per scope node, in run order."""

    def __init__(
        self,
        items: list[pytest.Item],
        automark: bool,
        cache: dict[int, bool],
    ) -> None:
        self.items = items
        # each test's place in the run order, by node id: filled by read()
        # only when the plugin is used (a table of every test otherwise)
        self.position: dict[str, int] = {}
        self.scopes = _scope_classes()
        self.recorded: dict[Key, list[int]] = {}
        self.marked: list[int] = []  # tests with a dependency marker
        for n, item in enumerate(items):
            if not marked(item, ("dependency",), cache):
                if not automark:
                    continue
                mark = None
            else:
                mark = item.get_closest_marker("dependency")
                self.marked.append(n)
            for key in self._keys(item, mark):
                try:
                    self.recorded.setdefault(key, []).append(n)
                except TypeError:  # an unhashable name: no lookup can find it
                    break

    def _keys(self, item: pytest.Item, mark: pytest.Mark | None) -> list[Key]:
        """The names the plugin records ``item`` under, per scope node
        (``DependencyManager.addResult``)."""
        name = mark.kwargs.get("name") if mark is not None else None
        nodeid = item.nodeid.replace("::()::", "::")
        parts = nodeid.split("::", 2)
        keys = []
        for scope, cls in self.scopes.items():
            node = item.getparent(cls)
            if node is None:
                continue
            if name:
                key_name = name
            elif scope in ("session", "package"):
                key_name = nodeid
            elif scope == "module" and len(parts) > 1:
                key_name = nodeid.split("::", 1)[1]
            elif scope == "class" and len(parts) > 2:
                key_name = parts[2]
            else:
                continue
            keys.append((scope, node.nodeid, key_name))
        return keys

    def scope_node(self, item: Node, scope: Any) -> Node | None:
        """The node whose manager a lookup in ``scope`` uses (None: the
        plugin itself fails such a lookup, as it would without pexen)."""
        cls = self.scopes.get(scope) if isinstance(scope, str) else None
        return None if cls is None else item.getparent(cls)

    def resolve(self, scope: str, node: Node, name: Any, before: int) -> int | None:
        """The position of the last test recorded under ``name`` in this
        scope node before position ``before`` (None: the name is unknown
        there, and the plugin says so)."""
        try:
            positions = self.recorded.get((scope, node.nodeid, name))
        except TypeError:
            return None
        if not positions:
            return None
        i = bisect_left(positions, before)
        return positions[i - 1] if i else None


def read(
    config: pytest.Config, items: list[pytest.Item], relations: Relations
) -> DependencyIndex | None:
    """Index the names and add the relations of the ``depends`` markers;
    None when no test uses the plugin."""
    automark = bool(config.getini("automark_dependency"))
    cache: dict[int, bool] = {}
    index = DependencyIndex(items, automark, cache)
    if not index.marked and not automark:
        return None
    index.position = {item.nodeid: n for n, item in enumerate(items)}
    ignore = bool(config.getoption("ignore_unknown_dependency", False))
    # every module with a test the plugin records (a bare marker too): its
    # tests may name one another in ``depends()`` at run time, which no
    # marker shows, and share the module's state (module fixtures) as in a
    # serial run only on one worker
    for n in range(len(items)) if automark else index.marked:
        relations.pinned.add(module_id(items[n].nodeid))
    for n in index.marked:
        item = items[n]
        mark = item.get_closest_marker("dependency")
        depends = mark.kwargs.get("depends") if mark is not None else None
        if not depends:
            continue
        scope = mark.kwargs.get("scope", "module") if mark is not None else "module"
        node = index.scope_node(item, scope)
        names = _names(depends)
        if node is None or names is None:
            continue  # pytest-dependency fails the test at its setup, as without pexen
        for name in names:
            found = index.resolve(scope, node, name, n)
            if found is None:
                what = "ignored" if ignore else "pytest-dependency skips it"
                relations.note(item.nodeid, f"depends on {name!r}: not run before it ({what})")
                continue
            dependency = items[found].nodeid
            relations.follow(dependency, item.nodeid)
            relations.note(item.nodeid, f"depends on {name!r}: after {dependency}")
    return index


def _names(depends: Any) -> list[Any] | None:
    """The names as the plugin iterates them (a string is its characters)."""
    try:
        return list(depends)
    except TypeError:
        return None


class WorkerResults(HooksOnly):
    """On a pexen-controlled xdist worker: pytest-dependency's lookups see
    the outcome of the test each name resolves to, wherever it ran.

    ``DependencyManager.checkDepend`` (which both the marker check at setup
    and ``depends()`` call) is wrapped for the worker's session: it first
    sets the manager's record of each name from the outcomes this worker saw
    or was sent, asking the controller for those it lacks (``ask`` blocks
    while they run elsewhere), then lets the plugin judge. A name that
    resolves to no test before the running one is unknown, as in a serial
    run, whatever ran here before.
    """

    def __init__(
        self,
        index: DependencyIndex,
        ask: Callable[[str, list[str]], tuple[dict[str, dict[str, str]], dict[str, str]]],
    ) -> None:
        self.index = index
        self.ask = ask
        self.known: dict[str, dict[str, str]] = {}  # final phase outcomes by node id
        self.phases: dict[str, dict[str, str]] = {}  # of tests running here
        self.current: int | None = None
        self.running = ""
        self.original: Any = None

    def install(self) -> None:
        from pytest_dependency import DependencyManager

        self.original = DependencyManager.checkDepend
        original = self.original
        fill = self.fill

        def check_depend(manager: Any, depends: Any, item: Node) -> None:
            fill(manager, depends, item)
            original(manager, depends, item)

        DependencyManager.checkDepend = check_depend

    def uninstall(self) -> None:
        if self.original is not None:
            from pytest_dependency import DependencyManager

            DependencyManager.checkDepend = self.original
            self.original = None

    def learn(self, phases: dict[str, dict[str, str]]) -> None:
        """Final outcomes sent by the controller."""
        self.known.update(phases)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.current = self.index.position.get(nodeid)
        self.running = nodeid

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        phases = self.phases.setdefault(report.nodeid, {})
        record_phase(phases, report.when, str(report.outcome))
        if report.when in ("teardown", "???") and not getattr(report, "pexen_late", False):
            # "???": the test's process died (pytest-forked's report of a
            # crashed child): no other phase follows
            self.known[report.nodeid] = self.phases.pop(report.nodeid)

    def fill(self, manager: Any, depends: Any, item: Node) -> None:
        index, current = self.index, self.current
        names = _names(depends)
        node = index.scope_node(item, manager.scope)
        if current is None or names is None or node is None:
            return
        wanted: dict[Any, str | None] = {}
        for name in names:
            try:
                hash(name)
            except TypeError:
                continue
            found = index.resolve(manager.scope, node, name, current)
            wanted[name] = None if found is None else index.items[found].nodeid
        missing = sorted({n for n in wanted.values() if n is not None and n not in self.known})
        reasons: dict[str, str] = {}
        if missing:
            sent, reasons = self.ask(self.running, missing)
            self.known.update(sent)
        from pytest_dependency import DependencyItemStatus

        for name, nodeid in wanted.items():
            if nodeid is None:
                manager.results.pop(name, None)
                continue
            phases = self.known.get(nodeid)
            if phases == {}:  # ended with no phase on record: unknown
                manager.results.pop(name, None)
                continue
            if phases is None:
                skip_at_test(f"{item.name} depends on {name} (pexen: {reasons.get(nodeid)})")
            status = DependencyItemStatus()
            status.results.update(phases)
            manager.results[name] = status


def record_phase(phases: dict[str, str], when: str | None, outcome: str) -> None:
    """Keep a phase outcome as pytest-dependency records it; a rerun
    (pytest-rerunfailures) starts the record afresh."""
    if outcome == "rerun":
        phases.clear()
    elif when in ("setup", "call", "teardown"):
        phases[when] = outcome


def journaled_phases(record: dict[str, Any]) -> dict[str, str]:
    """The phase outcomes of a test that ended in an earlier boot, read off
    its journal ``end`` record's reports (a plain passed phase is kept as
    ``[when, duration, start, stop]``); a worker's crash fails its call,
    as when it happens in this boot."""
    phases: dict[str, str] = {}
    for data in record.get("reports") or []:
        if isinstance(data, list) and data:
            record_phase(phases, str(data[0]), "passed")
        elif isinstance(data, dict):
            if data.get("when") == "???":
                phases["call"] = "failed"
            else:
                record_phase(phases, data.get("when"), str(data.get("outcome")))
    return phases


class _Phase(NamedTuple):
    """What ``DependencyItemStatus.addResult`` reads of a report."""

    when: str
    outcome: str


def restore_records(items: list[pytest.Item], ended: dict[str, dict[str, Any]]) -> None:
    """``--pexen-resume``, serially: pytest-dependency's record of the tests
    that ended in an earlier boot, as its ``pytest_runtest_makereport``
    would have kept it had they run in this process, so that their
    dependents after the resume see them instead of an unknown name. In
    the order they ended, as the plugin recorded them: of two tests under
    one name, the later one's record is kept."""
    import pytest_dependency
    from pytest_dependency import DependencyManager

    by_id = {item.nodeid: item for item in items}
    for nodeid, record in ended.items():
        item = by_id.get(nodeid)
        if item is None:
            continue
        marker = item.get_closest_marker("dependency")
        if marker is None and not getattr(pytest_dependency, "_automark", False):
            continue
        name = marker.kwargs.get("name") if marker is not None else None
        for when, outcome in journaled_phases(record).items():
            for scope in DependencyManager.ScopeCls:
                manager = DependencyManager.getManager(item, scope=scope)
                if manager:
                    manager.addResult(item, name, _Phase(when, outcome))
