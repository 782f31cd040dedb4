"""The watchdog: per-test and session time limits, with real hangs.

Every hang here is real: a sleep, a busy loop with SIGALRM blocked, a
child process that never exits, a sleep with the signal blocked (no
interrupt can reach it), a C call that holds the GIL. Limits are 1 s and
the grace period is the default 1 s, so each hang costs a second or three;
nothing here compares durations.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_pexen import journal
from pytest_pexen.timeline.page import analyse

HANGS = """
import signal, subprocess, time
import pytest
import pytest_pexen as pexen

@pytest.fixture
def slow_teardown():
    yield
    time.sleep(60)

@pytest.mark.parametrize("n", range(100))  # timers cancelled before the hangs
def test_short(n):
    pass

def test_sleep():
    time.sleep(60)

def test_busy_loop_with_the_signal_blocked():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        while True:
            pass
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})

@pexen.timeout(1.5)
def test_child_that_never_exits():
    subprocess.run(["sleep", "60"])

def test_teardown_hangs(slow_teardown):
    pass

def test_after():
    pass
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "pexen", "--pexen-state=state.jsonl", *args, timeout=120
    )


@pytest.fixture
def runs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = pytester.path / "runs.log"
    monkeypatch.setenv("RUNS", str(path))
    return path


def ran(runs: Path) -> list[str]:
    return runs.read_text().split() if runs.exists() else []


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_python_level_hangs_fail_in_process_and_the_run_goes_on(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    pytester.makeini("[pytest]\npexen_timeout = 1\n")  # the marker's 1.5 wins
    pytester.makepyfile(test_h=HANGS)
    result = run(pytester, *xdist)
    result.assert_outcomes(failed=3, passed=102, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "Timeout: test_h.py::test_sleep exceeded 1 s (setup+call+teardown)",
            "Timeout: test_h.py::test_busy_loop_with_the_signal_blocked exceeded 1 s *",
            "Timeout: test_h.py::test_child_that_never_exits exceeded 1.5 s *",
            "Timeout: test_h.py::test_teardown_hangs exceeded 1 s *",
            "ERROR test_h.py::test_teardown_hangs - Failed: Timeout: *",
            # the stack of the main thread starts at the test and shows where it hung
            "--- stack of MainThread (thread *) ---",
            '  File "*test_h.py", line *, in test_sleep',
            "    time.sleep(60)",
            '  File "*test_h.py", line *, in slow_teardown',
            '  File "*test_h.py", line *, in test_child_that_never_exits',
            '  File "*subprocess.py", line *',
        ]
    )
    output = result.stdout.str()
    assert "crashed" not in output and "replacing" not in output  # no worker was lost
    assert "INTERNALERROR" not in output


SESSION = """
import time
import pytest_pexen as pexen

pytestmark = pexen.claims("lab")  # one at a time, under xdist too

@pexen.priority(-1)
def test_long():
    time.sleep(3)

def test_next1():
    pass

@pexen.requires("test_next1")
def test_next2():
    pass

def test_next3():
    pass
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_session_limit_skips_the_rest_and_fails_the_run(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    """test_long runs over the 2 s session limit (or, if the workers took
    that long to start, is skipped too): no test starts after it."""
    pytester.makepyfile(test_s=SESSION)
    result = run(pytester, *xdist, "-rs", "--pexen-session-timeout=2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 3 and not outcomes.get("failed")
    assert outcomes.get("skipped", 0) + outcomes.get("passed", 0) == 4
    lines = result.stdout.lines
    said = [
        line
        for line in lines
        if line.startswith("SKIPPED [1] test_s.py:")
        and line.endswith(": pexen: session time limit of 2 s reached")
    ]
    assert len(said) == outcomes["skipped"]
    assert (
        f"pexen: session time limit of 2 s reached: {outcomes['skipped']} tests not run "
        "(reported skipped)"
    ) in lines
    if not xdist:  # a test running at the limit runs to its end
        result.assert_outcomes(passed=1, skipped=3)
    # a resume runs nothing: the limit was reached in the boot before
    resumed = run(pytester, *xdist, "--pexen-resume", "--pexen-session-timeout=2")
    assert (
        f"pexen: session time limit of 2 s reached before the resume: {outcomes['skipped']} "
        "tests not run (reported skipped)"
    ) in resumed.stdout.lines


STUBBORN = """
import ctypes, os, signal, time
import pytest_pexen as pexen

def ran(name):
    with open(os.environ["RUNS"], "a") as f:
        f.write(name + "\\n")

def test_first():
    ran("first")

@pexen.provides("db")
@pexen.timeout(1)
def test_stubborn(pexen_boot_count):
    ran(f"stubborn{pexen_boot_count}")
    print("before the hang")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(60)  # the interrupt cannot reach it

@pexen.requires("db")
def test_needs_db():
    ran("needs_db")

def test_last():
    ran("last")
"""


def test_stubborn_hang_stops_the_run_and_resume_continues_after_it(
    pytester: pytest.Pytester, runs: Path
) -> None:
    pytester.makepyfile(test_s=STUBBORN)
    first = run(pytester, "--pexen-junitxml=r.xml")
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    assert ran(runs) == ["first", "stubborn0"]
    # pexen's xUnit report is written before the process stops, as far as the run got
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "r.xml").iter("testcase")}
    assert sorted(cases) == ["test_first", "test_stubborn"]
    assert cases["test_stubborn"][0].tag == "failure"
    assert float(cases["test_stubborn"].get("time", "")) >= 1.0
    first.stdout.fnmatch_lines(
        [
            "*test_s.py::test_stubborn (timed out)*",
            "Timeout: test_s.py::test_stubborn exceeded 1 s (setup+call+teardown)",
            "*in test_stubborn",
            "    time.sleep(60)*",
            "It did not stop within 1 s of its limit (stuck in C code, or with signals blocked), "
            "so pexen stopped the run.",
            "*Captured stdout before the timeout*",
            "before the hang",
            "pexen: test_s.py::test_stubborn timed out and did not stop; the run stops here. "
            "Run the same pytest command with --pexen-resume to continue after it*",
        ]
    )
    state = journal.load(pytester.path / "state.jsonl")
    end = state.ended["test_s.py::test_stubborn"]
    assert (end["outcome"], end["why"]) == ("fail", "timed out")
    assert state.stop is not None and state.stop["reason"] == "timeout"

    second = run(pytester, "-v", "-rs", "--pexen-resume")
    assert second.ret == pytest.ExitCode.TESTS_FAILED
    assert ran(runs) == ["first", "stubborn0", "last"]  # not run again
    second.assert_outcomes(passed=2, failed=1, skipped=1)
    second.stdout.fnmatch_lines_random(
        [
            "*test_stubborn FAILED (resumed)*",
            "Timeout: test_s.py::test_stubborn exceeded 1 s (setup+call+teardown)",
            "SKIPPED * 'db' not provided: test_s.py::test_stubborn timed out",
        ]
    )


GIL = """
import ctypes, os
import pytest_pexen as pexen

def ran(name):
    with open(os.environ["RUNS"], "a") as f:
        f.write(name + "\\n")

@pexen.timeout(1)
def test_holds_the_gil():
    ran("gil")
    ctypes.PyDLL(None).sleep(60)  # C code that keeps the GIL: no Python thread runs

def test_last():
    ran("last")
"""


def test_hang_holding_the_gil_is_stopped_by_faulthandler_and_resumed(
    pytester: pytest.Pytester, runs: Path
) -> None:
    pytester.makepyfile(test_g=GIL)
    first = run(pytester)
    assert first.ret == 1
    assert ran(runs) == ["gil"]
    assert (pytester.path / "state.jsonl.hang").exists()
    second = run(
        pytester, "-rf", "--pexen-resume", "--pexen-junitxml=p.xml", "--pexen-timeline=t.html"
    )
    assert second.ret == pytest.ExitCode.TESTS_FAILED
    assert ran(runs) == ["gil", "last"]
    second.assert_outcomes(passed=1, failed=1)
    second.stdout.fnmatch_lines_random(
        [
            "Timeout: test_g.py::test_holds_the_gil exceeded its time limit and did not stop: it "
            "held the GIL in C code, *so faulthandler stopped the run * s after the test started.",
            "Stacks of all threads then (faulthandler):",
            '  File "*test_g.py", line 11 in test_holds_the_gil',
        ]
    )
    # the journal has it now, and the dump is gone
    ended = journal.load(pytester.path / "state.jsonl").ended
    assert ended["test_g.py::test_holds_the_gil"]["why"] == "timed out"
    assert not (pytester.path / "state.jsonl.hang").exists()
    # its end belongs to the boot it ran in: the journal has it before the
    # resume's boot record, the page draws it once, in boot 0 (it drew an
    # interrupted bar there and the hang in boot 1, whose span took the
    # time between), and the report's time has the hang (it had not)
    kinds = [(r["type"], r.get("test")) for r in journal.read(pytester.path / "state.jsonl")]
    assert kinds.index(("end", "test_g.py::test_holds_the_gil")) < kinds.index(("boot", None))
    timeline = analyse(journal.read(pytester.path / "state.jsonl"))
    bars = [bar for bar in timeline.bars if "gil" in bar.test]
    assert [(bar.outcome, bar.boot) for bar in bars] == [("fail", 0)]
    hang = ended["test_g.py::test_holds_the_gil"]["duration"]
    suite = ET.parse(pytester.path / "p.xml").getroot()[0]
    assert hang >= 1.0 and float(suite.get("time", "")) >= hang


WORKERS = """
import ctypes, signal, time
import pytest_pexen as pexen

@pexen.provides("a")
@pexen.claims("lab")
@pexen.timeout(1)
def test_signals_blocked():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(60)

@pexen.provides("b")
@pexen.claims("lab2")
@pexen.timeout(1)
def test_holds_the_gil():
    ctypes.PyDLL(None).sleep(60)

@pexen.requires("a")
def test_needs_a():
    pass

@pexen.requires("b")
def test_needs_b():
    pass

@pexen.claims("lab", "lab2")
def test_lab_after():
    pass

def test_free():
    pass
"""


def test_stuck_workers_are_replaced_their_locks_released(pytester: pytest.Pytester) -> None:
    """A worker stuck with the signal blocked exits by itself and says why;
    one stuck in C code holding the GIL is killed by the controller. Both
    tests fail as timed out, their dependents are skipped, the locks they
    held go to the next claimer, and new workers finish the run."""
    pytester.makepyfile(test_w=WORKERS)
    result = run(pytester, "-n", "2", "-rs", "--junitxml=j.xml", "--pexen-junitxml=p.xml")
    result.assert_outcomes(failed=2, passed=2, skipped=2)
    result.stdout.fnmatch_lines_random(
        [
            "replacing crashed worker gw*",
            "*_ test_signals_blocked _*",
            "Timeout: test_w.py::test_signals_blocked exceeded 1 s (setup+call+teardown)",
            "*in test_signals_blocked",
            "*_ test_holds_the_gil _*",
            "Timeout: test_w.py::test_holds_the_gil exceeded 1 s (setup+call+teardown)",
            "It did not stop within 1.5 s of its limit, so pexen killed its worker 'gw*' (no stack "
            "could be taken: C code holding the GIL, or a worker not running at all).",
            "SKIPPED * 'a' not provided: test_w.py::test_signals_blocked timed out",
            "SKIPPED * 'b' not provided: test_w.py::test_holds_the_gil timed out",
        ]
    )
    # it exits by itself, or is killed if the controller's clock got there first
    assert (
        "It did not stop within 1 s of its limit (stuck in C code, or with signals "
        "blocked), so its worker 'gw"
        in result.stdout.str()
        or result.stdout.str().count("so pexen killed its worker") == 2
    )
    ended = journal.load(pytester.path / "state.jsonl").ended
    assert ended["test_w.py::test_holds_the_gil"]["why"] == "timed out"
    assert ended["test_w.py::test_lab_after"]["outcome"] == "pass"
    # failed (SPEC), as the terminal counts them, in every record: the
    # killed worker's crash report made them errors elsewhere ("failed on setup")
    stuck = ("test_signals_blocked", "test_holds_the_gil")
    assert [ended[f"test_w.py::{name}"]["outcome"] for name in stuck] == ["fail", "fail"]
    for report in ("j.xml", "p.xml"):
        cases = {c.get("name"): c for c in ET.parse(pytester.path / report).iter("testcase")}
        for name in stuck:
            assert cases[name].find("error") is None, report
            failure = cases[name].find("failure")
            assert failure is not None, report
            assert failure.get("message", "").startswith(f"Timeout: test_w.py::{name} exceeded")


def test_pytest_timeout_and_pexen_the_shorter_limit_wins(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npexen_timeout = 100\n")
    pytester.makepyfile(
        test_t="""
        import time
        import pytest
        import pytest_pexen as pexen

        @pexen.timeout(1)
        def test_pexen_shorter():
            time.sleep(60)

        @pytest.mark.timeout(1)
        def test_pytest_timeout_shorter():
            time.sleep(60)

        def test_option_over_ini():
            time.sleep(60)
    """
    )
    result = run(pytester, "-p", "timeout", "--timeout=30", "--pexen-timeout=1.5")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "Timeout: test_t.py::test_pexen_shorter exceeded 1 s (setup+call+teardown)",
            "E       Failed: Timeout (>1.0s) from pytest-timeout.",
            "Timeout: test_t.py::test_option_over_ini exceeded 1.5 s (setup+call+teardown)",
        ]
    )
    # Only the test whose pytest-timeout limit is the shorter one fails from it
    # (the short summary repeats messages untruncated when CI is set, so count
    # the failure sections' "E" lines).
    failed_by_pytest_timeout = [
        line
        for line in result.stdout.lines
        if line.startswith("E ") and "from pytest-timeout" in line
    ]
    assert len(failed_by_pytest_timeout) == 1


def test_the_debugger_stops_the_clock(pytester: pytest.Pytester) -> None:
    """Two seconds spent in pdb do not count against a 1 s limit."""
    pytester.makepyfile(
        test_d="""
        import pytest_pexen as pexen

        @pexen.timeout(1)
        def test_debugged():
            breakpoint()
    """
    )
    result = pytester.run(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "pexen",
        "-s",
        "test_d.py",
        timeout=60,
        stdin=b"import time; time.sleep(2)\nc\n",
    )
    result.assert_outcomes(passed=1)
    assert "Timeout" not in result.stdout.str()


def test_bad_limits_are_one_line_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_a(): pass\n")
    for bad in (
        "--pexen-timeout=-1",
        "--pexen-timeout=abc",
        "--pexen-session-timeout=0",
        "--pexen-timeout-grace=nan",
        "--pexen-timeout=inf",
    ):
        result = pytester.runpytest("-p", "pexen", bad)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        said = [line for line in result.stderr.lines if line.strip()]
        assert said == [f"ERROR: pexen: {bad}: give a positive number of seconds"]
    pytester.makeini("[pytest]\npexen_timeout = soon\n")
    result = pytester.runpytest("-p", "pexen")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    said = [line for line in result.stderr.lines if line.strip()]
    assert said == [
        "ERROR: pexen: ini option pexen_timeout=soon: give a positive number of seconds"
    ]


def test_no_timer_without_limits(pytester: pytest.Pytester) -> None:
    """Tests without a limit get no per-test hook; one limit brings the timer."""
    pytester.makeconftest("""
        def pytest_sessionfinish(session):
            timer = session.config.pluginmanager.get_plugin("pexen-timer")
            print("timer:", timer is not None)
    """)
    pytester.makepyfile(test_a="def test_a(): pass\n")
    result = pytester.runpytest("-p", "pexen", "-s")
    result.stdout.fnmatch_lines(["*timer: False"])
    result = pytester.runpytest("-p", "pexen", "-s", "--pexen-timeout=60")
    result.stdout.fnmatch_lines(["*timer: True"])


def test_executable_test_header_limit(pytester: pytest.Pytester) -> None:
    """``# pexen: timeout=1`` limits an executable test: the wait for it is
    interrupted, its process group (a background child too) is killed, and
    the run goes on."""
    suite = pytester.mkdir("suite")
    hang = suite / "hang.sh"
    hang.write_text("#!/bin/sh\n# pexen: timeout=1\nsleep 60 &\necho $! > child.pid\nsleep 60\n")
    ok = suite / "ok.sh"
    ok.write_text("#!/bin/sh\nexit 0\n")
    for path in (hang, ok):
        path.chmod(0o755)
    result = run(pytester, "--pexen-exec", "suite")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["Timeout: suite/hang.sh exceeded 1 s (setup+call+teardown)"])
    child = int((suite / "child.pid").read_text())
    deadline = time.monotonic() + 30  # SIGKILL is delivered asynchronously
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(child)  # killed with its group


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (its new parent may
    not have reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


# issue 20: a second hang in the same test (the call, then a fixture's
# teardown on the same event), and module and session fixtures both hanging
# in the last teardown
SECOND_HANGS = {
    "conftest": """
        import threading
        import pytest

        SESSION_EVENT = threading.Event()

        @pytest.fixture(scope="session", autouse=True)
        def session_resource():
            yield
            SESSION_EVENT.wait()
    """,
    "test_h": """
        import threading
        import pytest

        EVENT = threading.Event()

        @pytest.fixture
        def waits_too():
            yield
            EVENT.wait()

        @pytest.fixture(scope="module")
        def module_resource():
            yield
            EVENT.wait()

        def test_call_then_teardown(waits_too):
            EVENT.wait()

        def test_module_and_session_teardown(module_resource):
            pass
    """,
}


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_second_hang_in_the_same_test_is_interrupted_too(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    """Each hang after an interrupt that landed gets its own grace,
    stacks and interrupt: the test fails with both stacks and the run goes
    on, no process stopped."""
    pytester.makeini("[pytest]\npexen_timeout = 1\n")
    for name, text in SECOND_HANGS.items():
        pytester.makepyfile(**{name: text})
    result = run(pytester, *xdist)
    result.assert_outcomes(failed=1, passed=1, errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "*_ ERROR at teardown of test_call_then_teardown _*",
            # (in a group of teardown errors, each line behind a "|")
            "*It was interrupted, then still running 1 s later; stacks of all threads then:",
            '*File "*test_h.py", line *, in waits_too',
            '*File "*test_h.py", line *, in module_resource',
            '*File "*conftest.py", line *, in session_resource',
        ]
    )
    output = result.stdout.str()
    assert "did not stop" not in output
    assert "crashed" not in output and "replacing" not in output
    assert "INTERNALERROR" not in output


OWN_ALARM = """
import os, signal, time
import pytest_pexen as pexen

RANG = []
signal.signal(signal.SIGALRM, lambda *args: RANG.append("alarm"))  # before any test
MODULE_HANDLER = signal.getsignal(signal.SIGALRM)

@pexen.timeout(1)
def test_deadline_helper():
    def deadline(*args):
        raise RuntimeError("deadline")
    signal.signal(signal.SIGALRM, deadline)
    signal.alarm(60)
    try:
        time.sleep(60)
    finally:
        kept = signal.getsignal(signal.SIGALRM) is deadline
        signal.alarm(0)
        with open("kept.txt", "w") as f:
            f.write(str(kept))

@pexen.timeout(30)
def test_alarm_with_the_handler_set_before_the_test():
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    time.sleep(0.5)
    assert RANG == ["alarm"]

def test_after():
    assert signal.getsignal(signal.SIGALRM) is MODULE_HANDLER
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_tests_with_their_own_sigalrm_are_timed(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    """A test with its own SIGALRM handler is interrupted at its limit
    (pexen uses a spare signal then), its handler left in place for its own
    clean-up; an alarm a test sets for a handler installed before it
    reaches that handler, not pexen's; the handler of before is back after
    the test."""
    pytester.makepyfile(test_a=OWN_ALARM)
    result = run(pytester, *xdist, "-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=2)
    result.stdout.fnmatch_lines(
        [
            "Timeout: test_a.py::test_deadline_helper exceeded 1 s (setup+call+teardown)",
        ]
    )
    assert (pytester.path / "kept.txt").read_text() == "True"
    output = result.stdout.str()
    assert "did not stop" not in output and "crashed" not in output


SERVER = """
import os, signal, socket, subprocess, sys, time
import pytest_pexen as pexen

PORT = int(os.environ["PORT"])
SERVE = (
    "import socket, time\\n"
    "s = socket.socket()\\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\\n"
    f"s.bind(('127.0.0.1', {PORT}))\\n"
    "s.listen()\\n"
    "time.sleep(30)\\n"
)

@pexen.claims("port")
@pexen.priority(-1)
@pexen.timeout(1)
def test_server_then_stuck():
    server = subprocess.Popen([sys.executable, "-c", SERVE])
    with open("server.pid", "w") as f:
        f.write(str(server.pid))
    while True:  # until it listens
        try:
            socket.create_connection(("127.0.0.1", PORT)).close()
            break
        except OSError:
            time.sleep(0.05)
    os.system("sleep 30 & echo $! > sleep.pid; wait")  # C code: the interrupt does not take

@pexen.claims("port")
def test_port_is_free():
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", PORT))
"""


@pytest.mark.parametrize("xdist", [False, True], ids=["serial+resume", "xdist"])
def test_what_a_stopped_test_started_is_stopped_with_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: bool
) -> None:
    """A test that does not stop is stopped with its process (serially) or
    its worker: the server it started and the command ``os.system`` runs go
    first, so the next test claiming the port finds it free."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("PORT", str(sock.getsockname()[1]))
    pytester.makepyfile(test_s=SERVER)
    pids: list[int] = []
    try:
        result = run(pytester, *(["-n", "2"] if xdist else []))
        pids = [int((pytester.path / f"{n}.pid").read_text()) for n in ("server", "sleep")]
        assert [pid for pid in pids if running(pid)] == []
        if not xdist:
            assert result.ret == pytest.ExitCode.TESTS_FAILED
            result = run(pytester, "--pexen-resume")
        result.assert_outcomes(failed=1, passed=1)
        assert "INTERNALERROR" not in result.stdout.str()
    finally:  # never leave them behind, even when the check fails
        for pid in pids:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
