"""Factories: build pexen tasks from modules, package trees and folders.

PYTEST_DONT_REWRITE
"""

from .base import BaseFactory, get_callpath
from .filesystem import FilesystemFactory
from .modtree import ModTreeFactory
from .module import ModuleFactory

__all__ = ["BaseFactory", "FilesystemFactory", "ModTreeFactory", "ModuleFactory", "get_callpath"]
