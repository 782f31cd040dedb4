"""pytest-pexen: run a pytest suite as a pexen task graph.

``import pytest_pexen as pexen`` gives the whole public API: the marker
helpers, the metadata stash key, the controlled-failure error and the
warning class. The engine for plain callables is ``pytest_pexen.sched``,
its factories ``pytest_pexen.factory``.
"""

from .graph.items import META_KEY
from .journal.format import PexenJournalWarning
from .journal.reboots import reboot
from .markers import claims, group, host_tags, priority, provides, requires, timeout, uses
from .sched import PexenWarning, TaskFailError, task_fail_wrap
from .sched.errors import DepcheckError, MutexError, PexenError
from .xdist.hosts import PexenSecurityWarning

__version__ = "0.1.0"

__all__ = [
    "META_KEY",
    "DepcheckError",
    "MutexError",
    "PexenError",
    "PexenJournalWarning",
    "PexenSecurityWarning",
    "PexenWarning",
    "TaskFailError",
    "claims",
    "group",
    "host_tags",
    "priority",
    "provides",
    "reboot",
    "requires",
    "task_fail_wrap",
    "timeout",
    "uses",
]
