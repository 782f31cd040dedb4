"""The worker side of ``--dist pexen``: a test loop that runs on command.

xdist's own worker loop keeps its last queued test until another one (or a
shutdown) arrives, because pytest needs the next item to decide which
fixtures to tear down. A scheduler that sends a test only when it may run
would then deadlock on a dependency chain. This loop replaces it: the
controller sends ``pexen_run`` with the tests to run now, and each runs at
once. When the test that follows is already known (the same batch, or a
command that has arrived) it is the ``nextitem``, exactly as in a serial
run; otherwise every scope that another test can share is kept (see
``internals.nearest_items``) and torn down only once the next test, or the
shutdown, is known. A failure in that late teardown is reported as the
teardown error of the test that used the fixture last, as ``--dist load``
reports it. So session fixtures are set up once per worker, and module
fixtures as often as the dispatch changes module.

A test sent ahead of the tests it waits for (queued before it here, see
scheduler.py) carries them as its condition: it runs, given what they hand
on, if they all ended well here; otherwise the controller's planner skips
it too, and the loop waits for its verdict (``pexen_verdict``: the skip
reason, exactly as in a serial run) before it goes on.

A suite without pexen metadata is scheduled by xdist's own ``load``
scheduler and runs in xdist's own loop. Either way, a test's last events
(its teardown report, its end, its warnings, the end of its protocol) go
to the controller in one message, with the next test's start in pexen's
loop (``ControllerChannel``).

It also sends the controller the task graph this worker collected (every
worker computes the same), since the controller does not collect, as one
JSON string.

Capabilities plug in through the entry point's internal hook
(``pytest_pexen_xdist_worker``): ``on_command`` (commands handled as they
arrive, on the receiver thread), ``add_to_graph`` (more in the graph
message) and ``on_loop`` (at the start and end of the loop).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from ..internals import (
    SHARED_SCOPES,
    HooksOnly,
    find_interactor,
    fixture_scopes,
    late_teardown,
    nearest_items,
)
from .protocol import BATCH, Entry, off_the_wire

if TYPE_CHECKING:
    from ..graph.taskgraph import GraphSpec

SHUTDOWN = object()
_HELD = frozenset({"logfinish", "warning_recorded"})


class ControllerChannel:
    """What the worker sends to the controller goes through here.

    A controller that is gone (SIGKILLed, its host down) can be told
    nothing more: each send fails with OSError, and the last one, xdist's
    "workerfinished" in its ``pytest_sessionfinish`` hookwrapper, makes
    pluggy print a PluggyTeardownRaisedWarning ("cannot send (already
    closed?)") from every orphaned worker, on the terminal or into the
    output of whatever runs next. Here such a send is dropped, and ``gone``
    tells the test loop to start nothing more: nobody would journal it, and
    a resume may be running it already."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.gone = False  # set on the receiver thread too (the channel closed)
        self.held: list[Any] | None = None  # a test's last events, see ``send``
        # the thread that holds events; the watchdog's (watchdog/limits.py)
        # sends at once, and never takes the held ones from under it
        self.owner = threading.get_ident()
        # a test's forked child that returns into pytest instead of exiting
        # has a copy of this channel: it must never write into the stream
        self.pid = os.getpid()

    def send(self, item: Any) -> None:
        """Send an xdist event, or hold it.

        Each message costs the controller a read, a decode, a callback and
        a wake-up of its main thread, and a passed test is six xdist events.
        So a test's teardown report and what follows it in its protocol
        (its end, the warnings it raised) are held; the loop adds its
        ``runtest_protocol_complete`` (``defer``), and all go with the next
        event of another kind: most often the next test's start. Nothing is
        held across test code, a wait for the controller or the session's
        end: the loop sends what is held before each (``flush``), and any
        other event, from a plugin or pexen, sends it first. A message of
        several events is xdist's own events in a list, unpacked by the
        controller (``internals.receive_together``)."""
        if threading.get_ident() != self.owner:  # the watchdog's thread: at once
            self._send(item)
            return
        held = self.held
        if held is not None:
            held.append(item)
            if item[0] not in _HELD:
                self.flush()
        elif item[0] == "testreport" and item[1]["data"].get("when") == "teardown":
            self.held = [item]
        else:
            self._send(item)

    def defer(self, item: Any) -> None:
        """Hold ``item`` until the next event that is sent at once, or ``flush``
        (on the thread that holds events: elsewhere, as ``send``, at once)."""
        if threading.get_ident() != self.owner:
            self._send(item)
        elif self.held is None:
            self.held = [item]
        else:
            self.held.append(item)

    def flush(self) -> None:
        """Send what is held, in one message (the test loop's thread only)."""
        held, self.held = self.held, None
        if held:
            self._send(held[0] if len(held) == 1 else (BATCH, {"events": held}))

    def _send(self, item: Any) -> None:
        if self.gone or os.getpid() != self.pid:
            return
        try:
            self.channel.send(item)
        except OSError:  # execnet's IO to the controller broke: for good
            self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.channel, name)


class PexenWorker(HooksOnly):
    """Registered on xdist workers when the controller schedules with pexen."""

    def __init__(self, config: pytest.Config, graph_source: Any) -> None:
        self.config = config
        self.graph_source = graph_source
        self.commands: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.todo: deque[Entry] = deque()  # sent, not started yet
        self.verdicts: dict[int, str] = {}  # skip reasons of tests sent ahead
        self.nearest: list[pytest.Item | None] | None = None
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.additions: dict[str, Callable[[list[pytest.Item]], Any]] = {}
        self.starting: list[Callable[[], None]] = []
        self.ending: list[Callable[[], None]] = []
        self.pid = os.getpid()
        interactor = find_interactor(config)
        self.channel = interactor.channel = ControllerChannel(interactor.channel)
        config.hook.pytest_pexen_xdist_worker(worker=self)

    def on_command(self, kind: str, handler: Callable[[dict[str, Any]], None]) -> None:
        """``handler(args)`` gets the controller's ``kind`` commands as they
        arrive (on the receiver thread), instead of the loop."""
        self.handlers[kind] = handler

    def add_to_graph(self, key: str, make: Callable[[list[pytest.Item]], Any]) -> None:
        """The graph message carries ``make(items)`` as ``key`` too."""
        self.additions[key] = make

    def on_loop(self, start: Callable[[], None], end: Callable[[], None]) -> None:
        """``start()`` before the loop can receive a command, ``end()`` after it."""
        self.starting.append(start)
        self.ending.append(end)

    @property
    def plain(self) -> bool:
        """No pexen metadata (and no error): xdist's load scheduler runs it,
        unless the run resumes (load would run the finished tests again)."""
        return (
            self.graph_source.graph is None
            and self.graph_source.error is None
            and not self.config.getoption("pexen_resume")
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Send the graph before xdist announces the collection: the
        controller's scheduler needs both, in this order."""
        source = self.graph_source
        spec: GraphSpec | None = None if self.plain else source.spec_for_controller(session.items)
        scopes = [] if self.plain else [fixture_scopes(item) for item in session.items]
        scoped = [n for n, used in enumerate(scopes) if not used.isdisjoint(SHARED_SCOPES)]
        # a test whose fixtures a worker's death after its end can be tearing down
        kept = [n for n, used in enumerate(scopes) if used - {"function"}]
        payload = {
            "pexen": {
                "plain": self.plain,
                # one JSON string: execnet's serializer walks nested data in
                # Python, about 20 times slower than json (0.1 s a side at
                # 5,000 tests, before the first test can start)
                "spec": None if spec is None else json.dumps(spec, separators=(",", ":")),
                "error": source.error,
                "exit": source.exit,
                "header": source.header_lines(),
                "scoped": scoped,
                "kept": kept,
                "host": socket.gethostname(),  # for per-host locks and host tags
            }
        }
        for key, make in self.additions.items():
            payload["pexen"][key] = make(session.items)
        # "unscheduled" is the one worker event whose payload xdist hands
        # untouched to the scheduler (remove_pending_tests_from_node), which
        # is ours; xdist only sends it in reply to "steal", which we never use
        find_interactor(self.config).sendevent("unscheduled", indices=payload)

    def _on_command(self, command: Any) -> None:
        if command is SHUTDOWN:  # the channel closed: the controller is gone
            self.channel.gone = True
        handler = None if command is SHUTDOWN else self.handlers.get(command[0])
        if handler is not None:
            handler(command[1])
            return
        self.commands.put(command)

    def hold(self, request: dict[str, Any]) -> dict[str, Any]:
        """Ask the controller (compat/xdist.py) from inside the running test and
        wait for its answer. Meanwhile the controller may take back the
        tests queued here (one of them could be what the awaited tests wait
        for); its answer says so, and then the queue, and what it sent
        before answering, are dropped but for the tests it keeps here. A
        shutdown ends the wait.

        A test that runs in a child process the worker forked (pytest-forked's
        ``--forked``) cannot ask: the child has the channel's descriptor but
        not its receiving thread, so it would wait for ever, and what it wrote
        would be mixed into the worker's own messages. It is answered at once,
        with ``why`` the answer is missing."""
        if os.getpid() != self.pid:
            return {"stopping": True, "why": "not known in a forked test process"}
        find_interactor(self.config).sendevent("unscheduled", indices={"pexen_hold": request})
        arrived: list[Entry] = []
        while True:
            command = self.commands.get()
            if command is SHUTDOWN or command[0] == "shutdown":
                self.commands.put(command)  # for the loop, after this test
                return {"stopping": True}
            if command[0] == "pexen_run":
                arrived.extend(off_the_wire(command[1]["entries"]))
            elif command[0] == "pexen_answer":
                answer: dict[str, Any] = command[1]
                if answer.get("revoked"):  # all but the tests it says to keep
                    keep = set(answer.get("keep") or ())
                    kept = [e for e in [*self.todo, *arrived] if e[0] in keep]
                    self.todo.clear()
                    self.todo.extend(kept)
                else:
                    self.todo.extend(arrived)
                return answer

    def _receive(self, todo: deque[Entry], block: bool) -> bool:
        """Move the commands that have arrived (waiting for one if ``block``)
        into ``todo``; True once the shutdown is among them."""
        if block:
            self.channel.flush()  # the controller may be waiting for it
        while True:
            try:
                command = self.commands.get() if block else self.commands.get_nowait()
            except queue.Empty:
                return False
            block = False
            if command is SHUTDOWN or command[0] == "shutdown":
                return True
            if command[0] == "pexen_run":
                todo.extend(off_the_wire(command[1]["entries"]))
            elif command[0] == "pexen_verdict":
                self.verdicts.update(command[1]["tests"])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.plain:
            return None  # xdist's own loop, for xdist's load scheduler
        for starting in self.starting:  # before any command can arrive
            starting()
        interactor = find_interactor(self.config)
        interactor.channel.setcallback(self._on_command, endmarker=SHUTDOWN)
        items = session.items
        run = self.graph_source.run
        todo = self.todo
        stopping = False
        previous: tuple[int, pytest.Item | None] | None = None  # (index, nextitem used)
        graph = getattr(self.graph_source, "graph", None)
        pinned = graph.pins if graph is not None else {}  # see below
        while (todo or not stopping) and not self.channel.gone:
            if not todo:
                stopping = self._receive(todo, block=True)
                continue
            index, skip, shared, *after = todo.popleft()
            item = items[index]
            if after and after[0] and run is not None:
                if all(run.ended_well(items[i].nodeid) for i in after[0]):
                    shared = self._handed(run, items, shared, after[0])
                else:
                    while index not in self.verdicts and not stopping:
                        stopping = self._receive(todo, block=True)
                    if index not in self.verdicts:
                        break  # the run stops (-x, a reboot): the rest is not begun
                    skip, shared = self.verdicts.pop(index), None
            if skip is not None and previous is not None:
                # a test skipped before its setup sets nothing up: the
                # previous test's scopes stay as they are, for the next one
                nextitem = previous[1]
            else:
                if previous is not None:
                    self._settle(interactor, items, previous, item)
                coming = self._coming(todo)
                if coming is None and not stopping:
                    stopping = self._receive(todo, block=False)
                    coming = self._coming(todo)
                nextitem = (
                    items[coming]
                    if coming is not None
                    else (None if stopping else self._nearest(items, index))
                )
                if pinned and index + 1 < len(items) and item.nodeid in pinned:
                    # a module that pytest-order or pytest-dependency keeps on
                    # one worker: its fixtures are torn down where a serial run
                    # tears them down, before the next test in collection
                    # order (another module's, between two of its own)
                    nextitem = items[index + 1]
            if run is not None:
                run.preset(item.nodeid, skip, shared)
            interactor.item_index = index
            start = time.perf_counter()
            self.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            if os.getpid() != self.channel.pid:
                # a test forked and its child returned into pytest instead of
                # exiting: this copy of the worker runs nothing more, and
                # sent nothing (its parent reports the test)
                os._exit(0)
            duration = time.perf_counter() - start
            self.channel.defer(
                ("runtest_protocol_complete", {"item_index": index, "duration": duration})
            )
            if skip is None or previous is None:
                previous = (index, nextitem)
            if session.shouldfail or session.shouldstop:
                break
        self.channel.flush()
        if previous is not None:
            self._settle(interactor, items, previous, None)
        for ending in self.ending:
            ending()
        return True

    @staticmethod
    def _handed(
        run: Any, items: list[pytest.Item], shared: dict[str, Any] | None, after: list[int]
    ) -> dict[str, Any] | None:
        """What a test sent ahead is given: what the controller had for it,
        then what the tests it came after handed on, in the order they ran
        here (the controller merges in the order tests end)."""
        outputs = [run.outputs[key] for i in after if (key := items[i].nodeid) in run.outputs]
        if not outputs:
            return shared
        merged = dict(shared or {})
        for output in outputs:
            merged.update(output)
        return merged

    @staticmethod
    def _coming(todo: deque[Entry]) -> int | None:
        """The next queued test that will set fixtures up (not a skip)."""
        return next((entry[0] for entry in todo if entry[1] is None), None)

    def _nearest(self, items: list[pytest.Item], index: int) -> pytest.Item | None:
        if self.nearest is None:
            self.nearest = nearest_items(items)
        return self.nearest[index]

    @staticmethod
    def _settle(
        interactor: Any,
        items: list[pytest.Item],
        previous: tuple[int, pytest.Item | None],
        actual: pytest.Item | None,
    ) -> None:
        """Tear down what the previous test kept that ``actual`` (the test
        that really comes next, None at the end) does not share; a failure
        there is the previous test's teardown error."""
        index, assumed = previous
        if assumed is actual:
            return
        interactor.channel.flush()  # before the fixtures' code runs
        interactor.item_index = index
        late_teardown(items[index], actual)
        interactor.channel.flush()  # its report, if it failed: no protocol's end follows
