"""Scheduling metadata attached to callables (and to pytest items).

``SchedMeta`` is the one record every driver reads: what a task requires,
provides, claims, uses, its priority, group, time limit, keyword arguments
and factory callpath. Values are normalised on assignment, so a bare string
given where a set of tags is expected means one tag, never its characters.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar, overload

SCHED_ATTR_NAME = "pexen_sched_meta_"

F = TypeVar("F", bound=Callable[..., Any])

TAG_FIELDS = ("requires", "provides", "claims", "uses", "host_claims", "host_uses", "host_tags")
FIELDS = (*TAG_FIELDS, "priority", "kwargs", "group", "timeout", "callpath")


def to_tags(field: str, value: Any) -> set[str]:
    """Normalise a tag or resource specification to a set of strings."""
    if isinstance(value, str):
        values: Iterable[Any] = (value,)
    elif isinstance(value, (list, tuple, set, frozenset)):
        values = value
    else:
        raise TypeError(
            f"pexen {field} must be a string or a list/set of strings, "
            f"not {type(value).__name__}: {value!r}"
        )
    tags = set()
    for tag in values:
        if not isinstance(tag, str) or not tag:
            raise TypeError(f"pexen {field} entries must be non-empty strings, got {tag!r}")
        tags.add(tag)
    return tags


def _to_priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"pexen priority must be an int, got {value!r}")
    return value


def _to_kwargs(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"pexen kwargs must be a dict with string keys, got {value!r}")
    return dict(value)


def _to_group(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError(f"pexen group must be a non-empty string or None, got {value!r}")
    return value if value is None else str(value)


def _to_timeout(value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf
    ):  # nan too
        raise TypeError(f"pexen timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def _to_callpath(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) for p in value):
        raise TypeError(f"pexen callpath must be a list of strings, got {value!r}")
    return list(value)


_NORMALISE: dict[str, Callable[[Any], Any]] = {
    **{f: functools.partial(to_tags, f) for f in TAG_FIELDS},
    "priority": _to_priority,
    "kwargs": _to_kwargs,
    "group": _to_group,
    "timeout": _to_timeout,
    "callpath": _to_callpath,
}


class SchedMeta:
    """Metadata of one task; every field is checked and normalised when set."""

    __slots__ = FIELDS

    requires: set[str]
    provides: set[str]
    claims: set[str]
    uses: set[str]
    priority: int
    kwargs: dict[str, Any]
    group: str | None
    timeout: float | None
    callpath: list[str]
    # per-host locks (``scope="host"``) and the tags a worker's host must
    # have; in one process (a serial run, the engine) there is one host, so
    # host locks are global ones there (see ``all_claims``)
    host_claims: set[str]
    host_uses: set[str]
    host_tags: set[str]

    def __init__(
        self,
        requires: Iterable[str] | str = (),
        provides: Iterable[str] | str = (),
        claims: Iterable[str] | str = (),
        uses: Iterable[str] | str = (),
        priority: int = 0,
        kwargs: dict[str, Any] | None = None,
        group: str | None = None,
        timeout: float | None = None,
        callpath: list[str] | None = None,
        host_claims: Iterable[str] | str = (),
        host_uses: Iterable[str] | str = (),
        host_tags: Iterable[str] | str = (),
    ) -> None:
        # each field made once, by its normaliser (None: the default): a
        # graph of many tasks makes many of these, and every container made
        # and dropped here brings the next garbage collection closer
        init = object.__setattr__
        init(self, "requires", set() if requires is None else to_tags("requires", requires))
        init(self, "provides", set() if provides is None else to_tags("provides", provides))
        init(self, "claims", set() if claims is None else to_tags("claims", claims))
        init(self, "uses", set() if uses is None else to_tags("uses", uses))
        init(self, "priority", 0 if priority is None else _to_priority(priority))
        init(self, "kwargs", {} if kwargs is None else _to_kwargs(kwargs))
        init(self, "group", _to_group(group))
        init(self, "timeout", _to_timeout(timeout))
        init(self, "callpath", [] if callpath is None else _to_callpath(callpath))
        for name, value in (
            ("host_claims", host_claims),
            ("host_uses", host_uses),
            ("host_tags", host_tags),
        ):
            init(self, name, set() if value is None else to_tags(name, value))

    def _defaults(self) -> None:
        init = object.__setattr__
        init(self, "requires", set())
        init(self, "provides", set())
        init(self, "claims", set())
        init(self, "uses", set())
        init(self, "priority", 0)
        init(self, "kwargs", {})
        init(self, "group", None)
        init(self, "timeout", None)
        init(self, "callpath", [])
        init(self, "host_claims", set())
        init(self, "host_uses", set())
        init(self, "host_tags", set())

    @classmethod
    def empty(cls) -> SchedMeta:
        """A metadata record with every field at its default, made without
        the checks (one per collected test: this is a hot path)."""
        meta = object.__new__(cls)
        meta._defaults()
        return meta

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            normalise = _NORMALISE[name]
        except KeyError:
            raise AttributeError(f"{name!r} is not a pexen metadata field") from None
        object.__setattr__(self, name, normalise(value))

    def update(self, fields: dict[str, Any]) -> None:
        """Set several fields at once (the original pexen API)."""
        for name, value in fields.items():
            setattr(self, name, value)

    def check(self) -> None:
        """Re-validate fields that callers may have mutated in place (the
        tag sets: a hook may add anything to them) and the lock rule. A
        frozenset of tags (a shared empty field, see
        ``graph.items.meta_from_marks``) is kept as it is."""
        for name in TAG_FIELDS:
            value = getattr(self, name)
            if type(value) not in (set, frozenset) or not all(type(t) is str and t for t in value):
                setattr(self, name, value)
        both = (self.claims | self.host_claims) & (self.uses | self.host_uses)
        if both:
            from .errors import MutexError

            raise MutexError(f"{sorted(both)} both claimed and used by the same task")
        scopes = (self.claims | self.uses) & (self.host_claims | self.host_uses)
        if scopes:
            from .errors import MutexError

            raise MutexError(
                f"{sorted(scopes)} locked with both the global and the host scope by the same task"
            )

    def all_claims(self) -> set[str]:
        """Exclusive locks where every task runs on one host (serial, engine)."""
        return self.claims | self.host_claims if self.host_claims else self.claims

    def all_uses(self) -> set[str]:
        """Shared locks where every task runs on one host (serial, engine)."""
        return self.uses | self.host_uses if self.host_uses else self.uses

    def copy(self) -> SchedMeta:
        return SchedMeta(**{name: getattr(self, name) for name in FIELDS})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SchedMeta):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [f"{n}={v!r}" for n in FIELDS if (v := getattr(self, n))]
        return f"SchedMeta({', '.join(parts)})"


# Each tag field as it is stored, read and written by its slot's own
# getter and setter (no Python call, nothing checked): a set, a frozenset,
# or (a marked test's record, graph.items.MarkedMeta) the tuple of its
# markers' tags, without repeats, that no one has read as a set yet. For
# code that only reads the tags of many records (the graph of a large
# suite): reading the attribute of a MarkedMeta makes the set.
READ_TAGS: dict[str, Callable[[SchedMeta], Collection[str]]] = {
    name: SchedMeta.__dict__[name].__get__ for name in TAG_FIELDS
}
WRITE_TAGS: dict[str, Callable[[SchedMeta, Collection[str]], None]] = {
    name: SchedMeta.__dict__[name].__set__ for name in TAG_FIELDS
}


def has_meta(obj: object) -> bool:
    """True if ``obj`` carries pexen metadata."""
    return isinstance(getattr(obj, SCHED_ATTR_NAME, None), SchedMeta)


def retrieve_meta(obj: object) -> SchedMeta:
    """The metadata of ``obj``, or a fresh empty one (not attached)."""
    meta = getattr(obj, SCHED_ATTR_NAME, None)
    return meta if isinstance(meta, SchedMeta) else SchedMeta.empty()


def assign_meta(obj: object, meta: SchedMeta | None = None) -> SchedMeta:
    """Attach ``meta`` to ``obj`` (or return its existing or a new empty one)."""
    if meta is None:
        existing = getattr(obj, SCHED_ATTR_NAME, None)
        if isinstance(existing, SchedMeta):
            return existing
        meta = SchedMeta.empty()
    elif not isinstance(meta, SchedMeta):
        raise TypeError(f"assign_meta expects a SchedMeta, got {type(meta).__name__}")
    try:
        setattr(obj, SCHED_ATTR_NAME, meta)
    except (AttributeError, TypeError):
        raise TypeError(
            f"cannot attach pexen metadata to {obj!r}: it takes no attributes "
            "(wrap it in a function)"
        ) from None
    return meta


def assign_val(obj: object, **fields: Any) -> SchedMeta:
    """Set metadata fields on ``obj``, creating its metadata when needed."""
    existing = getattr(obj, SCHED_ATTR_NAME, None)
    if isinstance(existing, SchedMeta):
        existing.update(fields)
        return existing
    unknown = fields.keys() - _NORMALISE.keys()
    if unknown:
        raise AttributeError(f"{sorted(unknown)[0]!r} is not a pexen metadata field")
    return assign_meta(obj, SchedMeta(**fields))


@overload
def func_meta(func: F) -> F: ...
@overload
def func_meta(func: None = None, **fields: Any) -> Callable[[F], F]: ...
def func_meta(func: F | None = None, **fields: Any) -> F | Callable[[F], F]:
    """Decorator: ``@func_meta`` or ``@func_meta(requires=[...], ...)``."""
    if func is not None:
        assign_val(func, **fields)
        return func

    def decorate(fn: F) -> F:
        assign_val(fn, **fields)
        return fn

    return decorate
