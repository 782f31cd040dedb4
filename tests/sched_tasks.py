"""Module-level task functions for the Sched tests: worker processes import
them by name (a process pool cannot send lambdas or closures)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from pytest_pexen.sched import TaskFailError, task_fail_wrap
from pytest_pexen.sched.meta import func_meta


def ret_1234() -> int:
    return 1234


def raise_name_error() -> None:
    raise NameError("nope")


def exit_3() -> None:
    sys.exit(3)


def write_shared(shared: dict[str, Any]) -> dict[str, Any]:
    shared["provider"] = os.getpid()
    return dict(shared)


def read_shared(shared: dict[str, Any]) -> dict[str, Any]:
    return dict(shared)


def with_kwargs(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def shared_and_kwargs(shared: dict[str, Any], testargs: int) -> tuple[dict[str, Any], int]:
    return dict(shared), testargs


def span(log: str, name: str, seconds: float = 0.05) -> None:
    """Append this task's start and end to a JSON-lines file (any process)."""
    start = time.monotonic()
    time.sleep(seconds)
    with Path(log).open("a") as fh:
        fh.write(json.dumps([name, start, time.monotonic(), os.getpid()]) + "\n")


def worker_identity() -> tuple[int, str]:
    import threading

    return os.getpid(), threading.current_thread().name


def controlled(deps_ok: bool, locks_ok: bool) -> None:
    raise TaskFailError("controlled", deps_ok=deps_ok, locks_ok=locks_ok)


@task_fail_wrap
def wrapped_bare() -> None:
    raise KeyError("inner")


@task_fail_wrap(deps_ok=False, locks_ok=True)
def wrapped_flags() -> None:
    raise KeyError("inner")


@task_fail_wrap(reraise=True)
def wrapped_reraise() -> None:
    raise KeyError("inner")


def die() -> None:
    os._exit(7)


def return_lambda() -> Any:
    return lambda: None


def unpicklable_shared(shared: dict[str, Any]) -> None:
    shared["bad"] = lambda: None


@func_meta(provides=["x"])
def decorated() -> str:
    return "decorated"


@task_fail_wrap
def wrapped_no_shared() -> str:
    """Takes no shared dict: the wrapper's ``*args`` must not make it get one."""
    return "ran"


@task_fail_wrap(deps_ok=False)
def wrapped_keyword(a: int) -> int:
    return a
