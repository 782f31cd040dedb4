"""Marker helpers: ``@pexen.requires("db")`` and friends.

Each helper returns the registered ``pexen_*`` pytest marker, so it works
as a decorator, in ``pytestmark`` and in ``pytest.param(marks=...)``, and
checks its arguments at once, where the mistake is made.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import math

import pytest

MARKERS = {
    "pexen_requires": "pexen_requires(*tags): run only after every selected provider of each "
    "tag passed",
    "pexen_provides": "pexen_provides(*tags): this test provides the tags when it passes",
    "pexen_claims": "pexen_claims(*resources): exclusive lock on the resources",
    "pexen_uses": "pexen_uses(*resources): shared lock on the resources",
    "pexen_priority": "pexen_priority(n): among ready tests, lower runs first (default 0)",
    "pexen_group": "pexen_group(name, workers=None): group of exclusivity, run one group at a "
    "time, at most `workers` of its tests at once",
    "pexen_timeout": "pexen_timeout(seconds): watchdog limit for this test",
}


def _strings(helper: str, values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        raise TypeError(f"pexen.{helper}() needs at least one tag")
    for value in values:
        if not isinstance(value, str) or not value:
            raise TypeError(f"pexen.{helper}() takes non-empty strings, got {value!r}")
    return values


def requires(*tags: str) -> pytest.MarkDecorator:
    """Run only after every selected provider of each tag passed."""
    return pytest.mark.pexen_requires(*_strings("requires", tags))


def provides(*tags: str) -> pytest.MarkDecorator:
    """This test provides the tags when it passes."""
    return pytest.mark.pexen_provides(*_strings("provides", tags))


def claims(*resources: str) -> pytest.MarkDecorator:
    """Exclusive lock: no other test claiming or using a resource runs meanwhile."""
    return pytest.mark.pexen_claims(*_strings("claims", resources))


def uses(*resources: str) -> pytest.MarkDecorator:
    """Shared lock: may overlap other users of a resource, never a claimer."""
    return pytest.mark.pexen_uses(*_strings("uses", resources))


def priority(n: int) -> pytest.MarkDecorator:
    """Among ready tests, lower runs first (default 0)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"pexen.priority() takes an int, got {n!r}")
    return pytest.mark.pexen_priority(n)


def group(name: str, workers: int | None = None) -> pytest.MarkDecorator:
    """Group of exclusivity: one group runs at a time, at most ``workers``
    of its tests at once."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"pexen.group() name must be a non-empty string, got {name!r}")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ValueError(f"pexen.group() workers must be a positive int or None, got {workers!r}")
    return pytest.mark.pexen_group(name, workers=workers)


def timeout(seconds: float) -> pytest.MarkDecorator:
    """Watchdog limit for this test, in seconds."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 0 < seconds < math.inf
    ):  # nan too
        raise ValueError(f"pexen.timeout() takes a positive number of seconds, got {seconds!r}")
    return pytest.mark.pexen_timeout(seconds)
