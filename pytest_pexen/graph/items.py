"""What pexen knows about each collected test: its ``SchedMeta``.

Markers merge down the tree (module, class, function and
``pytest.param(marks=...)`` add up; for single values the closest one wins),
then the tree-scoped hook ``pytest_pexen_task(item, meta)`` may change the
result. The outcome is stored in ``item.stash[META_KEY]``.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from ..sched.errors import MutexError
from ..sched.meta import READ_TAGS, TAG_FIELDS, WRITE_TAGS, SchedMeta

META_KEY = pytest.StashKey[SchedMeta]()

_TAG_MARKERS = {
    "pexen_requires": "requires",
    "pexen_provides": "provides",
    "pexen_claims": "claims",
    "pexen_uses": "uses",
    "pexen_host_tags": "host_tags",
}
# a lock marker with scope="host" fills these fields instead
_HOST_FIELD = {"claims": "host_claims", "uses": "host_uses"}


class MetaError(Exception):
    """A marker or the hook gave a test metadata it cannot have."""


def base_id(nodeid: str) -> str:
    """The node id without its parametrization: ``f.py::test[1]`` -> ``f.py::test``."""
    return nodeid.partition("[")[0]


def module_id(nodeid: str) -> str:
    return nodeid.partition("::")[0]


def _field(item: pytest.Item, mark: pytest.Mark) -> str:
    """The metadata field a tag marker fills: a lock marker's ``scope``
    keyword picks the global or the per-host lock."""
    field = _TAG_MARKERS[mark.name]
    kwargs = mark.kwargs
    if field in _HOST_FIELD and set(kwargs) <= {"scope"}:
        scope = kwargs.get("scope", "global")
        if scope == "host":
            return _HOST_FIELD[field]
        if scope != "global":
            raise MetaError(
                f"{item.nodeid}: @{mark.name} scope must be 'global' or 'host', got {scope!r}"
            )
        return field
    if kwargs:
        raise MetaError(
            f"{item.nodeid}: @{mark.name} takes only tag strings"
            f"{' and scope=' if field in _HOST_FIELD else ''}, "
            f"not keyword arguments {sorted(kwargs)}"
        )
    return field


def _tags(item: pytest.Item, mark: pytest.Mark) -> tuple[str, ...]:
    if not mark.args:  # @pytest.mark.pexen_provides, bare or called empty
        noun = (
            "tag"
            if _TAG_MARKERS[mark.name] in ("requires", "provides", "host_tags")
            else "resource"
        )
        raise MetaError(f"{item.nodeid}: @{mark.name} needs at least one {noun}")
    for arg in mark.args:
        if not isinstance(arg, str) or not arg:
            raise MetaError(
                f"{item.nodeid}: @{mark.name} arguments must be non-empty strings, got {arg!r}"
            )
    return mark.args


def _one_arg(item: pytest.Item, mark: pytest.Mark, name: str) -> Any:
    args = list(mark.args)
    if name in mark.kwargs:
        args.append(mark.kwargs[name])
    extra = set(mark.kwargs) - {name}
    if len(args) != 1 or extra:
        raise MetaError(f"{item.nodeid}: @{mark.name} takes exactly one argument ({name})")
    return args[0]


def _group(item: pytest.Item, mark: pytest.Mark) -> tuple[str, int | None]:
    args = list(mark.args)
    kwargs = dict(mark.kwargs)
    name = args.pop(0) if args else kwargs.pop("name", None)
    workers = args.pop(0) if args else kwargs.pop("workers", None)
    if args or kwargs:
        raise MetaError(f"{item.nodeid}: @{mark.name} takes (name, workers=None)")
    if not isinstance(name, str) or not name:
        raise MetaError(
            f"{item.nodeid}: @{mark.name} name must be a non-empty string, got {name!r}"
        )
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise MetaError(
            f"{item.nodeid}: @{mark.name} workers must be a positive int or None, got {workers!r}"
        )
    return name, workers


def _pexen_marks(
    node: pytest.Item | pytest.Collector, cache: dict[int, list[pytest.Mark]]
) -> list[pytest.Mark]:
    """The pexen markers of a node and its parents, closest first (what
    ``iter_markers`` gives): those of a parent and above are looked up once
    per parent, and ``cache`` keeps them by the parent's id."""
    own = node.own_markers
    marks = [m for m in own if m.name.startswith("pexen_")] if own else []
    parent = node.parent
    if parent is not None:
        above = cache.get(id(parent))
        if above is None:
            above = cache[id(parent)] = _pexen_marks(parent, cache)
        if above:
            marks += above
    return marks


_NO_TAGS: frozenset[str] = frozenset()
# the engine's factory fields, meaningless for a pytest item: shared alike
_NO_KWARGS: dict[str, Any] = {}
_NO_CALLPATH: list[str] = []


class MarkedMeta(SchedMeta):
    """The record of a marked test in a session where no
    ``pytest_pexen_task`` hook may add to its sets in place (see
    ``meta_from_marks``): a tag field its markers fill holds their tuple of
    tags (most often the marker's own arguments) until it is first read,
    then the set of its own that any record has. A set of one tag is 216
    bytes: one per marked test was the largest part of what a large marked
    suite's collection kept besides pytest's own. The graph reads the
    tuples (``sched.meta.READ_TAGS``)."""

    __slots__ = ()


def _lazy_set(field: str) -> property:
    """The attribute of a ``MarkedMeta`` tag field: the stored tuple made a
    set when first read, and stored as such (the same set ever after)."""

    read, write = READ_TAGS[field], WRITE_TAGS[field]

    def get(meta: SchedMeta) -> Any:
        tags = read(meta)
        if type(tags) is tuple:
            tags = set(tags)
            write(meta, tags)
        return tags

    # normalised by SchedMeta.__setattr__ (or stored as is by WRITE_TAGS)
    return property(get, write, doc=f"The {field} tags (a set, made when first read).")


for _name in TAG_FIELDS:
    setattr(MarkedMeta, _name, _lazy_set(_name))
# every field's slot setter with an empty record's value (see _lean_meta)
_LEAN_FIELDS = (
    *((write, _NO_TAGS) for write in WRITE_TAGS.values()),
    *(
        (getattr(SchedMeta, name).__set__, value)
        for name, value in (
            ("priority", 0),
            ("kwargs", _NO_KWARGS),
            ("group", None),
            ("timeout", None),
            ("callpath", _NO_CALLPATH),
        )
    ),
)
_CLAIMS, _HOST_CLAIMS = READ_TAGS["claims"], READ_TAGS["host_claims"]
_USES, _HOST_USES = READ_TAGS["uses"], READ_TAGS["host_uses"]


def _lean_meta(cls: type[SchedMeta] = SchedMeta) -> SchedMeta:
    """An empty record whose tag fields are the one shared empty frozenset
    (see ``meta_from_marks``), and whose ``kwargs`` and ``callpath`` are
    shared empty ones: read-only by convention, as ``EMPTY_META`` is."""
    meta = object.__new__(cls)
    # each slot written through its descriptor's setter, found once:
    # ``object.__setattr__`` looks the descriptor up by name at each call
    for write, value in _LEAN_FIELDS:
        write(meta, value)
    return meta


# the record of every test that has no pexen metadata when no hook is in
# play: one shared, read-only object instead of thousands of empty sets
EMPTY_META = _lean_meta()


def meta_from_marks(
    item: pytest.Item, marks: list[pytest.Mark], mutable: bool = True
) -> tuple[SchedMeta, int | None]:
    """Build the metadata of ``item`` from its pexen markers (closest first).

    With ``mutable=False`` (no ``pytest_pexen_task`` hook will add to the
    sets in place) a tag field no marker fills is a shared empty frozenset:
    a marked test typically fills one or two of the seven, and an empty set
    per field cost 1.3 kB per test, most of what a large marked suite's
    collection added to pytest's own memory; and the record is a
    ``MarkedMeta``, whose filled fields hold tuples until read.

    Returns the meta and the group's worker limit (None if not given).
    Raises MetaError with the test's node id on a malformed marker.
    """
    meta = SchedMeta.empty() if mutable else _lean_meta(MarkedMeta)
    seen: set[str] = set()
    workers: int | None = None
    filled: dict[str, tuple[str, ...]] = {}  # without mutable: the tags by field
    for mark in marks:  # closest first
        name = mark.name
        if name in _TAG_MARKERS:
            # only keywords (a lock's scope) can make the field another one
            field = _field(item, mark) if mark.kwargs else _TAG_MARKERS[name]
            tags = _tags(item, mark)
            if mutable:
                getattr(meta, field).update(tags)
            else:
                old = filled.get(field)
                filled[field] = tags if old is None else (*old, *tags)
            continue
        elif name in seen:
            continue  # a closer marker already set this single value
        elif name == "pexen_priority":
            value = _one_arg(item, mark, "priority")
            if isinstance(value, bool) or not isinstance(value, int):
                raise MetaError(f"{item.nodeid}: @{name} needs an int, got {value!r}")
            meta.priority = value
        elif name == "pexen_timeout":
            value = _one_arg(item, mark, "seconds")
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value < math.inf
            ):  # nan too
                raise MetaError(
                    f"{item.nodeid}: @{name} needs a positive number of seconds, got {value!r}"
                )
            meta.timeout = value
        elif name == "pexen_group":
            meta.group, workers = _group(item, mark)
        seen.add(name)
    for field, tags in filled.items():
        WRITE_TAGS[field](meta, _unique(tags))
    return meta, workers


def _unique(tags: tuple[str, ...]) -> tuple[str, ...]:
    """``tags`` without repeats: the marker's own tuple if it has none, as is usual."""
    if len(tags) > 1:
        new = tuple(dict.fromkeys(tags))
        return tags if new == tags else new
    return tags


def _tag_markers_only(item: pytest.Item, marks: list[pytest.Mark]) -> SchedMeta | None:
    """The record of a test whose pexen markers are all tag or lock markers
    without keywords (``@pexen.requires(...)``, ``@pexen.provides(...)``:
    most marked tests), made as ``meta_from_marks(mutable=False)`` would
    make it, without its general pass; None for any other test, and for
    one that both claims and uses (``SchedMeta.check`` looks at those).
    Nothing else can clash: no check either. This took a fifth off
    reading the metadata of 20,000 marked tests (85 -> 65 ms)."""
    fields: dict[str, tuple[str, ...]] = {}
    for mark in marks:  # closest first
        field = _TAG_MARKERS.get(mark.name)
        if field is None or mark.kwargs:
            return None
        tags = _tags(item, mark)
        old = fields.get(field)
        fields[field] = tags if old is None else (*old, *tags)
    if "claims" in fields and "uses" in fields:
        return None
    meta = _lean_meta(MarkedMeta)
    for field, tags in fields.items():
        WRITE_TAGS[field](meta, _unique(tags))
    return meta


def build_meta(
    item: pytest.Item, hooked: bool = True, cache: dict[int, list[pytest.Mark]] | None = None
) -> tuple[SchedMeta, int | None]:
    """Markers, then the ``pytest_pexen_task`` hook of the test's conftests
    (``hooked=False``: nobody implements it, skip the call)."""
    error = getattr(item, "pexen_meta_error", None)  # an executable test's bad header
    if error is not None:
        raise MetaError(error)
    marks = _pexen_marks(item, {} if cache is None else cache)
    if not hooked:
        meta = _tag_markers_only(item, marks) if marks else EMPTY_META
        if meta is not None:
            item.stash[META_KEY] = meta
            return meta, None
    meta, workers = meta_from_marks(item, marks, mutable=hooked)
    if hooked:
        try:
            item.ihook.pytest_pexen_task(item=item, meta=meta)
        except pytest.exit.Exception:
            raise  # pytest.exit(): the run stops, with its return code
        except (Exception, pytest.skip.Exception, pytest.fail.Exception) as exc:
            raise _hook_failed(item, exc) from None
    if hooked or _lock_clash(meta):  # markers are checked as they are read
        try:
            meta.check()
        except (TypeError, MutexError) as exc:
            raise MetaError(f"{item.nodeid}: {exc}") from None
    item.stash[META_KEY] = meta
    return meta, workers


def _lock_clash(meta: SchedMeta) -> bool:
    """Whether a record has both claims and uses, or global and per-host
    locks (what ``SchedMeta.check`` then looks at more closely), from its
    tags as stored."""
    claims, host_claims = _CLAIMS(meta), _HOST_CLAIMS(meta)
    uses, host_uses = _USES(meta), _HOST_USES(meta)
    return bool(
        ((claims or host_claims) and (uses or host_uses))
        or ((host_claims or host_uses) and (claims or uses))
    )


def _hook_failed(item: pytest.Item, exc: BaseException) -> MetaError:
    """A ``pytest_pexen_task`` that raised (a wrong type set on ``meta``
    raises TypeError), said in one line: the test, the implementation (the
    first of its frames in the traceback) and the exception."""
    impls = {
        getattr(impl.function, "__code__", None): impl.plugin_name
        for impl in item.ihook.pytest_pexen_task.get_hookimpls()
    }
    where = "a plugin"
    tb = exc.__traceback__
    while tb is not None:
        name = impls.get(tb.tb_frame.f_code)
        if name is not None:
            path, root = Path(name), item.config.rootpath
            where = str(path.relative_to(root)) if path.is_relative_to(root) else name
            break
        tb = tb.tb_next
    text = str(exc).strip().partition("\n")[0]
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return MetaError(f"{item.nodeid}: pytest_pexen_task in {where} failed: {what}")
