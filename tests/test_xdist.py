"""Parallel runs on real pytest-xdist workers (``-n``, ``--dist pexen``, ``--tx``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from suites import ONE_NODE_ID

from pytest_pexen.journal import format as journal

LOGGER = """
import json, os, time
import pytest

@pytest.fixture(autouse=True)
def _log_span(request):
    start = time.monotonic()
    yield
    end = time.monotonic()
    line = json.dumps({"name": request.node.name, "start": start, "end": end,
                       "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")})
    with open(os.environ["SPAN_LOG"], "a") as log:
        log.write(line + "\\n")
"""


def spans(path: Path) -> dict[str, dict[str, float | str]]:
    out = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        out[record["name"]] = record
    return out


@pytest.fixture
def span_log(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = pytester.path / "spans.jsonl"
    monkeypatch.setenv("SPAN_LOG", str(log))
    pytester.makeconftest(LOGGER)
    return log


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "pexen", "-p", "xdist", *args, timeout=120)


def test_chain_runs_in_order_across_workers(pytester: pytest.Pytester, span_log: Path) -> None:
    body = ["import time, pytest_pexen as pexen"]
    for i in range(6):
        body.append(f"@pexen.provides('s{i}')")
        if i:
            body.append(f"@pexen.requires('s{i - 1}')")
        body.append(f"def test_step{i}(): time.sleep(0.05)")
    body.append("def test_free(): time.sleep(0.05)")
    pytester.makepyfile(test_chain="\n".join(body))
    result = run(pytester, "-n", "3")
    result.assert_outcomes(passed=7)
    s = spans(span_log)
    for i in range(1, 6):
        assert s[f"test_step{i}"]["start"] >= s[f"test_step{i - 1}"]["end"]


def test_diamond_and_claims(pytester: pytest.Pytester, span_log: Path) -> None:
    pytester.makepyfile(
        test_d="""
        import time, pytest_pexen as pexen
        @pexen.provides("base")
        def test_base(): time.sleep(0.1)
        @pexen.requires("base")
        @pexen.provides("left")
        @pexen.claims("lab")
        def test_left(): time.sleep(0.2)
        @pexen.requires("base")
        @pexen.provides("right")
        @pexen.claims("lab")
        def test_right(): time.sleep(0.2)
        @pexen.requires("left", "right")
        def test_top(): pass
        @pexen.uses("lab")
        def test_user1(): time.sleep(0.2)
        @pexen.uses("lab")
        def test_user2(): time.sleep(0.2)
    """
    )
    result = run(pytester, "--dist", "pexen", "-n", "4")
    result.assert_outcomes(passed=6)
    s = spans(span_log)
    assert s["test_left"]["start"] >= s["test_base"]["end"]
    assert s["test_right"]["start"] >= s["test_base"]["end"]
    assert s["test_top"]["start"] >= max(s["test_left"]["end"], s["test_right"]["end"])
    lab = ["test_left", "test_right", "test_user1", "test_user2"]
    for a in lab:
        for b in lab:
            if a < b and not (a.startswith("test_user") and b.startswith("test_user")):
                overlap = min(s[a]["end"], s[b]["end"]) - max(s[a]["start"], s[b]["start"])
                assert overlap <= 0, (a, b)


def test_failure_skips_dependents_with_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_f="""
        import pytest_pexen as pexen
        @pexen.provides("db")
        def test_create(): assert False
        @pexen.requires("db")
        @pexen.provides("web")
        def test_web(): pass
        @pexen.requires("web")
        def test_page(): pass
        @pexen.provides("soft")
        def test_soft(): raise pexen.TaskFailError("meh", deps_ok=True)
        @pexen.requires("soft")
        def test_after_soft(): pass
    """
    )
    result = run(pytester, "-n", "2", "-rs")
    result.assert_outcomes(failed=2, passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] test_f.py:4: pexen: 'db' not provided: test_f.py::test_create failed",
            "SKIPPED [[]1[]] test_f.py:7: pexen: 'web' not provided: test_f.py::test_web did not "
            "run ('db' not provided: test_f.py::test_create failed)",
        ]
    )


def test_shared_state_crosses_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_s="""
        import os, time, pytest_pexen as pexen
        @pexen.provides("login")
        @pexen.claims("a")
        def test_login(pexen_shared):
            pexen_shared["who"] = os.environ["PYTEST_XDIST_WORKER"]
            time.sleep(0.3)
        @pexen.claims("a")
        def test_hog(): time.sleep(0.3)
        @pexen.requires("login")
        def test_use(pexen_shared):
            assert pexen_shared["who"].startswith("gw")
            assert pexen_shared["n"] == 7
    """
    )
    result = run(pytester, "-n", "2", "--pexen-shared", "n:=7")
    result.assert_outcomes(passed=3)


def test_groups_and_priorities(pytester: pytest.Pytester, span_log: Path) -> None:
    pytester.makepyfile(
        test_g="""
        import time, pytest_pexen as pexen
        @pexen.group("vm", workers=1)
        def test_vm1(): time.sleep(0.1)
        @pexen.group("vm", workers=1)
        def test_vm2(): time.sleep(0.1)
        def test_plain1(): time.sleep(0.1)
        def test_plain2(): time.sleep(0.1)
    """
    )
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=4)
    s = spans(span_log)
    # equal priorities: the groups run in order of first appearance, vm first
    vm_end = max(s["test_vm1"]["end"], s["test_vm2"]["end"])
    assert min(s["test_plain1"]["start"], s["test_plain2"]["start"]) >= vm_end
    first, second = sorted(("test_vm1", "test_vm2"), key=lambda n: s[n]["start"])
    assert s[second]["start"] >= s[first]["end"]  # workers=1


def test_selection_pull_in_and_errors_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_p="""
        import pytest_pexen as pexen
        @pexen.provides("db")
        def test_create(): pass
        @pexen.requires("db")
        def test_query(): pass
        def test_other(): pass
    """
    )
    result = run(pytester, "-n", "2", "-k", "query")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "pexen: pulled in 1 deselected provider(s):",
            "  test_p.py::test_create (provides 'db' for test_p.py::test_query)",
        ]
    )
    pytester.makepyfile(
        test_p="""
        import pytest_pexen as pexen
        @pexen.requires("nothing")
        def test_query(): pass
    """
    )
    result = run(pytester, "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "requirement not provided by any task: 'nothing'" in output
    assert "INTERNALERROR" not in output and "Traceback" not in output


def test_worker_crash_fails_only_its_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_c="""
        import os, time, pytest_pexen as pexen
        @pexen.provides("boom")
        @pexen.claims("lab")
        def test_crash(): os._exit(3)
        @pexen.requires("boom")
        def test_after(): pass
        @pexen.claims("lab")
        def test_lab_later(): pass
        def test_free1(): time.sleep(0.1)
        def test_free2(): time.sleep(0.1)
    """
    )
    result = run(pytester, "-n", "2", "-rs")
    result.assert_outcomes(failed=1, passed=3, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "worker 'gw*' crashed while running 'test_c.py::test_crash'",
            "SKIPPED*'boom' not provided: test_c.py::test_crash crashed (its worker died)*",
        ]
    )


def test_other_dist_mode_warns_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_w="""
        import pytest_pexen as pexen
        @pexen.provides("a")
        def test_a(): pass
        def test_b(): pass
    """
    )
    result = run(pytester, "-n", "2", "--dist", "load")
    result.assert_outcomes(passed=2, warnings=1)
    assert result.stdout.str().count("--dist load does not enforce pexen ordering") == 1
    assert "INTERNALERROR" not in result.stdout.str()


def test_a_conftest_scheduler_is_the_suites_choice(pytester: pytest.Pytester) -> None:
    """A conftest's own ``pytest_xdist_make_scheduler`` (freqtrade's, say)
    is what xdist uses under ``-n`` alone: pexen does not take ``-n`` over
    then, as it does not take an explicit ``--dist`` over. ``--dist pexen``
    still asks for pexen's."""
    pytester.makeconftest(
        """
        from xdist.scheduler import LoadScopeScheduling

        class ByPrefix(LoadScopeScheduling):
            def _split_scope(self, nodeid):
                return nodeid.rsplit("_", 1)[0]

        def pytest_xdist_make_scheduler(config, log):
            return ByPrefix(config, log)
        """
    )
    pytester.makepyfile(
        test_g="""
        import pytest
        seen = []
        @pytest.mark.parametrize("i", range(6))
        def test_alpha_x(i):
            seen.append(i)
            assert seen == list(range(i + 1))  # all on one worker, in order
        @pytest.mark.parametrize("i", range(6))
        def test_beta_x(i):
            pass
        """
    )
    result = run(pytester, "-n", "2", "-v")
    result.stdout.fnmatch_lines(["scheduling tests via ByPrefix"])
    result.assert_outcomes(passed=12)
    explicit = run(pytester, "-n", "2", "-v", "--dist", "pexen")
    explicit.stdout.fnmatch_lines(["scheduling tests via PexenScheduling"])


def test_several_tests_under_one_node_id(pytester: pytest.Pytester) -> None:
    """A collector can give several tests one node id (pyyaml's suite
    does). xdist's ``load`` tells them apart by position, and runs such a
    plain suite as ever; pexen's scheduling cannot, and says so in one line
    (it said its graph did not match the collection)."""
    pytester.makeconftest(
        textwrap.dedent(
            """
        import pytest
        class Case(pytest.Item):
            def runtest(self):
                pass
        """
        )
        + ONE_NODE_ID
    )
    pytester.path.joinpath("a.case").write_text("")
    pytester.makepyfile(test_s="def test_other(): pass")
    run(pytester, "-n", "2").assert_outcomes(passed=4)
    pytester.makepyfile(
        test_s="import pytest_pexen as pexen\n@pexen.priority(1)\ndef test_other(): pass"
    )
    result = run(pytester, "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: pexen: several tests have the node id a.case::same, and pexen's scheduling*"]
    )


def test_other_dist_mode_warning_is_an_error_under_w_error(pytester: pytest.Pytester) -> None:
    """Raised on a worker, the warning still obeys ``-W error``: one
    collection error in one line (the tests still run, as under xdist with
    any collection error), and a failed run."""
    pytester.makepyfile(
        test_w="""
        import pytest_pexen as pexen
        @pexen.provides("a")
        def test_a(): pass
        def test_b(): pass
    """
    )
    result = run(pytester, "-n", "2", "--dist", "load", "-W", "error")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "ERROR *- pexen: --dist load does not enforce pexen ordering and locks; use --*",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stdout.str()
    ignored = run(pytester, "-n", "2", "--dist", "load", "-W", "ignore::pytest_pexen.PexenWarning")
    ignored.assert_outcomes(passed=2)
    assert "does not enforce" not in ignored.stdout.str()


@pytest.mark.parametrize("dist", ["loadfile", "load"])
def test_other_dist_mode_no_warning_for_pytest_order_markers(
    pytester: pytest.Pytester, dist: str
) -> None:
    """Only pytest-order's markers: there is no pexen metadata to warn
    about (pexen's compat with the plugin needs --dist pexen, but the suite
    chose its mode, as pytest-order's documentation advises)."""
    pytester.makepyfile(
        test_o="""
        import pytest
        @pytest.mark.order(2)
        def test_b(): pass
        @pytest.mark.order(1)
        def test_a(): pass
    """
    )
    result = run(pytester, "-n", "3", "--dist", dist, "-W", "error")
    result.assert_outcomes(passed=2)
    assert "does not enforce" not in result.stdout.str()


def test_unmarked_suite_same_outcomes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_u="""
        import pytest
        @pytest.fixture(scope="module")
        def res():
            return object()
        @pytest.mark.parametrize("n", range(30))
        def test_n(n, res): assert n != 13
        @pytest.mark.skip
        def test_skipped(): pass
    """
    )
    result = run(pytester, "-n", "2", "-W", "error", "--strict-markers")
    result.assert_outcomes(passed=29, failed=1, skipped=1)


SOCKET_SERVER = Path(__file__).with_name("socket_server.py")


def test_remote_socket_worker(pytester: pytest.Pytester, span_log: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, str(SOCKET_SERVER)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())  # bound before it is printed: no race
        pytester.makepyfile(
            test_r="""
            import time, pytest_pexen as pexen
            @pexen.provides("a")
            @pexen.claims("lab")
            def test_a(): time.sleep(0.2)
            @pexen.requires("a")
            def test_b(): pass
            @pexen.claims("lab")
            def test_c(): time.sleep(0.2)
        """
        )
        result = run(
            pytester,
            "--dist",
            "pexen",
            "--tx",
            f"socket=127.0.0.1:{port}//chdir={pytester.path}",
            "--tx",
            "popen",
        )
        result.assert_outcomes(passed=3)
        s = spans(span_log)
        assert s["test_b"]["start"] >= s["test_a"]["end"]
        overlap = min(s["test_a"]["end"], s["test_c"]["end"]) - max(
            s["test_a"]["start"], s["test_c"]["start"]
        )
        assert overlap <= 0
        assert {s[n]["worker"] for n in s} <= {"gw0", "gw1"}
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def test_other_dist_mode_bad_marker_is_a_warning(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_w="""
        import pytest
        @pytest.mark.pexen_priority("high")
        def test_a(): pass
    """
    )
    result = run(pytester, "-n", "2", "--dist", "load")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*PexenWarning: pexen: test_w.py::test_a: @pexen_priority "
            "needs an int, got 'high' (not enforced under --dist load)"
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_reruns_count_the_last_attempt(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_rerunfailures")
    pytester.makepyfile(
        test_r="""
        import pytest_pexen as pexen
        calls = []
        @pexen.provides("x")
        def test_flaky():
            calls.append(1)
            assert len(calls) > 1
        @pexen.requires("x")
        def test_after(): pass
        @pexen.provides("y")
        def test_broken(): assert False
        @pexen.requires("y")
        def test_after_broken(): pass
    """
    )
    result = run(pytester, "-n", "2", "--reruns", "1", "-rs")
    assert result.parseoutcomes() == {"passed": 2, "failed": 1, "skipped": 1, "rerun": 2}
    result.stdout.fnmatch_lines(["*pexen: 'y' not provided: test_r.py::test_broken failed"])
    # one start and one end a test in the journal: pytest-rerunfailures tells
    # of each attempt's end, and the journal took the void one for the test's
    # (a "pass" for a failed attempt, then a start without its worker)
    state = pytester.path / ".pytest_cache" / "d" / "pexen" / "state.jsonl"
    records = [json.loads(line) for line in state.read_text().splitlines()]
    for kind in ("start", "end"):
        tests = [r["test"] for r in records if r["type"] == kind]
        assert sorted(tests) == sorted(set(tests)) and len(tests) == 4, records
    ends = {r["test"]: r["outcome"] for r in records if r["type"] == "end"}
    assert ends["test_r.py::test_flaky"] == "pass" and ends["test_r.py::test_broken"] == "fail"
    assert all(r.get("worker") for r in records if r["type"] == "start")


def test_graph_file_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_g="""
        import pytest_pexen as pexen
        @pexen.provides("db")
        def test_create(): pass
        @pexen.requires("db")
        def test_query(): pass
    """
    )
    result = run(pytester, "-n", "2", "--pexen-graph", str(pytester.path / "g.dot"))
    result.assert_outcomes(passed=2)
    dot = (pytester.path / "g.dot").read_text()
    assert '"test_g.py::test_create" -> "test_g.py::test_query" [label="db"];' in dot


def test_a_path_that_does_not_exist_under_n_ends_as_with_load(pytester: pytest.Pytester) -> None:
    """Each worker stops at a path that does not exist before it has
    collected anything: the run ends as under xdist's own load scheduler
    (no tests ran, exit 5), not in an INTERNALERROR."""
    pytester.makepyfile(test_a="def test_a(): pass\n")
    ours = pytester.runpytest_subprocess("-p", "pexen", "-n", "2", "no_such_dir")
    theirs = pytester.runpytest_subprocess("-p", "no:pexen", "-n", "2", "no_such_dir")
    assert "INTERNALERROR" not in ours.stdout.str() + ours.stderr.str()
    assert ours.ret == theirs.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    ours.stdout.fnmatch_lines(["*no tests ran*"])


def test_a_second_run_starts_the_long_test_first(pytester: pytest.Pytester, span_log: Path) -> None:
    """Durations recorded by a run (pytest's cache) rank the next run's tests:
    among tests equal on paper, the long one, collected last, starts first,
    and no test waits behind it on its worker while the other one runs dry."""
    body = ["import time, pytest_pexen as pexen", "@pexen.provides('r')", "def test_root(): pass"]
    for i in range(8):
        body += ["@pexen.requires('r')", f"def test_short{i}(): time.sleep(0.02)"]
    body += ["@pexen.requires('r')", "def test_long(): time.sleep(0.6)"]
    pytester.makepyfile(test_rank="\n".join(body))
    run(pytester, "-n", "2").assert_outcomes(passed=10)
    assert (pytester.path / ".pytest_cache" / "v" / "pexen" / "durations").exists()
    span_log.unlink()
    run(pytester, "-n", "2").assert_outcomes(passed=10)
    s = spans(span_log)
    order = sorted((name for name in s if name != "test_root"), key=lambda n: s[n]["start"])
    assert order.index("test_long") <= 1, order
    assert all(s[name]["start"] < s["test_long"]["end"] for name in order), s


@pytest.mark.parametrize(
    "saved",
    ['{"test_d.py::test_a": "x", "test_d.py::test_b": null, "test_d.py::test_c": NaN}', "[1]"],
    ids=["bad-values", "not-a-dict"],
)
def test_a_broken_durations_cache_is_ignored(pytester: pytest.Pytester, saved: str) -> None:
    """The durations kept in pytest's cache are a file anyone may edit: what
    is not a duration in seconds is left out, never an INTERNALERROR."""
    pytester.makepyfile(
        test_d="import pytest_pexen as pexen\n"
        "@pexen.provides('a')\ndef test_a(): pass\n"
        "@pexen.requires('a')\ndef test_b(): pass\n"
        "def test_c(): pass\n"
    )
    cache = pytester.path / ".pytest_cache" / "v" / "pexen"
    cache.mkdir(parents=True)
    (cache / "durations").write_text(saved)
    result = run(pytester, "-n", "2")
    result.assert_outcomes(passed=3)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_the_controller_leaves_the_garbage_collector_as_it_found_it(
    pytester: pytest.Pytester,
) -> None:
    """The controller keeps its long-lived objects out of the collector's
    passes during the run (gc.freeze); a caller that runs pytest in its own
    process gets them back afterwards, and one that froze objects itself
    keeps its choice."""
    pytester.makepyfile(
        test_s="""
        import pytest_pexen as pexen
        @pexen.provides("a")
        def test_a(): pass
        @pexen.requires("a")
        def test_b(): pass
        """
    )
    script = pytester.makepyfile(
        run_twice="""
        import gc, sys
        import pytest
        args = ["-p", "pexen", "-n", "2", "-q", "-p", "no:cacheprovider", "test_s.py"]
        assert pytest.main(args) == 0
        print("frozen after a run:", gc.get_freeze_count(), file=sys.stderr)
        gc.freeze()
        assert pytest.main(args) == 0
        print("mine kept:", gc.get_freeze_count() > 0, file=sys.stderr)
        """
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "frozen after a run: 0" in done.stderr
    assert "mine kept: True" in done.stderr


def test_tiny_tests_go_out_in_few_batches(pytester: pytest.Pytester) -> None:
    """Tests far shorter than a send's round trip go to their worker in
    batches of about as much work as ``MAX_BATCH`` longer ones: far fewer
    sends than ``MAX_BATCH`` tests each. The journal shows each send: the
    start records of the tests sent together share their time."""
    tests = 1500
    body = ["import pytest_pexen as pexen"]
    body += [f"@pexen.provides('t{i}')\ndef test_{i}(): pass" for i in range(tests)]
    pytester.makepyfile(test_tiny="\n".join(body))
    result = run(pytester, "-n", "2", "-q", "--pexen-state=state.jsonl")
    result.assert_outcomes(passed=tests)
    lines = (pytester.path / "state.jsonl").read_text().splitlines()
    starts = [json.loads(line) for line in lines if line.startswith('{"type":"start"')]
    assert len(starts) == tests
    sends = {(record["worker"], record["t"]) for record in starts}
    assert len(sends) < tests / 32 / 2, len(sends)  # MAX_BATCH each: 47 at least


EVENT_COUNTER = """
import json, os
import pytest

MESSAGES, EVENTS, QUEUED = [], {}, []


@pytest.hookimpl(tryfirst=True)  # before xdist hands its queue's put to the workers
def pytest_sessionstart(session):
    dsession = session.config.pluginmanager.get_plugin("dsession")
    if dsession is not None:
        put = dsession.queue.put

        def count(item, *args, **kwargs):
            QUEUED.append(item[0])
            put(item, *args, **kwargs)

        dsession.queue.put = count


@pytest.hookimpl(trylast=True)  # after pexen's: what the channel really brings
def pytest_configure_node(node):
    receive = node.process_from_remote

    def count(eventcall):
        if isinstance(eventcall, tuple):
            MESSAGES.append(eventcall[0])
            inner = eventcall[1].get("events") or [eventcall]
            for name, _ in inner:
                EVENTS[name] = EVENTS.get(name, 0) + 1
        receive(eventcall)

    node.process_from_remote = count


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        with open("counts.json", "w") as f:
            json.dump({"messages": len(MESSAGES), "events": EVENTS, "queued": len(QUEUED)}, f)
"""


@pytest.mark.parametrize("marked", [True, False], ids=["graph", "plain"])
def test_a_tests_end_travels_in_one_message(pytester: pytest.Pytester, marked: bool) -> None:
    """A worker sends a test's teardown report, its end, its warnings and
    the end of its protocol (and, in pexen's own loop, the next test's
    start) in one message, which the controller queues as one item for its
    loop: fewer messages to read and wake up for, the same events, in the
    same order, and the same report."""
    tests = 200
    mark = "@pexen.provides('t{i}')\n" if marked else ""
    body = ["import warnings, pytest, pytest_pexen as pexen"]
    body += [
        "@pytest.fixture\ndef breaks():\n    yield\n    raise RuntimeError('teardown broke')",
        "def test_teardown(breaks): pass",
        "def test_warns(): warnings.warn(UserWarning('careful'))",
        "def test_fails(): assert False",
    ]
    body += [f"{mark.format(i=i)}def test_{i}(): pass" for i in range(tests - 3)]
    pytester.makepyfile(test_many="\n".join(body))
    pytester.makeconftest(EVENT_COUNTER)
    result = run(pytester, "-n", "2", "-rA", "--pexen-state=state.jsonl")
    result.assert_outcomes(passed=tests - 1, failed=1, errors=1, warnings=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_teardown*", "*teardown broke*"])
    result.stdout.fnmatch_lines(["*UserWarning: careful*"])
    counts = json.loads((pytester.path / "counts.json").read_text())
    events = counts["events"]
    for name in ("logstart", "logfinish", "runtest_protocol_complete"):
        assert events[name] == tests, (name, events)
    assert events["testreport"] == 3 * tests, events
    assert events["warning_recorded"] == 1, events
    # six events a test, sent one by one before: 1,209 messages. Now three a
    # test in pexen's loop (one more when the worker waits for its next
    # tests), four in xdist's own loop (a plain suite), and a few per worker
    most = (4 if marked else 5) * tests
    assert counts["messages"] < most, counts
    assert counts["queued"] < most, counts
    lines = (pytester.path / "state.jsonl").read_text().splitlines()
    ends = [json.loads(line) for line in lines if line.startswith('{"type":"end"')]
    assert len(ends) == tests


def test_a_forked_child_that_returns_into_pytest_stops_quietly(pytester: pytest.Pytester) -> None:
    """A test forks and its child returns instead of exiting: the child's
    copy of the worker sends nothing to the controller and runs no more
    tests (it ran the rest of the session on the controller's channel, and
    the run hung); the parent reports the test."""
    pytester.makepyfile(
        test_g="""
        import os, time
        import pytest_pexen as pexen

        @pexen.provides("f")
        def test_fork_return():
            pid = os.fork()
            if pid == 0:
                return  # the child goes back into pytest
            os.waitpid(pid, 0)

        @pexen.requires("f")
        def test_b():
            time.sleep(0.1)

        def test_c():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "pexen", "-p", "xdist", "-n", "2", "--pexen-state=s.jsonl", timeout=60
    )
    result.assert_outcomes(passed=3)
    ended = journal.load(pytester.path / "s.jsonl").ended
    assert sorted(ended) == [f"test_g.py::test_{n}" for n in ("b", "c", "fork_return")]
    assert all(record["outcome"] == "pass" for record in ended.values())
