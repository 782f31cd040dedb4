"""pytest-xdist integration: ``-n N`` runs the graph on xdist workers.

Modules:

- ``plugin``: the integration (``--dist pexen`` chosen by default when a
  suite has pexen metadata, the scheduler handed to xdist).
- ``scheduler``: the controller side: xdist's scheduler protocol driven by
  the planner.
- ``worker``: the worker side: a test loop that runs on command.
- ``hosts``: per-host resource locks and host tags for workers on several
  machines.

Imports: the core (``graph``) and the engine.

PYTEST_DONT_REWRITE
"""
