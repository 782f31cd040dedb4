"""The journal: every run's record of what started and how it ended.

Modules:

- ``format``: the JSON-lines format, its reader API (``read``, ``follow``,
  ``load``, re-exported here) and its ``Writer``.
- ``resume``: journaling a run and resuming it (``--pexen-state``,
  ``--pexen-resume``).
- ``reboots``: reboots asked for by tests, and boot counts.
- ``__main__``: ``python -m pytest_pexen.journal PATH`` (summary, ``--follow``,
  ``--timeline``).

``from pytest_pexen import journal`` gives the reader API: ``journal.read``,
``journal.follow``, ``journal.load``, ``journal.State``, ``journal.JournalError``,
and for a record's fields ``journal.value`` (with ``journal.DEFAULTS``),
``journal.location`` and ``journal.ran``.

Imports: the core and the engine; what other capabilities add to a resume
(pytest-dependency's records, the tests the watchdog stopped) comes through
the core's hooks (graph/hookspecs.py). ``__main__`` is an entry point of
its own and draws ``--timeline`` with ``pytest_pexen.timeline``.

PYTEST_DONT_REWRITE
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .format import (
        DEFAULTS,
        FORMAT,
        EmptyJournal,
        JournalError,
        PexenJournalWarning,
        Record,
        State,
        follow,
        load,
        location,
        ran,
        read,
        value,
    )


def __getattr__(name: str) -> Any:
    """The reader API, loaded on first use: importing ``reboots`` (as every
    pytest process does, for its fixtures) need not load the format."""
    if name in __all__:
        from . import format

        return getattr(format, name)
    raise AttributeError(f"module 'pytest_pexen.journal' has no attribute {name!r}")


__all__ = [
    "DEFAULTS",
    "FORMAT",
    "EmptyJournal",
    "JournalError",
    "PexenJournalWarning",
    "Record",
    "State",
    "follow",
    "load",
    "location",
    "ran",
    "read",
    "value",
]
