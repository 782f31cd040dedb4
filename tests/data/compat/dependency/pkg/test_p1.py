# pexen's own: package scope (no example in pytest-dependency's docs)
import pytest


@pytest.mark.dependency()
def test_ok():
    pass


@pytest.mark.dependency()
def test_fail():
    assert False
