"""Fixture scopes and teardown under ``-n``: what ``--dist load`` promises.

Session fixtures are set up once per worker, module fixtures about as often
as load sets them up, and a teardown failure (or a crash in a teardown) is
reported as the teardown of the test that used the fixture last. Each
scenario runs several times with PYTHONHASHSEED unset, so that every
process has a hash seed of its own, as in real use.
"""

from __future__ import annotations

import collections
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_pexen.journal import format as journal

RUNS = 4

# a session fixture that must be set up once per process (a container, a
# database): a second setup in the same process is an error
FIXTURES = """
import os, pytest

def log(what):
    with open(os.environ["FIXTURE_LOG"], "a") as f:
        f.write(f"{what} {os.getpid()}\\n")

@pytest.fixture(scope="session", autouse=True)
def container():
    marker = os.path.join(os.environ["FIXTURE_DIR"], f"up-{os.getpid()}")
    if os.path.exists(marker):
        raise RuntimeError("session fixture set up twice in one process")
    open(marker, "w").close()
    log("session")
    yield

@pytest.fixture(scope="module", autouse=True)
def schema(request):
    log("module " + request.module.__name__)
    yield
"""


@pytest.fixture
def fixture_log(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    log = pytester.path / "fixtures.log"
    state = pytester.mkdir("state")
    monkeypatch.setenv("FIXTURE_LOG", str(log))
    monkeypatch.setenv("FIXTURE_DIR", str(state))
    pytester.makeconftest(FIXTURES)
    return log


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "pexen", "-p", "xdist", *args, timeout=120)


def fresh(log: Path) -> None:
    log.unlink(missing_ok=True)
    for marker in log.parent.joinpath("state").iterdir():
        marker.unlink()


def setups(log: Path) -> collections.Counter[str]:
    """How often each fixture was set up (session setups by process)."""
    count: collections.Counter[str] = collections.Counter()
    for line in log.read_text().splitlines():
        what, _, pid = line.rpartition(" ")
        count[f"session {pid}" if what == "session" else what] += 1
    return count


PLAIN = """
import time, pytest
def test_slow(): time.sleep(0.5)
@pytest.mark.parametrize("i", range(20))
def test_quick(i): pass
def test_slow_too(): time.sleep(0.3)
"""

MARKED = """
import time, pytest, pytest_pexen as pexen
@pexen.provides("db")
def test_create(): time.sleep(0.2)
@pytest.mark.parametrize("i", range(12))
@pexen.requires("db")
def test_query(i): pass
@pexen.claims("lab")
def test_lab(): time.sleep(0.3)
@pytest.mark.parametrize("i", range(8))
def test_quick(i): pass
@pexen.provides("broken")
def test_broken(): assert False
@pytest.mark.parametrize("i", range(4))
@pexen.requires("broken")
def test_needs_broken(i): pass
"""


@pytest.mark.parametrize("workers", ["2", "3"])
@pytest.mark.parametrize("suite", [PLAIN, MARKED], ids=["plain", "marked"])
def test_session_fixture_once_per_worker(
    pytester: pytest.Pytester, fixture_log: Path, suite: str, workers: str
) -> None:
    pytester.makepyfile(test_a=suite, test_b=suite)
    for _ in range(RUNS):
        fresh(fixture_log)
        result = run(pytester, "-n", workers)
        if suite is PLAIN:
            result.assert_outcomes(passed=2 * 22)
        else:  # with skips sent between the tests that set fixtures up
            result.assert_outcomes(passed=2 * 22, failed=2, skipped=2 * 4)
        count = setups(fixture_log)
        assert all(n == 1 for what, n in count.items() if what.startswith("session")), count
        if suite is PLAIN:  # load: each worker visits a module at most once
            assert count["module test_a"] <= int(workers)
            assert count["module test_b"] <= int(workers)


def test_marked_suite_keeps_module_fixtures(pytester: pytest.Pytester, fixture_log: Path) -> None:
    """Ten modules of independent (but marked) tests: each worker stays in a
    module while it has tests there, so module setups stay near one each."""
    for m in range(10):
        body = ["import pytest_pexen as pexen"]
        body += [f"@pexen.provides('t{t}')\ndef test_{t}(): pass" for t in range(10)]
        pytester.makepyfile(**{f"test_m{m}": "\n".join(body)})
    for _ in range(RUNS):
        fresh(fixture_log)
        run(pytester, "-n", "2").assert_outcomes(passed=100)
        count = setups(fixture_log)
        modules = sum(n for what, n in count.items() if what.startswith("module"))
        assert modules <= 13, count


TEARDOWN_FAILS = """
import pytest
@pytest.fixture(scope="{scope}")
def res():
    yield
    raise RuntimeError("teardown of res failed")
"""


@pytest.mark.parametrize("marked", [False, True], ids=["plain", "marked"])
def test_session_teardown_failure_is_reported(pytester: pytest.Pytester, marked: bool) -> None:
    pytester.makeconftest(TEARDOWN_FAILS.format(scope="session"))
    mark = "@pexen.uses('res')\n" if marked else ""
    pytester.makepyfile(
        test_t="import pytest_pexen as pexen\n"
        + "\n".join(f"{mark}def test_{i}(res): pass" for i in range(6))
    )
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    for _ in range(2):
        result = run(pytester, "-n", "2")
        output = result.stdout.str() + result.stderr.str()
        assert "INTERNALERROR" not in output
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        outcomes = result.parseoutcomes()
        assert outcomes["passed"] == 6
        # one teardown error per worker that set the fixture up, as --dist load
        assert 1 <= outcomes["errors"] <= 2
        result.stdout.fnmatch_lines(
            ["*ERROR at teardown of test_*", "*RuntimeError: teardown of res failed"]
        )


def test_module_teardown_failure_belongs_to_its_module(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="import pytest_pexen as pexen\n"
        + TEARDOWN_FAILS.format(scope="module")
        + "".join(f"@pexen.uses('a')\ndef test_a{i}(res): pass\n" for i in range(4)),
        test_b="import time, pytest_pexen as pexen\n"
        + "".join(f"@pexen.uses('b')\ndef test_b{i}(): time.sleep(0.05)\n" for i in range(6)),
    )
    for _ in range(RUNS):
        result = run(pytester, "-n", "2", "-rfE", "--pexen-state=state.jsonl", "--junitxml=j.xml")
        outcomes = result.parseoutcomes()
        assert outcomes["passed"] == 10  # no test of test_b was hit by it
        assert 1 <= outcomes["errors"] <= 2
        errors = [line for line in result.stdout.lines if line.startswith("ERROR ")]
        assert errors and all(line.startswith("ERROR test_a.py::test_a") for line in errors)
        assert "at setup of" not in result.stdout.str()
        assert_journal_agrees(pytester, result)
        # each test counted once, as pytest counts a passed call with a teardown error
        assert ET.parse(pytester.path / "j.xml").getroot()[0].get("tests") == "10"


def assert_journal_agrees(pytester: pytest.Pytester, result: pytest.RunResult) -> None:
    """The journal's last end record of each test says what the terminal
    said (``-rfE``): an error at the teardown of a fixture kept for a later
    test, or a crash there, came after the test's end record, which is
    then written again."""
    state = journal.load(pytester.path / "state.jsonl")
    bad = {ln.split()[1] for ln in result.stdout.lines if ln.startswith(("ERROR ", "FAILED "))}
    assert bad and {t for t, r in state.ended.items() if r["outcome"] in ("error", "fail")} == bad
    assert not state.late  # no report record besides them: a resume reports each once
    # pytest's xUnit report: one testcase a test, the error in it
    suite = ET.parse(pytester.path / "j.xml").getroot()[0]
    cases = [f"{c.get('classname')}.py::{c.get('name')}" for c in suite.iter("testcase")]
    assert sorted(cases) == sorted(set(cases))
    failed = {
        f"{c.get('classname')}.py::{c.get('name')}"
        for c in suite.iter("testcase")
        if c.find("error") is not None or c.find("failure") is not None
    }
    assert failed == bad


@pytest.mark.parametrize("marked", [False, True], ids=["plain", "marked"])
def test_crash_in_a_kept_teardown_is_reported(pytester: pytest.Pytester, marked: bool) -> None:
    """A module fixture whose teardown kills the worker: the run fails, the
    report names a test of that module, no other test is lost."""
    mark = "@pexen.uses('r')\n" if marked else ""
    pytester.makepyfile(
        test_a="import os, pytest, pytest_pexen as pexen\n"
        "@pytest.fixture(scope='module')\ndef res():\n    yield\n    os._exit(7)\n"
        + "".join(f"{mark}def test_a{i}(res): pass\n" for i in range(3)),
        test_b="import time, pytest_pexen as pexen\n"
        + "".join(f"{mark}def test_b{i}(): time.sleep(0.05)\n" for i in range(6)),
    )
    for _ in range(2):
        result = run(pytester, "-n", "2", "-rfE", "--pexen-state=state.jsonl", "--junitxml=j.xml")
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        output = result.stdout.str()
        assert "crashed" in output and "test_a.py::test_a" in output
        assert result.parseoutcomes()["passed"] >= 8  # every test ran; the crash is one report
        assert "INTERNALERROR" not in output + result.stderr.str()
        assert_journal_agrees(pytester, result)


@pytest.mark.parametrize("outcome", ["fail", "warn"])
def test_sub_results_added_in_a_kept_teardown_are_reported(
    pytester: pytest.Pytester, outcome: str
) -> None:
    """A session fixture kept for the next test adds a sub-result in its
    teardown, which under pexen's worker loop runs after its last test
    ended: serially the sub-result is on that test's teardown report; under
    ``-n`` it must reach every record too (it was dropped: the run passed)."""
    pytester.makepyfile(
        test_s=f"""
        import pytest, pytest_pexen as pexen

        @pytest.fixture(scope="session")
        def lab(pexen_results):
            yield
            pexen_results.{outcome}("lab left dirty", name="cleanup")

        @pexen.provides("lab")
        def test_a(lab):
            pass

        @pexen.requires("lab")
        def test_b(lab):
            pass
        """
    )
    result = run(
        pytester,
        *("-n", "2", "-rA", "--pexen-state=state.jsonl"),
        *("--pexen-junitxml=p.xml", "--junitxml=j.xml"),
    )
    out = result.stdout.str()
    assert "INTERNALERROR" not in out + result.stderr.str()
    word = "FAIL" if outcome == "fail" else "WARN"
    result.stdout.fnmatch_lines([f"{word} test_s.py::test_*::cleanup - lab left dirty"])
    ended = journal.load(pytester.path / "state.jsonl").ended
    last = {
        t for t, r in ended.items() if any(s.get("name") == "cleanup" for s in r.get("results", ()))
    }
    assert len(last) == 1  # the test that used the fixture last carries it
    (test,) = last
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "p.xml").iter("testcase")}
    sub = cases[test.split("::")[-1] + "::cleanup"]
    # pytest's report: one testcase a test (the late report joins its test's)
    pytests = ET.parse(pytester.path / "j.xml").getroot()[0]
    assert [c.get("name") for c in pytests.iter("testcase")].count(test.split("::")[-1]) == 1
    assert pytests.get("tests") == "2"
    if outcome == "fail":
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.assert_outcomes(passed=2, errors=1)
        assert ended[test]["outcome"] == "error"
        assert sub.find("failure") is not None
    else:
        assert result.ret == pytest.ExitCode.OK
        assert ended[test]["outcome"] == "warn"
        assert sub.find("failure") is None and sub.find("error") is None


def test_warned_test_whose_kept_fixture_fails_later(pytester: pytest.Pytester) -> None:
    """A test that warned, then its kept session fixture's teardown fails:
    the journal's end is written again as an error (it raised an
    INTERNALERROR merging 'warn' into the test's own outcome)."""
    pytester.makepyfile(
        test_w="""
        import pytest, pytest_pexen as pexen

        @pytest.fixture(scope="session")
        def lab():
            yield
            raise RuntimeError("lab teardown broke")

        @pexen.provides("lab")
        def test_a(lab, pexen_results):
            pexen_results.warn("slow")

        @pexen.requires("lab")
        def test_b(lab, pexen_results):
            pexen_results.warn("slower")
        """
    )
    result = run(pytester, "-n", "2", "-rfE", "--pexen-state=state.jsonl", "--junitxml=j.xml")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2, errors=1)
    assert_journal_agrees(pytester, result)


def test_crash_in_the_last_teardown_does_not_hang(pytester: pytest.Pytester) -> None:
    """One worker dies tearing down its session fixture after the others
    finished: the worker that replaces it must be shut down, not left
    waiting for a collection that will never complete."""
    pytester.makeconftest("""
        import os, pytest
        @pytest.fixture(scope="session", autouse=True)
        def container():
            yield
            if os.environ.get("PYTEST_XDIST_WORKER") == "gw0":
                os._exit(7)
    """)
    pytester.makepyfile(
        test_a="""
        import time, pytest_pexen as pexen
        @pexen.uses("r")
        def test_a(): time.sleep(0.1)
        @pexen.uses("r")
        def test_b(): time.sleep(0.3)
    """
    )
    result = pytester.runpytest_subprocess("-p", "pexen", "-p", "xdist", "-n", "2", timeout=60)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_*", "*worker 'gw0' crashed while tearing down the fixtures*"]
    )


def test_nearest_items_share_the_most_parents(pytester: pytest.Pytester) -> None:
    """The stand-in ``nextitem`` of each test (``internals.nearest_items``)
    shares as many of its parents as any other test does, in collection
    order, shuffled, and with a test listed twice; None only for a test
    that shares nothing but the session."""
    import random

    from pytest_pexen.internals import nearest_items

    pkg = pytester.mkpydir("pkg")
    (pkg / "test_a.py").write_text(
        "import pytest\n"
        "class TestX:\n"
        "    def test_1(self): pass\n"
        "    @pytest.mark.parametrize('p', [1, 2, 3])\n"
        "    def test_2(self, p): pass\n"
        "class TestLone:\n"
        "    def test_only(self): pass\n"
        "def test_f(): pass\n"
    )
    sub = pytester.mkpydir("pkg/sub")
    (sub / "test_b.py").write_text("def test_lonely(): pass\n")
    pytester.makepyfile(
        test_top="""
        import pytest
        @pytest.mark.parametrize("q", range(2))
        def test_p(q): pass
        class TestY:
            class TestInner:
                def test_deep(self): pass
        """
    )
    collected, _ = pytester.inline_genitems()
    assert len(collected) == 10

    def shared(a: pytest.Item, b: pytest.Item) -> int:
        return len({id(n) for n in a.listchain()[:-1]} & {id(n) for n in b.listchain()[:-1]})

    for shuffle in range(4):
        items = list(collected)
        random.Random(shuffle).shuffle(items)
        if shuffle == 3:
            items += items[:2]
        for item, near in zip(items, nearest_items(items), strict=True):
            best = max(shared(item, other) for other in collected if other is not item)
            if near is None:
                assert best == 1, item.nodeid  # the session only
            else:
                assert near is not item
                assert shared(item, near) == best, (item.nodeid, near.nodeid)


def test_late_teardown_after_a_skipped_test_is_journaled(pytester: pytest.Pytester) -> None:
    """A test the controller skips (its provider failed) runs on the worker
    between a test that kept a module fixture and the fixture's failing
    teardown: the error is still journaled as the kept fixture's test's."""
    pytester.makepyfile(
        test_0="""
        import pytest_pexen as pexen
        @pexen.priority(0)
        @pexen.provides("x")
        def test_p(): assert 0
        """,
        test_m="""
        import time, pytest, pytest_pexen as pexen
        @pytest.fixture(scope="module")
        def res():
            yield
            raise RuntimeError("teardown of res failed")
        @pexen.priority(1)
        @pexen.provides("y")
        def test_a(res): time.sleep(0.3)
        @pexen.requires("x")
        def test_d(): pass
        """,
        test_z="""
        import pytest_pexen as pexen
        @pexen.requires("y")
        def test_z(): pass
        """,
    )
    for _ in range(3):  # the first run is cold; then the short tests go in batches
        result = run(pytester, "-n", "1", "-rfE", "--pexen-state=state.jsonl", "--junitxml=j.xml")
        result.assert_outcomes(passed=2, failed=1, skipped=1, errors=1)
        assert_journal_agrees(pytester, result)


def test_late_teardown_error_of_a_test_whose_id_holds_colons(pytester: pytest.Pytester) -> None:
    """pytest's xUnit report names a parametrized test with its whole id,
    ``::`` in it included: the late teardown error still joins its
    testcase (one testcase a test, counted once)."""
    pytester.makepyfile(
        test_a="import pytest, pytest_pexen as pexen\n"
        + TEARDOWN_FAILS.format(scope="module")
        + "@pexen.uses('a')\n"
        "@pytest.mark.parametrize('n', range(4), ids=lambda n: f'k::{n}')\n"
        "def test_a(res, n): pass\n",
        test_b="import time, pytest_pexen as pexen\n"
        + "".join(f"@pexen.uses('b')\ndef test_b{i}(): time.sleep(0.05)\n" for i in range(6)),
    )
    result = run(pytester, "-n", "2", "-rfE", "--pexen-state=state.jsonl", "--junitxml=j.xml")
    assert_journal_agrees(pytester, result)
    assert ET.parse(pytester.path / "j.xml").getroot()[0].get("tests") == "10"
