"""Every Python block of docs/engine.md is a complete script: run it as
written, in a fresh interpreter, and compare its output with the ``text``
block that follows it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "engine.md"
PARTS = re.compile(r"^## (?P<heading>.*?)$|^```(?P<lang>\w+)\n(?P<body>.*?)^```$", re.M | re.S)


def examples() -> list[pytest.ParameterSet]:
    """(script, expected output) of each python block, named by its section."""
    heading, pending, out = "", None, []
    for part in PARTS.finditer(DOC.read_text()):
        if part["heading"] is not None:
            heading = part["heading"]
        elif part["lang"] == "python":
            assert pending is None, f"{heading}: a python block without an output block"
            pending = part["body"]
        elif part["lang"] == "text" and pending is not None:
            out.append(pytest.param(pending, part["body"], id=heading))
            pending = None
    assert pending is None, f"{heading}: a python block without an output block"
    return out


def test_the_page_has_an_example_per_pool() -> None:
    scripts = [example.values[0] for example in examples()]
    assert any("ThreadWorkerPool(" in str(script) for script in scripts)
    assert any("ProcessWorkerPool(" in str(script) for script in scripts)


@pytest.mark.parametrize(("script", "expected"), examples())
def test_example_runs_as_written(tmp_path: Path, script: str, expected: str) -> None:
    path = tmp_path / "example.py"
    path.write_text(script)
    proc = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # tasks that run at the same time may finish in another order
    assert sorted(proc.stdout.splitlines()) == sorted(expected.splitlines())
