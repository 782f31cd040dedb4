"""Time limits: ``pexen.timeout(s)``, ``--pexen-timeout``, ``--pexen-session-timeout``.

Modules:

- ``timer``: one timer thread per process for every time limit, and the
  thread stacks shown when a test is interrupted.
- ``settings``: the run's limits, read in every process.
- ``plugin``: the entry point's side; it imports ``limits`` (and with it
  ``timer``) only for a run that has a limit.
- ``limits``: the limits applied to tests: interrupt, grace, stopping the
  process (and the test's children) when an interrupt does not take.

Imports: the core only; the journal finds the tests that faulthandler
stopped through the hook ``pytest_pexen_lost_ends`` (graph/hookspecs.py).

PYTEST_DONT_REWRITE
"""
