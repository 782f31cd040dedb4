"""Suites written for pytest-dependency and pytest-order (issue 12).

The plugins' own documented examples (tests/data/compat, copied verbatim)
run plain (``-p no:pexen``), serially with pexen and on three xdist workers
with pexen; every test must end the same way, skipped ones with the same
reason at the same place. Under xdist the order pytest-order gives must
also hold: a module that uses the markers runs on one worker in that order,
and with the session order scope tests of different indices keep their
order across workers.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data" / "compat"

# the inner sessions' conftest: every report (in the controller under xdist)
# and, serially, the run order with each test's pytest-order index
RECORDER = """
import json, os
import pytest

WORKER = []  # an xdist worker of this session (not of an outer one)

def pytest_configure(config):
    WORKER.append(hasattr(config, "workerinput"))

def _log(record):
    with open(os.environ["COMPAT_LOG"], "a") as log:
        log.write(json.dumps(record) + "\\n")

def _index(item, prefix):
    try:
        from pytest_order.sorter import orders_map
    except ImportError:
        return None
    for mark in item.iter_markers("order"):
        value = mark.args[0] if mark.args else mark.kwargs.get("index")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value in orders_map:
            return orders_map[value]
    for mark in item.iter_markers():
        if prefix and mark.name.startswith(prefix) and mark.name[len(prefix):].isdigit():
            return int(mark.name[len(prefix):])
    return None

def pytest_collection_finish(session):
    prefix = session.config.getoption("order_marker_prefix", None)
    if not WORKER[-1]:
        for item in session.items:
            _log({"item": item.nodeid, "index": _index(item, prefix),
                  "marked": item.get_closest_marker("order") is not None})

def pytest_runtest_logreport(report):
    if WORKER[-1]:
        return
    node = getattr(report, "node", None)
    record = {"id": report.nodeid, "when": report.when, "outcome": report.outcome,
              "xfail": hasattr(report, "wasxfail"), "start": report.start,
              "stop": report.stop, "worker": node.gateway.id if node else "main"}
    if report.skipped and isinstance(report.longrepr, (tuple, list)):
        path, line, reason = report.longrepr
        record["skip"] = [os.path.basename(str(path)), line, reason]
    _log(record)
"""


class Run:
    """One inner session's reports, per test."""

    def __init__(self, path: Path, result: pytest.RunResult) -> None:
        self.result = result
        records = [json.loads(line) for line in path.read_text().splitlines()]
        self.items = [r for r in records if "item" in r]
        self.reports: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            if "id" in r:
                self.reports.setdefault(r["id"], []).append(r)

    def outcomes(self) -> dict[str, tuple[str, ...]]:
        """Each test's outcome as pytest's summary counts it, with the
        skip reason and where the skip was raised."""
        out = {}
        for nodeid, reports in self.reports.items():
            words: list[str] = []
            for r in reports:
                if r["outcome"] == "passed" and r["when"] != "call":
                    continue
                kind = {"setup": "error", "teardown": "error"}.get(r["when"], r["outcome"])
                if r["outcome"] == "skipped":
                    kind = "xfailed" if r["xfail"] else "skipped"
                elif r["outcome"] == "passed" and r["xfail"]:
                    kind = "xpassed"
                elif r["outcome"] == "passed":
                    kind = "passed"
                words.append(kind)
                if "skip" in r:
                    words += [str(part) for part in r["skip"]]
            out[nodeid] = tuple(words)
        return out

    def span(self, nodeid: str) -> tuple[float, float, str]:
        reports = self.reports[nodeid]
        return reports[0]["start"], reports[-1]["stop"], reports[0]["worker"]


# a test dependency of this project that the inner sessions do without
# (hypothesis' plugin is off in them already: conftest.py)
QUIET = ("-p", "no:rerunfailures")


def three_ways(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    before: Callable[[], None] = lambda: None,
    load: tuple[str, ...] = ("-p", "pexen"),
) -> tuple[Run, Run, Run]:
    """Plain, serially with pexen, and ``-n 3`` with pexen (``before`` each);
    ``load=()``: pexen loaded by its entry point only, where it happens to
    come in the plugin order (in a subprocess: an in-process run registers
    the plugins in another order)."""
    pytester.makeconftest(RECORDER)
    args = (*QUIET, *args)
    runs = []
    for name, how in (
        ("plain", ("-p", "no:pexen")),
        ("serial", load),
        ("xdist", (*load, "-p", "xdist", "-n", "3")),
    ):
        before()
        log = pytester.path / f"{name}.jsonl"
        monkeypatch.setenv("COMPAT_LOG", str(log))
        if name == "xdist" or (name == "serial" and not load):
            result = pytester.runpytest_subprocess(*how, *args, timeout=120)
        else:
            result = pytester.runpytest(*how, *args)
        assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
        runs.append(Run(log, result))
    plain, serial, xdist = runs
    assert serial.outcomes() == plain.outcomes()
    assert xdist.outcomes() == plain.outcomes()
    return plain, serial, xdist


def copy(pytester: pytest.Pytester, *parts: str, into: str = "") -> None:
    shutil.copytree(DATA.joinpath(*parts), pytester.path / into, dirs_exist_ok=True)


def assert_order_kept(plain: Run, xdist: Run, session_scope: bool = True, level: int = 0) -> None:
    """What pytest-order promises held on the workers: each module with an
    order marker ran on one worker in the serial order, one test after the
    other; with the session scope (per folder at ``level``), of two tests
    with different indices (unordered counting as one), the one the serial
    run started first ended before the other started, whatever their
    modules."""
    order = [item["item"] for item in plain.items]
    marked_modules = {i["item"].partition("::")[0] for i in plain.items if i["marked"]}
    for module in marked_modules:
        tests = [n for n in order if n.partition("::")[0] == module]
        spans = sorted((xdist.span(n) for n in tests), key=lambda s: s[0])
        assert len({worker for _, _, worker in spans}) == 1, module
        assert [xdist.span(n) for n in tests] == spans, module
        assert all(a[1] <= b[0] for a, b in pairwise(spans)), module
    if not session_scope:
        return
    index = {i["item"]: i["index"] for i in plain.items}

    def scope(nodeid: str) -> list[str]:
        return nodeid.split("/")[:level]

    for n, first in enumerate(order):
        for then in order[n + 1 :]:
            if index[first] != index[then] and scope(first) == scope(then):
                assert xdist.span(first)[1] <= xdist.span(then)[0], (first, then)


def test_dependency_documented_examples(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All scopes (session across modules, package, module, class), named
    and unnamed, parametrized, class markers, depends() at run time (also
    from a module fixture on another module), and markers the plugin
    cannot use (it skips or errors; so does pexen, never more)."""
    copy(pytester, "dependency")
    plain, _, _ = three_ways(pytester, monkeypatch, "-rs")
    outcomes = plain.outcomes()
    # the suite says what the plugin does: spot checks that it ran as documented
    assert outcomes["test_basic.py::test_c"] == (
        "skipped",
        "pytest_dependency.py",
        outcomes["test_basic.py::test_c"][2],
        "Skipped: test_c depends on test_a",
    )
    assert outcomes["tests/test_mod_02.py::test_e"] == ("passed",)
    assert outcomes["tests/test_mod_02.py::test_f"][-1] == (
        "Skipped: test_f depends on tests/test_mod_01.py::test_b"
    )
    assert outcomes["tests/test_mod_03_runtime.py::test_runs[0]"] == ("passed",)
    assert outcomes["test_group_fixture2.py::test_b[7]"][-1] == (
        "Skipped: test_group_fixture2.py depends on test_a[7]"
    )
    assert outcomes["pkg/test_p2.py::test_after_fail"][0] == "skipped"
    assert outcomes["test_zz_bad_input.py::test_class_scope_outside_class"] == ("error",)


def test_order_documented_examples(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indices (negative, ordinals), class and module markers, several
    markers on one test, before=/after= in all forms (two of the documented
    ones name no test: pytest-order warns and ignores them)."""
    copy(pytester, "order", "usage")
    copy(pytester, "order", "introduction", into="introduction")
    plain, _, xdist = three_ways(pytester, monkeypatch)
    assert_order_kept(plain, xdist)
    # the relation between modules that the documentation shows
    a = "order_relative_to_other_tests/test_between_modules/test_module_a.py::TestA::test_a"
    b = "order_relative_to_other_tests/test_between_modules/test_modules_b.py::test_a"
    assert xdist.span(a)[1] <= xdist.span(b)[0]


@pytest.mark.parametrize(
    ("examples", "options", "level"),
    [
        (["order_scope"], ["--order-scope=module"], None),
        (["order_scope_level"], ["--order-scope-level=1"], 1),
        (
            ["sparse_ordering", "order_marker_prefix", "order_dependencies"],
            ["--sparse-ordering", "--order-marker-prefix=m", "--order-dependencies"],
            0,
        ),
    ],
    ids=["order-scope", "order-scope-level", "sparse-prefix-dependencies"],
)
def test_order_options(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    examples: list[str],
    options: list[str],
    level: int | None,
) -> None:
    for example in examples:
        copy(pytester, "order", "configuration", example, into=example)
    pytester.makeini("[pytest]\nmarkers =\n    m1\n    m2\n    m3\n")
    plain, _, xdist = three_ways(pytester, monkeypatch, *options)
    assert_order_kept(plain, xdist, level is not None, level or 0)


def test_order_group_scope(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``--order-group-scope=module`` whole modules are ordered: in
    both documented examples every test of test_module2 runs first."""
    copy(pytester, "order", "configuration", "order_group_scope", into="group")
    plain, _, xdist = three_ways(pytester, monkeypatch, "--order-group-scope=module")
    assert_order_kept(plain, xdist, session_scope=False)
    for example in ("index_ordering", "relative_ordering"):
        first = [n for n in xdist.reports if n.startswith(f"group/{example}/test_module2")]
        then = [n for n in xdist.reports if n.startswith(f"group/{example}/test_module1")]
        assert max(xdist.span(n)[1] for n in first) <= min(xdist.span(n)[0] for n in then)


ORDER_STATE = {
    # pytest-order's own test of xdist (tests/test_xdist_handling.py): state
    # in module globals, which only holds on one worker, in that order
    "first_test": """
        import pytest

        val = 1

        @pytest.mark.order("second")
        def test_second_integer():
            global val
            assert val == 2
            val += 1

        def test_last_integer():
            assert val == 3

        @pytest.mark.order("first")
        def test_first_integer():
            global val
            assert val == 1
            val += 1
    """,
    "second_test": """
        import pytest

        val = "frog"

        @pytest.mark.order("second")
        def test_second_string():
            global val
            assert val == "goat"
            val = "fish"

        def test_last_string():
            assert val == "fish"

        @pytest.mark.order("first")
        def test_first_string():
            global val
            assert val == "frog"
            val = "goat"
    """,
    # across modules: the first test makes what every test needs, the last
    # one sees that all of them ran
    "test_make": """
        import os, pathlib, pytest
        STATE = pathlib.Path(os.environ["STATE_DIR"])

        @pytest.mark.order("first")
        def test_make():
            (STATE / "made").write_text("")

        @pytest.mark.order("last")
        def test_count():
            assert len(list(STATE.glob("used-*"))) == 6
    """,
    "test_use_a": """
        import os, pathlib, pytest
        STATE = pathlib.Path(os.environ["STATE_DIR"])

        @pytest.mark.parametrize("n", range(3))
        def test_use(n):
            assert (STATE / "made").exists()
            (STATE / f"used-a{n}").write_text("")
    """,
    "test_use_b": """
        import os, pathlib, pytest
        STATE = pathlib.Path(os.environ["STATE_DIR"])

        @pytest.mark.parametrize("n", range(3))
        def test_use(n):
            assert (STATE / "made").exists()
            (STATE / f"used-b{n}").write_text("")
    """,
}


def test_order_state_across_workers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(**ORDER_STATE)
    pytester.makeini("[pytest]\npython_files = *_test.py test_*.py\n")
    state = pytester.mkdir("state")
    monkeypatch.setenv("STATE_DIR", str(state))

    def fresh() -> None:
        for path in state.iterdir():
            path.unlink()

    plain, _, _ = three_ways(pytester, monkeypatch, before=fresh)
    plain.result.assert_outcomes(passed=14)
    # without pexen's relations xdist breaks them, as pytest-order documents
    fresh()
    result = pytester.runpytest_subprocess(
        *QUIET, "-p", "pexen", "-p", "xdist", "-n", "3", "--pexen-compat=none", timeout=120
    )
    assert result.ret == 1


INTERLEAVED = {
    "test_a": """
    import pytest

    @pytest.mark.order(1)
    def test_a1(): pass

    @pytest.mark.order(2)
    def test_a2(): pass
    """,
    "test_b": """
    import pytest

    @pytest.fixture(scope="module")
    def box():
        return []

    @pytest.fixture(scope="module")
    def breaks():
        yield
        raise RuntimeError("module teardown failed")

    @pytest.mark.order(1)
    def test_b1(box, breaks):
        box.append(1)

    @pytest.mark.order(2)
    def test_b2(box, breaks):
        assert box == []  # the serial run set the module up again for it
    """,
}


def test_order_across_modules_sets_module_fixtures_up_as_serially(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-order interleaves two modules' tests (a1, b1, a2, b2): a
    serial run tears test_b's module fixtures down before a2 and sets them
    up again for b2. Under xdist pexen keeps test_b on one worker, and its
    fixtures are torn down where the serial run tears them down: the same
    outcomes, the teardown failing twice."""
    pytester.makepyfile(**INTERLEAVED)
    plain, _, xdist = three_ways(pytester, monkeypatch, "-rE")
    plain.result.assert_outcomes(passed=4, errors=2)
    xdist.result.assert_outcomes(passed=4, errors=2)


RUNTIME_WAIT = {
    "test_wait": """
    import pytest_pexen as pexen
    from pytest_dependency import depends

    @pexen.priority(-1)  # starts first, and finds its dependency not run yet
    def test_needs(request):
        depends(request, ["test_slow.py::test_slow_dependency"], scope="session")
    """,
    "test_slow": """
    import time
    import pytest

    @pytest.mark.dependency()
    def test_slow_dependency():
        time.sleep(0.3)
    """,
    "test_zfill": """
    import pytest

    @pytest.mark.parametrize("n", range(40))
    def test_filler(n):
        pass
    """,
}


def test_runtime_depends_waits_while_the_test_runs_elsewhere(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first worker gets test_needs with the next tests queued behind
    it, test_slow_dependency among them: it gives them back and waits while
    the other worker runs it (a session-scope name: the two tests may run
    apart). Alone, a worker cannot wait: the test is skipped, saying why."""
    pytester.makepyfile(**RUNTIME_WAIT)
    pytester.makeconftest(RECORDER)
    log = pytester.path / "two.jsonl"
    monkeypatch.setenv("COMPAT_LOG", str(log))
    result = pytester.runpytest_subprocess(
        *QUIET, "-p", "pexen", "-p", "xdist", "-n", "2", timeout=120
    )
    result.assert_outcomes(passed=42)
    run = Run(log, result)
    needs, slow = (
        run.span("test_wait.py::test_needs"),
        run.span("test_slow.py::test_slow_dependency"),
    )
    assert needs[2] != slow[2] and slow[1] <= needs[1]
    result = pytester.runpytest_subprocess(
        *QUIET, "-p", "pexen", "-p", "xdist", "-n", "1", "-rs", timeout=120
    )
    result.assert_outcomes(passed=41, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *test_wait.py:*: test_needs depends on "
            "test_slow.py::test_slow_dependency (pexen: "
            "test_slow.py::test_slow_dependency had not run, and no other worker could run it "
            "first)"
        ]
    )


def test_automark_and_ignore_unknown(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``automark_dependency`` records every test; with
    ``--ignore-unknown-dependency`` a name not known before is ignored."""
    pytester.makeini("[pytest]\nautomark_dependency = true\n")
    pytester.makepyfile(
        test_auto="""
        import pytest
        from pytest_dependency import depends

        def test_fails():
            assert False

        def test_passes():
            pass

        def test_after_failure(request):
            depends(request, ["test_fails"])

        def test_after_pass(request):
            depends(request, ["test_passes"])

        @pytest.mark.dependency(depends=["test_later", "test_nowhere"])
        def test_unknown_ignored():
            pass

        def test_later():
            pass
    """
    )
    plain, _, _ = three_ways(pytester, monkeypatch, "--ignore-unknown-dependency")
    outcomes = plain.outcomes()
    assert outcomes["test_auto.py::test_after_failure"][0] == "skipped"
    assert outcomes["test_auto.py::test_after_pass"] == ("passed",)
    assert outcomes["test_auto.py::test_unknown_ignored"] == ("passed",)


PLAN_SUITE = {
    "test_one": """
        import pytest

        @pytest.mark.order("last")
        def test_end():
            pass

        @pytest.mark.dependency()
        def test_base():
            pass

        @pytest.mark.dependency(depends=["test_base", "test_missing"])
        def test_next():
            pass

        @pytest.mark.order(0)
        def test_start():
            pass
    """,
    "test_two": """
        import pytest

        @pytest.mark.dependency(depends=["test_one.py::test_base"], scope="session")
        def test_far():
            pass

        def test_free():
            pass
    """,
}


def test_plan_shows_the_derived_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**PLAN_SUITE)
    result = pytester.runpytest("-p", "pexen", "--pexen-plan", "--pexen-graph=g.dot")
    result.stdout.fnmatch_lines(
        [
            "pexen plan: 6 tests in start order",
            "pexen: under xdist each of these modules runs on one worker, in this order "
            "(pytest-dependency/pytest-order markers): test_one.py, test_two.py",
            "1. test_one.py::test_start  [[]order: 0[]]",
            "2. test_one.py::test_base  [[]order: the 4 tests from here start after the 1 test "
            "before them[]]",
            "3. test_one.py::test_next  [[]depends on 'test_base': after test_one.py::test_base; "
            "depends on 'test_missing': not run before it (pytest-dependency skips it)[]]",
            "4. test_two.py::test_far  [[]depends on 'test_one.py::test_base': after "
            "test_one.py::test_base[]]",
            "5. test_two.py::test_free",
            "6. test_one.py::test_end  [[]order: -1; order: the 1 test from here starts after "
            "the 4 tests before it[]]",
        ]
    )
    dot = (pytester.path / "g.dot").read_text()
    assert (
        '"test_one.py::test_base" -> "test_two.py::test_far" '
        '[label="pexen-after:test_one.py::test_base", style=dashed];'
    ) in dot
    assert result.ret == 0


@pytest.mark.parametrize("how", [["--pexen-compat=none"], ["-o", "pexen_compat=none"]])
def test_compat_none_leaves_the_plugins_alone(pytester: pytest.Pytester, how: list[str]) -> None:
    pytester.makepyfile(**PLAN_SUITE)
    result = pytester.runpytest("-p", "pexen", "--pexen-plan", *how)
    result.stdout.fnmatch_lines(["pexen plan: no pexen metadata; pytest's own order:"])
    result = pytester.runpytest("-p", "pexen", "-rs", *how)
    result.assert_outcomes(passed=5, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1[]] *pytest_dependency.py:*: test_next depends on test_missing"]
    )


def test_compat_one_plugin_and_a_bad_ini_value(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**PLAN_SUITE)
    result = pytester.runpytest("-p", "pexen", "--pexen-plan", "--pexen-compat=order")
    result.stdout.fnmatch_lines(["1. test_one.py::test_start  [[]order: 0[]]"])
    result.stdout.no_fnmatch_line("*depends on*")
    result = pytester.runpytest("-p", "pexen", "-o", "pexen_compat=both")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pexen: ini option pexen_compat must be one of all, "
            "dependency, order, none, not 'both'"
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_order_markers_pytest_order_cannot_use(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown ordinal, a float, a label naming no test and a cycle:
    pytest-order warns and ignores them; pexen adds no error of its own."""
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.order("bogus")
        def test_a(): pass

        @pytest.mark.order(after=["nowhere"])
        def test_c(): pass

        @pytest.mark.order(1.5)
        def test_e(): pass

        @pytest.mark.order(after="test_g")
        def test_f(): pass

        @pytest.mark.order(after="test_f")
        def test_g(): pass
        """
    )
    plain, _, xdist = three_ways(pytester, monkeypatch, "-W", "ignore::UserWarning")
    plain.result.assert_outcomes(passed=5)
    plain.result.stdout.fnmatch_lines(["*cannot execute test relative to others*"])
    assert xdist.result.ret == 0


def test_resume_restores_records_of_earlier_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``--pexen-resume`` a test that ended before the stop is not run
    again; pytest-dependency's record of it comes from the journal, so its
    dependent runs, whether the resume is serial or under xdist."""
    pytester.makepyfile(
        test_r="""
        import os, signal
        import pytest
        from pytest_dependency import depends

        @pytest.mark.dependency()
        def test_a():
            pass

        def test_stop():
            if os.environ.get("KILL"):
                os.kill(os.getpid(), signal.SIGKILL)

        def test_b(request):
            depends(request, ["test_a"])
        """
    )
    for how in ([], ["-p", "xdist", "-n", "2"]):
        monkeypatch.setenv("KILL", "1")
        first = pytester.runpytest_subprocess(
            *QUIET, "-p", "pexen", "--pexen-state=state.jsonl", timeout=120
        )
        assert first.ret != 0
        monkeypatch.delenv("KILL")
        second = pytester.runpytest_subprocess(
            *QUIET,
            "-p",
            "pexen",
            "--pexen-state=state.jsonl",
            "--pexen-resume",
            "-rs",
            *how,
            timeout=120,
        )
        second.assert_outcomes(passed=3)
        assert "depends on" not in second.stdout.str()


# pastastore's and python-icat's pattern: bare markers, relations declared
# at run time, state in a module fixture (issue 20)
RUNTIME_STORE = """
import pytest
from pytest_dependency import depends

@pytest.fixture(scope="module")
def store():
    return {}

@pytest.mark.dependency
def test_add(store):
    store["x"] = 1

@pytest.mark.dependency
def test_get(request, store):
    depends(request, ["test_add"])
    store["y"] = store.pop("x")

@pytest.mark.dependency
def test_move(request, store):
    depends(request, ["test_get"])
    store["z"] = store.pop("y")

@pytest.mark.dependency
def test_move_again(request, store):
    depends(request, ["test_move"])
    store["w"] = store.pop("z")

@pytest.mark.dependency
def test_drop(request, store):
    depends(request, ["test_move_again"])
    del store["w"]

def test_empty(store):
    assert store == {}
"""


def test_runtime_depends_with_bare_markers_keeps_the_module_on_one_worker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No marker says ``depends=``: the module still runs on one worker in
    its serial order (its module fixture is the serial run's), and
    ``--pexen-plan -n 2`` says so. Plain ``-n 2`` would skip; pexen used to
    hand test_get test_add's record from the other worker and fail it."""
    pytester.makepyfile(test_store=RUNTIME_STORE)
    pytester.makepyfile(
        test_other="import pytest\n\n@pytest.mark.parametrize('n', range(6))\n"
        "def test_filler(n):\n    pass\n"
    )
    plan = pytester.runpytest_subprocess(
        *QUIET, "-p", "pexen", "-p", "xdist", "-n", "2", "--pexen-plan", timeout=120
    )
    plan.stdout.fnmatch_lines(
        [
            "pexen: under xdist each of these modules runs on one worker, in this order "
            "(pytest-dependency/pytest-order markers): test_store.py"
        ]
    )
    pytester.makeconftest(RECORDER)
    runs = []
    for name, how in (("plain", ("-p", "no:pexen")), ("xdist", ("-p", "xdist", "-n", "2"))):
        log = pytester.path / f"{name}.jsonl"
        monkeypatch.setenv("COMPAT_LOG", str(log))
        runs.append(Run(log, pytester.runpytest_subprocess(*QUIET, *how, timeout=120)))
    plain, xdist = runs
    plain.result.assert_outcomes(passed=12)
    assert xdist.outcomes() == plain.outcomes()
    workers = {xdist.span(n)[2] for n in xdist.reports if n.startswith("test_store.py")}
    assert len(workers) == 1


# every kind of marker pytest-order reads, a failure (for --ff) and a
# dependency that comes later in the file (for --order-dependencies)
ORDER_OPTIONS_SUITE = {
    "sub/test_a.py": """
        import pytest

        @pytest.mark.order("last")
        def test_a_last(): pass

        def test_a_fails(): assert False

        @pytest.mark.dependency(depends=["test_a_later"])
        def test_a_needs_later(): pass

        @pytest.mark.dependency()
        def test_a_later(): pass

        @pytest.mark.order(after="test_a_fails")
        def test_a_after_fail(): pass

        @pytest.mark.m2
        def test_a_m2(): pass

        @pytest.mark.order(1)
        def test_a_one(): pass

        @pytest.mark.m1
        def test_a_m1(): pass
    """,
    "sub/test_b.py": """
        import pytest

        def test_b_plain(): pass

        @pytest.mark.order(before="sub/test_a.py::test_a_one")
        def test_b_before_a_one(): pass

        @pytest.mark.order(-2)
        def test_b_second_to_last(): pass

        @pytest.mark.order("first")
        def test_b_first(): pass
    """,
    "other/test_c.py": """
        import pytest

        def test_c_plain(): pass

        class TestC:
            @pytest.mark.order(2)
            def test_two(self): pass

            @pytest.mark.order(0)
            def test_zero(self): pass
    """,
}


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--indulgent-ordering"],
        ["--order-after-ff"],
        ["--ff", "--order-after-ff"],
        ["--ff"],
        ["--nf", "--order-after-ff"],
        ["--order-scope=module"],
        ["--order-scope=class"],
        ["--order-group-scope=module"],
        ["--order-scope-level=1"],
        ["--sparse-ordering"],
        ["--order-dependencies"],
        ["--order-marker-prefix=m"],
        ["--indulgent-ordering", "--order-dependencies", "--sparse-ordering"],
    ],
    ids=lambda options: " ".join(options) or "no-options",
)
def test_pytest_order_options_keep_their_order(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, options: list[str]
) -> None:
    """Whatever the options, pexen plans on the order pytest-order (and
    pytest's ``--ff``) finally produce: a serial run with pexen runs the
    tests in the very order of ``-p no:pexen`` and ends them the same way,
    and so does ``-n 3``. pytest-order sorts in a wrapper registered at
    configure time with ``--order-after-ff``, after pexen's when pexen is
    loaded by its entry point (no ``-p pexen``): pexen used to skip the
    tests it had not seen in that order."""
    for path, text in ORDER_OPTIONS_SUITE.items():
        target = pytester.path / path
        target.parent.mkdir(exist_ok=True)
        target.write_text(textwrap.dedent(text))
    pytester.makeini("[pytest]\nmarkers =\n    m1\n    m2\n")
    pytester.makeconftest(RECORDER)
    monkeypatch.setenv("COMPAT_LOG", str(pytester.path / "seed.jsonl"))
    pytester.runpytest(*QUIET, "-p", "no:pexen")  # a failure for --ff to find
    plain, serial, _ = three_ways(pytester, monkeypatch, *options, load=())
    assert [i["item"] for i in serial.items] == [i["item"] for i in plain.items]
    assert "pexen" not in str(serial.outcomes())
