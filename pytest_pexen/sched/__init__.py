"""The pexen engine: schedule plain Python callables by their metadata.

The original pexen API (``Sched``, ``TaskRes``, ``meta``, ``pool``, the
errors), re-exported from the small modules that own each piece.

PYTEST_DONT_REWRITE
"""

from typing import TYPE_CHECKING, Any

from . import meta
from .errors import (
    DepcheckError,
    MutexError,
    PexenError,
    PexenWarning,
    PoolError,
    SchedulerError,
    TaskFailError,
    task_fail_wrap,
)

if TYPE_CHECKING:
    from . import pool
    from .engine import Sched, TaskRes
    from .planner import Planner, Unrunnable, choose_provider
    from .pool import ExceptionInfo

# loaded on first use, so that a pytest run pays only for what it uses (the
# pools import multiprocessing; a suite without pexen metadata needs no planner)
_LAZY = {
    "Sched": "engine",
    "TaskRes": "engine",
    "ExceptionInfo": "pool",
    "pool": None,
    "Planner": "planner",
    "Unrunnable": "planner",
    "choose_provider": "planner",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f"{__name__}.{_LAZY[name] or name}")
    return module if _LAZY[name] is None else getattr(module, name)


__all__ = [
    "DepcheckError",
    "ExceptionInfo",
    "MutexError",
    "PexenError",
    "PexenWarning",
    "Planner",
    "PoolError",
    "Sched",
    "SchedulerError",
    "TaskFailError",
    "TaskRes",
    "Unrunnable",
    "choose_provider",
    "meta",
    "pool",
    "task_fail_wrap",
]
