"""Crashes, resends and reruns go through the planner like any start.

A test resent after its worker died gets what the controller first gave
it; a crashed test that pytest-rerunfailures runs again still holds its
locks; each attempt of a retried test starts from the same shared input,
and each dependent gets its own copy of what a provider left.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pytest_rerunfailures")


@pytest.fixture
def flags(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder for once-only flags and span logs of the inner tests."""
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    folder = pytester.mkdir("flags")
    monkeypatch.setenv("FLAG_DIR", str(folder))
    return folder


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "pexen", "-p", "xdist", *args, timeout=120)


def test_resent_tests_keep_their_shared_state(pytester: pytest.Pytester, flags: Path) -> None:
    pytester.makepyfile(
        test_r="""
        import os, pytest, pytest_pexen as pexen
        @pexen.provides("p")
        def test_p(pexen_shared): pexen_shared["k"] = [1, 2]
        @pytest.mark.parametrize("i", range(40))
        @pexen.requires("p")
        def test_d(i, pexen_shared):
            assert pexen_shared["k"] == [1, 2]
            if i == 5:
                os._exit(3)
    """
    )
    for _ in range(3):
        result = run(pytester, "-n", "2")
        result.assert_outcomes(passed=40, failed=1)
        result.stdout.fnmatch_lines(["*crashed while running 'test_r.py::test_d[[]5[]]'*"])


SPANS = """
import json, os, time

def span(name, start):
    with open(os.path.join(os.environ["FLAG_DIR"], "spans.jsonl"), "a") as f:
        f.write(json.dumps([name, start, time.time()]) + "\\n")

def once(name):
    flag = os.path.join(os.environ["FLAG_DIR"], name)
    if os.path.exists(flag):
        return False
    open(flag, "w").close()
    return True
"""


def test_crash_rerun_keeps_the_claim(pytester: pytest.Pytester, flags: Path) -> None:
    pytester.makepyfile(
        spans=SPANS,
        test_c="""
        import os, time, pytest, pytest_pexen as pexen
        from spans import span, once
        @pexen.claims("lab")
        def test_crashy():
            start = time.time()
            if once("crashy"):
                time.sleep(0.2)
                os._exit(3)
            time.sleep(0.3)
            span("crashy", start)
        @pexen.claims("lab")
        def test_other():
            start = time.time()
            time.sleep(0.3)
            span("other", start)
        @pytest.mark.parametrize("i", range(4))
        def test_free(i): time.sleep(0.1)
    """,
    )
    result = run(pytester, "-n", "2", "--reruns", "1")
    assert result.parseoutcomes() == {"passed": 6, "rerun": 1}
    spans = {
        name: (start, end)
        for name, start, end in map(json.loads, (flags / "spans.jsonl").read_text().splitlines())
    }
    (a_start, a_end), (b_start, b_end) = spans["crashy"], spans["other"]
    assert a_end <= b_start or b_end <= a_start, spans


def test_provider_crashing_on_every_attempt_skips_dependents(
    pytester: pytest.Pytester, flags: Path
) -> None:
    pytester.makepyfile(
        test_p="""
        import os, time, pytest_pexen as pexen
        @pexen.provides("p")
        def test_p():
            # pytest-rerunfailures learns the rerun count from the worker
            # over a socket: a crash at once can beat it (its own race)
            time.sleep(0.3)
            os._exit(3)
        @pexen.requires("p")
        def test_dep(): pass
        def test_free(): time.sleep(0.2)
    """
    )
    result = run(pytester, "-n", "2", "--reruns", "2", "-rs")
    assert result.parseoutcomes() == {"passed": 1, "failed": 1, "skipped": 1, "rerun": 2}
    result.stdout.fnmatch_lines(["*'p' not provided: test_p.py::test_p crashed*"])


RETRIED = """
import pytest_pexen as pexen
from spans import once

@pexen.provides("p")
def test_p(pexen_shared):
    pexen_shared["k"] = "v"
    pexen_shared["list"] = [1]

@pexen.requires("p")
@pexen.provides("d")
def test_d(pexen_shared):
    assert pexen_shared["k"] == "v"
    assert "attempts" not in pexen_shared  # a failed attempt's writes are gone
    pexen_shared["attempts"] = 1
    assert not once("d"), "first attempt fails"

@pexen.requires("d")
def test_after_d(pexen_shared):
    assert pexen_shared["attempts"] == 1 and pexen_shared["k"] == "v"

@pexen.requires("p")
def test_f(pexen_shared):
    pexen_shared["list"].append(2)

@pexen.requires("p")
def test_g(pexen_shared):
    assert pexen_shared["list"] == [1]  # test_f's append is its own
"""


@pytest.mark.parametrize("workers", [None, "2"], ids=["serial", "xdist"])
def test_retried_dependent_starts_from_the_same_input(
    pytester: pytest.Pytester, flags: Path, workers: str | None
) -> None:
    pytester.makepyfile(spans=SPANS, test_s=RETRIED)
    for n in range(3 if workers else 1):
        for flag in flags.iterdir():
            flag.unlink()
        args = ["-n", workers] if workers else []
        result = run(pytester, *args, "--reruns", "1")
        assert result.parseoutcomes() == {"passed": 5, "rerun": 1}, (n, result.stdout.str())


FLAKY_SLOW = """
import os, time

def test_flaky():
    count = int(os.environ["FLAKY_FLAG"] and open(os.environ["FLAKY_FLAG"]).read() or 0)
    open(os.environ["FLAKY_FLAG"], "w").write(str(count + 1))
    time.sleep(0.3 if count < 2 else 0.05)
    assert count >= 2
"""


@pytest.mark.parametrize("workers", [None, "2"], ids=["serial", "xdist"])
def test_a_rerun_tests_duration_is_its_last_attempts(
    pytester: pytest.Pytester, workers: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's duration of a test that pytest-rerunfailures ran
    again is its last attempt's, as in both xUnit reports (a void
    attempt's time was counted in the journal only)."""
    import xml.etree.ElementTree as ET

    flag = pytester.path / "flaky.count"
    flag.write_text("0")
    monkeypatch.setenv("FLAKY_FLAG", str(flag))
    pytester.makepyfile(test_f=FLAKY_SLOW)
    args = ["-n", workers] if workers else []
    result = run(
        pytester,
        *args,
        "--reruns",
        "2",
        "--junitxml=j.xml",
        "--pexen-junitxml=pj.xml",
        "--pexen-state=state.jsonl",
    )
    assert result.parseoutcomes() == {"passed": 1, "rerun": 2}
    end = next(
        r
        for r in map(json.loads, (pytester.path / "state.jsonl").read_text().splitlines())
        if r["type"] == "end"
    )
    # pytest's report has a testcase for each attempt, pexen's one for the test
    times = [
        float(list(ET.parse(pytester.path / name).iter("testcase"))[-1].get("time") or 0)
        for name in ("j.xml", "pj.xml")
    ]
    assert end["duration"] < 0.2, end
    assert all(abs(end["duration"] - t) < 0.01 for t in times), (end, times)
