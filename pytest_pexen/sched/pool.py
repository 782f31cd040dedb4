"""Worker pools that run task callables for ``Sched``.

A pool only executes: it takes ``(task id, callable, shared, kwargs)``,
runs it on a worker and hands back ``(task id, shared, ret, excinfo)``. It
never decides what runs next; that is the planner's job. ``capacity`` is
workers + spare: how many tasks may be in flight, which is what lets a slow
consumer of ``Sched.run()`` throttle execution.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import pickle
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from .errors import PoolError

# what a worker sends back: (task id, shared, return value, excinfo or None)
Result = tuple[int, Any, Any, "ExceptionInfo | None"]


class ExceptionInfo(NamedTuple):
    """The exception of a failed task; parts that could not cross a process
    boundary are None."""

    type: type[BaseException] | None = None
    val: BaseException | None = None
    tb: Any = None


def _call(fn: Callable[..., Any], shared: dict[str, Any], kwargs: dict[str, Any],
          pass_shared: bool) -> Any:
    return fn(shared, **kwargs) if pass_shared else fn(**kwargs)


def _check_workers(workers: int, spare: int) -> None:
    for name, value, low in (("workers", workers, 1), ("spare", spare, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"pool {name} must be an int >= {low}, not {value!r}")


class ThreadWorkerPool:
    """Run tasks on threads of this process (the default pool)."""

    def __init__(self, workers: int = 1, spare: int = 1) -> None:
        _check_workers(workers, spare)
        self.workers = workers
        self.spare = spare
        self._threads: list[threading.Thread] = []
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self._active = 0

    @property
    def capacity(self) -> int:
        """How many tasks may be submitted and not yet collected."""
        return self.workers + self.spare

    def full(self) -> bool:
        return self._active >= self.capacity

    def empty(self) -> bool:
        return self._active <= 0

    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> None:
        if self._threads:
            raise PoolError("cannot start a pool that is already running")
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"pexen-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        get, put = self._tasks.get, self._results.put
        while (item := get()) is not None:
            tid, fn, shared, kwargs, pass_shared = item
            try:
                put((tid, shared, _call(fn, shared, kwargs, pass_shared), None))
            except Exception:
                put((tid, shared, None, ExceptionInfo(*sys.exc_info())))

    def submit(self, tid: int, fn: Callable[..., Any], shared: dict[str, Any],
               kwargs: dict[str, Any], pass_shared: bool) -> None:
        """Queue one task; raises PoolError if it cannot be sent."""
        if not self._threads:
            raise PoolError("the pool is not running")
        self._tasks.put((tid, fn, shared, kwargs, pass_shared))
        self._active += 1

    def get(self) -> Result:
        """Wait for the next finished task."""
        if self._active <= 0:
            raise PoolError("no task is running in the pool")
        result = self._results.get()
        self._active -= 1
        return result

    def shutdown(self, wait: bool = True) -> None:
        """Let the workers finish what they have and stop (restartable)."""
        for _ in self._threads:
            self._tasks.put(None)
        if wait:
            for thread in self._threads:
                thread.join()
        self._threads = []


def _process_work(tasks: Any, results: Any, current: Any, slot: int) -> None:
    """The loop of a pool process: everything crosses as pickled bytes, so a
    value that cannot be pickled becomes a clear error instead of a message
    printed by a queue feeder thread. ``current[slot]`` tells the parent
    which task this process runs, should it die."""
    while (item := tasks.get()) is not None:
        tid, payload = item
        current[slot] = tid
        shared: Any = None
        try:
            fn, shared, kwargs, pass_shared = pickle.loads(payload)
            ret = _call(fn, shared, kwargs, pass_shared)
            try:
                out = pickle.dumps((tid, shared, ret, None))
            except Exception as exc:
                raise PoolError(
                    f"the return value or shared state of {fn!r} cannot be pickled: {exc}"
                ) from None
        except Exception:
            etype, val, _ = sys.exc_info()
            try:
                out = pickle.dumps((tid, shared, None, ExceptionInfo(etype, val, None)))
            except Exception:
                try:
                    out = pickle.dumps((tid, None, None, ExceptionInfo(etype, val, None)))
                except Exception:
                    out = pickle.dumps((tid, None, None, ExceptionInfo(etype, None, None)))
        results.put(out)
        current[slot] = -1


class ProcessWorkerPool(ThreadWorkerPool):
    """Run tasks in separate processes (tasks, return values and shared state
    must be picklable). Processes are started with ``forkserver`` where the
    platform has it, so a multi-threaded parent (pytest, this very pool) is
    never forked. A process that dies fails only the task it was running
    (a PoolError in its excinfo) and is replaced."""

    def __init__(self, workers: int = 1, spare: int = 1) -> None:
        super().__init__(workers, spare)
        methods = multiprocessing.get_all_start_methods()
        self._ctx: Any = multiprocessing.get_context(
            "forkserver" if "forkserver" in methods else "spawn")
        self._procs: list[Any] = []
        self._ptasks: Any = None
        self._presults: Any = None
        self._current: Any = None

    def alive(self) -> bool:
        return any(p.is_alive() for p in self._procs)

    def start(self) -> None:
        if self._procs:
            raise PoolError("cannot start a pool that is already running")
        self._ptasks = self._ctx.SimpleQueue()
        self._presults = self._ctx.SimpleQueue()
        self._current = self._ctx.Array("q", [-1] * self.workers, lock=False)
        self._procs = [self._spawn(n) for n in range(self.workers)]

    def _spawn(self, slot: int) -> Any:
        proc = self._ctx.Process(
            target=_process_work, args=(self._ptasks, self._presults, self._current, slot),
            name=f"pexen-worker-{slot}", daemon=True)
        proc.start()
        return proc

    def submit(self, tid: int, fn: Callable[..., Any], shared: dict[str, Any],
               kwargs: dict[str, Any], pass_shared: bool) -> None:
        if not self._procs:
            raise PoolError("the pool is not running")
        try:
            payload = pickle.dumps((fn, shared, kwargs, pass_shared))
        except Exception as exc:
            raise PoolError(
                f"task {fn!r} cannot be sent to a worker process, it does not pickle: {exc} "
                "(use a module-level function, or ThreadWorkerPool)"
            ) from None
        self._ptasks.put((tid, payload))
        self._active += 1

    def get(self) -> Result:
        if self._active <= 0:
            raise PoolError("no task is running in the pool")
        reader = self._presults._reader
        while not reader.poll():
            # wake up when a result arrives or a worker process dies
            multiprocessing.connection.wait([reader, *(p.sentinel for p in self._procs)])
            if reader.poll():
                break
            for slot, proc in enumerate(self._procs):
                if proc.is_alive():
                    continue
                tid = self._current[slot]
                self._current[slot] = -1
                self._procs[slot] = self._spawn(slot)
                if tid >= 0:
                    self._active -= 1
                    error = PoolError(f"worker process {proc.name} died (exit code "
                                      f"{proc.exitcode}) while running this task")
                    return tid, None, None, ExceptionInfo(PoolError, error, None)
        result: Result = pickle.loads(self._presults.get())
        self._active -= 1
        return result

    def shutdown(self, wait: bool = True) -> None:
        for _ in self._procs:
            self._ptasks.put(None)
        if wait:
            for proc in self._procs:
                proc.join()
        self._procs = []
