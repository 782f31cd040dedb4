"""Several machines: per-host locks, host tags, and socket gateways.

A worker's host is the name it reports (``socket.gethostname()``, sent with
its task graph, see worker.py); local ``popen`` workers share the
controller's host. Resources locked with ``scope="host"`` are held per
host: the xdist controller keeps them here (``HostTable``), apart from the
planner's global locks, as one lock per (host, resource). In one process
(a serial run) there is one host, so they are global locks there
(graph.taskgraph.spec_planner). Host tags come from ``--pexen-host-tags``
on the controller (read in graph/host_tags.py, which also skips the tests
a serial run's host cannot run); a test that no connected host can run is
skipped with a reason naming the tags and the hosts seen.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import pytest

from ..graph.host_tags import lacking_reason, tags_of, this_host
from ..sched.errors import PexenWarning


class PexenSecurityWarning(PexenWarning):
    """A socket gateway on an address other machines can reach: an execnet
    socket server runs whatever code any connection sends it."""


def node_host(node: object, reported: str | None) -> str:
    """The host of an xdist worker: the controller's for a local ``popen``
    worker, else the name it reported."""
    spec = getattr(getattr(node, "gateway", None), "spec", None)
    if spec is not None and getattr(spec, "popen", False) and not getattr(spec, "via", None):
        return this_host()
    return reported or this_host()


def is_socket_node(node: object) -> bool:
    """A worker behind an execnet socket server: xdist cannot replace it
    (the server runs the worker in its own process, and dies with it)."""
    spec = getattr(getattr(node, "gateway", None), "spec", None)
    return bool(getattr(spec, "socket", None))


class HostTable:
    """The controller's per-host locks and host tags.

    ``needs`` is the task graph's ``hosts`` part: node id -> [host claims,
    host uses, host tags]. A lock here is a (host, resource) pair; a test's
    host locks are taken together when it is sent to a worker of that host,
    and released when the planner learns it ended. A test that ended badly
    without releasing them (``locks_ok=False``) keeps them held on its host
    for good, as the planner does with global locks. As there too, a
    claimer that waits for the users of a resource on a host keeps new users
    from starting there until it has started (claimer first: a stream of
    users never starves it).
    """

    def __init__(self, needs: dict[str, list[list[str]]], given: dict[str, list[str]]) -> None:
        self.needs = needs
        self.given = given
        self.claimed: dict[tuple[str, str], str] = {}
        self.used: dict[tuple[str, str], int] = {}
        self.dead: dict[tuple[str, str], str] = {}  # held for good, by whom
        self.holding: dict[str, str] = {}  # node id -> the host it holds locks on
        self.seen: list[str] = []  # every host that connected, in order
        self.tags: dict[str, set[str]] = {}  # each host's tags, worked out once
        self.waiting: dict[tuple[str, str], list[str]] = {}  # claimers waiting for users

    def _tags(self, host: str) -> set[str]:
        have = self.tags.get(host)
        if have is None:
            have = self.tags[host] = tags_of(self.given, host)
        return have

    def saw(self, host: str) -> None:
        if host not in self.seen:
            self.seen.append(host)

    def fits(self, host: str, nodeid: str) -> bool:
        """May this test start on a worker of ``host`` now?"""
        need = self.needs.get(nodeid)
        if need is None:
            return True
        claims, uses, tags = need
        if tags and not self._tags(host).issuperset(tags):
            return False
        for r in claims:
            key = (host, r)
            if key in self.claimed or key in self.dead:
                return False
            if self.used.get(key):
                waiting = self.waiting.setdefault(key, [])
                if nodeid not in waiting:
                    waiting.append(nodeid)  # no new user starts here before it
                return False
        return not any(
            (host, r) in self.claimed or (host, r) in self.dead or self.waiting.get((host, r))
            for r in uses
        )

    def why_not(self, nodeid: str, hosts: Iterable[str]) -> str | None:
        """Why none of ``hosts`` (the live ones) can ever run this test, or
        None if one may (now or once its locks are free)."""
        need = self.needs.get(nodeid)
        if need is None:
            return None
        claims, uses, tags = need
        if not tags and not self.dead:
            return None  # the common case, asked for every ready test a worker cannot take
        hosts = list(dict.fromkeys(hosts))
        tagged = [h for h in hosts if self._tags(h).issuperset(tags)]
        if not tagged:
            return lacking_reason(tags, self.seen)
        if not self.dead:
            return None
        for host in tagged:
            if not any((host, r) in self.dead for r in (*claims, *uses)):
                return None
        stuck = sorted(
            {
                f"{r!r} on {h} by {self.dead[(h, r)]}"
                for h in tagged
                for r in (*claims, *uses)
                if (h, r) in self.dead
            }
        )
        return (
            f"pexen: resource {', '.join(stuck)}, which ended badly without releasing "
            "it, stays locked on every host that could run this test"
        )

    def take(self, host: str, nodeid: str) -> None:
        need = self.needs.get(nodeid)
        if need is None or not (need[0] or need[1]):
            return
        self.forget(nodeid)
        for r in need[0]:
            self.claimed[(host, r)] = nodeid
        for r in need[1]:
            self.used[(host, r)] = self.used.get((host, r), 0) + 1
        self.holding[nodeid] = host

    def forget(self, nodeid: str) -> None:
        """The test no longer waits for a host's users (it started, or it
        is skipped)."""
        need = self.needs.get(nodeid)
        for key in [(h, r) for h in self.seen for r in need[0]] if need else ():
            waiting = self.waiting.get(key)
            if waiting and nodeid in waiting:
                waiting.remove(nodeid)
                if not waiting:
                    del self.waiting[key]

    def release(self, nodeid: str, locks_ok: bool = True) -> None:
        host = self.holding.pop(nodeid, None)
        if host is None:
            return
        claims, uses, _ = self.needs[nodeid]
        for r in claims:
            del self.claimed[(host, r)]
            if not locks_ok:
                self.dead[(host, r)] = nodeid
        for r in uses:
            n = self.used[(host, r)] - 1
            if n:
                self.used[(host, r)] = n
            else:
                del self.used[(host, r)]
            if not locks_ok:
                self.dead.setdefault((host, r), nodeid)


def socket_gateways(config: pytest.Config) -> list[str]:
    """The ``host:port`` of each ``--tx socket=...`` gateway."""
    from execnet import XSpec

    out = []
    for tx in config.getoption("tx", None) or []:
        _, star, rest = str(tx).partition("*")
        spec = XSpec(rest if star else str(tx))
        if getattr(spec, "socket", None):
            out.append(str(spec.socket))
    return out


def is_loopback(address: str) -> bool:
    host = address.rpartition(":")[0] or address
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may well resolve to a reachable address


def warn_open_gateways(config: pytest.Config) -> None:
    """One warning per run when some socket gateway is not on loopback
    (a ``PexenSecurityWarning``: ``-W ignore::pytest_pexen.PexenSecurityWarning``
    or ``filterwarnings`` silence it, ``-W error`` makes it an error)."""
    open_ = [a for a in socket_gateways(config) if not is_loopback(a)]
    if not open_:
        return
    config.issue_config_time_warning(
        PexenSecurityWarning(
            f"pexen: socket gateway {', '.join(open_)} is not a loopback address: an execnet "
            "socket server runs any code any connection sends it; keep such servers on "
            "loopback or a private test network, or use ssh gateways (see docs/xdist.md, "
            "Security)"
        ),
        stacklevel=2,
    )
