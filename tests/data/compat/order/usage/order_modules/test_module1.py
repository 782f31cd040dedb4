import pytest

pytestmark = pytest.mark.order(3)


def test1():
    pass


def test2():
    pass


def test3():
    pass
