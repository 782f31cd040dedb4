# pexen's own: markers pytest-dependency cannot use; it skips or errors,
# pexen must do the same and never more
import pytest


@pytest.mark.dependency()
def test_base():
    pass


@pytest.mark.dependency(depends=["test_later"])
def test_forward():
    pass


@pytest.mark.dependency()
def test_later():
    pass


@pytest.mark.dependency(depends="test_base")
def test_string_depends():
    pass


@pytest.mark.dependency(depends=5)
def test_int_depends():
    pass


@pytest.mark.dependency(depends=["test_base"], scope="class")
def test_class_scope_outside_class():
    pass


@pytest.mark.dependency(depends=["test_base"], scope="galaxy")
def test_unknown_scope():
    pass


@pytest.mark.dependency(depends=[["test_base"]])
def test_unhashable_name():
    pass

