"""ModTreeFactory: a package, its modules and sub-packages, recursively.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from types import ModuleType
from typing import Any

from .base import BaseFactory
from .module import ModuleFactory


class ModTreeFactory(BaseFactory):
    """Walk a package tree and run ModuleFactory on each module.

    Modules are imported (so import-time code may shape what they offer);
    ``match`` is an fnmatch pattern on module names: only matching modules
    are searched for tasks, while every sub-package is still walked. The
    callpath follows the package tree from the root package's name.
    """

    def __init__(self, match: str | None = None) -> None:
        super().__init__()
        self.match = match

    def _module_tasks(self, module: ModuleType) -> Iterator[Callable[..., Any]]:
        short = module.__name__.rpartition(".")[2]
        if self.match and not fnmatchcase(short, self.match):
            return
        sub = ModuleFactory()
        self.callpath_transfer(sub)
        yield from sub(module)

    def _walk(self, package: ModuleType) -> Iterator[Callable[..., Any]]:
        yield from self._module_tasks(package)
        for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            self.callpath_push(info.name)
            try:
                if info.ispkg:
                    yield from self._walk(module)
                else:
                    yield from self._module_tasks(module)
            finally:
                self.callpath_pop()

    def __call__(self, package: ModuleType) -> Iterator[Callable[..., Any]]:
        if not isinstance(package, ModuleType):
            raise TypeError(f"ModTreeFactory expects a package, got {package!r}")
        saved = self.callpath
        self.callpath = saved or package.__name__.split(".")
        try:
            yield from self._walk(package)
        finally:
            self.callpath = saved
