"""A pause of the garbage collector while a large graph is built.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator


def _always() -> bool:
    return True


@contextlib.contextmanager
def gc_paused(built: Callable[[], bool] = _always) -> Iterator[None]:
    """Pause the garbage collector while a graph is built, and file what
    was built with the old objects.

    Building a graph of tens of thousands of tasks (``Sched``'s, or the
    pytest plugin's plan of a collection) allocates only long-lived
    objects, so the collections it triggers free nothing; a full collection
    in the middle of it walked every task's metadata and was a third of the
    set-up time of a 50,000-task run (benchmarks/engine.py). Once built,
    those objects (some 200,000 at 50,000 tasks) would all sit in the young
    generation, and the first allocation after the pause would walk them
    all, to free nothing again (100 ms there; 20-30 ms after the plan of a
    20,000-test collection). ``gc.freeze()`` then ``gc.unfreeze()`` moves
    every tracked object to the oldest generation without walking any;
    skipped if the program froze objects itself (an unfreeze would undo
    that), and when ``built()`` says nothing was (a suite without pexen
    metadata: its young objects stay young, as without pexen)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count() and built():
            gc.freeze()
            gc.unfreeze()
        gc.enable()
