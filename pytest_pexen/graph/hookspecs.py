"""pexen's internal hooks: how capabilities meet the core and each other.

A capability never imports another, and the core imports none: where one
needs another's work, the core calls one of these hooks and the entry
point (plugin.py), which knows every capability, implements it. Not a
public API (the xdist driver's hooks are in xdist/hookspecs.py).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from .taskgraph import TestGraph


if TYPE_CHECKING:  # in annotations only: no Protocol class made at run time

    class GraphRelations(Protocol):
        """Relations between tests that another plugin's markers put on them
        (the compat layer: pytest-dependency, pytest-order)."""

        def apply(self, graph: TestGraph) -> None:
            """Add the relations to the task graph."""


@pytest.hookspec(firstresult=True)
def pytest_pexen_relations(
    config: pytest.Config, items: list[pytest.Item]
) -> GraphRelations | None:
    """The relations other plugins' markers put on ``items`` (in the order
    they will run), or None when none is in play: then nothing changes."""


@pytest.hookspec
def pytest_pexen_resumed(session: pytest.Session, ended: dict[str, dict[str, Any]]) -> None:
    """A serial run resumed from its journal and reported again the tests
    that ``ended`` in an earlier boot (node id -> the journal's end
    record): restore what a capability keeps of them in this process
    (pytest-dependency's records, for their dependents)."""


if TYPE_CHECKING:  # in annotations only: no Protocol class made at run time

    class SubResults(Protocol):
        """Sub-results of the test running now (``pexen_results``)."""

        def add(self, outcome: str, name: str | None = None, message: str | None = None) -> None:
            """Record one sub-result."""


@pytest.hookspec(firstresult=True)
def pytest_pexen_sub_results(config: pytest.Config) -> SubResults | None:
    """Where a test that is no Python function (an executable test) records
    its sub-results: what the ``pexen_results`` fixture gives, its recorder
    registered on first need."""


@pytest.hookspec(firstresult=True)
def pytest_pexen_reboot(config: pytest.Config) -> None:
    """The test running now asks for a reboot, as ``pexen.reboot()`` does
    (an executable test ran ``pexen-reboot``): never returns."""


if TYPE_CHECKING:  # in annotations only: no Protocol class made at run time

    class StoppedBoot(Protocol):
        """What a capability reads of the journal a run resumes from (its
        ``journal.State``): the last boot, whether it stopped cleanly, and the
        tests it left running."""

        @property
        def boot(self) -> int: ...

        @property
        def stop(self) -> Mapping[str, Any] | None: ...

        @property
        def running(self) -> Mapping[str, Mapping[str, Any]]: ...


@pytest.hookspec
def pytest_pexen_lost_ends(
    config: pytest.Config, journal: Path, state: StoppedBoot
) -> tuple[list[dict[str, Any]], Path] | None:
    """On ``--pexen-resume``: the end records of the tests whose end the
    journal's last boot could not write because a capability stopped it
    (the watchdog's last resort), and the file they were read from."""


@pytest.hookspec
def pytest_pexen_stopping(item: pytest.Item, text: str) -> None:
    """The watchdog's last resort stops this serial process now: ``item``
    did not stop within its time limit and grace (``text`` says so, as the
    failure of the phase it was in). Called from the watchdog's thread,
    while the test's is stuck, after the journal has its end: a report
    that would have been written at the session's end (pexen's xUnit
    report) is written now, with the test failed and the rest as far as
    the run got."""


@pytest.hookspec(firstresult=True)
def pytest_pexen_late_results(item: pytest.Item) -> bool | None:
    """Whether something was recorded for ``item`` while a fixture it kept
    set up was torn down after its protocol ended (an xdist worker's late
    teardown) that only a teardown report of ``item`` can carry: sub-results
    added in that teardown. The worker makes and logs such a report then,
    as it does for a teardown that failed, and for nothing else (a report
    made for every late teardown runs other plugins' report hooks outside
    the protocol they expect)."""
