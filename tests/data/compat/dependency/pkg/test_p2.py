# pexen's own: package scope (no example in pytest-dependency's docs)
import pytest


@pytest.mark.dependency(depends=["pkg/test_p1.py::test_ok"], scope="package")
def test_after_ok():
    pass


@pytest.mark.dependency(depends=["pkg/test_p1.py::test_fail"], scope="package")
def test_after_fail():
    pass


@pytest.mark.dependency(depends=["tests/test_mod_01.py::test_a"], scope="package")
def test_outside_package():
    pass
