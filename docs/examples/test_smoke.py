"""Unmarked tests keep pytest's order; a priority moves one forward."""

import pytest_pexen as pexen


def test_version():
    assert pexen.requires("x")


@pexen.priority(-1)
def test_first_of_all():
    pass
