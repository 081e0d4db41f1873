"""Exports of products: maps as Cloud-Optimised GeoTIFFs, masks as polygons (GeoParquet/GeoJSON)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dask.array as dsa
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from dask.base import compute
from dask.delayed import delayed

from .._atomic import atomic_target, check_writable, replacing_file_set
from .._checks import check_mask, check_real, is_instance
from .._components import connected_components
from .._geographic import accepts_geographic
from ..conventions import NODATA
from ..errors import DimensionError, DTypeError, ParameterError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["to_cog", "to_vector"]

_FORMATS = {
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
}
#: The files a shapefile is made of besides the .shp (written by GDAL's driver)
_SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg")


def _pixel_transform(mask: xr.DataArray) -> tuple[Affine, Any]:
    """The affine transform of the (y, x) grid and the CRS (None without one)."""
    crs = None
    if "spatial_ref" in mask.coords:
        crs = mask.rio.crs
    if "x" in mask.coords and "y" in mask.coords and mask.sizes["x"] > 1 and mask.sizes["y"] > 1:
        transform: Affine = mask.rio.transform(recalc=True)
        return transform, crs
    return Affine.identity(), crs  # pixel (column, row) coordinates


def _block_polygons(
    labels: np.ndarray, transform: Affine, row0: int, col0: int, skip: int | None = 0
) -> list[tuple[int, Any]]:
    """(label, polygon) for every 4-connected piece of every label in one chunk.

    Pixels equal to *skip* (the background; ``None``: none) are left out.
    """
    from rasterio.features import shapes
    from shapely.geometry import shape

    block_transform = transform * Affine.translation(col0, row0)
    limits = np.iinfo(np.int32)
    if labels.size and (labels.max() > limits.max or labels.min() < limits.min):
        raise ParameterError(
            f"to_vector: ids must fit in int32 (rasterio polygonises int32), got values from "
            f"{labels.min()} to {labels.max()}; renumber them, e.g. with numpy.unique(..., "
            "return_inverse=True)"
        )
    labels32 = labels.astype(np.int32)  # rasterio polygonises int32
    keep = None if skip is None else labels != skip
    return [
        (int(value), shape(geom))
        for geom, value in shapes(labels32, mask=keep, transform=block_transform)
    ]


def _chunk_pieces(labels: Any, transform: Affine, skip: int | None = 0) -> Iterator[Any]:
    """Per-chunk polygon lists (delayed on dask input)."""
    if not isinstance(labels, dsa.Array):
        yield _block_polygons(np.asarray(labels), transform, 0, 0, skip)
        return
    rows = np.cumsum((0, *labels.chunks[0]))
    cols = np.cumsum((0, *labels.chunks[1]))
    blocks = labels.to_delayed()
    for i, j in np.ndindex(blocks.shape):
        yield delayed(_block_polygons)(blocks[i, j], transform, int(rows[i]), int(cols[j]), skip)


def _dissolved(pieces_per_chunk: list[list[tuple[int, Any]]]) -> dict[int, Any]:
    """One geometry per label from the pieces of every chunk, the same for any chunking.

    The union leaves vertices where chunk borders crossed straight edges:
    simplify(0) drops those collinear vertices and normalize() fixes the vertex
    order.
    """
    import shapely

    by_label: dict[int, list[Any]] = {}
    for pieces in pieces_per_chunk:
        for label, polygon in pieces:
            by_label.setdefault(label, []).append(polygon)
    return {
        label: shapely.normalize(shapely.simplify(shapely.union_all(parts), 0))
        for label, parts in by_label.items()
    }


def _values_present(data: Any, nodata: int | None) -> list[int]:
    """The distinct values of a class map, nodata left out (computes a dask map)."""
    values = dsa.unique(data).compute() if isinstance(data, dsa.Array) else np.unique(data)
    return [int(v) for v in values if nodata is None or v != nodata]


@accepts_geographic
def to_vector(
    mask: xr.DataArray,
    path: str | os.PathLike[str] | None = None,
    *,
    connectivity: Literal[1, 2] = 2,
    overwrite: bool = False,
    values: Literal["mask", "classes", "segments"] = "mask",
    nodata: int | None = NODATA,
) -> gpd.GeoDataFrame:
    """Polygons of the connected regions of a mask, a class map or a segment map (**computes**).

    Regions are labelled across chunk borders (as in
    :func:`sarcube.remove_small_regions`) and each chunk is polygonised on its
    own (rasterio); the pieces of a region that spans chunks are dissolved into
    one geometry. A region whose pixels meet only at corners (``connectivity=2``)
    becomes a MultiPolygon. Rows are ordered from the top-left of the image
    and numbered from 1, so the result does not depend on the chunking.

    Parameters
    ----------
    mask
        Boolean mask or uint8 map (1 = region, 0 = background, 255 = nodata) on
        ``(y, x)``, e.g. from :func:`sarcube.flood_map`.
    path
        Optional output file: ``.parquet`` (GeoParquet), ``.geojson`` or
        ``.shp`` (an ESRI shapefile, with its ``.shx``/``.dbf``/``.prj``/``.cpg``
        beside it). Written to a temporary name first and renamed (the ``.shp``
        last), so no half-written file is left.
    connectivity
        1: edge neighbours; 2: edge and corner neighbours form one region.
    overwrite
        Replace an existing *path*.
    values
        ``"mask"``: the regions of a mask (above). ``"classes"``: an integer
        class map (e.g. 0 dry, 1 water, 2 flood); the connected regions of each
        class, with a ``class`` column. ``"segments"``: an integer segment map
        (e.g. :func:`sarcube.superpixels`); one geometry per segment id (a
        MultiPolygon if a segment is in pieces), with a ``segment`` column, in
        order of the ids.
    nodata
        The value left out of a class or segment map (``None``: none).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``region`` (1…N), ``n_pixels``, ``area`` (in CRS units², pixel
        units without a CRS) and ``geometry``; ``crs`` from the mask. Class
        maps add ``class`` after ``region``; segment maps have ``segment``
        instead of ``region``.

    Examples
    --------
    >>> import xarray as xr
    >>> m = xr.DataArray(np.array([[1, 1, 0], [0, 0, 0], [0, 0, 1]], np.uint8), dims=("y", "x"))
    >>> to_vector(m)[["region", "n_pixels"]].values.tolist()
    [[1, 2], [2, 1]]
    >>> classes = xr.DataArray(np.array([[0, 0, 2], [1, 2, 2], [255, 2, 2]], np.uint8),
    ...                        dims=("y", "x"))
    >>> to_vector(classes, values="classes")[["class", "n_pixels"]].values.tolist()
    [[0, 2], [2, 5], [1, 1]]
    """
    from .._extras import require

    require("geopandas", "to_vector")
    import geopandas as gpd

    func = "to_vector"
    if values not in ("mask", "classes", "segments"):
        raise ParameterError(
            f"{func}: values must be 'mask', 'classes' or 'segments', got {values!r}"
        )
    arr = check_mask(mask, func, binary=values == "mask")
    if values != "mask" and not np.issubdtype(arr.dtype, np.integer):
        raise DTypeError(
            f"{func}: a {'class' if values == 'classes' else 'segment'} map must hold "
            f"integers, got dtype {arr.dtype}; "
            "pass e.g. classes.astype('uint8'), or values='mask' for a boolean mask"
        )
    if arr.ndim != 2:
        raise DimensionError(
            f"{func}: the mask has dims {arr.dims}; pass one (y, x) image, e.g. mask.isel(time=0)"
        )
    if connectivity not in (1, 2):
        raise ParameterError(f"{func}: connectivity must be 1 or 2, got {connectivity!r}")
    target = None if path is None else Path(path)
    if target is not None and target.suffix.lower() not in _FORMATS:
        raise ParameterError(
            f"{func}: unknown vector format {target.suffix!r}; use .parquet, .geojson or .shp"
        )
    transform, crs = _pixel_transform(arr)
    if target is not None and crs is None:
        raise ParameterError(
            f"{func}: the mask has no CRS, so {target.name} would have none; set one "
            "(mask.rio.write_crs('EPSG:32633')), or call without a path for polygons in "
            "pixel coordinates"
        )
    if target is not None:
        check_writable(target, overwrite, func)
    if values == "segments":
        pieces = list(_chunk_pieces(arr.data, transform, skip=nodata))
        if isinstance(arr.data, dsa.Array):
            (pieces,) = compute(pieces)
        by_segment = _dissolved(pieces)
        ids = sorted(by_segment)
        columns: dict[str, Any] = {"segment": np.asarray(ids, dtype=np.int64)}
        geoms = [by_segment[i] for i in ids]
    else:
        classes = _values_present(arr.data, nodata) if values == "classes" else [1]
        per_class = []
        for value in classes:
            inside = arr.data if arr.dtype == bool else arr.data == value
            labels, _ = connected_components(inside, connectivity)
            per_class.append(list(_chunk_pieces(labels, transform)))
        if isinstance(arr.data, dsa.Array):
            (per_class,) = compute(per_class)
        geoms, owners = [], []
        for value, pieces in zip(classes, per_class, strict=True):
            dissolved = _dissolved(pieces)
            geoms += list(dissolved.values())
            owners += [value] * len(dissolved)
        columns = {"class": np.asarray(owners, dtype=np.int64)} if values == "classes" else {}
    pixel_area = abs(transform.a * transform.e - transform.b * transform.d)
    frame = gpd.GeoDataFrame({**columns, "geometry": geoms}, geometry="geometry", crs=crs)
    if len(frame) and values != "segments":
        bounds = frame.bounds
        north_up = transform.e < 0
        centroid = frame.geometry.centroid
        keys = {
            "_top": -bounds["maxy"] if north_up else bounds["miny"],
            "_left": bounds["minx"],
            "_area": -frame.geometry.area,
            "_cx": centroid.x,
            "_cy": centroid.y,
        }
        frame = frame.assign(**keys).sort_values(list(keys)).drop(columns=list(keys))
    area = frame.geometry.area.to_numpy()
    if values != "segments":
        frame.insert(0, "region", np.arange(1, len(frame) + 1, dtype=np.int64))
    at = 2 if values == "classes" else 1
    frame.insert(at, "n_pixels", np.rint(area / pixel_area).astype(np.int64))
    frame.insert(at + 1, "area", area)
    frame = frame.reset_index(drop=True)
    if target is not None:
        _write(frame, target)
    return frame


def _write(frame: gpd.GeoDataFrame, target: Path) -> None:
    if target.suffix.lower() == ".shp":
        _write_shapefile(frame, target)
        return
    with atomic_target(target) as tmp:
        if _FORMATS[target.suffix.lower()] == "parquet":
            frame.to_parquet(tmp)
        else:
            frame.to_file(tmp, driver="GeoJSON", layer=target.stem)


def _write_shapefile(frame: gpd.GeoDataFrame, target: Path) -> None:
    """A shapefile and its parts, the ``.shp`` moved into place last."""
    with replacing_file_set(target, _SHAPEFILE_PARTS) as folder:
        frame.to_file(folder / target.name, driver="ESRI Shapefile")


@accepts_geographic
def to_cog(
    da: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    compress: str = "DEFLATE",
) -> Path:
    """Write a 2-D map (or ``(band, y, x)`` stack) as a Cloud-Optimised GeoTIFF (**computes**).

    The CRS and transform come from the map's ``spatial_ref`` and coordinates;
    the nodata value is 255 for uint8 maps with CF flags (e.g.
    :func:`sarcube.flood_map`) and NaN for floats; boolean masks are written as
    uint8 0/1. Written to a temporary name and renamed, so no half-written file
    is left. The path is checked before anything is computed.

    Examples
    --------
    >>> import pathlib, tempfile, rioxarray
    >>> scene = sarcube.synthetic.make_scene((32, 32), seed=1)
    >>> flood = flood_map(scene.cube["vv"].isel(time=0), scene.cube["vv"].isel(time=-1))
    >>> path = to_cog(flood, pathlib.Path(tempfile.mkdtemp()) / "flood.tif")
    >>> back = rioxarray.open_rasterio(path)
    >>> back.shape, back.rio.crs.to_epsg(), int(back.rio.nodata)
    ((1, 32, 32), 32633, 255)
    """
    func = "to_cog"
    check = _check_raster(da, func)
    if check.dtype == bool:  # GeoTIFF has no boolean type
        check = check.astype(np.uint8)
    check_real(check, func)
    target = Path(path)
    if target.suffix.lower() not in (".tif", ".tiff"):
        raise ParameterError(f"{func}: use a .tif path, got {target.name!r}")
    if check.dtype.name not in _COG_DTYPES:
        raise DTypeError(
            f"{func}: {check.dtype} is not a GeoTIFF sample type that readers take; cast "
            "first, e.g. da.astype('float32') (or 'int32' for integers)"
        )
    if check.rio.crs is None:
        raise ParameterError(
            f"{func}: the map has no CRS (no spatial_ref), so the file would not be "
            "georeferenced; set one with da.rio.write_crs('EPSG:32633')"
        )
    if not is_instance(compress, str) or compress.upper() not in _COG_COMPRESSION:
        raise ParameterError(
            f"{func}: unknown compress={compress!r}; use one of {sorted(_COG_COMPRESSION)}"
        )
    check_writable(target, overwrite, func)
    nodata: float | None
    if np.issubdtype(check.dtype, np.floating):
        nodata = float("nan")
    elif "flag_values" in check.attrs and NODATA in np.asarray(check.attrs["flag_values"]).tolist():
        nodata = NODATA
    else:
        nodata = None
    computed = check.compute()
    attrs = {k: v for k, v in computed.attrs.items() if isinstance(v, str | int | float)}
    computed = computed.copy()
    computed.attrs = attrs
    if nodata is not None:
        computed = computed.rio.write_nodata(nodata, encoded=False)
    with atomic_target(target) as tmp:
        computed.rio.to_raster(tmp, driver="COG", compress=compress)
    return target


#: Sample types written to a COG: GDAL's classic GeoTIFF types (no 64-bit integers, no float16).
_COG_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"}
#: Compression methods of GDAL's COG driver.
_COG_COMPRESSION = {"NONE", "LZW", "DEFLATE", "ZSTD", "LZMA", "PACKBITS", "WEBP", "JPEG", "LERC"}


def _check_raster(given: object, func: str) -> xr.DataArray:
    from .._checks import check_dataarray, check_spatial

    da = check_dataarray(given, func, "one map", "cube['vv'].isel(time=0)")
    check_spatial(da, func)
    extra = [d for d in da.dims if d not in ("y", "x")]
    if len(extra) > 1:
        raise DimensionError(f"{func}: the map has dims {da.dims}; pass (y, x) or (band, y, x)")
    return da.transpose(*extra, "y", "x")
