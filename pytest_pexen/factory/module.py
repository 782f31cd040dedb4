"""ModuleFactory: the tasks defined in one imported module.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from types import ModuleType
from typing import Any

from ..sched import meta
from .base import BaseFactory


class ModuleFactory(BaseFactory):
    """Yield the callables of a module that carry pexen metadata (or whose
    name matches the fnmatch pattern ``match``).

    Only objects defined in the module itself count, so a task imported
    from elsewhere is not yielded twice. The callpath is the module's dotted
    name split into parts (or the parent factory's callpath), plus the
    callable's name.
    """

    def __init__(self, match: str | None = None) -> None:
        super().__init__()
        self.match = match

    def is_task(self, name: str, obj: object) -> bool:
        if not callable(obj) or inspect.isclass(obj) or inspect.ismodule(obj):
            return False
        return meta.has_meta(obj) or bool(self.match and fnmatchcase(name, self.match))

    def __call__(self, module: ModuleType) -> Iterator[Callable[..., Any]]:
        if not isinstance(module, ModuleType):
            raise TypeError(f"ModuleFactory expects a module, got {module!r}")
        path = self.callpath or module.__name__.split(".")
        for name, obj in vars(module).items():
            if not self.is_task(name, obj):
                continue
            if getattr(obj, "__module__", module.__name__) != module.__name__:
                continue
            self.callpath_burn(obj, name, path=path)
            yield obj
