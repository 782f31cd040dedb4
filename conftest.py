"""Root conftest of the project's own test suite.

It exists so that pytest's rootdir is the project root (tests import the
package from here in a source checkout) and to enable ``pytester``, which
most tests use to run real pytest sessions.
"""

pytest_plugins = ["pytester"]
