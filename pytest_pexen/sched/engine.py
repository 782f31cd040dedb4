"""``Sched``: the original pexen API, running plain callables on a pool.

``Sched`` is a driver of the planner: it turns callables and their
``SchedMeta`` into planner tasks, sends what the planner says is ready to a
worker pool, feeds results back, passes shared state from providers to
their direct dependents, and yields ``TaskRes`` as tasks finish. A thread
pool's worker that finishes a task records it and starts the next ready
task itself (``_Run._follow``), unless the consumer holds a result and the
pool's spare starts are used up: a consumer that holds on to a result
throttles execution, and short tasks do not wait for the consumer's thread
between one and the next.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
import warnings
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, NamedTuple

from . import meta
from .errors import PexenWarning, PoolError, failure_flags
from .gcpause import gc_paused
from .planner import Planner, TaskRow, Unrunnable
from .pool import ExceptionInfo, Item, Result, ThreadWorkerPool

Pool = ThreadWorkerPool  # ProcessWorkerPool is a subclass


class TaskRes(NamedTuple):
    """One finished task: the callable, its shared dict at its end, what it
    returned and, if it raised, the exception."""

    task: Callable[..., Any]
    shared: dict[str, Any] = {}  # noqa: RUF012 - the original pexen default, never mutated
    ret: Any = None
    excinfo: ExceptionInfo | None = None


def _pass_shared(fn: Callable[..., Any], kwargs: dict[str, Any]) -> bool:
    """Does the callable take a positional argument (the shared dict)? A
    decorated one (``functools.wraps``, ``task_fail_wrap``) by the signature
    of what it wraps: the wrapper's ``*args`` would take anything."""
    if type(fn) is types.FunctionType and "__wrapped__" not in fn.__dict__:
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
        # two run() iterators of one Sched made before either began: the
        # second to begin would hold the same locks again, at the same time
        if self._run is not None:
            raise RuntimeError("run() is already iterating")
        self._last = self._run = run
        try:
            yield from run.results()
        finally:
            self._run = None
            run.close()


class _Added(int):
    """The name of the n-th group added with ``add_group``: no metadata
    group name (a string) can be the same, and messages say which it is."""

    def __repr__(self) -> str:
        return f"#{int(self)} (add_group)"


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
        with gc_paused():
            # every group added with add_group first: a group named in some
            # task's metadata is registered when the planner first meets it,
            # so it runs after these (docs/engine.md), not before the later ones
            names = [_Added(n) if n else None for n in range(len(sched._groups))]
            for name, (_, group_pool) in zip(names, sched._groups, strict=True):
                self.planner.add_group(name)
                self.pools[name] = group_pool
            for name, (tasks, _) in zip(names, sched._groups, strict=True):
                self._add(tasks, name)
            self.planner.prepare()
        self.shared: dict[int, dict[str, Any]] = {}
        self.pool: Pool | None = None
        self.pool_group: Hashable = ("no group yet",)
        self.capacity = 0  # of self.pool
        self.inflight = 0  # submitted to self.pool, result not yet recorded
        # the pool hands results over on its workers' threads (see _follow)
        self.following = False
        self.workers = 0  # of self.pool
        # Everything from here on, and the planner, is shared with the
        # workers' threads while a following pool runs: under ``lock``.
        self.lock = threading.Lock()
        self.ready: deque[TaskRes] = deque()  # recorded, not yet yielded
        self.holding = False  # the caller holds a result (the generator waits)
        self.spare_left = 0  # tasks that may still start while it does
        self.waiting = False  # the caller waits for a result: ``wake`` wakes it
        self.wake = threading.Lock()
        self.wake.acquire()
        self.error: BaseException | None = None  # raised in a worker's _follow
        self.stopped = False

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
        with self.lock, gc_paused():
            self._add(tasks, None)
            try:
                self.planner.prepare()
            except Exception:
                del self.tasks[before:], self.kwargs[before:], self.pass_shared[before:]
                raise

    def _pool_for(self, group: Hashable) -> Pool:
        pool = self.pools.get(group) or self.default_pool
        if pool is None:
            pool = self.default_pool = ThreadWorkerPool()
        return pool

    def _fill(self) -> None:
        """Submit ready tasks up to the pool's capacity (a following pool's:
        one a worker, its workers start the rest themselves); between
        groups (when the last task of one is back), switch to the next
        group's pool. Under ``lock``."""
        planner = self.planner
        group = planner.current_group
        if group != self.pool_group:
            if self.inflight:
                return
            if self.pool is not None:
                self.pool.shutdown(wait=True)
            self.pool_group = group
            self.pool = self._pool_for(group)
            self.following = self.pool.follows
            self.pool.start(self._follow if self.following else None)
            self.capacity, self.workers = self.pool.capacity, self.pool.workers
        free = (self.workers if self.following else self.capacity) - self.inflight
        if free <= 0:
            return
        pool = self.pool
        assert pool is not None
        for tid in planner.get_ready(free):
            item = self._item(tid)
            try:
                pool.submit(*item)
            except PoolError as exc:  # it did not run: its locks are free, its provides unmet
                failed = (tid, item[2], None, ExceptionInfo(PoolError, exc, None))
                self.ready.append(self._record(failed, (False, True)))
                continue
            self.inflight += 1

    def _item(self, tid: int) -> Item:
        """What a worker runs for task ``tid``: its shared dict is made now."""
        shared = self.shared.pop(tid, None)
        if shared is None:
            shared = dict(self.default_shared)
        return (tid, self.tasks[tid], shared, self.kwargs[tid], self.pass_shared[tid])

    def _record(self, result: Result, flags: tuple[bool, bool] | None = None) -> TaskRes:
        """Tell the planner how a task ended, pass its shared state on to its
        dependents, and make its TaskRes. Under ``lock``. ``flags``: the
        failure's ``(deps_ok, locks_ok)`` when not the exception's own (a
        task that could not be sent)."""
        tid, shared, ret, excinfo = result
        planner = self.planner
        if excinfo is None:
            planner.done(tid)
            well = True
        else:
            if flags is None:
                flags = failure_flags(excinfo.val)
            if flags is None:
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
        # TaskRes(...) without its Python-level __new__: one frame less per result
        return tuple.__new__(
            TaskRes, (self.tasks[tid], {} if shared is None else shared, ret, excinfo)
        )

    def _follow(self, result: Result) -> Item | None:
        """A following pool's worker has a result (on its thread): record it
        for the caller, and start the next ready task on the same worker if
        the caller is not holding a result, or the pool's spare ones allow
        it (the throttle ``Sched.run()`` promises)."""
        item = None
        with self.lock:
            try:
                self.inflight -= 1
                self.ready.append(self._record(result))
                if (
                    not self.stopped
                    and (not self.holding or self.spare_left > 0)
                    and self.planner.current_group == self.pool_group
                ):
                    ready = self.planner.get_ready(1)
                    if ready:
                        item = self._item(ready[0])
                        self.inflight += 1
                        if self.holding:
                            self.spare_left -= 1
            except BaseException as exc:  # never lost in a worker thread: the caller raises it
                self.error = exc
                item = None
            signal, self.waiting = self.waiting, False
        if signal:
            self.wake.release()
        return item

    def results(self) -> Iterator[TaskRes]:
        lock, ready = self.lock, self.ready
        while True:
            with lock:
                self.holding = False
                if self.error is not None:
                    raise self.error
                self._fill()
                if ready:
                    result = ready.popleft()
                    # the caller holds it: only the pool's spare tasks may start meanwhile
                    self.holding = True
                    self.spare_left = self.capacity - self.workers
                elif not self.inflight:
                    break
                else:
                    result = None
                    self.waiting = self.following
            if result is not None:
                yield result
            elif self.following:
                self.wake.acquire()
            else:
                assert self.pool is not None
                got = self.pool.get()
                with lock:
                    self.inflight -= 1
                    ready.append(self._record(got))
        planner = self.planner
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
        with self.lock:
            self.stopped = True
        if self.pool is not None:
            self.pool.shutdown(wait=not self.inflight)
            self.pool = None
