"""Initial shared state: ``--pexen-shared KEY=VALUE`` and ini ``pexen_shared``.

A VALUE that parses as JSON is taken as such (``n=3`` gives the int 3,
``flags=["a"]`` a list); anything else is kept as a plain string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest


def parse_pairs(pairs: Iterable[str], source: str) -> dict[str, Any]:
    """Turn ``KEY=VALUE`` strings into a dict; ValueError names the bad one."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{source} expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
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
