"""The timeline page (--pexen-timeline, journal --timeline), from real runs,
looked at in a real browser (headless Chromium) where it matters: what the
page's script drew is read back from the DOM it left."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from pytest_pexen import journal
from pytest_pexen.timeline.page import OUTCOMES, critical_path

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install "
    "chromium; CI installs it, see README.md)",
)

SUITE = """
import time
import pytest
import pytest_pexen as pexen

@pexen.provides("db")
def test_a():
    time.sleep(0.1)

@pexen.requires("db")
@pexen.provides("schema")
def test_b():
    time.sleep(0.1)

@pexen.requires("schema")
def test_c(pexen_results):
    pexen_results.warn("slow disk")
    pexen_results.add("pass", name="rows")
    time.sleep(0.1)

@pexen.claims("lab")
def test_lab1():
    pass

@pexen.claims("lab")
def test_lab2():
    pass

def test_fails():
    assert 0

@pytest.mark.parametrize("n", range(4))
def test_free(n):
    pass
"""


def drawn(dom: str) -> str:
    """The DOM without the page's scripts (their source is in the DOM too)."""
    return re.sub(r"<script.*?</script>", "", dom, flags=re.S)


def chromium(page: Path, *args: str, test: str | None = None) -> str:
    """Load the page from file:// in headless Chromium (no network: nothing
    on the page asks for any, and Chromium's own background traffic is
    off); what it prints (with --dump-dom: the DOM after the scripts ran)."""
    assert CHROMIUM is not None
    url = page.resolve().as_uri() + (f"#test={test}" if test else "")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *args,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout


def page_data(text: str) -> dict[str, Any]:
    """The data the page's script draws from (the JSON it carries)."""
    found = re.search(r'<script type="application/json" id="pexen-data">(.*?)</script>', text, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def value(dom: str, name: str) -> float:
    found = re.search(rf'id="{name}" data-value="([^"]+)"', dom)
    assert found is not None, name
    return float(found.group(1))


def details(dom: str) -> str:
    """The text of the detail panel (what a click on a bar shows)."""
    found = re.search(r'<section id="details">(.*?)</section>', dom, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1))


def ends(path: Path) -> dict[str, dict[str, Any]]:
    return {r["test"]: r for r in journal.read(path) if r["type"] == "end"}


@needs_chromium
def test_xdist_page_in_chromium(pytester: pytest.Pytester) -> None:
    """-n 2: a lane per worker, a bar per test in its outcome's colour, the
    summary numbers the journal gives, the critical path, sub-results and
    why a test waited, as the page's script drew them."""
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "pexen", "-n", "2", "--pexen-state=state.jsonl", "--pexen-timeline=page.html"
    )
    result.assert_outcomes(passed=9, failed=1)
    result.stdout.fnmatch_lines(["pexen: timeline written to *page.html: makespan *"])
    page = pytester.path / "page.html"
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=|<link|@import|url\(\s*['"]?\w+:""", text), (
        "the page must not load anything"
    )
    records = list(journal.read(pytester.path / "state.jsonl"))
    ended = ends(pytester.path / "state.jsonl")
    starts = [r["t"] for r in records if r["type"] == "start"]
    makespan = max(r["t"] for r in ended.values()) - min(starts)
    work = sum(r["duration"] for r in ended.values())
    chain = [f"test_suite.py::test_{x}" for x in "abc"]
    critical = sum(ended[t]["duration"] for t in chain)

    c = "test_suite.py::test_c"
    full = chromium(page, "--dump-dom", test=c)
    dom = drawn(full)
    assert re.search(r'<body[^>]* data-rendered="[\d.]+"', dom), "the script ran to its end"
    assert re.findall(r'<div class="lane" data-lane="([^"]+)"', dom) == ["gw0", "gw1"]
    data = page_data(full)
    bars = re.findall(r'<b class="bar o(\d)((?: [\w-]+)*)" data-i="(\d+)"', dom)
    assert len(bars) == len(ended) == 10
    shown = {
        data["tests"][data["bars"][int(n)][0]]: (OUTCOMES[int(o)], "cp" in classes.split())
        for o, classes, n in bars
    }
    assert {t: o for t, (o, _) in shown.items()} == {t: r["outcome"] for t, r in ended.items()}
    assert shown[c] == ("warn", True)
    assert {t for t, (_, cp) in shown.items() if cp} == set(chain)
    assert value(dom, "makespan") == pytest.approx(makespan, abs=1e-6)
    assert value(dom, "work") == pytest.approx(work, abs=1e-6)
    assert value(dom, "workers") == 2
    assert value(dom, "critical") == pytest.approx(critical, abs=1e-6)
    assert value(dom, "bound") == pytest.approx(max(critical, work / 2), abs=1e-6)
    assert value(dom, "utilisation") == pytest.approx(work / (2 * makespan), abs=1e-6)
    # the sub-results: a stripe on the bar, listed in the details with why it waited
    n = next(n for t, n in zip(shown, (b[2] for b in bars), strict=True) if t == c)
    assert re.search(rf'data-i="{n}" style="[^"]*"><i style="background:linear-gradient', dom)
    panel = details(dom)
    assert panel.startswith(c)
    assert "provider test_b of 'schema' until +" in panel
    assert "warn slow disk" in panel and "pass rows" in panel

    # the later of two claimers waited for the lock (drawn the way the provider is)
    first, second = sorted(
        ("test_suite.py::test_lab1", "test_suite.py::test_lab2"), key=lambda t: ended[t]["t"]
    )
    n = next(n for n, bar in enumerate(data["bars"]) if data["tests"][bar[0]] == second)
    assert [w[:3] for w in data["waits"][str(n)]] == [["lock", "lab", data["tests"].index(first)]]

    shot = pytester.path / "timeline.png"
    chromium(page, f"--screenshot={shot}", "--window-size=1400,700", test=c)
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_serial_without_journal_file(pytester: pytest.Pytester) -> None:
    """--pexen-state=none: the page is made from the records kept in memory;
    one lane, a bar per test, and no journal file anywhere."""
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeini("[pytest]\npexen_timeline = out/page.html\n")
    result = pytester.runpytest_subprocess("-p", "pexen", "--pexen-state=none")
    result.assert_outcomes(passed=9, failed=1)
    data = page_data((pytester.path / "out" / "page.html").read_text())
    assert [lane for lane, _ in data["lanes"]] == ["main"]
    assert len(data["bars"]) == 10
    assert [data["tests"][t] for t in data["critical"]] == [
        f"test_suite.py::test_{x}" for x in "abc"
    ]
    assert not list(pytester.path.rglob("*.jsonl"))


def test_resumed_run_has_every_boot(pytester: pytest.Pytester) -> None:
    """A test reboots the machine: after --pexen-resume the page shows both
    boots, the attempt that asked for the reboot and the one that passed;
    the page made afterwards from the journal is the very same page."""
    pytester.makepyfile(
        test_boot="""
        import pytest_pexen as pexen

        def test_first():
            pass

        def test_boot(pexen_boot_count):
            if pexen_boot_count == 0:
                pexen.reboot()

        def test_last():
            pass
    """
    )
    args = [
        "-p",
        "pexen",
        "--pexen-state=state.jsonl",
        "--pexen-reboot-cmd=true",
        "--pexen-timeline=page.html",
    ]
    assert pytester.runpytest_subprocess(*args).ret == pytest.ExitCode.INTERRUPTED
    assert len(page_data((pytester.path / "page.html").read_text())["boots"]) == 1
    pytester.runpytest_subprocess(*args, "--pexen-resume").assert_outcomes(passed=3)
    page = (pytester.path / "page.html").read_text()
    data = page_data(page)
    attempts = [
        (data["tests"][b[0]].rpartition("::")[2], OUTCOMES[b[4]], b[6]) for b in data["bars"]
    ]
    assert attempts == [
        ("test_first", "pass", 0),
        ("test_boot", "reboot", 0),
        ("test_boot", "pass", 1),
        ("test_last", "pass", 1),
    ]
    rebooted = data["bars"][1]  # from its start until it asked for the reboot
    assert rebooted[8] == rebooted[2] < rebooted[3]
    spans = [0.0, 0.0]
    boot = -1
    first: float = 0.0
    for record in journal.read(pytester.path / "state.jsonl"):
        if record["type"] in ("run", "boot"):
            boot, first = boot + 1, 0.0
        elif record["type"] == "start":
            first = first or record["t"]
        elif record["type"] in ("end", "reboot"):
            spans[boot] = record["t"] - first
    assert [b[2] for b in data["boots"]] == pytest.approx(spans, abs=1e-6)
    assert re.search(r'id="makespan" data-value="([^"]+)"', page).group(1) == str(  # type: ignore[union-attr]
        round(sum(spans), 6)
    )

    done = subprocess.run(
        [sys.executable, "-m", "pytest_pexen.journal", "state.jsonl", "--timeline", "again.html"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("timeline written to again.html: makespan ")
    assert (pytester.path / "again.html").read_text() == page


def test_bad_input_is_one_line(pytester: pytest.Pytester) -> None:
    """A page path that cannot be written, a file that is not a journal, a
    journal with a broken record: one line, a non-zero exit, no traceback."""
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    (pytester.path / "dir.html").mkdir()
    result = pytester.runpytest_subprocess("-p", "pexen", "--pexen-timeline=dir.html")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pexen: cannot write the timeline page "
            "--pexen-timeline=*dir.html: it is a directory; *"
        ]
    )

    def cli(journal_path: str, page: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_pexen.journal", journal_path, "--timeline", page],
            cwd=pytester.path,
            capture_output=True,
            text=True,
        )

    header = json.dumps(
        {
            "type": "run",
            "format": journal.FORMAT,
            "id": "x",
            "t": 0,
            "tests": ["test_one.py::test_one"],
        }
    )
    (pytester.path / "state.jsonl").write_text(header + "\n")
    (pytester.path / "plain.txt").write_text("not a journal\n")
    (pytester.path / "broken.jsonl").write_text(
        header + '\n{"type":"start","test":"test_one.py::test_one","t":"soon"}\n'
    )
    for done, says in [
        (cli("plain.txt", "page.html"), "pexen journal: plain.txt:1: not a pexen journal record"),
        (cli("broken.jsonl", "page.html"), "pexen journal: a start record without a number 't'"),
        (cli("state.jsonl", "plain.txt/page.html"), "pexen journal: cannot write plain.txt"),
    ]:
        assert done.returncode == 2
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(says), done.stderr
    assert not (pytester.path / "page.html").exists()


def test_critical_path_across_groups() -> None:
    """Groups run one after the other: the path goes through the longest
    test of the group before; a test's own providers extend it."""
    tasks = {
        "a": [[], ["x"], [], [], 0, None],
        "b": [[], [], [], [], 0, None],
        "c": [["x"], [], [], [], 0, "vm"],
        "d": [[], [], [], [], 0, "vm"],
    }
    durations = {"a": 1.0, "b": 3.0, "c": 1.0, "d": 0.5, "plain": 2.5}
    assert critical_path(tasks, [None, "vm"], durations) == (["b", "c"], 4.0)
    # tests without metadata are in the default group, here the second one
    vm_first = {"d": [[], [], [], [], 0, "vm"], "b": [[], [], [], [], 0, None]}
    assert critical_path(vm_first, ["vm", None], durations) == (["d", "b"], 3.5)
    with pytest.raises(journal.JournalError, match="dependency cycle"):
        critical_path(
            {"a": [["y"], ["x"], [], [], 0, None], "b": [["x"], ["y"], [], [], 0, None]}, [None], {}
        )


def test_an_end_written_again_changes_its_bar() -> None:
    """An end record marked ``replaces`` (a fixture the test kept for its
    worker's next test failed its teardown later) gives the test's bar its
    outcome; it is no second attempt."""
    from pytest_pexen.timeline.page import analyse

    records = [
        {"type": "run", "t": 1.0, "tests": ["t::a", "t::b"], "workers": 2, "graph": {}},
        {"type": "start", "test": "t::a", "t": 1.0, "worker": "gw0"},
        {"type": "start", "test": "t::b", "t": 1.0, "worker": "gw1"},
        {"type": "end", "test": "t::a", "t": 2.0, "outcome": "pass", "duration": 1.0},
        {"type": "end", "test": "t::b", "t": 2.5, "outcome": "pass", "duration": 1.5},
        {"type": "end", "test": "t::a", "t": 2.0, "outcome": "error", "duration": 1.0,
         "replaces": True},
    ]  # fmt: skip
    bars = analyse(records).bars
    assert [(b.test, b.outcome) for b in bars] == [("t::a", "error"), ("t::b", "pass")]
