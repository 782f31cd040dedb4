"""Executable tests: ``--pexen-exec`` (ini ``pexen_exec = true``).

Modules:

- ``items``: executable files in the tree collected as tests, their
  ``# pexen:`` headers read by ``pytest_pexen.factory``, run in a process
  group of their own.

PYTEST_DONT_REWRITE
"""
