"""Per-host locks on several machines (issue 23).

2 simulated hosts x 2 workers: each host is a UTS namespace (``unshare
--uts``, needs root) with its own host name, running two execnet socket
servers on loopback ports. 16 tests of 0.5 s each claim one resource:

- with ``scope="host"``: goal wall <= 1.2x the bound 16 x 0.5 / 2 hosts = 4 s,
  0 same-host overlaps;
- with the default global scope: goal wall within 1.2x of 8 s, 0 overlaps.

"Wall" is from the first test's start to the last test's end, read off the
tests' own records (the gateways' start-up is printed apart). Runs of the
two kinds alternate.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = 16
SECONDS = 0.5
HOSTS = ("bench-a", "bench-b")
WORKERS = 2  # per host

SUITE = """
import json, socket, time, pathlib
import pytest
import pytest_pexen as pexen

HERE = pathlib.Path(__file__).parent


@pytest.mark.parametrize("n", range({tests}))
@pexen.claims("port80"{scope})
def test_port(n):
    start = time.time()
    time.sleep({seconds})
    with open(HERE / "ran.jsonl", "a") as out:
        out.write(json.dumps([socket.gethostname(), start, time.time()]) + "\\n")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_servers(where: Path) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    procs, tx = [], []
    for host in HOSTS:
        for _ in range(WORKERS):
            port = free_port()
            script = f'hostname "$1" && exec "$2" -m execnet.script.socketserver 127.0.0.1:{port}'
            procs.append(
                subprocess.Popen(
                    ["unshare", "--uts", "sh", "-c", script, "sh", host, sys.executable],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit(f"socket server for {host} did not start")
                    time.sleep(0.05)
            tx.append(f"--tx=socket=127.0.0.1:{port}//chdir={where}")
    return procs, tx


def overlaps(spans: list[tuple[float, float]]) -> int:
    spans = sorted(spans)
    return sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])


def run(scope: str) -> tuple[float, float, int]:
    """One run: (test wall, whole run, overlaps that the scope forbids)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pytest.ini").write_text("[pytest]\n")
        (root / "test_hosts_bench.py").write_text(
            SUITE.format(
                tests=TESTS,
                seconds=SECONDS,
                scope=', scope="host"' if scope == "host" else "",
            )
        )
        procs, tx = start_servers(root)
        try:
            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "pexen", "--dist", "pexen", *tx]
            cmd += ["-p", "no:cacheprovider", "-p", "no:randomly"]
            begin = time.perf_counter()
            proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
            whole = time.perf_counter() - begin
        finally:
            for p in procs:
                p.kill()
                p.wait()
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        records = [json.loads(line) for line in (root / "ran.jsonl").read_text().splitlines()]
    if len(records) != TESTS:
        sys.exit(f"{len(records)} of {TESTS} tests recorded")
    wall = max(r[2] for r in records) - min(r[1] for r in records)
    if scope == "host":
        bad = sum(overlaps([(s, e) for h, s, e in records if h == host]) for host in HOSTS)
    else:
        bad = overlaps([(s, e) for _, s, e in records])
    return wall, whole, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bounds = {"host": TESTS * SECONDS / len(HOSTS), "global": TESTS * SECONDS}
    results: dict[str, list[tuple[float, float, int]]] = {"host": [], "global": []}
    for _ in range(args.runs):
        for scope in ("host", "global"):
            results[scope].append(run(scope))
    for scope in ("host", "global"):
        walls = [r[0] for r in results[scope]]
        wholes = [r[1] for r in results[scope]]
        bad = sum(r[2] for r in results[scope])
        bound = bounds[scope]
        print(
            f"{scope:6} scope: test wall median {statistics.median(walls):.2f} s, "
            f"max {max(walls):.2f} s (bound {bound:.1f} s: median "
            f"{statistics.median(walls) / bound:.2f}x, max {max(walls) / bound:.2f}x; "
            "goal <= 1.2x); "
            f"whole run median {statistics.median(wholes):.2f} s; "
            f"forbidden overlaps {bad} in {args.runs} runs (goal 0)"
        )


if __name__ == "__main__":
    main()
