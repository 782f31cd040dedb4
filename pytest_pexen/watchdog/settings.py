"""The time limits a run has: read in every process, from the options, the
ini file and each test's ``pexen.timeout()``; what ``plugin`` and ``limits``
share, so that ``limits`` is imported only by a run that has a limit.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from ..graph.items import META_KEY

LIMITS_KEY = pytest.StashKey["Limits"]()
SESSION_KEY: pytest.StashKey[Any] = pytest.StashKey()  # limits.SessionLimit
TIMER = "pexen-timer"
CONTROLLER = "pexen-controller-timer"
GRACE = 1.0  # default seconds a test has, after its limit, to return


class Limits:
    """The run's time limits, in seconds."""

    __slots__ = ("default", "grace", "session")

    def __init__(self, default: float | None, grace: float, session: float | None) -> None:
        self.default = default  # each test's, unless its own pexen.timeout() says otherwise
        self.grace = grace
        self.session = session


def seconds_of(config: pytest.Config, option: str, ini: str) -> float | None:
    """A positive number of seconds from the option, else the ini option;
    anything else is a usage error (exit 4) naming where it came from."""
    value = config.getoption(option)
    where = "--" + option.replace("_", "-")
    if value is None:
        value = config.getini(ini) or None
        where = f"ini option {ini}"
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise pytest.UsageError(f"pexen: {where}={value}: give a positive number of seconds")
    return seconds


def limit_of(item: pytest.Item, default: float | None) -> float | None:
    """The test's own limit (marker or ``pytest_pexen_task``), else the default."""
    meta = item.stash.get(META_KEY, None)
    if meta is not None and meta.timeout is not None:
        return meta.timeout
    return default


def own_limits(items: list[pytest.Item]) -> dict[str, float]:
    """The tests that have a limit of their own (for the xdist controller,
    which does not collect)."""
    return {item.nodeid: limit for item in items if (limit := limit_of(item, None)) is not None}


def hang_path(journal_path: Path) -> Path:
    """Where faulthandler writes the stacks of a serial run stuck holding the GIL."""
    return journal_path.with_name(journal_path.name + ".hang")
