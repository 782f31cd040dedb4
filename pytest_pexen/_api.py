"""The public API, as ``pytest_pexen`` (the package) gives it.

Its own module, not the package's ``__init__.py``: pytest imports an
entry-point plugin's package through its assertion rewriting hook, which
compiles it from source in every process where it cannot cache the
result (``PYTHONDONTWRITEBYTECODE=1``); so ``__init__.py`` holds only what
must run first (the finder that lets every other pexen module load from
its bytecode) and takes the API from here.

PYTEST_DONT_REWRITE
"""

from typing import TYPE_CHECKING, Any

from .graph.items import META_KEY
from .journal.reboots import reboot
from .markers import claims, group, host_tags, priority, provides, requires, timeout, uses
from .sched import PexenWarning, TaskFailError, task_fail_wrap
from .sched.errors import DepcheckError, MutexError, PexenError

if TYPE_CHECKING:
    from .journal.format import PexenJournalWarning
    from .xdist.hosts import PexenSecurityWarning


def __getattr__(name: str) -> Any:
    """The package's names loaded on first use: ``PexenSecurityWarning`` is
    the xdist driver's (a run without xdist never imports the driver),
    ``PexenJournalWarning`` the journal's (xdist workers never journal), the
    version is read by what states it."""
    if name == "PexenSecurityWarning":
        from .xdist.hosts import PexenSecurityWarning

        return PexenSecurityWarning
    if name == "PexenJournalWarning":
        from .journal.format import PexenJournalWarning

        return PexenJournalWarning
    if name == "__version__":
        from ._version import __version__

        return __version__
    raise AttributeError(f"module 'pytest_pexen' has no attribute {name!r}")


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
