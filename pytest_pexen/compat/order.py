"""pytest-order under pexen: the order it gives, kept across xdist workers.

pytest-order sorts the tests (it stays installed and does so in every
process), so the tests reach pexen in its order. What pexen adds are the
relations that make that order hold when tests run in parallel:

* a module with a test marked ``order`` (itself, or by its class or
  module; or by a ``--order-marker-prefix`` marker) runs on one worker,
  its tests one after the other in that order (see compat.plugin._keep_together);
* with the session order scope (the default; per folder with
  ``--order-scope-level``) the order also holds across modules: the tests
  form bands of consecutive tests with the same index ("first", 1, none,
  "last", ...; with ``--order-group-scope`` module or class, of consecutive
  modules with the same group index), and a band starts only when the one
  before it has ended; a ``before=``/``after=`` relation between modules is
  kept as such. With ``--order-scope`` module or class pytest-order orders
  only inside modules, and so does pexen.

Relations that pytest-order could not honour (an unknown name, a cycle)
point forwards in its order: pexen leaves them out, as pytest-order warned
and ignored them (or failed the test, with ``--error-on-failed-ordering``).
Labels are resolved as pytest-order 1.5 resolves them (bare name,
``Class::test``, node id or unique node id suffix, parametrized or not).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from contextlib import suppress
from itertools import pairwise
from typing import Any

import pytest

from ..graph.items import module_id
from .relations import Relations, marked

# pytest-order's ordinal names (sorter.orders_map)
ORDINALS = {
    "first": 0,
    "second": 1,
    "third": 2,
    "fourth": 3,
    "fifth": 4,
    "sixth": 5,
    "seventh": 6,
    "eighth": 7,
    "last": -1,
    "second_to_last": -2,
    "third_to_last": -3,
    "fourth_to_last": -4,
    "fifth_to_last": -5,
    "sixth_to_last": -6,
    "seventh_to_last": -7,
    "eighth_to_last": -8,
}
_SCOPES = {"class": 1, "module": 2, "session": 3}
_SESSION = 3


def _index(value: Any) -> int | None:
    if isinstance(value, int):
        return int(value)
    try:
        return ORDINALS.get(value)
    except TypeError:  # unhashable
        return None


def order_index(item: pytest.Item, prefix: str | None, has_order: bool) -> int | None:
    """The index pytest-order sorts the test by (None: unordered): the
    first marker that gives one, closest first, else an ``<prefix><digit>``
    marker."""
    if has_order:
        for mark in item.iter_markers("order"):
            value = mark.args[0] if mark.args else mark.kwargs.get("index")
            if value is not None and (index := _index(value)) is not None:
                return index
        return None
    found = None
    if prefix and "order" not in item.keywords:
        for key in item.keywords:
            if key.startswith(prefix) and len(key) > len(prefix):
                with suppress(ValueError):  # pytest-order reads one digit
                    found = int(key[len(prefix)])
    return found


def _group_index(indices: list[int | None]) -> int | None:
    """The index of a group of tests (pytest-order's ``group_order``): the
    lowest non-negative index, else the highest negative one."""
    start = [i for i in indices if i is not None and i >= 0]
    if start:
        return min(start)
    end = [i for i in indices if i is not None]
    return max(end) if end else None


def _tests(n: int) -> str:
    return f"{n} test" if n == 1 else f"{n} tests"


class _Labels:
    """pytest-order's lookup of ``before=``/``after=`` labels."""

    def __init__(self, items: list[pytest.Item]) -> None:
        self.ids = [item.nodeid.replace("::()", "") for item in items]
        self.by_last: dict[str, list[int]] = {}
        for n, node_id in enumerate(self.ids):
            last = node_id.rpartition("::")[2]
            if "[" in last:
                last = last.rpartition("[")[0]
            self.by_last.setdefault(last, []).append(n)

    def find(self, label: str, n: int, class_mark: bool) -> list[int]:
        item_id = self.ids[n]
        last = label.split("/")[-1].split("::")[-1]
        found = []
        for m in self.by_last.get(last, []):
            node_id = self.ids[m]
            if node_id.endswith(label):
                start = node_id[: -len(label)] if label else node_id
            elif node_id.endswith("]") and node_id.rpartition("[")[0].endswith(label):
                stem = node_id.rpartition("[")[0]
                start = stem[: -len(label)] if label else stem
            else:
                continue
            if class_mark and start.count("::") == 2:
                continue
            if item_id.startswith(start):
                found.append(m)
        if found or "::" in label or not class_mark:
            return found
        for m, node_id in enumerate(self.ids):  # a class marker naming a class
            if node_id.count("::") == 2:
                cls_end = node_id.rindex("::")
                if node_id[:cls_end].endswith(label) and item_id.startswith(
                    node_id[: cls_end - len(label)]
                ):
                    found.append(m)
        return found


def _relative(item: pytest.Item, n: int, labels: _Labels) -> list[tuple[int, int, str]]:
    """(earlier, later, label) for each ``before=``/``after=`` that names tests."""
    out = []
    cls_mark = None
    if getattr(item, "cls", None) is not None and item.parent is not None:
        cls_mark = item.parent.get_closest_marker("order")
    for mark in item.iter_markers("order"):
        for key, after in (("before", False), ("after", True)):
            values = mark.kwargs.get(key, ())
            if values and not isinstance(values, (list, tuple)):
                values = (values,)
            for label in values:
                if not isinstance(label, str):
                    continue
                for m in labels.find(label, n, cls_mark is not None and cls_mark == mark):
                    out.append((m, n, label) if after else (n, m, label))
    return out


def read(config: pytest.Config, items: list[pytest.Item], relations: Relations) -> bool:
    """Add the relations of the order markers; False when no test has one."""
    prefix = config.getoption("order_marker_prefix", None)
    cache: dict[int, bool] = {}
    indices: list[int | None] = []
    users: list[int] = []
    for n, item in enumerate(items):
        has_order = marked(item, ("order",), cache)
        index = order_index(item, prefix, has_order)
        indices.append(index)
        if has_order or index is not None:
            users.append(n)
            relations.pinned.add(module_id(item.nodeid))
            if index is not None:
                relations.note(item.nodeid, f"order: {index}")
    if not users:
        return False
    scope = _SCOPES.get(config.getoption("order_scope", None), _SESSION)
    if scope != _SESSION:
        return True  # pytest-order orders inside modules only: the pinned modules keep it
    level = config.getoption("order_scope_level", None) or 0
    group = _SCOPES.get(config.getoption("order_group_scope", None), scope)
    parts: dict[str, list[int]] = {}
    for n, item in enumerate(items):
        path = module_id(item.nodeid)
        parts.setdefault("/".join(path.split("/")[:level]) if level else "", []).append(n)
    labels = _Labels(items)
    for members in parts.values():
        _bands(items, members, indices, group < scope, relations)
        _across(items, members, users, labels, group < scope, relations)
    return True


def _bands(
    items: list[pytest.Item],
    members: list[int],
    indices: list[int | None],
    by_module: bool,
    relations: Relations,
) -> None:
    """Consecutive tests (or modules, ``by_module``) with the same index form
    a band; each band waits for the one before it."""
    if by_module:
        per_module: dict[str, list[int | None]] = {}
        for n in members:
            per_module.setdefault(module_id(items[n].nodeid), []).append(indices[n])
        group_index = {m: _group_index(v) for m, v in per_module.items()}
        keys = [group_index[module_id(items[n].nodeid)] for n in members]
    else:
        keys = [indices[n] for n in members]
    bands: list[list[str]] = []
    previous: object = object()
    for n, key in zip(members, keys, strict=True):
        if not bands or key != previous:
            bands.append([])
        bands[-1].append(items[n].nodeid)
        previous = key
    for earlier, later in pairwise(bands):
        relations.band(earlier, later)
        start = "starts" if len(later) == 1 else "start"
        relations.note(
            later[0],
            f"order: the {_tests(len(later))} from here {start} after the "
            f"{_tests(len(earlier))} before {'it' if len(later) == 1 else 'them'}",
        )


def _across(
    items: list[pytest.Item],
    members: list[int],
    users: list[int],
    labels: _Labels,
    by_module: bool,
    relations: Relations,
) -> None:
    """``before=``/``after=`` between modules of one order scope, kept where
    pytest-order could honour them; ``by_module`` (a module or class group
    scope): pytest-order moved the whole module, so the whole module waits."""
    inside = set(members)
    tests: dict[str, list[str]] = {}
    for n in members:
        tests.setdefault(module_id(items[n].nodeid), []).append(items[n].nodeid)
    for n in users:
        if n not in inside:
            continue
        for earlier, later, label in _relative(items[n], n, labels):
            first, then = items[earlier].nodeid, items[later].nodeid
            if not (earlier < later and earlier in inside and later in inside):
                continue  # pytest-order could not honour it: it warned
            if module_id(first) == module_id(then):
                continue  # the pinned module keeps it
            if by_module:
                relations.band(tests[module_id(first)], tests[module_id(then)])
                relations.note(then, f"order: after module {module_id(first)} ({label!r})")
            else:
                relations.follow(first, then)
                relations.note(then, f"order: after {first} ({label!r})")
