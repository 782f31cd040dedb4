"""What ``--dist pexen`` costs at ``-n 2`` (issue 22's ``-n 2`` figure).

A random DAG of tiny tests (default 5,000 across 10 modules; each test
provides its own tag and requires 0-2 earlier tests, most often of its own
module, as real suites do), generated from a fresh random seed per run
(printed; ``--seed`` repeats one). Contenders, each in a fresh process, in
alternating rounds:

* ``--dist load -p no:pexen`` on the same files (the anchor: ignores the DAG)
* ``-p pexen`` (``--dist pexen``, goal <= 1.05x the anchor)
* with ``--old DIR``: the same with the pexen package found in ``DIR``
  first (``PYTHONPATH``), to measure a change against the code before it in
  the same conditions on a loaded machine

``--plain`` uses the same files without markers (pexen hands such a suite
to xdist's ``load``). Every contender runs without pytest's cache (so
without pexen's default journal, and without durations from an earlier
round) unless ``--journal``: then with pytest's cache, emptied before each
run, so pexen journals the run as it does by default. Prints the median
wall time of each with its spread, and the ratios to the anchor (median of
the rounds' ratios, min-max); the same for the CPU time (user + system of
the run and its workers), which a machine shared with other work disturbs
much less than the wall time. The pexen packages timed are compiled to
bytecode first, as installing a wheel does.
"""

from __future__ import annotations

import argparse
import compileall
import functools
import os
import random
import shutil
import tempfile
from pathlib import Path

import _bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=5000)
    parser.add_argument("--modules", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seed", type=int, help="default: a fresh one (printed)")
    parser.add_argument("--plain", action="store_true", help="the same tests without markers")
    parser.add_argument("--old", type=Path, help="a directory holding another pytest_pexen")
    parser.add_argument(
        "--journal", action="store_true", help="with pytest's cache: pexen's default journal on"
    )
    _bench.add_clean_option(parser)
    args = parser.parse_args()
    _bench.in_clean_python(args.clean)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    n = str(args.workers)
    contenders: dict[str, tuple[tuple[str, ...], dict[str, str] | None]] = {
        "load": (("-p", "no:pexen", "-n", n, "--dist", "load"), None),
        "pexen": (("-p", "pexen", "-n", n), None),
    }
    if args.old is not None:
        env = {**os.environ, "PYTHONPATH": str(args.old.resolve())}
        contenders["old"] = (("-p", "pexen", "-n", n), env)
    # as a wheel's install does: a checkout (an editable install, --old) has
    # no bytecode under PYTHONDONTWRITEBYTECODE, and each of the run's three
    # processes would compile every pexen module from source (5-8% of this
    # figure in a fresh checkout)
    for checkout in [Path(__file__).resolve().parent.parent, args.old]:
        if checkout is not None:
            compileall.compile_dir(checkout / "pytest_pexen", quiet=1)
    times: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}  # user + system of the run, its workers included
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "suite")
        _bench.dag_suite(
            root, args.modules, args.tests // args.modules, seed, marked=not args.plain
        )

        def measure(name: str) -> float:
            options, env = contenders[name]
            if args.journal:
                shutil.rmtree(root / ".pytest_cache", ignore_errors=True)  # cold, as the others
                timing = _bench.run([*_bench.BASE, *options], root, env=env)
            else:
                timing = _bench.pytest(root, *options, env=env)
            times.setdefault(name, []).append(timing.wall)
            cpus.setdefault(name, []).append(timing.cpu)
            return timing.wall

        bytecode = "set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "unset"
        print(
            f"seed {seed}; load average at start: {os.getloadavg()[0]:.2f}; "
            f"PYTHONDONTWRITEBYTECODE {bytecode}"
        )
        _bench.rounds({name: functools.partial(measure, name) for name in contenders}, args.pairs)
    for walls in [*times.values(), *cpus.values()]:
        del walls[0]  # the warm-up round
    kind = "plain" if args.plain else "random-DAG"
    print(
        f"{args.tests} tiny {kind} tests in {args.modules} modules, -n {args.workers}, "
        f"{'with' if args.journal else 'without'} pytest's cache (pexen's journal), "
        f"median of {args.pairs} rounds (fresh processes, alternating)"
    )
    labels = {
        "load": "--dist load -p no:pexen (anchor)",
        "pexen": "-p pexen (goal <= 1.05x)",
        "old": f"-p pexen from {args.old}",
    }
    for what, table in (("wall", times), ("CPU", cpus)):
        print(f" {what}:")
        for name, values in table.items():
            line = f"  {labels[name]}: {_bench.spread(values)}"
            if name != "load":
                ratios = [v / a for v, a in zip(values, table["load"], strict=True)]
                line += f"  ratio {_bench.spread(ratios, 'x')}"
            print(line)
        if "old" in table:
            ratios = [v / o for v, o in zip(table["pexen"], table["old"], strict=True)]
            print(f"  this pexen / the old one: {_bench.spread(ratios, 'x')}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
