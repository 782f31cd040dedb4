"""Names and stash keys that capabilities share, kept in the core.

A capability finds another one's plugin or data through these, never by
importing its module (pytest's plugins talk through the config stash the
same way): the watchdog's last resort and the timeline page reach the
journal's plugin by its name; the xUnit report reads the time of a resumed
run's earlier boots; the sub-results and executable tests read the boot
counts that the journal restores and reboots keep.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import pytest

JOURNAL = "pexen-journal"  # the journaling process's plugin (journal.resume.JournalPlugin)
# the sub-results' recorder (results.recorder.Recorder), registered on first need
RECORDER = "pexen-results"
# seconds the run took before this boot (set when a run resumes)
EARLIER_KEY = pytest.StashKey[float]()
# per test, how often the run stopped while it ran (journal.reboots, journal.resume)
BOOTS_KEY = pytest.StashKey[dict[str, int]]()


def boot_count(config: pytest.Config, nodeid: str) -> int:
    """How often the run stopped while this test was running."""
    return config.stash.get(BOOTS_KEY, {}).get(nodeid, 0)
