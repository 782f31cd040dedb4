"""The scheduling core that every driver shares.

The planner knows the task graph (requires/provides tags, claims/uses locks,
priorities, groups of exclusivity, duration estimates) and answers two
questions the same way for everyone:

* ``get_ready()``: which tasks may start now, best first, with their locks
  already taken;
* ``done(task, ...)``: a task ended; release or keep its locks, satisfy or
  fail its provides, report what can now never run, unlock what became ready.

It does no I/O, starts no threads and imports nothing from pytest, so the
``Sched`` engine, the serial pytest run and the xdist scheduler all run on it
(its shape follows ``graphlib.TopologicalSorter``: add / prepare / get_ready
/ done). Every rule about what a failure does to other tasks lives here.

Cost: building and checking the graph is O(V + E); each start or end is
O(log V) plus the edges it touches.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import copy
import heapq
from array import array
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Generic, TypeVar

from .errors import DepcheckError, MutexError

K = TypeVar("K", bound=Hashable)
# one task for Planner.add_many(): key, requires, provides, claims, uses,
# priority, group, duration (what add() takes by keyword)
TaskRow = tuple[
    K, Iterable[str], Iterable[str], Iterable[str], Iterable[str], int, Hashable, "float | None"
]

# task states
_WAITING, _READY, _RUNNING, _DONE, _DROPPED = range(5)
# tag states
_PENDING, _OK, _FAILED = range(3)

_MISSING_MODES = ("error", "skip")
# the tasks that provide or require a tag, in the order they were added:
# the task id itself when there is one (a large suite's tags have one
# provider and a requirer or two: a test required by its node id), a tuple
# while there are few (none: the one empty tuple), a list once there are
# more (adding to a tuple copies it). Read them through ``_ids()``.
Ids = tuple[int, ...] | list[int]
OneOrIds = int | Ids
_SHORT = 8
# what a planner's ``copy(shared=True)`` shares with it: the graph, which
# only adding tasks, groups or tags changes (the rest is its state)
_STRUCTURE = frozenset(
    {
        "_keys",
        "_index",
        "_prio",
        "_req",
        "_prov",
        "_claims",
        "_uses",
        "_group",
        "_dur",
        "_cp",
        "_topological",
        "_tag_id",
        "_tag_name",
        "_tag_providers",
        "_tag_requirers",
        "_tag_order_only",
        "_group_id",
        "_group_names",
        "_group_limit",
    }
)
# an error about more tasks or tags than this is spelled out one per line
_ONE_LINE = 3


@dataclass(frozen=True)
class Unrunnable(Generic[K]):
    """A task that can never run, and why.

    ``tag`` is the requirement that cannot be met (None for lock or abort
    reasons), ``culprit`` the task that directly caused it and ``root`` the
    task whose failure started the chain.
    """

    task: K
    reason: str
    tag: str | None = None
    culprit: K | None = None
    root: K | None = None


def choose_provider(candidates: Sequence[tuple[K, int, int]]) -> K:
    """Pick one provider of a virtual tag among several.

    ``candidates`` are ``(task, priority, number of own requirements)`` in
    collection order; the rule (as a package manager picks a provider of a
    virtual package) is: lowest priority value, then fewest requirements,
    then first collected.
    """
    if not candidates:
        raise ValueError("choose_provider() needs at least one candidate")
    best = min(range(len(candidates)), key=lambda i: (candidates[i][1], candidates[i][2], i))
    return candidates[best][0]


def _with(ids: OneOrIds, t: int) -> OneOrIds:
    """``ids`` and task ``t`` after them (see ``OneOrIds``)."""
    if isinstance(ids, int):
        return (ids, t)
    if isinstance(ids, list):
        ids.append(t)
        return ids
    if not ids:
        return t
    return (*ids, t) if len(ids) < _SHORT else [*ids, t]


def _without_last(ids: OneOrIds) -> OneOrIds:
    """``ids`` without its last task (see ``OneOrIds``)."""
    if isinstance(ids, int):
        return ()
    if isinstance(ids, list):
        ids.pop()
        return ids
    return ids[:-1]


def _own(ids: OneOrIds) -> OneOrIds:
    """``ids`` for a copy of the planner: a list is copied, the rest shared."""
    return ids.copy() if isinstance(ids, list) else ids


def _ids(ids: OneOrIds) -> Ids:
    """The tasks of ``ids`` as a sequence (see ``OneOrIds``)."""
    return (ids,) if isinstance(ids, int) else ids


def _in_order(values: Iterable[str]) -> Iterable[str]:
    """A set of tags or resources sorted, anything else as given: a set's
    own order changes with the hash seed, and the order decides which lock
    a task waits on first and how a cycle is spelled out."""
    return sorted(values) if isinstance(values, (set, frozenset)) else values


def _group_label(name: Hashable) -> str:
    """A group as messages name it: the default one (ungrouped tests, or
    the engine's first group) has no name."""
    return "the default group" if name is None else f"group {name!r}"


class Planner(Generic[K]):
    """Plan and track the execution of a task graph (see the module docstring).

    Use: ``add()`` tasks (and ``add_group()`` groups), ``prepare()`` to check
    and wire them, then loop on ``get_ready()`` / ``done()`` while ``active``.
    Tasks may be added and prepared again while others run.
    """

    def __init__(
        self,
        *,
        describe: Callable[[K], str] = str,
        critical_path: bool | None = None,
    ) -> None:
        """``describe`` names tasks in messages; ``critical_path`` breaks
        priority ties by the longest remaining chain of estimated durations
        (None: only when some task has a duration estimate)."""
        self._describe = describe
        self._cp_mode = critical_path
        self._shared = False  # see copy()
        self._any_duration = False
        # tasks, as parallel lists indexed by task id (insertion order)
        self._keys: list[K] = []
        self._index: dict[K, int] = {}
        self._prio: list[int] = []
        # each task's tag ids (see _tag_ids): an int where there is one, as
        # most tasks have (a task provides its node id, requires one other)
        self._req: list[OneOrIds] = []
        self._prov: list[OneOrIds] = []
        self._claims: list[tuple[str, ...]] = []
        self._uses: list[tuple[str, ...]] = []
        # small ints as machine ints (array): a list keeps 8 bytes a task
        self._group: array[int] = array("i")
        self._dur: list[float | None] = []
        self._state: array[int] = array("b")
        self._need: array[int] = array("i")
        self._cp: list[float] = []
        self._prepared = 0
        # the unsettled tasks in a topological order, as the last prepare()
        # found them (its cycle check): a task settled since is in it still,
        # which no reader minds (see _switches_after)
        self._topological: list[int] = []
        self._dropped_base: dict[int, str] = {}
        self._drop_root: dict[int, int | None] = {}
        self._ended_badly: dict[int, str] = {}
        self._pending_drops: list[Unrunnable[K]] = []
        # tags, as parallel lists indexed by tag id
        self._tag_id: dict[str, int] = {}
        self._tag_name: list[str] = []
        self._tag_left: array[int] = array("i")
        self._tag_state: array[int] = array("b")
        self._tag_providers: list[OneOrIds] = []
        self._tag_requirers: list[OneOrIds] = []
        self._tag_culprit: array[int] = array("i")
        self._tag_order_only: array[int] = array("b")  # 1: order-only
        # groups of exclusivity, in run order; group 0 is the default one
        self._group_id: dict[Hashable, int] = {}
        self._group_names: list[Hashable] = []
        self._group_limit: list[int | None] = []
        self._group_open: list[int] = []
        self._group_running: list[int] = []
        self._heaps: list[list[tuple[int, float, int]]] = []
        self._current = 0
        self.add_group(None)
        # read-write locks
        self._claimed: dict[str, int] = {}
        self._used: dict[str, int] = {}
        self._claim_waiters: dict[str, int] = {}
        self._parked: dict[str, list[int]] = {}
        self._dead: dict[str, tuple[int, bool]] = {}
        # counters and results
        self._unsettled = 0
        # tasks started before their requirements were met (start_after): a
        # failed requirement drops them as it drops a waiting task
        self._early: dict[int, None] = {}
        self.unrunnable: list[Unrunnable[K]] = []
        self._unrunnable_of: dict[int, Unrunnable[K]] = {}

    # ------------------------------------------------------------ building
    def add_group(self, name: Hashable, limit: int | None = None) -> None:
        """Declare a group of exclusivity; groups run one at a time, in the
        order declared (undeclared names are appended when first used).
        ``limit`` caps how many of its tasks run at once."""
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ValueError(f"group {name!r}: worker limit must be a positive int, not {limit!r}")
        self._check_unshared()
        if name in self._group_id:
            self._group_limit[self._group_id[name]] = limit
            return
        self._group_id[name] = len(self._group_names)
        self._group_names.append(name)
        self._group_limit.append(limit)
        self._group_open.append(0)
        self._group_running.append(0)
        self._heaps.append([])

    def order_groups(self, names: list[Hashable]) -> None:
        """Run the groups in this order, the default group (None) among them
        wherever it falls; groups not named keep their order after these.
        Only before the first ``add()``: the pytest plugin orders groups by
        their lowest priority, where the engine's first group comes first."""
        self._check_unshared()
        if self._keys:
            raise RuntimeError("order_groups() must come before the first add()")
        limits = dict(zip(self._group_names, self._group_limit, strict=True))
        order = list(dict.fromkeys([*names, *self._group_names]))
        self._group_id.clear()
        for lists in (
            self._group_names,
            self._group_limit,
            self._group_open,
            self._group_running,
            self._heaps,
        ):
            lists.clear()
        for name in order:
            self.add_group(name, limits.get(name))

    def _intern(self, tag: str) -> int:
        """The id of a tag, a new one if unseen. Only its name is stored
        here: the other tag columns grow in ``_grow_tags()``, in bulk (a
        graph has about a tag per task, and seven appends per tag were a
        third of the cost of ``add()``)."""
        tid = self._tag_id.get(tag)
        return self._new_tag(tag) if tid is None else tid

    def _new_tag(self, tag: str) -> int:
        """The id of a tag not interned yet (see ``_intern``)."""
        n, keys = len(self._tag_name), self._keys
        # the very int object of task n's id if there is one: an int above
        # 256 is an object of its own (32 bytes) wherever it is made, and a
        # large graph has about as many tags as tasks, so a tag id and a
        # task id of one value share one (see add_many())
        tid = self._tag_id[tag] = self._index[keys[n]] if n < len(keys) else n
        self._tag_name.append(tag)
        return tid

    def _grow_tags(self) -> None:
        """Give every interned tag its entry in the tag columns (pending, no
        provider, no requirer): before anything reads them for a new tag."""
        k = len(self._tag_name) - len(self._tag_left)
        if k:
            self._tag_left.extend([0] * k)
            self._tag_state.extend([_PENDING] * k)
            self._tag_providers.extend([()] * k)
            self._tag_requirers.extend([()] * k)
            self._tag_culprit.extend([-1] * k)
            self._tag_order_only.extend([0] * k)

    def order_only(self, tags: Iterable[str]) -> None:
        """Declare tags that only order: a task requiring one waits until
        every provider has ended, however it ended (dropped included), and is
        never dropped for it. pytest-order's relations are such, and so are
        pytest-dependency's (the test runs after its dependency, and that
        plugin decides then whether to skip it)."""
        self._check_unshared()
        ids = [self._intern(tag) for tag in tags]
        self._grow_tags()
        for tid in ids:
            self._tag_order_only[tid] = 1

    def _tag_ids(self, tags: Iterable[str]) -> OneOrIds:
        """Tag ids (new tags interned), without repeats: a set's in sorted
        order (see ``_in_order``), anything else in first-seen order. A set
        of one tag or a list or tuple of one, the common cases, costs one
        dict operation and gives the id itself (``OneOrIds``): a tuple of
        one for each was 1.2 MB of a 20,000-test collection's peak."""
        if isinstance(tags, (set, frozenset, list, tuple)) and len(tags) == 1:  # most tasks'
            (tag,) = tags
            known = self._tag_id.get(tag)
            return self._new_tag(tag) if known is None else known
        if isinstance(tags, (set, frozenset)):  # no repeats to remove
            return tuple([self._intern(tag) for tag in sorted(tags)])
        return tuple(dict.fromkeys([self._intern(tag) for tag in tags]))

    def add(
        self,
        key: K,
        *,
        requires: Iterable[str] = (),
        provides: Iterable[str] = (),
        claims: Iterable[str] = (),
        uses: Iterable[str] = (),
        priority: int = 0,
        group: Hashable = None,
        duration: float | None = None,
    ) -> None:
        """Add one task; it takes part once ``prepare()`` has run."""
        self.add_many([(key, requires, provides, claims, uses, priority, group, duration)])

    def add_many(self, tasks: Iterable[TaskRow[K]]) -> None:
        """``add()`` many tasks, each a row ``(key, requires, provides,
        claims, uses, priority, group, duration)``: as if ``add()`` were
        called for each in turn (a bad one raises; those before it stay
        added), for a fraction of the cost per task (a graph has tens of
        thousands: the loop keeps everything it touches at hand, and empty
        fields, the common case, cost a truth test each)."""
        self._check_unshared()
        index, keys, group_id, tag_ids = self._index, self._keys, self._group_id, self._tag_ids
        tag_id, tag_name = self._tag_id, self._tag_name
        add_prio, add_req, add_prov = self._prio.append, self._req.append, self._prov.append
        add_claims, add_uses, add_group = self._claims.append, self._uses.append, self._group.append
        add_dur, add_state = self._dur.append, self._state.append
        add_need, add_cp = self._need.append, self._cp.append
        for key, requires, provides, claims, uses, priority, group, duration in tasks:
            if key in index:
                raise ValueError(f"task {self._describe(key)} was added twice")
            if claims or uses:
                claims_t = tuple(dict.fromkeys(_in_order(claims)))
                uses_t = tuple(dict.fromkeys(_in_order(uses)))
                both = sorted(set(claims_t).intersection(uses_t))
                if both:
                    raise MutexError(f"task {self._describe(key)} both claims and uses {both}", key)
            else:
                claims_t = uses_t = ()
            gi = group_id.get(group)
            if gi is None:
                self.add_group(group)
                gi = group_id[group]
            n = len(keys)  # the new id: tag n's very int object if there is one (_intern)
            index[key] = tag_id[tag_name[n]] if n < len(tag_name) else n
            keys.append(key)
            add_prio(priority)
            add_req(tag_ids(requires) if requires else ())
            add_prov(tag_ids(provides) if provides else ())
            add_claims(claims_t)
            add_uses(uses_t)
            add_group(gi)
            add_dur(duration)
            if duration is not None:
                self._any_duration = True
            add_state(_WAITING)
            add_need(0)
            add_cp(0.0)

    # ------------------------------------------------------------ checking
    def prepare(self, missing: str = "error") -> list[Unrunnable[K]]:
        """Check and wire the tasks added since the last call.

        Raises DepcheckError, before anything changes, for a requirement that
        no task provides (unless ``missing="skip"``: such tasks are dropped
        and returned) and for a dependency cycle (always an error).
        """
        if missing not in _MISSING_MODES:
            raise ValueError(f"missing must be one of {_MISSING_MODES}, not {missing!r}")
        new = range(self._prepared, len(self._keys))
        if not new:
            return []
        self._grow_tags()
        # the new task ids as the index holds them: the wiring keeps these
        # very int objects, not a fresh one per tag (a range makes one per step)
        tids = list(islice(self._index.values(), new.start, None))
        state, tstate, left = self._state, self._tag_state, self._tag_left
        prov, req, need = self._prov, self._req, self._need
        providers, requirers = self._tag_providers, self._tag_requirers
        # wire the new tasks into the tags first and check the result; a
        # failed check unwires them again (_forget), cheaper than checking a
        # copy of the wiring. A tag already satisfied or failed is settled:
        # a late provider does not reopen it
        late: list[int] = []  # new tasks that provide a tag already settled
        for t in tids:
            gs = prov[t]
            for g in (gs,) if isinstance(gs, int) else gs:  # _ids(), inline
                if tstate[g] == _PENDING:
                    # a tag's first provider (most often its only one) as is
                    ids = providers[g]
                    providers[g] = t if ids == () else _with(ids, t)
                    left[g] += 1
                else:
                    late.append(t)
        missing_tags: dict[int, list[int]] = {}
        failed_reqs: list[tuple[int, int]] = []
        for t in tids:
            n = 0
            gs = req[t]
            for g in (gs,) if isinstance(gs, int) else gs:  # _ids(), inline
                ids = requirers[g]
                requirers[g] = t if ids == () else _with(ids, t)
                st = tstate[g]
                if st == _PENDING:
                    if left[g]:
                        n += 1
                    else:
                        missing_tags.setdefault(g, []).append(t)
                elif st == _FAILED:
                    failed_reqs.append((t, g))
            need[t] = n
        if missing_tags and missing == "error":
            error = DepcheckError(
                self._missing_message(missing_tags),
                missing={
                    self._tag_name[g]: [self._keys[t] for t in ts] for g, ts in missing_tags.items()
                },
            )
            self._forget(new)
            raise error
        try:
            order = self._simulate(new, {t for ts in missing_tags.values() for t in ts})
            if len(self._group_names) > 1:
                self._check_group_order(new)
        except DepcheckError:
            self._forget(new)
            raise
        self._topological = order
        # nothing below raises
        for t in late:
            self._prov[t] = tuple(g for g in _ids(self._prov[t]) if tstate[g] == _PENDING)
        group, group_open = self._group, self._group_open
        for t in new:
            if group[t] < self._current:
                if self._current < len(self._group_names):
                    group[t] = self._current
                else:
                    self._current = group[t]
            group_open[group[t]] += 1
        self._unsettled += len(new)
        self._prepared = len(self._keys)
        if self._use_critical_path():
            self._compute_critical_path(order)
        dropped: list[Unrunnable[K]] = []
        for g, ts in missing_tags.items():
            reason = f"{self._tag_name[g]!r} is not provided by any task"
            for t in ts:
                if state[t] == _WAITING:
                    self._drop(t, reason, dropped, tag=self._tag_name[g])
        for t, g in failed_reqs:
            if state[t] == _WAITING:
                self._drop_via(t, g, dropped)
                self._fail_provides(t, dropped)
        for t in tids:
            if state[t] == _WAITING and not need[t]:
                self._make_ready(t)
        self._advance()
        return dropped

    def _forget(self, new: range) -> None:
        """Take back tasks that failed their check, wiring included, so the
        rest stays usable."""
        tstate, left = self._tag_state, self._tag_left
        providers, requirers = self._tag_providers, self._tag_requirers
        for t in reversed(new):  # each list ends with what prepare() appended
            for g in _ids(self._req[t]):
                requirers[g] = _without_last(requirers[g])
            for g in _ids(self._prov[t]):
                if tstate[g] == _PENDING:
                    providers[g] = _without_last(providers[g])
                    left[g] -= 1
        for key in self._keys[new.start :]:
            del self._index[key]
        for column in (
            self._keys,
            self._prio,
            self._req,
            self._prov,
            self._claims,
            self._uses,
            self._group,
            self._dur,
            self._state,
            self._need,
            self._cp,
        ):
            del column[new.start :]

    def _simulate(self, new: range, skip: set[int]) -> list[int]:
        """Run the unsettled graph (new tasks wired in) to completion on
        paper; raise on a cycle.

        Returns the unsettled tasks in a topological order. Failed or missing
        requirements do not block here: such tasks end up dropped, which
        settles them; only a cycle keeps tasks from ever settling.
        """
        state, tstate, prov = self._state, self._tag_state, self._prov
        requirers = self._tag_requirers
        left = self._tag_left[:]
        need = self._need[:]
        queue: list[int] = []
        count = len(new)
        for t in range(self._prepared):
            st = state[t]
            if st > _RUNNING:
                continue
            count += 1
            if st != _WAITING:  # ready or running (maybe early): waits for nothing
                need[t] = 0
                queue.append(t)
            elif not need[t]:
                queue.append(t)
        for t in skip:
            need[t] = 0  # dropped at once, which settles it (and its dependents)
        queue += [t for t in new if not need[t]]
        for t in queue:  # the list grows while we walk it
            gs = prov[t]
            for g in (gs,) if isinstance(gs, int) else gs:  # _ids(), inline
                if tstate[g] != _PENDING:
                    continue
                left[g] -= 1
                if left[g]:
                    continue
                rs = requirers[g]
                for r in (rs,) if isinstance(rs, int) else rs:  # _ids(), inline
                    if state[r] <= _RUNNING:
                        need[r] -= 1
                        if not need[r]:
                            queue.append(r)
        if len(queue) < count:
            self._raise_cycle(need, left)
        return queue

    def _raise_cycle(self, need: array[int], left: array[int]) -> None:
        """Find one cycle among the tasks that never settled and spell it out."""
        state = self._state
        stuck = {t for t, n in enumerate(need) if n > 0 and state[t] <= _RUNNING}
        x = min(stuck)
        path: list[tuple[int, int]] = []
        seen: dict[int, int] = {}
        while x not in seen:
            seen[x] = len(path)
            for g in _ids(self._req[x]):
                if self._tag_state[g] != _PENDING or not left[g]:
                    continue
                nxt = next((p for p in _ids(self._tag_providers[g]) if p in stuck), None)
                if nxt is not None:
                    path.append((x, g))
                    x = nxt
                    break
            else:  # pragma: no cover - a stuck task always waits on a stuck provider
                raise AssertionError("cycle search lost its way")
        cycle = path[seen[x] :]
        keys, name = self._keys, self._describe
        tasks = [name(keys[t]) for t, _ in cycle]
        hops = [(self._tag_name[g], tasks[(i + 1) % len(cycle)]) for i, (_, g) in enumerate(cycle)]
        if len(cycle) > _ONE_LINE:
            message = "\n".join(
                [
                    f"dependency cycle of {len(cycle)} tasks:",
                    f"  {tasks[0]}",
                    *(f"    requires {tag!r} from {to}" for tag, to in hops),
                ]
            )
        else:
            message = "dependency cycle: " + ", ".join(
                f"{task} requires {tag!r} from {to}"
                for task, (tag, to) in zip(tasks, hops, strict=True)
            )
        raise DepcheckError(message, cycle=[keys[t] for t, _ in cycle] + [keys[cycle[0][0]]])

    def _missing_message(self, missing_tags: dict[int, list[int]]) -> str:
        parts = []
        for g, ts in missing_tags.items():
            names = [self._describe(self._keys[t]) for t in ts[:3]]
            more = f" and {len(ts) - 3} more" if len(ts) > 3 else ""
            parts.append(f"{self._tag_name[g]!r} (required by {', '.join(names)}{more})")
        if len(parts) > _ONE_LINE:
            return "\n  ".join(["requirement not provided by any task:", *parts])
        return "requirement not provided by any task: " + "; ".join(parts)

    def _check_group_order(self, new: range) -> None:
        """A task cannot wait for a provider in a group that runs after its own."""
        group = self._group
        for t in new:
            for g in _ids(self._req[t]):
                for p in _ids(self._tag_providers[g]):
                    if group[p] > group[t] and self._state[p] <= _RUNNING:
                        raise DepcheckError(
                            f"{self._describe(self._keys[t])} "
                            f"({_group_label(self._group_names[group[t]])}) requires "
                            f"{self._tag_name[g]!r}, provided by "
                            f"{self._describe(self._keys[p])} in "
                            f"{_group_label(self._group_names[group[p]])}, which runs later"
                        )

    def _use_critical_path(self) -> bool:
        return self._cp_mode if self._cp_mode is not None else self._any_duration

    def _compute_critical_path(self, order: list[int]) -> None:
        """Longest remaining chain of durations from each task to a sink,
        where the tasks that claim one resource count as a chain too.

        A resource's claimers run one at a time, so once the first of them
        starts, the run lasts at least their total duration more, and what
        waits on the last of them runs after that: a claimer ranks by its
        resource's total plus the longest chain of its dependents (durations
        only: a dependent that claims the same resource is in that total
        already), when that exceeds its own chain; so do the tasks it waits
        for. Without the total, a contended resource is left idle while
        workers take long chains that could wait, and its claimers queue up
        at the end of the run. Without the chain behind, the claimers of a
        resource all rank alike and go in insertion order, so the one that
        others wait for may go last; ranked so, they go longest chain behind
        first (the best order on one machine, Jackson's rule)."""
        known = [d for d in self._dur if d is not None]
        default = sum(known) / len(known) if known else 1.0
        cp, dur, prov, requirers, state, claims = (
            self._cp,
            self._dur,
            self._prov,
            self._tag_requirers,
            self._state,
            self._claims,
        )
        load: dict[str, float] = {}  # each resource: the total duration of its claimers
        for t in order:
            if claims[t] and state[t] <= _READY:
                d = dur[t]
                for res in claims[t]:
                    load[res] = load.get(res, 0.0) + (default if d is None else d)
        chain = [0.0] * len(cp)  # each task's longest chain of durations alone
        for t in reversed(order):
            longest = behind = 0.0  # the dependents' longest rank and chain
            for g in _ids(prov[t]):
                for r in _ids(requirers[g]):
                    if state[r] <= _READY:
                        if cp[r] > longest:
                            longest = cp[r]
                        if chain[r] > behind:
                            behind = chain[r]
            d = dur[t]
            d = default if d is None else d
            cp[t] = d + longest
            chain[t] = d + behind
            for res in claims[t]:
                held = load.get(res, 0.0) + behind
                if held > cp[t]:
                    cp[t] = held

    def copy(self, *, shared: bool = False) -> Planner[K]:
        """An independent planner in the same state (cheaper than building
        and checking the graph again).

        ``shared``: the copy shares the graph itself (tasks, tags, groups
        and their wiring, see ``_STRUCTURE``) with this planner and has only
        its state of its own, for a run on paper (``order()``): a full copy
        of a large graph's columns would be alive at once with the original,
        which sets the peak memory of a collection. Such a copy takes no new
        tasks, groups or tags (RuntimeError)."""
        other = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, (list, dict, array)) and not (shared and name in _STRUCTURE):
                setattr(other, name, copy.copy(value))
        other._heaps = [heap.copy() for heap in self._heaps]
        other._parked = {r: ts.copy() for r, ts in self._parked.items()}
        if not shared:
            other._tag_requirers = [_own(ts) for ts in self._tag_requirers]
            other._tag_providers = [_own(ts) for ts in self._tag_providers]
        other._shared = shared
        return other

    def _check_unshared(self) -> None:
        if self._shared:
            raise RuntimeError("a planner copied with shared=True takes no new tasks or groups")

    # ------------------------------------------------------------ running
    def __contains__(self, key: object) -> bool:
        return key in self._index

    @property
    def active(self) -> bool:
        """True while some task has neither ended nor been dropped."""
        return self._unsettled > 0

    @property
    def current_group(self) -> Hashable:
        """The name of the group now running (None: the default group)."""
        if self._current < len(self._group_names):
            return self._group_names[self._current]
        return None

    def get_ready(self, limit: int | None = None) -> list[K]:
        """Start up to ``limit`` tasks: the best ready ones whose locks are free.

        "Best" is lowest priority value, then longest critical path (when
        enabled), then insertion order. Their locks are taken here.
        """
        out: list[K] = []
        todo = -1 if limit is None else max(limit, 0)  # -1: no limit
        state, heaps, keys, pop = self._state, self._heaps, self._keys, heapq.heappop
        claims, uses, caps, running = (
            self._claims,
            self._uses,
            self._group_limit,
            self._group_running,
        )
        while todo:
            gi = self._current  # taking a lock may drop tasks and end the group
            if gi >= len(heaps):
                break
            heap = heaps[gi]
            if not heap:
                break
            cap = caps[gi]
            if cap is not None and running[gi] >= cap:
                break
            t = pop(heap)[2]
            if state[t] != _READY or ((claims[t] or uses[t]) and not self._lock(t)):
                continue
            state[t] = _RUNNING  # as _begin(), inline: one call less per task
            running[gi] += 1
            out.append(keys[t])
            todo -= 1
        return out

    def best_priority(self) -> int | None:
        """The priority of the best ready task of the running group (None if
        none is ready): a driver that picks tasks itself for locality (say,
        a worker's current module) stays within it, so priority still rules."""
        if self._current >= len(self._heaps):
            return None
        heap, state = self._heaps[self._current], self._state
        while heap and state[heap[0][2]] != _READY:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def get_ready_avoiding(
        self, avoid: Callable[[K], bool], look: int, strict: bool = False
    ) -> K | None:
        """Start the best ready task for which ``avoid`` is false among the
        ``look`` best ready ones, else the best (None: nothing can start;
        with ``strict`` never an avoided one).

        A driver uses it to keep workers apart, say out of a module another
        worker is in, without straying far from the planner's ranking, or
        (``strict``) to keep a task for the one worker that may run it."""
        state, keys = self._state, self._keys
        while self._current < len(self._heaps):
            gi = self._current
            cap = self._group_limit[gi]
            if cap is not None and self._group_running[gi] >= cap:
                return None
            heap = self._heaps[gi]
            aside: list[tuple[int, float, int]] = []
            found: int | None = None
            while heap and len(aside) < look:
                entry = heapq.heappop(heap)
                if state[entry[2]] != _READY:
                    continue
                if not avoid(keys[entry[2]]):
                    found = entry[2]
                    break
                aside.append(entry)
            if found is None and aside and not strict:
                found = aside.pop(0)[2]
            for entry in aside:
                heapq.heappush(heap, entry)
            if found is None:
                return None
            if self._begin(found, gi):  # else it waits, parked on a lock
                return keys[found]
        return None

    def done(
        self,
        key: K,
        ok: bool = True,
        *,
        deps_ok: bool | None = None,
        locks_ok: bool = True,
        outcome: str = "failed",
    ) -> list[Unrunnable[K]]:
        """Record that a started task ended; return the tasks now unrunnable.

        ``deps_ok`` (default: ``ok``) says whether its provides are satisfied;
        ``locks_ok`` whether its locks are released (False keeps them held for
        good, so whoever needs them is dropped). ``outcome`` words the failure
        in reasons ("failed", "errored", "was skipped", ...).
        """
        t = self._index[key]
        state = self._state
        if state[t] != _RUNNING:
            raise ValueError(f"task {self._describe(key)} ended but was not running")
        state[t] = _DONE
        self._group_running[self._group[t]] -= 1
        if self._early:
            self._early.pop(t, None)
        dropped: list[Unrunnable[K]] = []
        if self._claims[t] or self._uses[t]:
            if locks_ok:
                self._unlock(t)
            else:
                self._kill_locks(t)
        if ok if deps_ok is None else deps_ok:
            gs = self._prov[t]
            for g in (gs,) if isinstance(gs, int) else gs:  # _ids(), inline
                self._provided(g)
        else:
            self._ended_badly[t] = f"{self._describe(key)} {outcome}"
            self._fail_provides(t, dropped)
        self._settle(t)
        return dropped

    def dependents(self, key: K) -> list[K]:
        """The direct dependents of ``key`` that have not started yet, or
        started before it ended (``start_after``); those that only come after
        it, through an order-only tag, are not."""
        t = self._index[key]
        out: dict[int, None] = {}
        state, early = self._state, self._early
        for g in _ids(self._prov[t]):
            if self._tag_order_only[g]:
                continue
            for r in _ids(self._tag_requirers[g]):
                if state[r] <= _READY or r in early:
                    out[r] = None
        return [self._keys[r] for r in out]

    def by_rank(self, keys: list[K]) -> list[K]:
        """``keys`` in the order the planner would start them, were they all
        ready: priority, then longest remaining chain (critical path), then
        insertion. For a driver choosing among tasks itself (the xdist
        controller's follow-ons)."""
        index, prio, cp = self._index, self._prio, self._cp
        return sorted(keys, key=lambda k: (prio[index[k]], -cp[index[k]], index[k]))

    def abort(self, reason: str) -> list[Unrunnable[K]]:
        """Drop every task that has not started (a stop: -x, a time limit)."""
        dropped: list[Unrunnable[K]] = []
        for t in range(self._prepared):
            if self._state[t] <= _READY:
                self._state[t] = _DROPPED
                self._settle(t)
                u = Unrunnable(self._keys[t], reason)
                self.unrunnable.append(u)
                self._unrunnable_of[t] = u
                dropped.append(u)
        self._parked.clear()
        self._claim_waiters.clear()
        return dropped

    def order(self, affinity: Callable[[K], Hashable] | None = None) -> list[K]:
        """Run the whole graph on paper, one task at a time, and return the
        order (used for a serial run); this consumes the planner.

        Without constraints the order is the insertion order; else each
        next task is the best ready one (lowest priority value, then longest
        critical path, then insertion order). ``affinity`` (say, a test's
        module, whose fixtures pytest sets up once per stretch of its tests)
        keeps neighbours together instead. A stretch is a run of tasks with
        one affinity, one after the other in insertion order (a module's
        tests, unless something put others between them on purpose, as
        pytest-order does). Of the ready tasks of the best priority in the
        running group, the next one is

        1. the first (in insertion order) of the last task's stretch: a task
           that was held back runs as soon as it can among its neighbours;
        2. else the task inserted right after the last one: nothing moves;
        3. else the first of the stretch whose ready tasks have the most
           changes of stretch on a chain of dependents after them (see
           ``_switches_after``), then with the most ready tasks (the longest
           stretch there can be from now on), then the one that comes first.
        """
        if affinity is None:
            return self._order_by_rank()
        keys, prio, group = self._keys, self._prio, self._group
        # a bucket: the tasks of one stretch, group and priority, numbered
        # in insertion order
        bucket_id: dict[tuple[int, int, int], int] = {}
        bucket: list[int] = []  # each task's
        previous: Hashable = object()
        b = s = -1
        for t, key in enumerate(keys):
            scope = affinity(key)
            if scope == previous:  # the stretch goes on, and most often the bucket
                if group[t] == group[t - 1] and prio[t] == prio[t - 1]:
                    bucket.append(b)
                    continue
            else:
                previous, s = scope, t
            b = bucket_id.setdefault((group[t], prio[t], s), len(bucket_id))
            bucket.append(b)
        return self._on_paper(bucket, bucket_id)

    def _on_paper(self, bucket: list[int], bucket_id: dict[tuple[int, int, int], int]) -> list[K]:
        """The run on paper of ``order(affinity=...)``, over the buckets
        that ``bucket`` gives each task.

        A task that starts here ends at once, and well: ``start()`` and
        ``done()`` are inlined, and the tasks made ready go to their bucket,
        not to the group's heap (``_make_ready``), which would rank them by
        priority, critical path and insertion order: what the rules need is
        the best priority that has ready tasks, and the first of a bucket.
        So a class (a group and priority, numbered in rank order) counts its
        ready tasks, and a heap of class ids finds the best one. The planner
        is spent afterwards (its heaps are not kept up to date)."""
        state, keys = self._state, self._keys
        tstate, left, need = self._tag_state, self._tag_left, self._need
        provs, requirers, heaps = self._prov, self._tag_requirers, self._heaps
        claims, uses, caps, running = (
            self._claims,
            self._uses,
            self._group_limit,
            self._group_running,
        )
        group_open, pop, push = self._group_open, heapq.heappop, heapq.heappush
        ready_, waiting, pending, ok, done = _READY, _WAITING, _PENDING, _OK, _DONE
        classes = sorted({key[:2] for key in bucket_id})  # (group, priority)
        class_id = {gp: c for c, gp in enumerate(classes)}
        of_class = [class_id[key[:2]] for key in bucket_id]  # each bucket's
        stretch = [key[2] for key in bucket_id]  # each bucket's: its first task
        # each bucket's ready tasks (a heap, with those that ran out of turn,
        # rule 2) and their count; each class's buckets ranked by count, most
        # first, then id: a heap of ``b - count * n`` (one int compares
        # faster than a tuple; stale entries skipped: their count changed),
        # and the class's count
        n = len(stretch)
        ready: list[list[int]] = [[] for _ in stretch]
        count = [0] * n
        ranking: list[list[int]] = [[] for _ in classes]
        in_class = [0] * len(classes)
        best: list[int] = []  # the classes with ready tasks (stale: none left)
        after = self._switches_after(bucket)
        # each bucket's most switches after one of its ready tasks (``after``;
        # since it last ran out of ready tasks). A bucket's place in its
        # class's ranking is ``b - (most[b] * weight + count[b]) * n``: most
        # switches after first, then most ready tasks, then id (written out
        # where it is pushed and checked: a call per task costs more)
        most = [0] * n
        weight = len(keys) + 1  # more than any count

        def queue(t: int) -> None:
            """Task ``t`` is ready: into its bucket, counted in its class."""
            b = bucket[t]
            push(ready[b], t)
            count[b] += 1
            if after[t] > most[b]:
                most[b] = after[t]
            c = of_class[b]
            push(ranking[c], b - (most[b] * weight + count[b]) * n)
            in_class[c] += 1
            if in_class[c] == 1:
                push(best, c)

        for t in dict.fromkeys([e[2] for heap in heaps for e in heap if state[e[2]] == ready_]):
            queue(t)
        out: list[K] = []
        last = cur = -1  # the last task and its bucket
        while self._unsettled > 0 and self._current < len(heaps):
            gi = self._current
            while best and not in_class[best[0]]:
                pop(best)
            c = best[0] if best else -1
            if c < 0 or classes[c][0] != gi:  # nothing ready in the running group
                break
            if last < 0:  # the first task: the best one, as the group's heap ranks it
                heap = heaps[gi]
                while state[heap[0][2]] != ready_:
                    pop(heap)
                t = heap[0][2]
            else:
                if of_class[cur] == c:
                    b = cur
                else:
                    b = bucket_id.get((gi, classes[c][1], stretch[cur]), -1)
                if b < 0 or not count[b]:
                    b = -1
                    t = last + 1
                    if not (t < self._prepared and state[t] == ready_ and of_class[bucket[t]] == c):
                        # the best-ranked stretch (only the last one may lack an entry)
                        rank = ranking[c]
                        while rank[0] != (b := rank[0] % n) - (most[b] * weight + count[b]) * n:
                            pop(rank)
                if b >= 0:
                    todo = ready[b]
                    while state[todo[0]] != ready_:  # ran out of turn (rule 2)
                        pop(todo)
                    t = pop(todo)
            # start(): t is ready and in the running group
            cap = caps[gi]
            if cap is not None and running[gi] >= cap:  # pragma: no cover - one at a time
                break
            locks = claims[t] or uses[t]
            if locks and not self._lock(t):  # pragma: no cover - nothing else holds locks
                break
            b = bucket[t]
            count[b] -= 1
            if not count[b]:
                most[b] = 0
            in_class[c] -= 1
            if b != cur:
                if cur >= 0 and count[cur]:  # ranked again with what it has left
                    push(ranking[of_class[cur]], cur - (most[cur] * weight + count[cur]) * n)
                cur = b
            out.append(keys[t])
            # done(): it passed; the tags it settles ready their requirers
            state[t] = done
            if locks:
                self._unlock(t)  # nobody waits for its locks (they were free)
            gs = provs[t]
            for g in (gs,) if isinstance(gs, int) else gs:  # _ids(), inline
                if tstate[g] != pending:
                    continue
                left[g] -= 1
                if left[g]:
                    continue
                tstate[g] = ok
                rs = requirers[g]
                for r in (rs,) if isinstance(rs, int) else rs:
                    if state[r] == waiting:
                        need[r] -= 1
                        if not need[r]:
                            state[r] = ready_
                            queue(r)
            self._unsettled -= 1  # _settle()
            group_open[gi] -= 1
            if not group_open[gi]:
                self._advance()
            last = t
        return out

    def _switches_after(self, bucket: list[int]) -> array[int]:
        """For each unsettled task, the most changes of bucket on a chain of
        dependents after it (0 for none); what no one reads for the others.

        Rule 3 of ``order(affinity=...)`` takes the stretch whose ready
        tasks have most such changes still ahead of them: a chain that
        crosses between modules many times needs as many stretches, however
        the rest is ordered, so its next link should not wait for the
        fullest stretch. On random DAGs of 3,000 tests over 30 modules that
        took 40% fewer stretches than the fullest stretch alone."""
        after = array("i", [0]) * len(bucket)  # half the size of a list, at the peak
        prov, requirers, state, ready = self._prov, self._tag_requirers, self._state, _READY
        # the order prepare() found, not a new run on paper: a task settled
        # since gets a figure that no one reads (only those of waiting and
        # ready tasks are), and no task joins without another prepare().
        # Emptied once read, in the planner it is shared with too (see
        # ``copy``): alive during the run on paper, a large graph's list set
        # the peak memory of a collection. A later call finds it again.
        order = self._topological
        if not order:
            order = self._simulate(range(0), set())
        for t in reversed(order):
            b, most, gs = bucket[t], 0, prov[t]
            for g in (gs,) if isinstance(gs, int) else gs:  # _ids(), inline
                rs = requirers[g]
                for r in (rs,) if isinstance(rs, int) else rs:
                    if state[r] <= ready:
                        x = after[r] + (bucket[r] != b)
                        if x > most:
                            most = x
            after[t] = most
        order.clear()
        return after

    def _order_by_rank(self) -> list[K]:
        """``order()`` without an affinity: the best ready task each time."""
        out: list[K] = []
        state, keys = self._state, self._keys
        while self.active and self._current < len(self._heaps):
            heap = self._heaps[self._current]
            while heap and state[heap[0][2]] != _READY:
                heapq.heappop(heap)
            if not heap:
                break
            key = keys[heap[0][2]]
            if not self.start(key):  # pragma: no cover - nothing else holds locks
                break
            out.append(key)
            self.done(key)
        return out

    def start(self, key: K) -> bool:
        """Start this very task if it is ready, in the running group, and its
        locks are free; False otherwise (for drivers that pick the order)."""
        t = self._index[key]
        gi = self._group[t]
        if self._state[t] != _READY or gi != self._current:
            return False
        cap = self._group_limit[gi]
        if cap is not None and self._group_running[gi] >= cap:
            return False
        return self._begin(t, gi)

    def start_early(self, key: K, on_hand: Callable[[K], bool]) -> bool:
        """Start a task that still waits, if all it waits for are order-only
        tags whose unfinished providers are all ``on_hand``: running, and
        sure to end before this task begins (say, queued ahead of it on the
        worker it goes to). A driver uses it to queue a chain on one worker
        without a round trip per task; False if that cannot be."""
        t = self._index[key]
        if self._on_hand(t, on_hand, order_only=True) is None:
            return False
        return self._begin(t, self._group[t])

    def start_after(self, key: K, on_hand: Callable[[K], bool]) -> list[K] | None:
        """Start a task that still waits, if every provider it waits for is
        running and ``on_hand`` (queued ahead of it on the worker it goes to,
        so sure to end before it begins) and its locks are free now; return
        the providers of its requirements (not of order-only tags): it may
        run only if they all end well. If one does not, ``done()`` drops it
        as it drops a waiting task (its locks freed, the same reason), and
        the driver tells its worker. None if it cannot start so; nothing
        changes then (no lock is waited for)."""
        t = self._index[key]
        after = self._on_hand(t, on_hand, order_only=False)
        if after is None:
            return None
        if (self._claims[t] or self._uses[t]) and not self._lock_now(t):
            return None
        self._state[t] = _RUNNING
        self._group_running[self._group[t]] += 1
        self._early[t] = None
        return [self._keys[p] for p in after]

    def _on_hand(
        self, t: int, on_hand: Callable[[K], bool], order_only: bool
    ) -> dict[int, None] | None:
        """What ``start_early`` and ``start_after`` both ask: may waiting
        task ``t`` start now in the running group (below its worker limit),
        every unfinished provider of what it still waits for running and
        ``on_hand``? If so, the providers of its requirements (those not
        only ordering it, in tag order); None if not, or if ``order_only``
        and it still waits for a requirement."""
        gi = self._group[t]
        state, tstate, keys = self._state, self._tag_state, self._keys
        if state[t] != _WAITING or gi != self._current:
            return None
        cap = self._group_limit[gi]
        if cap is not None and self._group_running[gi] >= cap:
            return None
        after: dict[int, None] = {}
        for g in _ids(self._req[t]):
            if tstate[g] != _PENDING:
                continue
            ordering = self._tag_order_only[g]
            if order_only and not ordering:
                return None
            for p in _ids(self._tag_providers[g]):
                if state[p] >= _DONE:
                    continue
                if state[p] != _RUNNING or not on_hand(keys[p]):
                    return None
                if not ordering:
                    after[p] = None
        return after

    def put_back(self, key: K) -> None:
        """Undo ``start_after`` for a task that will not run where it went
        (its worker died first): it waits again (or is ready), locks freed."""
        t = self._index[key]
        if t not in self._early or self._state[t] != _RUNNING:
            raise ValueError(f"task {self._describe(key)} was not started early")
        self._unstart(t)
        tstate = self._tag_state
        self._need[t] = n = sum(1 for g in _ids(self._req[t]) if tstate[g] == _PENDING)
        if not n:
            self._make_ready(t)

    def _unstart(self, t: int) -> None:
        """An early task is taken back: it waits, its locks are freed."""
        del self._early[t]
        if self._claims[t] or self._uses[t]:
            self._unlock(t)
        self._group_running[self._group[t]] -= 1
        self._state[t] = _WAITING

    def _begin(self, t: int, gi: int) -> bool:
        """Take the locks of a ready task and mark it running (or park it)."""
        if (self._claims[t] or self._uses[t]) and not self._lock(t):
            return False
        self._state[t] = _RUNNING
        self._group_running[gi] += 1
        return True

    @property
    def ready(self) -> int:
        """About how many tasks of the running group wait only for a worker."""
        if self._current >= len(self._heaps):
            return 0
        return len(self._heaps[self._current])

    def is_running(self, key: K) -> bool:
        """True between ``get_ready``/``start`` and ``done`` for this task."""
        return key in self._index and self._state[self._index[key]] == _RUNNING

    def is_waiting(self, key: K) -> bool:
        """True if the task still waits for a requirement (not ready yet)."""
        return self._state[self._index[key]] == _WAITING

    def unrunnable_reason(self, key: K) -> Unrunnable[K] | None:
        """Why the task can never run, or None if it still may."""
        return self._unrunnable_of.get(self._index[key])

    # ------------------------------------------------------------ internals
    def _make_ready(self, t: int) -> None:
        self._state[t] = _READY
        heapq.heappush(self._heaps[self._group[t]], (self._prio[t], -self._cp[t], t))

    def _provided(self, g: int) -> None:
        """One provider of tag ``g`` has settled it well: once none is left,
        its requirers stop waiting for it."""
        tstate = self._tag_state
        if tstate[g] != _PENDING:
            return
        left = self._tag_left
        n = left[g] - 1
        left[g] = n
        if n:
            return
        tstate[g] = _OK
        ids = self._tag_requirers[g]
        state, need = self._state, self._need
        for r in (ids,) if isinstance(ids, int) else ids:  # _ids(), inline
            if state[r] == _WAITING:
                n = need[r] - 1
                need[r] = n
                if not n:
                    self._make_ready(r)

    def _fail_provides(self, first: int, dropped: list[Unrunnable[K]]) -> None:
        """Fail the pending tags of ``first`` and drop everything behind them."""
        tstate, state = self._tag_state, self._state
        stack = [first]
        while stack:
            x = stack.pop()
            for g in _ids(self._prov[x]):
                if tstate[g] != _PENDING:
                    continue
                if self._tag_order_only[g]:  # its provider has ended: that is all
                    self._provided(g)
                    continue
                tstate[g] = _FAILED
                self._tag_culprit[g] = x
                for r in _ids(self._tag_requirers[g]):
                    if state[r] == _RUNNING and r in self._early:
                        self._unstart(r)  # it did not begin: dropped as if waiting
                    if state[r] == _WAITING:
                        self._drop_via(r, g, dropped)
                        stack.append(r)

    def _drop_via(self, t: int, g: int, dropped: list[Unrunnable[K]]) -> None:
        """Drop ``t`` because its required tag ``g`` failed (no propagation)."""
        x = self._tag_culprit[g]
        tag = self._tag_name[g]
        if self._state[x] == _DROPPED:
            base = self._dropped_base[x]
            reason = f"{tag!r} not provided: {self._describe(self._keys[x])} did not run ({base})"
            root = self._drop_root[x]
        else:
            reason = base = f"{tag!r} not provided: {self._ended_badly[x]}"
            root = x
        self._record_drop(t, reason, base, dropped, tag, x, root)

    def _drop(
        self,
        t: int,
        reason: str,
        dropped: list[Unrunnable[K]],
        culprit: int | None = None,
        tag: str | None = None,
    ) -> None:
        """Drop one task for ``reason`` and everything that depends on it."""
        self._record_drop(t, reason, reason, dropped, tag, culprit, culprit)
        self._fail_provides(t, dropped)

    def _record_drop(
        self,
        t: int,
        reason: str,
        base: str,
        dropped: list[Unrunnable[K]],
        tag: str | None,
        culprit: int | None,
        root: int | None,
    ) -> None:
        self._state[t] = _DROPPED
        self._dropped_base[t] = base
        self._drop_root[t] = root
        keys = self._keys
        u = Unrunnable(
            keys[t],
            reason,
            tag,
            None if culprit is None else keys[culprit],
            None if root is None else keys[root],
        )
        self.unrunnable.append(u)
        self._unrunnable_of[t] = u
        dropped.append(u)
        self._settle(t)

    def _settle(self, t: int) -> None:
        self._unsettled -= 1
        g = self._group[t]
        self._group_open[g] -= 1
        if not self._group_open[g] and g == self._current:
            self._advance()

    def _advance(self) -> None:
        while self._current < len(self._group_open) and not self._group_open[self._current]:
            self._current += 1

    # ------------------------------------------------------------ locks
    def _lock(self, t: int) -> bool:
        """Take all locks of a ready task, or park it on the first conflict."""
        claimed, used, dead = self._claimed, self._used, self._dead
        for r in self._claims[t]:
            if r in dead:
                self._drop_dead(t, r)
                return False
            if r in claimed or used.get(r):
                self._park(t, r, claimer=True)
                return False
        for r in self._uses[t]:
            if dead.get(r, (0, False))[1]:
                self._drop_dead(t, r)
                return False
            if r in claimed or self._claim_waiters.get(r):
                self._park(t, r, claimer=False)
                return False
        self._take_locks(t)
        return True

    def _lock_now(self, t: int) -> bool:
        """Take all locks of a task if every one is free now and nobody
        waits for it (False: nothing taken, nothing parked)."""
        claimed, used, dead, parked = self._claimed, self._used, self._dead, self._parked
        for r in self._claims[t]:
            if r in dead or r in claimed or used.get(r) or parked.get(r):
                return False
        for r in self._uses[t]:
            if r in dead or r in claimed or parked.get(r):
                return False
        self._take_locks(t)
        return True

    def _take_locks(self, t: int) -> None:
        """Hold every lock of a task (each checked free by the caller)."""
        claimed, used = self._claimed, self._used
        for r in self._claims[t]:
            claimed[r] = t
        for r in self._uses[t]:
            used[r] = used.get(r, 0) + 1

    def _park(self, t: int, r: str, claimer: bool) -> None:
        self._parked.setdefault(r, []).append(t)
        if claimer:
            self._claim_waiters[r] = self._claim_waiters.get(r, 0) + 1

    def _wake(self, r: str) -> None:
        self._claim_waiters.pop(r, None)
        for t in self._parked.pop(r, ()):
            if self._state[t] == _READY:
                heapq.heappush(self._heaps[self._group[t]], (self._prio[t], -self._cp[t], t))

    def _unlock(self, t: int) -> None:
        claimed, used = self._claimed, self._used
        for r in self._claims[t]:
            del claimed[r]
            self._wake(r)
        for r in self._uses[t]:
            n = used[r] - 1
            if n:
                used[r] = n
            else:
                del used[r]
                self._wake(r)

    def _kill_locks(self, t: int) -> None:
        """Keep the locks of a task that ended badly held forever."""
        for r in self._claims[t]:
            self._dead[r] = (t, True)
            self._wake(r)
        for r in self._uses[t]:
            self._dead.setdefault(r, (t, False))
            self._wake(r)

    def _drop_dead(self, t: int, r: str) -> None:
        holder = self._dead[r][0]
        reason = (
            f"resource {r!r} stays locked by {self._describe(self._keys[holder])}, "
            "which ended badly without releasing it"
        )
        dropped: list[Unrunnable[K]] = []
        self._drop(t, reason, dropped, culprit=holder)
        self._pending_drops.extend(dropped)

    @property
    def locks_held(self) -> int:
        """How many resources are locked (including ones held for good)."""
        return len(self._claimed) + len(self._used)

    def take_dropped(self) -> list[Unrunnable[K]]:
        """Tasks dropped inside ``get_ready()`` (lock holders that died)."""
        out, self._pending_drops = self._pending_drops, []
        return out
