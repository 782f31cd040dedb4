"""The pexen engine: schedule plain Python callables by their metadata.

The original pexen API (``Sched``, ``TaskRes``, ``meta``, ``pool``, the
errors), re-exported from the small modules that own each piece.
"""

from . import meta, pool
from .engine import Sched, TaskRes
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
from .pool import ExceptionInfo

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
