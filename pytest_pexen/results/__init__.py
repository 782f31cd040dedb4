"""Several results per test, and the xUnit report.

Modules:

- ``recorder``: ``pexen_results``, pytest's ``subtests``, the final outcome
  of a test from its own phases and its sub-results.
- ``junit``: ``--pexen-junitxml``: the multi-result xUnit report.
- ``suite_properties``: ``record_testsuite_property``, kept for that report
  (it uses ``recorder``; the entry point registers it).

Imports: ``junit`` and ``suite_properties`` -> ``recorder``, never back;
whether tests run in this process (``runs_tests``), a test's own outcome
from its phase reports (``graph.outcome``, which the journal reads alike)
and the boot counts (``graph.keys``) are the core's. Executable tests
record sub-results through the core's hook ``pytest_pexen_sub_results``.

PYTEST_DONT_REWRITE
"""
