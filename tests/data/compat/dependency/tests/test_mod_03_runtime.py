# pexen's own: depends() from a module fixture on tests of another module
# (the whole module hangs on it) (collected after test_mod_01)
import pytest
from pytest_dependency import depends


@pytest.fixture(scope="module", autouse=True)
def needs_mod_01(request):
    depends(request, ["tests/test_mod_01.py::test_a", "tests/test_mod_01.py::test_c"],
            scope="session")


@pytest.mark.parametrize("n", range(3))
def test_runs(n):
    pass


def test_fails_after():
    assert False
