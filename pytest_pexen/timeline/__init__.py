"""The timeline page: ``--pexen-timeline=FILE.html``.

Modules:

- ``page``: a journal's records analysed into lanes, waits, the critical
  path and utilisation, and written as one self-contained page (the
  template ``timeline.html`` only draws).

Imports: the journal's reader API (a page is drawn from a journal).

PYTEST_DONT_REWRITE
"""
