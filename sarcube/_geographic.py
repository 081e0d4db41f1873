"""Geographic cubes: ``(…, latitude, longitude)`` and ``(…, lat, lon)`` spatial dims.

sarcube's operations work on the ``y``/``x`` dims of a projected cube. A cube
loaded in a geographic CRS (``sarcube.load(items, crs="EPSG:4326")``, as
odc-stac names it) has ``latitude``/``longitude`` dims instead; other tools
write ``lat``/``lon``. :func:`accepts_geographic` wraps a public function so
that such inputs are renamed to ``y``/``x`` on the way in (a rename: no data
is copied) and every xarray result is renamed back on the way out, with any
``dims=`` argument translated too. The geographic coordinates ride along
under the new names, so the result keeps its coordinates and its CRS.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

import xarray as xr

__all__ = ["GEOGRAPHIC_DIMS", "accepts_geographic", "spatial_aliases"]

#: Pairs of (north, east) dimension names understood as ``("y", "x")``.
GEOGRAPHIC_DIMS = (("latitude", "longitude"), ("lat", "lon"))

F = TypeVar("F", bound=Callable[..., Any])


def spatial_aliases(obj: object) -> dict[Hashable, Hashable]:
    """``{"latitude": "y", "longitude": "x"}`` (or lat/lon) when *obj* uses them, else ``{}``."""
    if not isinstance(obj, xr.DataArray | xr.Dataset):
        return {}
    dims = set(obj.dims)
    if "y" in dims or "x" in dims:
        return {}
    for north, east in GEOGRAPHIC_DIMS:
        if north in dims and east in dims:
            return {north: "y", east: "x"}
    return {}


def _rename(obj: Any, mapping: Mapping[Hashable, Hashable]) -> Any:
    if isinstance(obj, xr.DataArray | xr.Dataset):
        present = {k: v for k, v in mapping.items() if k in obj.dims or k in obj.coords}
        return obj.rename(present) if present else obj
    if isinstance(obj, tuple):
        return tuple(_rename(item, mapping) for item in obj)
    if isinstance(obj, list):
        return [_rename(item, mapping) for item in obj]
    if isinstance(obj, dict):
        return {key: _rename(value, mapping) for key, value in obj.items()}
    return obj


def _rename_dims_argument(dims: Any, mapping: Mapping[Hashable, Hashable]) -> Any:
    if isinstance(dims, str):
        return mapping.get(dims, dims)
    if isinstance(dims, Sequence):
        return type(dims)(mapping.get(d, d) for d in dims)  # type: ignore[call-arg]
    return dims


def accepts_geographic(func: F) -> F:
    """Let *func* take geographic cubes (see the module docstring)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mapping: dict[Hashable, Hashable] = {}
        for value in (*args, *kwargs.values()):
            candidates = value.values() if isinstance(value, Mapping) else (value,)
            for candidate in candidates:
                mapping = mapping or spatial_aliases(candidate)
        if not mapping:
            return func(*args, **kwargs)
        args = tuple(_rename(a, mapping) for a in args)
        kwargs = {k: _rename(v, mapping) for k, v in kwargs.items()}
        if "dims" in kwargs:
            kwargs["dims"] = _rename_dims_argument(kwargs["dims"], mapping)
        result = func(*args, **kwargs)
        return _rename(result, {v: k for k, v in mapping.items()})

    return wrapper  # type: ignore[return-value]
