"""The timeline page: ``--pexen-timeline=FILE.html`` and
``python -m pytest_pexen.journal PATH --timeline FILE.html``.

Both build the page from journal records (journal.py), so the page a run
writes and the page made afterwards from its journal are the same, and a
run resumed across reboots gets one page of every boot. At the end of a
fresh run the records come from the journaling process, which kept them
(without the tests' reports) for this: the journal is not read back, and a
run without a journal file (``--pexen-state=none``) has its page too. A
resumed run reads its journal file, for the earlier boots.

What the page shows is worked out here, in Python, once: a bar per test
attempt in its worker's lane (xdist ``gwN``, or one lane for a serial
run), placed where its worker says it ran (the end record's ``ran``,
clamped between the journal's start and end records, as a remote worker's
clock may differ); why each test started when it did (the provider it
waited for, the lock holder it waited on, an earlier group, then a
worker); the critical path of the task graph (the run header's ``graph``)
with the measured durations; and the summary numbers. The page itself
(timeline.html, package data) only draws: lanes of absolutely placed bars
in a track whose width is the zoom, one tooltip and one detail panel
driven by event delegation, so 5,000 tests are 5,000 small elements and
zooming lays out nothing per bar.

Boots sit side by side on one axis of run time: each boot's span, from its
first test's start to its last test's end, with a short break between
boots (the time the machine was down is left out).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import bisect
import graphlib
import html
import json
import math
import os
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ..graph.keys import JOURNAL
from ..internals import HooksOnly
from ..journal.format import JournalError, Record
from ..journal.format import ran as journal_ran

# outcomes as the page colours them; "reboot" and "interrupted" are
# attempts that did not end (the test asked for a reboot; the run stopped)
OUTCOMES = (
    "pass",
    "fail",
    "error",
    "skip",
    "xfail",
    "xpass",
    "warn",
    "info",
    "reboot",
    "interrupted",
)
BREAK = 0.02  # the gap between two boots on the axis, as a share of the run time
MESSAGE = 300  # sub-result messages are cut to this many characters on the page
SLOW = 0.001  # seconds: a test sent this much later than it could be waited for a worker


def timeline_path(config: pytest.Config) -> Path | None:
    """Where the page goes: the option (relative to the invocation
    directory) or the ini setting (relative to the ini file); None: no page."""
    option = config.getoption("pexen_timeline", None)
    if option:
        base = Path(config.invocation_params.dir)
        raw = str(option)
    else:
        raw = str(config.getini("pexen_timeline") or "")
        if not raw:
            return None
        base = config.inipath.parent if config.inipath else config.rootpath
    return base / os.path.expanduser(os.path.expandvars(raw))


@dataclass
class Bar:
    """One attempt of a test, in its worker's lane."""

    test: str
    lane: str
    sent: float  # epoch seconds: its start record (under xdist: sent to its worker)
    begin: float  # its worker began it (the end record's "ran")
    end: float  # its worker was done with it
    done: float  # its end record (the journaling process knew it had ended)
    outcome: str
    duration: float | None  # the journal's (setup + call + teardown); None if it did not end
    boot: int  # index into Timeline.boots
    results: list[Any] = field(default_factory=list)
    # why it started when it did: what it waited for, the last first
    waits: list[Wait] = field(default_factory=list)
    idle: int = 0  # workers idle when it could have been sent, if it waited for that


@dataclass
class Wait:
    """A test waited for ``test`` to end (at ``end``, known at ``done``):
    a ``provider`` of the tag ``name``, a holder of the lock ``name``, or
    the last test of the ``group`` before its own."""

    kind: str
    name: str
    test: str
    end: float
    done: float


@dataclass
class Boot:
    """One boot of the run: the first run, then each ``--pexen-resume``."""

    number: int
    workers: int  # as its record says, else the lanes it used
    first: float = float("inf")  # earliest start record
    last: float = float("-inf")  # latest end (or start, reboot) record
    stop: str | None = None  # the stop record's reason, if it wrote one

    @property
    def span(self) -> float:
        return max(0.0, self.last - self.first) if self.last >= self.first else 0.0


@dataclass
class Timeline:
    """A journal worked out for the page."""

    header: Record
    boots: list[Boot]
    bars: list[Bar]
    lanes: list[str]
    tasks: dict[str, list[Any]]  # node id -> [requires, provides, claims, uses, prio, group]
    durations: dict[str, float]  # of the tests that ended (their last end record)
    critical: list[str]  # the critical path, first test first
    critical_length: float

    @property
    def makespan(self) -> float:
        """Each boot from its first test's start to its last test's end, summed."""
        return sum(boot.span for boot in self.boots)

    @property
    def work(self) -> float:
        """The durations of every attempt that ended, summed: a test's
        duration is setup + call + teardown, as its pytest reports' add up
        (the journal's ``duration``; a subtest's time is part of its call)."""
        return sum(bar.duration for bar in self.bars if bar.duration is not None)

    @property
    def workers(self) -> int:
        """The most workers any boot had."""
        return max(boot.workers for boot in self.boots)

    @property
    def bound(self) -> float:
        """No schedule can beat this: max(critical path, work / workers)."""
        return max(self.critical_length, self.work / self.workers)

    @property
    def utilisation(self) -> float:
        """The share of the workers' time spent in tests: ``work`` over each
        boot's span times its workers. The one definition: the lanes' "busy"
        (page_data) is the same durations, lane by lane."""
        capacity = sum(boot.span * boot.workers for boot in self.boots)
        return self.work / capacity if capacity > 0 else 0.0

    def summary(self) -> str:
        """The summary line, as the terminal and the journal's CLI print it."""
        ratio = f" ({self.makespan / self.bound:.2f}x the lower bound)" if self.bound > 0 else ""
        return (
            f"makespan {_secs(self.makespan)}{ratio}; lower bound {_secs(self.bound)} = "
            f"max(critical path {_secs(self.critical_length)}, work {_secs(self.work)} / "
            f"{self.workers} worker{'s' if self.workers != 1 else ''}); "
            f"utilisation {self.utilisation:.0%}"
        )


def _secs(value: float) -> str:
    """Seconds as the page writes them: 12.3 ms, 1.234 s, 123.4 s."""
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.3f} s" if value < 100 else f"{value:.1f} s"


def _number(record: Record, key: str) -> float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JournalError(
            f"a {record.get('type')} record without a number {key!r}: {json.dumps(record)[:200]}"
        )
    return float(value)


def _ran(record: Record) -> tuple[float, float] | None:
    """When its worker began the test's first phase and ended its last one
    (read off the end record's reports); None if the record does not say."""
    try:
        ran = journal_ran(record)
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    if ran is None or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in ran):
        return None
    begin, end = float(ran[0]), float(ran[1])
    # pytest's phase times follow the clock a test may freeze or move
    # (freezegun, time-machine): times that contradict the test's duration
    # or its end record's time are not where it ran
    duration, t = record.get("duration"), record.get("t")
    if not begin <= end or (isinstance(duration, (int, float)) and end - begin > 2 * duration + 1):
        return None
    if isinstance(t, (int, float)) and abs(end - t) > 600:
        return None
    return begin, end


def analyse(records: Iterable[Record]) -> Timeline:
    """Work a journal's records out for the page (JournalError if they are
    not a journal's)."""
    header: Record | None = None
    boots: list[Boot] = []
    bars: list[Bar] = []
    running: dict[str, Record] = {}
    durations: dict[str, float] = {}

    def interrupt() -> None:
        """The boot ended: what still runs was stopped where the boot ended."""
        boot = boots[-1]
        for test, start in running.items():
            sent = _number(start, "t")
            end = max(sent, boot.last)
            bars.append(
                Bar(
                    test,
                    str(start.get("worker") or "main"),
                    sent,
                    sent,
                    end,
                    end,
                    "interrupted",
                    None,
                    len(boots) - 1,
                )
            )
        running.clear()

    for record in records:
        kind = record.get("type")
        if header is None:
            if kind != "run":
                raise JournalError("not a pexen journal (no run header)")
            if record.get("gap"):
                # the tests whose records it lost would be drawn interrupted, or not at all
                raise JournalError(
                    "the journal lost records (it could not be written, a full disk?): "
                    "a page drawn from it would not show what ran"
                )
            header = record
            boots.append(Boot(0, _workers(record)))
            continue
        boot = boots[-1]
        test = record.get("test")
        if kind == "boot":
            interrupt()
            number = record.get("boot")
            boots.append(Boot(number if isinstance(number, int) else len(boots), _workers(record)))
        elif kind == "stop":
            boot.stop = str(record.get("reason"))
        elif not isinstance(test, str):
            continue
        elif kind == "back":  # sent, never begun: handed back, no bar
            running.pop(test, None)
        elif kind == "start":
            t = _number(record, "t")
            running[test] = record
            boot.first = min(boot.first, t)
            boot.last = max(boot.last, t)
        elif kind == "end" and record.get("replaces"):
            # written again: a fixture it kept failed its teardown later
            again = next((b for b in reversed(bars) if b.test == test), None)
            if again is not None:
                outcome = str(record.get("outcome"))
                again.outcome = outcome if outcome in OUTCOMES else "error"
        elif kind in ("end", "reboot"):
            t = _number(record, "t")
            start = running.pop(test, None)
            sent = _number(start, "t") if start is not None else t
            if kind == "reboot":  # it ran from its start until it asked
                times: tuple[float, float] = (sent, t)
                outcome, duration = "reboot", None
            else:
                outcome, duration = str(record.get("outcome")), _number(record, "duration")
                durations[test] = duration
                ran = _ran(record)
                if start is None:  # no start record: the end's own, or when it ran
                    sent = _number(record, "start") if "start" in record else (ran or (t,))[0]
                times = ran or (max(sent, t - duration), t)
            begin, end = times
            begin = min(max(begin, sent), t)
            end = min(max(end, begin), t)
            worker = record.get("worker") or (start or {}).get("worker") or "main"
            results = record.get("results") if kind == "end" else None
            bars.append(
                Bar(
                    test,
                    str(worker),
                    sent,
                    begin,
                    end,
                    t,
                    outcome if outcome in OUTCOMES else "error",
                    duration,
                    len(boots) - 1,
                    results if isinstance(results, list) else [],
                )
            )
            boot.first = min(boot.first, sent)
            boot.last = max(boot.last, t)
    if header is None:
        raise JournalError("empty journal")
    interrupt()
    for n, boot in enumerate(boots):
        boot.workers = boot.workers or max(1, len({b.lane for b in bars if b.boot == n}))
    graph = header.get("graph") or {}
    tasks = (graph.get("tasks") or {}) if isinstance(graph, dict) else None
    groups = (graph.get("groups") or [[None, None]]) if isinstance(graph, dict) else None
    if not (
        isinstance(tasks, dict)
        and all(_is_task(task) for task in tasks.values())
        and isinstance(groups, list)
        and all(isinstance(g, list) and g and _is_name(g[0]) for g in groups)
    ):
        raise JournalError("the run header's graph is not a pexen task graph")
    groups = [g[0] for g in groups]
    critical, length = critical_path(tasks, groups, durations)
    timeline = Timeline(header, boots, bars, _lanes(bars), tasks, durations, critical, length)
    _explain(timeline, groups)
    return timeline


def _is_task(task: Any) -> bool:
    """``[requires, provides, claims, uses, priority, group]``, as run_graph writes it."""
    return (
        isinstance(task, list)
        and len(task) == 6
        and all(
            isinstance(tags, list) and all(isinstance(t, str) for t in tags) for tags in task[:4]
        )
        and _is_name(task[5])
    )


def _is_name(group: Any) -> bool:
    """A group's name: a string, or None for the default group."""
    return group is None or isinstance(group, str)


def _workers(record: Record) -> int:
    """The worker count a run or boot record gives (0: unknown, a journal
    written before records had it)."""
    value = record.get("workers")
    return value if isinstance(value, int) and value > 0 else 0


def _lanes(bars: list[Bar]) -> list[str]:
    """Worker ids in natural order (gw2 before gw10)."""

    def key(name: str) -> tuple[str, int]:
        stem = name.rstrip("0123456789")
        digits = name[len(stem) :]
        return stem, int(digits) if digits else -1

    return sorted({bar.lane for bar in bars}, key=key)


def critical_path(
    tasks: dict[str, list[Any]], groups: list[Any], durations: dict[str, float]
) -> tuple[list[str], float]:
    """The longest chain of measured durations through the task graph:
    a test follows the providers of what it requires, and every test of the
    groups that run before its own (groups are a strict sequence). Locks
    order tests but do not chain them, so they are not part of it. Tests
    outside ``tasks`` have no metadata: each is a chain of its own."""
    providers = _providers(tasks)
    rank = {name: n for n, name in enumerate(groups)}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    deps: dict[str, set[str]] = {}
    for test in [*tasks, *durations]:
        task = tasks.get(test)
        deps[test] = (
            {p for tag in task[0] for p in providers.get(tag, ()) if p != test}
            if task is not None
            else set()
        )
        sorter.add(test, *deps[test])
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError:
        raise JournalError("the run header's task graph has a dependency cycle") from None

    def group_of(test: str) -> int:
        task = tasks.get(test)
        return rank.get(task[5] if task is not None else None, 0)

    order.sort(key=group_of)  # stable, so still topological: no provider is in a later group
    finish: dict[str, float] = {}
    before: dict[str, str | None] = {}
    barrier: tuple[float, str | None] = (0.0, None)  # the end of the groups so far
    current = 0
    best: tuple[float, str | None] = (0.0, None)  # the latest end in the group so far
    for test in order:
        group = group_of(test)
        if group != current:
            barrier, current = max(barrier, best, key=lambda b: b[0]), group
            best = (0.0, None)
        start, prev = barrier
        for p in deps.get(test, ()):
            if finish.get(p, 0.0) > start:
                start, prev = finish[p], p
        finish[test] = start + durations.get(test, 0.0)
        before[test] = prev
        if finish[test] > best[0] or best[1] is None:
            best = (finish[test], test)
    if not finish:
        return [], 0.0
    last: str | None = max(finish, key=finish.__getitem__)
    length = finish[last] if last is not None else 0.0
    path = []
    while last is not None:
        path.append(last)
        last = before[last]
    return path[::-1], length


def _providers(tasks: dict[str, list[Any]]) -> dict[str, list[str]]:
    """The tests that provide each tag."""
    providers: dict[str, list[str]] = {}
    for test, task in tasks.items():
        for tag in task[1]:
            providers.setdefault(tag, []).append(test)
    return providers


def _explain(timeline: Timeline, groups: list[Any]) -> None:
    """Why each attempt started when it did, within its boot: the groups
    before its own to end, the last provider of what it requires, then a
    lock holder if one ended later still. If it was sent later than the
    journaling process knew of all that, it waited for a worker: how many
    workers were idle at that moment tells a busy run from a slow dispatch."""
    tasks = timeline.tasks
    rank = {name: n for n, name in enumerate(groups)}
    providers = _providers(tasks)
    ended: dict[tuple[str, int], Bar] = {}  # (test, boot) -> its attempt that ended
    # (resource, boot, claims?) -> the attempts holding it, by their end
    holders: dict[tuple[str, int, bool], list[tuple[float, int]]] = {}
    group_ends: dict[tuple[int, int], Bar] = {}  # (boot, group) -> its attempt that ended last
    bars = timeline.bars
    for n, bar in enumerate(bars):
        if bar.duration is not None:
            ended[bar.test, bar.boot] = bar
        task = tasks.get(bar.test)
        group = rank.get(task[5] if task is not None else None, 0)
        if task is not None:
            for resource in task[2]:
                holders.setdefault((resource, bar.boot, True), []).append((bar.end, n))
            for resource in task[3]:
                holders.setdefault((resource, bar.boot, False), []).append((bar.end, n))
        last = group_ends.get((bar.boot, group))
        if last is None or bar.end > last.end:
            group_ends[bar.boot, group] = bar
    for ends in holders.values():
        ends.sort()
    busy = [_busy_lanes(bars, n) for n in range(len(timeline.boots))]
    for n, bar in enumerate(bars):
        task = tasks.get(bar.test)
        origin = timeline.boots[bar.boot].first
        waits: list[Wait] = []
        group = rank.get(task[5] if task is not None else None, 0)
        earlier = [group_ends[bar.boot, g] for g in range(group) if (bar.boot, g) in group_ends]
        if earlier:
            last = max(earlier, key=lambda b: b.end)
            if origin < last.end <= bar.begin:
                name = groups[group - 1]
                waits.append(
                    Wait(
                        "group",
                        "default" if name is None else str(name),
                        last.test,
                        last.end,
                        last.done,
                    )
                )
        provider: Wait | None = None
        for tag in task[0] if task is not None else ():
            for p in providers.get(tag, ()):
                other = ended.get((p, bar.boot))
                if (
                    other is not None
                    and origin < other.end <= bar.begin
                    and (provider is None or other.end > provider.end)
                ):
                    provider = Wait("provider", tag, p, other.end, other.done)
        if provider is not None and (not waits or provider.end > waits[-1].end):
            waits.append(provider)
        ready = max([origin, *(w.end for w in waits)])
        for resource, claims in _locks(task):
            # a claim waits for every holder, a use only for claimers
            holder: Bar | None = None
            for holder_claims in (True, False) if claims else (True,):
                ends = holders.get((resource, bar.boot, holder_claims), [])
                k = bisect.bisect_right(ends, (bar.begin, len(bars)))
                for _, m in reversed(ends[:k]):
                    if m != n:
                        if holder is None or bars[m].end > holder.end:
                            holder = bars[m]
                        break
            if holder is not None and holder.end > ready:
                waits.append(Wait("lock", resource, holder.test, holder.end, holder.done))
        waits.sort(key=lambda w: w.end)
        bar.waits = waits
        known = max([origin, *(w.done for w in waits)])
        if bar.sent - known >= SLOW:
            changes, counts = busy[bar.boot]
            k = bisect.bisect_right(changes, known)
            bar.idle = max(0, timeline.boots[bar.boot].workers - (counts[k - 1] if k else 0))


def _locks(task: list[Any] | None) -> list[tuple[str, bool]]:
    """A task's locks: (resource, claimed?)."""
    if task is None:
        return []
    return [*((r, True) for r in task[2]), *((r, False) for r in task[3])]


def _busy_lanes(bars: list[Bar], boot: int) -> tuple[list[float], list[int]]:
    """How many workers of a boot were running a test, as a step function:
    the times it changed, and the count from each of them on."""
    events = sorted(
        [(b.begin, 1) for b in bars if b.boot == boot]
        + [(b.end, -1) for b in bars if b.boot == boot]
    )
    times: list[float] = []
    counts: list[int] = []
    running = 0
    for t, step in events:
        running += step
        if times and times[-1] == t:
            counts[-1] = running
        else:
            times.append(t)
            counts.append(running)
    return times, counts


# ------------------------------------------------------------ the page
def _round(value: float) -> float:
    return round(value, 6)


def page_data(timeline: Timeline) -> dict[str, Any]:
    """What the page's script draws, in compact arrays (see timeline.html)."""
    tests: dict[str, int] = {}

    def index(test: str) -> int:
        return tests.setdefault(test, len(tests))

    offsets = []
    position = 0.0
    gap = BREAK * timeline.makespan
    for boot in timeline.boots:
        offsets.append(position)
        if boot.span > 0:
            position += boot.span + gap
    total = max(position - gap, 0.0) if any(b.span > 0 for b in timeline.boots) else 0.0
    lanes = {lane: n for n, lane in enumerate(timeline.lanes)}
    critical = set(timeline.critical)
    bars, results, waits = [], {}, {}
    busy = [0.0] * len(lanes)
    for n, bar in enumerate(sorted(timeline.bars, key=lambda b: (b.boot, b.begin))):
        boot = timeline.boots[bar.boot]
        origin = offsets[bar.boot] - boot.first
        bars.append(
            [
                index(bar.test),
                lanes[bar.lane],
                _round(origin + bar.begin),
                _round(origin + bar.end),
                OUTCOMES.index(bar.outcome),
                None if bar.duration is None else _round(bar.duration),
                bar.boot,
                1 if bar.test in critical and bar.duration is not None else 0,
                _round(origin + bar.sent),
                bar.idle,
            ]
        )
        busy[lanes[bar.lane]] += bar.duration or 0.0  # as Timeline.work counts
        if bar.results:
            results[n] = [
                [
                    str(r.get("outcome")),
                    r.get("name"),
                    (str(r.get("message") or ""))[:MESSAGE] or None,
                ]
                for r in bar.results
                if isinstance(r, dict)
            ]
        if bar.waits:
            waits[n] = [
                [w.kind, w.name, index(w.test), _round(origin + w.end), _round(origin + w.done)]
                for w in bar.waits
            ]
    meta = {}
    for test, task in timeline.tasks.items():
        if test in tests:
            meta[tests[test]] = task
    return {
        "outcomes": OUTCOMES,
        "tests": list(tests),
        "meta": meta,
        "lanes": [[lane, _round(busy[n])] for n, lane in enumerate(timeline.lanes)],
        "boots": [
            [
                boot.number,
                _round(offsets[n]),
                _round(boot.span),
                boot.first if math.isfinite(boot.first) else None,
                boot.workers,
                boot.stop,
            ]
            for n, boot in enumerate(timeline.boots)
        ],
        "total": _round(total),
        "bars": bars,
        "results": results,
        "waits": waits,
        "critical": [index(test) for test in timeline.critical],
    }


def _summary_html(timeline: Timeline) -> str:
    """The summary line, each number with its exact value in ``data-value``."""

    def number(name: str, value: float, text: str) -> str:
        return f'<span id="{name}" data-value="{_round(value)}">{html.escape(text)}</span>'

    boots = len(timeline.boots)
    ran = len({bar.test for bar in timeline.bars if bar.duration is not None})
    total = len(timeline.header.get("tests") or [])
    return (
        f"{number('makespan', timeline.makespan, _secs(timeline.makespan))} makespan"
        f"{f' over {boots} boots' if boots > 1 else ''}; "
        f"{number('work', timeline.work, _secs(timeline.work))} of work on "
        f"{number('workers', timeline.workers, str(timeline.workers))} "
        f"worker{'s' if timeline.workers != 1 else ''}; lower bound "
        f"{number('bound', timeline.bound, _secs(timeline.bound))} = max(critical path "
        f"{number('critical', timeline.critical_length, _secs(timeline.critical_length))}"
        f", work / workers); utilisation "
        f"{number('utilisation', timeline.utilisation, f'{timeline.utilisation:.0%}')}; "
        f"{number('ended', ran, str(ran))} of {total} tests ended"
    )


def render(timeline: Timeline) -> str:
    """The self-contained page: no external resource, works from file://."""
    template = resources.files(__package__).joinpath("timeline.html").read_text("utf-8")
    data = json.dumps(page_data(timeline), separators=(",", ":"), default=str)
    data = data.replace("<", "\\u003c")  # "</script>" in a node id must not end the script
    title = f"pexen timeline: run {timeline.header.get('id', '?')}"
    return (
        template.replace("{{title}}", html.escape(title))
        .replace("{{summary}}", _summary_html(timeline))
        .replace("{{data}}", data)
    )


def write_page(records: Iterable[Record], path: Path) -> Timeline:
    """Build the page from journal records and write it to ``path`` (through
    a temporary file beside it, so a page is never half written)."""
    timeline = analyse(records)
    text = render(timeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return timeline


# ------------------------------------------------------------ pytest
class TimelinePlugin(HooksOnly):
    """``--pexen-timeline``: the page is written when the session ends, from
    the journal this run wrote (every boot of a resumed run), or from the
    records it kept in memory when it has no journal file."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config = config
        self.path = path
        self.note: str | None = None
        self.pid = os.getpid()

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, object, object]:
        # after every other plugin's sessionfinish: the journal's stop record
        # is written; before the terminal's summary, which prints the note
        result = yield
        if os.getpid() != self.pid:
            return result  # a test's forked child that ran on: the page is the run's
        from ..journal.format import read

        plugin = self.config.pluginmanager.get_plugin(JOURNAL)
        if plugin is None or not plugin.opened:
            if session.exitstatus != pytest.ExitCode.USAGE_ERROR:  # else said: why nothing ran
                self.note = f"pexen: no timeline written to {self.path}: no test ran"
            return result
        records = plugin.kept if plugin.kept is not None else read(plugin.path)
        try:
            timeline = write_page(records, self.path)
        except (OSError, JournalError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            self.note = f"pexen: cannot write the timeline {self.path}: {why}"
            return result
        self.note = f"pexen: timeline written to {self.path}: {timeline.summary()}"
        return result

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.note:
            terminalreporter.write_line(self.note)


def configure(config: pytest.Config) -> None:
    """Register the page's writer in the process that journals (not on
    xdist workers, not when nothing runs), after checking that the path can
    be written, before anything runs."""
    path = timeline_path(config)
    if (
        path is None
        or getattr(config, "workerinput", None) is not None
        or config.getoption("collectonly")
        or config.getoption("pexen_plan")
    ):
        return
    from ..graph.outputs import check_writable

    check_writable(path, "--pexen-timeline", "the timeline page")
    config.pluginmanager.register(TimelinePlugin(config, path), "pexen-timeline")
