"""The journal, --pexen-resume and reboots, with real processes killed for real.

Each suite logs every test run to a file (RUNS), so "not run again" and
"run again with a higher boot count" are read off what actually ran.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from suites import ONE_NODE_ID

from pytest_pexen.journal import format as journal

SUITE = """
import os, signal, time
from pathlib import Path
import pytest
import pytest_pexen as pexen

def ran(name):
    with open(os.environ["RUNS"], "a") as f:
        f.write(name + "\\n")

def kill():
    pid = os.getppid() if os.environ.get("KILL") == "parent" else os.getpid()
    os.kill(pid, signal.SIGKILL)

pytestmark = pexen.claims("lab")  # one at a time, even under xdist

@pexen.provides("db")
def test_db(pexen_shared):
    ran("db")
    pexen_shared["dsn"] = "pg://lab"

@pexen.requires("db")
def test_kill(pexen_boot_count, pexen_shared):
    ran(f"kill{pexen_boot_count}")
    assert pexen_shared["dsn"] == "pg://lab"
    assert os.environ["PEXEN_BOOT_COUNT"] == str(pexen_boot_count)
    if pexen_boot_count == 0:
        kill()

@pexen.requires("db")
def test_after(pexen_shared):
    ran("after")
    assert pexen_shared["dsn"] == "pg://lab"

def test_fail():
    ran("fail")
    assert 0
"""


@pytest.fixture
def runs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = pytester.path / "runs.log"
    monkeypatch.setenv("RUNS", str(path))
    return path


def ran(runs: Path) -> list[str]:
    return runs.read_text().split() if runs.exists() else []


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "pexen", "--pexen-state=state.jsonl", *args, timeout=120
    )


def records(path: Path, kind: str) -> list[dict[str, object]]:
    return [r for r in journal.read(path) if r["type"] == kind]


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_kill_then_resume(
    pytester: pytest.Pytester, runs: Path, monkeypatch: pytest.MonkeyPatch, xdist: list[str]
) -> None:
    pytester.makepyfile(test_s=SUITE)
    monkeypatch.setenv("KILL", "parent" if xdist else "self")
    first = run(pytester, *xdist)
    assert first.ret != 0
    assert ran(runs) == ["db", "kill0"]
    ended = [r["test"] for r in records(pytester.path / "state.jsonl", "end")]
    assert ended == ["test_s.py::test_db"]

    second = run(
        pytester,
        *xdist,
        "-v",
        "-rA",
        "--pexen-resume",
        "--junitxml=all.xml",
        "--pexen-junitxml=pexen.xml",
    )
    assert second.ret == 1  # test_fail
    assert sorted(ran(runs)) == ["after", "db", "fail", "kill0", "kill1"]
    second.stdout.fnmatch_lines(
        [
            "*resuming*(boot 1): 1 of 4 tests finished before; running again: "
            "test_s.py::test_kill (boot count 1)*",
            "*test_db PASSED (resumed)*",
        ]
    )
    second.assert_outcomes(passed=3, failed=1)
    cases = ET.parse(pytester.path / "all.xml").getroot().iter("testcase")
    assert sorted(c.get("name") for c in cases) == [
        "test_after",
        "test_db",
        "test_fail",
        "test_kill",
    ]
    pexen_xml = (pytester.path / "pexen.xml").read_text()
    assert "[[PROPERTY|pexen.resumed=true]]" in pexen_xml
    assert "[[PROPERTY|pexen.boot_count=1]]" in pexen_xml

    third = run(pytester, *xdist, "--pexen-resume")  # all finished: reported, none run
    third.assert_outcomes(passed=3, failed=1)
    assert sorted(ran(runs)) == ["after", "db", "fail", "kill0", "kill1"]


# a test that kills the run waits for these tests' ends in the journal first
WAIT_FOR_ENDS = """
def wait_for_ends(*wanted):
    for _ in range(200):
        with open("state.jsonl") as f:
            ended = {r["test"] for r in map(json.loads, f) if r["type"] == "end"}
        if set(wanted) <= ended:
            return
        time.sleep(0.05)
"""


PLAIN_KILL = (
    """
import json, os, signal, time

def ran(name):
    with open(os.environ["RUNS"], "a") as f:
        f.write(name + "\\n")

def test_kill(pexen_boot_count):
    ran(f"kill{pexen_boot_count}")
    if pexen_boot_count == 0:  # once the other file's tests are journaled as ended
        wait_for_ends("test_b.py::test_one", "test_b.py::test_two")
        os.kill(os.getppid(), signal.SIGKILL)  # the xdist controller
"""
    + WAIT_FOR_ENDS
)


@pytest.mark.parametrize("mode", ["loadfile", "worksteal", "conftest"])
def test_resume_under_another_dist_mode(pytester: pytest.Pytester, runs: Path, mode: str) -> None:
    """xdist's own modes send every collected test: a resume under one of
    them would run the finished tests again (and a test that brought the
    machine down would do it again at boot count 0, for ever). The journal
    has the test as started from the moment xdist's scheduler sends it, and
    the resume is scheduled by pexen, saying so in one line. The same for a
    suite whose conftest brings its own scheduler (used under ``-n``)."""
    dist = ["--dist", mode]
    if mode == "conftest":
        pytester.makeconftest(
            """
            from xdist.scheduler import LoadScopeScheduling
            def pytest_xdist_make_scheduler(config, log):
                return LoadScopeScheduling(config, log)
            """
        )
        dist, mode = [], "load with the conftest's scheduler"
    pytester.makepyfile(
        test_a=PLAIN_KILL,
        test_b="""
        import os
        def test_one():
            with open(os.environ["RUNS"], "a") as f: f.write("one\\n")
        def test_two():
            with open(os.environ["RUNS"], "a") as f: f.write("two\\n")
        """,
    )
    first = run(pytester, "-n", "2", *dist)
    assert first.ret != 0
    assert sorted(ran(runs)) == ["kill0", "one", "two"]
    started = [r["test"] for r in records(pytester.path / "state.jsonl", "start")]
    assert "test_a.py::test_kill" in started

    second = run(pytester, "-n", "2", *dist, "-q", "--pexen-resume")
    assert second.ret == 0
    second.stdout.fnmatch_lines(
        [
            f"pexen: --pexen-resume is scheduled by pexen (--dist pexen), not --dist {mode}: "
            "xdist's scheduler would send the tests that finished before again*",
            "*resuming*(boot 1): 2 of 3 tests finished before; running again: "
            "test_a.py::test_kill (boot count 1)*",
        ]
    )
    second.assert_outcomes(passed=3)
    assert sorted(ran(runs)) == ["kill0", "kill1", "one", "two"]


WARNS = (
    """
import json, os, signal, time, warnings
import pytest

class Noisy(UserWarning):
    pass

def test_warns():
    warnings.warn("from a finished test", UserWarning)

def test_deprecated():
    warnings.warn("old api", DeprecationWarning)
    warnings.warn("noisy", Noisy)

def test_kill(pexen_boot_count):
    if pexen_boot_count == 0:  # once the other tests are journaled as ended
        wait_for_ends("test_w.py::test_warns", "test_w.py::test_deprecated")
        # and their warnings: under xdist, a test's warnings reach the
        # controller after its end, and each is journaled as it comes
        for _ in range(200):
            with open("state.jsonl") as f:
                if sum(json.loads(line)["type"] == "warning" for line in f) >= 3:
                    break
            time.sleep(0.05)
        os.kill(os.getppid() if os.environ["KILL"] == "parent" else os.getpid(), 9)
"""
    + WAIT_FOR_ENDS
)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_resumed_run_shows_the_warnings_of_finished_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: list[str]
) -> None:
    """The warnings summary of a resumed run covers the tests that ended
    before the kill too (it showed only this boot's)."""
    monkeypatch.setenv("KILL", "parent" if xdist else "self")
    pytester.makepyfile(test_w=WARNS)
    assert run(pytester, *xdist, "-p", "no:randomly").ret != 0
    result = run(pytester, *xdist, "--pexen-resume")
    result.assert_outcomes(passed=3, warnings=3)
    result.stdout.fnmatch_lines_random(
        [
            "*test_w.py:*: UserWarning: from a finished test",
            "*test_w.py:*: DeprecationWarning: old api",
            "*test_w.py:*: Noisy: noisy",
        ]
    )


def test_resume_of_dist_each_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_s="def test_a(): pass")
    result = run(pytester, "-n", "2", "--dist", "each", "--pexen-resume")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pexen: --pexen-resume cannot continue a --dist each run*"])
    assert "Traceback" not in result.stderr.str()


DEPENDENCY = (
    """
import json, os, signal, time
import pytest
import pytest_pexen as pexen
from pytest_dependency import depends

def ran(name):
    with open(os.environ["RUNS"], "a") as f:
        f.write(name + "\\n")

@pytest.mark.dependency()
def test_a():
    ran("a")

@pytest.mark.dependency()
def test_broken():
    ran("broken")
    assert 0

def test_kill(pexen_boot_count):
    ran(f"kill{pexen_boot_count}")
    if pexen_boot_count == 0:  # once test_a and test_broken are journaled as ended
        wait_for_ends("test_dep.py::test_a", "test_dep.py::test_broken")
        pid = os.getppid() if os.environ.get("KILL") == "parent" else os.getpid()
        os.kill(pid, signal.SIGKILL)

@pexen.requires("test_kill")
@pytest.mark.dependency(depends=["test_a"])
def test_needs_a():
    ran("needs_a")

@pexen.requires("test_kill")
@pytest.mark.dependency(depends=["test_broken"])
def test_needs_broken():
    ran("needs_broken")

@pexen.requires("test_kill")
def test_runtime(request):
    depends(request, ["test_a"])
    ran("runtime")
"""
    + WAIT_FOR_ENDS
)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_pytest_dependency_sees_tests_that_ended_before_the_resume(
    pytester: pytest.Pytester, runs: Path, monkeypatch: pytest.MonkeyPatch, xdist: list[str]
) -> None:
    """pytest-dependency keeps its records in the process that ran the
    test; after a kill and --pexen-resume they come from the journal, so
    a dependent is judged exactly as in an uninterrupted run."""
    pytester.makepyfile(test_dep=DEPENDENCY)
    monkeypatch.setenv("KILL", "parent" if xdist else "self")
    assert run(pytester, "-p", "dependency", *xdist).ret != 0
    assert sorted(ran(runs)) == ["a", "broken", "kill0"]

    resumed = run(pytester, "-p", "dependency", *xdist, "-rs", "--pexen-resume")
    resumed.assert_outcomes(passed=4, failed=1, skipped=1)
    assert sorted(ran(runs)) == ["a", "broken", "kill0", "kill1", "needs_a", "runtime"]
    resumed.stdout.fnmatch_lines(["*test_needs_broken depends on test_broken*"])


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_resumed_skips_and_xfails_read_as_before(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    """A skip's report holds a (path, line, reason) tuple that JSON keeps as
    a list: reported again, it reads as in the first boot (pytest's terminal
    insists on the tuple for ``-rs`` and ``-v``)."""
    pytester.makepyfile(
        test_s="""
        import pytest, pytest_pexen as pexen
        @pytest.mark.skip(reason="not here")
        def test_skipped(): pass
        @pytest.mark.xfail(reason="known")
        def test_xf(): assert 0
        def test_reboot(pexen_boot_count):
            if pexen_boot_count == 0:
                pexen.reboot()
    """
    )
    assert run(pytester, *xdist, "--pexen-reboot-cmd=true").ret == 2
    result = run(pytester, *xdist, "-v", "-rsx", "--pexen-resume")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED (resumed) [[]1[]] test_s.py:2: not here",
            "XFAIL (resumed) test_s.py::test_xf - known",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_resumed_output_of_passed_tests_reads_as_before(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    """A passed test that printed or logged is journaled in the compact form
    ``[when, duration, start, stop, sections]`` (not through pytest's
    serialiser, a few times the cost); reported again, its captured
    sections read as in the first boot: -rA and the xUnit report."""
    pytester.makeini("[pytest]\njunit_logging = all\nlog_level = INFO\n")
    pytester.makepyfile(
        test_s="""
        import logging, pytest, pytest_pexen as pexen
        @pytest.fixture
        def noisy():
            print("set up \\u00e9")
            yield
            print("torn down")
        def test_loud(noisy):
            print("hello \\"there\\"")
            logging.getLogger("t").info("a log line")
        def test_reboot(pexen_boot_count):
            if pexen_boot_count == 0:
                pexen.reboot()
    """
    )
    first = run(pytester, *xdist, "--pexen-reboot-cmd=true", "-rA", "--junitxml=first.xml")
    assert first.ret == 2
    record = journal.load(pytester.path / "state.jsonl").ended["test_s.py::test_loud"]
    reports: list[list[object]] = record["reports"]  # type: ignore[assignment]
    assert [len(r) for r in reports] == [5, 5, 5]
    # each phase repeats the sections before it: journaled as their places
    assert [[s if isinstance(s, int) else s[0] for s in r[4]] for r in reports] == [  # type: ignore[union-attr]
        ["Captured stdout setup"],
        [0, "Captured stdout call", "Captured log call"],
        [0, 1, 2, "Captured stdout teardown"],
    ]
    result = run(pytester, *xdist, "-rA", "--pexen-resume", "--junitxml=again.xml")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    for line in [
        "set up \u00e9",
        'hello "there"',
        "INFO     t:test_s.py:9 a log line",
        "torn down",
    ]:
        assert line in out
    result.stdout.fnmatch_lines(["*- Captured stdout setup -*", "*- Captured log call -*"])

    def system_out(name: str) -> str:
        root = ET.parse(pytester.path / name).getroot()
        case = next(c for c in root.iter("testcase") if c.get("name") == "test_loud")
        return "".join(e.text or "" for e in case.iter("system-out"))

    assert system_out("again.xml") == system_out("first.xml")
    assert 'hello "there"' in system_out("again.xml")


@pytest.mark.skipif(not hasattr(pytest, "Subtests"), reason="subtests: pytest >= 9")
@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_resumed_subtests_read_as_before(pytester: pytest.Pytester, xdist: list[str]) -> None:
    """Subtests that passed with nothing to show are journaled in a few
    bytes each (a test may have thousands); reported again after a reboot,
    they read as in the first boot: the terminal, and the xUnit report's
    sub-results, names and outcomes."""
    pytester.makepyfile(
        test_s="""
        import unittest, pytest_pexen as pexen

        def test_sub(subtests):
            for i in range(3):
                with subtests.test("check", i=i, s="x"):
                    pass
            with subtests.test(msg="talks"):
                print("hello")
            with subtests.test(msg="fails", i=9):
                assert 0

        class T(unittest.TestCase):
            def test_u(self):
                for i in range(2):
                    with self.subTest(i=i):
                        self.assertTrue(True)

        def test_reboot(pexen_boot_count):
            if pexen_boot_count == 0:
                pexen.reboot()
    """
    )

    def cases(report: str) -> list[tuple[str | None, list[str]]]:
        root = ET.parse(pytester.path / report).getroot()
        return sorted(
            (case.get("name"), sorted(child.tag for child in case if child.tag != "system-out"))
            for case in root.iter("testcase")
            if case.get("name") != "test_reboot"
        )

    def lines(result: pytest.RunResult) -> list[str]:
        """What ``-v`` and the short summary say of each subtest of
        ``test_sub``: xdist's ``-v`` lines are worded otherwise than a
        resume's, and pytest's capture swallows the ``-v`` lines of
        unittest's passing subtests in a run (a resume, reporting them
        outside any test, shows them)."""
        said = (
            re.search(r"SUB(PASSED|FAILED)\S*( \([^)]*\))?", line.replace(" (resumed)", ""))
            for line in result.stdout.lines
            if "test_u" not in line
        )
        return sorted(found.group(0) for found in said if found is not None)

    args = [*xdist, "-v", "-rA", "--pexen-reboot-cmd=true"]
    first = run(pytester, *args, "--pexen-junitxml=first.xml")
    assert first.ret == 2
    ends = records(pytester.path / "state.jsonl", "end")
    sub = next(r for r in ends if r["test"] == "test_s.py::test_sub")
    assert sum(isinstance(data, list) and len(data) == 6 for data in sub["reports"]) == 3
    resumed = run(pytester, *args, "--pexen-resume", "--pexen-junitxml=resumed.xml")
    assert resumed.ret == 1
    assert "INTERNALERROR" not in resumed.stdout.str() + resumed.stderr.str()
    assert lines(resumed) == lines(first)
    said = lines(first)
    assert sum("SUBPASSED[check]" in x for x in said) == 3 and "SUBPASSED[talks]" in said, said
    assert cases("resumed.xml") == cases("first.xml")
    assert "check] (i=0, s='x')" in str(cases("first.xml"))


SYNC_WATCH = """
import os, pytest
from pytest_pexen.journal import format as journal

synced = {"size": 0, "calls": 0}
_real = journal._datasync

def _watching(fd):
    _real(fd)
    synced["size"] = os.fstat(fd).st_size
    synced["calls"] += 1

journal._datasync = _watching

def check(where):
    size = os.path.getsize("state.jsonl") if os.path.exists("state.jsonl") else 0
    if size != synced["size"]:
        print(f"UNSYNCED at {where}: {size} bytes written, {synced['size']} synced")

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item):
    check(f"protocol of {item.name}")
    result = yield
    check(f"after the protocol of {item.name}")
    return result

def pytest_runtest_setup(item):
    check(f"setup of {item.name}")

def pytest_runtest_logfinish(nodeid):
    check(f"logfinish of {nodeid}")

def pytest_sessionfinish(session):
    check("sessionfinish")
    print(f"SYNCS {synced['calls']}")
"""


@pytest.mark.parametrize("stop", [[], ["-x"]], ids=["all", "exitfirst"])
def test_fsync_always_has_every_record_on_disk_before_more_code_runs(
    pytester: pytest.Pytester, stop: list[str]
) -> None:
    """--pexen-fsync=always, serially: a test's end record is synced with
    the next test's start, yet no hook of another plugin, no fixture and no
    test runs while a record is written but not synced; one sync per test."""
    pytester.makeconftest(SYNC_WATCH)
    pytester.makepyfile(
        test_w="""
        import pytest
        @pytest.fixture
        def res():
            yield
        @pytest.mark.parametrize("n", range(5))
        def test_n(n, res):
            assert n != 3
    """
    )
    result = run(pytester, "-s", "--pexen-fsync=always", *stop)
    assert result.ret == 1
    assert "UNSYNCED" not in result.stdout.str()
    ran = 4 if stop else 5
    syncs = int(result.stdout.str().split("SYNCS ")[1].split()[0])
    assert ran < syncs <= ran + 3  # the header, a start per test, the last end, the close


REBOOT = """
import os, time
import pytest_pexen as pexen

def ran(name):
    with open(os.environ["RUNS"], "a") as f:
        f.write(name + "\\n")

def test_a():
    ran("a")

def test_reboot(pexen_boot_count):
    ran(f"reboot{pexen_boot_count}")
    if pexen_boot_count < 2:
        time.sleep(0.3)  # the other worker's test is running meanwhile
        pexen.reboot()

def test_slow():
    ran("slow")
    time.sleep(1.0)

@pexen.requires("test_reboot")
def test_z():
    ran("z")
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_reboot_command_then_resume(
    pytester: pytest.Pytester, runs: Path, xdist: list[str]
) -> None:
    pytester.makepyfile(test_r=REBOOT)
    cmd = "--pexen-reboot-cmd=echo reboot >> rebooted"
    first = run(pytester, *xdist, cmd)
    assert first.ret == pytest.ExitCode.INTERRUPTED
    first.stdout.fnmatch_lines(["*test_r.py::test_reboot asked for a reboot (boot count 0)*"])
    assert (pytester.path / "rebooted").read_text() == "reboot\n"
    assert "z" not in ran(runs)  # nothing new after the request
    state = journal.load(pytester.path / "state.jsonl")
    assert state.reboot is not None and state.reboot["test"] == "test_r.py::test_reboot"
    assert state.stop is not None and state.stop["reason"] == "reboot"
    if xdist:  # test_slow ran before the request and was journaled, or was handed back
        assert ("test_r.py::test_slow" in state.ended) == ("slow" in ran(runs))
        assert "test_r.py::test_slow" not in state.running
    second = run(pytester, *xdist, cmd, "--pexen-resume")
    assert second.ret == pytest.ExitCode.INTERRUPTED
    third = run(pytester, *xdist, cmd, "--pexen-resume")
    assert third.ret == 0, third.stdout.str()
    log = ran(runs)
    assert [n for n in log if n.startswith("reboot")] == ["reboot0", "reboot1", "reboot2"]
    assert sorted(n for n in log if not n.startswith("reboot")) == ["a", "slow", "z"]
    assert (pytester.path / "rebooted").read_text() == "reboot\n" * 2
    third.assert_outcomes(passed=4)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_reboot_command_that_kills_pytest(
    pytester: pytest.Pytester, runs: Path, xdist: list[str]
) -> None:
    """The command kills pytest as a real reboot would: the journal is on
    disk before it runs, and the run resumes."""
    pytester.makepyfile(test_r=REBOOT.replace("< 2", "< 1"))
    cmd = "--pexen-reboot-cmd=kill -9 $PPID"
    first = run(pytester, *xdist, cmd)
    assert first.ret == -9
    second = run(pytester, *xdist, cmd, "--pexen-resume")
    assert second.ret == 0
    second.assert_outcomes(passed=4)
    assert [n for n in ran(runs) if n.startswith("reboot")] == ["reboot0", "reboot1"]


def test_reboot_without_command_or_over_the_limit_fails_that_test(
    pytester: pytest.Pytester, runs: Path
) -> None:
    pytester.makepyfile(
        test_r="""
        import pytest_pexen as pexen
        def test_r(pexen_reboot):
            pexen_reboot()
        def test_other():
            pass
    """
    )
    result = run(pytester, "-rf")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pexen.reboot(): no reboot command is configured; give "
            "--pexen-reboot-cmd=CMD or the ini option pexen_reboot_cmd"
        ]
    )
    result = run(pytester, "-rf", "--pexen-reboot-cmd=true", "--pexen-max-reboots=0")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_r has been rebooted 0 times (--pexen-max-reboots=0)*"])


def test_bad_journals_are_one_line_errors_and_stay_untouched(
    pytester: pytest.Pytester, runs: Path
) -> None:
    pytester.makepyfile(test_s="def test_a(): pass\ndef test_b(): pass\n")
    assert run(pytester).ret == 0
    state = pytester.path / "state.jsonl"
    before = state.read_bytes()
    other = run(pytester, "--pexen-resume", "-k", "test_a")
    assert other.ret == pytest.ExitCode.USAGE_ERROR
    other.stderr.fnmatch_lines(
        [
            "ERROR: pexen: the journal */state.jsonl is of another run "
            "(it selected 2 tests, this run 1; test_s.py::test_b is not "
            "selected now)*"
        ]
    )
    assert "Traceback" not in other.stderr.str() + other.stdout.str()
    assert state.read_bytes() == before
    parallel = run(pytester, "--pexen-resume", "-k", "test_a", "-n", "2")
    assert parallel.ret == pytest.ExitCode.USAGE_ERROR
    parallel.stderr.fnmatch_lines(["ERROR: pexen: the journal */state.jsonl is of another run*"])
    assert "resumed" not in parallel.stdout.str()
    assert state.read_bytes() == before
    state.write_text("garbage\n" + before.decode())
    corrupt = run(pytester, "--pexen-resume")
    assert corrupt.ret == pytest.ExitCode.USAGE_ERROR
    corrupt.stderr.fnmatch_lines(
        ["ERROR: pexen: --pexen-resume: */state.jsonl:1: not a pexen journal record"]
    )
    state.write_bytes(before + b'{"type": "end", "test": "test_s.py::te')  # torn by a kill
    torn = run(pytester, "--pexen-resume")
    assert torn.ret == 0
    torn.assert_outcomes(passed=2)
    assert records(state, "boot")  # appended after the torn line was cut off


def test_no_journal_is_a_fresh_run_and_none_writes_nothing(
    pytester: pytest.Pytester, runs: Path
) -> None:
    pytester.makepyfile(test_s="def test_a(): pass\n")
    fresh = run(pytester, "--pexen-resume")
    assert fresh.ret == 0
    fresh.stdout.fnmatch_lines(
        ["pexen: --pexen-resume: no journal at *state.jsonl; starting a fresh run"]
    )
    result = pytester.runpytest_subprocess("-p", "pexen", "--pexen-state=none")
    assert result.ret == 0
    assert not (pytester.path / ".pytest_cache" / "d" / "pexen").exists()
    default = pytester.runpytest_subprocess("-p", "pexen")
    assert default.ret == 0
    assert records(pytester.path / ".pytest_cache" / "d" / "pexen" / "state.jsonl", "end")
    nocache = pytester.runpytest_subprocess(
        "-p", "pexen", "-p", "no:cacheprovider", "--pexen-resume"
    )
    assert nocache.ret == pytest.ExitCode.USAGE_ERROR
    nocache.stderr.fnmatch_lines(
        [
            "ERROR: pexen: --pexen-resume: there is no journal (the "
            "cache provider is disabled and no --pexen-state is given)"
        ]
    )


def test_tests_of_a_shared_node_id_summary_and_resume(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collector can give several tests one node id (pyyaml's suite
    does): each is journaled in its turn. The summary of a finished run
    counted them once ("2 not finished"); a serial resume reported one of
    them and ran none of the others again, though only the first had ended."""
    pytester.makeconftest(
        textwrap.dedent(
            """
        import os, signal
        import pytest
        class Case(pytest.Item):
            def runtest(self):
                with open("runs.log", "a") as log:
                    log.write(f"{self.path.name} {os.environ['PEXEN_BOOT_COUNT']}\\n")
                with open("runs.log") as log:
                    second = sum(1 for line in log if line.startswith("b.case")) == 2
                if self.path.name == "b.case" and second and os.environ.get("KILL"):
                    os.kill(os.getpid(), signal.SIGKILL)
        """
        )
        + ONE_NODE_ID
    )
    pytester.path.joinpath("a.case").write_text("")
    pytester.path.joinpath("b.case").write_text("")

    def summary() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_pexen.journal", "state.jsonl"],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            check=False,
        )

    run(pytester).assert_outcomes(passed=6)
    done = summary()
    assert done.stdout.splitlines()[-1] == "6 of 6 tests finished: 6 pass; stopped: finished"
    assert done.returncode == 0

    (pytester.path / "runs.log").unlink()
    monkeypatch.setenv("KILL", "1")  # the second b.case test kills the run
    assert run(pytester).ret != 0
    monkeypatch.delenv("KILL")
    assert summary().stdout.splitlines()[-1].startswith("4 of 6 tests finished")
    result = run(pytester, "--pexen-resume")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*(boot 1): 4 of 6 tests finished before*"])
    runs = (pytester.path / "runs.log").read_text().split()
    assert runs == ["a.case", "0"] * 3 + ["b.case", "0"] * 2 + ["b.case", "1"] * 2


def test_follow_and_summary_while_the_run_goes_on(pytester: pytest.Pytester, runs: Path) -> None:
    pytester.makepyfile(
        test_s="""
        import time, pytest
        @pytest.mark.parametrize("i", range(5))
        def test_t(i):
            time.sleep(0.1)
            assert i != 3
    """
    )
    state = pytester.path / "state.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "pexen", f"--pexen-state={state}", "-q"],
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        seen = [
            (r["type"], r.get("test"), r.get("outcome"))
            for r in journal.follow(state, poll=0.02, timeout=60)
        ]
    finally:
        proc.wait(60)
    assert seen[0][0] == "run" and seen[-1][0] == "stop"
    ends = [(test, outcome) for kind, test, outcome in seen if kind == "end"]
    assert ends == [(f"test_s.py::test_t[{i}]", "fail" if i == 3 else "pass") for i in range(5)]
    summary = subprocess.run(
        [sys.executable, "-m", "pytest_pexen.journal", str(state)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert summary.returncode == 1
    lines = summary.stdout.splitlines()
    assert lines[0].endswith(": 5 tests")
    assert lines[4].startswith("FAIL   test_s.py::test_t[3] ")
    assert lines[-1] == "5 of 5 tests finished: 1 fail, 4 pass; stopped: finished"


# a test module's start: whether the journal has a test's end yet
ENDED = """
import json, time
import pytest_pexen as pexen

def ended(name):
    with open("state.jsonl") as f:
        return any(r["type"] == "end" and r["test"] == name for r in map(json.loads, f))
"""
QUICK = "import time\ndef test_quick():\n    time.sleep(0.3)\n"


def test_an_end_reaches_the_journal_while_the_other_worker_runs_on(
    pytester: pytest.Pytester,
) -> None:
    """Under xdist the controller writes the ends of the events it has
    queued together, and the rest when it waits for its workers: an end is
    never left unwritten while nothing else happens (here: the last test
    ended, the other worker runs on, nothing is left to send)."""
    pytester.makepyfile(
        test_s=ENDED
        + textwrap.dedent(
            """

        @pexen.priority(-1)
        def test_watch():
            for _ in range(600):
                if ended("test_q.py::test_quick"):
                    return
                time.sleep(0.05)
            raise AssertionError("test_quick's end is not in the journal")
    """
        ),
        test_q=QUICK,
    )
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=2)
    ends = [r["test"] for r in records(pytester.path / "state.jsonl", "end")]
    assert ends == ["test_q.py::test_quick", "test_s.py::test_watch"]


def test_an_end_reaches_the_journal_while_the_controller_is_busy(
    pytester: pytest.Pytester,
) -> None:
    """A controller that never runs out of events to handle (here: a
    conftest that takes 3 ms a report, and a test of many subtests on the
    other worker) still writes a held end within HOLD seconds."""
    pytester.makeconftest(
        """
        import time
        def pytest_runtest_logreport(report):
            if not hasattr(pytest_runtest_logreport, "worker"):
                time.sleep(0.003)
        def pytest_configure(config):
            if hasattr(config, "workerinput"):
                pytest_runtest_logreport.worker = True
        """
    )
    pytester.makepyfile(
        test_s=ENDED
        + textwrap.dedent(
            """

        @pexen.priority(-1)
        def test_watch(subtests):
            deadline = time.monotonic() + 20
            n = 0
            while time.monotonic() < deadline:
                with subtests.test(n=n):  # a report for the controller each
                    time.sleep(0.001)
                n += 1
                if n % 50 == 0 and ended("test_q.py::test_quick"):
                    return
            raise AssertionError("test_quick's end is not in the journal")
    """
        ),
        test_q=QUICK,
    )
    result = run(pytester, "-n", "2")
    assert result.ret == 0, result.stdout.str()
    ends = [r["test"] for r in records(pytester.path / "state.jsonl", "end")]
    assert ends == ["test_q.py::test_quick", "test_s.py::test_watch"]


def test_held_ends_are_written_when_another_plugin_breaks_the_session_end(
    pytester: pytest.Pytester,
) -> None:
    """The last tests' ends, held while the controller handled its last
    events, are written when the run loop ends: a conftest whose
    ``pytest_sessionfinish`` raises keeps the journal's from running."""
    pytester.makeconftest(
        """
        def pytest_sessionfinish(session):
            if not hasattr(session.config, "workerinput"):
                raise RuntimeError("a broken plugin")
        """
    )
    pytester.makepyfile(**{f"test_m{i}": "def test_t(): pass\n" for i in range(6)})
    result = run(pytester, "-n", "2")
    assert result.ret != 0
    ends = sorted(r["test"] for r in records(pytester.path / "state.jsonl", "end"))
    assert ends == [f"test_m{i}.py::test_t" for i in range(6)]


def test_a_crashed_tests_end_is_journaled_before_its_worker_is_replaced(
    pytester: pytest.Pytester,
) -> None:
    """The controller waits while it starts a crashed worker's replacement:
    the crashed test's end is already in the journal then (only the ends
    of tests that simply passed are held, see Writer.hold)."""
    pytester.makeconftest(
        """
        def pytest_xdist_newgateway(gateway):
            if gateway.id == "gw2":  # the replacement
                with open("state.jsonl") as f:
                    seen = '"type":"end","test":"test_crash.py::test_crash"' in f.read()
                with open("seen.txt", "w") as f:
                    f.write(str(seen))
        """
    )
    pytester.makepyfile(
        test_crash="import os\ndef test_crash():\n    os._exit(3)\n",
        test_other="import time\ndef test_other():\n    time.sleep(1)\n",
    )
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=1, failed=1)
    assert (pytester.path / "seen.txt").read_text() == "True"


def test_records_carry_outcomes_results_and_shared_state(
    pytester: pytest.Pytester, runs: Path
) -> None:
    pytester.makepyfile(
        test_s="""
        import pytest_pexen as pexen
        @pexen.provides("db")
        def test_p(pexen_shared, pexen_results):
            pexen_shared["k"] = [1]
            pexen_results.warn("disk 91% full")
        @pexen.requires("db")
        def test_d():
            pass
    """
    )
    assert run(pytester).ret == 0
    header, *rest = list(journal.read(pytester.path / "state.jsonl"))
    assert header["type"] == "run" and header["format"] == journal.FORMAT
    assert header["tests"] == ["test_s.py::test_d", "test_s.py::test_p"]
    assert [r["type"] for r in rest] == ["start", "end", "start", "end", "stop"]
    end = rest[1]
    assert end["test"] == "test_s.py::test_p" and end["outcome"] == "warn"
    assert end["shared"] == {"k": [1]} and end["provides"] == ["db"]
    assert [r["outcome"] for r in end["results"]] == ["warn"]
    json.dumps(end)  # plain JSON all the way down
    assert os.path.getsize(pytester.path / "state.jsonl") < 20000


times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
phases = st.lists(
    st.tuples(st.sampled_from(["setup", "call", "teardown"]), times, times, times).map(list),
    max_size=3,
)


@given(
    test=st.text(),
    worker=st.none() | st.text(),
    boot=st.integers(0, 99),
    t=times,
    duration=times,
    path=st.text(),
    lineno=st.none() | st.integers(0, 10**6),
    name=st.text(),
    reports=phases,
    provides=st.lists(st.text(), max_size=3),
)
def test_directly_formatted_records_are_the_json_of_their_fields(
    test: str,
    worker: str | None,
    boot: int,
    t: float,
    duration: float,
    path: str,
    lineno: int | None,
    name: str,
    reports: list[list[object]],
    provides: list[str],
) -> None:
    """The start and plain end records are formatted without the JSON
    encoder (they are most of the journal's cost): whatever the node id
    holds (quotes, backslashes, any unicode), each is one line of JSON, the
    record the general code makes, and it reads back as written (times to
    the microsecond)."""
    line = journal.start_line(test, t, worker, boot)
    assert "\n" not in line
    record = json.loads(line)
    assert record == journal.start_record(test, t, worker, boot)
    assert record["test"] == test and abs(record["t"] - t) <= 5e-7 + t * 1e-15
    assert journal.value(record, "worker") == worker and journal.value(record, "boot") == boot
    where = (path, lineno, name)
    line = journal.plain_end_line(test, t, duration, worker, boot, where, reports, provides)  # type: ignore[arg-type]
    assert "\n" not in line
    record = json.loads(line)
    expected = journal.end_record(
        test, t, "pass", duration, where, reports, provides=provides, worker=worker, boot=boot
    )
    assert record == expected and list(record) == list(expected)  # key for key
    assert list(journal.value(record, "provides")) == provides
    assert record["outcome"] == "pass" and record["duration"] == duration
    assert journal.location(record) == where
    assert journal.value(record, "worker") == worker and journal.value(record, "boot") == boot
    assert journal.value(record, "ok") is True and journal.value(record, "why") is None
    for written, kept in zip(reports, record["reports"], strict=True):
        assert kept[:2] == written[:2]
        for was, now in zip(written[2:], journal.phase_times(record, kept), strict=True):
            assert abs(now - was) <= 1.5e-6 + 4e9 * 2**-52  # microseconds, as float sums go


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_awkward_node_ids_journal_and_resume(pytester: pytest.Pytester, xdist: list[str]) -> None:
    """Parametrize ids with quotes, backslashes and unicode, a failure among
    them: the journal reads back, and a resume reports every test again."""
    pytester.makepyfile(
        test_ids="""
        import pytest
        @pytest.mark.parametrize("v", ['a"b', "c\\\\d", "\u00e9t\u00e9", "\u2603", "x y"],
                                 ids=lambda v: v)
        def test_v(v):
            assert v != "x y"
    """
    )
    first = run(pytester, *xdist)
    first.assert_outcomes(passed=4, failed=1)
    ended = journal.load(pytester.path / "state.jsonl").ended
    assert sorted(record["outcome"] for record in ended.values()) == ["fail"] + ["pass"] * 4
    assert set(ended) == set(journal.load(pytester.path / "state.jsonl").tests)
    again = run(pytester, *xdist, "--pexen-resume")
    again.assert_outcomes(passed=4, failed=1)
    again.stdout.fnmatch_lines(["pexen: 5 results resumed from *"])


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_executable_test_reboots_with_pexen_reboot(
    pytester: pytest.Pytester, runs: Path, xdist: list[str]
) -> None:
    script = pytester.path / "upgrade.sh"
    script.write_text(
        '#!/bin/sh\necho "boot$PEXEN_BOOT_COUNT" >> "$RUNS"\n'
        'if [ "$PEXEN_BOOT_COUNT" = 0 ]; then\n'
        '  pexen-reboot\n  echo after-reboot >> "$RUNS"\nfi\n'
    )
    script.chmod(0o755)
    pytester.makepyfile(test_py="def test_py(): pass\n")
    first = run(pytester, "--pexen-exec", *xdist, "--pexen-reboot-cmd=true")
    assert first.ret == pytest.ExitCode.INTERRUPTED
    first.stdout.fnmatch_lines(["*upgrade.sh asked for a reboot (boot count 0)*"])
    second = run(pytester, "--pexen-exec", *xdist, "--pexen-reboot-cmd=true", "--pexen-resume")
    assert second.ret == 0
    second.assert_outcomes(passed=2)
    assert ran(runs) == ["boot0", "boot1"]
