"""Outcome words: a sub-result's, and a test's own from its phase reports.

Shared by the sub-results (results.recorder), the xUnit report
(results.junit), executable tests (exec.items) and the journal
(journal.resume), so that the terminal, the report and the journal state
the same outcome of a test: the words of a sub-result (``OUTCOMES``) and
of a test's own outcome (``error``, ``fail``, ``xfail``, ``skip``,
``xpass``, ``pass``), how one phase's word combines with the phases
before, and which reports are a subtest's (their time is part of their
test's call).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import pytest

#: every outcome word, worst first (SPEC: error > fail > warn > pass > info > skip)
OUTCOMES = ("error", "fail", "warn", "pass", "info", "skip")

_OWN_ORDER = ("error", "fail", "xfail", "skip", "xpass", "pass")  # worst first


def merge_own(current: str, phase: str) -> str:
    """A test's own outcome so far, and one more phase's: a failed phase
    decides, then a skipped one (a skipped test never passed)."""
    return min(current, phase, key=_OWN_ORDER.index)


_SUBTEST_REPORT: tuple[type, ...] = tuple(
    [pytest.SubtestReport] if hasattr(pytest, "SubtestReport") else []  # pytest >= 9
)


def is_subtest(report: object) -> bool:
    """Whether a report is a subtest's (pytest's ``subtests``): its time is
    part of its test's call, so it never adds to the test's duration, which
    is setup + call + teardown as the test's own reports add up."""
    return isinstance(report, _SUBTEST_REPORT)


def own_outcome(report: pytest.TestReport) -> str:
    """A phase report's own outcome word (before any sub-result counts).
    xdist's report of a test whose worker died (``when`` "???") is an
    error, but for a test the watchdog stopped over its limit by ending its
    worker (``pexen_timeout`` on the report): that one failed, as a serial
    run and the terminal say."""
    was = getattr(report, "pexen_was", None) or report.outcome
    if hasattr(report, "wasxfail") and report.when == "call":
        return "xfail" if was == "skipped" else "xpass" if was == "passed" else "fail"
    if was == "failed":
        failed = report.when == "call" or "pexen_timeout" in report.__dict__
        return "fail" if failed else "error"
    return "skip" if was == "skipped" else "pass"
