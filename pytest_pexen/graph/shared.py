"""Initial shared state: ``--pexen-shared`` and the ini option ``pexen_shared``.

The convention is HTTPie's: ``KEY=VALUE`` gives the string VALUE, always
(so ``version=1.10`` stays ``"1.10"``), and ``KEY:=JSON`` gives the parsed
JSON value (``retries:=3``, ``flags:=["a"]``). A value is never guessed.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest


def parse_pairs(pairs: Iterable[str], source: str) -> dict[str, Any]:
    """Turn ``KEY=VALUE`` / ``KEY:=JSON`` strings into a dict; ValueError
    names the bad pair or key."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        is_json = key.endswith(":")
        key = (key[:-1] if is_json else key).strip()
        if not sep or not key:
            raise ValueError(f"{source} expects KEY=VALUE or KEY:=JSON, got {pair!r}")
        if not is_json:
            out[key] = value
            continue
        try:
            out[key] = json.loads(value)
        except ValueError as exc:
            raise ValueError(
                f"{source}: the value of key {key!r} is not JSON: {value!r} ({exc}); "
                "KEY=VALUE gives a string"
            ) from None
    return out


SHARED_KEY = pytest.StashKey[dict[str, Any]]()


def initial_shared(config: pytest.Config) -> dict[str, Any]:
    """``pexen_shared`` ini lines, then ``--pexen-shared`` options on top."""
    try:
        shared = parse_pairs(config.getini("pexen_shared"), "ini option pexen_shared")
        shared.update(parse_pairs(config.getoption("pexen_shared") or [], "--pexen-shared"))
    except ValueError as exc:
        raise pytest.UsageError(f"pexen: {exc}") from None
    return shared
