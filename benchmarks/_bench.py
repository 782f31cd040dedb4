"""What every benchmark here shares: fresh processes timed, contenders in
alternating rounds, medians with their spread.

Each contender runs in a fresh process of its own (no warm state carried
from one measurement to the next), and contenders take turns round by round
so that a slow spell of the machine hits all of them alike. CPU time (user
+ system of the child, from ``wait4``) is kept beside the wall time: a
machine shared with other work disturbs it much less.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import venv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLEAN_VENV = HERE / ".venv-startup"

# every pytest contender: quiet, in file order (BASE), and, unless it needs
# pytest's cache (a default journal), no durations from earlier runs (PYTEST)
BASE = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"]
PYTEST = [*BASE, "-p", "no:cacheprovider"]


@dataclass(frozen=True)
class Timing:
    """One fresh process: its wall and CPU seconds, and what it printed."""

    wall: float
    cpu: float
    out: str


def run(
    cmd: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> Timing:
    """Run ``cmd`` in a fresh process; exit the benchmark with its output
    when it fails and ``check`` is on (a figure of a failing run means
    nothing)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    timer = threading.Timer(timeout, proc.kill) if timeout is not None else None
    if timer is not None:
        timer.start()
    out = proc.stdout.read() if proc.stdout is not None else b""
    _, status, usage = os.wait4(proc.pid, 0)  # wait4: the child's own CPU time
    wall = time.perf_counter() - start
    if timer is not None:
        timer.cancel()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    text = out.decode(errors="replace")
    if check and code != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{text[-3000:]}")
    return Timing(wall, cpu, text)


def pytest(
    cwd: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True
) -> Timing:
    """A fresh ``python -m pytest`` in ``cwd`` (see ``PYTEST`` for the options
    every contender gets)."""
    return run([*PYTEST, *args], cwd, env=env, check=check)


def rounds(contenders: Mapping[str, Callable[[], float]], n: int) -> dict[str, list[float]]:
    """Each contender once per round, in turns, ``n`` rounds, after one
    unmeasured round that warms the file system and bytecode caches."""
    for measure in contenders.values():
        measure()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(n):
        for name, measure in contenders.items():
            times[name].append(measure())
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], unit: str = "s") -> str:
    """``median unit (min-max)``: the figure and how far the runs strayed."""
    return f"{median(values):.3f} {unit} ({min(values):.3f}-{max(values):.3f})"


def dag_suite(
    root: Path, modules: int, per_module: int, seed: int, marked: bool, sleep: float = 0.0
) -> None:
    """``modules`` files of ``per_module`` tests; when ``marked``, each test
    provides its own tag and requires 0-2 earlier tests' tags (most often in
    its own module, as real suites do)."""
    rnd = random.Random(seed)
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    n = 0
    for m in range(modules):
        lines = ["import time, pytest_pexen as pexen"]
        for t in range(per_module):
            if marked:
                lines.append(f"@pexen.provides('t{n}')")
                deps = set()
                for _ in range(rnd.choice((0, 1, 1, 2))):
                    if t and rnd.random() < 0.7:
                        deps.add(n - 1 - rnd.randrange(t))
                    elif n:
                        deps.add(rnd.randrange(n))
                if deps:
                    lines.append(
                        "@pexen.requires(" + ", ".join(f"'t{d}'" for d in sorted(deps)) + ")"
                    )
            body = f"time.sleep({sleep})" if sleep else "pass"
            lines.append(f"def test_{t}(): {body}")
            n += 1
        (root / f"test_m{m:03d}.py").write_text("\n".join(lines) + "\n")


def clean_python() -> Path:
    """An interpreter with only pytest, pytest-xdist (this interpreter's
    versions) and the project, installed from this checkout as a wheel
    would install it: ``benchmarks/.venv-startup`` (git-ignored), made on
    first use, the project installed again at every call. Other plugins of
    a development environment (hypothesis, pytest-rerunfailures, ...) add
    their own cost to every contender, the anchor too, and so flatter the
    ratios: hypothesis's plugin imports hypothesis for its terminal summary,
    0.5 s of a 1.4 s serial run."""
    exe = CLEAN_VENV / "bin" / "python"
    if not exe.exists():
        venv.create(CLEAN_VENV, with_pip=True)
        pins = [f"{name}=={metadata.version(name)}" for name in ("pytest", "pytest-xdist")]
        subprocess.run([exe, "-m", "pip", "install", "-q", *pins], check=True)
    subprocess.run(
        [exe, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(HERE.parent)],
        check=True,
    )
    return exe


def add_clean_option(parser: argparse.ArgumentParser) -> None:
    """A benchmark's ``--clean`` (see ``in_clean_python``)."""
    parser.add_argument(
        "--clean",
        action="store_true",
        help="run in benchmarks/.venv-startup: pytest, pytest-xdist and this checkout only",
    )


def in_clean_python(clean: bool) -> None:
    """With ``clean`` (a benchmark's ``--clean``), run the benchmark again
    under ``clean_python()``, with the same arguments but that one, unless
    it already runs there."""
    if not clean or Path(sys.prefix).resolve() == CLEAN_VENV.resolve():
        return
    exe = clean_python()
    args = [a for a in sys.argv if a != "--clean"]
    os.execv(exe, [str(exe), *args])
