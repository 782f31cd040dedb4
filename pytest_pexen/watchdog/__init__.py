"""Time limits: ``pexen.timeout(s)``, ``--pexen-timeout``, ``--pexen-session-timeout``.

Modules:

- ``timer``: one timer thread per process for every time limit, and the
  thread stacks shown when a test is interrupted.
- ``limits``: the limits applied to tests: interrupt, grace, stopping the
  process (and the test's children) when an interrupt does not take.

PYTEST_DONT_REWRITE
"""
