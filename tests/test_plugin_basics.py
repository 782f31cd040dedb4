"""The plugin as pytest sees it: loading, options, markers, marker helpers.

These run real pytest sessions in a subprocess wherever plugin loading is
the point (entry points, ``-p``, autoload), so nothing is already imported.
"""

from __future__ import annotations

from typing import Any

import pytest

import pytest_pexen as pexen

OPTIONS = ["--pexen-no-pull", "--pexen-missing", "--pexen-shared", "--pexen-plan", "--pexen-graph"]


def test_help_shows_options_with_autoload_disabled(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # -p pexen must find the plugin by its entry point name alone.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", "pexen", "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["pexen: *"] + [f"*{option}*" for option in OPTIONS])
    result.stdout.fnmatch_lines(["*pexen_shared (linelist):*"])


def test_no_pexen_switches_it_off(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "no:pexen", "--help")
    assert result.ret == 0
    assert "--pexen-" not in result.stdout.str()
    result = pytester.runpytest_subprocess("-p", "no:pexen", "--markers")
    assert "pexen_requires" not in result.stdout.str()


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "pexen", "--markers")
    result.stdout.fnmatch_lines([f"@pytest.mark.{name}*" for name in pexen.markers.MARKERS])


def test_helpers_pass_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest
        import pytest_pexen as pexen

        pytestmark = pexen.uses("lab")

        @pexen.provides("x")
        @pexen.claims("db")
        @pexen.timeout(5)
        def test_p(): pass

        @pexen.group("g", workers=2)
        def test_g(): pass

        @pexen.requires("x")
        @pexen.priority(-1)
        class TestC:
            @pytest.mark.parametrize("n", [pytest.param(1, marks=pexen.priority(2)), 2])
            def test_c(self, n): pass
    """
    )
    result = pytester.runpytest_subprocess("-p", "pexen", "--strict-markers", "-W", "error")
    result.assert_outcomes(passed=4)


def test_plain_suite_is_untouched(pytester: pytest.Pytester) -> None:
    """A suite using nothing of pexen: same outcomes, no warnings, strict mode."""
    pytester.makeini("[pytest]\nxfail_strict = true\n")
    pytester.makepyfile(
        test_a="""
        import pytest
        def test_ok(): pass
        def test_fail(): assert False
        @pytest.mark.skip(reason="no")
        def test_skip(): pass
        @pytest.mark.xfail
        def test_xfail(): assert False
    """
    )
    args = ("--strict-markers", "--strict-config", "-W", "error", "-p")
    with_pexen = pytester.runpytest_subprocess(*args, "pexen")
    without = pytester.runpytest_subprocess(*args, "no:pexen")
    for result in (with_pexen, without):
        result.assert_outcomes(passed=1, failed=1, skipped=1, xfailed=1)
        assert "warning" not in result.stdout.str().lower()
        assert result.stderr.str() == ""


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: pexen.requires(), TypeError, r"pexen.requires\(\) needs at least one tag"),
        (lambda: pexen.provides(""), TypeError, "non-empty strings, got ''"),
        (lambda: pexen.claims("ok", 3), TypeError, "non-empty strings, got 3"),  # type: ignore[arg-type]
        (lambda: pexen.uses(None), TypeError, "non-empty strings, got None"),  # type: ignore[arg-type]
        (lambda: pexen.priority(True), TypeError, r"pexen.priority\(\) takes an int, got True"),
        (lambda: pexen.priority(1.5), TypeError, "takes an int, got 1.5"),  # type: ignore[arg-type]
        (lambda: pexen.group(""), TypeError, "name must be a non-empty string"),
        (lambda: pexen.group("g", workers=0), ValueError, "positive int or None, got 0"),
        (lambda: pexen.group("g", workers=True), ValueError, "positive int or None, got True"),
        (lambda: pexen.timeout(0), ValueError, "positive number of seconds, got 0"),
        (lambda: pexen.timeout("5"), ValueError, "positive number of seconds, got '5'"),  # type: ignore[arg-type]
        (lambda: pexen.timeout(float("nan")), ValueError, "positive number of seconds, got nan"),
        (lambda: pexen.timeout(float("inf")), ValueError, "positive number of seconds, got inf"),
        (lambda: pexen.timeout(-2.5), ValueError, "positive number of seconds, got -2.5"),
    ],
)
def test_helpers_reject_bad_arguments(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_helpers_return_the_plain_markers() -> None:
    assert pexen.requires("a", "b").mark == pytest.mark.pexen_requires("a", "b").mark
    assert pexen.group("g").mark.kwargs == {"workers": None}
    assert pexen.timeout(1.5).mark.args == (1.5,)


def test_every_module_opts_out_of_assertion_rewriting() -> None:
    # pytest honours the marker in a module's docstring: it must not rewrite
    # pexen's own modules (their asserts are not tests)
    import importlib
    import pkgutil

    names = [pexen.__name__]
    names += [m.name for m in pkgutil.walk_packages(pexen.__path__, pexen.__name__ + ".")]
    missing = [
        name
        for name in names
        if not (importlib.import_module(name).__doc__ or "")
        .rstrip()
        .endswith("PYTEST_DONT_REWRITE")
    ]
    assert len(names) > 30
    assert missing == []


def test_own_modules_skip_pytests_import_hook(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an installed (not editable) plugin's package is marked for rewriting;
    # register_assert_rewrite marks it the same way here. Without its
    # bytecode cache (PYTHONDONTWRITEBYTECODE=1, as in many containers)
    # pytest's hook compiled every pexen module from source in every process
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makeconftest(
        """
        import pytest

        pytest.register_assert_rewrite("pytest_pexen")
        pytest_plugins = ["pytest_pexen.plugin"]
        """
    )
    pytester.makepyfile(
        """
        import sys

        def test_loaders():
            hooked = sorted(
                name
                for name, module in list(sys.modules.items())
                if name.startswith("pytest_pexen.")
                and type(getattr(module, "__loader__", None)).__name__ == "AssertionRewritingHook"
            )
            assert "pytest_pexen.plugin" in sys.modules
            assert hooked == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:pexen", "-W", "error")
    result.assert_outcomes(passed=1)


def test_own_modules_finder_is_gone_before_the_interpreter_exits(
    pytester: pytest.Pytester,
) -> None:
    # sys.meta_path outlives sys.modules at the interpreter's exit: a pexen
    # finder left there keeps pytest's modules and the whole session alive
    # past the exit's first garbage collection (one more pass over every
    # object). The conftest's exit handler, registered before the test
    # module imports pexen (not loaded as a plugin here), runs after pexen's.
    pytester.makeconftest(
        """
        import atexit, os, sys

        def _check():
            left = [f for f in sys.meta_path if type(f).__module__.startswith("pytest_pexen")]
            os.write(1, f"pexen finders at exit: {len(left)}\\n".encode())

        atexit.register(_check)
        """
    )
    pytester.makepyfile("import pytest_pexen as pexen\n\ndef test_one(): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:pexen")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["pexen finders at exit: 0"])


def test_plain_run_imports_no_unused_capability(pytester: pytest.Pytester) -> None:
    # a run pays only for what it uses: none of these is needed by a plain
    # suite with no pexen option
    unused = [
        "pytest_pexen.timeline",
        "pytest_pexen.results.junit",
        "pytest_pexen.exec.items",
        "pytest_pexen.xdist.worker",
        "pytest_pexen.xdist.scheduler",
        "pytest_pexen.sched.engine",
        "pytest_pexen.sched.pool",
        # the xdist driver, in a run without -n (issue 22, start-up)
        "pytest_pexen.xdist",
        "pytest_pexen.xdist.plugin",
        "pytest_pexen.xdist.hookspecs",
        "pytest_pexen.xdist.hosts",
        # the sub-results' recorder, in a run whose tests do not use it
        "pytest_pexen.results.recorder",
    ]
    _run_importing_none(pytester, unused, "-p", "pexen")


def test_plain_suite_xdist_workers_import_no_planner_nor_journal(
    pytester: pytest.Pytester,
) -> None:
    # a suite without pexen metadata is handed to xdist's load scheduler:
    # its workers send the controller a plain graph, made without the task
    # graph's module or the planner (every worker would import both); and
    # workers never journal (the controller does)
    unused = [
        "pytest_pexen.graph.taskgraph",
        "pytest_pexen.sched.planner",
        "pytest_pexen.journal.resume",
    ]
    _run_importing_none(pytester, unused, "-p", "pexen", "-n", "2")


def test_xdist_run_without_compat_markers_imports_no_compat_layer(
    pytester: pytest.Pytester,
) -> None:
    # pytest-dependency and pytest-order are installed here: a suite that
    # uses neither marker does not load the compat layer's xdist side, in
    # the controller or in a worker
    unused = ["pytest_pexen.compat.xdist", "pytest_pexen.compat.dependency"]
    pytester.makeconftest(
        f"""
        import sys

        def pytest_terminal_summary(terminalreporter, config):
            if not hasattr(config, "workerinput"):
                loaded = [name for name in {unused!r} if name in sys.modules]
                terminalreporter.write_line(f"controller loaded: {{loaded}}")
        """
    )
    pytester.makepyfile(
        f"""
        import sys
        import pytest_pexen as pexen

        @pexen.provides("a")
        def test_one():
            pass

        @pexen.requires("a")
        def test_modules():
            assert [name for name in {unused!r} if name in sys.modules] == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "pexen", "-n", "2", timeout=120)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["controller loaded: []"])


def _run_importing_none(pytester: pytest.Pytester, unused: list[str], *args: str) -> None:
    """A plain two-test run whose second test asserts that none of the
    ``unused`` modules was imported in its process (under ``-n``, a worker's)."""
    pytester.makepyfile(
        f"""
        import sys

        def test_one():
            pass

        def test_modules():
            assert [name for name in {unused!r} if name in sys.modules] == []
        """
    )
    result = pytester.runpytest_subprocess(*args, timeout=120)
    result.assert_outcomes(passed=2)
