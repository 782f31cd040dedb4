"""Worker pools that run task callables for ``Sched``.

A pool only executes: it takes ``(task id, callable, shared, kwargs)``,
runs it on a worker and hands back ``(task id, shared, ret, excinfo)``. It
never decides what runs next; that is the planner's job. ``capacity`` is
workers + spare: how many tasks may be in flight, which is what lets a slow
consumer of ``Sched.run()`` throttle execution (with ``follow``, ``spare``
is how many may start while the consumer holds a result).

A thread pool can also hand each result to its driver on the worker's own
thread (``start(follow)``), which answers with the task that worker runs
next: see ``ThreadWorkerPool``.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import sys
import threading
from collections.abc import Callable
from multiprocessing.context import BaseContext
from typing import Any, NamedTuple, NoReturn

from .errors import PoolError, failure_flags

# what a worker sends back: (task id, shared, return value, excinfo or None)
Result = tuple[int, Any, Any, "ExceptionInfo | None"]


class ExceptionInfo(NamedTuple):
    """The exception of a failed task; parts that could not cross a process
    boundary are None."""

    type: type[BaseException] | None = None
    val: BaseException | None = None
    tb: Any = None


def _call(
    fn: Callable[..., Any], shared: dict[str, Any], kwargs: dict[str, Any], pass_shared: bool
) -> Any:
    return fn(shared, **kwargs) if pass_shared else fn(**kwargs)


def _check_workers(workers: int, spare: int) -> None:
    for name, value, low in (("workers", workers, 1), ("spare", spare, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"pool {name} must be an int >= {low}, not {value!r}")


# a task as a worker takes it: (task id, callable, shared, kwargs, pass shared)
Item = tuple[int, Callable[..., Any], Any, dict[str, Any], bool]
Follow = Callable[[Result], "Item | None"]


class ThreadWorkerPool:
    """Run tasks on threads of this process (the default pool).

    Started with ``follow``, each result goes to ``follow`` on the thread
    of the worker that ran it, not to ``get()``, and the task ``follow``
    returns (if any) runs next on that worker. A driver that picks the next
    task there saves a hand-off between threads per task: one to the
    consumer's thread and one back, each a wake-up of a thread that must
    then wait for the GIL. With them, 50,000 no-op tasks ran at 0.58x the
    rate of a bare ``ThreadPoolExecutor(4).map`` (benchmarks/engine.py)."""

    # the workers can run a driver's ``follow`` (a process pool's cannot)
    follows = True

    def __init__(self, workers: int = 1, spare: int = 1) -> None:
        _check_workers(workers, spare)
        self.workers = workers
        self.spare = spare
        self._threads: list[threading.Thread] = []
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self._active = 0
        self._following = False

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

    def start(self, follow: Follow | None = None) -> None:
        """Start the workers; with ``follow``, results go to it (see the
        class), and ``get()`` has none."""
        if self._threads:
            raise PoolError("cannot start a pool that is already running")
        self._following = follow is not None
        for n in range(self.workers):
            thread = threading.Thread(
                target=self._work, args=(follow,), name=f"pexen-worker-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _work(self, follow: Follow | None) -> None:
        get, put = self._tasks.get, self._results.put
        item = get()
        while item is not None:
            tid, fn, shared, kwargs, pass_shared = item
            result: Result
            try:  # _call(), inline: one call less per task
                result = (tid, shared, fn(shared, **kwargs) if pass_shared else fn(**kwargs), None)
            except BaseException:  # sys.exit() in a task too: the thread would end, the run hang
                result = (tid, shared, None, ExceptionInfo(*sys.exc_info()))
            if follow is None:
                put(result)
                item = get()
            else:
                item = follow(result) or get()

    def submit(
        self,
        tid: int,
        fn: Callable[..., Any],
        shared: dict[str, Any],
        kwargs: dict[str, Any],
        pass_shared: bool,
    ) -> None:
        """Queue one task; raises PoolError if it cannot be sent."""
        if not self._threads:
            raise PoolError("the pool is not running")
        self._tasks.put((tid, fn, shared, kwargs, pass_shared))
        if not self._following:
            self._active += 1

    def get(self) -> Result:
        """Wait for the next finished task."""
        if self._following:
            raise PoolError("the pool hands its results to its follow function")
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


# ``current[slot]`` of a worker process: the task it runs, or one of these
_STARTING, _IDLE = -2, -1
# the exit code of a worker that found itself starting a pool while it
# re-imported the parent's main script (see _unguarded_main)
_EXIT_UNGUARDED = 87
_WORKER_NAME = "pexen-worker-"


def _unguarded_main() -> bool:
    """True in one of our worker processes while it re-imports the parent's
    main script, if that script starts a pool at import time.

    The ``spawn`` and ``forkserver`` start methods re-import the main script
    in each worker (to find the task functions defined there). A script
    without an ``if __name__ == "__main__":`` guard then runs again in every
    worker and starts a pool there, which multiprocessing forbids (a
    RuntimeError with a long traceback per worker). ``_inheriting`` is the
    flag multiprocessing itself checks for that; the worker name keeps
    processes that are not ours out of it."""
    process = multiprocessing.current_process()
    return bool(getattr(process, "_inheriting", False)) and process.name.startswith(_WORKER_NAME)


def _describe(exc: BaseException) -> str:
    """``module.Class: message`` of an exception, as text (never raises)."""
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        # a worker knows the parent's main script as __mp_main__
        module = "__main__" if cls.__module__ == "__mp_main__" else cls.__module__
        name = f"{module}.{name}"
    try:
        message = str(exc)
    except Exception:
        message = "<message unavailable>"
    return f"{name}: {message}" if message else name


def _failure(shared: Any, exc: Exception) -> tuple[bytes | None, str, tuple[bool, bool] | None]:
    """What a worker sends back for a task that raised: the pickled
    ``(shared, None, ExceptionInfo)`` if it pickles (else None), the
    exception as text and its failure flags, so that the parent can still
    report it when the exception cannot cross (a class defined inside a
    function, a constructor that unpickling cannot call, ...)."""
    body = None
    info = ExceptionInfo(type(exc), exc, None)
    for attempt in ((shared, None, info), (None, None, info)):
        try:
            body = pickle.dumps(attempt)
            break
        except Exception:
            continue
    return body, _describe(exc), failure_flags(exc)


def _process_work(tasks: Any, results: Any, current: Any, slot: int) -> None:
    """The loop of a pool process: everything crosses as pickled bytes, so a
    value that cannot be pickled becomes a clear error instead of a message
    printed by a queue feeder thread. ``current[slot]`` tells the parent
    that this process is up, and which task it runs should it die."""
    current[slot] = _IDLE
    while (item := tasks.get()) is not None:
        tid, payload = item
        current[slot] = tid
        shared: Any = None
        out: tuple[int, bytes | None, str | None, tuple[bool, bool] | None]
        try:
            fn, shared, kwargs, pass_shared = pickle.loads(payload)
            ret = _call(fn, shared, kwargs, pass_shared)
            try:
                out = (tid, pickle.dumps((shared, ret, None)), None, None)
            except Exception as exc:
                raise PoolError(
                    f"the return value or shared state of {fn!r} cannot be pickled: {exc}"
                ) from None
        except Exception as exc:
            out = (tid, *_failure(shared, exc))
        results.put(pickle.dumps(out))
        current[slot] = _IDLE


def _context(mp_context: str | BaseContext | None) -> BaseContext:
    """The multiprocessing context of a pool (see ProcessWorkerPool)."""
    if mp_context is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if isinstance(mp_context, str):
        methods = multiprocessing.get_all_start_methods()
        if mp_context not in methods:
            raise ValueError(
                f"mp_context: unknown start method {mp_context!r} "
                f"(this platform has {', '.join(methods)})"
            )
        return multiprocessing.get_context(mp_context)
    if isinstance(mp_context, BaseContext):
        return mp_context
    raise TypeError(
        f"mp_context must be a start method name or a multiprocessing context, not {mp_context!r}"
    )


class ProcessWorkerPool(ThreadWorkerPool):
    """Run tasks in separate processes (tasks, return values and shared state
    must be picklable).

    ``mp_context`` is a start method name (``"spawn"``, ``"forkserver"``,
    ``"fork"``) or a multiprocessing context, as for
    ``concurrent.futures.ProcessPoolExecutor``. The default is
    ``forkserver`` where the platform has it, else ``spawn``: never ``fork``,
    because forking a multi-threaded parent (pytest, a consumer with threads
    of its own) can leave a lock held forever in the child, and Python 3.12+
    warns about it. Both re-import the main script in each worker, so a
    script must start the pool under ``if __name__ == "__main__":``;
    without it the pool fails at once with a PoolError saying so.

    A process that dies while running a task fails only that task (a
    PoolError in its excinfo) and is replaced; one that dies before it is up
    (before it could run any task) is a failure of the pool: a PoolError
    from ``get()``, no replacement.
    """

    follows = False

    def __init__(
        self, workers: int = 1, spare: int = 1, mp_context: str | BaseContext | None = None
    ) -> None:
        super().__init__(workers, spare)
        self._ctx: Any = _context(mp_context)
        self._procs: list[Any] = []
        self._ptasks: Any = None
        self._presults: Any = None
        self._current: Any = None

    def alive(self) -> bool:
        return any(p.is_alive() for p in self._procs)

    def start(self, follow: Follow | None = None) -> None:
        if follow is not None:
            raise PoolError("a process pool's workers cannot run a follow function")
        if _unguarded_main():
            # quietly: the parent's PoolError says what happened, once
            os._exit(_EXIT_UNGUARDED)
        if self._procs:
            raise PoolError("cannot start a pool that is already running")
        self._ptasks = self._ctx.SimpleQueue()
        self._presults = self._ctx.SimpleQueue()
        self._current = self._ctx.Array("q", [_STARTING] * self.workers, lock=False)
        self._procs = [self._spawn(n) for n in range(self.workers)]

    def _spawn(self, slot: int) -> Any:
        self._current[slot] = _STARTING
        proc = self._ctx.Process(
            target=_process_work,
            args=(self._ptasks, self._presults, self._current, slot),
            name=f"{_WORKER_NAME}{slot}",
            daemon=True,
        )
        proc.start()
        return proc

    def submit(
        self,
        tid: int,
        fn: Callable[..., Any],
        shared: dict[str, Any],
        kwargs: dict[str, Any],
        pass_shared: bool,
    ) -> None:
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
        if not self._procs:
            raise PoolError("the pool is not running")
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
                if tid == _STARTING:
                    self._fail(proc)
                self._current[slot] = _IDLE
                self._procs[slot] = self._spawn(slot)
                if tid >= 0:
                    self._active -= 1
                    error = PoolError(
                        f"worker process {proc.name} died (exit code "
                        f"{proc.exitcode}) while running this task"
                    )
                    return tid, None, None, ExceptionInfo(PoolError, error, None)
        tid, body, text, flags = pickle.loads(self._presults.get())
        self._active -= 1
        return self._decode(tid, body, text, flags)

    @staticmethod
    def _decode(
        tid: int, body: bytes | None, text: str | None, flags: tuple[bool, bool] | None
    ) -> Result:
        """A worker's message as a result; an exception that cannot cross
        becomes a PoolError that names it (with its failure flags)."""
        why = "it cannot be pickled"
        if body is not None:
            try:
                shared, ret, excinfo = pickle.loads(body)
                return tid, shared, ret, excinfo
            except Exception as exc:
                why = f"it cannot be unpickled here: {_describe(exc)}"
        if text is None:
            error = PoolError(
                f"the return value or shared state of the task cannot be unpickled here: {why}"
            )
        else:
            error = PoolError(
                f"the task raised {text} (the exception cannot cross back from "
                f"the worker process: {why})"
            )
        if flags is not None:  # a controlled failure stays one
            error.pexen_deps_ok, error.pexen_locks_ok = flags  # type: ignore[attr-defined]
        return tid, None, None, ExceptionInfo(PoolError, error, None)

    def _fail(self, dead: Any) -> NoReturn:
        """A worker that died before it was up: stop the pool, say why."""
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self._procs:
            proc.join()
        self._release()
        self._active = 0
        if dead.exitcode == _EXIT_UNGUARDED:
            raise PoolError(
                "the worker processes re-import the main script (start method "
                f"{self._ctx.get_start_method()!r}) and this script starts a pool when it is "
                "imported: put the code that runs the tasks under "
                '\'if __name__ == "__main__":\' (or use mp_context="fork" where the '
                "platform has it)"
            )
        raise PoolError(
            f"worker process {dead.name} exited (exit code {dead.exitcode}) before it could "
            "run any task, see its output above; the pool is stopped"
        )

    def shutdown(self, wait: bool = True) -> None:
        for _ in self._procs:
            self._ptasks.put(None)
        if wait:
            for proc in self._procs:
                proc.join()
        self._release()

    def _release(self) -> None:
        """Drop the processes, queues and shared array now (the workers
        keep their own ends), rather than leave their semaphores to the
        garbage collector."""
        self._procs = []
        self._ptasks = self._presults = self._current = None
