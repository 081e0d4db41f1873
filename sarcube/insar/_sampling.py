"""The displacement field over areas of interest and at gauge locations."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from dask.base import compute
from numpy.typing import ArrayLike

from ..conventions import SPATIAL_DIMS
from ..errors import DimensionError, DTypeError, ParameterError

if TYPE_CHECKING:
    import geopandas as gpd

from .._checks import check_int
from ._common import (
    _check_array,
)

__all__ = ["clip_to_areas", "sample_at_points"]

# --------------------------------------------------------------------------
# areas and points


def _grid(raster: xr.DataArray, func: str) -> tuple[float, float, float, float]:
    """(x0, dx, y0, dy): the outer edge and signed pixel size along x and y.

    From the pixel-centre coordinates of a regular grid, as rioxarray's
    ``rio.transform(recalc=True)`` derives them.
    """
    edges = []
    for dim in ("x", "y"):
        if dim not in raster.coords or raster[dim].ndim != 1 or raster.sizes[dim] < 2:
            raise DimensionError(
                f"{func}: the raster needs 1-D '{dim}' coordinates with at least 2 pixels; "
                "load it with rioxarray.open_rasterio or assign coords"
            )
        centres = np.asarray(raster[dim].values, dtype=float)
        step = (centres[-1] - centres[0]) / (centres.size - 1)
        edges += [float(centres[0] - step / 2), float(step)]
    return edges[0], edges[1], edges[2], edges[3]


def _raster_crs(raster: xr.DataArray, func: str) -> Any:
    crs = raster.rio.crs
    if crs is None:
        raise ParameterError(
            f"{func}: the raster has no CRS; set it with raster.rio.write_crs('EPSG:32633') "
            "(the CRS of your product)"
        )
    return crs


def _geopandas(func: str) -> Any:
    from .._extras import require

    gpd = require("geopandas", func)
    return gpd


def _is_geodataframe(obj: Any) -> bool:
    if not type(obj).__module__.startswith("geopandas"):
        return False
    return isinstance(obj, _geopandas("sample_at_points").GeoDataFrame)


def _to_raster_crs(frame: Any, raster: xr.DataArray, what: str, func: str) -> Any:
    if frame.crs is None:
        raise ParameterError(
            f"{func}: the {what} have no CRS; set it with gdf.set_crs('EPSG:4326') "
            "(the CRS their coordinates are in)"
        )
    return frame.to_crs(_raster_crs(raster, func))


def clip_to_areas(
    raster: xr.DataArray,
    polygons: gpd.GeoDataFrame,
    *,
    min_coverage: float = 0.65,
    id_column: str | None = None,
) -> tuple[dict[Hashable, xr.DataArray], pd.DataFrame]:
    """The raster over each polygon, and a coverage report (**computes** the coverage).

    Each polygon is reprojected to the raster's CRS and rasterised on the
    raster's grid (``rasterio.features.geometry_mask``: a pixel belongs to the
    polygon when its centre is inside). Its array is the raster cut to the
    polygon's bounding box with the pixels outside the polygon set to NaN.
    Its coverage is the fraction of its pixels that are valid (finite) in the
    raster, pixels beyond the raster's edge counting as missing; with leading
    dims a pixel is valid when it is finite in all of them. Only the
    valid-pixel counts are computed (one ``dask.compute``); the arrays stay
    lazy.

    Parameters
    ----------
    raster
        Data on ``(y, x)`` with a CRS (rioxarray), e.g. vertical displacement.
    polygons
        GeoDataFrame of Polygon/MultiPolygon geometries with a CRS (any).
    min_coverage
        Areas with coverage below this fraction (0–1) are reported but not
        returned.
    id_column
        Column holding the area ids; the GeoDataFrame's index by default. Ids
        must be unique.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``{id: clipped DataArray}`` for the areas kept, and a report with one
        row per polygon: ``id``, ``n_pixels`` (pixels of the polygon on the
        raster's grid, beyond its edge included), ``n_valid``, ``coverage``
        (NaN for a polygon smaller than a pixel) and ``kept``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> r = xr.DataArray(np.ones((4, 4)), dims=("y", "x"),
    ...                  coords={"y": [3.5, 2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5, 3.5]})
    >>> r = r.rio.write_crs("EPSG:32633")
    >>> areas = gpd.GeoDataFrame(geometry=[box(0, 0, 2, 2), box(3, 3, 5, 5)], crs="EPSG:32633")
    >>> clipped, report = clip_to_areas(r, areas)
    >>> report[["id", "n_pixels", "n_valid", "kept"]].values.tolist()
    [[0, 4, 4, True], [1, 4, 1, False]]
    """
    from rasterio.features import geometry_mask

    func = "clip_to_areas"
    da = _check_array(raster, "raster", func)
    gpd_mod = _geopandas(func)
    if not isinstance(polygons, gpd_mod.GeoDataFrame):
        raise DTypeError(
            f"{func}: polygons must be a GeoDataFrame, got {type(polygons).__name__}; "
            "read them with geopandas.read_file"
        )
    try:
        min_cov = float(min_coverage)
    except (TypeError, ValueError):
        min_cov = math.nan
    if not 0 <= min_cov <= 1:
        raise ParameterError(f"{func}: min_coverage must be in [0, 1], got {min_coverage!r}")
    if id_column is not None and id_column not in polygons.columns:
        raise ParameterError(
            f"{func}: no column {id_column!r} in the polygons; have {list(polygons.columns)}"
        )
    ids = list(polygons.index if id_column is None else polygons[id_column])
    if len(set(ids)) != len(ids):
        raise ParameterError(
            f"{func}: the area ids are not unique; pass id_column= a column of unique ids"
        )
    kinds = set(polygons.geometry.dropna().geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise ParameterError(
            f"{func}: the geometries must be polygons, found {sorted(kinds)}; use "
            "sample_at_points for points, or buffer lines first"
        )
    x0, dx, y0, dy = _grid(da, func)
    areas = _to_raster_crs(polygons, da, "polygons", func)
    da = da.transpose(..., *SPATIAL_DIMS)
    leading = [d for d in da.dims if d not in SPATIAL_DIMS]
    ny, nx = da.sizes["y"], da.sizes["x"]

    clipped: dict[Hashable, xr.DataArray] = {}
    n_pixels: list[int] = []
    n_valid: list[Any] = []
    for area_id, geom in zip(ids, areas.geometry, strict=True):
        if geom is None or geom.is_empty:
            n_pixels.append(0)
            n_valid.append(0)
            continue
        minx, miny, maxx, maxy = geom.bounds
        cols = ((minx - x0) / dx, (maxx - x0) / dx)
        rows = ((miny - y0) / dy, (maxy - y0) / dy)
        c0, c1 = math.floor(min(cols)), math.ceil(max(cols))
        r0, r1 = math.floor(min(rows)), math.ceil(max(rows))
        if c1 <= c0 or r1 <= r0:
            n_pixels.append(0)
            n_valid.append(0)
            continue
        window = Affine(dx, 0.0, x0 + c0 * dx, 0.0, dy, y0 + r0 * dy)
        inside = geometry_mask([geom], out_shape=(r1 - r0, c1 - c0), transform=window, invert=True)
        n_pixels.append(int(inside.sum()))
        rr0, rr1, cc0, cc1 = max(r0, 0), min(r1, ny), max(c0, 0), min(c1, nx)
        if rr1 <= rr0 or cc1 <= cc0:
            n_valid.append(0)
            continue
        part = da.isel(y=slice(rr0, rr1), x=slice(cc0, cc1))
        keep = xr.DataArray(inside[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0], dims=SPATIAL_DIMS)
        valid = part.notnull()
        if leading:
            valid = valid.all(leading)
        n_valid.append((valid & keep).sum().data)
        area = part.where(keep)
        area.attrs = dict(da.attrs)
        area.encoding = {}
        clipped[area_id] = area

    counts = [int(c) for c in compute(*n_valid)] if n_valid else []
    report = pd.DataFrame(
        {
            "id": ids,
            "n_pixels": np.asarray(n_pixels, dtype=np.int64),
            "n_valid": np.asarray(counts, dtype=np.int64),
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = report["n_valid"].to_numpy() / report["n_pixels"].to_numpy(dtype=float)
    report["coverage"] = np.where(report["n_pixels"].to_numpy() > 0, coverage, np.nan)
    report["kept"] = report["coverage"].to_numpy() >= min_cov  # NaN compares False
    kept_ids = set(report.loc[report["kept"], "id"])
    return {k: v for k, v in clipped.items() if k in kept_ids}, report


def sample_at_points(
    raster: xr.DataArray,
    points: gpd.GeoDataFrame | Sequence[tuple[float, float]] | ArrayLike,
    *,
    window: int = 3,
) -> pd.DataFrame:
    """NaN-aware mean of the ``window × window`` pixels around each point (**computes**).

    The window is centred on the pixel that contains the point; the part of
    it beyond the raster's edge is ignored. Only those pixels are read: the
    small windows are cut with ``isel`` and computed together in one
    ``dask.compute``.

    Parameters
    ----------
    raster
        One ``(y, x)`` map (select one from a stack first, e.g. ``isel(time=0)``).
    points
        A GeoDataFrame of Points with a CRS (reprojected to the raster's), or
        a sequence of ``(x, y)`` pairs in the raster's CRS.
    window
        Odd window size in pixels, ≥ 1 (1: the point's own pixel).

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        For a GeoDataFrame, a copy of it (in its own CRS) with the columns
        ``value`` and ``n_valid`` added; otherwise ``x``, ``y``, ``value`` and
        ``n_valid``. Points outside the raster, or whose window holds no
        finite pixel, get NaN and ``n_valid`` 0.

    Examples
    --------
    >>> r = xr.DataArray(np.arange(16.0).reshape(4, 4), dims=("y", "x"),
    ...                  coords={"y": [3.5, 2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5, 3.5]})
    >>> table = sample_at_points(r, [(1.2, 2.7), (9.0, 9.0)], window=3)
    >>> table[["value", "n_valid"]].values.tolist()
    [[5.0, 9.0], [nan, 0.0]]
    """
    import shapely

    func = "sample_at_points"
    da = _check_array(raster, "raster", func)
    extra = [d for d in da.dims if d not in SPATIAL_DIMS]
    if extra:
        raise DimensionError(
            f"{func}: the raster has dims {extra} besides (y, x); select one map, e.g. "
            f"raster.isel({extra[0]}=0)"
        )
    window = check_int(window, "window", func, minimum=1)
    if window % 2 == 0:
        raise ParameterError(
            f"{func}: window must be odd so it centres on the point's pixel, got {window}; "
            f"pass window={window + 1} or {window - 1}"
        )
    x0, dx, y0, dy = _grid(da, func)
    geo = _is_geodataframe(points)
    if geo:
        frame: Any = points
        kinds = set(frame.geometry.dropna().geom_type)
        if not kinds <= {"Point"}:
            raise ParameterError(
                f"{func}: the geometries must be Points, found {sorted(kinds)}; use "
                "clip_to_areas for polygons, or take .centroid first"
            )
        moved = _to_raster_crs(frame, da, "points", func).geometry.to_numpy()
        xs = np.asarray(shapely.get_x(moved), dtype=float)  # NaN for missing/empty points
        ys = np.asarray(shapely.get_y(moved), dtype=float)
    else:
        try:
            xy = np.asarray(points, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{func}: points must be a GeoDataFrame or (x, y) pairs, got "
                f"{type(points).__name__}"
            ) from None
        if xy.size == 0:
            xy = xy.reshape(0, 2)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ParameterError(
                f"{func}: points must be (x, y) pairs, got an array of shape {xy.shape}"
            )
        xs, ys = xy[:, 0], xy[:, 1]

    da = da.transpose(*SPATIAL_DIMS)
    ny, nx = da.sizes["y"], da.sizes["x"]
    half = window // 2
    with np.errstate(invalid="ignore"):
        cols = np.floor((xs - x0) / dx)
        rows = np.floor((ys - y0) / dy)
    inside = np.isfinite(cols) & np.isfinite(rows)
    inside &= (cols >= 0) & (cols < nx) & (rows >= 0) & (rows < ny)
    wanted = np.flatnonzero(inside)
    pieces = []
    for i in wanted:
        r, c = int(rows[i]), int(cols[i])
        pieces.append(
            da.isel(
                y=slice(max(r - half, 0), r + half + 1), x=slice(max(c - half, 0), c + half + 1)
            ).data
        )
    blocks = compute(*pieces) if pieces else ()
    value = np.full(xs.shape, np.nan)
    n_valid = np.zeros(xs.shape, dtype=np.int64)
    for i, block in zip(wanted, blocks, strict=True):
        values = np.asarray(block, dtype=float)
        finite = np.isfinite(values)
        n_valid[i] = int(finite.sum())
        if n_valid[i]:
            value[i] = float(values[finite].sum()) / n_valid[i]
    if geo:
        out = frame.copy()
        out["value"] = value
        out["n_valid"] = n_valid
        return out
    return pd.DataFrame({"x": xs, "y": ys, "value": value, "n_valid": n_valid})
