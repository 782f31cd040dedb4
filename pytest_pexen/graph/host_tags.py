"""Host tags: which machines may run a test (``pexen.host_tags()``).

A worker's host is the name it reports (``socket.gethostname()``); the tags
of each host come from ``--pexen-host-tags`` (ini ``pexen_host_tags``). In
one process (a serial run) the one host is this one, and a test whose tags
it lacks is skipped with the reason (``serial_skips``); under xdist the
controller's ``HostTable`` (xdist/hosts.py) decides per connected host,
with the same reading of the option and the same reason.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest

from ..sched.meta import READ_TAGS

if TYPE_CHECKING:
    from .taskgraph import TestGraph

ALL_HOSTS = "*"


def add_options(group: pytest.OptionGroup, parser: pytest.Parser) -> None:
    group.addoption(
        "--pexen-host-tags",
        action="append",
        default=[],
        metavar="HOST:TAG,TAG",
        dest="pexen_host_tags",
        help="give the workers of HOST (its host name; * for every host) these "
        "tags, for tests marked pexen.host_tags(); repeatable",
    )
    parser.addini(
        "pexen_host_tags",
        type="linelist",
        default=[],
        help="--pexen-host-tags: HOST:TAG,TAG per line",
    )


def given_tags(config: pytest.Config) -> dict[str, list[str]]:
    """The tags of each host name (and of ``*``), from the ini option then
    the command line; a malformed entry is a usage error."""
    out: dict[str, list[str]] = {}
    for entry in [*config.getini("pexen_host_tags"), *config.getoption("pexen_host_tags")]:
        host, sep, rest = str(entry).partition(":")
        tags = [t.strip() for t in rest.split(",")]
        host = host.strip()
        if not sep or not host or not all(tags):
            raise pytest.UsageError(
                f"pexen: --pexen-host-tags={entry}: give HOST:TAG,TAG (a host name or * "
                "for every host, a colon, then tags separated by single commas)"
            )
        known = out.setdefault(host, [])
        known.extend(t for t in tags if t not in known)
    return out


def tags_of(given: dict[str, list[str]], host: str) -> set[str]:
    return {*given.get(ALL_HOSTS, ()), *given.get(host, ())}


def lacking_reason(tags: Iterable[str], hosts: Iterable[str]) -> str:
    """The skip reason of a test whose host tags no host seen has."""
    seen = ", ".join(sorted(hosts)) or "none"
    return (
        f"pexen: needs host tags {', '.join(sorted(tags))}; no connected host has them "
        f"all (hosts seen: {seen}; give hosts tags with --pexen-host-tags=HOST:TAG,TAG)"
    )


def serial_skips(config: pytest.Config, graph: TestGraph) -> dict[str, str]:
    """In one process, the one host is this one: the skip reason of each
    test whose host tags it lacks."""
    # the tags as stored (READ_TAGS): the attribute of a marked test's
    # record makes a set of its tuple, a call per test of a large suite
    read = READ_TAGS["host_tags"]
    needed = {nodeid: tags for nodeid, meta in graph.metas.items() if (tags := read(meta))}
    if not needed:
        return {}
    host = this_host()
    have = tags_of(given_tags(config), host)
    return {
        nodeid: lacking_reason(tags, [host])
        for nodeid, tags in needed.items()
        if not have.issuperset(tags)
    }


def this_host() -> str:
    return socket.gethostname()
