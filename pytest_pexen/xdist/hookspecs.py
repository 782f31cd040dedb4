"""pexen's internal hooks: how capabilities meet the xdist driver.

Implemented by the entry point (plugin.py), which knows every capability,
and added by it only in the processes the driver runs in (a run without
xdist does not import the driver); not a public API.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .scheduler import PexenScheduling
    from .worker import PexenWorker


@pytest.hookspec
def pytest_pexen_xdist_scheduler(scheduler: PexenScheduling) -> None:
    """The controller made its scheduler: register on it (see protocol.py)."""


@pytest.hookspec
def pytest_pexen_xdist_worker(worker: PexenWorker) -> None:
    """A worker under pexen's scheduling made its loop: register on it."""
