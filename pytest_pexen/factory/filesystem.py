"""FilesystemFactory: a task per executable file in a directory tree.

This module owns what makes an executable file a pexen task, for the engine
(``FilesystemFactory``) and the pytest plugin (``--pexen-exec``, in
``pytest_pexen.exec.items``) alike: which files count, how their
``# pexen:`` header is read, and how one is run. Running one means: its own
folder as cwd, stdin from /dev/null, and its own session (so its own
process group). The wait ends when the file's process exits; whatever it
left running in its group (a background child still holding the output) is
then killed, so a test never hangs on a child that outlives it and never
leaks processes into the next one. A wait interrupted by an exception
(Ctrl-C, a watchdog) kills the whole group the same way.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import stat
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from types import FrameType
from typing import IO, Any

from ..sched.errors import PexenWarning
from ..sched.meta import SchedMeta, assign_meta
from .base import BaseFactory
from .header import HEADER_BYTES, ignored_line, parse_header


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def is_executable(mode: int) -> bool:
    """A regular file with an exec bit (anyone's: whether it may run for
    this user is for the kernel to say, and a refusal is a visible failure
    rather than a test silently left out)."""
    return stat.S_ISREG(mode) and bool(mode & 0o111)


def read_head(path: str) -> bytes | None:
    """The first bytes of ``path`` (where a header may be), or None if it
    is not an executable regular file (any more). The file is opened without
    blocking and checked on the open descriptor, so a FIFO or a device
    swapped in since the caller looked never hangs the caller. Raises
    OSError if it cannot be read (gone, no permission)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not is_executable(os.fstat(fd).st_mode):
            return None
        return os.read(fd, HEADER_BYTES)
    finally:
        os.close(fd)


_SIGNALS = tuple(signal.valid_signals())  # once: the call costs ~0.15 ms


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back Python's signal handlers while a process is being started.

    A handler that raises (Ctrl-C's KeyboardInterrupt, a watchdog's alarm)
    inside ``Popen`` loses the new process's pid, and with it the means to
    kill its group: in its own session the process does not even get the
    terminal's Ctrl-C. Held back, the handlers run as soon as the pid is
    known, inside the wait's ``finally``. Handlers only ever run in the main
    thread, so elsewhere there is nothing to hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[tuple[int, FrameType | None]] = []
    saved: dict[int, Callable[[int, FrameType | None], Any]] = {}
    for signum in _SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):
            saved[signum] = handler
            signal.signal(signum, lambda number, frame: held.append((number, frame)))
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
        for number, frame in held:
            saved[number](number, frame)


# what kills by its default action when a run is cancelled: a CI runner, ``timeout``,
# a closed terminal signal the whole process group, which the file's session is not in
_CANCELS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _group_shares_our_end(started: Callable[[], subprocess.Popen[Any] | None]) -> Iterator[None]:
    """While the file starts and runs (``started()``: its process, once
    there): a SIGTERM or SIGHUP that would end this process by its default
    action is passed on to the file's process group first. Installed before
    the process starts, so that one arriving while it starts (held back by
    ``_signals_held`` until its pid is known) is passed on too.
    The file runs in a session of its own (so that its group can be killed
    as one), where the signal its parent's group got never reaches it: it
    would run on after the run was cancelled, holding what it claimed, into
    the run that resumes it. A Python program's own child (same group) gets
    the signal with it: so does the file, then this process ends as it
    would have. Handlers only ever run in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def cancel(number: int, frame: FrameType | None) -> None:
        proc = started()
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, number)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)

    caught = [n for n in _CANCELS if signal.getsignal(n) == signal.SIG_DFL]
    for number in caught:
        signal.signal(number, cancel)
    try:
        yield
    finally:
        for number in caught:
            signal.signal(number, signal.SIG_DFL)


def _wait_leader(proc: subprocess.Popen[Any]) -> None:
    """Wait until the process exits, leaving it unreaped: while it is a
    zombie its pid, which names its process group, cannot be given to a new
    process, so killing the group afterwards cannot hit a stranger. Without
    ``os.waitid`` (macOS before Python 3.13) it is reaped at once."""
    waitid = getattr(os, "waitid", None)
    if waitid is None:
        proc.wait()
    else:
        waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)


def _kill_group(proc: subprocess.Popen[Any]) -> None:
    """Kill what is left of the process's group, then reap the process."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _text_mode(popen: dict[str, Any]) -> bool:
    return any(popen.get(k) for k in ("text", "universal_newlines", "encoding", "errors"))


def _read_back(file: IO[bytes], popen: dict[str, Any]) -> bytes | str:
    """What a stand-in for a pipe holds, decoded as a text-mode pipe would be."""
    file.seek(0)
    data = file.read()
    if not _text_mode(popen):
        return data
    encoding, errors = popen.get("encoding"), popen.get("errors")
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors=errors).read()


def run_file(path: str, **popen: Any) -> subprocess.CompletedProcess[Any]:
    """Run the executable ``path`` the pexen way (see the module docstring)
    and return its CompletedProcess; a negative return code is the signal
    that killed it. ``popen`` goes to ``subprocess.Popen`` (``env``,
    ``stdout``...), except ``cwd`` and the session, which are pexen's.
    ``stdout=subprocess.PIPE`` (or ``stderr``) is collected through a
    temporary file rather than a pipe: a pipe ends only when every process
    holding it has exited, a background child included, and a full pipe
    would block a verbose test while it is being waited for."""
    popen = {"stdin": subprocess.DEVNULL, **popen}
    captured: dict[str, IO[bytes]] = {}
    with contextlib.ExitStack() as stack:
        for name in ("stdout", "stderr"):
            if popen.get(name) == subprocess.PIPE:
                captured[name] = popen[name] = stack.enter_context(tempfile.TemporaryFile())
        proc: subprocess.Popen[Any] | None = None
        try:
            with _group_shares_our_end(lambda: proc):
                with _signals_held():
                    proc = subprocess.Popen(
                        [path], **{**popen, "cwd": os.path.dirname(path), "start_new_session": True}
                    )
                _wait_leader(proc)
        finally:
            if proc is not None:
                _kill_group(proc)
        out = {name: _read_back(file, popen) for name, file in captured.items()}
    return subprocess.CompletedProcess(
        [path], proc.returncode, out.get("stdout"), out.get("stderr")
    )


class ExecTask:
    """One executable file as an engine task.

    Calling it runs the file (``run_file``, with the factory's Popen
    arguments) and raises ``subprocess.CalledProcessError`` on a non-zero
    exit. An object rather than a closure, so that it pickles into a
    ``ProcessWorkerPool``.
    """

    def __init__(self, path: str, popen_kwargs: dict[str, Any]) -> None:
        self.path = path
        self.popen_kwargs = popen_kwargs
        self.__name__ = self.__qualname__ = os.path.basename(path)

    def run(self, **popen: Any) -> subprocess.CompletedProcess[Any]:
        """Run the file with these Popen arguments on top of the factory's."""
        return run_file(self.path, **{**self.popen_kwargs, **popen})

    def __call__(self) -> subprocess.CompletedProcess[Any]:
        result = self.run()
        result.check_returncode()
        return result

    def __repr__(self) -> str:
        return f"ExecTask({self.path!r})"


def unreadable(path: str, exc: OSError) -> str:
    """Why a file or folder is skipped, in one line for a warning."""
    if isinstance(exc, FileNotFoundError):
        return f"pexen: {path} vanished while it was being collected, skipped"
    return f"pexen: cannot read {path}: {exc.strerror or exc}, skipped"


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
                warnings.warn(
                    f"pexen: {folder} loops back to a folder already seen, skipped",
                    PexenWarning,
                    stacklevel=2,
                )
                return
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            warnings.warn(unreadable(folder, exc), PexenWarning, stacklevel=2)
            return
        subdirs = []
        for entry in entries:
            if is_hidden(entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=follow):
                    subdirs.append(entry.path)
                elif entry.is_file() and is_executable(entry.stat().st_mode):
                    yield folder, entry.name
            except OSError as exc:
                warnings.warn(unreadable(entry.path, exc), PexenWarning, stacklevel=2)
        for sub in subdirs:
            yield from walk(sub)

    yield from walk(top)


class FilesystemFactory(BaseFactory):
    """Wrap each executable file below a directory in a task (an ``ExecTask``).

    The task runs the file with its own folder as cwd (see ``run_file``),
    returns the ``subprocess.CompletedProcess`` and raises
    ``CalledProcessError`` on a non-zero exit. Extra keyword arguments go to
    ``subprocess.Popen`` (e.g. ``stdout=subprocess.PIPE``). The task's
    metadata comes from the file's ``# pexen:`` header (a malformed one
    raises ``header.HeaderError``); its callpath is the folders below
    ``directory``, then the file name.
    """

    def __init__(self, follow: bool = False, **popen_kwargs: Any) -> None:
        super().__init__()
        self.follow = follow
        self.popen_kwargs = popen_kwargs

    def task(
        self,
        path: str,
        callpath: list[str],
        shown: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> ExecTask | None:
        """The task of one file, or None if it is not an executable regular
        file (any more). Raises OSError if it cannot be read, HeaderError
        (naming ``shown``, default ``path``) if its header is malformed. A
        header line that is ignored is said with ``warn`` (default: a
        PexenWarning)."""
        head = read_head(path)
        if head is None:
            return None
        task = ExecTask(os.path.abspath(path), self.popen_kwargs)
        meta = assign_meta(task, parse_header(head, shown or path) or SchedMeta())
        ignored = ignored_line(head, shown or path)
        if ignored is not None:
            if warn is None:
                warnings.warn(ignored, PexenWarning, stacklevel=2)
            else:
                warn(ignored)
        meta.callpath = callpath
        return task

    def __call__(self, directory: str | os.PathLike[str]) -> Iterator[ExecTask]:
        top = os.fspath(directory)
        if not os.path.isdir(top):
            raise NotADirectoryError(f"FilesystemFactory: {top} is not a directory")
        # the folders below ``directory``: the same callpath whether it was
        # given absolute or relative, wherever the tree is
        for folder, name in walk_executables(top, self.follow):
            parts = [p for p in os.path.relpath(folder, top).split(os.sep) if p not in ("", ".")]
            path = os.path.join(folder, name)
            try:
                task = self.task(path, [*self.callpath, *parts, name])
            except OSError as exc:  # unreadable, or gone since the folder was listed
                warnings.warn(unreadable(path, exc), PexenWarning, stacklevel=2)
                continue
            if task is not None:
                yield task
