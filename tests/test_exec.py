"""Executable tests (``--pexen-exec``): real scripts and programs in the tree,
run by real pytest sessions, serially and on xdist workers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from test_factory import assert_gone

HERE = Path(__file__).resolve().parent
SHARED_XSD = HERE.parents[1] / "shared" / "data" / "junit-10.xsd"  # beside the repo in CI
XSD = SHARED_XSD if SHARED_XSD.exists() else HERE / "data" / "junit-10.xsd"


def script(pytester: pytest.Pytester, path: str, body: str, mode: int = 0o755) -> Path:
    """Write an executable file (``body`` dedented) below the test folder."""
    target = pytester.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(body).lstrip())
    target.chmod(mode)
    return target


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An inline run with the plugin and executable tests on."""
    return pytester.runpytest("-p", "pexen", "--pexen-exec", *args)


def log_of(pytester: pytest.Pytester) -> list[str]:
    path = pytester.path / "log.txt"
    return path.read_text().split() if path.exists() else []


def test_collection_rules(pytester: pytest.Pytester) -> None:
    """Executable, not hidden, not .py; pytest's ignore rules hold; the node
    id is the path; nothing changes without the option."""
    script(pytester, "suite/a.sh", "#!/bin/sh\n")
    script(pytester, "suite/net/b", "#!/bin/sh\n")
    script(pytester, "suite/notes.txt", "#!/bin/sh\n", mode=0o644)  # no exec bit
    script(pytester, "suite/.hidden.sh", "#!/bin/sh\n")
    script(pytester, "suite/.git/hooks/pre-commit", "#!/bin/sh\n")
    script(pytester, "suite/tool.py", "#!/usr/bin/env python3\n")
    script(pytester, "suite/__pycache__/x", "#!/bin/sh\n")
    script(pytester, "suite/build/out.sh", "#!/bin/sh\n")  # norecursedirs default
    script(pytester, "suite/skipme/c.sh", "#!/bin/sh\n")  # --ignore
    script(pytester, "suite/old/d.sh", "#!/bin/sh\n")  # collect_ignore
    script(pytester, "suite/test_py.py", "def test_x(): pass\n", mode=0o644)
    (pytester.path / "suite" / "conftest.py").write_text("collect_ignore = ['old']\n")
    os.symlink("a.sh", pytester.path / "suite" / "link.sh")
    res = run(pytester, "--collect-only", "-q", "--ignore=suite/skipme", "suite")
    assert res.ret == 0
    ids = [line for line in res.outlines if line.startswith("suite/")]
    assert ids == ["suite/a.sh", "suite/link.sh", "suite/net/b", "suite/test_py.py::test_x"]
    plain = pytester.runpytest("-p", "pexen", "--collect-only", "-q", "suite")
    assert [line for line in plain.outlines if line.startswith("suite/")] == [
        "suite/test_py.py::test_x"
    ]
    # the ini option; norecursedirs without '.*' still leaves hidden folders
    # out; a hidden file named on the command line is taken
    pytester.makeini("[pytest]\npexen_exec = true\nnorecursedirs = net\n")
    res = pytester.runpytest("-p", "pexen", "--collect-only", "-q", "suite")
    assert [line for line in res.outlines if line.startswith("suite/")] == [
        "suite/a.sh",
        "suite/build/out.sh",
        "suite/link.sh",
        "suite/skipme/c.sh",
        "suite/test_py.py::test_x",
    ]
    res = pytester.runpytest("-p", "pexen", "--collect-only", "-q", "suite/.hidden.sh")
    assert [line for line in res.outlines if line.startswith("suite/")] == ["suite/.hidden.sh"]


def test_outcomes_and_output(pytester: pytest.Pytester) -> None:
    """Exit 0 passes; an exit code or a signal fails, said in the report;
    output is captured as for Python tests; the file runs in its folder with
    nothing on stdin."""
    script(
        pytester,
        "s/ok.sh",
        """
        #!/bin/bash
        echo "out: $(pwd)"
        echo "err line" >&2
        read -r line || echo "stdin is empty"
    """,
    )
    script(pytester, "s/exit3.sh", "#!/bin/sh\necho before the end\nexit 3\n")
    script(pytester, "s/killed.sh", "#!/bin/sh\nkill -KILL $$\n")
    script(pytester, "s/noshebang", "echo hi\n")
    script(
        pytester,
        "s/py/hello",
        """
        #!/usr/bin/env python3
        import os, sys
        print("python says", os.path.basename(os.getcwd()))
        sys.exit(0)
    """,
    )
    res = run(pytester, "-rA", "-p", "no:randomly", "s")
    res.assert_outcomes(passed=2, failed=3)
    res.stdout.fnmatch_lines(
        [
            "*_ exec: s/exit3.sh _*",
            "exit code 3; stdout ends: before the end",
            "---- its stdout ----",
            "before the end",
            "*- Captured stdout call -*",
            "before the end",
            "*_ exec: s/killed.sh _*",
            "killed by signal 9 (SIGKILL)",
            "*_ exec: s/noshebang _*",
            "cannot run noshebang: Exec format error (a script needs a '#!' line)",
        ]
    )
    res.stdout.fnmatch_lines(
        [
            "*_ exec: s/ok.sh _*",
            "*- Captured stdout call -*",
            f"out: {pytester.path / 's'}",
            "stdin is empty",
            "*- Captured stderr call -*",
            "err line",
            "*_ exec: s/py/hello _*",
            "*- Captured stdout call -*",
            "python says py",
        ]
    )
    # the short summary quotes a one-line report since pytest 9
    said = int(pytest.__version__.split(".")[0]) >= 9
    res.stdout.fnmatch_lines(
        [
            "PASSED s/ok.sh",
            "FAILED s/exit3.sh" + (" - exit code 3; stdout ends: before the end" if said else ""),
            "FAILED s/killed.sh" + (" - killed by signal 9 (SIGKILL)" if said else ""),
        ]
    )
    assert "Traceback" not in res.stdout.str()


def test_dash_s_shows_output_live(pytester: pytest.Pytester) -> None:
    script(pytester, "s/talk.sh", "#!/bin/sh\necho live output\nexit 1\n")
    res = pytester.runpytest_subprocess("-p", "pexen", "--pexen-exec", "-s", "s")
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    assert "live output" in out
    assert "Captured stdout" not in out


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_compiled_program(pytester: pytest.Pytester) -> None:
    src = pytester.path / "prog.c"
    src.write_text('#include <stdio.h>\nint main(void) { puts("compiled"); return 7; }\n')
    os.mkdir(pytester.path / "bin")
    pytester.run("cc", "-o", str(pytester.path / "bin" / "prog"), str(src))
    res = run(pytester, "-rA", "bin")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(
        ["exit code 7; stdout ends: compiled", "*- Captured stdout call -*", "compiled"]
    )


def test_child_outliving_the_script_is_killed(pytester: pytest.Pytester) -> None:
    """The test ends when its file exits; a child it left in its process
    group is killed then (it cannot hold the run or leak into the next test)."""
    script(
        pytester,
        "s/fork.sh",
        """
        #!/bin/sh
        sleep 300 &
        echo $! > child.pid
        echo parent done
    """,
    )
    res = run(pytester, "-rA", "s")
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["parent done"])
    assert_gone(int((pytester.path / "s" / "child.pid").read_text()))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
@pytest.mark.parametrize("workers", [(), ("-p", "xdist", "-n", "2")], ids=["serial", "xdist"])
def test_a_cancelled_run_ends_its_running_file(
    pytester: pytest.Pytester, signum: int, workers: tuple[str, ...]
) -> None:
    """A CI runner (or ``timeout``) that cancels the run signals pytest's
    process group; the file runs in a session of its own, so it kept
    running after pytest died (and ran twice at once after a resume)."""
    script(
        pytester,
        "s/long.sh",
        """
        #!/bin/sh
        echo $$ > running.pid
        sleep 300
    """,
    )
    pid_file = pytester.path / "s" / "running.pid"
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "pexen", "--pexen-exec", *workers, "s"],
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a group of its own, as a CI job has
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(process.pid, signum)  # the cancel
        assert process.wait(timeout=60) != 0
        assert_gone(int(pid_file.read_text()))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if pid_file.exists() and pid_file.read_text().strip():
            with contextlib.suppress(ProcessLookupError):  # not left behind if it failed
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)


LOGGER = """
    #!/bin/sh
    # pexen: {header}
    echo "$(basename "$0")" >> ../log.txt
"""


def test_header_orders_and_hook_adds(pytester: pytest.Pytester) -> None:
    """Header tags, priorities, and requires by node id and by a file name
    relative to the requiring test's folder; a conftest hook sees exec items."""
    script(pytester, "s/a_use.sh", LOGGER.format(header="requires=web priority=-1"))
    script(pytester, "s/b_web.sh", LOGGER.format(header="requires=c_db.sh\n# pexen: provides=web"))
    script(pytester, "s/c_db.sh", LOGGER.format(header="claims=disk timeout=30"))
    script(pytester, "s/d_late.sh", LOGGER.format(header="priority=5"))
    script(pytester, "s/f_vm.sh", LOGGER.format(header="group=vm"))
    script(pytester, "s/e_first.sh", LOGGER.format(header="requires=s/c_db.sh priority=-2"))
    pytester.makeconftest("""
        def pytest_pexen_task(item, meta):
            if item.nodeid == "s/d_late.sh":
                meta.priority = -9
    """)
    res = run(pytester, "s", "--pexen-plan")
    res.stdout.fnmatch_lines(
        ["1. s/d_late.sh  [priority: -9]", "2. s/c_db.sh  [claims: disk; timeout: 30s]"]
    )
    res = run(pytester, "s", "--pexen-junitxml=r.xml")
    res.assert_outcomes(passed=6)
    assert log_of(pytester) == [
        "d_late.sh",
        "c_db.sh",
        "e_first.sh",
        "b_web.sh",
        "a_use.sh",
        "f_vm.sh",
    ]
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "r.xml").iter("testcase")}
    assert cases["c_db.sh"].get("classname") == "s"
    assert "[[PROPERTY|pexen.claims=disk]]" in (cases["c_db.sh"].findtext("system-out") or "")


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (
            "require=db",
            "s/bad.sh:3: bad '# pexen:' header: unknown key 'require'; use requires, "
            "provides, claims, uses, priority, timeout, group, host_tags, scope",
        ),
        (
            "priority=1\n# pexen: priority=2",
            "s/bad.sh:4: bad '# pexen:' header: priority given twice (first on line 3)",
        ),
        (
            "timeout=0",
            "s/bad.sh:3: bad '# pexen:' header: timeout=0 is not a positive number of seconds",
        ),
        (
            "requires=a,,b",
            "s/bad.sh:3: bad '# pexen:' header: 'requires=a,,b': empty tag; separate "
            "tags with single commas",
        ),
        (
            "group='vm",
            "s/bad.sh:3: bad '# pexen:' header: cannot split the line: No closing quotation",
        ),
        ("claims=x uses=x", "s/bad.sh: bad '# pexen:' header: x both claimed and used"),
    ],
)
def test_malformed_header_is_a_usage_error(
    pytester: pytest.Pytester, header: str, error: str
) -> None:
    script(pytester, "s/ok.sh", "#!/bin/sh\n")
    script(pytester, "s/bad.sh", f"#!/bin/sh\n# a comment\n# pexen: {header}\n")
    res = run(pytester, "s")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert res.errlines == [f"ERROR: pexen: {error}", ""]
    assert "Traceback" not in res.stdout.str()


@pytest.mark.parametrize("workers", [(), ("-p", "xdist", "-n", "2")], ids=["serial", "xdist"])
def test_malformed_header_of_an_unselected_sibling(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    """The selected test requires what a sibling provides; looking for it
    reads an unselected sibling with a malformed header: the same one line
    and exit 4 as when the whole folder runs, not an INTERNALERROR."""
    script(pytester, "s/prov.sh", "#!/bin/sh\n# pexen: provides=db\n")
    script(pytester, "s/req.sh", "#!/bin/sh\n# pexen: requires=db\n")
    script(pytester, "s/bad.sh", "#!/bin/sh\n# pexen: bogus\n")
    line = "ERROR: pexen: s/bad.sh:2: bad '# pexen:' header: 'bogus' is not key=value"
    for selection in (["s/req.sh"], ["s", "-k", "req"], ["s"]):
        res = pytester.runpytest_subprocess(
            "-p", "pexen", "--pexen-exec", *workers, *selection, timeout=120
        )
        assert res.ret == pytest.ExitCode.USAGE_ERROR, selection
        assert line in res.errlines, selection
        assert "INTERNALERROR" not in res.stdout.str() + res.stderr.str()


def test_header_beyond_line_30_or_in_another_case_is_ignored_with_a_warning(
    pytester: pytest.Pytester,
) -> None:
    """Ignored, as documented, but said once per file: a requirement
    silently dropped would reorder the run. A binary has no header at all."""
    late = "#!/bin/sh\n" + "#\n" * 29 + "# pexen: requires=nothing\n# pexen: requires=x\n"
    script(pytester, "s/late.sh", late)
    script(pytester, "s/upper.sh", "#!/bin/sh\n# PEXEN: requires=nothing\n# Pexen: uses=x\n")
    binary = pytester.path / "s" / "blob"
    binary.write_bytes(b"#!/bin/sh\n\0\n# pexen: requires=nothing\n")
    binary.chmod(0o755)
    # (-W default: the inline run would inherit this suite's "error" filter)
    res = run(pytester, "-W", "default", "s")
    res.assert_outcomes(passed=3, warnings=2)
    res.stdout.fnmatch_lines(
        [
            "*PexenWarning: s/late.sh:31: '# pexen:' header after line 30 is ignored "
            "(only the first 30 lines are read)",
            "*PexenWarning: s/upper.sh:2: '# PEXEN: requires=nothing' is ignored: a header "
            "line starts with '# pexen:' in lower case",
        ]
    )
    res = run(pytester, "s", "-W", "error")
    assert res.ret == pytest.ExitCode.INTERRUPTED
    res.stdout.fnmatch_lines(
        ["*ERROR collecting s/late.sh*", "s/late.sh:31: '# pexen:' header after line 30 *"]
    )
    assert "Traceback" not in res.stdout.str()


def test_crlf_script_failure_says_why(pytester: pytest.Pytester) -> None:
    script(pytester, "s/crlf.sh", "#!/bin/sh\r\necho hi\r\n")
    res = run(pytester, "s")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(
        [
            "cannot run crlf.sh: No such file or directory (its '#!' line ends in '\\r': the "
            "file has Windows (CRLF) line endings; convert it with dos2unix)"
        ]
    )


def test_sub_results_and_shared_state(pytester: pytest.Pytester) -> None:
    """PEXEN_RESULTS lines become sub-results (terminal, xUnit); PEXEN_SHARED
    carries pexen_shared to and from an executable test."""
    script(
        pytester,
        "s/a_boot.sh",
        """
        #!/bin/sh
        # pexen: provides=booted
        cat >> "$PEXEN_RESULTS" <<END
        PASS kernel 6.1 booted
        # a comment, and a blank line

        info - unnamed fact
        warn disk 91% full
        END
        python3 -c 'import json, os, sys
        p = os.environ["PEXEN_SHARED"]
        d = json.load(open(p)); d["ip"] = "10.0.0." + str(len(d["env"]))
        json.dump(d, open(p, "w"))'
    """,
    )
    script(
        pytester,
        "s/b_check.sh",
        """
        #!/bin/sh
        # pexen: requires=booted provides=checked
        echo "shared: $(cat "$PEXEN_SHARED")"
        echo "fail fan case stopped" >> "$PEXEN_RESULTS"
    """,
    )
    pytester.makepyfile(
        test_after="""
        import pytest_pexen as pexen
        @pexen.requires("s/a_boot.sh")
        def test_ip(pexen_shared):
            assert pexen_shared == {"env": "demo", "ip": "10.0.0.4"}
    """
    )
    res = run(
        pytester,
        "-p",
        "no:randomly",
        "--pexen-shared=env=demo",
        "--pexen-junitxml=r.xml",
        "s",
        "test_after.py",
    )
    res.assert_outcomes(passed=2, failed=1)
    res.stdout.fnmatch_lines(
        [
            'shared: {"env": "demo", "ip": "10.0.0.4"}',
            "*= pexen results =*",
            "FAIL s/b_check.sh::fan - case stopped",
            "WARN s/a_boot.sh::disk - 91% full",
            "pexen: 1 test warned, 1 failed by sub-results",
        ]
    )
    xmlschema.validate(pytester.path / "r.xml", XSD)
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "r.xml").iter("testcase")}
    assert {n: c.get("classname") for n, c in cases.items() if n.startswith("a_boot")} == {
        "a_boot.sh": "s",
        "a_boot.sh::kernel": "s",
        "a_boot.sh::2": "s",
        "a_boot.sh::disk": "s",
    }
    assert cases["a_boot.sh::kernel"].findtext("system-out") == "6.1 booted"
    assert cases["a_boot.sh::2"].findtext("system-out") == "unnamed fact"
    failure = cases["b_check.sh::fan"].find("failure")
    assert failure is not None and failure.get("message") == "case stopped"


def test_bad_results_and_shared_files_fail_the_test(pytester: pytest.Pytester) -> None:
    script(
        pytester,
        "s/words.sh",
        """
        #!/bin/sh
        echo "pass first" >> "$PEXEN_RESULTS"
        echo "passed second" >> "$PEXEN_RESULTS"
    """,
    )
    script(pytester, "s/json.sh", "#!/bin/sh\necho '{broken' > \"$PEXEN_SHARED\"\n")
    script(pytester, "s/list.sh", "#!/bin/sh\necho '[1]' > \"$PEXEN_SHARED\"\nexit 2\n")
    res = run(pytester, "-p", "no:randomly", "s")
    res.assert_outcomes(failed=3)
    res.stdout.fnmatch_lines(
        [
            "*_ exec: s/json.sh _*",
            "PEXEN_SHARED does not hold JSON after the run (*)",
            "*_ exec: s/list.sh _*",
            "exit code 2",
            "PEXEN_SHARED must hold a JSON object, not list",
            "*_ exec: s/words.sh _*",
            "PEXEN_RESULTS line 2: unknown outcome 'passed'; use one of error, fail, warn, pass, "
            "info, skip",
        ]
    )


def test_selection_by_node_id_k_and_lf(pytester: pytest.Pytester) -> None:
    """-k and node ids select executable tests; a required provider is
    pulled in; --lf reruns the failed ones."""
    script(pytester, "s/setup.sh", LOGGER.format(header="provides=env"))
    script(pytester, "s/run.sh", LOGGER.format(header="requires=env") + "[ ! -e ../fail ]\n")
    script(pytester, "s/other.sh", LOGGER.format(header="priority=1"))
    res = run(pytester, "-k", "run", "s")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(
        ["pexen: pulled in 1 deselected provider(s):", "  s/setup.sh (provides 'env' for s/run.sh)"]
    )
    assert log_of(pytester) == ["setup.sh", "run.sh"]
    (pytester.path / "log.txt").unlink()
    (pytester.path / "fail").touch()
    run(pytester, "s").assert_outcomes(passed=2, failed=1)
    (pytester.path / "log.txt").unlink()
    res = run(pytester, "--lf", "s")
    res.assert_outcomes(passed=1, failed=1)
    assert log_of(pytester) == ["setup.sh", "run.sh"]
    (pytester.path / "log.txt").unlink()
    run(pytester, "s/other.sh").assert_outcomes(passed=1)
    assert log_of(pytester) == ["other.sh"]


def test_symlink_loop_and_vanished_file_are_skipped_with_a_warning(
    pytester: pytest.Pytester,
) -> None:
    script(pytester, "s/a.sh", "#!/bin/sh\n")
    script(pytester, "s/gone.sh", "#!/bin/sh\n")
    script(pytester, "s/d/b.sh", "#!/bin/sh\n")
    os.symlink("..", pytester.path / "s" / "d" / "up")  # s/d/up/d/up/... for ever
    pytester.makeconftest("""
        import os
        def pytest_collectstart(collector):
            if collector.name == "gone.sh":  # gone between listing and reading
                os.unlink(collector.path)
    """)
    # (-W default: the inline run would inherit this suite's "error" filter)
    res = run(pytester, "-p", "no:randomly", "-W", "default", "s")
    res.assert_outcomes(passed=2, warnings=2)
    res.stdout.fnmatch_lines(
        [
            "*PexenWarning: pexen: s/d/up loops back to s, skipped",
            "*PexenWarning: pexen: s/gone.sh vanished while it was being collected, skipped",
        ]
    )
    # where warnings are errors, each is a one-line collection error
    script(pytester, "s/gone.sh", "#!/bin/sh\n")
    res = run(pytester, "-p", "no:randomly", "-W", "error", "s")
    assert res.ret == pytest.ExitCode.INTERRUPTED
    res.stdout.fnmatch_lines(
        [
            "*_ ERROR collecting s/d/up _*",
            "pexen: s/d/up loops back to s, skipped",
            "*_ ERROR collecting s/gone.sh _*",
            "pexen: s/gone.sh vanished while it was being collected, skipped",
        ]
    )
    assert "Traceback" not in res.stdout.str()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_skipped_with_a_warning(pytester: pytest.Pytester) -> None:
    script(pytester, "s/a.sh", "#!/bin/sh\n")
    script(pytester, "s/secret.sh", "#!/bin/sh\n", mode=0o111)
    res = run(pytester, "-W", "default", "s")
    res.assert_outcomes(passed=1, warnings=1)
    res.stdout.fnmatch_lines(["*pexen: cannot read s/secret.sh: Permission denied, skipped"])


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_mixed_tree(pytester: pytest.Pytester, workers: tuple[str, ...]) -> None:
    """Shell, Python and (if cc is there) C executables with dependencies,
    locks, sub-results and shared state: the same outcomes serially and on
    xdist workers, and never two claimers of a resource at once."""
    claimer = """
        #!/bin/bash
        # pexen: claims=port80
        echo "start $(basename "$0")" >> ../log.txt
        sleep 0.2
        echo "end $(basename "$0")" >> ../log.txt
    """
    for name in ("lock1.sh", "lock2.sh", "lock3.sh"):
        script(pytester, f"tree/{name}", claimer)
    script(
        pytester,
        "tree/db/create",
        """
        #!/usr/bin/env python3
        # pexen: provides=db
        import json, os
        with open(os.environ["PEXEN_SHARED"], "w") as out:
            json.dump({"dsn": "db://1"}, out)
        with open(os.environ["PEXEN_RESULTS"], "a") as out:
            out.write("info - schema v3\\n")
    """,
    )
    script(
        pytester,
        "tree/web/serve.sh",
        """
        #!/bin/bash
        # pexen: requires=db provides=web uses=port80
        grep -q db://1 "$PEXEN_SHARED"
        sleep 300 &
        echo $! > ../../serve.pid
    """,
    )
    script(pytester, "tree/web/check.sh", "#!/bin/sh\n# pexen: requires=web\nexit 4\n")
    script(pytester, "tree/web/after.sh", "#!/bin/sh\n# pexen: requires=check.sh\n")
    expected = {"passed": 5, "failed": 1, "skipped": 1}
    if shutil.which("cc"):
        (pytester.path / "prog.c").write_text("int main(void) { return 0; }\n")
        pytester.run(
            "cc", "-o", str(pytester.path / "tree" / "prog"), str(pytester.path / "prog.c")
        )
        expected["passed"] += 1
    res = pytester.runpytest_subprocess(
        "-p",
        "pexen",
        "--pexen-exec",
        "-p",
        "no:randomly",
        "--pexen-junitxml=r.xml",
        "-rs",
        *workers,
        "tree",
    )
    res.assert_outcomes(**expected)
    res.stdout.fnmatch_lines(
        [
            "SKIPPED [1] tree/web/after.sh:1: pexen: 'tree/web/check.sh' not provided: "
            "tree/web/check.sh failed"
        ]
    )
    assert_gone(int((pytester.path / "serve.pid").read_text()))  # on the worker too
    log = log_of(pytester)
    assert len(log) == 12
    for n in range(0, 12, 4):  # "start", name, "end", the same name: one at a time
        assert log[n] == "start" and log[n + 2] == "end" and log[n + 1] == log[n + 3]
    xmlschema.validate(pytester.path / "r.xml", XSD)
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "r.xml").iter("testcase")}
    assert cases["create::1"].findtext("system-out") == "schema v3"
    assert cases["create"].get("classname") == "tree.db"
