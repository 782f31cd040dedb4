"""ProcessWorkerPool as scripts use it: start methods, an unguarded main
script, exceptions that cannot cross back (SPEC section 10).

Each case is a real script run by a fresh interpreter, because what is
tested is what happens to a main script and its worker processes.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_pexen.sched.pool import ProcessWorkerPool

HAS_FORK = "fork" in multiprocessing.get_all_start_methods()
DEFAULT_METHOD = (
    "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
)
PROCESS_CLASS = {"fork": "ForkProcess", "forkserver": "ForkServerProcess", "spawn": "SpawnProcess"}

UNGUARDED = """
from pytest_pexen import sched
from pytest_pexen.sched.pool import ProcessWorkerPool
import os, sys
for res in sched.Sched([os.getpid]).run(ProcessWorkerPool(workers=2, {context})): print(res.ret)
"""


def run_script(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard: the unguarded script used to respawn workers forever
    )


@pytest.mark.parametrize("context", ["", "mp_context='spawn'"], ids=["default", "spawn"])
def test_unguarded_script_fails_at_once_with_one_pool_error(tmp_path: Path, context: str) -> None:
    proc = run_script(tmp_path, UNGUARDED.format(context=context))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("Traceback") == 1, proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("pytest_pexen.sched.errors.PoolError: the worker processes re-import")
    assert "put the code that runs the tasks under 'if __name__ == \"__main__\":'" in last
    assert "leaked" not in proc.stderr  # no semaphores left behind by dying workers
    assert len(proc.stderr.splitlines()) < 20


@pytest.mark.skipif(not HAS_FORK, reason="no fork start method on this platform")
@pytest.mark.parametrize(
    "context", ["mp_context='fork'", "mp_context=__import__('multiprocessing').get_context('fork')"]
)
def test_fork_context_runs_an_unguarded_script(tmp_path: Path, context: str) -> None:
    proc = run_script(tmp_path, UNGUARDED.format(context=context))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().isdigit()
    assert proc.stderr == ""


GUARDED = """
import multiprocessing, sys
from pytest_pexen import sched
from pytest_pexen.sched.pool import ProcessWorkerPool

def started_as():
    return type(multiprocessing.current_process()).__name__

if __name__ == "__main__":
    context = sys.argv[1] if len(sys.argv) > 1 else None
    for res in sched.Sched([started_as]).run(ProcessWorkerPool(mp_context=context)):
        print(res.ret)
"""


@pytest.mark.parametrize("method", [None, "spawn", "forkserver", "fork"])
def test_workers_start_with_the_given_method(tmp_path: Path, method: str | None) -> None:
    if method is not None and method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method on this platform")
    proc = run_script(tmp_path, GUARDED, *([method] if method else []))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [PROCESS_CLASS[method or DEFAULT_METHOD]]


def test_worker_that_dies_before_it_is_up_is_a_pool_failure(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import os
        if __name__ == "__mp_main__":  # how a worker process imports this script
            os._exit(3)  # as if it could not
        from pytest_pexen import sched
        from pytest_pexen.sched.pool import ProcessWorkerPool
        if __name__ == "__main__":
            for res in sched.Sched([os.getpid]).run(ProcessWorkerPool(workers=3)):
                print(res)
        """,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("Traceback") == 1, proc.stderr
    assert proc.stderr.splitlines()[-1].endswith(
        "exited (exit code 3) before it could run any task, see its output above; "
        "the pool is stopped"
    )


def test_exceptions_that_cannot_cross_back_are_named_as_text(tmp_path: Path) -> None:
    proc = run_script(
        tmp_path,
        """
        import json, os
        from pytest_pexen import sched
        from pytest_pexen.sched.meta import func_meta
        from pytest_pexen.sched.pool import ProcessWorkerPool

        class NeedsTwo(Exception):  # pickles, but unpickling cannot call __init__
            def __init__(self, a, b):
                super().__init__(f"{a} and {b}")

        @func_meta(priority=0)
        def pid_before():
            return os.getpid()

        @func_meta(priority=1)
        def local_class():
            class Weird(Exception):
                pass
            raise Weird("boom")

        @func_meta(priority=2)
        def cannot_unpickle():
            raise NeedsTwo("x", "y")

        @func_meta(priority=3, provides=["soft"])
        def controlled_local():
            class Soft(sched.TaskFailError):
                pass
            raise Soft("soft failure", deps_ok=True)

        @func_meta(priority=4, requires=["soft"])
        def after_soft():
            return "ran"

        @func_meta(priority=5)
        def pid_after():
            return os.getpid()

        if __name__ == "__main__":
            tasks = [pid_before, local_class, cannot_unpickle, controlled_local, after_soft,
                     pid_after]
            for res in sched.Sched(tasks).run(ProcessWorkerPool(workers=1, spare=0)):
                info = res.excinfo
                print(json.dumps([res.task.__name__, res.ret,
                                  info and info.type.__name__, info and str(info.val)]))
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    results = {name: rest for name, *rest in map(json.loads, proc.stdout.splitlines())}
    assert list(results) == [
        "pid_before",
        "local_class",
        "cannot_unpickle",
        "controlled_local",
        "after_soft",
        "pid_after",
    ]
    assert results["pid_before"][0] == results["pid_after"][0]  # the same worker, not replaced
    assert results["local_class"] == [
        None,
        "PoolError",
        "the task raised __main__.local_class.<locals>.Weird: boom (the exception cannot "
        "cross back from the worker process: it cannot be pickled)",
    ]
    ret, etype, message = results["cannot_unpickle"]
    assert (ret, etype) == (None, "PoolError")
    assert message.startswith(
        "the task raised __main__.NeedsTwo: x and y (the exception "
        "cannot cross back from the worker process: it cannot be "
        "unpickled here: TypeError: "
    )
    assert results["controlled_local"][1:] == [
        "PoolError",
        "the task raised __main__.controlled_local.<locals>.Soft: soft failure (the exception "
        "cannot cross back from the worker process: it cannot be pickled)",
    ]
    assert results["after_soft"] == ["ran", None, None]  # deps_ok=True kept its provides


def test_bad_mp_context() -> None:
    with pytest.raises(ValueError, match="mp_context: unknown start method 'bogus'"):
        ProcessWorkerPool(mp_context="bogus")
    with pytest.raises(TypeError, match="mp_context must be a start method name"):
        ProcessWorkerPool(mp_context=42)  # type: ignore[arg-type]
