"""Fixtures shared by the project's own tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester whose inner runs keep pytest's order: pytest-randomly (a test
    dependency) would otherwise shuffle every inner session. Without
    hypothesis' plugin too: an in-process run re-imports (and assertion-
    rewrites) hypothesis for its terminal summary, about a second per run.
    A test that wants them deletes PYTEST_ADDOPTS."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:randomly -p no:hypothesispytest")
    return pytester
