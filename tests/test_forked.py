"""Tests that pytest-forked runs in a child process (``--forked``).

pytest-forked calls ``logstart``, ``logreport`` and ``logfinish`` in the
process that runs the session, but a test's setup, call and teardown in a
forked child. pytest-forked 1.7 cannot send a report back from the child on
pytest >= 9.2 (``marshal`` refuses pytest's node id object): every forked
test there is reported as a crashed child ("EXITED with status 3"), with
and without pexen. What pexen must do there is end, as plain pytest does.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_forked")

REPORTS_COME_BACK = pytest.version_tuple[:2] < (9, 2)

DEPENDENCY = """
import pytest

@pytest.mark.dependency()
def test_a():
    pass

@pytest.mark.dependency(depends=["test_a"])
def test_b():
    pass

def test_c():
    pass
"""

MARKED = """
import os
import pytest
import pytest_pexen as pexen

@pexen.provides("x")
def test_p(pexen_shared):
    pexen_shared["v"] = 1

@pexen.requires("x")
def test_r(pexen_shared):
    assert pexen_shared.get("v") == 1

@pexen.provides("y")
def test_bad():
    assert 0

@pexen.requires("y")
def test_needs_bad():
    pass

@pytest.mark.forked
def test_crash():
    os._exit(5)
"""


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    return {k: v for k, v in result.parseoutcomes().items() if k not in ("warning", "warnings")}


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_forked_dependency_suite_ends_as_without_pexen(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    """Under xdist, pytest-dependency's check of a test whose provider ran
    elsewhere (or whose report never came back) asks the controller; in a
    forked child that wait never ended (the child has no thread receiving
    the answer): the run hung.

    Where reports come back, pytest-dependency alone skips ``test_b``: it
    records ``test_a``'s outcome in ``test_a``'s child, which its parent
    never sees. Under xdist pexen hands pytest-dependency the outcomes
    read off the reports that came back, so ``test_b`` runs."""
    pytester.makepyfile(test_dep=DEPENDENCY)
    args = ["--forked", "-p", "no:cacheprovider", *xdist]
    plain = pytester.runpytest_subprocess("-p", "no:pexen", *args, timeout=120)
    ours = pytester.runpytest_subprocess("-p", "pexen", *args, timeout=120)
    assert "INTERNALERROR" not in ours.stdout.str()
    if xdist and REPORTS_COME_BACK:
        assert ours.ret == 0
        assert outcomes(ours) == {"passed": 3}
    else:
        assert ours.ret == plain.ret
        assert outcomes(ours) == outcomes(plain)


@pytest.mark.skipif(
    not REPORTS_COME_BACK, reason="pytest-forked 1.7 sends no report back on pytest >= 9.2"
)
@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_forked_tests_keep_order_skips_and_shared_state(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    """Serially the planner heard of a test's start in the child only: the
    next test that required it was skipped as "the test order was changed",
    and so was every test after it. What a forked test hands on
    (``pexen_shared``) was lost with its child, serially and under xdist."""
    pytester.makepyfile(test_m=MARKED)
    result = pytester.runpytest_subprocess("-p", "pexen", "--forked", "-rs", *xdist, timeout=120)
    result.assert_outcomes(passed=2, failed=2, skipped=1)
    result.stdout.fnmatch_lines(["*pexen: 'y' not provided: test_m.py::test_bad failed*"])
    assert "order was changed" not in result.stdout.str()
    marker_only = pytester.runpytest_subprocess("-p", "pexen", "-rs", *xdist, timeout=120)
    marker_only.assert_outcomes(passed=2, failed=2, skipped=1)
