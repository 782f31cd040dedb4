"""FilesystemFactory: a task per executable file in a directory tree."""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from ..sched.errors import PexenWarning
from .base import BaseFactory


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def walk_executables(top: str, follow: bool = False) -> Iterator[tuple[str, str]]:
    """Yield ``(folder, file name)`` for each executable, non-hidden regular
    file below ``top``, in sorted order. Hidden folders are skipped, symlinked
    folders are entered only with ``follow`` and never twice (no loops);
    unreadable entries are skipped with a PexenWarning."""
    seen: set[tuple[int, int]] = set()

    def walk(folder: str) -> Iterator[tuple[str, str]]:
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                warnings.warn(f"pexen: {folder} loops back to a folder already seen, "
                              "skipped", PexenWarning, stacklevel=2)
                return
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            warnings.warn(f"pexen: cannot read {folder}: {exc.strerror}, skipped",
                          PexenWarning, stacklevel=2)
            return
        subdirs = []
        for entry in entries:
            if is_hidden(entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=follow):
                    subdirs.append(entry.path)
                elif entry.is_file() and os.access(entry.path, os.X_OK):
                    yield folder, entry.name
            except OSError as exc:
                warnings.warn(f"pexen: cannot read {entry.path}: {exc.strerror}, skipped",
                              PexenWarning, stacklevel=2)
        for sub in subdirs:
            yield from walk(sub)

    yield from walk(top)


class FilesystemFactory(BaseFactory):
    """Wrap each executable file below a directory in a task.

    The task runs the file with its own folder as cwd, returns the
    ``subprocess.CompletedProcess`` and raises ``CalledProcessError`` on a
    non-zero exit. Extra keyword arguments go to ``subprocess.run`` (e.g.
    ``stdout=subprocess.PIPE``). The callpath is the folder's parts plus the
    file name.
    """

    def __init__(self, follow: bool = False, **popen_kwargs: Any) -> None:
        super().__init__()
        self.follow = follow
        self.popen_kwargs = popen_kwargs

    def wrap(self, folder: str, name: str) -> Callable[[], subprocess.CompletedProcess[Any]]:
        path = os.path.abspath(os.path.join(folder, name))
        kwargs = self.popen_kwargs

        def run_executable() -> subprocess.CompletedProcess[Any]:
            return subprocess.run([path], cwd=os.path.dirname(path), check=True, **kwargs)

        run_executable.__qualname__ = run_executable.__name__ = name
        parts = [p for p in os.path.normpath(folder).split(os.sep) if p not in ("", ".")]
        self.callpath_burn(run_executable, name, path=self.callpath + parts)
        return run_executable

    def __call__(self, directory: str | os.PathLike[str]) -> Iterator[Callable[..., Any]]:
        top = os.fspath(directory)
        if not os.path.isdir(top):
            raise NotADirectoryError(f"FilesystemFactory: {top} is not a directory")
        for folder, name in walk_executables(top, self.follow):
            yield self.wrap(folder, name)
