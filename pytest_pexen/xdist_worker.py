"""The worker side of ``--dist pexen``: a test loop that runs on command.

xdist's own worker loop keeps its last queued test until another one (or a
shutdown) arrives, because pytest needs the next item to decide which
fixtures to tear down. A scheduler that sends a test only when it may run
would then deadlock on a dependency chain. This loop replaces it: the
controller sends ``pexen_run`` with the tests to run now and a hint of the
next one; each test runs at once with the hint as its ``nextitem``. If the
test that really comes next differs, the fixtures it does not share are
torn down first, so pytest's setup state stays exact.

It also sends the controller the task graph this worker collected (every
worker computes the same), since the controller does not collect.
"""

from __future__ import annotations

import queue
import time
import warnings
from typing import Any

import pytest

from .taskgraph import GraphSpec

SHUTDOWN = object()


def find_interactor(config: pytest.Config) -> Any:
    """xdist's WorkerInteractor plugin of this worker process."""
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "WorkerInteractor":
            return plugin
    raise RuntimeError("pexen: no xdist WorkerInteractor in this worker")


class PexenWorker:
    """Registered on xdist workers when the controller schedules with pexen."""

    def __init__(self, config: pytest.Config, graph_source: Any) -> None:
        self.config = config
        self.graph_source = graph_source
        self.commands: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.teardown_error: tuple[str, Exception] | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Send the graph before xdist announces the collection: the
        controller's scheduler needs both, in this order."""
        spec: GraphSpec | None = self.graph_source.spec_for_controller(session.items)
        payload = {"pexen": {"spec": spec, "error": self.graph_source.error,
                             "header": self.graph_source.header_lines()}}
        # "unscheduled" is the one worker event whose payload xdist hands
        # untouched to the scheduler (remove_pending_tests_from_node), which
        # is ours; xdist only sends it in reply to "steal", which we never use
        find_interactor(self.config).sendevent("unscheduled", indices=payload)

    def _on_command(self, command: Any) -> None:
        self.commands.put(command)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        interactor = find_interactor(self.config)
        interactor.channel.setcallback(self._on_command, endmarker=SHUTDOWN)
        items = session.items
        run = self.graph_source.run
        previous: tuple[int, pytest.Item | None] | None = None  # (index, nextitem used)
        backlog: list[Any] = []
        while True:
            command = backlog.pop(0) if backlog else self.commands.get()
            if command is SHUTDOWN or command[0] == "shutdown":
                break
            name, kwargs = command
            if name != "pexen_run":
                continue
            entries = kwargs["entries"]
            for n, (index, skip, shared) in enumerate(entries):
                item = items[index]
                if previous is not None:
                    self._settle_previous(items, previous, item)
                if n + 1 < len(entries):
                    nextitem: pytest.Item | None = items[entries[n + 1][0]]
                else:
                    nextitem = self._peek_next(items, backlog, kwargs["hint"])
                if run is not None:
                    run.preset(item.nodeid, skip, shared)
                interactor.item_index = index
                start = time.perf_counter()
                self.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                duration = time.perf_counter() - start
                interactor.sendevent("runtest_protocol_complete", item_index=index,
                                     duration=duration)
                previous = (index, nextitem)
            if session.shouldfail or session.shouldstop:
                break
        if previous is not None:
            self._settle_previous(items, previous, None)
        return True

    def _peek_next(self, items: list[pytest.Item], backlog: list[Any],
                   hint: int | None) -> pytest.Item | None:
        """The real next test if its command is already here, else the hint."""
        while not backlog:
            try:
                backlog.append(self.commands.get_nowait())
            except queue.Empty:
                break
        for command in backlog:
            if command is SHUTDOWN or command[0] == "shutdown":
                return None
            if command[0] == "pexen_run" and command[1]["entries"]:
                first: int = command[1]["entries"][0][0]
                return items[first]
        return items[hint] if hint is not None else None

    def _settle_previous(self, items: list[pytest.Item],
                         previous: tuple[int, pytest.Item | None],
                         actual: pytest.Item | None) -> None:
        """Tear down what the previous test's ``nextitem`` kept alive but the
        actual next test does not share. A failure there cannot be reported
        as the previous test's teardown any more (its reports are sent), so
        it becomes the setup error of the next test, or a warning at the end.
        """
        index, assumed = previous
        if assumed is actual:
            return
        try:
            items[index].session._setupstate.teardown_exact(actual)
        except Exception as exc:
            where = f"after {items[index].nodeid}"
            if actual is None:
                warnings.warn(pytest.PytestWarning(
                    f"pexen: fixture teardown {where} failed: {exc!r}"), stacklevel=1)
            else:
                self.teardown_error = (where, exc)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.teardown_error is not None:
            (where, exc), self.teardown_error = self.teardown_error, None
            raise RuntimeError(f"pexen: fixture teardown {where} failed") from exc
