"""pytest-pexen: run a pytest suite as a pexen task graph.

``import pytest_pexen as pexen`` gives the whole public API (``_api``): the
marker helpers, the metadata stash key, the errors and the warning classes.
The engine for plain callables is ``pytest_pexen.sched``, its factories
``pytest_pexen.factory``.

pytest imports this package through its assertion rewriting hook, which
compiles it from source in every process under ``PYTHONDONTWRITEBYTECODE=1``
(it cannot cache the result there), so this module is kept to what must run
first: ``_OwnModules``, then the API from ``_api``.

PYTEST_DONT_REWRITE
"""

import atexit
import sys
from importlib.machinery import ModuleSpec, PathFinder
from typing import TYPE_CHECKING


class _OwnModules:
    """Import pexen's other modules the standard way, from their bytecode:
    pytest's hook would compile each from source too. Every pexen module
    opts out of rewriting (PYTEST_DONT_REWRITE), so what pytest would make
    of it is what Python makes. Placed just ahead of pytest's hook, if one
    is installed (outside pytest nothing needs it)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        return PathFinder.find_spec(name, path) if name.startswith("pytest_pexen.") else None  # type: ignore[arg-type]


def _install() -> None:
    """Put ``_OwnModules`` ahead of pytest's hook, until the interpreter
    exits. There ``sys.meta_path`` outlives ``sys.modules``: a finder left
    in it keeps this package's globals, and through them pytest's modules
    and the whole session, past the exit's first garbage collection, which
    then frees nothing, and the second one frees it all (one more pass over
    every object: 0.035-0.04 s at 3,000 tests)."""
    for n, finder in enumerate(sys.meta_path):
        if type(finder).__module__ == "_pytest.assertion.rewrite":
            own = _OwnModules()
            sys.meta_path.insert(n, own)
            atexit.register(_uninstall, own)
            return


def _uninstall(own: _OwnModules) -> None:
    """At exit (see ``_install``); something else may have taken it out, or
    replaced the list."""
    finders = getattr(sys, "meta_path", None)
    if isinstance(finders, list) and own in finders:
        finders.remove(own)


_install()

from ._api import (
    META_KEY,
    DepcheckError,
    MutexError,
    PexenError,
    PexenWarning,
    TaskFailError,
    __all__,
    __getattr__,
    claims,
    group,
    host_tags,
    priority,
    provides,
    reboot,
    requires,
    task_fail_wrap,
    timeout,
    uses,
)

if TYPE_CHECKING:
    from ._version import __version__
    from .journal.format import PexenJournalWarning
    from .xdist.hosts import PexenSecurityWarning
