"""Several machines (SPEC section 4, hosts): per-host locks, host tags,
remote workers that die, reboots asked for on a remote host, and the
warning for a socket gateway that is not on loopback.

The machines have no network but loopback, so a "host" is a UTS namespace
(``unshare --uts``) with its own host name, running execnet's own socket
server on a loopback port: the worker runs inside the server's process, so
killing that process is a dead machine.
"""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_pexen import journal

pytest_plugins = ["pytester"]

SOCKET_SERVER = Path(__file__).with_name("socket_server.py")
TIMEOUT = 300  # seconds for a whole pytest run: generous, the machine is shared


def _unshare_problem() -> str | None:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "needs Linux and unshare(1)"
    try:
        done = subprocess.run(
            ["unshare", "--uts", "true"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare --uts failed: {exc}"
    if done.returncode != 0:
        return f"unshare --uts is not allowed here: {done.stderr.strip() or done.returncode}"
    return None


class Hosts:
    """Socket servers, each in a UTS namespace with the given host name."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self.servers: list[tuple[str, int, subprocess.Popen[bytes]]] = []

    def start(self, hostname: str, port: int = 0) -> int:
        """Start a server named ``hostname`` on ``port`` (0: any free one,
        bound by the server itself so that no other test can take it in
        between) and return the port."""
        script = 'hostname "$1" && exec "$2" "$3" "$4"'
        named = ["unshare", "--uts", "sh", "-c", script, "sh", hostname]
        proc = subprocess.Popen(
            [*named, sys.executable, str(SOCKET_SERVER), str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once bound and listening
        if not line.strip().isdigit():
            proc.kill()
            proc.wait(timeout=30)
            proc.stdout.close()
            raise RuntimeError(f"socket server {hostname}:{port} did not start")
        port = int(line)
        self.servers.append((hostname, port, proc))
        return port

    def tx(self, address: str = "127.0.0.1") -> list[str]:
        """``--tx`` options for every server still running."""
        out = []
        for _, port, proc in self.servers:
            if proc.poll() is None:
                out.append(f"--tx=socket={address}:{port}//chdir={self.where}")
        return out

    def stop(self) -> None:
        for _, _, proc in self.servers:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()
        self.servers.clear()


@pytest.fixture
def hosts(pytester: pytest.Pytester) -> Iterator[Hosts]:
    problem = _unshare_problem()
    if problem is not None:
        pytest.skip(f"simulated hosts need UTS namespaces: {problem}")
    made = Hosts(pytester.path)
    try:
        yield made
    finally:
        made.stop()


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "pexen", "--dist", "pexen", *args, timeout=TIMEOUT)


# a test body that records where and when it ran, and checks that nobody
# else holds the host's "port80" meanwhile (an exclusive file per host)
RECORDER = """
import json, os, socket, time, pathlib
import pytest
import pytest_pexen as pexen

HERE = pathlib.Path(__file__).parent


def record(name, hold=None, wait_for_other_host=False, seconds=0.3):
    host = socket.gethostname()
    start = time.time()
    held = HERE / f"held-{hold}-{host}" if hold else None
    if held is not None:
        fd = os.open(held, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if held
        os.close(fd)
    try:
        if wait_for_other_host:  # meet a test that does the same on another host
            (HERE / f"running-{host}-{name}").touch()
        deadline = time.monotonic() + 120
        while wait_for_other_host and not any(
            p.name.startswith("running-") and not p.name.startswith(f"running-{host}-")
            for p in HERE.iterdir()
        ):
            assert time.monotonic() < deadline, "no test ran on another host meanwhile"
            time.sleep(0.05)
        time.sleep(seconds)
    finally:
        if held is not None:
            held.unlink()
    with open(HERE / "ran.jsonl", "a") as out:
        out.write(json.dumps([name, host, start, time.time()]) + "\\n")
"""


def ran(pytester: pytest.Pytester) -> dict[str, tuple[str, float, float]]:
    path = pytester.path / "ran.jsonl"
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    return {name: (host, start, end) for name, host, start, end in map(json.loads, lines)}


def test_host_scoped_claims_two_hosts_two_workers(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """Tests claiming "port80" per host never run two at once on one host
    (each host's exclusive file would say so) and do run at once on the
    two hosts: the first tests wait until a test runs on the other host,
    which a global lock would never allow. A global claim stays global."""
    for name in ("alpha", "alpha", "beta", "beta"):
        hosts.start(name)
    pytester.makepyfile(
        RECORDER
        + """
@pytest.mark.parametrize("n", range(8))
@pexen.claims("port80", scope="host")
def test_port(n):
    record(f"port{n}", hold="port80", wait_for_other_host=True)


@pexen.claims("port80", scope="host")
def test_also_port():
    record("also", hold="port80")


@pytest.mark.parametrize("n", range(3))
@pexen.claims("lab")
def test_lab(n):
    record(f"lab{n}")


@pytest.mark.parametrize("n", range(3))
@pexen.uses("port80", scope="host")
def test_user(n):
    held = HERE / f"held-port80-{socket.gethostname()}"
    assert not held.exists(), "a claimer holds port80 on this host"
    time.sleep(0.2)
    assert not held.exists(), "a claimer holds port80 on this host"
"""
    )
    result = run(pytester, *hosts.tx())
    result.assert_outcomes(passed=15)
    runs = ran(pytester)
    # the default scope stays global: one holder of "lab" at a time, on any host
    lab = sorted((s, e) for name, (_, s, e) in runs.items() if name.startswith("lab"))
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(lab)), lab
    assert {host for host, _, _ in runs.values()} == {"alpha", "beta"}
    for host in ("alpha", "beta"):  # never two holders on one host, as the files say
        spans = sorted(
            (s, e) for name, (h, s, e) in runs.items() if h == host and not name.startswith("lab")
        )
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans


def test_host_tags(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """Tagged tests run only on the tagged host; a test no connected host
    can run is skipped with the tags and hosts named, and its dependents
    are skipped; the plan says what each test needs."""
    for name in ("alpha", "beta", "beta"):
        hosts.start(name)
    pytester.makepyfile(
        RECORDER
        + """
@pytest.mark.parametrize("n", range(4))
@pexen.host_tags("gpu")
def test_gpu(n):
    record(f"gpu{n}")


@pytest.mark.parametrize("n", range(4))
def test_any(n):
    record(f"any{n}")


@pexen.host_tags("gpu", "fpga")
@pexen.provides("flashed")
def test_fpga():
    record("fpga")


@pexen.requires("flashed")
def test_after_fpga():
    record("after")
"""
    )
    result = run(pytester, *hosts.tx(), "--pexen-host-tags=alpha:gpu", "-rs")
    result.assert_outcomes(passed=8, skipped=2)
    runs = ran(pytester)
    assert {runs[f"gpu{n}"][0] for n in range(4)} == {"alpha"}
    result.stdout.fnmatch_lines(
        [
            "*test_host_tags.py:*: pexen: needs host tags fpga, gpu; no connected host has "
            "them all (hosts seen: alpha, beta;*",
            "*pexen: 'flashed' not provided: test_host_tags.py::test_fpga was skipped*",
        ]
    )
    plan = pytester.runpytest_subprocess("-p", "pexen", "--pexen-plan", "-n", "2", timeout=TIMEOUT)
    plan.stdout.fnmatch_lines(["*test_fpga  [[]provides: flashed; needs host tags fpga, gpu]"])


def test_host_tags_for_every_host_and_ini(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """``*`` gives every host the tags; the ini twin adds up with the option."""
    for name in ("alpha", "beta"):
        hosts.start(name)
    pytester.makeini("[pytest]\npexen_host_tags =\n    *:linux\n    beta:big\n")
    pytester.makepyfile(
        RECORDER
        + """
@pytest.mark.parametrize("n", range(3))
@pexen.host_tags("linux", "big")
def test_big(n):
    record(f"big{n}")


@pexen.host_tags("linux", "gpu")
def test_gpu():
    record("gpu")
"""
    )
    result = run(pytester, *hosts.tx(), "--pexen-host-tags=alpha:gpu")
    result.assert_outcomes(passed=4)
    runs = ran(pytester)
    assert {runs[f"big{n}"][0] for n in range(3)} == {"beta"}
    assert runs["gpu"][0] == "alpha"


def test_remote_worker_killed_mid_test(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """A remote worker dies while it runs a test: that test fails (its
    worker crashed), its global and host locks are released (the next
    holder of the host lock runs on the same host's other worker), and the
    run goes on."""
    hosts.start("alpha")
    hosts.start("alpha")
    hosts.start("beta")
    pytester.makepyfile(
        RECORDER
        + """
import signal


@pexen.host_tags("doomed")
@pexen.claims("lab")
@pexen.claims("port80", scope="host")
@pexen.priority(-1)
def test_victim():
    os.kill(os.getpid(), signal.SIGKILL)  # the worker is the server: its process dies


@pexen.host_tags("doomed")  # on alpha's other worker: port80 of alpha must be free again
@pexen.claims("lab")
@pexen.claims("port80", scope="host")
def test_next_holder():
    record("next")


@pytest.mark.parametrize("n", range(3))
def test_more(n):
    record(f"more{n}")
"""
    )
    result = run(pytester, *hosts.tx(), "--pexen-host-tags=alpha:doomed", "-rA")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*socket worker gw* (127.0.0.1:*) is not replaced*",
            "FAILED test_remote_worker_killed_mid_test.py::test_victim*",
        ]
    )
    runs = ran(pytester)
    assert runs["next"][0] == "alpha"
    assert {host for host, _, _ in runs.values()} == {"alpha", "beta"}
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_tagged_host_dies_its_tests_are_skipped(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """The only host with a tag dies with tests queued there: those tests
    (given back by the dead worker, or never sent) are skipped with the
    reason, the others run on the host that is left."""
    hosts.start("alpha")
    hosts.start("beta")
    pytester.makepyfile(
        RECORDER
        + """
import signal


@pexen.host_tags("doomed")
@pexen.priority(-1)
def test_killer():
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("n", range(12))
@pexen.host_tags("doomed")
def test_doomed(n):
    record(f"doomed{n}", seconds=0)


@pytest.mark.parametrize("n", range(12))
def test_free(n):
    record(f"free{n}", seconds=0)
"""
    )
    result = run(pytester, *hosts.tx(), "--pexen-host-tags=alpha:doomed", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1, outcomes
    runs = ran(pytester)
    assert all(f"free{n}" in runs for n in range(12)), runs
    doomed_ran = sum(1 for name in runs if name.startswith("doomed"))
    assert outcomes.get("skipped", 0) + doomed_ran == 12, outcomes
    assert outcomes.get("skipped", 0) >= 1, outcomes
    result.stdout.fnmatch_lines(
        [
            "*pexen: needs host tags doomed; no connected host has them all "
            "(hosts seen: alpha, beta;*"
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_host_gone_after_its_work_fails_nothing(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """A host dies after its worker ran its last test, which kept no
    fixture (another host still runs a test): no test failed, nothing was
    being torn down there. It was reported as an error at the teardown of
    that last test, and the run failed."""
    hosts.start("alpha")
    hosts.start("beta")
    pytester.makepyfile(
        test_idle="""
        import os, subprocess, time
        import pytest_pexen as pexen

        @pexen.host_tags("one")
        def test_long():
            time.sleep(4)

        @pexen.host_tags("two")
        def test_quick():
            # the worker runs inside its host's server: this kills the host
            subprocess.Popen(
                ["sh", "-c", f"sleep 1; kill -9 {os.getpid()}"], start_new_session=True
            )
        """
    )
    result = run(
        pytester,
        *hosts.tx(),
        "--pexen-host-tags=alpha:one",
        "--pexen-host-tags=beta:two",
        "--pexen-state=state.jsonl",
    )
    assert "crashed while tearing down" not in result.stdout.str()
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    ended = journal.load(pytester.path / "state.jsonl").ended
    assert {test: record["outcome"] for test, record in ended.items()} == {
        "test_idle.py::test_long": "pass",
        "test_idle.py::test_quick": "pass",
    }


def test_no_worker_left_then_resume(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """With its only host dead, the tests not run are said to be not run,
    the run fails, and ``--pexen-resume`` with the host back runs them."""
    port = hosts.start("alpha")
    state = pytester.path / "state.jsonl"
    pytester.makepyfile(
        RECORDER
        + """
import signal


@pexen.provides("first")
def test_first():
    record("first")


@pexen.requires("first")
@pexen.provides("second")
def test_kill():
    if not (HERE / "killed").exists():
        (HERE / "killed").touch()
        os.kill(os.getpid(), signal.SIGKILL)
    record("kill")


@pexen.requires("first")
@pexen.priority(1)
def test_last():
    record("last")
"""
    )
    first = run(pytester, *hosts.tx(), f"--pexen-state={state}", "-rA")
    assert first.ret not in (pytest.ExitCode.OK, pytest.ExitCode.INTERNAL_ERROR)
    first.stdout.fnmatch_lines(
        [
            "FAILED test_no_worker_left_then_resume.py::test_kill*",
            "*pexen: no worker is left (socket workers are not replaced): 1 test did not run;*",
        ]
    )
    assert set(ran(pytester)) == {"first"}
    hosts.stop()
    hosts.start("alpha", port)
    again = run(pytester, *hosts.tx(), f"--pexen-state={state}", "--pexen-resume", "-rA")
    again.stdout.fnmatch_lines(["PASSED*test_last*"])
    assert set(ran(pytester)) == {"first", "last"}


def test_no_worker_left_plain_suite(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """The same for a suite without pexen metadata (xdist's load runs it):
    no INTERNALERROR, the tests that did not run are counted."""
    hosts.start("alpha")
    pytester.makepyfile(
        """
import os, signal


def test_first():
    pass


def test_kill():
    os.kill(os.getpid(), signal.SIGKILL)


def test_never():
    pass
"""
    )
    result = run(pytester, *hosts.tx(), "-rA")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "FAILED test_no_worker_left_plain_suite.py::test_kill*",
            "*pexen: no worker is left (socket workers are not replaced): 1 test did not run;*",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_reboot_command_environment(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """``pexen.reboot()`` on a remote worker runs the reboot command on the
    controller with the worker's host and id in its environment."""
    hosts.start("alpha")
    pytester.makepyfile(
        """
import pytest_pexen as pexen


def test_reboots(pexen_boot_count):
    if pexen_boot_count == 0:
        pexen.reboot()
"""
    )
    out = pytester.path / "reboot.env"
    result = run(
        pytester,
        *hosts.tx(),
        f"--pexen-state={pytester.path / 'state.jsonl'}",
        f"--pexen-reboot-cmd=env > {out}",
    )
    result.stdout.fnmatch_lines(["*asked for a reboot*"])
    env = dict(line.partition("=")[::2] for line in out.read_text().splitlines() if "=" in line)
    assert env["PEXEN_REBOOT_HOST"] == "alpha"
    assert env["PEXEN_REBOOT_WORKER"] == "gw0"
    records = [
        json.loads(line) for line in (pytester.path / "state.jsonl").read_text().splitlines()
    ]
    reboot = next(r for r in records if r.get("type") == "reboot")
    assert (reboot["PEXEN_REBOOT_HOST"], reboot["PEXEN_REBOOT_WORKER"]) == ("alpha", "gw0")


def test_serial_reboot_environment(pytester: pytest.Pytester) -> None:
    """A serial run reboots its own host: the controller's name, no worker."""
    pytester.makepyfile(
        """
import pytest_pexen as pexen


def test_reboots(pexen_boot_count):
    if pexen_boot_count == 0:
        pexen.reboot()
"""
    )
    out = pytester.path / "reboot.env"
    pytester.runpytest_subprocess("-p", "pexen", f"--pexen-reboot-cmd=env > {out}", timeout=TIMEOUT)
    env = dict(line.partition("=")[::2] for line in out.read_text().splitlines() if "=" in line)
    assert env["PEXEN_REBOOT_HOST"] == socket.gethostname()
    assert env["PEXEN_REBOOT_WORKER"] == ""


def test_socket_gateway_not_on_loopback_warns(pytester: pytest.Pytester, hosts: Hosts) -> None:
    """0.0.0.0 reaches the loopback server here, yet is no loopback
    address: one warning for the run (two gateways), which ``-W`` can
    silence or make an error; a loopback gateway gives none."""
    hosts.start("alpha")
    hosts.start("alpha")
    pytester.makepyfile("def test_one():\n    pass\n")
    warned = run(pytester, *hosts.tx("0.0.0.0"))
    warned.assert_outcomes(passed=1)
    text = warned.stdout.str()
    assert text.count("PexenSecurityWarning") == 1, text
    warned.stdout.fnmatch_lines(["*socket gateway 0.0.0.0:*, 0.0.0.0:* is not a loopback address*"])
    quiet = run(pytester, *hosts.tx(), "-W", "error")
    quiet.assert_outcomes(passed=1)
    assert "PexenSecurityWarning" not in quiet.stdout.str()
    silenced = run(
        pytester, *hosts.tx("0.0.0.0"), "-W", "ignore::pytest_pexen.PexenSecurityWarning"
    )
    silenced.assert_outcomes(passed=1)
    assert "PexenSecurityWarning" not in silenced.stdout.str()
    strict = run(pytester, *hosts.tx("0.0.0.0"), "-W", "error::pytest_pexen.PexenSecurityWarning")
    assert strict.ret != pytest.ExitCode.OK
    assert "is not a loopback address" in strict.stdout.str() + strict.stderr.str()


def test_bad_host_tags_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "pexen", "--pexen-host-tags=gpu", timeout=TIMEOUT)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pexen: --pexen-host-tags=gpu: give HOST:TAG,TAG*"])
    assert "Traceback" not in result.stderr.str()


def test_serial_host_scope_is_global_and_tags(pytester: pytest.Pytester) -> None:
    """A serial run is one host: host locks are plain locks, host tags are
    this host's (``*`` or its name)."""
    pytester.makepyfile(
        """
import pytest_pexen as pexen


@pexen.host_tags("gpu")
def test_gpu():
    pass


@pexen.host_tags("fpga")
@pexen.provides("flashed")
def test_fpga():
    pass


@pexen.requires("flashed")
def test_after():
    pass


@pexen.claims("port80", scope="host")
def test_port():
    pass
"""
    )
    result = pytester.runpytest_subprocess(
        "-p", "pexen", f"--pexen-host-tags={socket.gethostname()}:gpu", "-rs", timeout=TIMEOUT
    )
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*pexen: needs host tags fpga; no connected host has them all "
            f"(hosts seen: {socket.gethostname()};*"
        ]
    )


def test_mixed_scopes_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest_pexen as pexen


@pexen.claims("port80", scope="host")
def test_a():
    pass


@pexen.uses("port80")
def test_b():
    pass
"""
    )
    for args in ((), ("-n", "2")):
        result = pytester.runpytest_subprocess("-p", "pexen", *args, timeout=TIMEOUT)
        assert result.ret == pytest.ExitCode.USAGE_ERROR, args
        assert "resource 'port80' is locked per host (scope='host') by" in result.stderr.str()
        assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_marker_and_header_forms(pytester: pytest.Pytester) -> None:
    """``pytest.mark.pexen_claims(..., scope="host")`` and a header's
    ``scope=host`` / ``host_tags=`` say the same as the helpers; a wrong
    scope is one clear usage error."""
    import pytest_pexen as pexen

    with pytest.raises(ValueError, match="scope must be 'global' or 'host'"):
        pexen.claims("x", scope="rack")
    pytester.makepyfile(
        """
import pytest


@pytest.mark.pexen_claims("port80", scope="host")
@pytest.mark.pexen_host_tags("gpu")
def test_marked():
    pass
"""
    )
    script = pytester.path / "check.sh"
    script.write_text("#!/bin/sh\n# pexen: claims=port80 scope=host host_tags=gpu\nexit 0\n")
    script.chmod(0o755)
    plan = pytester.runpytest_subprocess(
        "-p", "pexen", "--pexen-exec", "--pexen-plan", timeout=TIMEOUT
    )
    plan.stdout.fnmatch_lines(
        [
            "*check.sh  [[]claims per host: port80; needs host tags gpu]",
            "*test_marked  [[]claims per host: port80; needs host tags gpu]",
        ]
    )
    pytester.makepyfile(
        """
import pytest


@pytest.mark.pexen_claims("port80", scope="rack")
def test_marked():
    pass
"""
    )
    bad = pytester.runpytest_subprocess("-p", "pexen", timeout=TIMEOUT)
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "scope must be 'global' or 'host', got 'rack'" in bad.stderr.str()


def test_hosts_with_compat_markers_under_xdist_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """pytest-order / pytest-dependency placements know no hosts: under
    xdist the combination is refused with one sentence, never half-kept."""
    pytester.makepyfile(
        """
import pytest
import pytest_pexen as pexen


@pytest.mark.order(2)
def test_a():
    pass


@pytest.mark.order(1)
@pexen.host_tags("gpu")
def test_b():
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", "pexen", "-n", "2", timeout=TIMEOUT)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot be combined with pytest-dependency or pytest-order" in result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_hook_sets_host_fields(pytester: pytest.Pytester) -> None:
    """``pytest_pexen_task`` sees the per-host locks and host tags as sets;
    one resource in both scopes of one test is one clear usage error."""
    pytester.makeconftest(
        """
def pytest_pexen_task(item, meta):
    meta.host_claims.add("port80")
    meta.host_tags = ["gpu"]
    if item.name == "test_both":
        meta.claims.add("port80")
"""
    )
    pytester.makepyfile("def test_a():\n    pass\n")
    plan = pytester.runpytest_subprocess("-p", "pexen", "--pexen-plan", timeout=TIMEOUT)
    plan.stdout.fnmatch_lines(["*test_a  [[]claims per host: port80; needs host tags gpu]"])
    pytester.makepyfile("def test_both():\n    pass\n")
    bad = pytester.runpytest_subprocess(
        "-p", "pexen", "test_hook_sets_host_fields.py", timeout=TIMEOUT
    )
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(
        ["*test_both: [[]'port80'] locked with both the global and the host scope by the same task"]
    )


def test_host_claimer_first(pytester: pytest.Pytester) -> None:
    """A host-scoped claimer waiting for the users of its resource keeps
    new users from starting on that host until it has run (local workers
    share one host): a stream of users never starves it."""
    pytester.makepyfile(
        RECORDER
        + """
@pytest.mark.parametrize("n", range(2))
@pexen.uses("db", scope="host")
def test_early_user(n):
    record(f"early{n}", seconds=0.5 + n * 0.3)


@pexen.claims("db", scope="host")
def test_claimer():
    record("claimer", seconds=0)


@pytest.mark.parametrize("n", range(6))
@pexen.uses("db", scope="host")
def test_late_user(n):
    record(f"late{n}")
"""
    )
    result = pytester.runpytest_subprocess("-p", "pexen", "-n", "2", timeout=TIMEOUT)
    result.assert_outcomes(passed=9)
    runs = ran(pytester)
    claimer_start = runs["claimer"][1]
    assert all(runs[f"late{n}"][1] > claimer_start for n in range(6)), runs
    assert all(runs[f"early{n}"][2] <= claimer_start for n in range(2)), runs


def test_host_lock_kept_by_a_failure(pytester: pytest.Pytester) -> None:
    """``TaskFailError(locks_ok=False)`` keeps a host lock held on its host
    for good: the next claimer there is skipped, naming the resource, the
    host and the culprit (local workers share one host)."""
    pytester.makepyfile(
        """
import pytest_pexen as pexen


@pexen.claims("rig", scope="host")
@pexen.priority(-1)
def test_breaks_rig():
    raise pexen.TaskFailError("the rig is broken", locks_ok=False)


@pexen.claims("rig", scope="host")
def test_needs_rig():
    pass
"""
    )
    result = pytester.runpytest_subprocess("-p", "pexen", "-n", "2", "-rs", timeout=TIMEOUT)
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            f"*pexen: resource 'rig' on {socket.gethostname()} by "
            "test_host_lock_kept_by_a_failure.py::test_breaks_rig, which ended badly without "
            "releasing it, stays locked on every host that could run this test*"
        ]
    )
