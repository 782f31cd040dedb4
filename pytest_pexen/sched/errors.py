"""Exceptions and warnings of the engine.

They live in one small module so that the planner, the pools, ``Sched`` and
the pytest plugin can all raise and catch the same classes without importing
each other.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload


class PexenError(Exception):
    """Base of every error pexen raises on its own behalf."""


class PexenWarning(UserWarning):
    """Something was left undone (unrun tasks, locks still held)."""


class SchedulerError(PexenError):
    """An error in how tasks were given to the scheduler."""


class DepcheckError(SchedulerError):
    """Unsatisfiable requirements or a dependency cycle, found before running.

    ``missing`` maps each tag nobody provides to the tasks requiring it;
    ``cycle`` lists the tasks of one cycle (first == last) when there is one.
    """

    def __init__(
        self,
        msg: str,
        missing: dict[str, list[Any]] | None = None,
        cycle: list[Any] | None = None,
    ) -> None:
        super().__init__(msg)
        self.missing = missing or {}
        self.cycle = cycle or []
        # the name of the original pexen attribute, kept for old callers
        self.remain = self.missing


class MutexError(SchedulerError):
    """A task both claims and uses the same resource."""

    def __init__(self, msg: str, task: Any = None) -> None:
        super().__init__(msg)
        self.task = task


class PoolError(SchedulerError):
    """A worker pool was used the wrong way (not started, shut down, ...)."""


class TaskFailError(Exception):
    """A controlled failure: the task failed, but knows what it leaves behind.

    ``deps_ok`` keeps the task's provides satisfied (dependents still run);
    ``locks_ok`` releases its claims and uses. An uncontrolled exception does
    neither, because a task that crashed may have left its resources broken.
    """

    def __init__(self, *args: object, deps_ok: bool = True, locks_ok: bool = True) -> None:
        super().__init__(*args)
        self.deps_ok = deps_ok
        self.locks_ok = locks_ok

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only flags must survive pickling into and out of processes
        return (_rebuild_task_fail, (type(self), self.args, self.deps_ok, self.locks_ok))


def _rebuild_task_fail(
    cls: type[TaskFailError], args: tuple[object, ...], deps_ok: bool, locks_ok: bool
) -> TaskFailError:
    return cls(*args, deps_ok=deps_ok, locks_ok=locks_ok)


F = TypeVar("F", bound=Callable[..., Any])


@overload
def task_fail_wrap(fn: F) -> F: ...
@overload
def task_fail_wrap(
    fn: None = None, *, deps_ok: bool = True, locks_ok: bool = True, reraise: bool = False
) -> Callable[[F], F]: ...
def task_fail_wrap(
    fn: F | None = None, *, deps_ok: bool = True, locks_ok: bool = True, reraise: bool = False
) -> F | Callable[[F], F]:
    """Turn any exception of the wrapped callable into a controlled failure.

    Bare (``@task_fail_wrap``) or with flags. By default the exception is
    replaced by a TaskFailError (the original is its ``__cause__``); with
    ``reraise=True`` the original exception itself reaches the caller, marked
    with ``pexen_deps_ok`` / ``pexen_locks_ok`` attributes that the scheduler
    reads just as it reads a TaskFailError's flags.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except TaskFailError:
                raise
            except Exception as exc:
                if reraise:
                    exc.pexen_deps_ok = deps_ok  # type: ignore[attr-defined]
                    exc.pexen_locks_ok = locks_ok  # type: ignore[attr-defined]
                    raise
                raise TaskFailError(
                    f"{type(exc).__name__}: {exc}", deps_ok=deps_ok, locks_ok=locks_ok
                ) from exc

        return wrapper  # type: ignore[return-value]

    return decorate if fn is None else decorate(fn)


def failure_flags(exc: BaseException | None) -> tuple[bool, bool] | None:
    """``(deps_ok, locks_ok)`` of a controlled failure, None if uncontrolled."""
    if isinstance(exc, TaskFailError):
        return exc.deps_ok, exc.locks_ok
    deps_ok = getattr(exc, "pexen_deps_ok", None)
    if deps_ok is None:
        return None
    return bool(deps_ok), bool(getattr(exc, "pexen_locks_ok", True))
