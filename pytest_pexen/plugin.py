"""The pytest entry point (``pytest -p pexen``): options, markers, wiring.

Each capability lives in its own module; this one only registers options,
ini settings, markers and hook specifications, and plugs the capability
objects into the session.
"""

from __future__ import annotations

import pytest

from . import hookspecs
from .graphplugin import GraphPlugin, pexen_shared
from .markers import MARKERS

__all__ = ["pexen_shared"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pexen", "pexen: run the suite as a task graph")
    group.addoption("--pexen-no-pull", action="store_true", dest="pexen_no_pull",
                    help="do not pull in deselected providers; skip their dependents instead")
    group.addoption("--pexen-missing", choices=("error", "skip"), default="error",
                    dest="pexen_missing",
                    help="a requirement no collected test provides: usage error (default) or "
                         "skip the tests that need it")
    group.addoption("--pexen-shared", action="append", metavar="KEY=VALUE", default=[],
                    dest="pexen_shared",
                    help="initial pexen_shared value (JSON, or a plain string); repeatable")
    group.addoption("--pexen-plan", action="store_true", dest="pexen_plan",
                    help="print the order tests would start in, with their metadata; run nothing")
    group.addoption("--pexen-graph", metavar="FILE.dot", dest="pexen_graph",
                    help="write the dependency graph in Graphviz format")
    parser.addini("pexen_shared", type="linelist", default=[],
                  help="initial pexen_shared values, KEY=VALUE per line")


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    config.pluginmanager.register(GraphPlugin(config), "pexen-graph")
