"""pytest-xdist integration: ``-n N`` runs the graph on xdist workers.

Modules:

- ``plugin``: the integration (``--dist pexen`` chosen by default when a
  suite has pexen metadata, the scheduler handed to xdist).
- ``scheduler``: the controller side: xdist's scheduler protocol driven by
  the planner.
- ``worker``: the worker side: a test loop that runs on command.
- ``hosts``: per-host resource locks and host tags for workers on several
  machines.
- ``protocol``: how capabilities plug into the scheduler and the worker
  (messages routed by kind, listeners, the Protocols they fill in).
- ``hookspecs``: pexen's internal hooks that hand them the scheduler and
  the worker (implemented by the entry point, ``pytest_pexen.plugin``).

Imports: the core (``graph``) and the engine; never a capability package
(the watchdog, the journal and the compat layer plug in, see ``protocol``).

PYTEST_DONT_REWRITE
"""
