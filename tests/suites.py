"""Pieces of suites that several test modules run in their own pytester
sessions."""

# a conftest's collector that gives the three tests of each ``.case`` file
# one node id (pyyaml's suite collects such tests); the conftest defines
# the tests' class, ``Case`` (a ``pytest.Item``), before it
ONE_NODE_ID = """
class Cases(pytest.File):
    def collect(self):
        for _ in range(3):
            yield Case.from_parent(self, name="same")

def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".case":
        return Cases.from_parent(parent, path=file_path)
"""
