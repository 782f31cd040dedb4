"""Header comments of executable tests: ``# pexen: requires=db priority=5``.

A suite of executables keeps its scheduling metadata in the files
themselves, where a reader of the script sees it. The header is read from
the first ``HEADER_LINES`` lines (of the first ``HEADER_BYTES`` bytes, so a
large binary is never read whole); several ``# pexen:`` lines add up. This
module only parses: the filesystem factory and the pytest plugin both turn
the result into a ``SchedMeta``, and both report a malformed line with the
file and line number.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import math
import re
import shlex
from typing import Any

from ..sched.meta import SchedMeta

HEADER_LINES = 30
HEADER_BYTES = 16384

TAG_KEYS = ("requires", "provides", "claims", "uses", "host_tags")
SINGLE_KEYS = ("priority", "timeout", "group", "scope")  # scope: of the file's claims and uses
KEYS = (*TAG_KEYS[:4], *SINGLE_KEYS[:3], "host_tags", "scope")  # the order error messages list

_LINE = re.compile(r"^\s*#\s*pexen:(.*)$")
_ANY_CASE = re.compile(r"^\s*#\s*pexen:", re.IGNORECASE)


class HeaderError(ValueError):
    """A malformed ``# pexen:`` line; the message starts with ``file:line:``."""


def _number(key: str, value: str) -> int | float:
    """``priority`` is an int, ``timeout`` a positive, finite number of seconds."""
    if key == "priority":
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"priority={value} is not an integer") from None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:  # nan too
        raise ValueError(f"timeout={value} is not a positive number of seconds")
    return int(seconds) if seconds.is_integer() else seconds


def parse_line(text: str) -> list[tuple[str, Any]]:
    """The ``key=value`` pairs after ``# pexen:``, checked and converted
    (tags as lists: ``requires=db,web`` is two tags). Raises ValueError."""
    try:
        words = shlex.split(text)
    except ValueError as exc:  # an unbalanced quote
        raise ValueError(f"cannot split the line: {exc}") from None
    pairs: list[tuple[str, Any]] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise ValueError(f"{word!r} is not key=value")
        if key not in KEYS:
            raise ValueError(f"unknown key {key!r}; use {', '.join(KEYS)}")
        if key in TAG_KEYS:
            tags = value.split(",")
            if not all(tags):
                raise ValueError(f"{word!r}: empty tag; separate tags with single commas")
            pairs.append((key, tags))
        elif not value:
            raise ValueError(f"{key}= needs a value")
        elif key == "scope" and value not in ("global", "host"):
            raise ValueError(f"scope={value}: use scope=global (the default) or scope=host")
        else:
            pairs.append((key, value if key in ("group", "scope") else _number(key, value)))
    return pairs


def parse_header(head: bytes, filename: str) -> SchedMeta | None:
    """The metadata of the ``# pexen:`` lines in ``head`` (the start of the
    file), None if it has none. A binary (a NUL byte in ``head``) has no
    header. Raises HeaderError naming ``filename`` and the line."""
    if b"\0" in head or b"pexen:" not in head:
        return None  # the common cases, without decoding and splitting
    meta: SchedMeta | None = None
    host = False  # scope=host
    where: dict[str, int] = {}  # single value: the line that set it
    lines = head.decode("utf-8", "replace").splitlines()[:HEADER_LINES]
    for number, line in enumerate(lines, 1):
        match = _LINE.match(line)
        if match is None:
            continue
        try:
            pairs = parse_line(match.group(1))
            for key, _ in pairs:
                if key in where:
                    raise ValueError(f"{key} given twice (first on line {where[key]})")
                if key in SINGLE_KEYS:
                    where[key] = number
        except ValueError as exc:
            raise HeaderError(f"{filename}:{number}: bad '# pexen:' header: {exc}") from None
        meta = meta or SchedMeta.empty()
        for key, value in pairs:
            if key in TAG_KEYS:
                getattr(meta, key).update(value)
            elif key == "scope":
                host = value == "host"
            else:
                setattr(meta, key, value)
    if meta is not None and host:  # per-host locks, wherever the line with scope= is
        meta.host_claims, meta.host_uses = meta.claims, meta.uses
        meta.claims, meta.uses = set(), set()
    if meta is not None and (meta.claims | meta.host_claims) & (meta.uses | meta.host_uses):
        both = ", ".join(sorted((meta.claims | meta.host_claims) & (meta.uses | meta.host_uses)))
        raise HeaderError(f"{filename}: bad '# pexen:' header: {both} both claimed and used")
    return meta


def ignored_line(head: bytes, filename: str) -> str | None:
    """What is wrong with the first line of ``head`` that looks like a
    header but is not read as one (None: no such line): another case
    (``# PEXEN:``) or a header after line ``HEADER_LINES``. Worth a
    warning, once per file: a requirement silently dropped reorders a run."""
    if b"\0" in head or b"pexen:" not in head.lower():
        return None
    lines = head.decode("utf-8", "replace").splitlines()
    for number, line in enumerate(lines, 1):
        if _ANY_CASE.match(line) is None:
            continue
        if number > HEADER_LINES:
            return (
                f"{filename}:{number}: '# pexen:' header after line {HEADER_LINES} "
                f"is ignored (only the first {HEADER_LINES} lines are read)"
            )
        if _LINE.match(line) is None:
            return (
                f"{filename}:{number}: {line.strip()[:40]!r} is ignored: a header "
                "line starts with '# pexen:' in lower case"
            )
    return None
