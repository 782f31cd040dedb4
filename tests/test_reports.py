"""Reports that never lie (issue 19): each outcome, message and duration
the same in the terminal, the xUnit report, the journal and the timeline,
serially and under xdist."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_junit import SUBTESTS, cases_of, kind, validated
from test_timeline import page_data, value

from pytest_pexen import journal
from pytest_pexen.results.junit import INTERRUPTED

XDIST = ["-p", "xdist", "-n", "2"]
MODES = pytest.mark.parametrize("mode", [[], XDIST], ids=["serial", "xdist"])


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "pexen", "-W", "error", "--strict-markers", "--strict-config", *args, timeout=180
    )


def message(case: ET.Element) -> str:
    node = next(c for c in case if c.tag in ("failure", "error", "skipped"))
    return node.get("message", "")


def text(case: ET.Element) -> str:
    node = next(c for c in case if c.tag in ("failure", "error", "skipped"))
    return node.text or ""


INTERRUPTING = """
import os, signal, time

def test_a(): pass
def test_b(): pass
def test_c(): pass

def test_stop():
    time.sleep(1)  # time for an xdist controller to hear that it started
    os.killpg(os.getpgrp(), signal.SIGINT)  # Ctrl-C: the whole process group
    time.sleep(20)

def test_d(): time.sleep(0.5)
def test_e(): time.sleep(0.5)
"""


def in_own_group(pytester: pytest.Pytester, *args: str) -> tuple[int, str]:
    """A pexen run in a process group of its own (a test sends the whole
    group a Ctrl-C): its exit code and output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "pexen", *args],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, for the Ctrl-C
    )
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode, out.decode(errors="replace")


@MODES
def test_interrupted_test_is_never_a_passing_testcase(
    pytester: pytest.Pytester, mode: list[str]
) -> None:
    """Ctrl-C during a test: the test is in the report as an error that
    says it was interrupted, and no passing testcase is a test that the
    journal says did not finish."""
    pytester.makepyfile(test_i=INTERRUPTING)
    state = pytester.path / "state.jsonl"
    code, out = in_own_group(
        pytester,
        *mode,
        f"--pexen-state={state}",
        "--pexen-junitxml=r.xml",
        "-p",
        "no:cacheprovider",
    )
    assert code == pytest.ExitCode.INTERRUPTED, out
    ended = journal.load(state).ended
    assert "test_i.py::test_stop" not in ended
    said = [ln for ln in out.splitlines() if ln.startswith("pexen: did not finish")]
    # test_stop, and under xdist a test the other worker was running then
    assert len(said) == 1 and said[0].endswith(("runs it again", "runs them again")), said
    named = said[0].split("ran): ")[1].split("; --pexen-resume")[0].split(", ")
    assert "test_i.py::test_stop" in named and not set(named) & set(ended), (named, ended)
    cases = cases_of(validated(pytester.path / "r.xml"))
    assert kind(cases["test_stop"]) == "error"
    assert message(cases["test_stop"]) == INTERRUPTED
    assert float(cases["test_stop"].get("time", "")) >= 1.0  # it ran until the Ctrl-C
    for name, case in cases.items():
        if kind(case) == "passed":
            assert ended[f"test_i.py::{name}"]["outcome"] == "pass", name
        else:
            assert message(case) == INTERRUPTED, name
            assert f"test_i.py::{name}" not in ended


@MODES
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_second_ctrl_c_is_no_finished_run(
    pytester: pytest.Pytester, mode: list[str], when: str
) -> None:
    """A second Ctrl-C while pytest still handles the first (here: raised
    by a conftest's hook, before any plugin's hook or after pexen's) leaves
    the session's exit status at 0; the journal's stop record still says
    the run was interrupted, with exit status 2."""
    pytester.makepyfile(test_i=INTERRUPTING)
    wrapper = "wrapper=True" if when == "before" else "trylast=True"
    generator = "yield  # a wrapper is a generator" if when == "before" else ""
    pytester.makeconftest(f"""
        import pytest
        @pytest.hookimpl({wrapper})
        def pytest_keyboard_interrupt():
            raise KeyboardInterrupt  # the second Ctrl-C
            {generator}
    """)
    state = pytester.path / "state.jsonl"
    code, out = in_own_group(pytester, *mode, f"--pexen-state={state}")
    assert code != 0, out
    stop = journal.load(state).stop
    assert stop is not None and stop["reason"] == "interrupted", out
    assert stop["exitstatus"] == pytest.ExitCode.INTERRUPTED


@MODES
def test_an_internal_error_is_no_finished_run(
    pytester: pytest.Pytester, mode: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin's hook that raises while a test runs (an INTERNALERROR,
    exit status 3) stops the run with tests unfinished: the journal's stop
    record says interrupted (it said finished), and a resume runs them."""
    pytester.makepyfile(test_i="def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\n")
    pytester.makeconftest("""
        import os
        def pytest_runtest_logreport(report):
            if report.nodeid.endswith("test_b") and report.when == "call" and os.environ.get("BUG"):
                raise RuntimeError("a plugin's bug")
    """)
    state = pytester.path / "state.jsonl"
    monkeypatch.setenv("BUG", "1")
    result = run(pytester, *mode, f"--pexen-state={state}")
    monkeypatch.delenv("BUG")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    stop = journal.load(state).stop
    assert stop is not None and stop["reason"] == "interrupted"
    assert stop["exitstatus"] == pytest.ExitCode.INTERNAL_ERROR
    resumed = run(pytester, *mode, f"--pexen-state={state}", "--pexen-resume")
    assert resumed.ret == pytest.ExitCode.OK
    assert set(journal.load(state).ended) == {f"test_i.py::test_{n}" for n in "abc"}


INFO = """
import pytest
import pytest_pexen as pexen

def test_skip(pexen_results):
    pexen_results.info("kernel 6.1")
    pexen_results.add("pass", "probe")
    pytest.skip("no hardware")
"""

REBOOT = """
import pytest_pexen as pexen

def test_reboot(pexen_results, pexen_boot_count):
    pexen_results.info("kernel 6.1")
    if pexen_boot_count == 0:
        pexen.reboot()
"""


@MODES
def test_info_never_changes_an_outcome(pytester: pytest.Pytester, mode: list[str]) -> None:
    """info and pass sub-results leave a skipped or rebooting test skipped,
    in the terminal, the report and the journal."""
    pytester.makepyfile(test_s=INFO)
    result = run(pytester, *mode, "--pexen-junitxml=r.xml", "--pexen-state=s.jsonl")
    result.assert_outcomes(skipped=1)
    cases = cases_of(validated(pytester.path / "r.xml"))
    assert kind(cases["test_skip"]) == "skipped"
    assert message(cases["test_skip"]) == "no hardware"
    assert kind(cases["test_skip::1"]) == kind(cases["test_skip::probe"]) == "passed"
    assert journal.load(pytester.path / "s.jsonl").ended["test_s.py::test_skip"]["outcome"] == (
        "skip"
    )

    (pytester.path / "test_s.py").unlink()
    pytester.makepyfile(test_r=REBOOT)
    result = run(pytester, *mode, "--pexen-junitxml=b.xml", "--pexen-reboot-cmd=true")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(skipped=1)
    cases = cases_of(validated(pytester.path / "b.xml"))
    assert kind(cases["test_reboot"]) == "skipped"
    assert message(cases["test_reboot"]).startswith("pexen: rebooting (boot count 0)")


BOTH = """
import pytest

@pytest.fixture
def td_broken():
    yield
    raise RuntimeError("teardown broke")

@pytest.fixture
def su_broken():
    raise RuntimeError("setup broke")

def test_call_and_teardown(td_broken):
    assert 1 == 2

def test_setup_and_teardown(td_broken, su_broken):
    pass
"""


@MODES
def test_nothing_hides_another_failure(pytester: pytest.Pytester, mode: list[str]) -> None:
    """A failed call or setup and then a teardown error: both messages and
    both texts in the test's testcase, schema-valid."""
    pytester.makepyfile(test_b=BOTH)
    result = run(pytester, *mode, "--pexen-junitxml=r.xml")
    result.assert_outcomes(failed=1, errors=3)  # as pytest counts them
    cases = cases_of(validated(pytester.path / "r.xml"))
    call = cases["test_call_and_teardown"]
    assert kind(call) == "error"
    assert message(call) == "assert 1 == 2; then failed on teardown: RuntimeError: teardown broke"
    assert "E       assert 1 == 2" in text(call)
    assert "E       RuntimeError: teardown broke" in text(call)
    setup = cases["test_setup_and_teardown"]
    assert kind(setup) == "error"
    assert message(setup) == (
        "failed on setup: RuntimeError: setup broke; "
        "then failed on teardown: RuntimeError: teardown broke"
    )
    assert "E       RuntimeError: setup broke" in text(setup)
    assert "E       RuntimeError: teardown broke" in text(setup)


MESSAGES = """
import os, pytest

@pytest.mark.xfail(strict=True, reason="known bug")
def test_xpass():
    pass

def test_crash():
    os._exit(3)
"""


def test_messages_are_the_same_under_xdist(pytester: pytest.Pytester) -> None:
    """An XPASS(strict) says so at -n 2 as serially, and a crashed worker's
    test says what pytest says; never the worker's header line."""
    pytester.makepyfile(test_m=MESSAGES)
    serial = run(pytester, "--pexen-junitxml=s.xml", "-k", "xpass")
    parallel = run(pytester, *XDIST, "--pexen-junitxml=x.xml")
    assert serial.ret == parallel.ret == 1
    one = cases_of(validated(pytester.path / "s.xml"))
    two = cases_of(validated(pytester.path / "x.xml"))
    assert message(one["test_xpass"]) == message(two["test_xpass"]) == ("[XPASS(strict)] known bug")
    assert text(two["test_xpass"]) == text(one["test_xpass"])
    crash = two["test_crash"]
    assert kind(crash) == "error"
    assert re.fullmatch(
        r"worker 'gw[01]' crashed while running 'test_m.py::test_crash'", message(crash)
    )
    for case in two.values():
        for node in case:
            if node.tag in ("failure", "error"):
                assert not (node.text or "").startswith("[gw"), node.text
                assert "linux -- Python" not in node.get("message", "")


HOOKS = """
def pytest_runtest_setup(item):
    if item.name == "test_s":
        raise RuntimeError("lab not reachable")

def pytest_runtest_call(item):
    if item.name == "test_c":
        raise RuntimeError("call hook broke")

def pytest_runtest_teardown(item):
    if item.name == "test_t":
        raise RuntimeError("teardown hook broke")
"""


@MODES
def test_pexen_frames_stay_out_of_tracebacks(pytester: pytest.Pytester, mode: list[str]) -> None:
    """With the results recorder active, the traceback of an error in a
    user's setup, call or teardown hook is the user's alone, in the
    terminal and in the report."""
    pytester.makeconftest(HOOKS)
    pytester.makepyfile(test_h="".join(f"def test_{x}(pexen_results):\n    pass\n" for x in "sct"))
    result = run(pytester, *mode, "--pexen-junitxml=r.xml")
    result.assert_outcomes(passed=1, failed=1, errors=2)
    out = result.stdout.str()
    for said in ("lab not reachable", "call hook broke", "teardown hook broke"):
        assert f"RuntimeError: {said}" in out
    assert "pytest_pexen" not in out and "Recorder" not in out
    cases = cases_of(validated(pytester.path / "r.xml"))
    for name in ("test_s", "test_c", "test_t"):
        assert text(cases[name]).startswith("item = <Function"), text(cases[name])
        assert "pytest_pexen" not in text(cases[name])


@MODES
def test_executable_failure_explains_itself(pytester: pytest.Pytester, mode: list[str]) -> None:
    """A failed executable's failure text ends with the end of its stderr
    and stdout, bounded and the cut said, in the report (junit_logging is
    ``no``) and in the short summary."""
    script = pytester.path / "suite" / "net.sh"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\necho starting\n"
        "i=0; while [ $i -lt 60 ]; do echo noise $i >&2; i=$((i+1)); done\n"
        "echo 'net is down' >&2\nexit 7\n"
    )
    script.chmod(0o755)
    result = run(pytester, *mode, "--pexen-exec", "-rf", "--pexen-junitxml=r.xml", "suite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED suite/net.sh - exit code 7; stderr ends: net is down"])
    case = cases_of(validated(pytester.path / "r.xml"))["net.sh"]
    assert message(case) == "exit code 7; stderr ends: net is down"
    lines = text(case).splitlines()
    assert lines[1] == "---- end of its stderr (last 50 of 61 lines) ----"
    assert lines[2] == "noise 11" and lines[51] == "net is down"
    assert lines[52:] == ["---- its stdout ----", "starting"]


@pytest.mark.skipif(not SUBTESTS, reason="the subtests fixture is built in from pytest 9")
@MODES
def test_durations_are_real(pytester: pytest.Pytester, mode: list[str]) -> None:
    """A test's duration is setup + call + teardown (its subtests' time is in
    its call): the same in the journal, the report and the page; the page's
    makespan is never below its lower bound, and its header and lanes say
    the same utilisation."""
    pytester.makepyfile(
        test_d="""
        import time
        def test_sub(subtests):
            for i in range(3):
                with subtests.test(i=i):
                    time.sleep(0.2)
        def test_plain():
            time.sleep(0.1)
        """
    )
    result = run(
        pytester,
        *mode,
        "--pexen-junitxml=r.xml",
        "--pexen-state=s.jsonl",
        "--pexen-timeline=t.html",
    )
    assert result.ret == 0
    ended = journal.load(pytester.path / "s.jsonl").ended
    cases = cases_of(validated(pytester.path / "r.xml"))
    for name in ("test_sub", "test_plain"):
        assert float(cases[name].get("time", "")) == pytest.approx(
            ended[f"test_d.py::{name}"]["duration"], abs=1e-5
        )
    subtests = sum(float(cases[f"test_sub::(i={i})"].get("time", "")) for i in range(3))
    assert float(cases["test_sub"].get("time", "")) < 1.5 * subtests  # not counted twice
    page = (pytester.path / "t.html").read_text()
    data = page_data(page)
    durations = {data["tests"][bar[0]]: bar[5] for bar in data["bars"]}
    assert durations["test_d.py::test_sub"] == pytest.approx(
        ended["test_d.py::test_sub"]["duration"], abs=1e-5
    )
    makespan, bound = value(page, "makespan"), value(page, "bound")
    assert makespan >= bound - 0.005, (makespan, bound)  # a clock's rounding, no more
    up = sum(boot[2] for boot in data["boots"])
    workers = value(page, "workers")
    busy = sum(lane[1] for lane in data["lanes"])
    assert value(page, "utilisation") == pytest.approx(busy / (up * workers), abs=1e-4)
    assert value(page, "utilisation") <= 1.0
    assert value(page, "work") == pytest.approx(busy, abs=1e-4)


def test_a_crashed_tests_duration_is_real(pytester: pytest.Pytester) -> None:
    """A test whose worker dies while it runs took the time until then,
    the same in the terminal's durations, both xUnit reports and the
    journal (xdist's report of the crash says 0 s)."""
    pytester.makepyfile(
        test_k="""
        import os, time
        def test_kill():
            time.sleep(0.4)
            os._exit(3)
        def test_other(): pass
        """
    )
    result = run(
        pytester, *XDIST, "--junitxml=j.xml", "--pexen-junitxml=r.xml", "--pexen-state=s.jsonl"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    ended = journal.load(pytester.path / "s.jsonl").ended["test_k.py::test_kill"]
    pytests = {c.get("name"): c for c in ET.parse(pytester.path / "j.xml").iter("testcase")}
    times = [
        float(case.get("time", ""))
        for case in (
            pytests["test_kill"],
            cases_of(validated(pytester.path / "r.xml"))["test_kill"],
        )
    ]
    assert ended["outcome"] == "error" and 0.3 <= ended["duration"] < 5, ended  # 0.4 s
    assert times == pytest.approx([ended["duration"]] * 2, abs=1e-3)


@pytest.mark.skipif(not hasattr(pytest, "Subtests"), reason="subtests: pytest >= 9")
def test_a_crashed_test_with_subtests_took_their_time(pytester: pytest.Pytester) -> None:
    """The subtests a test ran before its worker died are part of its time
    (it was counted from the last subtest's report, not from its setup)."""
    pytester.makepyfile(
        test_k="""
        import os, time
        def test_kill(subtests):
            for i in range(2):
                with subtests.test(i=i):
                    time.sleep(0.3)
                    assert i == 0
            os._exit(3)
        """
    )
    result = run(pytester, *XDIST, "--pexen-junitxml=r.xml", "--pexen-state=s.jsonl")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    ended = journal.load(pytester.path / "s.jsonl").ended["test_k.py::test_kill"]
    assert ended["outcome"] == "error" and 0.55 <= ended["duration"] < 5, ended  # 0.6 s
    cases = cases_of(validated(pytester.path / "r.xml"))
    assert float(cases["test_kill"].get("time", "")) == pytest.approx(ended["duration"], abs=1e-3)
    # the subtests that reported before the crash, as the terminal shows them
    result.stdout.fnmatch_lines(["SUBFAILED(i=*1*) test_k.py::test_kill - assert 1 == 0"])
    # (named as the terminal names them: the controller has their values' reprs)
    subs = {
        name.replace("'", ""): kind(case)
        for name, case in cases.items()
        if name.startswith("test_kill::")
    }
    assert subs == {"test_kill::(i=0)": "passed", "test_kill::(i=1)": "failure"}


@MODES
def test_sub_result_error_fails_its_test(pytester: pytest.Pytester, mode: list[str]) -> None:
    """A sub-result's error fails its test with one word everywhere: FAILED
    in the terminal, a failure in the report, fail in the journal; the
    sub-result's own testcase is its error."""
    pytester.makepyfile(
        test_e="""
        def test_db(pexen_results):
            pexen_results.add("error", "db", "connection refused")
        """
    )
    result = run(pytester, *mode, "--pexen-junitxml=r.xml", "--pexen-state=s.jsonl")
    result.assert_outcomes(failed=1)
    cases = cases_of(validated(pytester.path / "r.xml"))
    assert kind(cases["test_db"]) == "failure"
    assert kind(cases["test_db::db"]) == "error"
    ended = journal.load(pytester.path / "s.jsonl").ended
    assert ended["test_e.py::test_db"]["outcome"] == "fail"


MIXED = (
    BOTH
    + """
import pytest_pexen as pexen

def test_info_then_skip(pexen_results):
    pexen_results.info("kernel 6.1")
    pytest.skip("no hardware")

@pytest.mark.xfail(strict=True, reason="known bug")
def test_xpass_strict():
    pass

def test_error_sub(pexen_results):
    pexen_results.add("error", "db", "connection refused")

def test_recorder_setup_error(su_broken, pexen_results):
    pass

def test_subtests(subtests, pexen_results):
    pexen_results.warn("disk 91% full", name="disk")
    for i in range(2):
        with subtests.test(i=i):
            assert i == 0
"""
)


def comparable(path: Path) -> list[object]:
    """A report without what differs between runs: times, the host, the
    timestamp, the worker a test ran on, the run's worker count and the
    addresses in objects' reprs (they differ between any two runs); its
    testcases in name order."""
    root = validated(path)
    suite = root.find("testsuite")
    assert suite is not None
    attrs = {k: v for k, v in suite.attrib.items() if k not in ("time", "hostname", "timestamp")}
    props = [
        (p.get("name"), p.get("value"))
        for p in suite.iter("property")
        if p.get("name") not in ("pexen.workers", "pexen.dist")
    ]
    cases = []
    for case in suite.findall("testcase"):
        children = []
        for child in case:
            body = "\n".join(
                re.sub(r" at 0x[0-9a-f]+>", " at 0x...>", line)
                for line in (child.text or "").splitlines()
                if not line.startswith("[[PROPERTY|pexen.worker=")
            )
            if child.tag != "system-out" or body:
                children.append((child.tag, sorted(child.attrib.items()), body))
        named = {k: v for k, v in case.attrib.items() if k != "time"}
        cases.append((sorted(named.items()), children))
    return [attrs, props, sorted(cases, key=repr)]


def test_mixed_suite_reports_are_the_same_serial_and_xdist(pytester: pytest.Pytester) -> None:
    """All of the above in one suite (and an executable test): the serial
    and the -n 2 reports are identical apart from times and hostnames."""
    pytester.makepyfile(test_mix=MIXED if SUBTESTS else MIXED.split("def test_subtests")[0])
    script = pytester.path / "suite" / "net.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho starting\necho 'net is down' >&2\nexit 7\n")
    script.chmod(0o755)
    serial = run(pytester, "--pexen-exec", "--pexen-junitxml=serial.xml")
    parallel = run(pytester, *XDIST, "--pexen-exec", "--pexen-junitxml=xdist.xml")
    assert serial.ret == parallel.ret == 1
    one, two = comparable(pytester.path / "serial.xml"), comparable(pytester.path / "xdist.xml")
    assert one == two
    cases = cases_of(validated(pytester.path / "xdist.xml"))
    assert kind(cases["test_info_then_skip"]) == "skipped"
    assert kind(cases["test_error_sub"]) == "failure"
    assert message(cases["net.sh"]) == "exit code 7; stderr ends: net is down"
    assert json.dumps(one)  # plain data all the way down
