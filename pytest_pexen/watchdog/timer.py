"""One timer thread per process for every time limit, and thread stacks.

The watchdog keeps a heap of deadlines and one daemon thread that sleeps
until the earliest and calls its callback there. A test process has at
most one running test, the xdist controller one per worker: a thread per
test would cost a thread start and join per test, and a heap of callbacks
costs a push and a flag. Cancelling only marks the entry (no heap search);
the thread drops marked entries as it meets them, and the heap is rebuilt
when they outnumber the live ones, so a long run of short tests with long
limits does not pile them up. Adding a deadline later than the earliest
does not wake the thread, so the per-test cost is a lock, a push and a
flag.

Nothing here knows pytest; watchdog/limits.py says what a deadline means.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import heapq
import itertools
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from ..internals import real_monotonic

# where a test's stack starts: frames below the first one outside these
# (pytest, pluggy, xdist, execnet, pexen, the interpreter's start-up) are
# left out of the main thread's stack, so the report begins at the test
_FRAMEWORK = tuple(
    str(Path(path).parent) + os.sep
    for name in ("pytest", "_pytest", "pluggy", "pytest_pexen")
    if (path := getattr(sys.modules.get(name), "__file__", None))
)
_ALSO_FRAMEWORK = ("/xdist/", "/execnet/", "<frozen ", "<string>", "runpy.py")


class Timer:
    """A deadline in the watchdog's heap; ``cancel`` it when it is moot."""

    __slots__ = ("active", "callback")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.active = True


# heap entries: (deadline, sequence number, timer), compared in C
_Entry = tuple[float, int, Timer]


class Watchdog:
    """A heap of deadlines (``time.monotonic`` seconds) served by one thread,
    started on first use. Callbacks run in that thread, one at a time; they
    must be short and must not raise."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._heap: list[_Entry] = []
        self._cancelled = 0
        self._cond = threading.Condition(threading.Lock())
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def add(self, deadline: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(callback)
        entry = (deadline, next(self._seq), timer)
        with self._cond:
            heap = self._heap
            wake = not heap or entry < heap[0]
            heapq.heappush(heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
            elif wake:
                self._cond.notify()
        return timer

    def cancel(self, timer: Timer) -> None:
        if not timer.active:
            return
        timer.active = False
        self._cancelled += 1  # a hint for the rebuild: no lock needed for it
        if self._cancelled > 64 and self._cancelled * 2 > len(self._heap):
            with self._cond:
                self._heap = [entry for entry in self._heap if entry[2].active]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def stop(self) -> None:
        """End the thread (at the end of the session); pending timers are dropped."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _serve(self) -> None:
        while True:
            with self._cond:
                due = self._next_due()
                if due is None:
                    return
            due.callback()

    def _next_due(self) -> Timer | None:
        """Wait (lock held) for the earliest live deadline and take it off
        the heap; None once stopped."""
        while not self._stopped:
            heap = self._heap  # a rebuild replaces it
            if heap and not heap[0][2].active:
                heapq.heappop(heap)
                self._cancelled = max(0, self._cancelled - 1)
                continue
            if not heap:
                self._cond.wait()
                continue
            left = heap[0][0] - real_monotonic()
            if left <= 0:
                timer = heapq.heappop(heap)[2]
                timer.active = False
                return timer
            self._cond.wait(left)
        return None


def thread_stacks() -> str:
    """The stack of every thread but the calling one, the main thread first
    (from where the test begins), as tracebacks print them."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    me = threading.get_ident()
    main = threading.main_thread().ident
    frames = sys._current_frames()
    parts = []
    for ident in sorted(frames, key=lambda i: i != main):
        if ident == me:
            continue
        entries = traceback.extract_stack(frames[ident])
        if ident == main:
            entries = _from_the_test(entries)
        name = f"{names[ident]} (thread {ident})" if ident in names else f"thread {ident}"
        parts.append(f"--- stack of {name} ---\n" + "".join(traceback.format_list(entries)))
    return "\n".join(parts)


def is_framework(filename: str) -> bool:
    """Whether code in this file is pytest's, pluggy's, xdist's, pexen's or
    the interpreter's start-up, not the test's."""
    return filename.startswith(_FRAMEWORK) or any(part in filename for part in _ALSO_FRAMEWORK)


def _from_the_test(entries: traceback.StackSummary) -> traceback.StackSummary:
    """The frames from the first one outside the framework on (all of them
    if every frame is the framework's)."""
    for n, entry in enumerate(entries):
        if not is_framework(entry.filename):
            return traceback.StackSummary.from_list(entries[n:])
    return entries
