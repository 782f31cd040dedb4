"""Suites written for pytest-dependency and pytest-order, run by pexen.

Modules:

- ``plugin``: which of the two plugins a run uses, and their relations
  derived for the graph.
- ``dependency``: pytest-dependency's markers as order-only relations, its
  results across xdist workers.
- ``order``: pytest-order's order, kept across xdist workers.
- ``xdist``: both under ``--dist pexen``.

PYTEST_DONT_REWRITE
"""
