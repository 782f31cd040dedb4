"""Factories: modules, package trees and folders of executables become tasks."""

from __future__ import annotations

import importlib
import os
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
from pytest_pexen.sched import PexenWarning, Sched, meta


def make_executable(path: Path, body: str = "exit 0") -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def pkgtree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package ``kernel`` with a module and a sub-package, importable."""
    root = tmp_path / "kernel"
    (root / "fs").mkdir(parents=True)
    (root / "__init__.py").write_text(textwrap.dedent("""
        from pytest_pexen.sched.meta import func_meta
        @func_meta
        def boot(): return "boot"
    """))
    (root / "syscalls.py").write_text(textwrap.dedent("""
        from pytest_pexen.sched.meta import func_meta
        from kernel import boot  # imported: must not be yielded twice
        @func_meta(requires=["booted"])
        def open_close(): return "oc"
        def helper(): return "not a task"
        def check_read(): return "matched by pattern"
    """))
    (root / "fs" / "__init__.py").write_text("")
    (root / "fs" / "ext4.py").write_text(textwrap.dedent("""
        from pytest_pexen.sched.meta import func_meta
        @func_meta(provides=["booted"])
        def mount(): return "mount"
    """))
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


def test_filesystem_factory_finds_executables(tmp_path: Path) -> None:
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
    assert get_callpath(setup)[-2:] == ["suite", "setup.sh"]
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
