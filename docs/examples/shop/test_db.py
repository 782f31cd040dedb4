"""The database tests provide 'db' for the rest of the shop."""

import pytest_pexen as pexen


@pexen.provides("db")
@pexen.claims("database")
def test_create_schema(pexen_shared):
    pexen_shared["dsn"] = "sqlite:///shop.db"


@pexen.requires("db")
@pexen.uses("database")
def test_query(pexen_shared):
    assert pexen_shared["dsn"] == "sqlite:///shop.db"
