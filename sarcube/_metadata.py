"""Carrying coordinates, attributes and ``spatial_ref`` through operations."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import xarray as xr

from .conventions import POLARISATIONS, long_name

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)


def map_arrays(obj: XObj, func: Callable[[Hashable, xr.DataArray], xr.DataArray]) -> XObj:
    """Apply ``func(name, array)`` to a DataArray, or to every data variable of a Dataset.

    Dataset attrs and coordinates (``spatial_ref`` included) are kept; ``func``
    is responsible for the attrs of each variable.
    """
    if isinstance(obj, xr.Dataset):
        out = obj.copy(data=None)
        for name in obj.data_vars:
            out[name] = func(name, obj[name])
        return out
    return func(obj.name, obj)


def with_units(da: xr.DataArray, name: Hashable, units: str, source: xr.DataArray) -> xr.DataArray:
    """Copy *source*'s attrs onto *da* with ``units``/``long_name`` set for *units*.

    Polarisation variables get the canonical long name; other variables keep
    their own ``long_name``.
    """
    attrs = dict(source.attrs)
    attrs["units"] = units
    if isinstance(name, str) and name.lower() in POLARISATIONS:
        attrs["long_name"] = long_name(name.lower(), units)
    da.attrs = attrs
    da.encoding = {}
    return da


def name_or(da: xr.DataArray, default: str) -> Hashable:
    """The array's name, or *default* when it has none (``None`` or ``""``)."""
    name = da.name
    return default if name is None or name == "" else name
