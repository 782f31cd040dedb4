"""The package's layout: no import circle, imports one way, a small top level (issue 21).

A module inside an import circle cannot be understood, tested or replaced
alone, and lazy imports only hide a circle from Python, not from a reader.
So every import counts: module-level, inside functions, under
``TYPE_CHECKING``. The graph is read from the source (the AST of every
module), not from ``sys.modules``, so it sees imports that a run never
executes. The same graph must respect the layers of docs/design.md's map
(``LAYERS``): the engine, the core, the capabilities, the entry points.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest_pexen

PACKAGE = Path(pytest_pexen.__file__).parent
TOP_LEVEL_LIMIT = 8

# The layers of docs/design.md's map, lowest first. A unit is a package
# (``graph``) or a top-level module (``internals``); a module may import its
# own unit and the units of lower layers, never a unit of its own layer or
# above: capabilities never import each other, the core imports no
# capability, the engine nothing above it. Within the engine and the core
# the units are layered too (``factory`` builds on ``sched``; ``xdist``
# drives the ``graph``), so no two packages lean on each other.
LAYERS: list[tuple[str, ...]] = [
    ("sched",),  # the engine
    ("factory",),
    ("_version", "internals", "hookspecs", "markers"),  # the core: the top-level helpers
    ("graph",),  # the core: markers -> task graph -> serial run
    ("xdist",),  # the core: the xdist driver
    ("results", "journal", "timeline", "watchdog", "compat", "exec"),  # capabilities
    ("_api",),  # the public API, which the package re-exports
    ("plugin", "", "__main__"),  # entry points: the package, plugin.py, python -m
]
# Imports across a layer's units that the design allows, with the reason.
ALLOWED = {
    ("timeline", "journal.format"): "the page is drawn from a journal, read through "
    "the journal's public reader API (SPEC)",
}


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root`` by its dotted name (a
    package by its own name, for its ``__init__.py``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[tuple[str, str]]:
    """What one import statement of module ``name`` imports, as (module,
    attribute) candidates: ``from . import x`` may name a submodule ``x``
    or an attribute ``x`` of the package, which only the module list can
    tell apart."""
    if isinstance(node, ast.Import):
        return [(alias.name, "") for alias in node.names]
    if node.level:
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        up = node.level - 1
        if up > len(package) - 1:
            return []  # beyond the top package: not ours
        base = package[: len(package) - up]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    return [(source, alias.name) for alias in node.names]


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """For each module of the package at ``root``: the modules of the same
    package it imports, each with the line of its first import."""
    known = modules(root)
    graph: dict[str, dict[str, int]] = {}
    for name, path in known.items():
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for source, attribute in imported(name, path, node):
                submodule = f"{source}.{attribute}"
                target = submodule if attribute and submodule in known else source
                if target in known and target != name:
                    edges[target] = min(edges.get(target, node.lineno), node.lineno)
        graph[name] = dict(sorted(edges.items()))
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's
    algorithm, iterative), each sorted, in sorted order: deterministic."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def describe(graph: dict[str, dict[str, int]], circle: list[str], root: Path) -> str:
    """A circle as its modules and the imports that tie them, with lines."""
    known = modules(root)
    lines = [f"import circle of {len(circle)} modules:"]
    for name in circle:
        path = known[name].relative_to(root.parent).as_posix()
        inside = [
            f"{target} (line {line})" for target, line in graph[name].items() if target in circle
        ]
        lines.append(f"  {name} ({path}) imports {', '.join(inside)}")
    return "\n".join(lines)


def test_no_import_circle() -> None:
    graph = import_graph(PACKAGE)
    assert len(graph) > 1 and any(graph.values()), "the import graph came out empty"
    found = circles(graph)
    assert not found, "\n".join(describe(graph, circle, PACKAGE) for circle in found)


def unit(module: str) -> str:
    """The layering unit of a dotted module name: its package below the
    top one, or the top-level module; ``__main__`` for a ``python -m``
    entry point, "" for the package itself."""
    parts = module.split(".")[1:]
    if parts and parts[-1] == "__main__":
        return "__main__"
    return parts[0] if parts else ""


def layer(name: str) -> int:
    for n, units in enumerate(LAYERS):
        if name in units:
            return n
    raise AssertionError(f"{name!r} is in no layer of LAYERS: add it to the table and the map")


def backward(graph: dict[str, dict[str, int]]) -> list[tuple[str, str, int]]:
    """The imports that break the layering: (importer, imported, line),
    sorted. Allowed: the importer's own unit, a lower layer, ``ALLOWED``."""
    found = []
    for name, targets in sorted(graph.items()):
        source = unit(name)
        for target, line in targets.items():
            into = unit(target)
            if into == source and source not in ("", "__main__"):
                continue
            if layer(into) < layer(source):
                continue
            if (source, target.partition(".")[2]) in ALLOWED:
                continue
            found.append((name, target, line))
    return found


def test_imports_point_one_way() -> None:
    """Engine <- core <- capabilities <- entry points, capabilities never
    importing each other (docs/design.md, "The map"): a capability reaches
    another through a hook or a stash key in the core, never its module."""
    graph = import_graph(PACKAGE)
    for name in graph:
        layer(unit(name))  # every package is placed in the table
    found = backward(graph)
    assert not found, "imports against the layering (see LAYERS):\n" + "\n".join(
        f"  {a} imports {b} (line {n})" for a, b, n in found
    )


def test_small_top_level() -> None:
    """The top level keeps the public API, the entry point, the hook
    specifications and the internals; each capability is a package."""
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= TOP_LEVEL_LIMIT, (
        f"{len(top)} modules at the top of pytest_pexen (at most {TOP_LEVEL_LIMIT}): "
        f"{', '.join(top)}; put a capability in its own package"
    )


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "pkg"


def test_circle_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The checker itself: lazy and TYPE_CHECKING imports count, relative
    imports resolve, ``from . import x`` is an edge to the submodule ``x``,
    and a name that is no submodule is an edge to the package."""
    package = write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from .core import VALUE\n",
            "pkg/core.py": "VALUE = 1\n",
            "pkg/cap/__init__.py": "",
            "pkg/cap/a.py": """\
                def later():
                    from . import b
                    return b
            """,
            "pkg/cap/b.py": """\
                from typing import TYPE_CHECKING
                from .. import VALUE
                if TYPE_CHECKING:
                    from .c import Thing
            """,
            "pkg/cap/c.py": """\
                import pkg.cap.a
                from ..core import VALUE
                class Thing: ...
            """,
            "pkg/other.py": "from pkg import cap\nimport os\n",
        },
    )
    graph = import_graph(package)
    assert graph == {
        "pkg": {"pkg.core": 1},
        "pkg.cap": {},
        "pkg.cap.a": {"pkg.cap.b": 2},
        "pkg.cap.b": {"pkg": 2, "pkg.cap.c": 4},
        "pkg.cap.c": {"pkg.cap.a": 1, "pkg.core": 2},
        "pkg.core": {},
        "pkg.other": {"pkg.cap": 1},
    }
    found = circles(graph)
    assert found == [["pkg.cap.a", "pkg.cap.b", "pkg.cap.c"]]
    assert describe(graph, found[0], package) == "\n".join(
        [
            "import circle of 3 modules:",
            "  pkg.cap.a (pkg/cap/a.py) imports pkg.cap.b (line 2)",
            "  pkg.cap.b (pkg/cap/b.py) imports pkg.cap.c (line 4)",
            "  pkg.cap.c (pkg/cap/c.py) imports pkg.cap.a (line 1)",
        ]
    )


def test_layering_checker() -> None:
    """The checker itself: a capability importing another, and the core
    importing the driver above it, are found; its own package, a lower
    layer, an allowed import and a ``python -m`` entry point are not."""
    graph = {
        "pkg.results.a": {"pkg.journal.b": 3, "pkg.graph.c": 4, "pkg.results.d": 5},
        "pkg.graph.c": {"pkg.xdist.e": 2, "pkg.sched": 1, "pkg.internals": 6},
        "pkg.timeline.t": {"pkg.journal.format": 1},
        "pkg.journal.__main__": {"pkg.timeline.t": 9, "pkg.journal.b": 1},
        "pkg.internals": {"pkg": 7},
    }
    assert backward(graph) == [
        ("pkg.graph.c", "pkg.xdist.e", 2),
        ("pkg.internals", "pkg", 7),
        ("pkg.results.a", "pkg.journal.b", 3),
    ]
