"""Executable tests: ``--pexen-exec`` (ini ``pexen_exec = true``).

Modules:

- ``items``: executable files in the tree collected as tests, their
  ``# pexen:`` headers read by ``pytest_pexen.factory``, run in a process
  group of their own.

Imports: the engine and the core only; the sub-results and a reboot asked
for by ``pexen-reboot`` go through the core's hooks
(``pytest_pexen_sub_results``, ``pytest_pexen_reboot``, graph/hookspecs.py).

PYTEST_DONT_REWRITE
"""
