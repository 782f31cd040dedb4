"""Chains under xdist without a round trip per link (issue 22, item 2).

A test whose only unmet requirements are tests queued before it on the same
worker is sent there ahead, on the condition that they pass; the journal
shows it (a test's start record is written when it is sent). Everything
else must stay as in a serial run: order, skip reasons, shared state, locks
and dependencies on other workers' tests.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pytest_pexen.journal import format as journal

SPANS = """
import json, os, time
import pytest

@pytest.fixture(autouse=True)
def _span(request):
    start = time.monotonic()
    yield
    line = json.dumps({"name": request.node.name, "start": start, "end": time.monotonic(),
                       "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")})
    with open(os.environ["SPAN_LOG"], "a") as log:
        log.write(line + "\\n")

WORKER = []

def pytest_configure(config):
    WORKER.append(hasattr(config, "workerinput"))

def pytest_runtest_logreport(report):
    # the outcome of each test as the process that reports them sees it
    if WORKER[0] or report.when not in ("setup", "call"):
        return
    if report.when == "setup" and report.passed:
        return
    reason = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else ""
    with open(os.environ["OUTCOME_LOG"], "a") as log:
        log.write(json.dumps([report.nodeid, report.outcome, reason]) + "\\n")
"""


@pytest.fixture
def logs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    monkeypatch.setenv("SPAN_LOG", str(pytester.path / "spans.jsonl"))
    monkeypatch.setenv("OUTCOME_LOG", str(pytester.path / "outcomes.jsonl"))
    pytester.makeconftest(SPANS)
    return pytester.path


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "pexen", "-p", "xdist", "-p", "no:randomly", *args, timeout=180
    )


def spans(folder: Path) -> dict[str, dict[str, float | str]]:
    lines = (folder / "spans.jsonl").read_text().splitlines()
    return {record["name"]: record for record in map(json.loads, lines)}


def outcomes(folder: Path) -> dict[str, tuple[str, str]]:
    path = folder / "outcomes.jsonl"
    found = {}
    for line in path.read_text().splitlines():
        nodeid, outcome, reason = json.loads(line)
        found[nodeid] = (outcome, reason)
    path.unlink()
    return found


def sent_before_end(state: Path, test: str, provider: str) -> bool:
    """Whether the journal has ``test`` started (sent, under xdist) before
    ``provider`` ended: it went to its worker ahead of its provider's end."""
    records = list(journal.read(state))
    start = next(n for n, r in enumerate(records) if r["type"] == "start" and r["test"] == test)
    end = next(n for n, r in enumerate(records) if r["type"] == "end" and r["test"] == provider)
    return start < end


CHAIN = """
import os, time
import pytest_pexen as pexen

@pexen.provides("a")
def test_a(pexen_shared):
    time.sleep(0.3)
    pexen_shared["a"] = 1
    assert not os.environ.get("BREAK_A")

@pexen.requires("a")
@pexen.provides("b")
def test_b(pexen_shared):
    assert pexen_shared == {"a": 1}
    pexen_shared["b"] = 2

@pexen.requires("b")
def test_c(pexen_shared):
    assert pexen_shared == {"a": 1, "b": 2}
"""

OTHERS = """
import time
def test_o1(): time.sleep(0.05)
def test_o2(): time.sleep(0.05)
def test_o3(): time.sleep(0.05)
"""


def test_chain_goes_ahead_and_runs_in_order_on_one_worker(
    pytester: pytest.Pytester, logs: Path
) -> None:
    pytester.makepyfile(test_chain=CHAIN, test_others=OTHERS)
    result = run(pytester, "-n", "2", "--pexen-state=state.jsonl")
    result.assert_outcomes(passed=6)
    s = spans(logs)
    assert s["test_a"]["worker"] == s["test_b"]["worker"] == s["test_c"]["worker"]
    assert s["test_a"]["end"] <= s["test_b"]["start"] <= s["test_b"]["end"] <= s["test_c"]["start"]
    state = logs / "state.jsonl"
    assert sent_before_end(state, "test_chain.py::test_b", "test_chain.py::test_a")
    assert sent_before_end(state, "test_chain.py::test_c", "test_chain.py::test_b")


def test_broken_chain_skips_the_rest_with_the_serial_reasons(
    pytester: pytest.Pytester, logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_chain=CHAIN, test_others=OTHERS)
    monkeypatch.setenv("BREAK_A", "1")
    run(pytester).assert_outcomes(failed=1, passed=3, skipped=2)
    serial = outcomes(logs)
    result = run(pytester, "-n", "2", "--pexen-state=state.jsonl")
    result.assert_outcomes(failed=1, passed=3, skipped=2)
    assert outcomes(logs) == serial
    assert serial["test_chain.py::test_c"][1].startswith(
        "pexen: 'b' not provided: test_chain.py::test_b did not run ("
    )
    state = logs / "state.jsonl"
    assert sent_before_end(state, "test_chain.py::test_b", "test_chain.py::test_a")
    ends = {r["test"]: r for r in journal.read(state) if r["type"] == "end"}
    assert ends["test_chain.py::test_b"]["outcome"] == "skip"
    assert ends["test_chain.py::test_c"]["outcome"] == "skip"


def test_crash_of_the_provider_puts_the_chain_back(pytester: pytest.Pytester, logs: Path) -> None:
    pytester.makepyfile(
        test_chain="""
        import os, time
        import pytest_pexen as pexen

        @pexen.provides("a")
        def test_a():
            time.sleep(0.3)
            os._exit(3)

        @pexen.requires("a")
        @pexen.provides("b")
        def test_b(): pass

        @pexen.requires("b")
        def test_c(): pass
        """,
        test_others=OTHERS,
    )
    result = run(pytester, "-n", "2", "--pexen-state=state.jsonl", "-rs")
    result.assert_outcomes(failed=1, passed=3, skipped=2)
    result.stdout.fnmatch_lines(
        ["*pexen: 'a' not provided: test_chain.py::test_a crashed (its worker died)*"]
    )
    assert sent_before_end(logs / "state.jsonl", "test_chain.py::test_b", "test_chain.py::test_a")


def test_other_workers_tests_and_locks_are_still_waited_for(
    pytester: pytest.Pytester, logs: Path
) -> None:
    pytester.makepyfile(
        test_chain="""
        import time
        import pytest_pexen as pexen

        @pexen.provides("a")
        def test_a(): pass

        @pexen.requires("a", "far")
        @pexen.provides("b")
        def test_b(): pass

        @pexen.requires("b")
        @pexen.claims("lab")
        def test_c(): pass
        """,
        test_far="""
        import time
        import pytest_pexen as pexen

        @pexen.provides("far")
        def test_far(): time.sleep(0.6)

        @pexen.uses("lab")
        def test_user(): time.sleep(0.6)
        """,
    )
    for _ in range(2):
        (logs / "spans.jsonl").unlink(missing_ok=True)
        run(pytester, "-n", "2").assert_outcomes(passed=5)
        s = spans(logs)
        assert s["test_b"]["start"] >= max(s["test_a"]["end"], s["test_far"]["end"])
        assert s["test_c"]["start"] >= s["test_b"]["end"]
        overlap = min(s["test_c"]["end"], s["test_user"]["end"]) - max(
            s["test_c"]["start"], s["test_user"]["start"]
        )
        assert overlap <= 0


def random_dag(
    seed: int, modules: int = 4, per_module: int = 15
) -> tuple[dict[str, str], set[str]]:
    """A random DAG over ``modules`` files (requirements mostly in the same
    module, some failing tests and soft failures, a few claims/uses), and
    the tests whose skip reason does not depend on which of two unrelated
    failures a run meets first (at most one failing test among their
    ancestors): under xdist that order is the workers' (as without pexen's
    chains)."""
    rnd = random.Random(seed)
    files = {}
    roots: list[set[int]] = []  # the failing tests each test descends from (or is)
    steady = set()
    n = 0
    for m in range(modules):
        lines = ["import pytest, pytest_pexen as pexen"]
        for t in range(per_module):
            lines.append(f"@pexen.provides('t{n}')")
            deps = set()
            for _ in range(rnd.choice((0, 1, 1, 2))):
                if t and rnd.random() < 0.8:
                    deps.add(n - 1 - rnd.randrange(min(t, 4)))
                elif n:
                    deps.add(rnd.randrange(n))
            if deps:
                lines.append("@pexen.requires(" + ", ".join(f"'t{d}'" for d in sorted(deps)) + ")")
            lock = rnd.random()
            if lock < 0.08:
                lines.append("@pexen.claims('lab')")
            elif lock < 0.16:
                lines.append("@pexen.uses('lab')")
            fate = rnd.random()
            body = "pass"
            if fate < 0.08:
                body = "assert False"
            elif fate < 0.11:
                body = "raise pexen.TaskFailError('soft', deps_ok=True)"
            elif fate < 0.13:
                body = "pytest.skip('by itself')"
            lines.append(f"def test_{n}(): {body}")
            mine = set().union(*(roots[d] for d in deps))
            if len(mine) <= 1:
                steady.add(f"test_dag{m}.py::test_{n}")
            roots.append(mine | ({n} if fate < 0.08 or 0.11 <= fate < 0.13 else set()))
            n += 1
        files[f"test_dag{m}"] = "\n".join(lines) + "\n"
    return files, steady


@pytest.mark.parametrize("seed", [11, 23])
def test_random_dag_outcomes_as_serial(pytester: pytest.Pytester, logs: Path, seed: int) -> None:
    files, steady = random_dag(seed)
    pytester.makepyfile(**files)
    run(pytester)
    serial = outcomes(logs)
    assert len(serial) == 60
    assert sum(outcome == "skipped" for outcome, _ in serial.values()) >= 5
    for _ in range(2):
        run(pytester, "-n", "2")
        ours = outcomes(logs)
        assert {k: v[0] for k, v in ours.items()} == {k: v[0] for k, v in serial.items()}
        assert {k: v for k, v in ours.items() if k in steady} == {
            k: v for k, v in serial.items() if k in steady
        }


def test_a_worker_has_no_end_of_test_hook(pytester: pytest.Pytester) -> None:
    """A worker's tests end in the controller's planner, which reads their
    reports: the worker registers no end-of-test hook, and what a test
    hands on still reaches the test that needs it on another worker."""
    pytester.makeconftest(
        """
        import os

        def pytest_sessionfinish(session):
            worker = os.environ.get("PYTEST_XDIST_WORKER")
            if worker:
                plugin = session.config.pluginmanager.get_plugin("pexen-run")
                with open(f"hooks-{worker}.txt", "w") as out:
                    out.write(repr(hasattr(plugin, "pytest_runtest_logfinish")))
        """
    )
    pytester.makepyfile(
        test_a="""
        import time
        import pytest_pexen as pexen

        @pexen.provides("token")
        def test_give(pexen_shared):
            pexen_shared["token"] = 42

        @pexen.requires("token")
        def test_take(pexen_shared):
            assert pexen_shared["token"] == 42

        @pexen.requires("token")
        def test_fail():
            assert False

        @pexen.requires("test_a.py::test_fail")
        def test_after_fail(): pass

        def test_slow(): time.sleep(0.3)
        """
    )
    result = pytester.runpytest_subprocess("-p", "pexen", "-n", "2", "-rs")
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*not provided: test_a.py::test_fail failed"])
    assert sorted(p.read_text() for p in pytester.path.glob("hooks-gw*.txt")) == ["False", "False"]


def test_tests_waiting_for_one_test_are_not_queued_behind_each_other(
    pytester: pytest.Pytester, logs: Path
) -> None:
    """Two tests that wait for the same one (siblings) can run side by side
    once it ends: only one goes ahead on its worker, the other to the
    first free worker, not behind its sibling."""
    pytester.makepyfile(
        test_fan="""
        import time
        import pytest_pexen as pexen

        @pexen.provides("a")
        def test_a(): time.sleep(0.3)

        @pexen.requires("a")
        def test_b1(): time.sleep(0.4)

        @pexen.requires("a")
        def test_b2(): time.sleep(0.4)

        def test_other(): pass
        """
    )
    result = run(pytester, "-n", "2", "--pexen-state=state.jsonl")
    result.assert_outcomes(passed=4)
    s = spans(logs)
    first, second = sorted(("test_b1", "test_b2"), key=lambda name: s[name]["start"])
    assert s[second]["start"] < s[first]["end"], s  # side by side, on two workers
    assert s[first]["worker"] != s[second]["worker"]
