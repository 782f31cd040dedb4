"""The core: each collected test's metadata, the task graph, the serial run.

Modules:

- ``items``: what pexen knows of each collected test (its ``SchedMeta``,
  read from the markers once, stashed on the item).
- ``taskgraph``: the selected tests as one task graph for the planner (the
  spec every xdist worker derives alike).
- ``plugin``: the pytest hooks that build the graph at collection, check it,
  order the items and enforce it.
- ``runtime``: running the graph inside one pytest process (a serial run).
- ``shared``: the initial shared state (``--pexen-shared``).
- ``host_tags``: ``--pexen-host-tags`` and the tests a serial run's host
  cannot run (the xdist controller decides per host, xdist/hosts.py).
- ``views``: ``--pexen-plan`` and ``--pexen-graph``.
- ``outputs``: the check that a report file (xUnit, timeline) can be written.
- ``outcome``: a test's own outcome from its phase reports (the sub-results,
  the xUnit report and the journal judge alike).
- ``keys``: plugin names and stash keys that capabilities share (they find
  each other through these, never by importing one another), and the boot
  counts.
- ``hookspecs``: pexen's internal hooks where the core and the capabilities
  meet (the entry point implements them): the compat layer's relations, a
  resumed run, the watchdog's lost ends, an executable test's sub-results
  and reboot.

Imports: the engine (``pytest_pexen.sched``) and the top-level modules
(``internals``, ``hookspecs``); never the xdist driver nor a capability
package (tests/test_layout.py checks it).

PYTEST_DONT_REWRITE
"""
