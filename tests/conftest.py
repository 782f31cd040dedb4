"""Fixtures shared by the project's own tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester whose inner runs keep pytest's order: pytest-randomly (a test
    dependency) would otherwise shuffle every inner session. A test that
    wants it deletes PYTEST_ADDOPTS."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:randomly")
    return pytester


# suites that tests run in their own pytester sessions (tests/data/compat/...)
collect_ignore = ["data"]
