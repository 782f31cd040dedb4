"""The xUnit report (``--pexen-junitxml``): schema-valid, serial and under xdist."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

HERE = Path(__file__).resolve().parent
SHARED_XSD = HERE.parents[1] / "shared" / "data" / "junit-10.xsd"  # beside the repo in CI
XSD = SHARED_XSD if SHARED_XSD.exists() else HERE / "data" / "junit-10.xsd"
OUTCOME_TAGS = ("failure", "error", "skipped")
SUBTESTS = hasattr(pytest, "Subtests")  # the subtests fixture is built in from pytest 9

KITCHEN_SINK = r"""
import os, sys, pytest

@pytest.fixture
def disk(pexen_results):
    yield
    pexen_results.warn("disk is 91% full", name="disk")

def test_pass():
    pass

def test_info(pexen_results):
    pexen_results.info("kernel 6.1", name="kernel")

def test_warn(disk):
    pass

def test_soft_fail(pexen_results):
    pexen_results.add("pass", "first check")
    pexen_results.fail("second check broke", name="second")
    pexen_results.add("pass", None, "unnamed")
    pexen_results.add("info", "first check", "same name again")

def test_error_sub(pexen_results):
    pexen_results.add("error", "db", "connection refused")

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_setup_error(broken):
    pass

def test_skip():
    pytest.skip("not here")

@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert 0

def test_fails():
    assert 1 == 2

@pytest.mark.skipif(not hasattr(pytest, "Subtests"), reason="subtests: pytest >= 9")
def test_subtests(subtests):
    for i in range(3):
        with subtests.test("check", i=i):
            print(f"subtest {i} says \x1b[1mhi\x1b[0m")
            assert i != 1

@pytest.mark.parametrize("arg", ["a::b", "x/y", "<&>\"'", "\x1b[31m", "ünï"])
def test_odd(arg, pexen_results):
    pexen_results.info(arg, name=arg)

def test_output(record_property, record_testsuite_property, pexen_results):
    record_property("build", "1234")
    record_property("multi", "line one\nline two")
    record_testsuite_property("arch", "x86_64")
    pexen_results.warn("nul \x00 esc \x1b sur \udcff end", name="bytes")
    sys.stdout.write("esc \x1b[0m nul \x00 sur \udcff end\n" + "long " * 5000 + "\n")
    sys.stderr.write("ünicode ☃ \x01\n")
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "pexen", "-W", "error", "--strict-markers", "--strict-config", *args, timeout=120
    )


def validated(path: Path) -> ET.Element:
    """The report's root, after checking it against junit-10.xsd and the
    rules the schema cannot say."""
    xmlschema.XMLSchema(str(XSD)).validate(str(path))
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert suite.get("tests") == str(len(cases)) == root.get("tests")
    names = [(c.get("classname"), c.get("name")) for c in cases]
    assert len(set(names)) == len(names), "testcase names are not unique"
    for case in cases:
        assert sum(case.find(tag) is not None for tag in OUTCOME_TAGS) <= 1
        assert len([c for c in case if c.tag in OUTCOME_TAGS]) <= 1
    for key, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        assert suite.get(key) == str(sum(c.find(tag) is not None for c in cases))
    return root


def cases_of(root: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in root.iter("testcase")}


def kind(case: ET.Element) -> str:
    return next((tag for tag in OUTCOME_TAGS if case.find(tag) is not None), "passed")


def out(case: ET.Element) -> str:
    node = case.find("system-out")
    return node.text or "" if node is not None else ""


def test_schema_copy_matches_shared() -> None:
    copy = HERE / "data" / "junit-10.xsd"
    assert copy.exists()
    if SHARED_XSD.exists():
        assert copy.read_bytes() == SHARED_XSD.read_bytes()


@pytest.fixture
def sink(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\njunit_logging = all\n")
    pytester.makepyfile(test_sink=KITCHEN_SINK)
    return pytester


def test_kitchen_sink_serial(sink: pytest.Pytester) -> None:
    result = run(sink, "--pexen-junitxml=out/report.xml")
    assert result.ret == 1
    root = validated(sink.path / "out" / "report.xml")
    cases = cases_of(root)
    assert kind(cases["test_pass"]) == "passed"
    assert kind(cases["test_info"]) == "passed"
    assert out(cases["test_info::kernel"]).startswith("kernel 6.1")
    assert kind(cases["test_warn"]) == "passed"
    assert out(cases["test_warn"]).startswith("warn: disk: disk is 91% full")
    assert out(cases["test_warn::disk"]).startswith("disk is 91% full")
    assert kind(cases["test_soft_fail"]) == "failure"
    assert cases["test_soft_fail"].find("failure").get("message") == (  # type: ignore[union-attr]
        "1 sub-result failed: second: second check broke"
    )
    assert kind(cases["test_soft_fail::first check"]) == "passed"
    assert kind(cases["test_soft_fail::second"]) == "failure"
    assert out(cases["test_soft_fail::3"]) == "unnamed"
    assert out(cases["test_soft_fail::first check (2)"]) == "same name again"
    assert kind(cases["test_error_sub"]) == "failure"  # FAILED in the terminal too
    assert kind(cases["test_error_sub::db"]) == "error"
    assert kind(cases["test_setup_error"]) == "error"
    assert "setup broke" in cases["test_setup_error"].find("error").get("message", "")  # type: ignore[union-attr]
    assert kind(cases["test_skip"]) == "skipped"
    assert cases["test_xfail"].find("skipped").get("message") == "xfail: known bug"  # type: ignore[union-attr]
    assert kind(cases["test_fails"]) == "failure"
    if SUBTESTS:
        assert kind(cases["test_subtests"]) == "failure"
        assert kind(cases["test_subtests::[check] (i=0)"]) == "passed"
        assert kind(cases["test_subtests::[check] (i=1)"]) == "failure"
        assert "subtest 1 says #x1B[1mhi" in out(cases["test_subtests::[check] (i=1)"])
    odd = [name for name in cases if name.startswith("test_odd[")]
    assert len(odd) == 10  # 5 tests, 5 sub-results
    assert "test_odd[a::b]::a::b" in cases and "test_odd[x/y]" in cases
    assert "test_odd[<&>\"']" in cases
    output = out(cases["test_output"])
    assert "[[PROPERTY|build=1234]]" in output
    assert "[[PROPERTY|multi=line one\\nline two]]" in output
    assert "esc #x1B[0m nul #x00 sur" in output
    assert ("long " * 5000).strip() in output
    err = cases["test_output"].find("system-err")
    assert err is not None and "ünicode ☃ #x01" in (err.text or "")
    assert out(cases["test_output::bytes"]).startswith("nul #x00 esc #x1B sur \\udcff end")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["arch"] == "x86_64"
    assert props["pexen.version"]
    classnames = {c.get("classname") for c in root.iter("testcase")}
    assert classnames == {"test_sink"}
    assert not [p for p in (sink.path / "out").iterdir() if p.name != "report.xml"]


def outcomes(root: ET.Element) -> set[tuple[str, str]]:
    return {(c.get("name", ""), kind(c)) for c in root.iter("testcase")}


def test_kitchen_sink_xdist_matches_serial(sink: pytest.Pytester) -> None:
    serial = run(sink, "--pexen-junitxml=serial.xml")
    parallel = run(sink, "-p", "xdist", "-n", "2", "--pexen-junitxml=xdist.xml")
    assert serial.ret == parallel.ret == 1
    one, two = validated(sink.path / "serial.xml"), validated(sink.path / "xdist.xml")
    assert outcomes(one) == outcomes(two)
    cases = cases_of(two)
    assert "[[PROPERTY|pexen.worker=gw" in out(cases["test_output"])
    props = {p.get("name"): p.get("value") for p in two.iter("property")}
    assert props["arch"] == "x86_64"  # record_testsuite_property crosses from a worker
    assert props["pexen.workers"] == "2"


def test_pexen_facts_and_dist_pexen(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_f="""
        import pytest_pexen as pexen

        @pexen.provides("db")
        @pexen.claims("lab")
        def test_db(pexen_results):
            pexen_results.fail("schema drift", name="schema")

        @pexen.requires("db")
        def test_use():
            pass
    """
    )
    for args in ((), ("-p", "xdist", "-n", "2")):
        result = run(pytester, "--pexen-junitxml=r.xml", *args)
        result.assert_outcomes(failed=1, skipped=1)
        cases = cases_of(validated(pytester.path / "r.xml"))
        assert "[[PROPERTY|pexen.provides=db]]" in out(cases["test_db"])
        assert "[[PROPERTY|pexen.claims=lab]]" in out(cases["test_db"])
        assert kind(cases["test_db::schema"]) == "failure"
        assert kind(cases["test_use"]) == "skipped"
        assert "test_f.py::test_db failed" in (cases["test_use"].find("skipped").get("message", ""))  # type: ignore[union-attr]


def test_worker_crash_loses_no_other_results(pytester: pytest.Pytester) -> None:
    body = ["import os"]
    for i in range(6):
        body.append(f"def test_r{i}(pexen_results):\n    pexen_results.warn('w{i}', name='n')")
    body.append("def test_crash(pexen_results):\n    pexen_results.info('before')\n    os._exit(3)")
    pytester.makepyfile(test_c="\n".join(body))
    result = run(pytester, "-p", "xdist", "-n", "2", "--pexen-junitxml=r.xml")
    assert result.ret == 1
    cases = cases_of(validated(pytester.path / "r.xml"))
    for i in range(6):
        assert out(cases[f"test_r{i}::n"]) == f"w{i}"
    assert kind(cases["test_crash"]) == "error"


def test_ini_twin_and_atomic_replace(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npexen_junitxml = reports/junit.xml\n")
    pytester.makepyfile(test_a="def test_a(): pass")
    target = pytester.path / "reports" / "junit.xml"
    target.parent.mkdir()
    target.write_text("old")
    run(pytester).assert_outcomes(passed=1)
    validated(target)
    assert [p.name for p in target.parent.iterdir()] == ["junit.xml"]


def test_interrupted_run_writes_a_whole_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_i="""
        def test_a(pexen_results):
            pexen_results.warn("before the stop")

        def test_b():
            raise KeyboardInterrupt

        def test_c():
            pass
    """
    )
    result = run(pytester, "--pexen-junitxml=r.xml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    cases = cases_of(validated(pytester.path / "r.xml"))
    assert "test_a::1" in cases and "test_c" not in cases


@pytest.mark.parametrize("where", ["file/report.xml", "adir"])
def test_unwritable_path_is_a_usage_error(pytester: pytest.Pytester, where: str) -> None:
    (pytester.path / "file").write_text("")
    (pytester.path / "adir").mkdir()
    pytester.makepyfile(test_a="def test_a(): pass")
    result = run(pytester, f"--pexen-junitxml={where}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "pexen: cannot write the xUnit report" in err
    assert "Traceback" not in err + result.stdout.str()
    assert "INTERNALERROR" not in err + result.stdout.str()


def test_without_sub_results_matches_pytest_counts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_p="""
        import pytest
        def test_a(): pass
        def test_b(): assert 0
        def test_c(): pytest.skip("no")
        @pytest.fixture
        def bad():
            yield
            raise RuntimeError("teardown")
        def test_d(bad): pass
    """
    )
    run(pytester, "--pexen-junitxml=ours.xml", "--junitxml=theirs.xml")
    ours = validated(pytester.path / "ours.xml").find("testsuite")
    theirs = ET.parse(pytester.path / "theirs.xml").getroot().find("testsuite")
    assert ours is not None and theirs is not None
    # before pytest 9 its report counts a passed test whose teardown errors
    # twice (a second testcase for the error); ours, like pytest 9's, once
    keys = ("tests", "failures", "errors", "skipped")
    for key in keys if pytest.version_tuple[0] >= 9 else keys[1:]:
        assert ours.get(key) == theirs.get(key), key


@pytest.mark.parametrize("xdist", [(), ("-p", "xdist", "-n", "2")], ids=["serial", "xdist"])
def test_collection_error_and_strict_warn(
    pytester: pytest.Pytester, xdist: tuple[str, ...]
) -> None:
    pytester.makepyfile(
        test_broken="def test_x(:\n    pass\n",
        test_ok="""
        def test_w(pexen_results):
            pexen_results.warn("90% full", name="disk")
    """,
    )
    run(
        pytester,
        "--pexen-junitxml=r.xml",
        "--pexen-strict-warn",
        "--continue-on-collection-errors",
        *xdist,
    )
    root = validated(pytester.path / "r.xml")
    cases = cases_of(root)
    assert kind(cases["test_broken"]) == "error"
    assert cases["test_broken"].find("error").get("message") == "collection failure"  # type: ignore[union-attr]
    assert kind(cases["test_w"]) == "failure"
    failure = cases["test_w"].find("failure")
    assert failure is not None
    assert failure.get("message") == "1 sub-result warned under --pexen-strict-warn: disk: 90% full"
    assert kind(cases["test_w::disk"]) == "passed"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["pexen.strict_warn"] == "true"


def test_a_run_stopped_before_any_test_keeps_the_report_there(pytester: pytest.Pytester) -> None:
    """A refused ``--pexen-resume`` (another selection), a dependency cycle:
    the session stops with a usage error before any test. The report of the
    boots before, at the same path (as a boot unit gives it every time), is
    the run's only one: it is left as it was, and no line says it was
    written (it was replaced by an empty one)."""
    pytester.makepyfile(
        test_s="""
        import pytest_pexen as pexen

        def test_page():
            pass

        def test_other():
            pass
        """,
        test_c="""
        import pytest_pexen as pexen

        @pexen.requires("test_d")
        def test_c():
            pass

        @pexen.requires("test_c")
        def test_d():
            pass
        """,
    )
    report = pytester.path / "p.xml"
    first = run(pytester, "test_s.py", "-k", "page", "--pexen-junitxml=p.xml")
    assert first.ret == pytest.ExitCode.OK
    kept = report.read_bytes()
    for args in (["test_s.py", "--pexen-resume"], ["test_c.py"]):
        stopped = run(pytester, *args, "--pexen-junitxml=p.xml", "--pexen-timeline=t.html")
        assert stopped.ret == pytest.ExitCode.USAGE_ERROR
        assert report.read_bytes() == kept
        assert "pexen xUnit report" not in stopped.stdout.str()
        assert "no timeline written" not in stopped.stdout.str()
