"""Time limits: ``pexen.timeout(s)``, ``--pexen-timeout``, ``--pexen-session-timeout``.

Where tests run (the serial process, each xdist worker), ``TestTimer`` times
each test that has a limit from the start of its setup to the end of its
teardown, on the process's one watchdog thread (watchdog.py). At the limit
it takes the stack of every thread and interrupts the main thread: SIGALRM
sent to that very thread, so that a blocking call (``time.sleep``, a wait
for a child process) returns, and the same signal simulated with
``_thread.interrupt_main``, so that a Python loop that blocked the signal is
caught too (a test with a SIGALRM handler of its own gets ``SPARE``
instead). The handler, installed only around a test with a limit, fails
the phase that is running with "Timeout: ..." and the stacks; the run goes
on. A test still running ``grace`` seconds after the interrupt landed,
elsewhere than where it landed (a fixture's teardown), gets a new round of
stacks, interrupt and grace. A test that has not returned ``grace`` seconds
after its limit (stuck in C code, the signal blocked in a blocking call, or
the interrupt swallowed) stops the process, after the processes it started
(``stop_descendants``):
serially its end is journaled first, so that ``--pexen-resume`` reports it
timed out and continues after it; an xdist worker tells the controller why
and exits, and xdist replaces it. A test that holds the GIL in C code
leaves no Python thread a chance: faulthandler's own C thread stops the
process then (``FaultGuard``), and the resume finds its stacks next to the
journal.

The xdist controller (``--dist pexen``) keeps a timer per running test too
(``ControllerTimer``): a local worker still in its test ``MARGIN`` seconds
after it should have stopped itself is killed; xdist reports the crash,
which is worded here as the timeout, the scheduler releases the test's
locks and skips its dependents, and a new worker takes its place.

``--pexen-session-timeout``: once it is reached no test starts; the rest
are reported skipped with that reason, and the run fails.

None of this is imported or registered when no test has a limit (see
``settings``).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import _thread
import contextlib
import faulthandler
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator
from functools import partial
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

import pytest

from ..graph.keys import JOURNAL
from ..graph.runtime import RUN_KEY
from ..internals import (
    HooksOnly,
    find_interactor,
    get_signal_handler,
    in_test_phase,
    local_pid,
    real_monotonic,
    set_signal_handler,
)
from .settings import Limits, hang_path, limit_of
from .timer import Timer, Watchdog, is_framework, thread_stacks

if TYPE_CHECKING:
    from ..graph.hookspecs import StoppedBoot
    from ..xdist.protocol import Scheduler

RESEND = 0.1  # seconds between interrupts, until one lands in a test phase
MARGIN = 0.5  # the controller kills a worker this long after it should have exited
HANG_HEADER = "pexen watchdog dump"
SIGNAL = getattr(signal, "SIGALRM", None)
# the interrupt's signal while the test has a SIGALRM handler of its own
# (``signal.alarm`` as a deadline helper): its handler and alarms stay its own
SPARE = getattr(signal, "SIGRTMAX", None)
REAP = 0.5  # seconds a hung test's child processes have between TERM and KILL


class _Running:
    """A test with a limit, from the start of its setup to the end of its teardown."""

    __slots__ = (
        "aside",
        "deadline",
        "grace_end",
        "interrupted",
        "item",
        "landed",
        "landed_at",
        "limit",
        "paused_at",
        "previous",
        "stacks",
        "start",
        "timer",
    )

    def __init__(self, item: pytest.Item, limit: float) -> None:
        self.item = item
        self.limit = limit
        self.start = real_monotonic()
        self.deadline = self.start + limit
        self.grace_end = math.inf
        self.stacks: str | None = None  # taken at the limit
        self.interrupted = False  # the latest interrupt has landed
        # where it landed: the outermost frame of the test's own code then
        # (a later hang elsewhere, a fixture's teardown, gets its own round)
        self.landed: FrameType | None = None
        self.landed_at = math.inf
        self.previous: Any = None  # the SIGALRM handler before the test's
        self.aside = False  # pytest-timeout interrupts it: its own limit is shorter
        self.paused_at: float | None = None  # in a debugger since
        self.timer: Timer | None = None

    def message(self) -> str:
        return (
            f"Timeout: {self.item.nodeid} exceeded {self.limit:g} s "
            f"(setup+call+teardown)\n\nStacks of all threads at the limit:\n{self.stacks}"
        )

    def again(self, grace: float, stacks: str) -> None:
        """A new round: the test was interrupted and went on to hang again
        elsewhere (a fixture's teardown after the call). The stacks of then
        are kept after the first ones, so the report shows both hangs."""
        self.stacks = (
            f"{self.stacks}\n\nIt was interrupted, then still running {grace:g} s later; "
            f"stacks of all threads then:\n{stacks}"
        )
        self.interrupted = False
        self.landed = None
        self.landed_at = math.inf


class TestTimer(HooksOnly):
    """The per-test hooks of a process that runs tests with limits."""

    __test__ = False  # not a test class, whatever pytest's name pattern says

    def __init__(self, config: pytest.Config, limits: Limits) -> None:
        self.config = config
        self.default = limits.default
        self.grace = limits.grace
        self.watchdog = Watchdog("pexen-watchdog")
        self.lock = threading.Lock()
        self.current: _Running | None = None
        self.main = threading.main_thread().ident or 0
        self._handler = self._on_signal  # one bound method, compared by identity
        self.stopping = False  # _give_up: the process is about to exit
        workerinput = getattr(config, "workerinput", None)
        self.worker = workerinput is not None
        self.controlled = bool(workerinput and workerinput.get("pexen"))
        # a local worker under --dist pexen is killed by its controller
        self.guard = None if (workerinput or {}).get("pexen_killable") else _fault_guard(config)

    # ------------------------------------------------------------ per test
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        limit = limit_of(item, self.default)
        if limit is None:
            if self.guard is not None:
                self.guard.disarm()
            return (yield)
        running = _Running(item, limit)
        previous = spare = None
        signum = SIGNAL if threading.get_ident() == self.main else None
        if signum is not None:
            previous = running.previous = set_signal_handler(signum, self._handler)
            if SPARE is not None:
                spare = set_signal_handler(SPARE, self._handler)
        self.current = running
        running.timer = self.watchdog.add(running.deadline, partial(self._expired, running))
        if self.guard is not None:
            self.guard.arm(running.deadline + self.grace, limit)
        try:
            return (yield)
        finally:
            with self.lock:
                self.current = None
                if running.timer is not None:
                    self.watchdog.cancel(running.timer)
            if signum is not None and previous is not None:
                set_signal_handler(signum, previous)
            if SPARE is not None and spare is not None:
                set_signal_handler(SPARE, spare)

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: Any) -> bool | None:
        """pytest-timeout is about to time a test: the shorter limit wins. If
        ours is (or both are equal), pytest-timeout's timer is not set (a
        result here stops its own implementation); if its own is shorter, it
        interrupts the test its way and pexen stands aside in-process (both
        use SIGALRM), keeping only the stop after its grace period."""
        running = self.current
        if running is None or running.item is not item:
            return None
        theirs = getattr(settings, "timeout", None)
        if theirs is None or theirs <= 0 or theirs >= running.limit:
            return True
        running.aside = True
        return None

    def pytest_enter_pdb(self) -> None:
        """The debugger stops the clock (``--pdb``, ``breakpoint()``)."""
        with self.lock:
            running = self.current
            if running is None or running.paused_at is not None:
                return
            running.paused_at = real_monotonic()
            if running.timer is not None:
                self.watchdog.cancel(running.timer)
        if self.guard is not None:
            self.guard.disarm()

    def pytest_leave_pdb(self) -> None:
        with self.lock:
            running = self.current
            if running is None or running.paused_at is None:
                return
            pause = real_monotonic() - running.paused_at
            running.paused_at = None
            running.deadline += pause
            running.grace_end += pause
            due = running.deadline if running.stacks is None else running.grace_end
            running.timer = self.watchdog.add(due, partial(self._expired, running))
        if self.guard is not None:
            self.guard.arm(running.deadline + self.grace, running.limit)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        self.watchdog.stop()
        if self.guard is not None:
            self.guard.close()

    # ------------------------------------------------------------ at the limit
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Fail the running phase, once per round, if the test is over its
        limit. Outside a phase (pytest reporting) it waits for the next
        signal. A SIGALRM that is not pexen's (the test's own alarm, with a
        handler set before the test) goes to that handler: none is lost."""
        __tracebackhide__ = True
        while self.stopping:  # the process exits over a hang: report nothing more
            time.sleep(1)
        running = self.current
        if running is None or running.stacks is None or running.aside:
            if signum == SIGNAL and running is not None and callable(running.previous):
                running.previous(signum, frame)
            return
        if running.interrupted or running.paused_at is not None or not in_test_phase(frame):
            return
        running.interrupted = True
        running.landed = _own_frame(frame)
        running.landed_at = real_monotonic()
        pytest.fail(running.message(), pytrace=False)

    def _expired(self, running: _Running) -> None:
        """Watchdog thread: the test is over its limit (first call), still
        not interrupted (every RESEND seconds), over its grace period, or
        interrupted and still running a grace period later: if the frame
        the interrupt landed in is still running, the test swallowed it
        (the process is stopped); if not, it hangs elsewhere (a new round)."""
        with self.lock:
            if self.current is not running or running.paused_at is not None:
                return
            now = real_monotonic()
            if running.stacks is None:
                running.stacks = thread_stacks()
                running.grace_end = now + self.grace
                if self.controlled:  # in case the controller must kill this worker
                    self._tell_controller(running.item.nodeid, running.message())
            elif running.interrupted:
                if now < running.landed_at + self.grace:
                    due = running.landed_at + self.grace
                    running.timer = self.watchdog.add(due, partial(self._expired, running))
                    return
                if _on_main_stack(running.landed, self.main):
                    self._give_up(running)  # it swallowed the interrupt and goes on
                    return
                self._round_again(running, now)
            elif now >= running.grace_end:
                self._give_up(running)
                return
            if not running.interrupted and not running.aside:
                self._interrupt()
            due = min(now + RESEND, running.grace_end)
            running.timer = self.watchdog.add(due, partial(self._expired, running))

    def _round_again(self, running: _Running, now: float) -> None:
        """Watchdog thread: the interrupt landed and the test went on to
        hang somewhere else: that hang gets its own stacks, interrupt and
        grace (the process, and the controller, wait for it)."""
        running.again(self.grace, thread_stacks())
        running.grace_end = now + self.grace
        if self.guard is not None:
            self.guard.arm(running.grace_end, running.limit)
        if self.controlled:
            self._tell_controller(running.item.nodeid, running.message(), self.grace)

    def _interrupt(self) -> None:
        """Interrupt the main thread with a signal whose handler is ours:
        SIGALRM, or while the test has its own SIGALRM handler, the spare
        signal (its handler, and any alarm it set, stay the test's)."""
        handler = self._handler
        for signum in (SIGNAL, SPARE):
            if signum is not None and get_signal_handler(signum) is handler:
                signal.pthread_kill(self.main, signum)  # a blocking call returns
                _thread.interrupt_main(signum)  # also if the main thread blocked it
                return

    def _tell_controller(self, nodeid: str, text: str, more: float = 0.0) -> None:
        """Words for xdist's crash report, should this worker die in the
        test (``more``: seconds the controller is to wait longer, for a new
        round). From the watchdog thread: execnet writes each message whole,
        under its writer's lock, so it cannot tear a report the main thread
        sends meanwhile. "unscheduled" is the event whose payload reaches
        the scheduler untouched (see xdist/worker.py)."""
        note: dict[str, Any] = {"test": nodeid, "text": text}
        if more:
            note["more"] = more
        find_interactor(self.config).sendevent("unscheduled", indices={"pexen_timeout": note})

    def _give_up(self, running: _Running) -> None:
        """Watchdog thread, the lock held (the main thread cannot end the
        test meanwhile): the test ignored the interrupt for the whole grace
        period. Stop this process; serially after journaling the timeout."""
        if self.guard is not None:
            self.guard.close()
        # what the test started goes with it; the main thread, freed by
        # that, is held in the signal handler meanwhile (no report of a
        # test the watchdog is reporting)
        self.stopping = True
        self._interrupt()
        stop_descendants(os.getpid())
        nodeid = running.item.nodeid
        why = (
            f"It did not stop within {self.grace:g} s of its limit (stuck in C code, or "
            "with signals blocked), so"
        )
        if self.worker:
            worker = self.config.workerinput.get("workerid")  # type: ignore[attr-defined]
            if self.controlled:
                self._tell_controller(
                    nodeid, f"{running.message()}\n{why} its worker {worker!r} exited."
                )
            os._exit(1)
        text = f"{running.message()}\n{why} pexen stopped the run."
        plugin = self.config.pluginmanager.get_plugin(JOURNAL)
        resumable = plugin is not None and plugin.timed_out(running.item, text)
        hint = (
            "Run the same pytest command with --pexen-resume to continue after it "
            "(it is reported timed out, not run again)."
            if resumable
            else "There is no journal (--pexen-state), so the run cannot be resumed."
        )
        with contextlib.suppress(Exception):  # the process stops whatever a report does
            self.config.hook.pytest_pexen_stopping(item=running.item, text=text)
        _tell(
            self.config,
            nodeid,
            text,
            f"pexen: {nodeid} timed out and did not stop; the run stops here. {hint}",
        )
        os._exit(1)


def _tell(config: pytest.Config, nodeid: str, text: str, last: str) -> None:
    """Write the timeout on the terminal from the watchdog thread, with what
    the test printed so far (captured output would be lost), as
    pytest-timeout's thread method does."""
    out = err = ""
    capman = config.pluginmanager.get_plugin("capturemanager")
    if capman is not None:
        capman.suspend_global_capture(in_=True)
        out, err = capman.read_global_capture()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter is not None else print
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("_", f"{nodeid} (timed out)", red=True, bold=True)
    write(text)
    for title, captured in (("stdout", out), ("stderr", err)):
        if captured:
            if reporter is not None:
                reporter.write_sep("-", f"Captured {title} before the timeout")
            write(captured.rstrip("\n"))
    if reporter is not None:
        reporter.write_line(last, red=True, bold=True)
        reporter.flush()
    else:
        print(last)
    sys.stdout.flush()
    sys.stderr.flush()


def _own_frame(frame: FrameType | None) -> FrameType | None:
    """The frame of the test's own code (the test function, a fixture) that
    pytest called and that ``frame`` runs in: the outermost of the
    non-framework frames from ``frame`` outwards, up to the first frame of
    pytest's. It is still running if the test swallowed the interrupt, and
    gone if the interrupt ended it. None: the interrupt landed in pytest's
    code."""
    own = None
    while frame is not None and not is_framework(frame.f_code.co_filename):
        own = frame
        frame = frame.f_back
    return own


def _on_main_stack(frame: FrameType | None, main: int) -> bool:
    """Whether ``frame`` is still on the main thread's stack (no frame: the
    interrupt landed in pytest's own code, so nothing of the test swallowed
    it)."""
    if frame is None:
        return False
    current = sys._current_frames().get(main)
    while current is not None:
        if current is frame:
            return True
        current = current.f_back
    return False


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (children, their children...), from
    ``/proc`` (Linux; elsewhere none are known), deepest last."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rpartition(b")")[2].split()
        if len(fields) > 1 and fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found.extend(below)
        todo.extend(below)
    return found


def stop_descendants(pid: int, grace: float = REAP) -> None:
    """Before a process exits over a hung test: terminate what the test
    started (``os.system``'s shell and its command, a server), SIGTERM then,
    after ``grace`` seconds, SIGKILL, so that a claim released with the test
    means the resource is free. Processes that detached themselves from
    the tree (a daemon's double fork) are out of reach."""
    targets = descendants(pid)
    for target in targets:
        with contextlib.suppress(OSError):
            os.kill(target, signal.SIGTERM)
    deadline = real_monotonic() + grace
    while targets and real_monotonic() < deadline:
        time.sleep(0.02)
        alive = set(descendants(pid))
        targets = [t for t in targets if t in alive]
    for target in [*targets, *descendants(pid)]:  # the stubborn, and any new child
        with contextlib.suppress(OSError):
            os.kill(target, getattr(signal, "SIGKILL", signal.SIGTERM))


# ------------------------------------------------------------ GIL held in C
class FaultGuard:
    """The last resort for a test that holds the GIL in C code, where no
    Python thread can run: faulthandler's C-level timer dumps the stack of
    every thread into a file and exits the process.

    Arming it starts and joins a thread (about 30 us), too much per test.
    So it is armed with one more limit to spare, and re-armed only when a
    test's limit plus grace is past that point, or a limit's worth before
    it (a short limit after a long one): a test stuck that way is stopped
    between limit + grace and twice its limit + grace. It is disarmed for
    tests without a limit and in the debugger.
    """

    def __init__(self, opener: Callable[[], IO[str]], path: Path | None) -> None:
        self.opener = opener
        self.path = path  # a file of our own, removed at the end
        self.file: IO[str] | None = None
        self.until = 0.0

    def arm(self, at: float, spare: float) -> None:
        if at <= self.until <= at + spare:
            return
        if self.file is None:
            self.file = self.opener()
        self.until = at + spare
        faulthandler.dump_traceback_later(self.until - real_monotonic(), exit=True, file=self.file)

    def disarm(self) -> None:
        if self.until:
            faulthandler.cancel_dump_traceback_later()
            self.until = 0.0

    def close(self) -> None:
        self.disarm()
        if self.file is not None:
            self.file.close()
            self.file = None
            if self.path is not None:
                self.path.unlink(missing_ok=True)


def _fault_guard(config: pytest.Config) -> FaultGuard | None:
    """Serially the stacks go next to the journal, where a resume finds
    them; on a worker the controller cannot kill (remote), to its stderr.
    None where pytest's own faulthandler_timeout uses the same timer."""
    try:
        if float(config.getini("faulthandler_timeout") or 0) > 0:
            return None
    except ValueError:  # -p no:faulthandler: the ini option is unknown
        pass
    plugin = config.pluginmanager.get_plugin(JOURNAL)
    if plugin is None or getattr(config, "workerinput", None) is not None:
        fd = os.dup(2)  # now, while pytest does not capture it
        return FaultGuard(lambda: os.fdopen(fd, "w"), None)
    path = hang_path(plugin.path)
    boot = plugin.boot

    def opener() -> IO[str]:
        file = path.open("w")
        file.write(f"{HANG_HEADER} boot={boot}\n")
        file.flush()
        return file

    return FaultGuard(opener, path)


def hang_records(config: pytest.Config, path: Path, state: StoppedBoot) -> list[dict[str, Any]]:
    """On resume: if faulthandler stopped the journal's last boot, the end
    records of the tests it stopped (serially, the one running), failed,
    with the stacks it dumped."""
    try:
        text = hang_path(path).read_text(errors="replace")
        stopped = hang_path(path).stat().st_mtime
    except OSError:
        return []
    head, _, dump = text.partition("\n")
    if head != f"{HANG_HEADER} boot={state.boot}" or not dump.strip() or state.stop is not None:
        return []
    records = []
    for test, start in state.running.items():
        began = float(start.get("t") or stopped)
        message = (
            f"Timeout: {test} exceeded its time limit and did not stop: it held the "
            "GIL in C code, where no Python thread could interrupt it, so faulthandler "
            f"stopped the run {stopped - began:.1f} s after the test started.\n\n"
            f"Stacks of all threads then (faulthandler):\n{dump.rstrip()}"
        )
        where = test.partition("::")[0]
        report = pytest.TestReport(
            test, (where, None, test), {}, "failed", message, "call", duration=stopped - began
        )
        data = config.hook.pytest_report_to_serializable(config=config, report=report)
        records.append(
            {
                "type": "end",
                "test": test,
                "t": stopped,
                "outcome": "fail",
                "duration": round(stopped - began, 6),
                "results": [],
                "shared": None,
                "provides": [],
                "ok": False,
                "deps_ok": False,
                "locks_ok": True,
                "why": "timed out",
                "worker": start.get("worker"),
                "boot": state.boot,
                "start": began,
                "location": [where, None, test],
                "reports": [data],
            }
        )
    return records


# ------------------------------------------------------------ xdist controller
class _Watched:
    __slots__ = ("killed", "limit", "node", "nodeid", "start", "timer")

    def __init__(self, nodeid: str, limit: float, node: Any) -> None:
        self.nodeid = nodeid
        self.limit = limit
        self.node = node
        self.start = real_monotonic()
        self.killed = False
        self.timer: Timer | None = None


class ControllerTimer(HooksOnly):
    """The xdist controller's timer per running test with a limit: from the
    moment the worker says it started it, to its end."""

    def __init__(
        self,
        config: pytest.Config,
        limits: Limits,
        scheduler: Scheduler,
        tests: dict[str, float],
    ) -> None:
        self.scheduler = scheduler
        self.default = limits.default
        self.grace = limits.grace
        self.tests = tests
        self.running: dict[str, _Watched] = {}
        self.said: dict[str, str] = {}  # why a worker exited, as it said before
        self.watchdog = Watchdog("pexen-controller-watchdog")
        self.lock = threading.Lock()

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        limit = self.tests.get(nodeid, self.default)
        if limit is None:
            return
        watched = _Watched(nodeid, limit, self.scheduler.worker_of(nodeid))
        due = watched.start + limit + self.grace + MARGIN
        with self.lock:
            old = self.running.pop(nodeid, None)
            self.running[nodeid] = watched
            watched.timer = self.watchdog.add(due, partial(self._overdue, watched))
        if old is not None and old.timer is not None:
            self.watchdog.cancel(old.timer)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        with self.lock:
            watched = self.running.pop(nodeid, None)
        if watched is not None and watched.timer is not None:
            self.watchdog.cancel(watched.timer)
        self.said.pop(nodeid, None)

    def worker_said(self, note: dict[str, Any]) -> None:
        """A worker's words on a test over its limit (at the limit, with the
        stacks; at a new round, with ``more`` seconds to wait; again when it
        gives up and exits)."""
        nodeid = str(note.get("test"))
        self.said[nodeid] = str(note.get("text"))
        more = note.get("more")
        if not isinstance(more, (int, float)):
            return
        with self.lock:
            watched = self.running.get(nodeid)
            if watched is None or watched.timer is None:
                return
            self.watchdog.cancel(watched.timer)
            due = real_monotonic() + more + MARGIN
            watched.timer = self.watchdog.add(due, partial(self._overdue, watched))

    def _overdue(self, watched: _Watched) -> None:
        """Watchdog thread: the worker did not stop itself (it holds the GIL
        in C code, or is not running at all): kill it, if it is ours. A
        remote worker stops itself (faulthandler) or is not heard of again."""
        with self.lock:
            if self.running.get(watched.nodeid) is not watched:
                return
            pid = local_pid(watched.node)
            if pid is None:
                return
            watched.killed = True
            below = descendants(pid)  # what its test started, before they lose their parent
            with contextlib.suppress(OSError):  # it died meanwhile
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        if not below:
            return
        for target in below:
            with contextlib.suppress(OSError):
                os.kill(target, signal.SIGTERM)
        time.sleep(REAP)  # this thread's other timers wait: only after a kill
        for target in below:
            with contextlib.suppress(OSError):
                os.kill(target, getattr(signal, "SIGKILL", signal.SIGTERM))

    @pytest.hookimpl(tryfirst=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport) -> None:
        """xdist is about to report a worker's death while running a test:
        if the test was over its limit, the report says it timed out."""
        with self.lock:
            watched = self.running.pop(crashitem, None)
        if watched is None:
            return
        if watched.timer is not None:
            self.watchdog.cancel(watched.timer)
        said = self.said.pop(crashitem, None)
        elapsed = real_monotonic() - watched.start
        if said is None and not watched.killed and elapsed < watched.limit:
            return  # a crash within the limit is a crash
        worker = getattr(getattr(getattr(report, "node", None), "gateway", None), "id", "?")
        text = said or f"Timeout: {crashitem} exceeded {watched.limit:g} s (setup+call+teardown)"
        if watched.killed:
            text += (
                f"\nIt did not stop within {self.grace + MARGIN:g} s of its limit, so pexen "
                f"killed its worker {worker!r}"
                + (
                    "."
                    if said
                    else " (no stack could be taken: C code holding the GIL, "
                    "or a worker not running at all)."
                )
            )
        elif said is None:
            text += f"\nIts worker {worker!r} died {elapsed:.1f} s after the test started."
        report.longrepr = text
        path, _, name = crashitem.partition("::")  # headed by the test, not its file
        report.location = (path, None, name.replace("::", ".") or path)
        report.pexen_timeout = watched.limit  # type: ignore[attr-defined]

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        self.watchdog.stop()


# ------------------------------------------------------------ the whole run
class SessionLimit(HooksOnly):
    """``--pexen-session-timeout``: after it no test starts. Where tests run,
    each later one is skipped at its setup; the xdist scheduler sends no new
    test (it asks ``over()``). The run fails if a test was skipped for it."""

    def __init__(self, seconds: float, left: float) -> None:
        self.deadline = real_monotonic() + left
        self.reason = f"session time limit of {seconds:g} s reached"
        self.skip_text = f"pexen: {self.reason}"
        self.mine: set[str] = set()
        self.reached = False
        self.skipped = 0
        self.earlier = 0  # of them, skipped in a boot before (a resume reports them again)

    def over(self) -> bool:
        return real_monotonic() >= self.deadline

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not self.over():
            return
        if not self.reached:
            # a serial graph run: the planner skips the rest with the same words
            self.reached = True
            run = item.config.stash.get(RUN_KEY, None)
            if run is not None and run.planner is not None:
                run.planner.abort(self.reason)
        self.mine.add(item.nodeid)
        pytest.skip(self.skip_text)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "setup" and report.skipped and item.nodeid in self.mine:
            self.mine.discard(item.nodeid)
            path, line = item.reportinfo()[:2]  # point at the test, not at pexen
            report.longrepr = (str(path), (line or 0) + 1, self.skip_text)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        longrepr = report.longrepr
        if (
            report.skipped
            and report.when == "setup"
            and isinstance(longrepr, tuple)
            and longrepr[2] == self.skip_text
        ):
            self.skipped += 1
            self.earlier += bool(report.__dict__.get("pexen_resumed"))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.skipped:
            # all of them in a boot before a --pexen-resume: this boot's limit was not reached
            when = " before the resume" if self.earlier == self.skipped else ""
            terminalreporter.write_line(
                f"pexen: {self.reason}{when}: {self.skipped} tests not run (reported skipped)",
                red=True,
            )
