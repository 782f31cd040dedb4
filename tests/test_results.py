"""Several results per test: ``pexen_results``, ``subtests``, the final outcome."""

from __future__ import annotations

import pytest

WARN_SUITE = """
    import pytest

    @pytest.fixture
    def disk(pexen_results):
        yield
        pexen_results.warn("disk is 91% full", name="disk")

    def test_warned(disk, pexen_results):
        pexen_results.info("kernel 6.1", name="kernel")

    def test_plain():
        pass
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "pexen", "-W", "error", "--strict-markers", "--strict-config", *args, timeout=120
    )


def test_warn_passes_and_is_summed_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_w=WARN_SUITE)
    result = run(pytester)
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*= pexen results =*",
            "WARN test_w.py::test_warned::disk - disk is 91% full",
            "pexen: 1 test warned",
        ]
    )
    assert "kernel" not in result.stdout.str()  # info is kept, not shouted


def test_strict_warn_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_w=WARN_SUITE)
    result = run(pytester, "--pexen-strict-warn")
    # the warn came from a fixture's teardown: pytest counts the call (passed)
    # and the teardown (error) apart
    result.assert_outcomes(passed=2, errors=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*pexen: warned, and --pexen-strict-warn makes that a failure:",
            "*warn disk: disk is 91% full*",
        ]
    )


def test_strict_warn_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npexen_strict_warn = true\n")
    pytester.makepyfile(
        test_w="""
        def test_w(pexen_results):
            pexen_results.warn("meh")
    """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)


def test_soft_fail_goes_on_and_fails_at_the_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_s="""
        def test_checks(pexen_results):
            pexen_results.add("pass", "ping")
            pexen_results.fail("fan speed 0 rpm", name="fan")
            pexen_results.add("pass", message="unnamed")
            print("went on")

        def test_error_word(pexen_results):
            pexen_results.add("error", "db", "connection refused")
    """
    )
    result = run(pytester, "-rA")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*pexen: failed by sub-results:*",
            "*fail fan: fan speed 0 rpm*",
            "*went on*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= pexen results =*",
            "ERROR test_s.py::test_error_word::db - connection refused",
            "FAIL test_s.py::test_checks::fan - fan speed 0 rpm",
            "pexen: 2 failed by sub-results",
        ]
    )


def test_unknown_outcome_is_one_clear_sentence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_u="""
        def test_u(pexen_results):
            pexen_results.add("maybe", "x")
    """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert (
        "pexen_results.add(): unknown outcome 'maybe'; use one of error, fail, warn, "
        "pass, info, skip" in out
    )
    assert "Traceback" not in out and "INTERNALERROR" not in out
    assert "def test_u" not in out  # no source listing, just the sentence


def test_skipped_test_with_passing_results_stays_skipped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_k="""
        import pytest
        def test_some(pexen_results):
            pexen_results.add("pass", "first half")
            pytest.skip("second half needs a GPU")

        def test_none(pexen_results):
            pytest.skip("nothing done")

        @pytest.mark.xfail(reason="known")
        def test_xf(pexen_results):
            pexen_results.fail("also broken")
            assert 0
    """
    )
    result = run(pytester)
    result.assert_outcomes(skipped=2, xfailed=1)  # pass and info never change an outcome
    assert "failed by sub-results" not in result.stdout.str()  # the xfailed test is xfailed


def test_session_fixture_reports_on_the_test_it_serves(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_f="""
        import pytest

        @pytest.fixture(scope="session")
        def lab(pexen_results):
            pexen_results.info("lab booted", name="boot")
            yield
            pexen_results.fail("lab left dirty", name="cleanup")

        def test_first(lab):
            pass

        def test_last(lab):
            pass
    """
    )
    result = run(pytester, "-v")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_f.py::test_last ERROR*",
            "FAIL test_f.py::test_last::cleanup - lab left dirty",
        ]
    )


@pytest.mark.skipif(not hasattr(pytest, "Subtests"), reason="subtests: pytest >= 9")
def test_subtests_make_the_test_fail(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_sub="""
        def test_sub(subtests):
            for i in range(3):
                with subtests.test("check", i=i):
                    assert i != 1
    """
    )
    for args in ((), ("-p", "xdist", "-n", "2")):
        result = run(pytester, *args)
        assert result.ret == 1
        result.stdout.fnmatch_lines(
            [
                "SUBFAILED*[[]check[]] (i=*1*) test_sub.py::test_sub - assert 1 != 1",
                "FAILED test_sub.py::test_sub - contains 1 failed subtest",
                "*2 failed*",  # the subtest and its test, as pytest counts them
            ]
        )
        assert "pexen results" not in result.stdout.str()


@pytest.mark.skipif(not hasattr(pytest, "Subtests"), reason="subtests: pytest >= 9")
def test_failed_by_sub_results_counts_only_pexen_results(pytester: pytest.Pytester) -> None:
    """The count of tests failed by sub-results is pexen's: a test that
    pytest's own subtests failed is counted by pytest (it was counted here
    too, but only when another test's pexen_results made a line)."""
    pytester.makepyfile(
        test_sub="""
        def test_sub(subtests):
            with subtests.test("check"):
                assert False

        def test_soft(pexen_results):
            pexen_results.fail("disk is dirty")
    """
    )
    result = run(pytester)
    result.stdout.fnmatch_lines(["FAIL test_sub.py::test_soft - disk is dirty"])
    assert "pexen: 1 failed by sub-results" in result.stdout.lines


@pytest.mark.parametrize("xdist", [(), ("-p", "xdist", "-n", "2")], ids=["serial", "xdist"])
def test_soft_failed_provider_skips_its_dependents(
    pytester: pytest.Pytester, xdist: tuple[str, ...]
) -> None:
    pytester.makepyfile(
        test_p="""
        import pytest_pexen as pexen

        @pexen.provides("db")
        def test_db(pexen_results):
            pexen_results.fail("schema drift")

        @pexen.requires("db")
        def test_use():
            pass

        @pexen.provides("net")
        def test_net(pexen_results):
            pexen_results.warn("slow link")

        @pexen.requires("net")
        def test_fetch():
            pass
    """
    )
    result = run(pytester, "-rs", *xdist)
    result.assert_outcomes(failed=1, skipped=1, passed=2)
    result.stdout.fnmatch_lines(["*pexen: 'db' not provided: test_p.py::test_db failed*"])


def test_invisible_when_unused(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        def pytest_sessionfinish(session):
            print("RECORDER", session.config.pluginmanager.has_plugin("pexen-results"))
    """)
    pytester.makepyfile(test_plain="def test_a(): pass")
    result = run(pytester, "-s")
    result.stdout.fnmatch_lines(["*RECORDER False*"])
    assert "pexen results" not in result.stdout.str()
    pytester.makepyfile(test_user="def test_b(pexen_results): pexen_results.info('x')")
    result = run(pytester, "-s")
    result.stdout.fnmatch_lines(["*RECORDER True*"])


def test_dynamic_request_records_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_d="""
        def test_d(request):
            request.getfixturevalue("pexen_results").fail("late")
    """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAIL test_d.py::test_d - late"])
