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
module fixture parametrized over two store kinds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def run(suite: Path, env: dict[str, str], log: Path, args: list[str]) -> float:
    log.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "compat_bench_recorder",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        *args,
    ]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=suite, env={**env, "COMPAT_BENCH_LOG": str(log)}, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1) or not log.exists():
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return elapsed


def outcomes(log: Path) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for line in log.read_text().splitlines():
        nodeid, when, kind, reason = json.loads(line)
        out.setdefault(nodeid, []).append((when, kind, reason))
    return out


def differing(
    a: dict[str, list[tuple[str, str, str]]], b: dict[str, list[tuple[str, str, str]]]
) -> list[str]:
    return sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--suite", type=Path, help="folder to run pytest in")
    where.add_argument(
        "--builtin", action="store_true", help="the runtime-depends() suite written here"
    )
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "compat_bench_recorder.py").write_text(RECORDER)
        if args.builtin:
            args.suite = Path(tmp, "suite")
            args.suite.mkdir()
            write_builtin(args.suite)
        env = dict(os.environ)
        env.update(pair.split("=", 1) for pair in args.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tmp, env.get("PYTHONPATH")) if p)
        serial_args = ["-p", "no:pexen", "-p", "no:xdist", *args.pytest_args]
        pexen_args = ["-p", "pexen", "-n", str(args.workers), *args.pytest_args]
        logs = {name: Path(tmp, f"{name}.jsonl") for name in ("serial", "pexen", "xdist")}
        run(args.suite, env, logs["serial"], serial_args)  # warm caches
        serial, pexen, mismatches = [], [], set()
        for _ in range(args.rounds):
            serial.append(run(args.suite, env, logs["serial"], serial_args))
            anchor = outcomes(logs["serial"])
            pexen.append(run(args.suite, env, logs["pexen"], pexen_args))
            mismatches.update(differing(anchor, outcomes(logs["pexen"])))
        run(
            args.suite,
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
    print(f"{args.suite}: {len(anchor)} tests {counts}, median of {args.rounds} rounds")
    print(f"  plain serial (anchor): {se:.2f} s")
    print(f"  pexen -n {args.workers}:          {pe:.2f} s  ratio {pe / se:.3f}")
    print(
        f"  outcomes of pexen -n {args.workers} differing from serial, over all rounds: "
        f"{len(mismatches)}{' ' + str(sorted(mismatches)[:5]) if mismatches else ''}"
    )
    print(f"  (plain xdist -n {args.workers}, no pexen: {len(plain_xdist)} tests differ)")


if __name__ == "__main__":
    main()
