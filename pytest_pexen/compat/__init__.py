"""Suites written for pytest-dependency and pytest-order, run by pexen.

Modules:

- ``plugin``: which of the two plugins a run uses, and their relations
  derived for the graph.
- ``dependency``: pytest-dependency's markers as order-only relations, its
  results across xdist workers.
- ``order``: pytest-order's order, kept across xdist workers.
- ``xdist``: both under ``--dist pexen``.
- ``relations``: what the markers ask of a run (``Relations``, the
  order-only tag prefixes), shared by the modules above.

Imports point one way: ``plugin`` -> ``dependency``/``order`` ->
``relations``; none of them imports ``plugin`` back. Outside the package,
the core and the journal reach them through the hooks
``pytest_pexen_relations`` and ``pytest_pexen_resumed`` (graph/hookspecs.py).

PYTEST_DONT_REWRITE
"""
