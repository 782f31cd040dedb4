"""What the markers of pytest-dependency and pytest-order ask of a run.

The readers of both plugins' markers (``dependency``, ``order``) fill one
``Relations`` record, which ``plugin`` then puts on the task graph, and the
xdist side (``xdist``) recognises the order-only tags by their prefix. They
share these few definitions through this module, so that each imports it
and none imports another: ``plugin`` -> ``dependency``/``order`` ->
``relations``, one way.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

AFTER = "pexen-after:"  # order-only tag settled when that test has ended
BAND = "pexen-band:"  # order-only tag settled when every test of the band has ended


class Relations:
    """What the markers ask of the run, in node ids. A plain class: a
    dataclass is compiled (parsed) when its module is imported."""

    def __init__(self) -> None:
        # order-only tags each test waits for, and those it settles
        self.after: dict[str, list[str]] = {}
        self.ends: dict[str, list[str]] = {}
        # modules whose tests run on one worker, in order
        self.pinned: set[str] = set()
        # node id -> its pinned module
        self.pins: dict[str, str] = {}
        # what --pexen-plan says about each test
        self.notes: dict[str, list[str]] = {}
        self.bands = 0

    def follow(self, first: str, then: str) -> None:
        """``then`` starts only after ``first`` has ended."""
        tag = AFTER + first
        self._add(self.ends, first, tag)
        self._add(self.after, then, tag)

    def band(self, members: Iterable[str], followers: Iterable[str]) -> int:
        """Every follower starts only after every member has ended; returns
        the band's number."""
        self.bands += 1
        tag = f"{BAND}{self.bands}"
        for nodeid in members:
            self._add(self.ends, nodeid, tag)
        for nodeid in followers:
            self._add(self.after, nodeid, tag)
        return self.bands

    def note(self, nodeid: str, text: str) -> None:
        self._add(self.notes, nodeid, text)

    @staticmethod
    def _add(table: dict[str, list[str]], key: str, value: str) -> None:
        values = table.setdefault(key, [])
        if value not in values:
            values.append(value)


def marked(item: pytest.Item, names: tuple[str, ...], cache: dict[int, bool]) -> bool:
    """Whether the item or one of its parents carries one of the markers
    (each parent looked at once: cheap on large suites without them; plain
    loops, no generator per test)."""
    for m in item.own_markers:
        if m.name in names:
            return True
    parent = item.parent
    chain = []  # parents not looked at before, each without the markers so far
    found = False
    while parent is not None:
        known = cache.get(id(parent))
        if known is not None:
            found = known
            break
        chain.append(parent)
        if any(m.name in names for m in parent.own_markers):
            found = True
            break
        parent = parent.parent
    for node in chain:  # each has the markers (itself or above) as the top one does
        cache[id(node)] = found
    return found
