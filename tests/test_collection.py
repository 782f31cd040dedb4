"""Providers pulled in from outside a node-id or --lf selection are collected
as pytest would: conftest fixtures (autouse ones too) at every level, and
package and module fixtures set up once."""

from __future__ import annotations

from collections import Counter
from textwrap import dedent

import pytest


def logging(up: int, body: str) -> str:
    """``body`` with a ``log()`` that appends a line to the run's log.txt
    (``up`` folders above), prefixed by the xdist worker id."""
    return dedent(f"""
        import os
        from pathlib import Path
        def log(what):
            with (Path(__file__).parents[{up}] / "log.txt").open("a") as out:
                out.write(os.environ.get("PYTEST_XDIST_WORKER", "main") + " " + what + "\\n")
    """) + dedent(body)


@pytest.fixture
def tree(pytester: pytest.Pytester) -> pytest.Pytester:
    """tests/ with a conftest fixture and an autouse one; tests/db/, a
    package with a package fixture, another autouse one and a module fixture
    shared by a provider and its dependent."""
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    pytester.mkpydir("tests")
    pytester.mkpydir("tests/db")
    pytester.makepyfile(
        **{
            "tests/conftest.py": logging(
                1,
                """
            import pytest
            @pytest.fixture
            def dbconn():
                return "conn"
            @pytest.fixture(autouse=True)
            def top_auto(request):
                log("top_auto " + request.node.name)
        """,
            ),
            "tests/db/conftest.py": logging(
                2,
                """
            import pytest
            @pytest.fixture(scope="package")
            def pkg():
                log("pkg")
            @pytest.fixture(autouse=True)
            def db_auto(request):
                log("db_auto " + request.node.name)
        """,
            ),
            "tests/db/test_1_schema.py": """
            import pytest_pexen as pexen
            @pexen.provides("db")
            def test_schema(dbconn, pkg):
                assert dbconn == "conn"
        """,
            "tests/db/test_2_use.py": logging(
                2,
                """
            import os, pytest, pytest_pexen as pexen
            @pytest.fixture(scope="module")
            def mod():
                log("mod")
            @pexen.provides("prep")
            def test_prep(mod, pkg): pass
            @pexen.requires("db", "prep")
            def test_use(dbconn, mod, pkg):
                assert not os.environ.get("BREAK")
        """,
            ),
            "tests/test_app.py": """
            import pytest_pexen as pexen
            @pexen.requires("db")
            def test_app(dbconn): pass
        """,
        }
    )
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Counter[str]]:
    """A fresh run; what the fixtures logged, per worker."""
    log = pytester.path / "log.txt"
    log.unlink(missing_ok=True)
    result = pytester.runpytest_subprocess("-p", "pexen", "-v", *args, timeout=120)
    lines = log.read_text().splitlines() if log.exists() else []
    return result, Counter(lines)


def once_per_worker(logged: Counter[str], what: str) -> None:
    """``what`` was set up exactly once by each worker that set it up."""
    counts = {line: n for line, n in logged.items() if line.split(" ", 1)[1] == what}
    assert counts and all(n == 1 for n in counts.values()), logged


def ran_with_autouse(logged: Counter[str], test: str, in_db: bool = True) -> None:
    workers = {line.split(" ", 1)[0] for line in logged}
    assert any(f"{w} top_auto {test}" in logged for w in workers), logged
    if in_db:
        assert any(f"{w} db_auto {test}" in logged for w in workers), logged


XDIST = [(), ("-p", "xdist", "-n", "2")]


@pytest.mark.parametrize("xdist", XDIST, ids=["serial", "xdist"])
def test_provider_from_another_package_gets_its_fixtures(
    tree: pytest.Pytester, xdist: tuple[str, ...]
) -> None:
    result, logged = run(tree, *xdist, "tests/test_app.py::test_app")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)
    ran_with_autouse(logged, "test_schema")
    ran_with_autouse(logged, "test_app", in_db=False)
    once_per_worker(logged, "pkg")


@pytest.mark.parametrize("xdist", XDIST, ids=["serial", "xdist"])
def test_provider_from_the_same_package_shares_its_fixtures(
    tree: pytest.Pytester, xdist: tuple[str, ...]
) -> None:
    result, logged = run(tree, *xdist, "tests/db/test_2_use.py::test_use")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=3)
    for test in ("test_schema", "test_prep", "test_use"):
        ran_with_autouse(logged, test)
    once_per_worker(logged, "pkg")
    once_per_worker(logged, "mod")


@pytest.mark.parametrize("xdist", XDIST, ids=["serial", "xdist"])
def test_last_failed_pulls_providers_with_their_fixtures(
    tree: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: tuple[str, ...]
) -> None:
    monkeypatch.setenv("BREAK", "1")
    result, _ = run(tree)
    result.assert_outcomes(passed=3, failed=1)
    monkeypatch.delenv("BREAK")
    # --lf collects test_2_use.py with test_use alone and skips test_1_schema.py
    result, logged = run(tree, *xdist, "--lf")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=3)
    for test in ("test_schema", "test_prep", "test_use"):
        ran_with_autouse(logged, test)
    once_per_worker(logged, "pkg")
    once_per_worker(logged, "mod")
