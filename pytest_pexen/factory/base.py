"""The factory protocol: turn some input into task callables.

"Factory time" builds tasks, "execution time" (the scheduler) runs them. A
factory is configured by its constructor and called, as often as needed,
with its input; it yields callables whose metadata carries a callpath (the
names from the root of the tree down to the task), so a result can be
placed in the tree it came from.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..sched import meta


def get_callpath(obj: object) -> list[str]:
    """The callpath a factory gave ``obj`` (empty if none)."""
    return list(meta.retrieve_meta(obj).callpath)


class BaseFactory:
    """Base of all factories; subclasses implement ``__call__``."""

    def __init__(self) -> None:
        self.callpath: list[str] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Iterator[Callable[..., Any]]:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def callpath_transfer(self, to: BaseFactory) -> None:
        """Let a sub-factory continue from this factory's callpath."""
        to.callpath = list(self.callpath)

    def callpath_push(self, name: str) -> None:
        """Descend one level (tasks yielded now are grouped under ``name``)."""
        self.callpath.append(name)

    def callpath_pop(self) -> str:
        """Go back up one level."""
        return self.callpath.pop()

    def callpath_burn(
        self, obj: Callable[..., Any], name: str = "", path: list[str] | None = None
    ) -> None:
        """Write the callpath (``path`` or the current one, plus ``name``)
        into the metadata of ``obj``."""
        full = list(self.callpath if path is None else path)
        if name:
            full.append(name)
        meta.assign_meta(obj).callpath = full
