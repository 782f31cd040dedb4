"""Tree-scoped pexen configuration: everything under shop/ uses the lab."""


def pytest_pexen_task(item, meta):
    if "shop" in item.nodeid.split("/"):
        meta.uses.add("lab")
