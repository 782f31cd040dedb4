"""pytest-pexen: run a pytest suite as a pexen task graph.

``import pytest_pexen as pexen`` gives the whole public API: the marker
helpers, the metadata stash key, the controlled-failure error and the
warning class. The engine for plain callables is ``pytest_pexen.sched``,
its factories ``pytest_pexen.factory``.

PYTEST_DONT_REWRITE
"""

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from typing import TYPE_CHECKING, Any


class _OwnModules:
    """Import pexen's own modules the standard way, from their bytecode.

    pytest imports an entry-point plugin's package through its assertion
    rewriting hook, which parses and compiles every module from source; it
    caches the result in a pyc of its own, which it cannot write under
    ``PYTHONDONTWRITEBYTECODE=1`` (as in many container images), so every
    pytest process, each xdist worker included, compiled all of pexen again
    (0.1 s). Every pexen module opts out of rewriting (PYTEST_DONT_REWRITE
    in its docstring), so what pytest would make of it is what Python
    makes: this finder, placed just ahead of pytest's hook, lets the
    standard import, with its bytecode cache, find them."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None = None, target: object = None
    ) -> ModuleSpec | None:
        if not name.startswith(__name__ + "."):
            return None
        return PathFinder.find_spec(name, path)


def _ahead_of_pytest() -> None:
    """Put ``_OwnModules`` just ahead of pytest's rewriting hook, if one is
    installed (not otherwise: outside pytest nothing needs it)."""
    for n, finder in enumerate(sys.meta_path):
        if type(finder).__module__ == "_pytest.assertion.rewrite":
            sys.meta_path.insert(n, _OwnModules())
            return
        if isinstance(finder, _OwnModules):
            return


_ahead_of_pytest()

from ._version import __version__ as __version__  # noqa: E402
from .graph.items import META_KEY  # noqa: E402
from .journal.format import PexenJournalWarning  # noqa: E402
from .journal.reboots import reboot  # noqa: E402
from .markers import claims, group, host_tags, priority, provides, requires, timeout, uses  # noqa: E402
from .sched import PexenWarning, TaskFailError, task_fail_wrap  # noqa: E402
from .sched.errors import DepcheckError, MutexError, PexenError  # noqa: E402

if TYPE_CHECKING:
    from .xdist.hosts import PexenSecurityWarning


def __getattr__(name: str) -> Any:
    """``PexenSecurityWarning`` is the xdist driver's: imported on first use,
    as a run without xdist never imports the driver."""
    if name == "PexenSecurityWarning":
        from .xdist.hosts import PexenSecurityWarning

        return PexenSecurityWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
