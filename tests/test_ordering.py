"""Dependency ordering, metadata merging and run-time skips in a serial run."""

from __future__ import annotations

import pytest


def outcomes(pytester: pytest.Pytester, *args: str) -> list[tuple[str, str]]:
    """Run in-process; (test name, outcome) in the order the tests ended."""
    rec = pytester.inline_run("-p", "pexen", *args)
    out = []
    for rep in rec.getreports("pytest_runtest_logreport"):
        if rep.when == "call" or (rep.when == "setup" and not rep.passed):
            out.append((rep.nodeid.rpartition("::")[2], rep.outcome))
    return out


def names(pytester: pytest.Pytester, *args: str) -> list[str]:
    return [name for name, _ in outcomes(pytester, *args)]


def test_unmarked_suite_keeps_collection_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        def test_c(): pass
        def test_a(): pass
        def test_b(): pass
    """
    )
    assert names(pytester) == ["test_c", "test_a", "test_b"]


def test_requires_moves_only_the_dependent(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.requires("db")
        def test_query(): pass
        def test_other(): pass
        def test_more(): pass
        @pexen.provides("db")
        def test_create(): pass
        def test_last(): pass
    """
    )
    assert names(pytester) == ["test_other", "test_more", "test_create", "test_query", "test_last"]


def test_requires_by_node_id_and_relative_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.requires("test_login")
        def test_profile(): pass
        @pexen.requires("TestCart::test_add")
        def test_checkout(): pass
        @pexen.requires("test_a.py::test_login")
        def test_logout(): pass
        def test_login(): pass
        class TestCart:
            @pexen.requires("test_remove")
            def test_empty(self): pass
            def test_add(self): pass
            def test_remove(self): pass
    """
    )
    order = names(pytester)
    assert order.index("test_login") < order.index("test_profile")
    assert order.index("test_login") < order.index("test_logout")
    assert order.index("test_add") < order.index("test_checkout")
    assert order.index("test_remove") < order.index("test_empty")  # class-relative


def test_requiring_a_parametrized_test_waits_for_all(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest, pytest_pexen as pexen
        @pexen.requires("test_setup")
        def test_use(): pass
        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_setup(n):
            assert n != 2
    """
    )
    result = outcomes(pytester)
    assert result[-1] == ("test_use", "skipped")
    assert [o for _, o in result[:3]] == ["passed", "failed", "passed"]


def test_markers_merge_module_class_function_and_param(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest_pexen
        seen = {}
        def pytest_collection_finish(session):
            for item in session.items:
                meta = item.stash[pytest_pexen.META_KEY]
                print("META", item.name, sorted(meta.requires), sorted(meta.claims),
                      meta.priority, meta.group)
    """)
    pytester.makepyfile(
        test_a="""
        import pytest, pytest_pexen as pexen
        pytestmark = [pexen.claims("lab"), pexen.priority(5)]
        @pexen.provides("x", "y")
        def test_p(): pass
        @pexen.requires("x")
        class TestK:
            pytestmark = pexen.group("g")
            @pexen.requires("y")
            @pexen.priority(1)
            def test_f(self): pass
            @pytest.mark.parametrize("n", [pytest.param(1, marks=pexen.uses("net"))])
            def test_p(self, n): pass
    """
    )
    result = pytester.runpytest("-p", "pexen", "-s", "--strict-markers")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "META test_p [] ['lab'] 5 None",
            "META test_f ['x', 'y'] ['lab'] 1 g",
            "META test_p[1] ['x'] ['lab'] 5 g",
        ]
    )


def test_conftest_hook_is_tree_scoped(pytester: pytest.Pytester) -> None:
    pytester.mkpydir("net")
    pytester.makepyfile(
        **{
            "net/conftest.py": """
            def pytest_pexen_task(item, meta):
                meta.claims.add("network")
                meta.priority = -1
        """,
            "net/test_net.py": "def test_ping(): pass",
            "test_local.py": "def test_local(): pass",
            "conftest.py": """
            import pytest_pexen
            def pytest_collection_finish(session):
                for item in session.items:
                    meta = item.stash[pytest_pexen.META_KEY]
                    print("META", item.name, sorted(meta.claims), meta.priority)
        """,
        }
    )
    result = pytester.runpytest("-p", "pexen", "-s", "test_local.py", "net")
    result.stdout.fnmatch_lines(["META test_ping ['network'] -1", "META test_local [] 0"])


def test_marked_tests_share_empty_fields_only_without_the_hook(
    pytester: pytest.Pytester,
) -> None:
    # No pytest_pexen_task anywhere: the tag fields a test's markers leave
    # empty are one shared read-only frozenset (docs/metadata.md); what the
    # markers fill is a set of its own. With the hook, every field is a set
    # of its own that the hook may add to in place.
    check = """
        import pytest_pexen as pexen
        def test_a(): pass
        @pexen.requires("test_a")
        @pexen.claims("db")
        def test_b(request):
            meta = request.node.stash[pexen.META_KEY]
            print("META", meta.requires == {"test_a"}, meta.claims == {"db"},
                  type(meta.requires).__name__, type(meta.provides).__name__,
                  meta.provides is meta.uses, sorted(meta.uses))
    """
    pytester.makepyfile(**{"plain/test_plain.py": check, "hooked/test_hooked.py": check})
    pytester.makepyfile(
        **{
            "hooked/conftest.py": """
            def pytest_pexen_task(item, meta):
                if item.name == "test_b":
                    meta.uses.add("net")
        """
        }
    )
    result = pytester.runpytest("-p", "pexen", "-s", "plain")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*META True True set frozenset True []"])
    result = pytester.runpytest("-p", "pexen", "-s", "hooked")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*META True True set set False [[]'net'[]]"])


def test_failed_provider_skips_dependents_transitively(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_db="""
        import pytest_pexen as pexen
        @pexen.provides("db")
        def test_create(): assert False
        @pexen.requires("db")
        @pexen.provides("web")
        def test_web(): pass
        @pexen.requires("web")
        def test_page(): pass
        def test_unrelated(): pass
    """
    )
    result = pytester.runpytest("-p", "pexen", "-rs")
    result.assert_outcomes(failed=1, passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] test_db.py:4: pexen: 'db' not provided: "
            "test_db.py::test_create failed",
            "SKIPPED [[]1[]] test_db.py:7: pexen: 'web' not provided: test_db.py::test_web did not "
            "run ('db' not provided: test_db.py::test_create failed)",
        ]
    )


@pytest.mark.parametrize("how", ["skip", "error"])
def test_skipped_or_erroring_provider(pytester: pytest.Pytester, how: str) -> None:
    body = "pytest.skip('no')" if how == "skip" else "pass"
    pytester.makepyfile(
        test_a=f"""
        import pytest, pytest_pexen as pexen
        @pytest.fixture
        def broken():
            raise RuntimeError("setup broke")
        @pexen.provides("db")
        def test_p({"broken" if how == "error" else ""}): {body}
        @pexen.requires("db")
        def test_d(): pass
    """
    )
    result = pytester.runpytest("-p", "pexen", "-rs")
    word = "was skipped" if how == "skip" else "errored"
    result.stdout.fnmatch_lines([f"*pexen: 'db' not provided: test_a.py::test_p {word}*"])


def test_task_fail_error_deps_ok(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.provides("db")
        def test_p(): raise pexen.TaskFailError("soft", deps_ok=True)
        @pexen.provides("x")
        def test_q(): raise pexen.TaskFailError("hard", deps_ok=False)
        @pexen.requires("db")
        def test_d(): pass
        @pexen.requires("x")
        def test_e(): pass
    """
    )
    result = dict(outcomes(pytester))
    assert result == {
        "test_p": "failed",
        "test_q": "failed",
        "test_d": "passed",
        "test_e": "skipped",
    }


def test_priority_and_groups(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.group("vm")
        def test_vm1(): pass
        def test_plain(): pass
        @pexen.priority(-1)
        def test_urgent(): pass
        @pexen.group("vm")
        def test_vm2(): pass
        @pexen.group("late")
        @pexen.priority(3)
        def test_late(): pass
    """
    )
    # default group (lowest priority -1) first, then vm (0), then late (3)
    assert names(pytester) == ["test_urgent", "test_plain", "test_vm1", "test_vm2", "test_late"]


def test_a_group_runs_before_the_default_group_unless_it_needs_it(
    pytester: pytest.Pytester,
) -> None:
    """Groups are ordered by their lowest priority, the default group like
    any other; a group that requires what another group provides runs
    after it, and lends it its priority."""
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        def test_plain(): pass
        @pexen.group("vm")
        @pexen.priority(-5)
        def test_vm(): pass
        @pexen.group("net")
        @pexen.priority(-9)
        @pexen.requires("db")
        def test_net(): pass
        @pexen.provides("db")
        def test_db(): pass
        @pexen.group("late")
        def test_late(): pass
    """
    )
    # net (-9) needs db from the default group, which takes on its priority:
    # default, net, vm (-5), late (0, after the default group)
    assert names(pytester) == ["test_plain", "test_db", "test_net", "test_vm", "test_late"]


def test_a_group_follows_the_group_its_pytest_dependency_needs(pytester: pytest.Pytester) -> None:
    """pytest-dependency's relations order groups as pexen.requires does."""
    pytester.makepyfile(
        test_a="""
        import pytest, pytest_pexen as pexen
        @pytest.mark.dependency()
        def test_a(): pass
        @pexen.group("vm")
        @pexen.priority(-5)
        @pytest.mark.dependency(depends=["test_a"])
        def test_b(): pass
    """
    )
    assert outcomes(pytester, "-p", "dependency") == [("test_a", "passed"), ("test_b", "passed")]


def test_module_neighbours_stay_together(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_1="""
            import pytest_pexen as pexen
            @pexen.requires("b")
            def test_a1(): pass
            def test_a2(): pass
        """,
        test_2="""
            import pytest_pexen as pexen
            @pexen.provides("b")
            def test_b1(): pass
            def test_b2(): pass
            def test_b3(): pass
        """,
    )
    assert names(pytester) == ["test_a2", "test_b1", "test_b2", "test_b3", "test_a1"]


def test_serial_order_keeps_modules_together(pytester: pytest.Pytester) -> None:
    """A test whose providers ran runs next to its module's other ready
    tests, and a run that must leave a module goes where the most tests are
    ready; pexen's order used to go back and forth between the modules
    (load, other, report, index, summary: three module changes, each a
    module fixture set up again)."""
    pytester.makeconftest(
        """
        import pytest
        @pytest.fixture(scope="module", autouse=True)
        def module_log(request):
            with open("log.txt", "a") as log:
                print("setup", request.module.__name__, file=log)
        @pytest.fixture(autouse=True)
        def test_log(request, module_log):
            with open("log.txt", "a") as log:
                print(request.node.name, file=log)
        """
    )
    pytester.makepyfile(
        test_a="""
            import pytest_pexen as pexen
            @pexen.requires("test_b.py::test_load")
            def test_report(): pass
            @pexen.requires("test_b.py::test_index")
            def test_summary(): pass
        """,
        test_b="""
            import pytest_pexen as pexen
            @pexen.requires("test_load")
            def test_index(): pass
            def test_load(): pass
            def test_other(): pass
        """,
    )
    pytester.runpytest("-p", "pexen").assert_outcomes(passed=5)
    assert (pytester.path / "log.txt").read_text().splitlines() == [
        "setup test_b",
        "test_load",
        "test_index",
        "test_other",
        "setup test_a",
        "test_report",
        "test_summary",
    ]


def test_exitfirst_stops_as_usual(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.requires("p")
        def test_d(): pass
        @pexen.provides("p")
        def test_p(): assert False
        def test_z(): pass
    """
    )
    result = pytester.runpytest("-p", "pexen", "-x")
    result.assert_outcomes(failed=1)


def test_shared_state_flows_to_dependents(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.requires("login")
        def test_use(pexen_shared):
            assert pexen_shared == {"token": "abc", "env": "ci", "n": 3}
        @pexen.provides("login")
        def test_login(pexen_shared):
            pexen_shared["token"] = "abc"
        def test_bad(pexen_shared):
            pexen_shared["x"] = object()
    """
    )
    pytester.makeini("[pytest]\npexen_shared =\n    env=ci\n")
    result = pytester.runpytest("-p", "pexen", "--pexen-shared", "n:=3")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*pexen_shared?'x'? = <object*is not JSON serialisable*"])


def test_bad_shared_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_a(): pass")
    result = pytester.runpytest_subprocess("-p", "pexen", "--pexen-shared", "novalue")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--pexen-shared expects KEY=VALUE or KEY:=JSON, got 'novalue'*"])


def test_rerun_of_a_flaky_provider_counts_the_last_attempt(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_rerunfailures")
    pytester.makepyfile(
        test_a="""
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
    result = pytester.runpytest("-p", "pexen", "--reruns", "1", "-rs")
    assert result.parseoutcomes() == {"passed": 2, "failed": 1, "skipped": 1, "rerun": 2}
    result.stdout.fnmatch_lines(["*pexen: 'y' not provided: test_a.py::test_broken failed"])


# A serial run that goes as planned leaves the planner untold (graph.runtime.OnPlan);
# whatever differs catches it up and hands over to the full run hooks. The same
# outcomes either way:


def test_a_run_as_planned_makes_no_report_through_pexen(pytester: pytest.Pytester) -> None:
    """Every test passes in its turn: no ``makereport`` wrapper, no end of
    test hook; the planner, read after the run, knows every test ended."""
    pytester.makeconftest(
        """
        import pytest
        from pytest_pexen.graph.runtime import RUN_KEY

        @pytest.hookimpl(trylast=True)
        def pytest_sessionfinish(session):
            plugin = session.config.pluginmanager.get_plugin("pexen-run")
            hooks = ("pytest_runtest_makereport", "pytest_runtest_logfinish")
            print("HOOKS", [name for name in hooks if hasattr(plugin, name)])
            print("ACTIVE", session.config.stash[RUN_KEY].planner.active)
        """
    )
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.requires("test_a.py::test_c")
        def test_b(): pass
        def test_c(): pass
        """
    )
    result = pytester.runpytest("-p", "pexen", "-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*HOOKS [[][]]", "ACTIVE False"])


def test_the_planner_read_mid_run_is_caught_up(pytester: pytest.Pytester) -> None:
    """Read during a test's call: the tests before it ended, it runs; the
    run goes on with the planner told (a failure after it skips dependents)."""
    pytester.makeconftest(
        """
        import pytest
        from pytest_pexen.graph.runtime import RUN_KEY

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_call(item):
            if item.name == "test_p":
                planner = item.config.stash[RUN_KEY].planner
                keys = [(n, f"test_a.py::{n}") for n in ("test_first", "test_p", "test_d")]
                print("STATE", [
                    (n, planner.is_running(key), planner.is_waiting(key)) for n, key in keys
                ])
        """
    )
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.requires("p")
        def test_d(): pass
        def test_first(): pass
        @pexen.provides("p")
        def test_p(): assert False
        """
    )
    result = pytester.runpytest("-p", "pexen", "-s", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*STATE [[]('test_first', False, False), ('test_p', True, False), "
            "('test_d', False, True)[]]",
            "*pexen: 'p' not provided: test_a.py::test_p failed*",
        ]
    )


def test_a_controlled_failure_from_a_call_wrapper_keeps_its_flags(
    pytester: pytest.Pytester,
) -> None:
    """The test itself passed; a conftest wrapper of its call raises the
    controlled failure: its flags count as a test's own do."""
    pytester.makeconftest(
        """
        import pytest
        import pytest_pexen as pexen

        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_call(item):
            yield
            if item.name == "test_p":
                raise pexen.TaskFailError("leaked a thread", deps_ok=True)
            if item.name == "test_q":
                raise pexen.TaskFailError("broke the disk", deps_ok=False)
        """
    )
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.requires("db")
        def test_d(): pass
        @pexen.requires("x")
        def test_e(): pass
        @pexen.provides("db")
        def test_p(): pass
        @pexen.provides("x")
        def test_q(): pass
        """
    )
    assert dict(outcomes(pytester)) == {
        "test_p": "failed",
        "test_q": "failed",
        "test_d": "passed",
        "test_e": "skipped",
    }


def test_a_test_run_out_of_its_turn_waits_for_nothing(pytester: pytest.Pytester) -> None:
    """A run loop of another plugin runs the tests backwards: a test whose
    provider has not run yet is skipped with the reason, the rest run."""
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtestloop(session):
            items = session.items[::-1]
            for n, item in enumerate(items):
                following = items[n + 1] if n + 1 < len(items) else None
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=following)
            return True
        """
    )
    pytester.makepyfile(
        test_a="""
        import pytest_pexen as pexen
        @pexen.provides("p")
        def test_p(): pass
        @pexen.requires("p")
        def test_d(): pass
        def test_z(): pass
        """
    )
    result = pytester.runpytest("-p", "pexen", "-rs")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*test_a.py*a requirement of this test has not run yet*"])
