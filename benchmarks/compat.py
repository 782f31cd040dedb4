"""A real pytest-dependency / pytest-order suite at ``-n 2`` with pexen.

Runs the suite in ``--suite DIR`` plainly and serially (``-p no:pexen``,
the anchor) and with pexen at ``-n N``, alternating, and prints: whether
every test ended the same way (outcome and skip reason, compared test by
test), the median wall times and the ratio ``-n N`` / serial. For contrast
it also runs plain xdist (``-p no:pexen -n N``) once and counts the tests
whose outcome differs there.

The suite and its dependencies are the caller's to set up (see
benchmarks/README.md for the suites used); ``--env KEY=VALUE`` adds to the
environment, arguments after ``--`` go to pytest. ``--builtin`` runs
instead a suite written here in the shape of pastastore's
``tests/test_003_pastastore.py`` (which needs pandas, pastas and its data):
bare ``@pytest.mark.dependency`` markers, the relations declared at run
time with ``depends(request, [f"test_x[{pstore.type}]"])``, the state in a
module fixture parametrized over two store kinds. ``--pastastore`` runs
the real file: pastastore 2.0.0's ``tests/test_003_pastastore.py``, its
``conftest.py`` parametrizing the ``dict``, ``pas`` (files) and
``arcticdb`` connectors (see ``pastastore_suite``).

Each round runs plain serial (the reference) and then pexen at ``-n N``,
and compares every test's phases (outcome and skip reason). It prints in
how many rounds pexen's outcomes were identical to the serial run of the
same round, and each test that differed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

RECORDER = """
import json, os

WORKER = []

def pytest_configure(config):
    WORKER.append(hasattr(config, "workerinput"))

def pytest_runtest_logreport(report):
    if WORKER[-1] or (report.passed and report.when != "call"):
        return
    reason = ""
    if report.skipped and isinstance(report.longrepr, (tuple, list)):
        reason = str(report.longrepr[2])
    kind = report.outcome
    if hasattr(report, "wasxfail"):
        kind = "xfailed" if report.skipped else "xpassed"
    with open(os.environ["COMPAT_BENCH_LOG"], "a") as log:
        log.write(json.dumps([report.nodeid, report.when, kind, reason]) + "\\n")
"""


# --builtin: a store of named series and models, as pastastore's connectors
# (in memory, or in a JSON file), shared by a module's tests through a
# module fixture parametrized over the kinds
BUILTIN_CONFTEST = """
import json
import pytest


class Store:
    def __init__(self, kind, folder):
        self.type = kind
        self.path = folder / "store.json"
        self.data = {"oseries": {}, "stresses": {}, "models": {}}
        self.save()

    def save(self):
        if self.type == "file":
            self.path.write_text(json.dumps(self.data))

    def load(self):
        if self.type == "file":
            self.data = json.loads(self.path.read_text())
        return self.data

    def add(self, library, name, value):
        data = self.load()
        if library == "models" and value["oseries"] not in data["oseries"]:
            raise LookupError(value["oseries"])
        data[library][name] = value
        self.save()

    def get(self, library, name):
        return self.load()[library][name]

    def delete(self, library, name):
        del self.load()[library][name]
        self.save()

    def names(self, library):
        return sorted(self.load()[library])


@pytest.fixture(scope="module", params=["dict", "file"])
def pstore(request, tmp_path_factory):
    store = Store(request.param, tmp_path_factory.mktemp(request.param))
    for n in (1, 2, 3):
        store.add("oseries", f"oseries{n}", [n, n + 1, n + 2])
    store.add("stresses", "prec1", [0.1, 0.2, 0.3])
    store.add("stresses", "evap1", [0.05, 0.04, 0.06])
    return store
"""

BUILTIN_TESTS = """
import pytest
from pytest_dependency import depends


def create_model(pstore, name):
    return {"oseries": name, "stresses": ["prec1", "evap1"], "solved": False}


@pytest.mark.dependency()
def test_iter_oseries(pstore):
    assert len(pstore.names("oseries")) == 3


@pytest.mark.dependency()
def test_search(pstore):
    assert [n for n in pstore.names("oseries") if "OSER" in n.upper()] == [
        "oseries1", "oseries2", "oseries3"]


@pytest.mark.dependency()
def test_create_model(pstore):
    create_model(pstore, "oseries1")


@pytest.mark.dependency()
def test_properties(pstore):
    pstore.add("oseries", "deleteme", [])
    try:
        assert len(pstore.names("oseries")) == 4
    finally:
        pstore.delete("oseries", "deleteme")


@pytest.mark.dependency()
def test_store_model(request, pstore):
    depends(request, [f"test_create_model[{pstore.type}]"])
    pstore.add("models", "oseries1", create_model(pstore, "oseries1"))


@pytest.mark.dependency()
def test_model_accessor(request, pstore):
    depends(request, [f"test_store_model[{pstore.type}]"])
    model = pstore.get("models", "oseries1")
    pstore.add("models", "oseries1_2", model)
    try:
        assert pstore.names("models") == ["oseries1", "oseries1_2"]
    finally:
        pstore.delete("models", "oseries1_2")


@pytest.mark.dependency()
def test_store_model_missing_series(request, pstore):
    depends(request, [f"test_create_model[{pstore.type}]", f"test_store_model[{pstore.type}]"])
    model = pstore.get("models", "oseries1")
    series = pstore.get("oseries", "oseries1")
    pstore.delete("models", "oseries1")
    pstore.delete("oseries", "oseries1")
    try:
        pstore.add("models", "oseries1", model)
    except LookupError:
        pstore.add("oseries", "oseries1", series)
        pstore.add("models", "oseries1", model)


@pytest.mark.dependency()
def test_get_model(request, pstore):
    depends(request, [f"test_store_model_missing_series[{pstore.type}]"])
    assert pstore.get("models", "oseries1")["oseries"] == "oseries1"


@pytest.mark.dependency()
def test_del_model(request, pstore):
    depends(request, [f"test_get_model[{pstore.type}]"])
    pstore.delete("models", "oseries1")


@pytest.mark.dependency()
def test_create_models(pstore):
    for name in ("oseries1", "oseries2"):
        pstore.add("models", name, create_model(pstore, name))


@pytest.mark.dependency()
def test_get_parameters(request, pstore):
    depends(request, [f"test_create_models[{pstore.type}]"])
    assert len(pstore.names("models")) == 2


@pytest.mark.dependency()
def test_solve_models(request, pstore):
    depends(request, [f"test_create_models[{pstore.type}]"])
    for name in pstore.names("models"):
        model = pstore.get("models", name)
        model["solved"] = True
        pstore.add("models", name, model)


@pytest.mark.dependency()
def test_statistics(request, pstore):
    depends(request, [f"test_solve_models[{pstore.type}]"])
    assert all(pstore.get("models", n)["solved"] for n in pstore.names("models"))


def test_update_ts_settings(pstore):
    pstore.add("models", "ml_oseries2", create_model(pstore, "oseries2"))
    assert "ml_oseries2" in pstore.names("models")


def test_oseries_distances(pstore):
    assert pstore.names("stresses") == ["evap1", "prec1"]


def test_models_left(pstore):
    assert pstore.names("models") == ["ml_oseries2", "oseries1", "oseries2"]
"""

BUILTIN_OTHER = """
import time
import pytest


@pytest.mark.parametrize("n", range(20))
def test_independent(n):
    time.sleep(0.05)
"""


def write_builtin(folder: Path) -> None:
    for name, text in (
        ("conftest.py", BUILTIN_CONFTEST),
        ("test_002_other.py", BUILTIN_OTHER),
        ("test_003_store.py", BUILTIN_TESTS),
    ):
        (folder / name).write_text(text.lstrip())


# --pastastore: the real suite, in a virtualenv and a cache of the benchmark's
# own (both git-ignored)
PASTASTORE = "2.0.0"
PST_CACHE = HERE / ".cache-pastastore"
PST_VENV = HERE / ".venv-pastastore"
PST_TESTS = "tests/test_003_pastastore.py"
# what conftest.py reads (the data fixtures, pastastore's example_pastastore)
PST_DATA = (
    "obs.csv",
    "rain.csv",
    "evap.csv",
    "head_nb1.csv",
    "rain_nb1.csv",
    "evap_nb1.csv",
    "gw_obs.csv",
    "well_month_end.csv",
)


@dataclass
class Suite:
    """Where and with what pytest runs one suite; ``reset`` puts back,
    before each run, what a run changes."""

    folder: Path
    label: str
    python: str = sys.executable
    args: list[str] = field(default_factory=list)
    reset: Callable[[], None] = lambda: None


def pastastore_data(repo: Path | None, pristine: Path) -> None:
    """``tests/data`` of pastastore from a clone of its repository (a work
    tree or a bare git directory): at tag v2.0.0 if the clone has it,
    else at its HEAD, said so (the data files change rarely: the last change
    to a CSV file the tests read was in 2024)."""
    if repo is None:
        sys.exit(
            "--pastastore needs --pastastore-repo DIR the first time: a clone of the "
            "pastas/pastastore repository, for tests/data (the sdist on PyPI has none)"
        )

    def git(*argv: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "-C", str(repo), *argv], capture_output=True)

    tag = f"v{PASTASTORE}^{{commit}}"
    found = git("rev-parse", "--verify", "-q", tag)
    if found.returncode != 0:
        found = git("rev-parse", "--verify", "-q", "HEAD^{commit}")
        if found.returncode != 0:
            sys.exit(f"{repo}: not a git repository of pastastore (no HEAD)")
        print(f"{repo} has no tag v{PASTASTORE}: tests/data taken from its HEAD")
    commit = found.stdout.decode().strip()
    archive = git("archive", "--format=tar", commit, "tests/data")
    if archive.returncode != 0:
        sys.exit(f"{repo}: no tests/data at {commit}: {archive.stderr.decode().strip()}")
    unpacked = PST_CACHE / "data-unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(unpacked, filter="data")
    missing = [n for n in PST_DATA if not (unpacked / "tests" / "data" / n).exists()]
    if missing:
        sys.exit(f"{repo} at {commit}: tests/data lacks {', '.join(missing)}")
    (unpacked / "tests" / "data").rename(pristine)
    shutil.rmtree(unpacked)
    (PST_CACHE / "data-commit").write_text(commit + "\n")


def pastastore_suite(repo: Path | None) -> Suite:
    """pastastore 2.0.0's source and tests (its sdist from PyPI) with
    their data, installed editable into benchmarks/.venv-pastastore beside
    pytest-pexen (editable, from this checkout), pytest-xdist,
    pytest-dependency, arcticdb and what the tests import (jinja2 for
    pandas' Styler, hydropandas for ``example_pastastore``).

    Editable, because ``example_pastastore`` reads ``tests/data`` beside the
    package, as in pastastore's own CI. The connectors write into that
    folder (``pas``, ``arcticdb``), so each run starts from the pristine
    copy. Without arcticdb (no wheel for the machine) its connector is
    left out with ``-k "not arcticdb"``.
    """
    PST_CACHE.mkdir(exist_ok=True)
    src = PST_CACHE / f"pastastore-{PASTASTORE}"
    if not (src / PST_TESTS).exists():
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(PST_CACHE)]
        subprocess.run([*pip, "--no-binary", ":all:", f"pastastore=={PASTASTORE}"], check=True)
        with tarfile.open(PST_CACHE / f"pastastore-{PASTASTORE}.tar.gz") as tar:
            tar.extractall(PST_CACHE, filter="data")
    pristine = PST_CACHE / "data"
    if not pristine.exists():
        pastastore_data(repo, pristine)
    python = PST_VENV / "bin" / "python"
    installed = PST_VENV / "benchmark-installed"
    if not installed.exists():
        venv.create(PST_VENV, with_pip=True)
        pip = [str(python), "-m", "pip", "install", "-q", "-e", str(HERE.parent), "-e", str(src)]
        pip += ["pytest-xdist", "pytest-dependency", "jinja2", "hydropandas"]
        if subprocess.run([*pip, "arcticdb"]).returncode != 0:
            print("arcticdb did not install: its connector is left out")
            subprocess.run(pip, check=True)
        installed.touch()
    args = ["-o", "addopts=", PST_TESTS]  # its addopts want pytest-cov
    if subprocess.run([python, "-c", "import arcticdb"], capture_output=True).returncode:
        print('arcticdb is not importable: running with -k "not arcticdb"')
        args += ["-k", "not arcticdb"]

    def reset() -> None:
        data = src / "tests" / "data"
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(pristine, data)

    commit = (PST_CACHE / "data-commit").read_text().strip()
    label = f"pastastore {PASTASTORE} {PST_TESTS} (data at {commit[:12]})"
    return Suite(src, label, str(python), args, reset)


def run(suite: Suite, env: dict[str, str], log: Path, args: list[str]) -> float:
    suite.reset()
    log.unlink(missing_ok=True)
    cmd = [suite.python, "-m", "pytest", "-q", "-p", "compat_bench_recorder"]
    cmd += ["-p", "no:randomly", "-p", "no:cacheprovider", *suite.args, *args]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=suite.folder,
        env={**env, "COMPAT_BENCH_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1) or not log.exists():
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return elapsed


Phases = list[tuple[str, str, str]]  # (when, outcome, skip reason) per reported phase


def outcomes(log: Path) -> dict[str, Phases]:
    out: dict[str, Phases] = {}
    for line in log.read_text().splitlines():
        nodeid, when, kind, reason = json.loads(line)
        out.setdefault(nodeid, []).append((when, kind, reason))
    return out


def differing(a: dict[str, Phases], b: dict[str, Phases]) -> list[str]:
    return sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))


def summary(phases: Phases | None) -> str:
    """How a test ended, in a few words: ``passed``, ``not run``, or each
    phase that did not pass (with a skip's reason)."""
    if phases is None:
        return "not run"
    ended = [
        f"{when} {kind}" + (f" ({reason[:60]})" if reason else "")
        for when, kind, reason in phases
        if kind != "passed"
    ]
    return "; ".join(ended) or "passed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--suite", type=Path, help="folder to run pytest in")
    where.add_argument(
        "--builtin", action="store_true", help="the runtime-depends() suite written here"
    )
    where.add_argument(
        "--pastastore", action="store_true", help=f"pastastore {PASTASTORE}'s {PST_TESTS}"
    )
    parser.add_argument(
        "--pastastore-repo",
        type=Path,
        help="a clone of pastas/pastastore, for its tests/data (once: then cached)",
    )
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "compat_bench_recorder.py").write_text(RECORDER)
        if args.builtin:
            suite = Suite(Path(tmp, "suite"), "builtin suite (pastastore's shape)")
            suite.folder.mkdir()
            write_builtin(suite.folder)
        elif args.pastastore:
            suite = pastastore_suite(args.pastastore_repo)
        else:
            suite = Suite(args.suite, str(args.suite))
        env = dict(os.environ)
        env.update(pair.split("=", 1) for pair in args.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tmp, env.get("PYTHONPATH")) if p)
        serial_args = ["-p", "no:pexen", "-p", "no:xdist", *args.pytest_args]
        pexen_args = ["-p", "pexen", "-n", str(args.workers), *args.pytest_args]
        logs = {name: Path(tmp, f"{name}.jsonl") for name in ("serial", "pexen", "xdist")}
        run(suite, env, logs["serial"], serial_args)  # warm caches
        first = outcomes(logs["serial"])
        serial, pexen, identical, serial_apart = [], [], 0, set()
        differences: dict[str, list[str]] = {}
        for n in range(1, args.rounds + 1):
            serial.append(run(suite, env, logs["serial"], serial_args))
            anchor = outcomes(logs["serial"])
            serial_apart.update(differing(first, anchor))
            pexen.append(run(suite, env, logs["pexen"], pexen_args))
            got = outcomes(logs["pexen"])
            apart = differing(anchor, got)
            identical += not apart
            for nodeid in apart:
                differences.setdefault(nodeid, []).append(
                    f"run {n}: serial {summary(anchor.get(nodeid))}, "
                    f"pexen {summary(got.get(nodeid))}"
                )
        run(
            suite,
            env,
            logs["xdist"],
            ["-p", "no:pexen", "-n", str(args.workers), *args.pytest_args],
        )
        plain_xdist = differing(anchor, outcomes(logs["xdist"]))
    se, pe = statistics.median(serial), statistics.median(pexen)
    counts: dict[str, int] = {}
    for results in anchor.values():
        kind = next((k for w, k, _ in results if k != "passed" or w == "call"), "passed")
        counts[kind] = counts.get(kind, 0) + 1
    print(f"{suite.label}: {len(anchor)} tests {counts}, median of {args.rounds} rounds")
    print(f"  plain serial (reference): {se:.2f} s")
    print(f"  pexen -n {args.workers}:             {pe:.2f} s  ratio {pe / se:.3f}")
    print(
        f"  outcomes identical to plain serial at -n {args.workers}: "
        f"{identical} of {args.rounds} runs"
    )
    for nodeid, what in sorted(differences.items())[:30]:
        print(f"    {nodeid}: {'; '.join(what)}")
    if len(differences) > 30:
        print(f"    ... and {len(differences) - 30} more tests")
    agree = "yes" if not serial_apart else f"no, {len(serial_apart)} tests differ"
    print(f"  plain serial runs agree with one another: {agree}")
    print(f"  (plain xdist -n {args.workers}, no pexen: {len(plain_xdist)} tests differ)")


if __name__ == "__main__":
    main()
