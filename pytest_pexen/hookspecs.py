"""Hook specifications that pytest-pexen adds to pytest.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import pytest

from .sched.meta import SchedMeta


@pytest.hookspec
def pytest_pexen_task(item: pytest.Item, meta: SchedMeta) -> None:
    """Add to or change the pexen metadata of one collected test.

    Called through ``item.ihook``, so a ``conftest.py`` implementation sees
    only the tests below its directory. ``meta.requires``, ``provides``,
    ``claims``, ``uses``, ``host_claims`` and ``host_uses`` (the per-host
    locks) and ``host_tags`` are mutable sets of strings, ``priority`` an int,
    ``group`` a name or None, ``timeout`` seconds or None. The result is kept
    in ``item.stash[pytest_pexen.META_KEY]``.
    """
