"""Modules imported on first use, so that ``import sarcube`` stays cheap.

``import sarcube`` does not load xarray, dask or numba: the command line
(``sarcube --help``) answers without them. Public names are looked up in
:data:`sarcube.__init__`'s table when first used; the ``.sar`` accessor is
registered on xarray as soon as xarray is loaded, whichever of the two a
program imports first (see :func:`register_accessor_with_xarray`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = ["LazyModule", "register_accessor_with_xarray"]


class LazyModule:
    """A stand-in for a sarcube module that imports it when an attribute is first read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


def _register(_module: ModuleType | None = None) -> None:
    importlib.import_module("sarcube.accessor")  # its import registers .sar


class _AfterXarray(importlib.abc.MetaPathFinder):
    """Finds xarray as the other finders do, and registers ``.sar`` once it has loaded."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "xarray":
            return None
        index = sys.meta_path.index(self)
        del sys.meta_path[index]  # let the real finders find it
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(index, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _register(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def register_accessor_with_xarray() -> None:
    """Register ``.sar`` now if xarray is loaded, else right after xarray is imported."""
    if "xarray" in sys.modules:
        _register()
    elif not any(isinstance(f, _AfterXarray) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterXarray())
