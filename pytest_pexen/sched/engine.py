"""``Sched``: the original pexen API, running plain callables on a pool.

``Sched`` is a driver of the planner: it turns callables and their
``SchedMeta`` into planner tasks, sends what the planner says is ready to a
worker pool, feeds results back, passes shared state from providers to
their direct dependents, and yields ``TaskRes`` as tasks finish. Because new
tasks are only submitted inside the generator, a consumer that holds on to a
result throttles execution to the pool's spare capacity.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import types
import warnings
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, NamedTuple

from . import meta
from .errors import PexenWarning, PoolError, failure_flags
from .planner import Planner, TaskRow, Unrunnable
from .pool import ExceptionInfo, Result, ThreadWorkerPool

Pool = ThreadWorkerPool  # ProcessWorkerPool is a subclass


class TaskRes(NamedTuple):
    """One finished task: the callable, its shared dict at its end, what it
    returned and, if it raised, the exception."""

    task: Callable[..., Any]
    shared: dict[str, Any] = {}  # noqa: RUF012 - the original pexen default, never mutated
    ret: Any = None
    excinfo: ExceptionInfo | None = None


def _pass_shared(fn: Callable[..., Any], kwargs: dict[str, Any]) -> bool:
    """Does the callable take a positional argument (the shared dict)?"""
    if type(fn) is types.FunctionType:
        code = fn.__code__
        if code.co_flags & inspect.CO_VARARGS:
            return True
        count = code.co_argcount
        return bool(count) and any(n not in kwargs for n in code.co_varnames[:count])
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(
        p.kind == inspect.Parameter.VAR_POSITIONAL
        or (p.kind in positional and p.name not in kwargs)
        for p in params
    )


def _task_name(fn: Callable[..., Any]) -> str:
    callpath = meta.retrieve_meta(fn).callpath
    if callpath:
        return "/".join(callpath)
    return getattr(fn, "__qualname__", None) or repr(fn)


def _name_of(tasks: list[Callable[..., Any]], tid: int) -> str:
    return _task_name(tasks[tid])


def _checked(tasks: Iterable[Callable[..., Any]]) -> list[Callable[..., Any]]:
    if isinstance(tasks, (str, bytes)) or not isinstance(tasks, Iterable):
        raise TypeError(f"tasks must be an iterable of callables, not {type(tasks).__name__}")
    out = list(tasks)
    for fn in out:
        if not callable(fn):
            raise TypeError(f"a pexen task must be callable, got {fn!r}")
    return out


class Sched:
    """Schedule callables by their metadata and run them on worker pools."""

    def __init__(self, tasks: Iterable[Callable[..., Any]] = ()) -> None:
        # each group: (its tasks, its pool or None for run()'s pool)
        self._groups: list[tuple[list[Callable[..., Any]], Pool | None]] = [([], None)]
        self._default_shared: dict[str, Any] = {}
        self._run: _Run | None = None
        self._last: _Run | None = None
        self.add_tasks(tasks)

    def add_tasks(self, tasks: Iterable[Callable[..., Any]]) -> None:
        """Add tasks to the first group; allowed while ``run()`` iterates,
        in which case they are checked at once (DepcheckError) and join the
        group that is running."""
        new = _checked(tasks)
        if self._run is not None:
            self._run.add(new)
        known = set(map(id, self._groups[0][0]))
        self._groups[0][0].extend(fn for fn in new if id(fn) not in known)

    def add_group(self, tasks: Iterable[Callable[..., Any]], pool: Pool | None = None) -> None:
        """Add a group of exclusivity: groups run one at a time, in the order
        added, each on its own pool (default: the pool given to ``run()``)."""
        if self._run is not None:
            raise RuntimeError("add_group() cannot be called while run() is iterating")
        if pool is not None and not isinstance(pool, ThreadWorkerPool):
            raise TypeError(f"pool must be a ThreadWorkerPool or ProcessWorkerPool, not {pool!r}")
        self._groups.append((_checked(tasks), pool))

    def add_shared(self, **kwargs: Any) -> None:
        """Preset keys in every task's shared dict."""
        self._default_shared.update(kwargs)

    def run(self, pool: Pool | None = None) -> Iterator[TaskRes]:
        """Check the graph (raising DepcheckError or MutexError now, before
        anything runs) and return an iterator of results as tasks finish."""
        if self._run is not None:
            raise RuntimeError("run() is already iterating")
        if pool is not None and not isinstance(pool, ThreadWorkerPool):
            raise TypeError(f"pool must be a ThreadWorkerPool or ProcessWorkerPool, not {pool!r}")
        run = self._last = _Run(self, pool)
        return self._iterate(run)

    @property
    def unrunnable(self) -> list[Unrunnable[Callable[..., Any]]]:
        """Tasks of the latest run that could never run, with the reason."""
        if self._last is None:
            return []
        tasks = self._last.tasks
        return [
            Unrunnable(
                tasks[u.task],
                u.reason,
                u.tag,
                None if u.culprit is None else tasks[u.culprit],
                None if u.root is None else tasks[u.root],
            )
            for u in self._last.planner.unrunnable
        ]

    def _iterate(self, run: _Run) -> Iterator[TaskRes]:
        self._run = run
        try:
            yield from run.results()
        finally:
            self._run = None
            run.close()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the garbage collector while the graph is built, and file what
    was built with the old objects.

    Building a graph of tens of thousands of tasks allocates only long-lived
    objects, so the collections it triggers free nothing; a full collection
    in the middle of it walked every task's metadata and was a third of the
    set-up time of a 50,000-task run (benchmarks/engine.py). Once built,
    those objects (some 200,000 at 50,000 tasks) would all sit in the young
    generation, and the first allocation after the pause would walk them
    all, to free nothing again (100 ms there). ``gc.freeze()`` then
    ``gc.unfreeze()`` moves every tracked object to the oldest generation
    without walking any; skipped if the program froze objects itself (an
    unfreeze would undo that)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        gc.enable()


class _Run:
    """The state of one ``Sched.run()``.

    It refers to nothing that refers back to it (not the Sched, which keeps
    its latest run): when the run is dropped, so are its pools, at once,
    without waiting for the garbage collector. A process pool's semaphores
    freed by a collection that happens to run inside multiprocessing's
    resource tracker make Python 3.12 report a reentrant call.
    """

    def __init__(self, sched: Sched, pool: Pool | None) -> None:
        self.default_shared = sched._default_shared  # the dict add_shared() updates
        self.default_pool = pool
        self.tasks: list[Callable[..., Any]] = []
        self.kwargs: list[dict[str, Any]] = []
        self.pass_shared: list[bool] = []
        self.planner: Planner[int] = Planner(describe=functools.partial(_name_of, self.tasks))
        self.pools: dict[Hashable, Pool | None] = {}
        with _gc_paused():
            for n, (tasks, group_pool) in enumerate(sched._groups):
                name = ("pexen group", n) if n else None
                self.planner.add_group(name)
                self.pools[name] = group_pool
                self._add(tasks, name)
            self.planner.prepare()
        self.shared: dict[int, dict[str, Any]] = {}
        self.pool: Pool | None = None
        self.pool_group: Hashable = ("no group yet",)
        self.capacity = 0  # of self.pool
        self.inflight = 0
        self.added = False  # tasks were added while a result was out
        self.unsent: deque[Result] = deque()

    def _add(self, tasks: list[Callable[..., Any]], group: Hashable) -> None:
        self.planner.add_many(self._rows(tasks, group))

    def _rows(self, tasks: list[Callable[..., Any]], group: Hashable) -> Iterator[TaskRow[int]]:
        """The planner's row of each task, its callable and call recorded
        here as the planner takes the row (no list of rows is made: at
        50,000 tasks that list was a tenth of the set-up time)."""
        add_task, add_kwargs = self.tasks.append, self.kwargs.append
        add_pass_shared, retrieve = self.pass_shared.append, meta.retrieve_meta
        tid = len(self.tasks)
        for fn in tasks:
            m = retrieve(fn)
            add_task(fn)
            add_kwargs(m.kwargs)
            add_pass_shared(_pass_shared(fn, m.kwargs))
            # one machine: host locks are global ones (SchedMeta.all_claims, inline)
            claims, uses = m.claims, m.uses
            if m.host_claims:
                claims = claims | m.host_claims
            if m.host_uses:
                uses = uses | m.host_uses
            yield (
                tid,
                m.requires,
                m.provides,
                claims,
                uses,
                m.priority,
                group if m.group is None else m.group,
                None,
            )
            tid += 1

    def add(self, tasks: list[Callable[..., Any]]) -> None:
        before = len(self.tasks)
        with _gc_paused():
            self._add(tasks, None)
            try:
                self.planner.prepare()
            except Exception:
                del self.tasks[before:], self.kwargs[before:], self.pass_shared[before:]
                raise
        self.added = True

    def _pool_for(self, group: Hashable) -> Pool:
        pool = self.pools.get(group) or self.default_pool
        if pool is None:
            pool = self.default_pool = ThreadWorkerPool()
        return pool

    def _fill(self) -> None:
        """Submit ready tasks up to the pool's capacity; between groups (when
        the last task of one is back), switch to the next group's pool."""
        planner = self.planner
        group = planner.current_group
        if group != self.pool_group:
            if self.inflight:
                return
            if self.pool is not None:
                self.pool.shutdown(wait=True)
            self.pool_group = group
            self.pool = self._pool_for(group)
            self.pool.start()
            self.capacity = self.pool.capacity
        free = self.capacity - self.inflight
        if free <= 0:
            return
        pool = self.pool
        assert pool is not None
        tasks, kwargs, pass_shared = self.tasks, self.kwargs, self.pass_shared
        default, shared_of = self.default_shared, self.shared
        for tid in planner.get_ready(free):
            shared = shared_of.pop(tid, None)
            if shared is None:
                shared = dict(default)
            try:
                pool.submit(tid, tasks[tid], shared, kwargs[tid], pass_shared[tid])
            except PoolError as exc:
                self.unsent.append((tid, shared, None, ExceptionInfo(PoolError, exc, None)))
                continue
            self.inflight += 1

    def results(self) -> Iterator[TaskRes]:
        planner, tasks, make_result = self.planner, self.tasks, tuple.__new__
        self._fill()
        while self.inflight or self.unsent:
            if self.unsent:
                tid, shared, ret, excinfo = self.unsent.popleft()
                flags: tuple[bool, bool] | None = (False, True)
            else:
                assert self.pool is not None
                tid, shared, ret, excinfo = self.pool.get()
                self.inflight -= 1
                flags = None if excinfo is None else failure_flags(excinfo.val)
            if excinfo is None:
                planner.done(tid)
                well = True
            elif flags is None:
                planner.done(
                    tid,
                    ok=False,
                    deps_ok=False,
                    locks_ok=False,
                    outcome="raised " + getattr(excinfo.type, "__name__", "an exception"),
                )
                well = False
            else:
                well = flags[0]
                planner.done(tid, ok=False, deps_ok=flags[0], locks_ok=flags[1], outcome="failed")
            if well and shared:
                for dep in planner.dependents(tid):
                    self.shared.setdefault(dep, dict(self.default_shared)).update(shared)
            self._fill()
            # TaskRes(...) without its Python-level __new__: one frame less per result
            yield make_result(TaskRes, (tasks[tid], {} if shared is None else shared, ret, excinfo))
            if self.added:  # by add_tasks() while the caller held the result
                self.added = False
                self._fill()
        if planner.active:  # pragma: no cover - the planner never stalls
            raise RuntimeError("pexen: tasks remain but none can start")
        left = len(planner.unrunnable)
        if left:
            warnings.warn(
                f"{left} tasks skipped due to unmet deps or held locks caused by parent "
                "exception (see Sched.unrunnable)",
                PexenWarning,
                stacklevel=3,
            )
        if planner.locks_held:
            warnings.warn(
                f"{planner.locks_held} locks still held at exit due to parent exception",
                PexenWarning,
                stacklevel=3,
            )

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=not self.inflight)
            self.pool = None
