"""The grid of a cube: its extent of valid data, and its pixel size in metres.

:func:`crop_to_valid` trims the rows and columns at the border where no pixel
holds data (a scene's swath edge, a reprojection's empty corners) before
analyses that would spend time on them or whose histograms they would skew.
:func:`pixel_size_m` gives the ground size of a pixel, also for geographic
grids (degrees), where it changes with latitude.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from ._checks import check_real, check_spatial, check_xarray, data_arrays
from ._geographic import accepts_geographic, spatial_aliases
from .conventions import SPATIAL_DIMS
from .errors import DimensionError, ParameterError

__all__ = ["crop_to_valid", "pixel_size_m"]

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)

#: WGS 84 ellipsoid (NIMA TR8350.2): semi-major axis (m) and first eccentricity squared
_A = 6_378_137.0
_E2 = 6.694_379_990_14e-3


@accepts_geographic
def crop_to_valid(obj: XObj) -> XObj:
    """*obj* without the border rows and columns where no pixel holds data.

    **Computes** the extent (two small reductions); the cropped cube stays lazy.

    A pixel holds data where any variable (and, with leading dims such as
    ``time``, any date) is not NaN; the result is the smallest ``(y, x)`` box
    around all of them, with coordinates and CRS kept (the transform follows
    the coordinates).

    Raises
    ------
    ParameterError
        If no pixel holds data.

    Examples
    --------
    >>> da = xr.DataArray(np.full((4, 5), np.nan), dims=("y", "x"))
    >>> da[1:3, 2] = 1.0
    >>> crop_to_valid(da).shape
    (2, 1)
    """
    func = "crop_to_valid"
    check_xarray(obj, func)
    check_spatial(obj, func)
    check_real(obj, func)
    valid_y: xr.DataArray | None = None
    valid_x: xr.DataArray | None = None
    for _, da in data_arrays(obj):
        lead = [d for d in da.dims if d not in SPATIAL_DIMS]
        present = da.notnull().any(lead) if lead else da.notnull()
        along_y, along_x = present.any("x"), present.any("y")
        valid_y = along_y if valid_y is None else valid_y | along_y
        valid_x = along_x if valid_x is None else valid_x | along_x
    assert valid_y is not None
    assert valid_x is not None
    rows, cols = (np.flatnonzero(np.asarray(v.compute().values)) for v in (valid_y, valid_x))
    if rows.size == 0:
        raise ParameterError(
            f"{func}: no pixel holds data (all NaN); check the load (bbox, dates, bands)"
        )
    return obj.isel(y=slice(rows[0], rows[-1] + 1), x=slice(cols[0], cols[-1] + 1))


def _step(coord: xr.DataArray, dim: str, func: str) -> float:
    values = np.asarray(coord.values, dtype=np.float64)
    if values.size < 2:
        raise DimensionError(f"{func}: {dim!r} has fewer than two coordinates; no pixel size")
    steps = np.diff(values)
    if not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise ParameterError(f"{func}: {dim!r} is not evenly spaced; pass a regular grid")
    return float(abs(steps[0]))


def pixel_size_m(obj: xr.DataArray | xr.Dataset) -> xr.Dataset:
    """The ground size of the grid's pixels in metres, per row.

    A projected grid (its CRS in metres) has one size everywhere; a
    geographic grid (degrees, dims ``latitude``/``longitude`` or ``y``/``x``)
    has pixels whose east–west size shrinks with the cosine of the latitude:
    on the WGS 84 ellipsoid, ``dx = Δλ · N(φ) cos φ`` and ``dy = Δφ · M(φ)``
    with the prime-vertical and meridional radii of curvature ``N`` and ``M``
    (e.g. Snyder 1987, *Map Projections — A Working Manual*, USGS PP 1395).

    Returns
    -------
    xarray.Dataset
        ``dx``, ``dy`` and ``area`` (m²), on the grid's ``y`` (or
        ``latitude``) dim, one value per row.

    Examples
    --------
    >>> grid = xr.DataArray(np.zeros((2, 3)), dims=("latitude", "longitude"),
    ...                     coords={"latitude": [0.0, 60.0], "longitude": [0.0, 0.001, 0.002]})
    >>> size = pixel_size_m(grid)
    >>> size["dx"].round(1).values.tolist()
    [111.3, 55.8]
    """
    func = "pixel_size_m"
    check_xarray(obj, func)
    aliases = spatial_aliases(obj)
    geographic = bool(aliases)
    names = {v: k for k, v in aliases.items()}
    ydim, xdim = (str(names["y"]), str(names["x"])) if geographic else SPATIAL_DIMS
    for dim in (ydim, xdim):
        if dim not in obj.dims or dim not in obj.coords:
            raise DimensionError(
                f"{func}: needs {ydim!r} and {xdim!r} dims with coordinates, got dims "
                f"{tuple(obj.dims)}"
            )
    crs = obj.rio.crs if hasattr(obj, "rio") else None
    if not geographic and crs is not None and crs.is_geographic:
        geographic = True
    dy_native = _step(obj[ydim], ydim, func)
    dx_native = _step(obj[xdim], xdim, func)
    rows = obj[ydim]
    if geographic:
        phi = np.radians(np.asarray(rows.values, dtype=np.float64))
        if np.any(np.abs(phi) > math.pi / 2 + 1e-9):
            raise ParameterError(f"{func}: latitudes beyond ±90°; is the grid really geographic?")
        s2 = np.sin(phi) ** 2
        n = _A / np.sqrt(1 - _E2 * s2)
        m = _A * (1 - _E2) / (1 - _E2 * s2) ** 1.5
        dx = np.radians(dx_native) * n * np.cos(phi)
        dy = np.radians(dy_native) * m
    else:
        if crs is not None:
            from pyproj import CRS

            axes = CRS.from_user_input(crs).axis_info
            unit = axes[0].unit_name if axes else "metre"
            if unit not in ("metre", "meter", "m"):
                raise ParameterError(
                    f"{func}: the CRS is in {unit!r}, not metres; reproject the grid first"
                )
        dx = np.full(rows.size, dx_native)
        dy = np.full(rows.size, dy_native)
    coords = {ydim: rows.values}
    out = xr.Dataset(
        {
            "dx": (ydim, dx, {"units": "m", "long_name": "pixel width (east-west)"}),
            "dy": (ydim, dy, {"units": "m", "long_name": "pixel height (north-south)"}),
            "area": (ydim, dx * dy, {"units": "m2", "long_name": "pixel area"}),
        },
        coords=coords,
    )
    return out
