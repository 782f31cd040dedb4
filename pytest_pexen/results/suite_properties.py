"""pytest's ``record_testsuite_property``, recorded for the pexen report too.

Registered as a plugin only where tests run and a pexen xUnit report is
asked for. Its fixture overrides pytest's and calls it, so ``--junitxml``
still gets the values and pytest still checks them; the values also go to
the recorder, which puts them on the test's next report, so they reach the
report from xdist workers too (pytest's own report misses them there,
pytest#7767).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .recorder import recorder, transportable


@pytest.fixture(scope="session")
def record_testsuite_property(
    request: pytest.FixtureRequest, record_testsuite_property: Callable[[str, object], None]
) -> Callable[[str, object], None]:
    """Record a ``<property>`` of the test suite (pytest's fixture, also
    recorded for ``--pexen-junitxml``)."""
    original, plugin = record_testsuite_property, recorder(request.config)

    def record(name: str, value: object) -> None:
        __tracebackhide__ = True
        original(name, value)
        plugin.suite_properties.append([transportable(name), transportable(value)])

    return record
