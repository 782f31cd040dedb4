"""Initial shared state from the command line and the ini file (SPEC
section 3): ``KEY=VALUE`` is a string, ``KEY:=JSON`` a JSON value."""

from __future__ import annotations

import pytest


def test_values_are_strings_unless_given_as_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_s="""
        def test_shared(pexen_shared):
            assert pexen_shared == {
                "version": "1.10", "build": "1e5", "flag": "null", "empty": "", "eq": "a=b",
                "spaced": " x ", "n": 3, "flags": ["a", "b"], "none": None, "quoted": "1.10",
                "a:b": "c", "env": "cli",
            }
        """
    )
    pytester.makeini(
        """
        [pytest]
        pexen_shared =
            env=ini
            flags:=["a", "b"]
            none := null
        """
    )
    result = pytester.runpytest(
        "-p", "pexen",
        "--pexen-shared", "version=1.10", "--pexen-shared", "build=1e5",
        "--pexen-shared", "flag=null", "--pexen-shared", "empty=",
        "--pexen-shared", "eq=a=b", "--pexen-shared", "spaced= x ",
        "--pexen-shared", "n:=3", "--pexen-shared", 'quoted:="1.10"',
        "--pexen-shared", "a:b=c", "--pexen-shared=env=cli",
    )  # fmt: skip
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("where", ["option", "ini"])
def test_bad_json_is_a_usage_error_naming_the_key(pytester: pytest.Pytester, where: str) -> None:
    pytester.makepyfile(test_a="def test_a(): pass")
    args = ["-p", "pexen"]
    if where == "option":
        args += ["--pexen-shared", "retries:=3x"]
        source = "--pexen-shared"
    else:
        pytester.makeini("[pytest]\npexen_shared =\n    retries:=3x\n")
        source = "ini option pexen_shared"
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.str().strip() == (
        f"ERROR: pexen: {source}: the value of key 'retries' is not JSON: '3x' (Extra data: "
        "line 1 column 2 (char 1)); KEY=VALUE gives a string"
    )
    assert result.stdout.str() == ""
