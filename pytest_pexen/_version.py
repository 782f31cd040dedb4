"""The version of pytest-pexen: ``pytest_pexen.__version__``.

Its own module at the bottom of the package, so that what states the
version (the journal's header, the xUnit report's properties, the
package's metadata through setup.cfg) reads it without importing the
public API above every capability.

PYTEST_DONT_REWRITE
"""

__version__ = "0.1.0"
