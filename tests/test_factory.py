"""Factories: modules, package trees and folders of executables become tasks."""

from __future__ import annotations

import importlib
import os
import pickle
import select
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_pexen.factory import (
    BaseFactory,
    FilesystemFactory,
    ModTreeFactory,
    ModuleFactory,
    get_callpath,
)
from pytest_pexen.factory.filesystem import run_file
from pytest_pexen.factory.header import HeaderError
from pytest_pexen.sched import PexenWarning, Sched, meta


def make_executable(path: Path, body: str = "exit 0") -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def pkgtree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package ``kernel`` with a module and a sub-package, importable."""
    root = tmp_path / "kernel"
    (root / "fs").mkdir(parents=True)
    (root / "__init__.py").write_text(
        textwrap.dedent("""
        from pytest_pexen.sched.meta import func_meta
        @func_meta
        def boot(): return "boot"
    """)
    )
    (root / "syscalls.py").write_text(
        textwrap.dedent("""
        from pytest_pexen.sched.meta import func_meta
        from kernel import boot  # imported: must not be yielded twice
        @func_meta(requires=["booted"])
        def open_close(): return "oc"
        def helper(): return "not a task"
        def check_read(): return "matched by pattern"
    """)
    )
    (root / "fs" / "__init__.py").write_text("")
    (root / "fs" / "ext4.py").write_text(
        textwrap.dedent("""
        from pytest_pexen.sched.meta import func_meta
        @func_meta(provides=["booted"])
        def mount(): return "mount"
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "kernel" or m.startswith("kernel.")]:
        monkeypatch.delitem(sys.modules, name)
    return "kernel"


def test_module_factory_yields_own_tasks_with_callpath(pkgtree: str) -> None:
    mod = importlib.import_module("kernel.syscalls")
    tasks = list(ModuleFactory()(mod))
    assert [t.__name__ for t in tasks] == ["open_close"]
    assert get_callpath(tasks[0]) == ["kernel", "syscalls", "open_close"]


def test_module_factory_match_adds_metadata_less_callables(pkgtree: str) -> None:
    mod = importlib.import_module("kernel.syscalls")
    names = sorted(t.__name__ for t in ModuleFactory(match="check_*")(mod))
    assert names == ["check_read", "open_close"]


def test_module_factory_rejects_non_module() -> None:
    with pytest.raises(TypeError, match="expects a module"):
        list(ModuleFactory()("kernel"))  # type: ignore[arg-type]


def test_modtree_factory_walks_the_tree(pkgtree: str) -> None:
    package = importlib.import_module(pkgtree)
    tasks = list(ModTreeFactory()(package))
    paths = sorted(get_callpath(t) for t in tasks)
    assert paths == [
        ["kernel", "boot"],
        ["kernel", "fs", "ext4", "mount"],
        ["kernel", "syscalls", "open_close"],
    ]
    # the factory is reusable and its callpath is back at the root
    assert len(list(ModTreeFactory()(package))) == 3


def test_modtree_factory_match_filters_modules(pkgtree: str) -> None:
    package = importlib.import_module(pkgtree)
    tasks = list(ModTreeFactory(match="ext*")(package))
    assert [get_callpath(t) for t in tasks] == [["kernel", "fs", "ext4", "mount"]]


def test_modtree_tasks_run_in_dependency_order(pkgtree: str) -> None:
    package = importlib.import_module(pkgtree)
    results = [r.ret for r in Sched(ModTreeFactory()(package)).run()]
    assert results.index("mount") < results.index("oc")
    assert sorted(results) == ["boot", "mount", "oc"]


def test_filesystem_factory_finds_executables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = tmp_path / "suite"
    (suite / "net").mkdir(parents=True)
    (suite / ".hidden").mkdir()
    make_executable(suite / "setup.sh", "pwd > where")
    make_executable(suite / "net" / "ping")
    make_executable(suite / ".hidden" / "secret")
    make_executable(suite / ".dotfile")
    (suite / "notes.txt").write_text("not executable")
    tasks = list(FilesystemFactory()(suite))
    names = sorted(get_callpath(t)[-1] for t in tasks)
    assert names == ["ping", "setup.sh"]
    setup = next(t for t in tasks if get_callpath(t)[-1] == "setup.sh")
    # below the folder given, however it was given (an absolute path gave
    # every part of it, a relative one its own parts)
    assert sorted(get_callpath(t) for t in tasks) == [["net", "ping"], ["setup.sh"]]
    monkeypatch.chdir(tmp_path)
    relative = FilesystemFactory()(os.path.join(".", "suite", ""))
    assert sorted(get_callpath(t) for t in relative) == [["net", "ping"], ["setup.sh"]]
    result = setup()
    assert isinstance(result, subprocess.CompletedProcess)
    assert (suite / "where").read_text().strip() == str(suite)  # ran in its own folder


def test_filesystem_factory_failure_raises(tmp_path: Path) -> None:
    make_executable(tmp_path / "bad", "exit 3")
    (task,) = FilesystemFactory(stdout=subprocess.DEVNULL)(tmp_path)
    with pytest.raises(subprocess.CalledProcessError) as err:
        task()
    assert err.value.returncode == 3


def test_filesystem_factory_symlinks_and_loops(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    make_executable(real / "t1")
    top = tmp_path / "top"
    top.mkdir()
    os.symlink(real, top / "linked")
    os.symlink(top, real / "back")  # a loop once symlinks are followed
    assert list(FilesystemFactory()(top)) == []
    with pytest.warns(PexenWarning, match="loops back"):
        tasks = list(FilesystemFactory(follow=True)(top))
    assert [get_callpath(t)[-1] for t in tasks] == ["t1"]


def test_filesystem_factory_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        list(FilesystemFactory()(tmp_path / "nope"))


def test_callpath_push_pop_transfer() -> None:
    parent, child = BaseFactory(), BaseFactory()
    parent.callpath_push("a")
    parent.callpath_push("b")
    parent.callpath_transfer(child)
    assert parent.callpath_pop() == "b"
    assert child.callpath == ["a", "b"]

    def task() -> None:
        pass

    child.callpath_burn(task, "task")
    assert get_callpath(task) == ["a", "b", "task"]
    assert meta.retrieve_meta(task).callpath == ["a", "b", "task"]
    with pytest.raises(NotImplementedError):
        BaseFactory()()


def test_filesystem_factory_reads_headers(tmp_path: Path) -> None:
    """Header metadata schedules the engine's tasks as it does tests."""
    make_executable(tmp_path / "a_use", "# pexen: requires=db priority=-1\necho use >> log")
    make_executable(
        tmp_path / "b_db", "# pexen: provides=db claims=disk timeout=2.5\necho db >> log"
    )
    tasks = list(FilesystemFactory()(tmp_path))
    first = meta.retrieve_meta(tasks[0])
    assert (first.requires, first.priority) == ({"db"}, -1)
    second = meta.retrieve_meta(tasks[1])
    assert (second.provides, second.claims, second.timeout) == ({"db"}, {"disk"}, 2.5)
    assert [r.excinfo for r in Sched(tasks).run()] == [None, None]
    assert (tmp_path / "log").read_text().split() == ["db", "use"]


def test_filesystem_factory_bad_header(tmp_path: Path) -> None:
    make_executable(tmp_path / "t", "# pexen: priority=high")
    with pytest.raises(HeaderError, match=r"t:2: bad '# pexen:' header: priority=high is not"):
        list(FilesystemFactory()(tmp_path))


def test_filesystem_factory_pipe_with_a_child_outliving_the_task(tmp_path: Path) -> None:
    """stdout=PIPE is read back although a background child still holds
    it (a real pipe would wait for the child); the child is killed."""
    make_executable(tmp_path / "t", "sleep 300 &\necho $! > pid\necho hello; echo oops >&2")
    (task,) = FilesystemFactory(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)(
        tmp_path
    )
    result = task()
    assert result.stdout == "hello\noops\n"
    assert result.returncode == 0
    assert_gone(int((tmp_path / "pid").read_text()))


def assert_gone(pid: int) -> None:
    """The process dies: it has been sent SIGKILL, which takes effect a
    moment later. The 60 s bound only keeps a broken kill from hanging the
    suite (the process sleeps for 300 s if nobody kills it)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], 60)
    finally:
        os.close(fd)
    assert ready, f"process {pid} is still running"


def test_interrupted_wait_kills_the_whole_group(tmp_path: Path) -> None:
    """An exception raised while waiting (as a watchdog raises it) kills the
    file's process and everything it started, not just the first process."""
    # the file interrupts us itself once its child runs (while we wait, or
    # still start it: either way the pid must not be lost); both sleep
    make_executable(
        tmp_path / "hang", "sleep 300 &\necho $! > pid\nkill -ALRM $PPID\nexec sleep 300"
    )

    class Stop(Exception):
        pass

    def stop(signum: int, frame: object) -> None:
        raise Stop

    old = signal.signal(signal.SIGALRM, stop)
    try:
        with pytest.raises(Stop):
            run_file(str(tmp_path / "hang"))
    finally:
        signal.signal(signal.SIGALRM, old)
    assert_gone(int((tmp_path / "pid").read_text()))


def test_exec_task_pickles_and_reports_signals(tmp_path: Path) -> None:
    make_executable(tmp_path / "t", "kill -TERM $$")
    (task,) = FilesystemFactory()(tmp_path)
    copy = pickle.loads(pickle.dumps(task))
    assert get_callpath(copy)[-1] == "t"
    with pytest.raises(subprocess.CalledProcessError) as err:
        copy()
    assert err.value.returncode == -signal.SIGTERM


def test_filesystem_factory_file_vanishing_is_skipped_with_a_warning(tmp_path: Path) -> None:
    make_executable(tmp_path / "a")
    make_executable(tmp_path / "b")
    tasks = FilesystemFactory()(tmp_path)
    next(tasks)
    (tmp_path / "b").unlink()  # listed, then gone before it was read
    with pytest.warns(PexenWarning, match="b vanished while it was being collected, skipped"):
        assert list(tasks) == []
