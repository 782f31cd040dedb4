"""The journal on hostile machines (issue 18): read-only checkouts, full
disks, two runs at once, plain suites under xdist's ``load`` killed or
rebooted, runs without a journal, and the readers' odd cases.

Read-only and full disks are real tmpfs mounts (the test skips, saying
why, where mounting is not permitted); kills are real SIGKILLs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_pexen.journal import format as journal
from pytest_pexen.journal.resume import identity
from pytest_pexen.timeline.page import analyse

XDIST = pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])

LOG = """
import os, signal, time

def ran(name):
    with open(os.environ["RUNS"], "a") as f:
        f.write(f"{name} {time.time()!r}\\n")

def kill():
    pid = os.getppid() if os.environ.get("KILL") == "parent" else os.getpid()
    os.kill(pid, signal.SIGKILL)
"""


@pytest.fixture
def runs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = pytester.path / "runs.log"
    monkeypatch.setenv("RUNS", str(path))
    pytester.makepyfile(runlog=LOG)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
    return path


def ran(runs: Path) -> list[str]:
    """The names the suite logged, in order."""
    return [line.split()[0] for line in runs.read_text().splitlines()] if runs.exists() else []


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "pexen", *args, timeout=180)


def mount(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def disk(pytester: pytest.Pytester) -> Iterator[Path]:
    """A 200 KB file system."""
    yield from mount(pytester.path / "disk", "200k")


@pytest.fixture
def readonly(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A read-only checkout of a two-test suite, the current directory."""
    for path in mount(pytester.path / "checkout", "1m"):
        (path / "test_s.py").write_text("import warnings\ndef test_a(): pass\ndef test_b(): pass\n")
        done = subprocess.run(["mount", "-o", "remount,ro", str(path)], check=False)
        if done.returncode != 0:
            pytest.skip("cannot remount a tmpfs read-only here")
        monkeypatch.chdir(path)
        yield path


# ------------------------------------------------------------ 1. unwritable
@XDIST
def test_read_only_checkout_runs_as_without_the_plugin(
    pytester: pytest.Pytester, readonly: Path, xdist: list[str]
) -> None:
    without = pytester.runpytest_subprocess("-p", "no:pexen", "-p", "xdist", *xdist, timeout=180)
    assert without.ret == 0
    result = run(pytester, *xdist)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    out = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out
    result.assert_outcomes(passed=2, warnings=without.parseoutcomes().get("warnings", 0) + 1)
    assert out.count("this run is not journaled") == 1
    result.stdout.fnmatch_lines(["*PexenJournalWarning: pexen: this run is not journaled*"])
    # filterable, as pytest's own cache warnings
    quiet = run(pytester, *xdist, "-W", "ignore::pytest.PytestCacheWarning")
    assert quiet.ret == 0
    assert "not journaled" not in quiet.stdout.str()
    # where warnings are errors it is a line, never an error
    strict = run(pytester, *xdist, "-W", "error::pytest_pexen.PexenJournalWarning")
    assert strict.ret == 0
    strict.stdout.fnmatch_lines(["pexen: this run is not journaled*"])


@XDIST
def test_read_only_checkout_of_a_marked_suite_warns_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: list[str]
) -> None:
    """Under pexen's own scheduling (a marked suite), the durations kept
    for the next run's ranking cannot be written either: still the one
    warning that the run is not journaled, no second one of the cache."""
    for path in mount(pytester.path / "checkout", "1m"):
        (path / "test_m.py").write_text(
            "import pytest_pexen as pexen\n"
            "@pexen.provides('a')\ndef test_a(): pass\n"
            "@pexen.requires('a')\ndef test_b(): pass\n"
        )
        if subprocess.run(["mount", "-o", "remount,ro", str(path)], check=False).returncode:
            pytest.skip("cannot remount a tmpfs read-only here")
        monkeypatch.chdir(path)
        result = run(pytester, *xdist)
        assert result.ret == 0, result.stdout.str() + result.stderr.str()
        out = result.stdout.str() + result.stderr.str()
        assert "INTERNALERROR" not in out and "Traceback" not in out
        assert out.count("this run is not journaled") == 1
        assert "durations" not in out, out
        without = pytester.runpytest_subprocess(  # pytest's own cache warnings
            "-p", "no:pexen", "-p", "xdist", *xdist, "-W", "ignore::pytest.PytestUnknownMarkWarning"
        )
        warned = without.parseoutcomes().get("warnings", 0)
        result.assert_outcomes(passed=2, warnings=warned + 1)


@XDIST
def test_explicit_unwritable_journal_is_a_usage_error_before_anything_runs(
    pytester: pytest.Pytester, readonly: Path, runs: Path, xdist: list[str]
) -> None:
    for args in (["--pexen-state=state.jsonl"], ["--pexen-resume"]):
        result = run(pytester, *xdist, *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert "Traceback" not in result.stdout.str() + result.stderr.str()
        errors = [line for line in result.stderr.lines if line.startswith("ERROR")]
        assert len(errors) == 1
        assert "Read-only file system" in errors[0]
        assert "passed" not in result.stdout.str()


SUITE_FULL = """
import os
import pytest
import pytest_pexen as pexen
from runlog import ran, kill

pytestmark = pexen.claims("disk")  # one at a time, in this order (requires)

def test_a():
    ran("a")

def test_fill():
    ran("fill")
    fd = os.open(os.environ["FILLER"], os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"x" * 1024)
    except OSError:
        pass
    finally:
        os.close(fd)

@pexen.requires("test_fill")
@pytest.mark.parametrize("i", range(40))  # more records than a page has room for
def test_b(i):
    ran("b")

@pexen.requires("test_fill")
@pexen.priority(10)  # after the test_b ones
def test_kill():
    ran("kill")
    if os.environ.get("KILL"):
        kill()

@pexen.requires("test_kill")
def test_c():
    ran("c")
"""


@XDIST
def test_disk_full_mid_run_keeps_the_run_and_the_resume_refuses(
    pytester: pytest.Pytester,
    runs: Path,
    disk: Path,
    monkeypatch: pytest.MonkeyPatch,
    xdist: list[str],
) -> None:
    pytester.makepyfile(test_s=SUITE_FULL)
    monkeypatch.setenv("FILLER", str(disk / "filler"))
    state = disk / "state.jsonl"
    # -p xdist -p no:randomly etc. are not needed: one order under -n 2 too
    result = run(pytester, *xdist, f"--pexen-state={state}")
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == 0, out
    assert "INTERNALERROR" not in out and "Traceback" not in out
    result.assert_outcomes(passed=44, warnings=1)
    result.stdout.fnmatch_lines(
        [
            f"*pexen: the journal {state} could not be written from the * of "
            "test_s.py::* on (No space left on device); it is incomplete*"
        ]
    )
    assert out.count("could not be written") == 1
    (disk / "filler").unlink()
    finished = run(pytester, *xdist, f"--pexen-state={state}", "--pexen-resume")
    finished.stdout.fnmatch_lines(["*lost records, but its run finished; starting a fresh run"])

    # the same, killed after the gap: the resume cannot know what ran
    (disk / "filler").unlink()
    state.unlink()
    monkeypatch.setenv("KILL", "parent" if xdist else "self")
    killed = run(pytester, *xdist, f"--pexen-state={state}")
    assert killed.ret != 0
    assert journal.load(state).header["gap"] == journal.GAP
    (disk / "filler").unlink()
    monkeypatch.delenv("KILL")
    before = state.read_bytes()
    resumed = run(pytester, *xdist, f"--pexen-state={state}", "--pexen-resume")
    assert resumed.ret == pytest.ExitCode.USAGE_ERROR
    resumed.stderr.fnmatch_lines(
        [
            f"ERROR: pexen: --pexen-resume: the journal {state} lost records (it could "
            "not be written, a full disk?) and its run did not finish: what ran after "
            "the gap is unknown; run without --pexen-resume"
        ]
    )
    assert state.read_bytes() == before


def test_readers_say_the_journal_lost_records(
    pytester: pytest.Pytester, runs: Path, disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary, ``--follow`` and ``--timeline`` of a journal that lost
    records say so: the summary said the finished run was killed with tests
    not finished, ``--follow`` never ended, the page drew finished tests as
    interrupted."""
    pytester.makepyfile(test_s=SUITE_FULL)
    monkeypatch.setenv("FILLER", str(disk / "filler"))
    state = disk / "state.jsonl"
    assert run(pytester, f"--pexen-state={state}").ret == 0
    assert journal.load(state).header["gap"] == journal.GAP_FINISHED
    for follow in ([], ["--follow"]):
        cli = subprocess.run(
            [sys.executable, "-m", "pytest_pexen.journal", str(state), *follow],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert cli.returncode == 1, cli.stdout + cli.stderr
        last = cli.stdout.splitlines()[-1]
        assert last.endswith(
            "unknown; records lost (the journal could not be written), but the run finished"
        ), last
        assert "not finished" not in last
    page = pytester.path / "page.html"
    cli = subprocess.run(
        [sys.executable, "-m", "pytest_pexen.journal", str(state), "--timeline", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 2
    assert cli.stderr.strip() == (
        "pexen journal: the journal lost records (it could not be written, a full disk?): "
        "a page drawn from it would not show what ran"
    )
    assert not page.exists()


@XDIST
def test_no_reboot_once_the_journal_lost_records(
    pytester: pytest.Pytester,
    runs: Path,
    disk: Path,
    monkeypatch: pytest.MonkeyPatch,
    xdist: list[str],
) -> None:
    """A resume would refuse the journal: rebooting would strand the run.
    The test that asks for a reboot after the journal lost records fails,
    saying why, and the run goes on (it was reported "rebooting", the run
    stopped, and the tests after it ran nowhere)."""
    monkeypatch.setenv("FILLER", str(disk / "filler"))
    pytester.makepyfile(
        test_r=SUITE_FULL.split("@pexen.requires")[0]
        + """
@pexen.requires("test_fill")
@pytest.mark.parametrize("i", range(40))
def test_b(i):
    pass

@pexen.requires("test_fill")
@pexen.priority(10)
def test_reboot():
    pexen.reboot()

@pexen.priority(20)
def test_after():
    ran("after")
"""
    )
    rebooted = pytester.path / "rebooted"
    result = run(
        pytester,
        *xdist,
        "-rf",
        f"--pexen-state={disk / 'state.jsonl'}",
        f"--pexen-reboot-cmd=touch {rebooted}",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=43, failed=1)
    result.stdout.fnmatch_lines(
        ["FAILED test_r.py::test_reboot - *pexen.reboot(): this run writes no j*"]
    )
    assert "reboot command" not in result.stdout.str()
    assert not rebooted.exists()
    assert "after" in ran(runs)


# ------------------------------------------------------------ 2. one run per journal
HOLD = """
import os, time
from pathlib import Path

def test_hold():
    Path(os.environ["HELD"]).touch()
    deadline = time.monotonic() + 120
    while not Path(os.environ["RELEASE"]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)

def test_other():
    pass
"""


def wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert process.poll() is None, "the holding run ended early"
        assert time.monotonic() < deadline, "the holding run never started its test"
        time.sleep(0.05)


def test_a_run_inside_a_test_names_the_run_around_it(pytester: pytest.Pytester) -> None:
    """A test that runs ``pytest.main()`` in its own process, in the same
    rootdir: the journal is held by the run around it, not "another pytest
    run" with this very process's pid."""
    pytester.mkdir("inner").joinpath("test_i.py").write_text("def test_i(): pass\n")
    pytester.makepyfile(
        test_outer="""
        import pytest
        def test_nested(capsys):
            assert pytest.main(["-q", "-p", "pexen", "inner"]) == 0
            out = capsys.readouterr().out
            assert "is in use by the pytest run this one runs inside" in out
            assert "another pytest run" not in out
        """
    )
    run(pytester, "test_outer.py").assert_outcomes(passed=1)


@XDIST
def test_two_runs_never_share_a_journal(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist: list[str]
) -> None:
    pytester.makepyfile(test_h=HOLD)
    held, release = pytester.path / "held", pytester.path / "release"
    monkeypatch.setenv("HELD", str(held))
    monkeypatch.setenv("RELEASE", str(release))
    default = pytester.path / ".pytest_cache" / "d" / "pexen" / "state.jsonl"
    holder = pytester.popen(
        [sys.executable, "-m", "pytest", "-p", "pexen", *xdist, "-k", "test_hold"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(held, holder)
        second = run(pytester, *xdist, "-k", "test_other")
        assert second.ret == 0
        second.assert_outcomes(passed=1)  # a line of the summary, not a warning
        second.stdout.fnmatch_lines(
            [
                f"*pexen: this run is not journaled: {default} is in use by another "
                f"pytest run (pid {holder.pid})"
            ]
        )
        for args in ([f"--pexen-state={default}"], ["--pexen-resume"]):
            named = run(pytester, *xdist, "-k", "test_other", *args)
            assert named.ret == pytest.ExitCode.USAGE_ERROR
            named.stderr.fnmatch_lines(
                [
                    f"ERROR: pexen: the journal {default} is in use by another pytest "
                    f"run (pid {holder.pid})*"
                ]
            )
            assert "passed" not in named.stdout.str()
        follower = subprocess.run(
            [sys.executable, "-m", "pytest_pexen.journal", str(default)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert follower.returncode in (0, 1) and "pexen run" in follower.stdout  # no lock
        assert "test_h.py::test_other" not in follower.stdout
    finally:
        release.touch()
        holder.wait(timeout=120)
    assert holder.returncode == 0
    state = journal.load(default)
    assert state.tests == ["test_h.py::test_hold"]
    assert list(state.ended) == ["test_h.py::test_hold"]

    # a killed holder leaves no lock behind
    held.unlink()
    release.unlink()
    holder = pytester.popen(
        [sys.executable, "-m", "pytest", "-p", "pexen", *xdist, "-k", "test_hold"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(held, holder)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    finally:
        release.touch()
    after = run(pytester, *xdist, "--pexen-resume", "-k", "test_hold")
    assert after.ret == 0
    assert "not journaled" not in after.stdout.str()


# ------------------------------------------------------------ 3. plain suites under -n
PLAIN_CONFTEST = """
import os, signal
import pytest
from runlog import ran

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item):
    # takes the machine down at once: before its worker can tell anyone
    if item.name == "test_culprit" and os.environ["PEXEN_BOOT_COUNT"] == "0":
        ran("culprit0")
        os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
"""

PLAIN_SUITE = """
import os
import pytest
from runlog import ran

@pytest.mark.parametrize("i", range(6))
def test_t(i):
    ran(f"t{i}-{os.environ['PEXEN_BOOT_COUNT']}")

def test_culprit():
    ran(f"culprit{os.environ['PEXEN_BOOT_COUNT']}")
"""


def test_plain_suite_under_xdist_never_loses_the_culprit(
    pytester: pytest.Pytester, runs: Path
) -> None:
    pytester.makeconftest(PLAIN_CONFTEST)
    pytester.makepyfile(test_p=PLAIN_SUITE)
    args = ["-n", "2", "--pexen-state=state.jsonl", "--pexen-reboot-cmd=true"]
    first = run(pytester, *args)
    assert first.ret != 0
    starts = [r for r in journal.read(pytester.path / "state.jsonl") if r["type"] == "start"]
    culprit = [r for r in starts if r["test"] == "test_p.py::test_culprit"]
    assert culprit and culprit[0]["worker"] in ("gw0", "gw1")
    assert all(r["worker"] in ("gw0", "gw1") for r in starts)
    second = run(pytester, *args, "--pexen-resume")
    assert second.ret == 0, second.stdout.str()
    log = ran(runs)
    assert [n for n in log if n.startswith("culprit")] == ["culprit0", "culprit1"]
    # each ran; again only if it was sent but had not ended at the kill
    assert {n.split("-")[0] for n in log if n.startswith("t")} == {f"t{i}" for i in range(6)}
    second.assert_outcomes(passed=7)


PLAIN_REBOOT = """
import os, time
import pytest
import pytest_pexen as pexen
from runlog import ran

def test_reboot(pexen_boot_count):
    ran(f"reboot{pexen_boot_count}")
    if pexen_boot_count == 0:
        time.sleep(0.2)  # the other worker is inside a test
        ran("asked")
        pexen.reboot()

@pytest.mark.parametrize("i", range(8))
def test_t(i):
    ran(f"t{i}")
    time.sleep(1.0)
"""


def test_plain_suite_under_xdist_starts_nothing_after_a_reboot_request(
    pytester: pytest.Pytester, runs: Path
) -> None:
    pytester.makepyfile(test_r=PLAIN_REBOOT)
    args = ["-n", "2", "--pexen-state=state.jsonl", "--pexen-reboot-cmd=true"]
    first = run(pytester, *args)
    assert first.ret == pytest.ExitCode.INTERRUPTED
    lines = [line.split() for line in runs.read_text().splitlines()]
    asked = next(float(t) for name, t in lines if name == "asked")
    began_after = [name for name, t in lines if float(t) > asked]
    assert began_after == [], "tests began after the reboot request"
    state = journal.load(pytester.path / "state.jsonl")
    # what was queued was handed back, not left "running" (only the test that asked is)
    assert list(state.running) == ["test_r.py::test_reboot"]
    assert sorted(state.ended) == sorted(
        f"test_r.py::test_t[{name[1:]}]" for name, _ in lines if name.startswith("t")
    )
    records = list(journal.read(pytester.path / "state.jsonl"))
    assert all(r.get("worker") in ("gw0", "gw1") for r in records if r["type"] == "start")
    assert analyse(records).lanes == ["gw0", "gw1"]  # no phantom "main" lane
    second = run(pytester, *args, "--pexen-resume")
    assert second.ret == 0, second.stdout.str()
    log = ran(runs)
    assert log.count("reboot0") == 1 and log.count("reboot1") == 1
    assert sorted(n for n in log if n.startswith("t")) == [f"t{i}" for i in range(8)]
    boot_counts = journal.boot_counts(journal.load(pytester.path / "state.jsonl"))
    assert boot_counts == {"test_r.py::test_reboot": 1}


# ------------------------------------------------------------ 4. reboot without a journal
@XDIST
@pytest.mark.parametrize(
    "off", [["--pexen-state=none"], ["-p", "no:cacheprovider"]], ids=["none", "nocache"]
)
def test_reboot_without_a_journal_fails_the_test(
    pytester: pytest.Pytester, xdist: list[str], off: list[str]
) -> None:
    pytester.makepyfile(
        test_r="""
        import pytest_pexen as pexen
        def test_r():
            pexen.reboot()
        def test_other():
            pass
        """
    )
    result = run(pytester, *xdist, *off, "--pexen-reboot-cmd=touch rebooted", "-rf")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*pexen.reboot(): this run writes no journal*could not resume after the reboot*"]
    )
    assert not (pytester.path / "rebooted").exists()


# ------------------------------------------------------------ 5. size
def test_passing_output_is_capped_in_the_journal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_o="""
        import pytest
        @pytest.mark.parametrize("i", range(20))
        def test_loud(i):
            print("x" * 1_000_000)
            print("the end")
        def test_fails():
            print("y" * 100_000)
            assert 0
        """
    )
    first = run(pytester, "-n", "2")
    assert first.ret == 1
    cache = pytester.path / ".pytest_cache" / "d" / "pexen"
    state = cache / "state.jsonl"
    assert state.stat().st_size < 1_000_000
    # a suite handed to load ranks nothing: no durations kept
    assert not (pytester.path / ".pytest_cache" / "v" / "pexen" / "durations").exists()
    fails = journal.load(state).ended["test_o.py::test_fails"]
    assert any("y" * 100_000 in json.dumps(r) for r in fails["reports"])  # a failure: whole
    resumed = run(pytester, "-n", "2", "--pexen-resume", "-rA")
    resumed.assert_outcomes(passed=20, failed=1)
    resumed.stdout.fnmatch_lines(
        [
            "*pexen: 996009 characters of this passed test's output left out of the "
            "journal (it keeps 4000 a section)*",
            "the end",
        ]
    )


@XDIST
def test_a_quiet_passed_test_costs_under_half_a_kilobyte_of_journal(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    """Ordinary suites leave their journal behind on every run: a passed test
    that prints nothing costs under 512 bytes of it (its start and end
    records and its share of the header), and the resume of that journal
    still reports every test, with the times they took."""
    for f in range(4):
        pytester.makepyfile(
            **{
                f"test_module_{f}": """
                import pytest
                def test_plain():
                    pass
                @pytest.mark.parametrize("case", range(40))
                def test_case(case):
                    pass
                class TestGroup:
                    @pytest.mark.parametrize("n", range(9))
                    def test_method(self, n):
                        pass
                """
            }
        )
    first = run(pytester, *xdist, "--pexen-state=state.jsonl", "--junitxml=first.xml")
    first.assert_outcomes(passed=200)
    size = (pytester.path / "state.jsonl").stat().st_size
    assert size / 200 < 512, f"{size / 200:.0f} bytes per test"
    again = run(
        pytester, *xdist, "--pexen-state=state.jsonl", "--pexen-resume", "--junitxml=again.xml"
    )
    again.assert_outcomes(passed=200)

    def cases(name: str) -> list[tuple[str | None, ...]]:
        root = ET.parse(pytester.path / name).getroot()
        return sorted(
            (c.get("classname"), c.get("name"), c.get("time")) for c in root.iter("testcase")
        )

    assert cases("again.xml") == cases("first.xml")


# a journal as pytest-pexen wrote it before format 2 (its records were bigger)
FORMAT_1 = (
    '{"type":"run","gap":0,"format":1,"id":"5e4c","t":1796564644.6470873,"pexen":"0.1.0",'
    '"tests":["test_s.py::test_a"],"identity":"x","options":{"shared":{},"strict_warn":false},'
    '"workers":1}\n'
    '{"type":"start","test":"test_s.py::test_a","t":1796564644.6468806,"worker":null,"boot":0}\n'
)


def test_a_journal_of_the_older_format_is_refused_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_s="def test_a(): pass\n")
    (pytester.path / "state.jsonl").write_text(FORMAT_1)
    says = "journal format 1; this pytest-pexen reads formats 2 and 3"
    result = run(pytester, "--pexen-state=state.jsonl", "--pexen-resume")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert [line for line in result.stderr.lines if line.strip()] == [
        f"ERROR: pexen: --pexen-resume: {pytester.path / 'state.jsonl'}: {says}"
    ]
    cli = [sys.executable, "-m", "pytest_pexen.journal", "state.jsonl"]
    for extra in ([], ["--timeline", "page.html"]):
        done = subprocess.run(
            [*cli, *extra], cwd=pytester.path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr == f"pexen journal: state.jsonl: {says}\n"
    assert run(pytester, "--pexen-state=state.jsonl").ret == 0  # a fresh run starts it anew


# a journal as pytest-pexen wrote it in format 2 (test_a ended, test_b was running)
FORMAT_2 = (
    '{"type":"run","gap":0,"format":2,"id":"5e4d","t":1796564644.5,"pexen":"0.1.0",'
    '"tests":["test_s.py::test_a","test_s.py::test_b"],"identity":"x",'
    '"options":{"shared":{},"strict_warn":false},"workers":1}\n'
    '{"type":"start","test":"test_s.py::test_a","t":1796564644.6}\n'
    '{"type":"end","test":"test_s.py::test_a","t":1796564644.7,"outcome":"pass",'
    '"duration":0.01,"line":0,"reports":[["setup",0.001,-0.02,-0.019],'
    '["call",0.001,-0.018,-0.017],["teardown",0.001,-0.016,-0.015]]}\n'
    '{"type":"start","test":"test_s.py::test_b","t":1796564644.8}\n'
)


def test_a_journal_of_format_2_resumes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_s="def test_a(): pass\ndef test_b(): pass\n")
    tests = ["test_s.py::test_a", "test_s.py::test_b"]
    same = identity(tests, {"shared": {}, "strict_warn": False})
    (pytester.path / "state.jsonl").write_text(
        FORMAT_2.replace('"identity":"x"', f'"identity":"{same}"')
    )
    result = run(pytester, "--pexen-state=state.jsonl", "--pexen-resume", "-v")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*test_a PASSED (resumed)*", "*test_b PASSED*"])


@pytest.mark.parametrize(
    "damage",
    [
        ('["call",0.001,-0.018,-0.017]', '["call","soon",-0.018,-0.017]'),
        ('"tests":["test_s.py::test_a","test_s.py::test_b"]', '"tests":[["test_s.py::test_a"]]'),
    ],
    ids=["report", "header"],
)
def test_a_damaged_journal_is_one_line(pytester: pytest.Pytester, damage: tuple[str, str]) -> None:
    pytester.makepyfile(test_s="def test_a(): pass\ndef test_b(): pass\n")
    (pytester.path / "state.jsonl").write_text(FORMAT_2.replace(*damage))
    result = run(pytester, "--pexen-state=state.jsonl", "--pexen-resume")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1 and "a damaged journal" in lines[0], lines
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    done = subprocess.run(
        [sys.executable, "-m", "pytest_pexen.journal", "state.jsonl"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr


FROZEN = """
import os, time
import pytest, pytest_pexen as pexen

@pytest.fixture(scope="module")
def frozen():
    if os.environ["FREEZER"] == "freezegun":
        import freezegun
        with freezegun.freeze_time("2001-01-01 00:00:00"):
            yield
    else:
        import time_machine
        with time_machine.travel("2001-01-01 00:00:00", tick=False):
            yield

def test_one(frozen):
    time.sleep(0.2)

def test_two(frozen):
    time.sleep(0.2)

@pexen.timeout(1)
def test_hangs(frozen):
    time.sleep(60)
"""


@pytest.mark.parametrize("freezer", ["freezegun", "time_machine"])
def test_a_frozen_clock_stops_no_record_and_no_watchdog(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, freezer: str
) -> None:
    """A module fixture freezes time at 2001 (freezegun replaces ``time.time``
    and ``monotonic`` wherever a module refers to them, time-machine patches
    the function itself): the journal's times stayed frozen (the timeline
    then spanned 25 years), the xUnit suite took 0 s, and a hung test's
    time limit never came (the watchdog's deadlines are monotonic)."""
    pytest.importorskip(freezer)
    monkeypatch.setenv("FREEZER", freezer)
    pytester.makepyfile(test_f=FROZEN)
    started = time.time()
    result = run(pytester, "--pexen-junitxml=r.xml", "--pexen-timeline=t.html")
    assert time.time() - started < 50
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*Timeout: test_f.py::test_hangs exceeded 1 s*"])
    state = pytester.path / ".pytest_cache" / "d" / "pexen" / "state.jsonl"
    records = list(journal.read(state))
    assert all(abs(r["t"] - started) < 60 for r in records if "t" in r), records
    ends = [r for r in records if r["type"] == "end"]
    assert all(0 <= r["duration"] < 30 for r in ends), ends
    suite = ET.parse(pytester.path / "r.xml").getroot()
    assert 1.0 < float(suite.get("time", 0)) < 30
    line = next(x for x in result.stdout.lines if "timeline written" in x)
    assert float(line.split("makespan ")[1].split(" s")[0]) < 30


# ------------------------------------------------------------ 6. readers and odd states
def test_follow_goes_on_across_a_fresh_run_and_can_time_out(
    pytester: pytest.Pytester, runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_f="""
        import os, time
        from runlog import ran, kill
        def test_a():
            ran("a")
        def test_k():
            if os.environ.get("KILL"):
                kill()
            time.sleep(0.5)
        """
    )
    monkeypatch.setenv("KILL", "self")
    assert run(pytester, "--pexen-state=state.jsonl").ret != 0  # no stop record
    cli = [sys.executable, "-m", "pytest_pexen.journal", "state.jsonl", "--follow"]
    idle = subprocess.run([*cli, "--timeout", "1"], capture_output=True, text=True, timeout=60)
    assert idle.returncode == 1, idle.stderr  # it ends; test_k did not finish
    assert "1 of 2 tests finished" in idle.stdout
    follower = subprocess.Popen(
        [*cli, "--timeout", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(0.5)  # it has read the old journal and waits
        monkeypatch.delenv("KILL")
        assert run(pytester, "--pexen-state=state.jsonl").ret == 0
        out, err = follower.communicate(timeout=120)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert out.count("pexen run ") == 2
    assert out.splitlines()[-1] == "2 of 2 tests finished: 2 pass; stopped: finished"


def test_a_fresh_run_replaces_the_journal_and_leaves_nothing_beside_it(
    pytester: pytest.Pytester, runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh run writes a new journal file instead of emptying the last
    one in place (which waits for the disk to discard its blocks): a reader
    that has the last run's journal open still reads all of it. The last
    journal is removed at the end, with any one a killed run left aside."""
    pytester.makepyfile(
        test_f="""
        import os
        from runlog import ran, kill
        def test_a():
            ran("a")
            if os.environ.get("KILL"):
                kill()
        """
    )
    state = pytester.path / "state.jsonl"
    monkeypatch.setenv("KILL", "self")
    assert run(pytester, "--pexen-state=state.jsonl").ret != 0
    killed = sorted(p.name for p in pytester.path.glob("state.jsonl*"))
    assert run(pytester, "--pexen-state=state.jsonl").ret != 0  # killed once more
    # the second run set the first one's journal aside, and was killed with it there
    assert [p.name for p in pytester.path.glob("state.jsonl.old-*")]
    monkeypatch.delenv("KILL")
    with state.open("rb") as last:  # the killed run's journal, open in a reader
        assert run(pytester, "--pexen-state=state.jsonl").ret == 0
        old = [json.loads(line) for line in last.read().splitlines()]
    assert [r["type"] for r in old] == ["run", "start"]
    assert [r["type"] for r in journal.read(state)] == ["run", "start", "end", "stop"]
    assert sorted(p.name for p in pytester.path.glob("state.jsonl*")) == killed
    assert killed == ["state.jsonl", "state.jsonl.lock"]
    assert ran(runs) == ["a", "a", "a"]


@pytest.mark.parametrize("content", [b"", b'{"type":"run","gap":0,"form'], ids=["empty", "torn"])
def test_empty_or_torn_header_journal_is_no_journal(
    pytester: pytest.Pytester, content: bytes
) -> None:
    pytester.makepyfile(test_s="def test_a(): pass\n")
    (pytester.path / "state.jsonl").write_bytes(content)
    result = run(pytester, "--pexen-state=state.jsonl", "--pexen-resume")
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    note = [line for line in result.stdout.lines if line.startswith("pexen: --pexen-resume")]
    assert len(note) == 1 and note[0].endswith("starting a fresh run")
    assert journal.load(pytester.path / "state.jsonl").tests == ["test_s.py::test_a"]


def test_cache_clear_with_resume_is_refused_and_keeps_the_journal(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_s="def test_a(): pass\n")
    assert run(pytester).ret == 0
    state = pytester.path / ".pytest_cache" / "d" / "pexen" / "state.jsonl"
    before = state.read_bytes()
    result = run(pytester, "--cache-clear", "--pexen-resume")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pexen: --cache-clear would delete the journal*"])
    assert state.read_bytes() == before
    assert run(pytester, "--cache-clear").ret == 0  # either alone is fine


@XDIST
def test_exitfirst_resume_warns_nothing_and_time_covers_every_boot(
    pytester: pytest.Pytester, runs: Path, monkeypatch: pytest.MonkeyPatch, xdist: list[str]
) -> None:
    pytester.makepyfile(
        test_x="""
        import os, time
        import pytest_pexen as pexen
        from runlog import ran, kill
        pytestmark = pexen.claims("one")  # one at a time, in this order
        @pexen.priority(-1)
        def test_a():
            assert 0
        def test_slow():
            time.sleep(3.0)
        @pexen.requires("test_slow")
        def test_k():
            if os.environ.get("KILL"):
                kill()
        @pexen.requires("test_k")
        def test_z():
            pass
        """
    )
    monkeypatch.setenv("KILL", "parent" if xdist else "self")
    assert run(pytester, *xdist, "--pexen-state=state.jsonl").ret != 0
    earlier = journal.load(pytester.path / "state.jsonl").elapsed  # the first boot's time
    assert earlier >= 3.0
    monkeypatch.delenv("KILL")
    result = run(
        pytester,
        *xdist,
        "--pexen-state=state.jsonl",
        "--pexen-resume",
        "-x",
        "-W",
        "error",
        "--pexen-junitxml=pexen.xml",
    )
    assert result.ret == 1
    out = result.stdout.str() + result.stderr.str()
    assert "shouldfail" not in out and "warning" not in out.lower()
    result.assert_outcomes(passed=3, failed=1)
    suite = ET.parse(pytester.path / "pexen.xml").getroot().find("testsuite")
    assert suite is not None
    assert float(suite.get("time", "0")) > earlier


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a reparented worker may wait
    to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_of_a_killed_controller_start_nothing_more_and_print_nothing(
    pytester: pytest.Pytester, runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGKILLed controller leaves its workers behind. They start none of
    the tests already queued on them (nobody journals them, and a resume may
    be running them already) and print nothing: xdist's worker would print a
    PluggyTeardownRaisedWarning ("cannot send (already closed?)") on the
    terminal, or into the output file of whatever runs next."""
    pytester.makeconftest(
        """
        import os
        def pytest_sessionstart(session):
            if hasattr(session.config, "workerinput"):  # an xdist worker
                with open("workers.pid", "a") as f:
                    f.write(f"{os.getpid()}\\n")
        """
    )
    pytester.makepyfile(
        test_q="""
        import os, time
        import pytest
        import pytest_pexen as pexen
        from runlog import ran, kill
        @pexen.priority(-1)  # first, with a batch of test_q queued behind it
        def test_k():
            ran(f"k:{os.getpid()}")
            controller = os.getppid()
            kill()
            while os.getppid() == controller:  # until the kernel has it gone
                time.sleep(0.01)
            time.sleep(1.0)  # long enough for the worker to see its controller go
        @pytest.mark.parametrize("n", range(40))
        def test_q(n):
            ran(f"q{n}:{os.getpid()}")
            time.sleep(0.02)
        """
    )
    monkeypatch.setenv("KILL", "parent")
    result = run(pytester, "-n", "2", "--pexen-state=state.jsonl")
    assert result.ret == -signal.SIGKILL
    workers = [int(pid) for pid in (pytester.path / "workers.pid").read_text().split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers)
    names = ran(runs)
    killer = next(name for name in names if name.startswith("k:"))
    after = names[names.index(killer) + 1 :]
    assert [name for name in after if name.endswith(killer[1:])] == [], names  # same pid
    stderr = (pytester.path / "stderr").read_text(errors="replace")  # written after the run
    assert "cannot send" not in stderr and "Warning" not in stderr, stderr


def test_tests_sent_together_get_a_start_record_each(pytester: pytest.Pytester) -> None:
    """Under xdist the start records of the tests sent to a worker together
    are written at once: still one valid line a test, its start before its end."""
    body = ["import pytest_pexen as pexen"]
    for i in range(60):
        body += [f"@pexen.provides('t{i}')", f"def test_{i}(): pass"]
    pytester.makepyfile(test_many="\n".join(body))
    run(pytester, "-n", "2", "--pexen-state=state.jsonl").assert_outcomes(passed=60)
    seen: dict[str, list[str]] = {}
    for record in journal.read(pytester.path / "state.jsonl"):
        if record["type"] in ("start", "end"):
            seen.setdefault(record["test"], []).append(record["type"])
            assert record["worker"] in ("gw0", "gw1")
    assert len(seen) == 60
    assert all(kinds == ["start", "end"] for kinds in seen.values()), seen
    lines = (pytester.path / "state.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)


FORKS = """
import os

def test_fork():
    pid = os.fork()
    if pid == 0:  # the child forgets os._exit: it runs the rest of the session
        os.environ["FORKED_CHILD"] = "1"
        raise SystemExit(0)
    os.waitpid(pid, 0)
    # the child's session has ended: it wrote none of the run's records
    assert not os.path.exists("report.xml")
    assert not os.path.exists("timeline.html")

def test_reboot(pexen_reboot):
    if os.environ.get("FORKED_CHILD"):
        pexen_reboot()

def test_after():
    pass
"""


def test_a_forked_child_that_runs_on_writes_none_of_the_runs_records(
    pytester: pytest.Pytester,
) -> None:
    """A test that forks a child which goes on running the session (it
    raised where it should have called ``os._exit``): the child's session
    reports other outcomes (its copy of the test fails with SystemExit, a
    test asks for a reboot), but the journal, the xUnit report and the
    timeline are the real run's, and no reboot command runs."""
    pytester.makepyfile(test_f=FORKS)
    rebooted = pytester.path / "rebooted"
    result = run(
        pytester,
        "-p",
        "no:randomly",
        "--pexen-state=state.jsonl",
        f"--pexen-reboot-cmd=touch {rebooted}",
        "--pexen-junitxml=report.xml",
        "--pexen-timeline=timeline.html",
    )
    assert result.ret == 0, result.stdout.str()
    assert "3 passed" in result.stdout.str()
    records = list(journal.read(pytester.path / "state.jsonl"))
    ends = [(r["test"], r["outcome"]) for r in records if r["type"] == "end"]
    assert ends == [(f"test_f.py::test_{name}", "pass") for name in ("fork", "reboot", "after")]
    assert [r["type"] for r in records].count("stop") == 1
    assert records[-1]["type"] == "stop" and records[-1]["reason"] == "finished"
    suite = ET.parse(pytester.path / "report.xml").getroot()
    assert [case.find("failure") for case in suite.iter("testcase")] == [None] * 3
    assert (pytester.path / "timeline.html").exists()
    assert not rebooted.exists()


@XDIST
@pytest.mark.parametrize("fsync", ["auto", "always"])
def test_dev_null_as_the_journal_is_quiet_and_locks_nothing(
    pytester: pytest.Pytester, xdist: list[str], fsync: str
) -> None:
    """``--pexen-state=/dev/null`` (how many people say "no file"): it
    cannot be synced (EINVAL), which is no lost record; and it is not
    locked, whose lock file would have to be made in ``/dev``."""
    lock = Path("/dev/null.lock")
    if lock.exists():
        pytest.skip("/dev/null.lock is left over from something else")
    pytester.makepyfile(test_d="def test_a(): pass\ndef test_b(): pass\n")
    try:
        result = run(
            pytester, *xdist, "-W", "error", "--pexen-state=/dev/null", f"--pexen-fsync={fsync}"
        )
        made = lock.exists()
    finally:
        lock.unlink(missing_ok=True)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)
    assert not [line for line in result.stdout.lines if "pexen:" in line], result.stdout.str()
    assert not made


def test_held_end_records_are_written_within_the_hold_limit(tmp_path: Path) -> None:
    """An xdist controller holds end records until it runs out of events
    to handle; one that never does still writes them within HOLD seconds,
    before the record that comes after them, and at its close."""
    path = tmp_path / "state.jsonl"
    writer = journal.Writer(path, "auto", fresh=True)
    writer.hold('{"type":"end","test":"a"}')
    assert path.read_text() == ""  # held: the controller has events to handle
    time.sleep(journal.HOLD + 0.05)
    writer.hold('{"type":"end","test":"b"}')  # the first waited long enough: both out
    assert path.read_text().splitlines() == [
        '{"type":"end","test":"a"}',
        '{"type":"end","test":"b"}',
    ]
    writer.hold('{"type":"end","test":"c"}')
    writer.write_line('{"type":"start","test":"d"}')  # after the ends it follows
    writer.hold('{"type":"end","test":"d"}')
    writer.close(finished=True)
    writer.wait()
    assert [json.loads(line)["test"] for line in path.read_text().splitlines()] == [
        "a",
        "b",
        "c",
        "d",
        "d",
    ]
