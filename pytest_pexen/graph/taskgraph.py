"""The selected tests as one task graph for the planner.

This module resolves what a test requires (a tag, a node id, or a name
relative to its module), pulls providers in from the tests that ``-k``,
``-m``, node ids or ``--lf`` left out, orders groups, and builds planners
from the result. It decides nothing about running: that is the planner's.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from ..sched.errors import MutexError
from ..sched.meta import READ_TAGS, SchedMeta
from ..sched.planner import Planner, TaskRow, choose_provider
from .items import base_id, module_id

# a task: [node id, requires, provides, claims, uses, priority, group];
# spec["hosts"] (only when some test has them): node id -> [host claims,
# host uses, host tags]
GraphSpec = dict[str, Any]

# the tag fields as stored (a MarkedMeta's tuples are not made sets)
_REQUIRES, _PROVIDES = READ_TAGS["requires"], READ_TAGS["provides"]
_CLAIMS, _USES = READ_TAGS["claims"], READ_TAGS["uses"]
_HOST_CLAIMS, _HOST_USES, _HOST_TAGS = (
    READ_TAGS["host_claims"],
    READ_TAGS["host_uses"],
    READ_TAGS["host_tags"],
)

NO_PULL_OUTCOME = "was not selected (pulling providers in is off: --pexen-no-pull)"

# the one empty tag tuple of every test without requirements (or provided
# tags, locks): most tests of a large suite. A test's tags are tuples, not
# lists: a tuple of strings is untracked after the garbage collector's
# first look at it, where each list (16,000 in a 20,000-test DAG) stays an
# object that every later full collection walks (pytest's last ones, at
# exit, among them). Whoever changes a test's tags (compat.Compat.apply)
# puts a new tuple in its place.
_NONE: tuple[str, ...] = ()


@dataclass
class Pulled:
    """A test pulled in from the deselected ones, and for whom."""

    item: pytest.Item
    tag: str
    by: str


@dataclass
class TestGraph:
    """Selected (and pulled-in) tests with their resolved requirements."""

    __test__ = False  # not a test class, whatever its name says

    items: list[pytest.Item]
    # the node id of each item, in the same order: pytest makes the string
    # anew (a property) each time ``item.nodeid`` is read, and the plan of a
    # large suite read it about ten times per test
    nodeids: list[str]
    metas: dict[str, SchedMeta]
    requires: dict[str, tuple[str, ...]]
    provides: dict[str, tuple[str, ...]]
    groups: list[tuple[str | None, int | None]]
    pulled: list[Pulled] = field(default_factory=list)
    # deselected providers kept as never-run tasks when pulling is off
    phantoms: dict[str, list[str]] = field(default_factory=dict)
    # required tags that no test at hand provides
    unresolved: set[str] = field(default_factory=set)
    # pytest-dependency and pytest-order relations (compat.plugin.Compat.apply):
    # order-only tags, tests kept on one worker per module, plan notes, and
    # whether pytest-dependency's results cross xdist workers
    order_only: list[str] = field(default_factory=list)
    pins: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    dependency: bool = False

    def spec(self, lazy: bool = False) -> GraphSpec:
        """The graph as plain JSON data (what crosses to an xdist controller).

        ``lazy``: the tasks as a generator, for one pass in this process
        (``planner()``): a large suite's rows are then never all alive at
        once, on top of the graph and the planner."""
        hosts: dict[str, list[list[str]]] = {}
        metas = self.metas
        for nodeid in self.nodeids:
            meta = metas[nodeid]
            host_claims, host_uses, host_tags = (
                _HOST_CLAIMS(meta),
                _HOST_USES(meta),
                _HOST_TAGS(meta),
            )
            if host_claims or host_uses or host_tags:
                hosts[nodeid] = [sorted(host_claims), sorted(host_uses), sorted(host_tags)]
        rows = self._rows()
        spec: GraphSpec = {
            "tasks": rows if lazy and not hosts else list(rows),  # check_scopes reads them too
            "groups": [list(g) for g in self.groups],
            "phantoms": self.phantoms,
        }
        if self.order_only:
            spec["order_only"] = self.order_only
        if self.pins:
            spec["pins"] = self.pins
        if self.dependency:
            spec["dependency"] = True
        if hosts:
            spec["hosts"] = hosts
        return spec

    def _rows(self) -> Iterator[list[Any]]:
        """Each task of the spec: [node id, requires, provides, claims,
        uses, priority, group]."""
        metas, requires, provides = self.metas, self.requires, self.provides
        for nodeid in self.nodeids:
            meta = metas[nodeid]
            claims, uses = _CLAIMS(meta), _USES(meta)
            yield [
                nodeid,
                requires[nodeid],
                provides[nodeid],
                sorted(claims) if claims else _NONE,
                sorted(uses) if uses else _NONE,
                meta.priority,
                meta.group,
            ]

    def order_groups(self) -> None:
        """Order the groups again, once relations were added after ``build``
        (compat.plugin.Compat.apply: a group after the groups it must follow)."""
        self.groups = _group_order(
            self.nodeids, self.metas, dict(self.groups), self.requires, self.provides
        )

    def planner(self, missing: str = "error") -> Planner[str]:
        """A fresh, prepared planner of this graph (raises DepcheckError)."""
        return spec_planner(self.spec(lazy=True), missing)

    def order(self, planner: Planner[str]) -> list[pytest.Item]:
        """The serial run order: stable, priority-aware, topological, keeping
        a module's tests together when something had to move (see
        ``Planner.order``). ``planner`` (fresh from ``planner()``) is left
        untouched."""
        if self._in_order():
            return list(self.items)
        keys = planner.copy(shared=True).order(affinity=module_id)
        # made once the run on paper is over: alive together with it, the
        # table of every test set the peak memory of a large collection
        by_id = dict(zip(self.nodeids, self.items, strict=True))
        ordered = [by_id.pop(k) for k in keys if k in by_id]
        # tests that can never run keep their place at the end: they are
        # reported skipped with the reason when their turn comes (what is
        # left in ``by_id``, in collection order)
        ordered.extend(by_id.values())
        return ordered

    def _in_order(self) -> bool:
        """Whether the tests already are in the serial order: one group, one
        priority, nothing missing or left out, and each test after every
        provider of each tag it requires (as a suite whose tests require
        earlier ones is). The planner's run on paper, which starts the first
        ready test each time, would then give them back as they are; this
        check costs a pass over the tags instead of a copy of the planner
        and a run. One pass, which a shuffled suite (pytest-randomly) leaves
        at its first test that requires what no test before it provides."""
        if len(self.groups) != 1 or self.phantoms or self.unresolved:
            return False
        metas, requires, provides = self.metas, self.requires, self.provides
        nodeids = self.nodeids
        provided: set[str] = set()  # by the tests so far
        required: set[str] = set()  # by the tests so far: no provider may follow
        priority = metas[nodeids[0]].priority if nodeids else 0
        for nodeid in nodeids:
            if metas[nodeid].priority != priority:
                return False
            wanted, given = requires[nodeid], provides[nodeid]
            if wanted:
                if not provided.issuperset(wanted):
                    return False
                required.update(wanted)
            if given:
                if not required.isdisjoint(given):  # a provider after a requirer
                    return False
                provided.update(given)
        return True


def spec_planner(
    spec: GraphSpec,
    missing: str = "error",
    durations: dict[str, float] | None = None,
    hosts_apart: bool = False,
) -> Planner[str]:
    """A fresh, prepared planner of a graph spec (raises DepcheckError).

    With ``durations`` (seconds by node id, from earlier runs) ready tests
    are also ranked by their longest remaining chain (critical path).
    Per-host locks are global ones in the planner (one host: a serial
    run), unless ``hosts_apart``: then the xdist controller keeps them
    per host itself (see xdist.hosts.HostTable).
    """
    hosts: dict[str, list[list[str]]] = spec.get("hosts") or {}
    if hosts:
        check_scopes(spec)
    planner: Planner[str] = Planner(describe=str, critical_path=durations is not None)
    groups = spec["groups"]
    planner.order_groups([name for name, _ in groups])
    for name, limit in groups:
        planner.add_group(name, limit)
    first_group = groups[0][0] if groups else None
    for ph, tags in spec["phantoms"].items():
        planner.add(ph, provides=tags, group=first_group)
    planner.order_only(spec.get("order_only", ()))
    timed = durations or {}

    def rows() -> Iterator[TaskRow[str]]:
        if hosts and not hosts_apart:
            for nodeid, requires, provides, claims, uses, priority, group in spec["tasks"]:
                if nodeid in hosts:
                    claims = [*claims, *hosts[nodeid][0]]  # lists, or tuples (a controller's)
                    uses = [*uses, *hosts[nodeid][1]]
                yield (nodeid, requires, provides, claims, uses, priority, group, timed.get(nodeid))
        else:  # each task as it is, with its duration (most often: none known)
            for task in spec["tasks"]:
                yield (*task, timed.get(task[0]))

    planner.add_many(rows())
    planner.prepare(missing=missing)
    for ph in spec["phantoms"]:
        planner.start(ph)
        planner.done(ph, ok=False, outcome=NO_PULL_OUTCOME)
    return planner


def check_scopes(spec: GraphSpec) -> None:
    """One resource, one scope: a resource locked per host by one test and
    globally by another has no meaning both agree on (raises MutexError)."""
    hosts: dict[str, list[list[str]]] = spec["hosts"]
    per_host: dict[str, str] = {}
    for nodeid, (claims, uses, _) in hosts.items():
        for resource in (*claims, *uses):
            per_host.setdefault(resource, nodeid)
    for nodeid, _, _, claims, uses, *_ in spec["tasks"]:
        for resource in (*claims, *uses):
            if resource in per_host:
                raise MutexError(
                    f"resource {resource!r} is locked per host (scope='host') by "
                    f"{per_host[resource]} and globally by {nodeid}; give a resource "
                    "one scope in the whole suite"
                )


def _group_order(
    nodeids: list[str],
    metas: dict[str, SchedMeta],
    limits: dict[str | None, int | None],
    requires: dict[str, tuple[str, ...]],
    provides: dict[str, tuple[str, ...]],
) -> list[tuple[str | None, int | None]]:
    """Groups (the default one, None, among them) run by their lowest
    priority, then first appearance; except that a group whose tests
    require what another group provides runs after that group, which takes
    on its priority if that is lower (what an urgent group waits for runs
    early too). Groups that require from each other keep the first order:
    the planner then names the contradiction."""
    best: dict[str | None, tuple[int, int]] = {}  # lowest priority, first test
    for n, nodeid in enumerate(nodeids):
        meta = metas[nodeid]
        group, priority = meta.group, meta.priority
        known = best.get(group)
        if known is None:
            best[group] = (priority, n)
        elif priority < known[0]:
            best[group] = (priority, known[1])
    if len(best) == 1:  # one group (most suites): nothing to order
        return [(group, limits.get(group)) for group in best]
    ranked = sorted(best, key=best.__getitem__)
    providers: dict[str, list[str | None]] = {}
    for nodeid, tags in provides.items():
        for tag in tags:
            providers.setdefault(tag, []).append(metas[nodeid].group)
    needs: dict[str | None, set[str | None]] = {g: set() for g in ranked}
    for nodeid, tags in requires.items():
        group = metas[nodeid].group
        for tag in tags:
            needs[group].update(g for g in providers.get(tag, ()) if g != group and g in best)
    before = {g: [h for h in ranked if h in needs[g]] for g in ranked}  # in a fixed order
    rank = {g: best[g][0] for g in ranked}
    changed = True
    while changed:  # lend each group the priority of the groups that wait for it
        changed = False
        for g in ranked:
            for h in before[g]:
                if rank[h] > rank[g]:
                    rank[h], changed = rank[g], True
    ranked.sort(key=lambda g: (rank[g], best[g][1]))
    order: list[str | None] = []
    while len(order) < len(ranked):
        ready = [g for g in ranked if g not in order and set(before[g]) <= set(order)]
        if not ready:  # a cycle between groups
            return [(g, limits.get(g)) for g in ranked]
        order.append(ready[0])
    return [(g, limits.get(g)) for g in order]


def build(
    selected: list[pytest.Item],
    selected_ids: list[str],
    candidates: list[pytest.Item],
    candidate_ids: list[str],
    metas: dict[str, SchedMeta],
    limits: dict[str | None, int | None],
    pull: bool = True,
) -> TestGraph:
    """Resolve requirements among ``selected`` tests, pulling providers in
    from ``candidates`` (collected, not selected) unless ``pull`` is off.
    ``selected_ids`` and ``candidate_ids`` are their node ids, read once by
    the caller (see ``TestGraph.nodeids``)."""
    every = dict(zip(candidate_ids, candidates, strict=True))
    every.update(zip(selected_ids, selected, strict=True))
    explicit: dict[str, list[str]] = {}
    # the parametrizations of each parametrized test, by the id without
    # them; a test without parameters is found in ``every`` itself
    by_base: dict[str, list[str]] = {}
    for nodeid in every:
        provided = _PROVIDES(metas[nodeid])
        if provided:
            for tag in provided:
                explicit.setdefault(tag, []).append(nodeid)
        if "[" in nodeid:
            by_base.setdefault(base_id(nodeid), []).append(nodeid)

    def resolve(nodeid: str, tag: str) -> str:
        """A tag, a node id, or a name relative to the module (then to the
        class, then to the folder) of the requiring test: a folder of
        executable tests names its neighbours by file name."""
        if tag in explicit or tag in every or tag in by_base:
            return tag
        folder = module_id(nodeid).rpartition("/")[0]
        for relative in (
            f"{module_id(nodeid)}::{tag}",
            f"{base_id(nodeid).rpartition('::')[0]}::{tag}",
            f"{folder}/{tag}" if folder else tag,
        ):
            if relative in every or relative in by_base:
                return relative
        return tag

    chosen = set(selected_ids)
    order: dict[str, int] = {}  # position in the collection: made when a test is pulled in
    requires: dict[str, tuple[str, ...]] = {}
    # the node ids each test is required by (most often one, its own):
    # tuples, a set each cost 216 bytes per required test of a large suite
    implicit: dict[str, tuple[str, ...]] = {}
    pulled: list[Pulled] = []
    phantoms: dict[str, list[str]] = {}
    unresolved: set[str] = set()
    queue = list(selected_ids)
    for nodeid in queue:  # grows as providers are pulled in
        # tags in sorted order, never the set's (hash-seeded) order: which
        # provider a virtual tag pulls in can depend on what was pulled
        # before it, and every xdist worker must pull in the same tests
        wanted = _REQUIRES(metas[nodeid])
        if len(wanted) == 1:  # most often
            (tag,) = wanted
            resolved: tuple[str, ...] = (resolve(nodeid, tag),)
        elif wanted:  # without repeats (two names of one test)
            resolved = tuple(dict.fromkeys([resolve(nodeid, t) for t in sorted(wanted)]))
        else:
            resolved = _NONE
        requires[nodeid] = resolved
        for tag in resolved:
            if tag in explicit:
                provs: Sequence[str] = explicit[tag]
            else:  # a test named by its id: that test, or its parametrizations
                provs = (tag,) if tag in every else by_base.get(tag, ())
                for p in provs:
                    by = implicit.get(p, ())
                    if tag not in by:
                        implicit[p] = (*by, tag)
            if not provs:
                unresolved.add(tag)
                continue
            if not chosen.isdisjoint(provs):  # a provider is in already
                continue
            if not pull:
                for p in provs:
                    phantoms.setdefault(p, []).append(tag)
                continue
            if not order:
                order.update((nodeid, n) for n, nodeid in enumerate(every))
            picks: Sequence[str]
            if tag in explicit:
                picks = [
                    choose_provider(
                        [
                            (p, metas[p].priority, len(_REQUIRES(metas[p])))
                            for p in sorted(provs, key=order.__getitem__)
                        ]
                    )
                ]
            else:
                picks = provs  # a test named by id: all of its parametrizations
            for p in picks:
                chosen.add(p)
                queue.append(p)
                pulled.append(Pulled(every[p], tag, nodeid))
    provides = {
        nodeid: _provided(_PROVIDES(metas[nodeid]), implicit.get(nodeid)) for nodeid in queue
    }
    items, nodeids = _place_pulled(selected, selected_ids, pulled, order)
    return TestGraph(
        items=items,
        nodeids=nodeids,
        metas=metas,
        requires=requires,
        provides=provides,
        groups=_group_order(nodeids, metas, limits, requires, provides),
        pulled=pulled,
        phantoms=phantoms,
        unresolved=unresolved,
    )


def _provided(own: Collection[str], implicit: tuple[str, ...] | None) -> tuple[str, ...]:
    """What a test provides: its own tags and the node ids (of its own and
    its base name) that other tests require it by, sorted (``implicit``
    itself when it is one node id and the test has no tags of its own, the
    common case)."""
    if implicit:
        if not own:
            return implicit if len(implicit) == 1 else tuple(sorted(implicit))
        return tuple(sorted({*own, *implicit}))
    return tuple(sorted(own)) if own else _NONE


def _place_pulled(
    selected: list[pytest.Item],
    selected_ids: list[str],
    pulled: list[Pulled],
    order: dict[str, int],
) -> tuple[list[pytest.Item], list[str]]:
    """Put each pulled-in provider just before the first test that needed
    it, so that nothing selected has to move for it. Providers pulled in for
    the same test keep their collection ``order``, except that those from
    its own module come last, next to it (module fixtures are set up once).
    Returns the tests and their node ids (``selected_ids`` itself when
    nothing was pulled in: the caller's list, which nobody changes)."""
    if not pulled:
        return list(selected), selected_ids
    slot: dict[str, tuple[int, int, bool, int]] = {
        nodeid: (n, 0, False, 0) for n, nodeid in enumerate(selected_ids)
    }
    for p in pulled:
        pos, depth, _, _ = slot[p.by]
        nodeid = p.item.nodeid
        candidate = (pos, depth - 1, module_id(nodeid) == module_id(p.by), order[nodeid])
        if nodeid not in slot or candidate < slot[nodeid]:
            slot[nodeid] = candidate
    pulled_items = {p.item.nodeid: p.item for p in pulled}
    everything = [*zip(selected_ids, selected, strict=True), *pulled_items.items()]
    everything.sort(key=lambda pair: slot[pair[0]])
    return [item for _, item in everything], [nodeid for nodeid, _ in everything]


def describe_pulled(graph: TestGraph, deselected: Container[str]) -> list[str]:
    """Header lines saying which providers were pulled in and why, and how
    each was left out: ``deselected`` (by -k, -m, --lf, ...) or not selected
    at all (node ids, or tests --lf did not collect)."""
    if not graph.pulled:
        return []
    how = ["deselected" if p.item.nodeid in deselected else "not selected" for p in graph.pulled]
    n = len(graph.pulled)
    mixed = len(set(how)) > 1
    if mixed:
        head = f"pexen: pulled in {n} provider(s):"
    elif how[0] == "deselected":
        head = f"pexen: pulled in {n} deselected provider(s):"
    else:
        head = f"pexen: pulled in {n} provider(s) that were not selected:"
    return [head] + [
        f"  {p.item.nodeid} ({f'{h}; ' if mixed else ''}provides {p.tag!r} for {p.by})"
        for p, h in zip(graph.pulled, how, strict=True)
    ]
