"""Executable tests: ``--pexen-exec`` (ini ``pexen_exec = true``).

The executable files of the test tree (exec bit, not hidden, not ``.py``)
become pytest items, collected by pytest's own walk, so ``--ignore``,
``norecursedirs``, ``collect_ignore`` and the virtualenv rule apply as to
Python tests. What makes a file a task, its ``# pexen:`` header and how it
runs are the filesystem factory's (``factory.filesystem``): this module
only fits them into pytest.

- A test's node id is its path (``suite/net/ping.sh``), so ``requires``,
  ``-k``, ``--lf`` and pull-in name it as any test. Its header becomes
  pexen markers on the item, so merging, the ``pytest_pexen_task`` hook,
  the plan and the xUnit facts treat it like a Python test; a malformed
  header is reported like a malformed marker (exit 4, file and line).
- It runs with its folder as cwd, in its own session; its stdout and
  stderr are the run's file descriptors, so pytest's capture takes them
  (report sections, ``-rA``, ``--junitxml``; ``-s`` shows them live).
  Exit 0 passes; anything else fails with the exit code or the signal.
- ``PEXEN_RESULTS`` names a file whose ``outcome name message`` lines
  become sub-results (as ``pexen_results`` adds them); ``PEXEN_SHARED`` a
  JSON file of the test's ``pexen_shared`` dict, read back after the run.
  ``PEXEN_BOOT_COUNT`` is its boot count (see journal/reboots.py), and
  ``pexen-reboot`` on PATH asks for a reboot as ``pexen.reboot()`` does.
  ``exec_env`` builds the environment, the one place to add to it.
- A symlinked folder that loops back to one of its parents, and a file
  that cannot be read or vanishes while collected, are skipped with a
  PexenWarning (under ``-W error`` a one-line collection error); so is a
  header line that is ignored (``# PEXEN:``, or after line 30) warned of.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from .. import markers
from ..factory.filesystem import ExecTask, FilesystemFactory, is_executable, is_hidden, unreadable
from ..factory.header import HeaderError
from ..graph.keys import boot_count
from ..graph.outcome import OUTCOMES
from ..graph.runtime import RUN_KEY, json_copy
from ..graph.shared import SHARED_KEY
from ..internals import HooksOnly
from ..sched.errors import PexenWarning
from ..sched.meta import SchedMeta, retrieve_meta

PLUGIN = "pexen-exec"

# the factory that tells tasks from other files and reads their headers; the
# folders are pytest's to walk, and each run gets its environment when it runs
_FACTORY = FilesystemFactory()


REBOOT_HELPER = """#!/bin/sh
# pexen-reboot: have pytest-pexen reboot the machine and run this test again
# after it, with PEXEN_BOOT_COUNT one higher (as pexen.reboot() does). The
# test ends here: its whole process group is stopped.
: > "$PEXEN_REBOOT_REQUEST" || exit 2
kill -TERM 0
sleep 3600
"""


def exec_env(item: ExecItem, results_file: str, shared_file: str, helpers: str) -> dict[str, str]:
    """The environment of an executable test: the run's own, plus the files
    where it may leave sub-results and shared state, its boot count, and
    ``pexen-reboot`` on PATH. Everything a test finds in its environment is
    added here, and only here."""
    env = dict(os.environ)
    env["PEXEN_RESULTS"] = results_file
    env["PEXEN_SHARED"] = shared_file
    env["PEXEN_BOOT_COUNT"] = str(boot_count(item.config, item.nodeid))
    env["PEXEN_REBOOT_REQUEST"] = results_file + ".reboot"
    env["PATH"] = helpers + os.pathsep + env.get("PATH", "")
    return env


class ExecFailure(Exception):
    """An executable test failed; the message is the whole report."""


def exit_reason(code: int) -> str:
    """A non-zero return code in words: the exit code, or the signal."""
    if code > 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"killed by signal {-code}"
    return f"killed by signal {-code} ({name})"


TAIL_LINES = 50  # an executable's failure text ends with at most this many lines
TAIL_BYTES = 8192  # ... and this many bytes (UTF-8) of each of its stderr and stdout


def output_tail(name: str, text: str) -> str:
    """The end of an executable's captured ``name`` (stderr, stdout) for its
    failure text: the last TAIL_LINES lines and TAIL_BYTES bytes, with a
    heading that says when and how much was cut; "" when it said nothing."""
    lines = text.rstrip("\n").splitlines()
    if not "".join(lines).strip():
        return ""
    tail = lines[-TAIL_LINES:]
    data = "\n".join(tail).encode("utf-8", "surrogateescape")
    cut = len(data) > TAIL_BYTES
    if cut:
        data = data[-TAIL_BYTES:]
    shown = data.decode("utf-8", "replace")
    if len(tail) < len(lines) or cut:
        what = f"last {len(shown.splitlines())} of {len(lines)} lines"
        if cut:
            what += f", last {TAIL_BYTES} bytes"
        heading = f"---- end of its {name} ({what}) ----"
    else:
        heading = f"---- its {name} ----"
    return f"{heading}\n{shown}"


def header_marks(meta: SchedMeta) -> list[pytest.MarkDecorator]:
    """The pexen markers that say what a header says."""
    marks = []
    for field, helper in (
        ("requires", markers.requires),
        ("provides", markers.provides),
        ("claims", markers.claims),
        ("uses", markers.uses),
    ):
        tags = getattr(meta, field)
        if tags:
            marks.append(helper(*sorted(tags)))
    if meta.host_claims:
        marks.append(markers.claims(*sorted(meta.host_claims), scope="host"))
    if meta.host_uses:
        marks.append(markers.uses(*sorted(meta.host_uses), scope="host"))
    if meta.host_tags:
        marks.append(markers.host_tags(*sorted(meta.host_tags)))
    if meta.priority:
        marks.append(markers.priority(meta.priority))
    if meta.group is not None:
        marks.append(markers.group(meta.group))
    if meta.timeout is not None:
        marks.append(markers.timeout(meta.timeout))
    return marks


Subs = list[tuple[str, str | None, str | None]]  # (outcome, name, message)


def parse_results(text: str) -> tuple[Subs, list[str]]:
    """The sub-results of a ``PEXEN_RESULTS`` file, and what was wrong in it.

    One ``outcome [name [message]]`` per line, words split on whitespace,
    the message being the rest of the line; ``-`` as the name leaves the
    sub-result unnamed. Outcome words are those of ``pexen_results``, in any
    case (``PASS`` as beakerlib and restraint write it). Blank lines and
    lines starting with ``#`` are skipped.
    """
    subs: Subs = []
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split(None, 2)
        if not words or words[0].startswith("#"):
            continue
        outcome = words[0].lower()
        if outcome not in OUTCOMES:
            problems.append(
                f"PEXEN_RESULTS line {number}: unknown outcome {words[0]!r}; "
                f"use one of {', '.join(OUTCOMES)}"
            )
            continue
        name = words[1] if len(words) > 1 and words[1] != "-" else None
        subs.append((outcome, name, words[2] if len(words) > 2 else None))
    return subs, problems


def read_shared(path: str, written: str) -> tuple[dict[str, Any] | None, str | None]:
    """The test's shared state as it left the ``PEXEN_SHARED`` file (None if
    unchanged), or why it cannot be taken."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, ValueError) as exc:
        return None, f"PEXEN_SHARED could not be read back: {exc}"
    if text == written:
        return None, None
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"PEXEN_SHARED does not hold JSON after the run ({exc})"
    if not isinstance(data, dict):
        return None, f"PEXEN_SHARED must hold a JSON object, not {type(data).__name__}"
    return data, None


def _run_hint(exc: OSError, path: str) -> str:
    """Why the kernel would not start a file, where it is not obvious: no
    ``#!`` line, or one ending in a carriage return (CRLF line endings make
    the interpreter ``/bin/sh\\r``, which does not exist)."""
    if exc.errno == errno.ENOEXEC:
        return " (a script needs a '#!' line)"
    if exc.errno == errno.ENOENT:
        try:
            with open(path, "rb") as file:
                first = file.readline(4096)
        except OSError:
            return ""
        if first.startswith(b"#!") and first.endswith(b"\r\n"):
            return (
                " (its '#!' line ends in '\\r': the file has Windows (CRLF) line "
                "endings; convert it with dos2unix)"
            )
    return ""


def _warn(node: pytest.Collector, text: str) -> None:
    """Warn about a file or folder (left out, or its header ignored). Where
    warnings are errors (``-W error``) it is this node's collection error,
    in one line rather than a traceback."""
    try:
        node.warn(PexenWarning(text))
    except PexenWarning:
        raise node.CollectError(text) from None


def _shown(path: Path, config: pytest.Config) -> str:
    """A path as the user knows it: relative to the rootdir when below it."""
    return (
        str(path.relative_to(config.rootpath))
        if path.is_relative_to(config.rootpath)
        else str(path)
    )


class ExecItem(pytest.Item):
    """One executable file as a test (its node id is the file's)."""

    def __init__(self, *, task: ExecTask | None, error: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        # a malformed header: graph.items.build_meta reports it as a usage error
        self.pexen_meta_error = error
        if task is not None:
            for mark in header_marks(retrieve_meta(task)):
                self.add_marker(mark)

    def _shared(self) -> dict[str, Any]:
        """The test's ``pexen_shared`` dict (what the fixture would give)."""
        run = self.config.stash.get(RUN_KEY, None)
        if run is None:
            return json_copy(self.config.stash[SHARED_KEY])
        return run.shared_for(self.nodeid)

    def runtest(self) -> None:
        if self.task is None:  # a malformed header under a --dist that ignores it
            raise ExecFailure(self.pexen_meta_error)
        shared = self._shared()
        code, subs, problems, left, rebooting = self._run(self.task, shared)
        if rebooting:  # it ran pexen-reboot
            self.config.hook.pytest_pexen_reboot(config=self.config)
        recorder = self.config.hook.pytest_pexen_sub_results(config=self.config)
        for outcome, name, message in subs:
            recorder.add(outcome, name, message)
        if left is not None:
            shared.clear()  # the same dict, which the run hands on to dependents
            shared.update(left)
        if code:
            problems.insert(0, exit_reason(code))
        if problems:
            raise ExecFailure("\n".join(problems))

    def _run(
        self, task: ExecTask, shared: dict[str, Any]
    ) -> tuple[int, Subs, list[str], dict[str, Any] | None, bool]:
        """Run the file with fresh ``PEXEN_RESULTS`` and ``PEXEN_SHARED``
        files, and read them back: the return code, the sub-results, what
        was wrong in the files, the new shared state (None: unchanged), and
        whether it asked for a reboot."""
        plugin = self.config.pluginmanager.get_plugin(PLUGIN)
        assert isinstance(plugin, ExecPlugin)
        results_file, shared_file = plugin.scratch_files()
        written = json.dumps(shared)
        try:
            with open(results_file, "x"):
                pass
            with open(shared_file, "x", encoding="utf-8") as file:
                file.write(written)
            try:
                env = exec_env(self, results_file, shared_file, plugin.helpers())
                code = task.run(env=env).returncode
            except OSError as exc:
                hint = _run_hint(exc, task.path)
                raise ExecFailure(f"cannot run {self.name}: {exc.strerror or exc}{hint}") from None
            try:
                with open(results_file, encoding="utf-8", errors="replace") as file:
                    subs, problems = parse_results(file.read())
            except OSError as exc:
                subs, problems = [], [f"PEXEN_RESULTS could not be read back: {exc}"]
            left, problem = read_shared(shared_file, written)
            rebooting = os.path.exists(results_file + ".reboot")
        finally:
            for path in (results_file, shared_file, results_file + ".reboot"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        if problem is not None:
            problems.append(problem)
        return code, subs, problems, left, rebooting

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> Any:
        if isinstance(excinfo.value, ExecFailure):
            return self._explained(str(excinfo.value))
        return super().repr_failure(excinfo, style)

    def _explained(self, reason: str) -> str:
        """The failure text of an executable: why it failed, then the end
        of its captured stderr and stdout, which say what went wrong (a
        traceback says it for a Python test), whatever ``junit_logging``
        is. The first line, which the short summary and the xUnit message
        show, ends with the last line it wrote to stderr (else stdout)."""
        captured = {
            key: text for when, key, text in self._report_sections if when == "call" and text
        }
        tails = [output_tail(key, captured.get(key, "")) for key in ("stderr", "stdout")]
        last = next(
            (
                line.strip()
                for key in ("stderr", "stdout")
                for line in reversed(captured.get(key, "").splitlines())
                if line.strip()
            ),
            None,
        )
        first, _, rest = reason.partition("\n")
        if last is not None:
            stream = "stderr" if captured.get("stderr", "").strip() else "stdout"
            first = f"{first}; {stream} ends: {last}"
        return "\n".join(part for part in (first, rest, *tails) if part)

    def reportinfo(self) -> tuple[Path, None, str]:
        """No line number; a domain that is not the end of the node id, so
        that ``-v`` shows the node id as it is (pytest turns a trailing
        domain's dots into ``::``), and names the path in section heads
        (every beakerlib task is a ``runtest.sh``)."""
        return self.path, None, f"exec: {self.nodeid}"


class ExecFile(pytest.File):
    """The collector of one executable file: its single item, or nothing
    (with a warning) when it cannot be read."""

    def collect(self) -> Iterable[ExecItem]:
        try:
            task = _FACTORY.task(
                str(self.path),
                self.nodeid.split("/"),
                shown=self.nodeid,
                warn=lambda text: _warn(self, text),
            )
        except OSError as exc:
            _warn(self, unreadable(self.nodeid, exc))
            return []
        except HeaderError as exc:
            return [
                ExecItem.from_parent(
                    self, name=self.name, nodeid=self.nodeid, task=None, error=str(exc)
                )
            ]
        if task is None:
            return []  # no longer an executable regular file
        return [ExecItem.from_parent(self, name=self.name, nodeid=self.nodeid, task=task)]


class LoopDir(pytest.Directory):
    """A symlinked folder that leads back to one of its parents: left out,
    with a warning (pytest would go round until the path is too long)."""

    def __init__(self, *, target: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        config = self.config
        _warn(
            self,
            f"pexen: {_shown(self.path, config)} loops back to "
            f"{_shown(self.target, config)}, skipped",
        )
        return []


class ExecPlugin(HooksOnly):
    """Collection hooks for executable tests, registered with ``--pexen-exec``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.folders: dict[Path, tuple[int, int] | None] = {}
        self.scratch: str | None = None
        self.runs = 0

    def scratch_files(self) -> tuple[str, str]:
        """New paths for the sub-results and shared state of the test that
        starts now (the caller removes the files). One folder for the whole
        session, made on first use, and new names for each test: making and
        removing a folder per test, or truncating and rewriting a file, can
        cost more than running the test (ext4 writes such a file through at
        once)."""
        self.runs += 1
        base = os.path.join(self._scratch(), str(self.runs))
        return f"{base}.results", f"{base}.shared.json"

    def _scratch(self) -> str:
        if self.scratch is None:
            self.scratch = tempfile.mkdtemp(prefix="pexen-exec-")
        return self.scratch

    def helpers(self) -> str:
        """The folder with ``pexen-reboot``, put first on the tests' PATH."""
        folder = os.path.join(self._scratch(), "bin")
        if not os.path.isdir(folder):
            os.mkdir(folder)
            helper = os.path.join(folder, "pexen-reboot")
            with open(helper, "w", encoding="utf-8") as file:
                file.write(REBOOT_HELPER)
            os.chmod(helper, 0o755)
        return folder

    def pytest_unconfigure(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _folder_id(self, path: Path) -> tuple[int, int] | None:
        if path not in self.folders:
            try:
                st = os.stat(path)
            except OSError:
                self.folders[path] = None
            else:
                self.folders[path] = (st.st_dev, st.st_ino)
        return self.folders[path]

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path: Path, parent: pytest.Collector) -> LoopDir | None:
        """A folder that is one of its own parents (through a symlink, or a
        bind mount) is left out rather than walked again and again."""
        here = self._folder_id(path)
        if here is None:
            return None
        for node in parent.listchain():
            if isinstance(node, pytest.Directory) and self._folder_id(node.path) == here:
                loop: LoopDir = LoopDir.from_parent(parent, path=path, target=node.path)
                return loop
        return None

    def _hidden(self, path: Path, session: pytest.Session) -> bool:
        """Whether the file, or a folder between it and the rootdir (or the
        command-line argument it was found under), is hidden: a ``.git``
        folder's hooks are no tests, even where ``norecursedirs`` no longer
        keeps pytest out of hidden folders."""
        root = self.config.rootpath
        for part in (path, *path.parents):
            if part == root or session.isinitpath(part):
                return False
            if is_hidden(part.name):
                return True
        return False

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> ExecFile | None:
        if file_path.suffix == ".py":
            return None
        if self._hidden(file_path, parent.session):
            return None
        try:
            executable = is_executable(os.stat(file_path).st_mode)
        except FileNotFoundError:
            return None  # gone before anyone could tell whether it was a test
        except OSError:
            executable = True  # cannot tell: its collector says why it is left out
        if not executable:
            return None
        exec_file: ExecFile = ExecFile.from_parent(parent, path=file_path)
        return exec_file

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Executable tests report sub-results through the results recorder."""
        if any(isinstance(item, ExecItem) for item in session.items):
            self.config.hook.pytest_pexen_sub_results(config=self.config)
