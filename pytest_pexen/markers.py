"""Marker helpers: ``@pexen.requires("db")`` and friends.

Each helper returns the registered ``pexen_*`` pytest marker, so it works
as a decorator, in ``pytestmark`` and in ``pytest.param(marks=...)``, and
checks its arguments at once, where the mistake is made. The marker is
made with ``with_args``: what calling it does for arguments that are not
one function or class (checked here already), without looking at the first
argument again (a suite of 20,000 marked tests makes 20,000 markers at import).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import math

import pytest

MARKERS = {
    "pexen_requires": "pexen_requires(*tags): run only after every selected provider of each "
    "tag passed",
    "pexen_provides": "pexen_provides(*tags): this test provides the tags when it passes",
    "pexen_claims": "pexen_claims(*resources, scope='global'): exclusive lock on the "
    "resources (scope='host': per host)",
    "pexen_uses": "pexen_uses(*resources, scope='global'): shared lock on the resources "
    "(scope='host': per host)",
    "pexen_host_tags": "pexen_host_tags(*tags): run only on a worker whose host has all the tags",
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
    return pytest.mark.pexen_requires.with_args(*_strings("requires", tags))


def provides(*tags: str) -> pytest.MarkDecorator:
    """This test provides the tags when it passes."""
    return pytest.mark.pexen_provides.with_args(*_strings("provides", tags))


SCOPES = ("global", "host")


def _scope(helper: str, scope: str) -> dict[str, str]:
    """The marker's keyword arguments for a lock scope: none for the
    default, so a global lock's marker reads as it always did."""
    if scope not in SCOPES:
        raise ValueError(f"pexen.{helper}() scope must be 'global' or 'host', got {scope!r}")
    return {} if scope == "global" else {"scope": scope}


def claims(*resources: str, scope: str = "global") -> pytest.MarkDecorator:
    """Exclusive lock: no other test claiming or using a resource runs
    meanwhile; with ``scope="host"`` only on the same host (a port, a
    device: something every machine has one of)."""
    return pytest.mark.pexen_claims.with_args(
        *_strings("claims", resources), **_scope("claims", scope)
    )


def uses(*resources: str, scope: str = "global") -> pytest.MarkDecorator:
    """Shared lock: may overlap other users of a resource, never a claimer;
    with ``scope="host"`` only claimers on the same host count."""
    return pytest.mark.pexen_uses.with_args(*_strings("uses", resources), **_scope("uses", scope))


def host_tags(*tags: str) -> pytest.MarkDecorator:
    """Run only on a worker whose host has all these tags (given to hosts
    by ``--pexen-host-tags``)."""
    return pytest.mark.pexen_host_tags.with_args(*_strings("host_tags", tags))


def priority(n: int) -> pytest.MarkDecorator:
    """Among ready tests, lower runs first (default 0)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"pexen.priority() takes an int, got {n!r}")
    return pytest.mark.pexen_priority.with_args(n)


def group(name: str, workers: int | None = None) -> pytest.MarkDecorator:
    """Group of exclusivity: one group runs at a time, at most ``workers``
    of its tests at once."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"pexen.group() name must be a non-empty string, got {name!r}")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ValueError(f"pexen.group() workers must be a positive int or None, got {workers!r}")
    return pytest.mark.pexen_group.with_args(name, workers=workers)


def timeout(seconds: float) -> pytest.MarkDecorator:
    """Watchdog limit for this test, in seconds."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 0 < seconds < math.inf
    ):  # nan too
        raise ValueError(f"pexen.timeout() takes a positive number of seconds, got {seconds!r}")
    return pytest.mark.pexen_timeout.with_args(seconds)
