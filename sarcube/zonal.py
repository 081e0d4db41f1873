"""Zonal statistics of class maps over polygons: pixels, areas and fractions per class.

Each dask chunk of the map counts, for every polygon whose bounding box meets
the chunk, the pixels of each class inside the polygon: the polygon is
rasterised alone (rasterio) on the part of the chunk under its bounding box,
using the chunk's own window of the map's transform. Overlapping polygons are
therefore each counted in full. Counts (and, on a geographic grid, areas in
integer units of 1 cm²) are integers summed over chunks, so the result does not
depend on the chunking; all chunks are computed in one pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dask.array as dsa
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from dask.base import compute
from dask.delayed import delayed

from ._checks import check_dataarray, check_optional_int, check_spatial
from ._geographic import accepts_geographic
from ._reduce import sum_of_keyed_parts
from .conventions import NODATA, SPATIAL_DIMS
from .errors import DimensionError, DTypeError, ParameterError

if TYPE_CHECKING:
    import geopandas as gpd
    import pyproj

__all__ = ["zonal_stats"]

#: Areas on the ellipsoid are summed as integers of this unit (1 cm², in m²): exact sums
#: for any chunking, with room in int64 for the whole Earth (5.1e18 cm² < 9.2e18).
_AREA_UNIT_M2 = 1e-4

_POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class _Grid:
    """Where the map's pixels are and how large they are."""

    transform: Affine
    height: int
    width: int
    #: constant pixel area of a projected grid, m²
    pixel_area_m2: float | None
    #: per-row pixel area of a geographic grid, in units of ``_AREA_UNIT_M2``
    row_area: np.ndarray | None


def _grid_transform(arr: xr.DataArray, func: str) -> Affine:
    """The map's affine transform, from its x/y coordinates or its ``spatial_ref``."""
    if "x" in arr.coords and "y" in arr.coords and arr.sizes["x"] > 1 and arr.sizes["y"] > 1:
        transform: Affine = arr.rio.transform(recalc=True)
        return transform
    if "spatial_ref" in arr.coords and "GeoTransform" in arr.coords["spatial_ref"].attrs:
        stored: Affine = arr.rio.transform()
        return stored
    raise ParameterError(
        f"{func}: cannot tell where the map's pixels are: it has no x/y coordinates (with 2 or "
        "more values each) and no GeoTransform; add them, e.g. "
        "class_map.rio.write_transform(transform)"
    )


def _zone_area_factor(lat_deg: np.ndarray, ellipsoid: Any) -> np.ndarray:
    """Area from the equator to each latitude per radian of longitude, in m².

    This is ``a² q / 2`` with ``q`` of Snyder (1987), *Map Projections: A
    Working Manual*, USGS PP 1395, eq. 3-12 (``q = 2 sin φ`` on a sphere).
    """
    a = float(ellipsoid.semi_major_metre)
    b = float(ellipsoid.semi_minor_metre)
    sin = np.sin(np.radians(np.clip(lat_deg, -90.0, 90.0)))
    e2 = max(1.0 - (b / a) ** 2, 0.0)
    if e2 < 1e-12:
        return np.asarray(a * a * sin)
    e = math.sqrt(e2)
    q = (1.0 - e2) * (
        sin / (1.0 - e2 * sin**2) - np.log((1.0 - e * sin) / (1.0 + e * sin)) / (2.0 * e)
    )
    return np.asarray(a * a * q / 2.0)


def _plan_grid(arr: xr.DataArray, crs: pyproj.CRS, func: str) -> _Grid:
    transform = _grid_transform(arr, func)
    height, width = arr.sizes["y"], arr.sizes["x"]
    if not crs.is_geographic:
        unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        area = abs(transform.a * transform.e - transform.b * transform.d) * unit**2
        return _Grid(transform, height, width, area, None)
    if transform.b != 0 or transform.d != 0:
        raise ParameterError(
            f"{func}: the map is on a rotated geographic grid; reproject it to an equal-area "
            "or UTM CRS first, e.g. class_map.rio.reproject(class_map.rio.estimate_utm_crs())"
        )
    edges = transform.f + transform.e * np.arange(height + 1, dtype=np.float64)
    zone = _zone_area_factor(edges, crs.ellipsoid)
    row_area_m2 = np.abs(np.diff(zone)) * math.radians(abs(transform.a))
    if row_area_m2.sum() * width / _AREA_UNIT_M2 >= 2.0**62:
        raise ParameterError(
            f"{func}: the map covers more than the Earth's surface ({width} columns of "
            f"{abs(transform.a)}°); check its transform"
        )
    row_area = np.rint(row_area_m2 / _AREA_UNIT_M2).astype(np.int64)
    return _Grid(transform, height, width, None, row_area)


def _check_class_map(given: object, func: str) -> xr.DataArray:
    class_map = check_dataarray(given, func, "one class map", "cube['flood']")
    check_spatial(class_map, func)
    extra = [d for d in class_map.dims if d not in SPATIAL_DIMS]
    if extra:
        raise DimensionError(
            f"{func}: the class map has dims {class_map.dims}; pass one (y, x) map, e.g. "
            f"class_map.isel({extra[0]}=0)"
        )
    if class_map.dtype != bool and not np.issubdtype(class_map.dtype, np.integer):
        raise DTypeError(
            f"{func}: the class map has dtype {class_map.dtype}; pass integer classes, e.g. "
            "class_map.fillna(255).astype('uint8')"
        )
    if class_map.size == 0:
        raise DimensionError(f"{func}: the class map is empty (shape {class_map.shape})")
    return class_map.transpose(*SPATIAL_DIMS)


def _class_names(
    classes: Sequence[int] | Mapping[str, int], nodata: int | None, func: str
) -> dict[str, int]:
    if isinstance(classes, Mapping):
        names = {str(k): v for k, v in classes.items()}
    elif isinstance(classes, str | bytes) or not isinstance(classes, Sequence):
        raise ParameterError(
            f"{func}: classes must be a sequence of class values or a mapping name -> value, "
            f"got {classes!r}; e.g. classes=(1,) or classes={{'flood': 1}}"
        )
    else:
        names = {f"class{v}": v for v in classes}
    values = list(names.values())
    if not values:
        raise ParameterError(f"{func}: classes is empty; pass e.g. classes=(1,) for flood")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise ParameterError(f"{func}: class values must be integers, got {v!r}")
    if len(set(values)) != len(values) or len(names) != len(classes):
        raise ParameterError(f"{func}: class values must be unique, got {values}")
    if nodata is not None and nodata in values:
        raise ParameterError(
            f"{func}: class {nodata} is also the nodata value; pass nodata=None or another value"
        )
    return {k: int(v) for k, v in names.items()}


def _check_polygons(polygons: Any, id_column: str | None, func: str) -> gpd.GeoDataFrame:
    from ._extras import require

    gpd = require("geopandas", func)

    if not isinstance(polygons, gpd.GeoDataFrame):
        raise DTypeError(
            f"{func}: polygons must be a GeoDataFrame, got {type(polygons).__name__}; "
            "wrap geometries with gpd.GeoDataFrame(geometry=geoms, crs=...)"
        )
    if polygons.crs is None:
        raise ParameterError(
            f"{func}: the polygons have no CRS; set it, e.g. polygons.set_crs('EPSG:4326')"
        )
    geoms = polygons.geometry
    present = geoms.notna() & ~geoms.is_empty
    kinds = set(geoms[present].geom_type) - set(_POLYGONAL)
    if kinds:
        raise ParameterError(
            f"{func}: zones must be polygons, found {sorted(kinds)}; buffer points or lines "
            "into areas first, e.g. polygons.buffer(50)"
        )
    if id_column is not None:
        if id_column not in polygons.columns:
            raise ParameterError(
                f"{func}: id_column {id_column!r} is not a column; available: "
                f"{', '.join(map(str, polygons.columns))}"
            )
        ids = polygons[id_column]
        if ids.isna().any() or not ids.is_unique:
            raise ParameterError(
                f"{func}: id_column {id_column!r} must hold unique, non-missing ids"
            )
    return polygons


def _pixel_windows(bounds: np.ndarray, grid: _Grid) -> np.ndarray:
    """``(row0, row1, col0, col1)`` of each polygon's bounding box on the grid, with a margin.

    A polygon without geometry gets an empty window. The margin of one pixel
    covers ``all_touched`` and rounding: the window only bounds where
    rasterisation looks, it does not decide which pixels count.
    """
    inv = ~grid.transform
    minx, miny, maxx, maxy = bounds.T
    xs = np.stack([minx, minx, maxx, maxx])
    ys = np.stack([miny, maxy, miny, maxy])
    cols = inv.a * xs + inv.b * ys + inv.c
    rows = inv.d * xs + inv.e * ys + inv.f
    windows = np.zeros((bounds.shape[0], 4), dtype=np.int64)
    ok = np.isfinite(bounds).all(axis=1)
    windows[ok, 0] = np.clip(np.floor(rows.min(axis=0)[ok]) - 1, 0, grid.height)
    windows[ok, 1] = np.clip(np.ceil(rows.max(axis=0)[ok]) + 1, 0, grid.height)
    windows[ok, 2] = np.clip(np.floor(cols.min(axis=0)[ok]) - 1, 0, grid.width)
    windows[ok, 3] = np.clip(np.ceil(cols.max(axis=0)[ok]) + 1, 0, grid.width)
    return windows


def _block_counts(
    block: np.ndarray,
    row0: int,
    col0: int,
    windows: np.ndarray,
    geoms: list[Any],
    transform: Affine,
    class_values: np.ndarray,
    nodata: int | None,
    row_area: np.ndarray | None,
    all_touched: bool,
) -> np.ndarray:
    """Integer counts of one chunk, one row per polygon (windows relative to the chunk).

    Columns: pixels, valid pixels, pixels per class and, on a geographic grid,
    the valid area and the area per class in units of ``_AREA_UNIT_M2``.
    """
    from rasterio.features import rasterize

    k = class_values.size
    counts = np.zeros((len(geoms), 2 + k + (1 + k if row_area is not None else 0)), np.int64)
    for n, (geom, (r0, r1, c0, c1)) in enumerate(zip(geoms, windows.tolist(), strict=True)):
        inside = rasterize(
            [(geom, 1)],
            out_shape=(r1 - r0, c1 - c0),
            transform=transform @ Affine.translation(col0 + c0, row0 + r0),
            fill=0,
            dtype="uint8",
            all_touched=all_touched,
        ).view(bool)
        values = np.asarray(block[r0:r1, c0:c1][inside], dtype=np.int64)
        valid = values != nodata if nodata is not None else np.ones(values.shape, dtype=bool)
        hits = values[:, None] == class_values[None, :]
        counts[n, 0] = values.size
        counts[n, 1] = np.count_nonzero(valid)
        counts[n, 2 : 2 + k] = np.count_nonzero(hits, axis=0)
        if row_area is not None:
            weights = row_area[row0 + r0 + np.nonzero(inside)[0]]
            counts[n, 2 + k] = weights[valid].sum()
            counts[n, 3 + k :] = (hits * weights[:, None]).sum(axis=0)
    return counts


def _count_tasks(
    data: Any,
    windows: np.ndarray,
    geoms: list[Any],
    grid: _Grid,
    class_values: np.ndarray,
    nodata: int | None,
    all_touched: bool,
) -> list[Any]:
    """The counts of each chunk that some polygon's window meets, keyed by polygon.

    Delayed on dask input, computed at once on numpy input.
    """
    lazy = isinstance(data, dsa.Array)
    row_chunks, col_chunks = data.chunks if lazy else ((grid.height,), (grid.width,))
    row_edges = np.cumsum((0, *row_chunks))
    col_edges = np.cumsum((0, *col_chunks))
    blocks = data.to_delayed() if lazy else None
    tasks: list[Any] = []
    for i in range(len(row_chunks)):
        top, bottom = int(row_edges[i]), int(row_edges[i + 1])
        in_rows = np.flatnonzero((windows[:, 0] < bottom) & (windows[:, 1] > top))
        for j in range(len(col_chunks)):
            left, right = int(col_edges[j]), int(col_edges[j + 1])
            sub = windows[in_rows]
            ids = in_rows[(sub[:, 2] < right) & (sub[:, 3] > left)]
            if not ids.size:
                continue
            local = windows[ids] - np.array([top, top, left, left])
            local[:, [0, 2]] = np.maximum(local[:, [0, 2]], 0)
            local[:, 1] = np.minimum(local[:, 1], bottom - top)
            local[:, 3] = np.minimum(local[:, 3], right - left)
            args = (
                top,
                left,
                local,
                [geoms[p] for p in ids],
                grid.transform,
                class_values,
                nodata,
                grid.row_area,
                all_touched,
            )
            if blocks is not None:
                tasks.append(delayed(_keyed_counts)(ids, blocks[i, j], *args))
            else:
                tasks.append(_keyed_counts(ids, np.asarray(data), *args))
    return tasks


def _keyed_counts(ids: np.ndarray, block: np.ndarray, *args: Any) -> dict[int, np.ndarray]:
    """:func:`_block_counts` keyed by polygon position, for :func:`sum_of_keyed_parts`."""
    counts = _block_counts(block, *args)
    return {int(p): row for p, row in zip(ids.tolist(), counts, strict=True)}


@accepts_geographic
def zonal_stats(
    class_map: xr.DataArray,
    polygons: gpd.GeoDataFrame,
    *,
    classes: Sequence[int] | Mapping[str, int] = (1,),
    nodata: int | None = NODATA,
    id_column: str | None = None,
    all_touched: bool = False,
    path: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> gpd.GeoDataFrame:
    """Pixel counts, areas and fractions of classes inside each polygon (**computes**).

    A pixel belongs to a polygon when its centre is inside it (rasterio's
    rule; ``all_touched=True``: when the polygon touches it at all). Polygons
    may overlap: each is counted on its own, so a pixel under two polygons
    counts for both. The map is read in one pass over its chunks and the counts
    are exact integers, identical for every chunking.

    Parameters
    ----------
    class_map
        Integer (or boolean) map on ``(y, x)`` with a CRS (``class_map.rio.crs``)
        and x/y coordinates or a GeoTransform, numpy- or dask-backed; e.g.
        :func:`sarcube.flood_map` (1 = flood, 0 = dry, 255 = nodata).
    polygons
        Zones, in any CRS: they are reprojected to the map's CRS. Rows without
        geometry (or with an empty one) get zero pixels.
    classes
        Class values to report, e.g. ``(1,)`` (columns ``class1_*``) or a
        mapping ``{"flood": 1, "water": 2}`` (columns ``flood_*``, ``water_*``).
    nodata
        Map value of pixels without data: counted in ``n_pixels`` but not in
        ``n_valid``, nor in any class. ``None``: every pixel is valid.
    id_column
        Column of unique polygon ids: checked before computing and written
        first in CSV output (which then leaves out the frame's index).
    all_touched
        Count every pixel the polygon touches, not only those whose centre it
        contains.
    path
        Optional output file, written to a temporary name and renamed:
        ``.csv`` (the table without geometry), ``.parquet`` (GeoParquet) or
        ``.geojson``. Checked before anything is computed.
    overwrite
        Replace an existing *path*.

    Returns
    -------
    geopandas.GeoDataFrame
        The polygons (same rows, index, columns and CRS) with, appended:
        ``n_pixels`` and ``n_valid`` (pixels in the polygon, and those that are
        not nodata), ``valid_area_m2``, and per class ``<name>_pixels``,
        ``<name>_area_m2`` and ``<name>_fraction`` (of the valid pixels; NaN
        when the polygon has no valid pixel, e.g. outside the map).

    Notes
    -----
    Areas are in m². On a projected grid a pixel's area is that of the grid
    cell in the projection's plane (``|det(transform)|``, converted from the
    CRS's unit): reproject to an equal-area CRS where the projection's scale
    error matters. On a geographic grid (e.g. EPSG:4326) each row's cell area
    is computed on the CRS's ellipsoid, from the latitudes of its edges, and
    areas are summed in whole cm², so they too do not depend on the chunking.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> m = xr.DataArray(np.array([[1, 1, 0], [0, 255, 0]], np.uint8), dims=("y", "x"),
    ...                  coords={"y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]}).rio.write_crs(32633)
    >>> zones = gpd.GeoDataFrame({"name": ["west"]}, geometry=[box(0, 0, 20, 20)], crs=32633)
    >>> out = zonal_stats(m, zones)
    >>> out[["n_pixels", "n_valid", "class1_pixels", "class1_area_m2", "class1_fraction"]]
       n_pixels  n_valid  class1_pixels  class1_area_m2  class1_fraction
    0         4        3              2           200.0         0.666667
    """
    import pyproj

    func = "zonal_stats"
    arr = _check_class_map(class_map, func)
    nodata = check_optional_int(nodata, "nodata", func)
    names = _class_names(classes, nodata, func)
    if not isinstance(all_touched, bool):
        raise ParameterError(f"{func}: all_touched must be True or False, got {all_touched!r}")
    if arr.rio.crs is None:
        raise ParameterError(
            f"{func}: the class map has no CRS; set it, e.g. class_map.rio.write_crs('EPSG:32633')"
        )
    crs = pyproj.CRS.from_user_input(arr.rio.crs)
    grid = _plan_grid(arr, crs, func)
    frame = _check_polygons(polygons, id_column, func)
    columns = ["n_pixels", "n_valid", "valid_area_m2"]
    for name in names:
        columns += [f"{name}_pixels", f"{name}_area_m2", f"{name}_fraction"]
    clash = [c for c in columns if c in frame.columns]
    if clash:
        raise ParameterError(
            f"{func}: the polygons already have columns {clash}; drop or rename them first"
        )
    target = None
    if path is not None:
        from .io.table import check_table_target

        target = check_table_target(path, overwrite, func)

    geoms = frame.geometry
    if not crs.equals(pyproj.CRS.from_user_input(frame.crs)):
        geoms = geoms.to_crs(crs)
    windows = _pixel_windows(np.asarray(geoms.bounds, dtype=np.float64), grid)
    class_values = np.array(list(names.values()), dtype=np.int64)
    tasks = _count_tasks(arr.data, windows, list(geoms), grid, class_values, nodata, all_touched)
    k = class_values.size
    n_columns = 2 + k + (1 + k if grid.row_area is not None else 0)
    # one pass; the chunks' counts are summed per polygon in a tree
    (totals,) = compute(sum_of_keyed_parts(tasks, (len(frame), n_columns), np.int64))
    n_valid = totals[:, 1]
    if grid.pixel_area_m2 is not None:
        areas = totals[:, 1 : 2 + k] * grid.pixel_area_m2
    else:
        areas = totals[:, 2 + k :] * _AREA_UNIT_M2
    with np.errstate(invalid="ignore", divide="ignore"):
        fractions = totals[:, 2 : 2 + k] / np.where(n_valid > 0, n_valid, np.nan)[:, None]
    stats: dict[str, np.ndarray] = {
        "n_pixels": totals[:, 0],
        "n_valid": n_valid,
        "valid_area_m2": areas[:, 0].astype(np.float64),
    }
    for c, name in enumerate(names):
        stats[f"{name}_pixels"] = totals[:, 2 + c]
        stats[f"{name}_area_m2"] = areas[:, 1 + c].astype(np.float64)
        stats[f"{name}_fraction"] = fractions[:, c]
    out = frame.assign(**stats)
    if target is not None:
        from .io.table import write_table

        write_table(out, target, index_column=id_column)
    return out
