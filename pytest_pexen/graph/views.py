"""Seeing the plan: ``--pexen-plan`` (text) and ``--pexen-graph`` (Graphviz).

Both read the same TestGraph the run uses, so what they show is what runs.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..sched.planner import Planner
from .taskgraph import TestGraph


def _facts(graph: TestGraph, nodeid: str) -> str:
    meta = graph.metas[nodeid]
    parts = []
    order_only = set(graph.order_only)
    requires = [tag for tag in graph.requires[nodeid] if tag not in order_only]
    for label, values in (
        ("requires", requires),
        ("provides", sorted(meta.provides)),
        ("claims", sorted(meta.claims)),
        ("uses", sorted(meta.uses)),
        ("claims per host", sorted(meta.host_claims)),
        ("uses per host", sorted(meta.host_uses)),
    ):
        if values:
            parts.append(f"{label}: {', '.join(values)}")
    if meta.host_tags:  # hosts connect only when the run starts: the plan cannot know them
        parts.append(f"needs host tags {', '.join(sorted(meta.host_tags))}")
    if meta.priority:
        parts.append(f"priority: {meta.priority}")
    if meta.group is not None:
        parts.append(f"group: {meta.group}")
    if meta.timeout is not None:
        parts.append(f"timeout: {meta.timeout:g}s")
    parts.extend(graph.notes.get(nodeid, ()))  # pytest-dependency, pytest-order
    return "  [" + "; ".join(parts) + "]" if parts else ""


def plan_lines(graph: TestGraph, order: list[pytest.Item], planner: Planner[str]) -> list[str]:
    """The serial start order with each test's facts, pull-ins and skips."""
    pulled = {p.item.nodeid: p for p in graph.pulled}
    lines = [f"pexen plan: {len(order)} tests in start order"]
    modules = sorted(set(graph.pins.values()))
    if modules:
        lines.append(
            f"pexen: under xdist each of these modules runs on one worker, in this "
            f"order (pytest-dependency/pytest-order markers): {', '.join(modules)}"
        )
    width = len(str(len(order)))
    for n, item in enumerate(order, 1):
        nodeid = item.nodeid
        line = f"{n:>{width}}. {nodeid}{_facts(graph, nodeid)}"
        why = planner.unrunnable_reason(nodeid)
        if why is not None:
            line += f"\n{'':>{width}}  -> will be skipped: {why.reason}"
        if nodeid in pulled:
            p = pulled[nodeid]
            line += f"\n{'':>{width}}  -> pulled in: provides {p.tag!r} for {p.by}"
        lines.append(line)
    return lines


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_dot(graph: TestGraph, path: Path) -> None:
    """Tests as nodes, one edge per (provider, tag, dependent)."""
    providers: dict[str, list[str]] = {}
    for nodeid, tags in graph.provides.items():
        for tag in tags:
            providers.setdefault(tag, []).append(nodeid)
    out = ["digraph pexen {", "  rankdir=LR;", "  node [shape=box];"]
    for item in graph.items:
        meta = graph.metas[item.nodeid]
        locks = [f"claims {r}" for r in sorted(meta.claims)]
        locks += [f"uses {r}" for r in sorted(meta.uses)]
        locks += [f"claims {r} per host" for r in sorted(meta.host_claims)]
        locks += [f"uses {r} per host" for r in sorted(meta.host_uses)]
        locks += [f"host tags {', '.join(sorted(meta.host_tags))}"] if meta.host_tags else []
        # a DOT line break (backslash n) must not be escaped by _quote
        label = _quote(item.nodeid)[:-1] + "".join(f"\\n{lock}" for lock in locks) + '"'
        group = f", group={_quote(meta.group)}" if meta.group else ""
        out.append(f"  {_quote(item.nodeid)} [label={label}{group}];")
    order_only = set(graph.order_only)  # pytest-dependency/pytest-order: dashed
    for item in graph.items:
        for tag in graph.requires[item.nodeid]:
            style = ", style=dashed" if tag in order_only else ""
            for p in providers.get(tag, []):
                out.append(f"  {_quote(p)} -> {_quote(item.nodeid)} [label={_quote(tag)}{style}];")
    out.append("}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
