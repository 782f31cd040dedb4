"""The pexen engine: schedule plain Python callables by their metadata.

The original pexen API (``Sched``, ``TaskRes``, ``meta``, ``pool``, the
errors), re-exported from the small modules that own each piece.
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
from .planner import Planner, Unrunnable, choose_provider

if TYPE_CHECKING:
    from . import pool
    from .engine import Sched, TaskRes
    from .pool import ExceptionInfo

# the pools import multiprocessing: load them on first use, so that a pytest
# run, which only needs the planner, does not pay for them
_LAZY = {"Sched": "engine", "TaskRes": "engine", "ExceptionInfo": "pool", "pool": None}


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
