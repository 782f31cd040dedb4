"""The planner: unit tests of each rule, and properties on random graphs."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_pexen.sched.errors import DepcheckError, MutexError
from pytest_pexen.sched.planner import Planner, choose_provider


def drive(planner: Planner[str], fail: set[str] = frozenset(), width: int = 1) -> list[str]:
    """Run to the end with ``width`` slots, completing in start order."""
    started: list[str] = []
    running: list[str] = []
    while planner.active:
        ready = planner.get_ready(width - len(running))
        started += ready
        running += ready
        if not running:
            break
        key = running.pop(0)
        planner.done(key, ok=key not in fail)
    return started


def make(*tasks: tuple[str, dict[str, Any]], **kw: Any) -> Planner[str]:
    planner: Planner[str] = Planner(**kw)
    for key, meta in tasks:
        planner.add(key, **meta)
    planner.prepare()
    return planner


def test_priority_then_insertion_order() -> None:
    p = make(("a", {"priority": 2}), ("b", {}), ("c", {"priority": -1}), ("d", {}))
    assert drive(p) == ["c", "b", "d", "a"]


def test_tag_needs_every_provider() -> None:
    p = make(
        ("use", {"requires": ["db"]}), ("p1", {"provides": ["db"]}), ("p2", {"provides": ["db"]})
    )
    assert p.get_ready() == ["p1", "p2"]
    p.done("p1")
    assert p.get_ready() == []
    p.done("p2")
    assert p.get_ready() == ["use"]


def test_claims_exclusive_uses_shared() -> None:
    p = make(
        ("u1", {"uses": ["r"]}),
        ("u2", {"uses": ["r"]}),
        ("c", {"claims": ["r"]}),
        ("u3", {"uses": ["r"]}),
    )
    assert p.get_ready() == ["u1", "u2"]  # the claimer waits, and then so does u3
    p.done("u1")
    assert p.get_ready() == []
    p.done("u2")
    assert p.get_ready() == ["c"]
    p.done("c")
    assert p.get_ready() == ["u3"]


def test_groups_one_at_a_time_with_limit() -> None:
    p: Planner[str] = Planner()
    p.add_group("first")
    p.add_group("vm", limit=1)
    for key, group in [("a", "vm"), ("b", "first"), ("c", "vm"), ("d", "first")]:
        p.add(key, group=group)
    p.prepare()
    assert p.get_ready() == ["b", "d"]
    p.done("b")
    assert p.get_ready() == []
    p.done("d")
    assert p.current_group == "vm"
    assert p.get_ready() == ["a"]
    p.done("a")
    assert p.get_ready() == ["c"]


def test_requirement_from_a_later_group_is_an_error() -> None:
    p: Planner[str] = Planner()
    p.add_group("early")
    p.add_group("late")
    p.add("a", requires=["x"], group="early")
    p.add("b", provides=["x"], group="late")
    with pytest.raises(DepcheckError, match="'x', provided by b in group 'late', which runs"):
        p.prepare()


def test_critical_path_breaks_ties() -> None:
    tasks = [
        ("short", {"duration": 1.0}),
        ("long", {"duration": 1.0, "provides": ["x"]}),
        ("tail", {"duration": 5.0, "requires": ["x"]}),
    ]
    assert make(*tasks).get_ready(1) == ["long"]
    assert make(
        *[(k, {m: v for m, v in d.items() if m != "duration"}) for k, d in tasks]
    ).get_ready(1) == ["short"]


def test_critical_path_counts_a_contended_resource_as_a_chain() -> None:
    # three claimers of "r" must run one after another: 3 units once the
    # first starts, longer than the two-task chain a1 -> a2, so they go first
    # (and so does the task they wait for); no durations known counts each
    # task alike, as a first (cold) run under xdist does
    tasks = [
        ("a1", {"provides": ["a"]}),
        ("a2", {"requires": ["a"]}),
        ("setup", {"provides": ["s"]}),
        *[(f"c{i}", {"claims": ["r"], "requires": ["s"]}) for i in range(3)],
    ]
    assert drive(make(*tasks, critical_path=True)) == ["setup", "c0", "c1", "c2", "a1", "a2"]
    # with durations: one long claimer is no chain of its own
    timed = [
        ("a1", {"provides": ["a"], "duration": 2.0}),
        ("a2", {"requires": ["a"], "duration": 2.0}),
        ("c0", {"claims": ["r"], "duration": 1.0}),
        ("c1", {"claims": ["r"], "duration": 1.0}),
    ]
    assert drive(make(*timed)) == ["a1", "a2", "c0", "c1"]
    timed.append(("c2", {"claims": ["r"], "duration": 3.0}))
    assert drive(make(*timed)) == ["c0", "c1", "c2", "a1", "a2"]


def test_claimers_of_one_resource_go_longest_chain_behind_first() -> None:
    # a, e, f and b claim "r", so they run one after another, and c and d
    # wait on b. Ranked by the resource's total alone (no durations known:
    # each task counts alike, as in a cold run under xdist) the four tie and
    # b, added last, goes last: 6 steps on two workers where 4 suffice
    tasks = [
        *[(key, {"claims": ["r"]}) for key in ("a", "e", "f")],
        ("b", {"claims": ["r"], "provides": ["x"]}),
        ("c", {"requires": ["x"], "provides": ["y"]}),
        ("d", {"requires": ["y"]}),
    ]
    assert make(*tasks, critical_path=True).get_ready(1) == ["b"]
    assert drive(make(*tasks, critical_path=True), width=2) == ["b", "a", "c", "e", "d", "f"]
    # (b; a, c; e, d; f: 4 steps, each task ending in the order it started)
    # a dependent that claims the same resource is in its total already:
    # p -> q both claim "r", z (also a claimer) has the longer chain behind.
    # Counted twice, the total sends p first (p; z; q, z1; z2: 4 steps where
    # z; p, z1; q, z2 takes 3)
    tasks = [
        ("p", {"claims": ["r"], "provides": ["x"]}),
        ("q", {"claims": ["r"], "requires": ["x"]}),
        ("z", {"claims": ["r"], "provides": ["z"]}),
        ("z1", {"requires": ["z"], "provides": ["z1"]}),
        ("z2", {"requires": ["z1"]}),
    ]
    assert drive(make(*tasks, critical_path=True), width=2) == ["z", "p", "z1", "q", "z2"]


def test_failure_drops_dependents_with_reasons() -> None:
    p = make(
        ("a", {"provides": ["db"]}),
        ("b", {"requires": ["db"], "provides": ["web"]}),
        ("c", {"requires": ["web"]}),
        ("d", {}),
    )
    p.get_ready()
    dropped = p.done("a", ok=False)
    assert [(u.task, u.tag, u.culprit, u.root) for u in dropped] == [
        ("b", "db", "a", "a"),
        ("c", "web", "b", "a"),
    ]
    assert dropped[0].reason == "'db' not provided: a failed"
    assert dropped[1].reason == "'web' not provided: b did not run ('db' not provided: a failed)"
    p.done("d")
    assert not p.active


def test_outcome_words_and_deps_ok() -> None:
    p = make(
        ("a", {"provides": ["x"]}),
        ("b", {"requires": ["x"]}),
        ("s", {"provides": ["y"]}),
        ("t", {"requires": ["y"]}),
    )
    p.get_ready()
    p.done("a", ok=False, deps_ok=True)
    assert p.get_ready() == ["b"]
    (u,) = p.done("s", ok=False, outcome="was skipped")
    assert u.reason == "'y' not provided: s was skipped"


def test_locks_kept_by_a_crash_drop_waiters() -> None:
    p = make(
        ("c", {"claims": ["r"]}),
        ("w", {"claims": ["r"]}),
        ("u", {"uses": ["s"]}),
        ("u2", {"uses": ["s"]}),
        ("cs", {"claims": ["s"]}),
    )
    assert p.get_ready() == ["c", "u", "u2"]
    p.done("c", ok=False, locks_ok=False)
    assert p.get_ready() == []
    (u,) = p.take_dropped()
    assert u.task == "w" and "stays locked by c" in u.reason
    p.done("u", ok=False, locks_ok=False)  # a shared lock held for good
    p.done("u2")
    assert p.get_ready() == []
    assert [d.task for d in p.take_dropped()] == ["cs"]
    assert not p.active


def test_missing_requirement_and_rollback() -> None:
    p: Planner[str] = Planner()
    p.add("a", provides=["x"])
    p.add("b", requires=["nope"])
    with pytest.raises(DepcheckError, match=r"'nope' \(required by b\)") as err:
        p.prepare()
    assert err.value.missing == {"nope": ["b"]}
    assert not p.active  # the whole batch was taken back: nothing half-added
    p.add("a", provides=["x"])
    p.add("c", requires=["x"])
    p.prepare()
    assert drive(p) == ["a", "c"]


def test_missing_skip_drops_transitively() -> None:
    p: Planner[str] = Planner()
    p.add("a", requires=["nope"], provides=["x"])
    p.add("b", requires=["x"])
    p.add("c")
    dropped = p.prepare(missing="skip")
    assert [u.task for u in dropped] == ["a", "b"]
    assert dropped[0].reason == "'nope' is not provided by any task"
    assert drive(p) == ["c"]


def test_cycle_is_spelled_out() -> None:
    p: Planner[str] = Planner()
    p.add("a", requires=["y"], provides=["x"])
    p.add("b", requires=["x"], provides=["y"])
    p.add("free")
    with pytest.raises(DepcheckError) as err:
        p.prepare()
    assert str(err.value) == "dependency cycle: a requires 'y' from b, b requires 'x' from a"
    assert err.value.cycle == ["a", "b", "a"]


def test_tasks_added_while_running() -> None:
    p = make(("a", {"provides": ["x"]}), ("f", {"provides": ["bad"]}), ("slow", {}))
    assert p.get_ready() == ["a", "f", "slow"]
    p.done("a")
    p.done("f", ok=False)
    p.add("late_ok", requires=["x"])
    p.add("late_bad", requires=["bad"])
    dropped = p.prepare()
    assert [u.task for u in dropped] == ["late_bad"]
    assert p.get_ready() == ["late_ok"]
    p.add("c1", requires=["z"], provides=["w"])
    p.add("c2", requires=["w"], provides=["z"])
    with pytest.raises(DepcheckError, match="cycle"):
        p.prepare()
    p.done("late_ok")
    p.done("slow")
    assert not p.active


def test_abort_duplicates_and_mutex() -> None:
    p = make(("a", {}), ("b", {"requires": ["a_tag"]}), ("c", {"provides": ["a_tag"]}))
    p.get_ready(1)
    assert {u.task for u in p.abort("stop")} == {"b", "c"}
    p.done("a")
    assert not p.active
    with pytest.raises(ValueError, match="added twice"):
        p.add("a")
    with pytest.raises(MutexError):
        p.add("z", claims=["r"], uses=["r"])


def test_order_keeps_insertion_and_affinity() -> None:
    p = make(
        ("m1::a", {"requires": ["b"]}), ("m1::x", {}), ("m2::b", {"provides": ["b"]}), ("m2::c", {})
    )
    assert p.copy().order() == ["m1::x", "m2::b", "m1::a", "m2::c"]
    assert p.order(affinity=lambda k: k.split("::")[0]) == ["m1::x", "m2::b", "m2::c", "m1::a"]


def module(key: str) -> str:
    return key.split("::")[0]


def test_order_affinity_stays_in_a_stretch_then_goes_to_the_fullest() -> None:
    """The rules of ``order(affinity=...)`` (see its docstring)."""
    # m3::p first (the only ready task); nothing after it is ready, so the
    # stretch with the most ready tasks (m2's two) runs before m1's one
    p = make(
        ("m1::a", {"requires": ["p"]}),
        ("m2::b", {"requires": ["p"]}),
        ("m2::c", {"requires": ["p"]}),
        ("m3::p", {"provides": ["p"]}),
    )
    assert p.order(affinity=module) == ["m3::p", "m2::b", "m2::c", "m1::a"]
    # a test held back in the last test's module (m1::a) runs as soon as it
    # is ready, before the next module's tests
    p = make(
        ("m1::a", {"requires": ["x"]}),
        ("m1::x", {"provides": ["x"]}),
        ("m2::b", {}),
        ("m2::c", {"requires": ["x"]}),
    )
    assert p.order(affinity=module) == ["m1::x", "m1::a", "m2::b", "m2::c"]
    # modules interleaved on purpose (as pytest-order may leave them) are
    # stretches of one test each: nothing pulls m1::b ahead of m2::a
    p = make(("m1::a", {}), ("m2::a", {}), ("m1::b", {}), ("m2::b", {}))
    assert p.order(affinity=module) == ["m1::a", "m2::a", "m1::b", "m2::b"]
    # never a lower priority (or another group) while a better one is ready,
    # even in the same module
    p = make(
        ("m1::a", {"priority": 1}),
        ("m1::b", {"provides": ["b"]}),
        ("m2::c", {"requires": ["b"]}),
        ("m2::d", {"priority": 1}),
        ("m1::g", {"group": "late"}),
    )
    assert p.order(affinity=module) == ["m1::b", "m2::c", "m2::d", "m1::a", "m1::g"]


def test_choose_provider_rule() -> None:
    assert choose_provider([("a", 1, 0), ("b", 0, 2), ("c", 0, 1), ("d", 0, 1)]) == "c"
    with pytest.raises(ValueError):
        choose_provider([])


# ---------------------------------------------------------------- properties


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 25))
    ngroups = draw(st.integers(1, 3))
    tasks = []
    for i in range(n):
        group = draw(st.integers(0, ngroups - 1))
        # providers of a tag never sit in a later group than its requirers:
        # require only tags of earlier tasks whose group is not later
        earlier = [t for t in tasks if t["group"] <= group]
        reqs = draw(
            st.lists(
                st.sampled_from([f"t{t['i']}" for t in earlier] + ["v"])
                if earlier
                else st.just("v"),
                max_size=2,
                unique=True,
            )
        )
        provides = [f"t{i}"] + (["v"] if draw(st.booleans()) and i < n // 2 else [])
        res = draw(st.lists(st.sampled_from(["r1", "r2", "r3"]), max_size=2, unique=True))
        split = draw(st.integers(0, len(res)))
        tasks.append(
            {
                "i": i,
                "group": group,
                "requires": reqs,
                "provides": provides,
                "claims": res[:split],
                "uses": res[split:],
                "priority": draw(st.integers(0, 3)),
                "duration": draw(st.one_of(st.none(), st.floats(0.1, 5))),
            }
        )
    limits = [draw(st.one_of(st.none(), st.integers(1, 3))) for _ in range(ngroups)]
    return {
        "tasks": tasks,
        "limits": limits,
        "seed": draw(st.integers(0, 2**32)),
        "width": draw(st.integers(1, 5)),
        "fail_rate": draw(st.sampled_from([0, 0.2, 0.5])),
    }


def valid_virtual_tag(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep a requirement on the virtual tag "v" only where it can be met
    without a cycle: after every provider of it, in no earlier group."""
    providers = [t for t in tasks if "v" in t["provides"]]
    for t in tasks:
        if "v" in t["requires"] and (
            not providers or any(p["i"] >= t["i"] or p["group"] > t["group"] for p in providers)
        ):
            t["requires"].remove("v")
    return tasks


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_runs_keep_every_invariant(g: dict[str, Any]) -> None:
    tasks = valid_virtual_tag(g["tasks"])
    planner: Planner[int] = Planner()
    for n, limit in enumerate(g["limits"]):
        planner.add_group(n, limit)
    by_key = {t["i"]: t for t in tasks}
    for t in tasks:
        planner.add(
            t["i"],
            requires=t["requires"],
            provides=t["provides"],
            claims=t["claims"],
            uses=t["uses"],
            priority=t["priority"],
            group=t["group"],
            duration=t["duration"],
        )
    planner.prepare()
    rnd = random.Random(g["seed"])
    providers: dict[str, list[int]] = {}
    for t in tasks:
        for tag in t["provides"]:
            providers.setdefault(tag, []).append(t["i"])
    ended_well: set[int] = set()
    ended: set[int] = set()
    dead: dict[str, bool] = {}  # resource -> held exclusively for good
    running: list[int] = []
    started: list[int] = []
    while planner.active:
        ready = planner.get_ready(g["width"] - len(running))
        for key in ready:
            t = by_key[key]
            for tag in t["requires"]:  # every provider ended well
                assert set(providers[tag]) <= ended_well, (key, tag)
            held_claims = {r for k in running for r in by_key[k]["claims"]}
            held_uses = {r for k in running for r in by_key[k]["uses"]}
            for r in t["claims"]:
                assert r not in held_claims and r not in held_uses and r not in dead
            for r in t["uses"]:
                assert r not in held_claims and not dead.get(r, False)
            groups = {by_key[k]["group"] for k in running} | {t["group"]}
            assert len(groups) == 1
            running.append(key)
        started += ready
        limit = g["limits"][t["group"]] if running and (t := by_key[running[0]]) else None
        if limit is not None:
            assert len(running) <= limit
        if not running:
            assert not planner.active, "stalled with nothing running"
            break
        key = running.pop(rnd.randrange(len(running)))
        ok = rnd.random() >= g["fail_rate"]
        deps_ok = ok or rnd.random() < 0.3
        locks_ok = ok or rnd.random() < 0.5
        planner.done(key, ok=ok, deps_ok=deps_ok, locks_ok=locks_ok)
        ended.add(key)
        if deps_ok:
            ended_well.add(key)
        if not locks_ok:
            for r in by_key[key]["claims"]:
                dead[r] = True
            for r in by_key[key]["uses"]:
                dead.setdefault(r, False)
    unrun = [u.task for u in planner.unrunnable]
    assert len(started) == len(set(started))
    assert sorted(started + unrun) == sorted(by_key), "every task runs or is reported"
    for u in planner.unrunnable:
        assert u.reason
        t = by_key[u.task]
        needs_lock = any(r in dead for r in t["claims"]) or any(dead.get(r) for r in t["uses"])
        broken_tag = any(not set(providers[tag]) <= ended_well for tag in t["requires"])
        assert needs_lock or broken_tag, u


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_order_is_topological_and_plain_order_is_insertion(g: dict[str, Any]) -> None:
    tasks = valid_virtual_tag(g["tasks"])
    planner: Planner[int] = Planner()
    for t in tasks:
        planner.add(t["i"], requires=t["requires"], provides=t["provides"])
    planner.prepare()
    order = planner.order()
    position = {k: n for n, k in enumerate(order)}
    assert sorted(order) == [t["i"] for t in tasks]
    for t in tasks:
        for tag in t["requires"]:
            assert all(
                position[p] < position[t["i"]]
                for p in [u["i"] for u in tasks if tag in u["provides"]]
            )
    plain: Planner[int] = Planner()
    for t in tasks:
        plain.add(t["i"])
    plain.prepare()
    assert plain.order() == [t["i"] for t in tasks]


def test_order_only_tags_wait_for_the_end_whatever_it_was() -> None:
    p: Planner[str] = Planner()
    p.add("a", provides=["a ended", "a ok"])
    p.add("b", requires=["a ended"], provides=["b ended"])
    p.add("c", requires=["a ok"], provides=["b ended"])
    p.add("d", requires=["b ended"])
    p.order_only(["a ended", "b ended"])
    p.prepare()
    assert p.get_ready() == ["a"]
    dropped = p.done("a", ok=False)
    assert [u.task for u in dropped] == ["c"]  # a real requirement drops it
    assert p.get_ready() == ["b"]  # an order-only one lets it run
    p.done("b")  # 'b ended' is settled by b, and by c that was dropped
    assert p.get_ready() == ["d"]


def test_strict_avoiding_never_starts_an_avoided_task() -> None:
    p = make(("a", {}), ("b", {}))
    assert p.get_ready_avoiding(lambda key: True, 8, strict=True) is None
    assert p.get_ready_avoiding(lambda key: key == "a", 8, strict=True) == "b"
    assert p.get_ready_avoiding(lambda key: True, 8) == "a"


def test_start_early_only_behind_order_only_tags_on_hand() -> None:
    p: Planner[str] = Planner()
    p.add("a", provides=["a ended"])
    p.add("b", requires=["a ended"], provides=["b ended"])
    p.add("c", requires=["b ended", "real"])
    p.add("d", provides=["real"])
    p.order_only(["a ended", "b ended"])
    p.prepare()
    assert p.get_ready() == ["a", "d"]
    assert not p.start_early("b", lambda key: False)  # 'a' runs, but not on hand
    assert p.start_early("b", lambda key: key == "a")
    assert not p.start_early("c", lambda key: True)  # 'real' is a real requirement
    assert p.dependents("a") == []  # an order-only follower gets no shared state
    p.done("a")
    p.done("d")
    assert p.get_ready() == []  # b had started early; c waits for it
    p.done("b")
    assert p.get_ready() == ["c"]


def test_start_after_runs_behind_providers_on_hand_or_drops_as_waiting() -> None:
    def chain() -> Planner[str]:
        p: Planner[str] = Planner()
        p.add("a", provides=["a"])
        p.add("b", requires=["a"], provides=["b"], uses=["lab"])
        p.add("c", requires=["b", "far"])
        p.add("d", requires=["b"])
        p.add("far", provides=["far"])
        p.add("boss", claims=["lab"], priority=1)
        p.prepare()
        assert p.get_ready(1) == ["a"]
        return p

    p = chain()
    assert p.start_after("b", lambda key: False) is None  # 'a' runs, but elsewhere
    assert p.start_after("b", lambda key: key == "a") == ["a"]
    assert p.start_after("c", lambda key: key in ("a", "b")) is None  # 'far' has not started
    assert p.start_after("d", lambda key: key in ("a", "b")) == ["b"]
    assert p.dependents("a") == ["b"]  # what 'a' hands on still reaches it
    assert p.get_ready() == ["far"]  # 'boss' waits: 'b' took 'lab' when it started
    p.done("a")  # passed: 'b' runs, as sent
    p.done("b")
    p.done("d")
    assert p.get_ready() == ["boss"]

    p = chain()
    assert p.start_after("b", lambda key: key == "a") == ["a"]
    assert p.start_after("d", lambda key: key in ("a", "b")) == ["b"]
    dropped = p.done("a", ok=False)  # failed: 'b' and 'd' are dropped, as if waiting
    assert [(u.task, u.reason) for u in dropped] == [
        ("b", "'a' not provided: a failed"),
        ("c", "'b' not provided: b did not run ('a' not provided: a failed)"),
        ("d", "'b' not provided: b did not run ('a' not provided: a failed)"),
    ]
    assert p.get_ready() == ["far", "boss"]  # 'lab' is free again

    p = chain()
    assert p.start_after("b", lambda key: key == "a") == ["a"]
    p.put_back("b")  # its worker died before it began
    assert p.get_ready() == ["far", "boss"]
    p.done("boss")
    p.done("a")
    assert p.get_ready() == ["b"]
    with pytest.raises(ValueError, match="was not started early"):
        p.put_back("b")


def test_add_many_is_add_in_turn() -> None:
    p: Planner[str] = Planner()
    p.add_many(
        [
            ("b", {"x"}, (), (), (), 0, None, None),
            ("a", (), ["x", "x"], ("r",), (), 1, None, 2.0),
            ("c", (), (), (), {"s"}, -1, "later", None),
        ]
    )
    with pytest.raises(ValueError, match="task a was added twice"):
        p.add_many([("d", (), (), (), (), 0, None, None), ("a", (), (), (), (), 0, None, None)])
    p.prepare()  # d, added before the bad row, stays
    assert drive(p) == ["d", "a", "b", "c"]  # by priority; the group "later" last


def test_failed_batch_is_unwired_from_tags_in_use() -> None:
    # a batch that joins a pending tag, requires a running task's tag and
    # forms a cycle is taken back: the tags count only the first batch
    p = make(("p", {"provides": ["x"]}), ("q", {"requires": ["x"], "provides": ["y"]}))
    assert p.get_ready() == ["p"]
    p.add("late_x", provides=["x"], requires=["z"])
    p.add("z1", requires=["y", "w"], provides=["z"])
    p.add("w1", requires=["z"], provides=["w"])
    with pytest.raises(DepcheckError, match="cycle"):
        p.prepare()
    p.done("p")  # the only provider of x left: q is ready
    assert p.get_ready() == ["q"]
    p.add("after", requires=["y"])
    assert p.prepare() == []
    p.done("q")
    assert p.get_ready() == ["after"]
    p.done("after")
    assert not p.active


def test_shared_copy_runs_on_paper_and_takes_no_tasks() -> None:
    # copy(shared=True) shares the graph (the serial order's run on paper
    # of a large suite): it orders as a full copy does, leaves the original
    # untouched, and refuses anything that would change the shared graph
    p = make(
        ("m1::a", {"requires": ["b"], "claims": ["r"]}),
        ("m1::x", {"priority": 1}),
        ("m2::b", {"provides": ["b"]}),
        ("m2::c", {"uses": ["r"]}),
    )
    shared = p.copy(shared=True)
    assert shared.order() == p.copy().order() == ["m2::b", "m1::a", "m2::c", "m1::x"]
    for change in (
        lambda: shared.add("z"),
        lambda: shared.add_group("g"),
        lambda: shared.order_only(["b"]),
        lambda: shared.order_groups(["g"]),
    ):
        with pytest.raises(RuntimeError, match="shared=True"):
            change()
    assert drive(p) == ["m2::b", "m1::a", "m2::c", "m1::x"]
    assert drive(p.copy()) == []  # a full copy of a copy of the end


def test_tags_with_many_providers_and_requirers_across_batches() -> None:
    # a tag's providers and requirers grow from one task to many (past the
    # short tuples) over batches, and a failed batch is taken back off them
    p = make(*((f"p{n}", {"provides": ["x"]}) for n in range(3)), ("r0", {"requires": ["x"]}))
    p.add_many([(f"p{n}", (), ("x",), (), (), 0, None, None) for n in range(3, 12)])
    p.add_many([(f"r{n}", ("x",), (), (), (), 0, None, None) for n in range(1, 12)])
    assert p.prepare() == []
    p.add("bad", requires=["nowhere"], provides=["x"])
    with pytest.raises(DepcheckError, match="nowhere"):
        p.prepare()
    p.add_many([(f"p{n}", (), ("x",), (), (), 0, None, None) for n in range(12, 14)])
    assert p.prepare() == []
    order = drive(p, width=3)
    assert order[:14] == [f"p{n}" for n in range(14)]
    assert sorted(order[14:]) == sorted(f"r{n}" for n in range(12))
    assert "bad" not in p
    p2 = make(("a", {"provides": ["x"]}), ("b", {"provides": ["x"]}), ("c", {"requires": ["x"]}))
    assert drive(p2, fail={"b"}) == ["a", "b"]
    assert p2.unrunnable_reason("c") is not None
