"""Files a run writes for people to read: the xUnit report, the timeline page.

Each is refused, with one sentence and a usage error, before anything
runs when it cannot be written; the check is shared so both say so alike.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def check_writable(
    path: Path, option: str = "--pexen-junitxml", what: str = "the xUnit report"
) -> None:
    """Refuse, before anything runs, a report path that cannot be written."""
    where = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    problem = None
    if path.is_dir():
        problem = "it is a directory"
    elif not where.is_dir():
        problem = f"{where} is not a directory"
    elif not os.access(where, os.W_OK | os.X_OK):
        problem = f"{where} is not writable"
    if problem:
        raise pytest.UsageError(
            f"pexen: cannot write {what} {option}={path}: {problem}; give a writable path"
        )
