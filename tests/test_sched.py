"""Sched, the original pexen API, on both pools (SPEC section 10)."""

from __future__ import annotations

import functools
import gc
import json
import os
import random
import threading
import time
import warnings
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
import sched_tasks as tasks

from pytest_pexen.sched import (
    DepcheckError,
    ExceptionInfo,
    MutexError,
    PexenWarning,
    PoolError,
    Sched,
    TaskFailError,
    TaskRes,
    meta,
)
from pytest_pexen.sched.pool import ProcessWorkerPool, ThreadWorkerPool

POOLS = [ThreadWorkerPool, ProcessWorkerPool]


def task(fn: Callable[..., Any], *args: Any, **fields: Any) -> functools.partial[Any]:
    """A fresh, picklable task object with its own metadata."""
    new = functools.partial(fn, *args)
    meta.assign_val(new, **fields)
    return new


def spans(log: Path) -> dict[str, tuple[float, float, int]]:
    out = {}
    for line in log.read_text().splitlines():
        name, start, end, pid = json.loads(line)
        out[name] = (start, end, pid)
    return out


def overlap(a: tuple[float, float, int], b: tuple[float, float, int]) -> bool:
    return min(a[1], b[1]) > max(a[0], b[0])


@pytest.fixture(params=POOLS, ids=["threads", "processes"])
def pool_cls(request: pytest.FixtureRequest) -> type[ThreadWorkerPool]:
    return request.param  # type: ignore[no-any-return]


def test_return_value_and_exception(pool_cls: type[ThreadWorkerPool]) -> None:
    ok, bad = task(tasks.ret_1234), task(tasks.raise_name_error)
    results = {r.task: r for r in Sched([ok, bad]).run(pool_cls())}
    assert results[ok].ret == 1234 and results[ok].excinfo is None
    info = results[bad].excinfo
    assert isinstance(info, ExceptionInfo)
    assert info.type is NameError and isinstance(info.val, NameError)
    if pool_cls is ProcessWorkerPool:
        assert info.tb is None  # a traceback does not cross processes
    else:
        assert info.tb is not None


def test_priority_then_dependency_order(pool_cls: type[ThreadWorkerPool]) -> None:
    a = task(tasks.ret_1234, priority=4)
    b = task(tasks.ret_1234, priority=3)
    c = task(tasks.ret_1234, requires=["dep"], priority=0)
    d = task(tasks.ret_1234, provides=["dep"], priority=5)
    order = [r.task for r in Sched([a, b, c, d]).run(pool_cls(workers=1, spare=0))]
    assert order == [b, a, d, c]


def test_shared_state_and_kwargs(pool_cls: type[ThreadWorkerPool]) -> None:
    provider = task(tasks.write_shared, provides=["p"])
    direct = task(tasks.read_shared, requires=["p"], provides=["q"])
    indirect = task(tasks.read_shared, requires=["q"])
    unrelated = task(tasks.read_shared, priority=9)
    kw = task(tasks.with_kwargs, kwargs={"testargs": 1})
    both = task(tasks.shared_and_kwargs, kwargs={"testargs": 2})
    s = Sched([provider, direct, indirect, unrelated, kw, both])
    s.add_shared(run=7)
    results = {r.task: r for r in s.run(pool_cls(workers=2))}
    pid = results[provider].ret["provider"]
    assert results[provider].shared == {"run": 7, "provider": pid}
    assert results[direct].ret == {"run": 7, "provider": pid}  # direct dependent
    # each task hands its own dict on to its direct dependents
    assert results[indirect].ret == results[direct].shared
    assert results[unrelated].ret == {"run": 7}
    assert results[kw].ret == {"testargs": 1}  # no positional arg: no shared dict
    assert results[both].ret == ({"run": 7}, 2)


def test_claims_never_overlap_uses_do(pool_cls: type[ThreadWorkerPool], tmp_path: Path) -> None:
    log = str(tmp_path / "spans.jsonl")
    run = [task(tasks.span, log, f"c{i}", 0.15, claims=["r"]) for i in range(3)]
    run += [task(tasks.span, log, f"u{i}", 0.3, uses=["s"]) for i in range(2)]
    list(Sched(run).run(pool_cls(workers=4)))
    s = spans(Path(log))
    for a in ("c0", "c1", "c2"):
        for b in ("c0", "c1", "c2"):
            assert a == b or not overlap(s[a], s[b])
    assert overlap(s["u0"], s["u1"])


def test_slow_consumer_throttles(pool_cls: type[ThreadWorkerPool], tmp_path: Path) -> None:
    # while the caller holds a result, the pool's spare task may start, and
    # those already sent to a worker (one a worker at most): not the rest
    log = tmp_path / "spans.jsonl"
    work = [task(tasks.span, str(log), f"t{i}", 0.01) for i in range(8)]
    results = Sched(work).run(pool_cls(workers=2, spare=1))
    next(results)
    held = time.monotonic()
    time.sleep(0.5)  # hold the generator
    resumed = time.monotonic()
    assert len(list(results)) == 7
    started = [name for name, (start, _, _) in spans(log).items() if held < start < resumed]
    assert len(started) <= 1 + 2, started


def test_tasks_ready_at_once_start_together(
    pool_cls: type[ThreadWorkerPool], tmp_path: Path
) -> None:
    # the provider's worker starts one dependent itself; the idle workers
    # get the others at once, not one after another as workers free up
    log = str(tmp_path / "spans.jsonl")
    first = task(tasks.span, log, "p", 0.05, provides=["p"])
    deps = [task(tasks.span, log, f"d{i}", 0.4, requires=["p"]) for i in range(4)]
    list(Sched([first, *deps]).run(pool_cls(workers=4, spare=0)))
    s = spans(Path(log))
    for a in range(4):
        for b in range(a):
            assert overlap(s[f"d{a}"], s[f"d{b}"]), (a, b)


def test_sys_exit_in_a_task_fails_only_that_task(pool_cls: type[ThreadWorkerPool]) -> None:
    # SystemExit is no Exception: a worker thread it ended left the run waiting forever
    out: list[TaskRes] = []
    bye, after = task(tasks.exit_3), task(tasks.ret_1234)
    runner = threading.Thread(
        target=lambda: out.extend(Sched([bye, after]).run(pool_cls(workers=1))), daemon=True
    )
    runner.start()
    runner.join(60)
    assert not runner.is_alive(), "the run hung"
    by_task = {id(r.task): r for r in out}
    assert by_task[id(bye)].excinfo is not None
    assert by_task[id(after)].ret == 1234


def test_a_closed_run_starts_nothing_more(tmp_path: Path) -> None:
    # the caller stops iterating: the workers end the tasks they have, start
    # no other, and their threads end
    log = tmp_path / "spans.jsonl"
    work = [task(tasks.span, str(log), f"t{i}", 0.02) for i in range(40)]
    before = set(threading.enumerate())
    results = Sched(work).run(ThreadWorkerPool(workers=2, spare=1))
    assert isinstance(results, Generator)  # what run() returns, and what has close()
    next(results)
    results.close()
    closed = time.monotonic()
    workers = [t for t in threading.enumerate() if t not in before]
    for thread in workers:
        thread.join(30)
    assert not [t for t in workers if t.is_alive()]
    later = [name for name, (start, _, _) in spans(log).items() if start > closed]
    assert len(later) <= 2, later  # at most one a worker, sent before the close


def test_uncontrolled_failure_leaves_deps_and_locks(pool_cls: type[ThreadWorkerPool]) -> None:
    bad = task(tasks.raise_name_error, provides=["dep"], claims=["lock"])
    dependent = task(tasks.ret_1234, requires=["dep"])
    waiter = task(tasks.ret_1234, claims=["lock"], priority=1)
    free = task(tasks.ret_1234, priority=2)
    s = Sched([bad, dependent, waiter, free])
    with pytest.warns(PexenWarning) as caught:
        results = [r.task for r in s.run(pool_cls(workers=1))]
    assert results == [bad, free]
    messages = sorted(str(w.message) for w in caught if w.category is PexenWarning)
    assert messages == [
        "1 locks still held at exit due to parent exception",
        "2 tasks skipped due to unmet deps or held locks caused by parent exception "
        "(see Sched.unrunnable)",
    ]
    reasons = {u.task: u.reason for u in s.unrunnable}
    assert "'dep' not provided" in reasons[dependent]
    assert "stays locked" in reasons[waiter]


@pytest.mark.parametrize(
    ("deps_ok", "locks_ok"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_task_fail_error_flags(
    pool_cls: type[ThreadWorkerPool], deps_ok: bool, locks_ok: bool
) -> None:
    failing = task(tasks.controlled, deps_ok, locks_ok, provides=["dep"], claims=["lock"])
    dependent = task(tasks.ret_1234, requires=["dep"])
    waiter = task(tasks.ret_1234, claims=["lock"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PexenWarning)
        ran = {r.task for r in Sched([failing, dependent, waiter]).run(pool_cls())}
    assert (dependent in ran) is deps_ok
    assert (waiter in ran) is locks_ok


def test_task_fail_wrap(pool_cls: type[ThreadWorkerPool]) -> None:
    bare = task(tasks.wrapped_bare, provides=["a"])
    flags = task(tasks.wrapped_flags, provides=["b"])
    reraise = task(tasks.wrapped_reraise, provides=["c"])
    after = [task(tasks.ret_1234, requires=[t]) for t in "abc"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PexenWarning)
        results = {r.task: r for r in Sched([bare, flags, reraise, *after]).run(pool_cls())}
    assert results[bare].excinfo.type is TaskFailError  # type: ignore[union-attr]
    assert results[reraise].excinfo.type is KeyError  # type: ignore[union-attr]
    assert after[0] in results and after[2] in results
    assert after[1] not in results  # deps_ok=False


def test_task_fail_wrap_passes_the_shared_dict_as_the_task_takes_it(
    pool_cls: type[ThreadWorkerPool],
) -> None:
    """A wrapped task gets the shared dict only if the function it wraps
    takes it: each of these was called with it, failed with a TypeError that
    the wrapper made a TaskFailError, and (deps_ok) let its dependents run
    without having run at all."""
    # the functions themselves (a partial's signature was always read whole)
    bare, keyword = tasks.wrapped_no_shared, tasks.wrapped_keyword
    meta.assign_val(bare, provides=["a"])
    meta.assign_val(keyword, kwargs={"a": 7})
    after = task(tasks.ret_1234, requires=["a"])
    results = {r.task: r for r in Sched([bare, keyword, after]).run(pool_cls())}
    assert (results[bare].ret, results[bare].excinfo) == ("ran", None)
    assert (results[keyword].ret, results[keyword].excinfo) == (7, None)
    assert results[after].ret == 1234


def test_depcheck_and_mutex_errors_before_running() -> None:
    ran: list[int] = []
    a = task(ran.append, 1, requires=["nobody"])
    with pytest.raises(DepcheckError, match="'nobody'"):
        Sched([a]).run()
    x = task(ran.append, 2, requires=["y"], provides=["x"])
    y = task(ran.append, 3, requires=["x"], provides=["y"])
    with pytest.raises(DepcheckError, match=r"dependency cycle: .* requires 'y' from"):
        Sched([x, y]).run()
    z = task(ran.append, 4)
    meta.assign_meta(z).claims.add("r")
    meta.assign_meta(z).uses.add("r")
    with pytest.raises(MutexError):
        Sched([z]).run()
    assert ran == []


def test_bad_tasks_and_metadata() -> None:
    with pytest.raises(TypeError, match="must be callable"):
        Sched([42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="priority must be an int"):
        meta.SchedMeta(priority="high")  # type: ignore[arg-type]
    assert meta.SchedMeta(requires="db").requires == {"db"}  # one tag, not characters
    with pytest.raises(TypeError, match="requires entries must be non-empty strings"):
        meta.SchedMeta(requires=["db", 3])  # type: ignore[list-item]


def test_add_tasks_while_running(pool_cls: type[ThreadWorkerPool]) -> None:
    first = task(tasks.ret_1234, provides=["base"])
    late = task(tasks.read_shared, requires=["base"])
    broken = task(tasks.ret_1234, requires=["nobody"])
    s = Sched([first])
    seen = []
    for res in s.run(pool_cls()):
        seen.append(res.task)
        if res.task is first:
            with pytest.raises(DepcheckError):
                s.add_tasks([broken])
            s.add_tasks([late])
    assert seen == [first, late]


def test_groups_run_one_at_a_time_on_their_pools(tmp_path: Path) -> None:
    log = str(tmp_path / "spans.jsonl")
    g0 = [task(tasks.span, log, f"a{i}", 0.1) for i in range(2)]
    g1 = [task(tasks.span, log, f"b{i}", 0.1) for i in range(2)]
    g2 = [task(tasks.worker_identity)]
    s = Sched(g0)
    s.add_group(g1, pool=ProcessWorkerPool(workers=2))
    s.add_group(g2, pool=ThreadWorkerPool(workers=1))
    results = {r.task: r for r in s.run(ThreadWorkerPool(workers=2))}
    sp = spans(Path(log))
    assert max(sp["a0"][1], sp["a1"][1]) <= min(sp["b0"][0], sp["b1"][0])
    assert sp["a0"][2] == os.getpid() and sp["b0"][2] != os.getpid()
    assert results[g2[0]].ret == (os.getpid(), "pexen-worker-0")


def test_a_requirement_from_a_later_group_names_the_groups() -> None:
    """The message names the groups as a user knows them (it said
    "group None" and "group ('pexen group', 1)")."""
    s = Sched([task(tasks.ret_1234, requires=["x"])])
    s.add_group([task(tasks.ret_1234, provides=["x"])])
    with pytest.raises(DepcheckError) as error:
        s.run()
    message = str(error.value)
    assert "(the default group) requires 'x'" in message
    assert message.endswith("in group #1 (add_group), which runs later")


def test_two_iterators_of_one_sched_never_run_at_once() -> None:
    """Two run() iterators made before either began: the second to begin
    raises (both ran, and held an exclusive claim twice at once)."""
    s = Sched([task(tasks.ret_1234, claims=["lab"])])
    first, second = s.run(), s.run()
    assert next(first).ret == 1234
    with pytest.raises(RuntimeError, match=r"run\(\) is already iterating"):
        next(second)
    assert list(first) == []
    assert [r.ret for r in s.run()] == [1234]  # and again once it is done


def test_metadata_groups_run_after_the_added_ones() -> None:
    """A group named in a task's metadata runs after every group added with
    add_group (docs/engine.md); it ran before those added after the first."""
    first = task(tasks.ret_1234)
    vm = task(tasks.ret_1234, group="vm")
    added = task(tasks.ret_1234)
    s = Sched([first, vm])
    s.add_group([added])
    assert [r.task for r in s.run()] == [first, added, vm]


def test_process_pool_unpicklable_values_are_clear_errors() -> None:
    lam = lambda: None  # noqa: E731 - the point: a lambda does not pickle
    bad_ret = task(tasks.return_lambda)
    bad_shared = task(tasks.unpicklable_shared)
    results = {r.task: r for r in Sched([lam, bad_ret, bad_shared]).run(ProcessWorkerPool())}
    for t in (lam, bad_ret, bad_shared):
        info = results[t].excinfo
        assert info is not None and info.type is PoolError, t
        assert "pickle" in str(info.val)


def test_dead_worker_process_fails_only_its_task() -> None:
    outcome: list[Any] = []
    dying = task(tasks.die, provides=["x"])
    after = task(tasks.ret_1234, requires=["x"])
    others = [task(tasks.ret_1234) for _ in range(3)]

    def consume() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PexenWarning)
            outcome.extend(Sched([dying, after, *others]).run(ProcessWorkerPool(workers=2)))

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "run() hung on a dead worker"
    results = {r.task: r for r in outcome}
    info = results[dying].excinfo
    assert info is not None and info.type is PoolError
    assert "died (exit code 7) while running this task" in str(info.val)
    assert after not in results  # its provider never ended well
    assert all(results[t].ret == 1234 for t in others)


def test_taskres_shape() -> None:
    assert TaskRes(tasks.ret_1234) == (tasks.ret_1234, {}, None, None)
    (res,) = Sched([tasks.decorated]).run()
    assert res == TaskRes(tasks.decorated, {}, "decorated", None)


def test_graph_is_filed_with_the_old_objects() -> None:
    # what run() builds lives as long as the run: it goes to the oldest
    # generation, not to the young one, whose next collection would walk it
    # all to free nothing (a tenth of the set-up time at 50,000 tasks)
    work = [
        task(tasks.ret_1234, provides=[f"t{i}"], requires=[f"t{i - 1}"] if i else [])
        for i in range(3000)
    ]
    gc.collect()
    sched = Sched(work)
    results = sched.run(ThreadWorkerPool())
    planner = sched._last.planner  # type: ignore[union-attr] # made by run(), before the pause
    assert any(obj is planner for obj in gc.get_objects(generation=2))
    assert len(list(results)) == 3000
    # objects the program froze itself stay frozen (no unfreeze behind its back)
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert len(list(Sched(work[:10]).run(ThreadWorkerPool()))) == 10
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_keep_order_and_locks_on_threads(seed: int) -> None:
    # the workers drive the planner from their own threads: on random graphs
    # (claims, uses, controlled failures, priorities, widths, spare), every
    # task that may run runs once, after its providers ended, and no lock
    # is ever shared that must not be
    rnd = random.Random(seed)
    n = rnd.randrange(20, 200)
    guard = threading.Lock()
    held: dict[str, list[int]] = {}  # resource -> [claimers, users] running
    events: list[tuple[str, int]] = []
    clashes: list[tuple[int, str]] = []

    def make(
        i: int, claims: list[str], uses: list[str], fail: bool, pause: float
    ) -> Callable[[], None]:
        def run() -> None:
            with guard:
                for r in claims:
                    if any(held.setdefault(r, [0, 0])):
                        clashes.append((i, r))
                    held[r][0] += 1
                for r in uses:
                    if held.setdefault(r, [0, 0])[0]:
                        clashes.append((i, r))
                    held[r][1] += 1
                events.append(("start", i))
            time.sleep(pause)
            with guard:
                for r in claims:
                    held[r][0] -= 1
                for r in uses:
                    held[r][1] -= 1
                events.append(("end", i))
            if fail:
                raise TaskFailError("planned", deps_ok=False)

        return run

    requires: list[list[int]] = []
    work = []
    for i in range(n):
        deps = sorted({rnd.randrange(i) for _ in range(rnd.choice((0, 0, 1, 2)))}) if i else []
        claims = [f"r{rnd.randrange(3)}"] if rnd.random() < 0.1 else []
        uses = [f"r{rnd.randrange(3)}"] if not claims and rnd.random() < 0.1 else []
        requires.append(deps)
        pause = rnd.choice((0.0, 0.0, 0.0, 0.001))
        fn = make(i, claims, uses, rnd.random() < 0.05, pause)
        meta.assign_val(
            fn,
            requires=[f"t{d}" for d in deps],
            provides=[f"t{i}"],
            claims=claims,
            uses=uses,
            priority=rnd.randrange(3),
        )
        work.append(fn)
    pool = ThreadWorkerPool(workers=rnd.randrange(1, 6), spare=rnd.randrange(4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PexenWarning)
        results = list(Sched(work).run(pool))
    index = {id(fn): i for i, fn in enumerate(work)}
    ran = [index[id(r.task)] for r in results]
    assert len(ran) == len(set(ran))
    passed = {index[id(r.task)] for r in results if r.excinfo is None}
    at = {event: n for n, event in enumerate(events)}
    for i in ran:
        for d in requires[i]:
            assert d in passed and at[("end", d)] < at[("start", i)], (i, d)
    for i in range(n):
        assert i in ran or not all(d in passed for d in requires[i]), i
    assert not clashes
