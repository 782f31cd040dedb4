"""Cart tests: they need a user (by test name) and the database (by tag)."""

import pytest

import pytest_pexen as pexen

pytestmark = pexen.requires("db")


@pexen.requires("test_login")
class TestCart:
    @pytest.mark.parametrize("qty", [1, 2])
    def test_add(self, qty, pexen_shared):
        assert pexen_shared["user"] == "alice"
        assert qty > 0

    @pexen.requires("TestCart::test_add")
    def test_checkout(self):
        pass


@pexen.provides("user")
def test_login(pexen_shared):
    pexen_shared["user"] = "alice"
