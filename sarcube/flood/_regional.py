"""Regional thresholds: per-region histograms, a threshold surface, a map from it."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr
from numba import njit

from .._checks import check_optional_int
from .._deprecation import renamed_keywords
from .._geographic import accepts_geographic
from .._reduce import region_histograms
from ..conventions import DB_UNITS, LINEAR_UNITS, NODATA, SPATIAL_DIMS
from ..errors import (
    GridMismatchError,
    ParameterError,
)
from ..regional import (
    FIELDS,
    SOURCE_GLOBAL,
    SOURCE_NEIGHBOUR,
    SOURCE_OWN,
    interpolate,
    region_thresholds,
)
from ._prepare import (
    _BINS,
    CHANGE_DB_RANGE,
    CHANGE_OFFSET,
    DB_RANGE,
    FLOOD,
    NO_FLOOD,
    POST_OFFSET,
    REGION_SIZE,
    _check_options,
    _check_region_size,
    _dress,
    _prepare,
    _Prepared,
)
from ._window import _CHANGE, _NODATA, _POST, _USABLE

# --------------------------------------------------------------------------
# regional thresholds


def _ranges(prep: _Prepared, units: str, func: str) -> tuple[tuple[float, float], ...]:
    """Fixed histogram ranges of the filtered post image and of the change."""
    if prep.integer is not None:
        info = np.iinfo(prep.integer)
        lo, hi = float(info.min), float(info.max) + 1.0
        return (lo, hi), (lo - hi, hi - lo)
    if units == "log" or (
        units == "auto"
        and prep.template.attrs.get("units") != DB_UNITS
        and prep.template.attrs.get("units") != LINEAR_UNITS
    ):
        raise ParameterError(
            f"{func}: regional thresholds bin float images in dB; pass linear power or dB "
            "(units '1' or 'dB', or units='linear'/'db'), or integer chips"
        )
    return DB_RANGE, CHANGE_DB_RANGE


def _surface(
    prep: _Prepared,
    units: str,
    post_offset: float,
    change_offset: float,
    region_size: int,
    func: str,
    tiles: int | None = None,
) -> xr.Dataset:
    images = _threshold_images(prep, units, func)
    return surface_from_images(
        images,
        post_offset=post_offset,
        change_offset=change_offset,
        region_size=region_size,
        tiles=tiles,
    )


def _threshold_images(prep: _Prepared, units: str, func: str) -> xr.DataArray:
    ranges = _ranges(prep, units, func)
    usable = prep.usable
    layers = [prep.post.where(usable), prep.change.where(usable)]
    data = [layer.data for layer in layers]
    stacked = dsa.stack(data) if isinstance(data[0], dsa.Array) else np.stack(data)
    attr_units = prep.template.attrs.get("units")
    return xr.DataArray(
        stacked,
        dims=("image", *SPATIAL_DIMS),
        coords={**layers[0].coords, "image": ["post", "change"]},
        name="threshold_images",
        attrs={
            **({} if attr_units is None else {"units": attr_units}),
            "post_range": list(ranges[0]),
            "change_range": list(ranges[1]),
        },
    )


@renamed_keywords(scale="units")
def threshold_images(
    pre: xr.DataArray | xr.Dataset,
    post: xr.DataArray | xr.Dataset,
    *,
    band: str | None = None,
    units: Literal["auto", "linear", "db", "log"] = "auto",
    median_size: int = 7,
    boxcar_size: int = 5,
    nodata_buffer: int = 2,
) -> xr.DataArray:
    """What the regional thresholds are computed from, lazily: ``(image, y, x)`` float32.

    The filtered post image and the change, as :func:`flood_map` filters
    them, NaN where a pixel is not usable; the attrs hold the fixed
    histogram ranges. :func:`surface_from_images` turns it into the surface
    of :func:`flood_thresholds` (which is the two in one). Computed apart,
    e.g. window by window (:func:`sarcube._overlap.tile_map`), the images
    of a large cube need not be held at once.

    Examples
    --------
    >>> cube = sarcube.synthetic.make_scene((128, 128), seed=1).cube
    >>> images = threshold_images(cube.isel(time=slice(0, -1)), cube.isel(time=-1), band="vv")
    >>> images.dims, images["image"].values.tolist(), images.dtype
    (('image', 'y', 'x'), ['post', 'change'], dtype('float32'))
    """
    func = "threshold_images"
    _check_options(
        "auto", units, median_size, boxcar_size, POST_OFFSET, CHANGE_OFFSET, 0, nodata_buffer, func
    )
    prep = _prepare(pre, post, band, units, median_size, boxcar_size, nodata_buffer, func)
    return _threshold_images(prep, units, func)


def surface_from_images(
    images: xr.DataArray,
    *,
    post_offset: float = POST_OFFSET,
    change_offset: float = CHANGE_OFFSET,
    region_size: int = REGION_SIZE,
    tiles: int | None = None,
) -> xr.Dataset:
    """The regional threshold surface of :func:`threshold_images` (see :func:`flood_thresholds`).

    Examples
    --------
    >>> cube = sarcube.synthetic.make_scene((128, 128), seed=1).cube
    >>> pre, post = cube.isel(time=slice(0, -1)), cube.isel(time=-1)
    >>> surface = surface_from_images(threshold_images(pre, post, band="vv"), region_size=64)
    >>> dict(surface.sizes)
    {'region_y': 2, 'region_x': 2}
    >>> together = flood_thresholds(pre, post, band="vv", region_size=64)
    >>> bool((surface["post_threshold"] == together["post_threshold"]).all())
    True
    """
    ranges = (
        (float(images.attrs["post_range"][0]), float(images.attrs["post_range"][1])),
        (float(images.attrs["change_range"][0]), float(images.attrs["change_range"][1])),
    )
    counts = region_histograms(
        images.transpose("image", *SPATIAL_DIMS).data, region_size, ranges, _BINS, tiles=tiles
    )
    centres = np.stack([_centres(lo, hi, _BINS) for lo, hi in ranges])
    ny, nx = (images.sizes[d] for d in SPATIAL_DIMS)
    capacity = _capacity(ny, nx, region_size)
    offsets = (float(post_offset), float(change_offset))
    if isinstance(counts, dsa.Array):
        packed: Any = dsa.map_blocks(
            region_thresholds,
            counts,
            centres,
            offsets,
            capacity,
            chunks=((len(FIELDS),), (2,), counts.chunks[0], counts.chunks[1]),
            drop_axis=(2, 3),
            new_axis=(0, 1),
            dtype=np.float64,
        )
    else:
        packed = region_thresholds(counts, centres, offsets, capacity)
    return _surface_dataset(packed, images, region_size, ranges, offsets)


def _centres(lo: float, hi: float, bins: int) -> np.ndarray:
    edges = np.linspace(lo, hi, bins + 1)
    return (edges[:-1] + edges[1:]) / 2


def _capacity(ny: int, nx: int, region: int) -> np.ndarray:
    """Pixels of each region inside an ny × nx image."""
    rows = np.minimum(region, ny - region * np.arange(-(-ny // region)))
    cols = np.minimum(region, nx - region * np.arange(-(-nx // region)))
    return np.outer(rows, cols).astype(np.float64)


def _region_centres(coord: xr.DataArray | None, n: int, region: int) -> np.ndarray:
    """Coordinates of the region centres along one axis (pixel index without coords)."""
    position = (np.arange(-(-n // region)) + 0.5) * region - 0.5
    if coord is None or coord.ndim != 1 or not np.issubdtype(coord.dtype, np.number):
        return position
    return np.asarray(np.interp(position, np.arange(n), coord.values.astype(np.float64)))


def _surface_dataset(
    packed: Any,
    template: xr.DataArray,
    region_size: int,
    ranges: tuple[tuple[float, float], ...],
    offsets: tuple[float, float],
) -> xr.Dataset:
    dims = ("region_y", "region_x")
    coords = {
        name: _region_centres(template.coords.get(dim), template.sizes[dim], region_size)
        for name, dim in zip(dims, SPATIAL_DIMS, strict=True)
    }
    field = {name: packed[i] for i, name in enumerate(FIELDS)}
    variables: dict[Hashable, Any] = {}
    units = template.attrs.get("units")
    for k, image in enumerate(("post", "change")):
        unit = {} if units is None else {"units": DB_UNITS if units == LINEAR_UNITS else units}
        variables[f"{image}_threshold"] = (
            dims,
            field["threshold"][k],
            {"long_name": f"{image} threshold used by the map (filled)", **unit},
        )
        variables[f"{image}_own_threshold"] = (
            dims,
            field["own_threshold"][k],
            {
                "long_name": f"{image} threshold of the region's own histogram (NaN: unusable)",
                **unit,
            },
        )
        variables[f"{image}_usable"] = (
            dims,
            field["usable"][k] > 0,
            {"long_name": f"region's {image} histogram is bimodal and valid"},
        )
        variables[f"{image}_source"] = (
            dims,
            field["source"][k].astype(np.uint8),
            {
                "long_name": f"origin of the {image} threshold",
                "flag_values": np.array([SOURCE_OWN, SOURCE_NEIGHBOUR, SOURCE_GLOBAL], np.uint8),
                "flag_meanings": "own nearest_usable_regions whole_image",
            },
        )
        variables[f"{image}_ashman_d"] = (dims, field["ashman_d"][k], {"long_name": "Ashman's D"})
        variables[f"{image}_bimodality"] = (
            dims,
            field["bimodality"][k],
            {"long_name": "bimodality coefficient"},
        )
        variables[f"{image}_class_fraction"] = (
            dims,
            field["class_fraction"][k],
            {"long_name": "share of the smaller class"},
        )
        variables[f"{image}_global_threshold"] = (
            (),
            field["global_threshold"][k, 0, 0],
            {"long_name": f"{image} threshold of the whole image's histogram", **unit},
        )
    variables["n_valid"] = (dims, field["n_valid"][0], {"long_name": "valid pixels per region"})
    return xr.Dataset(
        variables,
        coords=coords,
        attrs={
            "long_name": "regional flood-map thresholds",
            "region_size": region_size,
            "post_range": list(ranges[0]),
            "change_range": list(ranges[1]),
            "bins": _BINS,
            "post_offset": offsets[0],
            "change_offset": offsets[1],
            **_grid_attrs(template),
        },
    )


def _grid_attrs(template: xr.DataArray) -> dict[str, Any]:
    """The pixel grid a surface was made on.

    Its shape and, for regular numeric y/x coordinates, the first pixel's
    coordinates and the step, so that a window of that grid can be located
    (:func:`_locate`).
    """
    attrs: dict[str, Any] = {"grid_shape": [int(template.sizes[d]) for d in SPATIAL_DIMS]}
    starts, steps = [], []
    for dim in SPATIAL_DIMS:
        values = _numeric_coord(template, dim)
        if values is None or values.size < 2:
            return attrs
        step = float(values[1] - values[0])
        if step == 0 or not np.allclose(np.diff(values), step, rtol=1e-9, atol=0):
            return attrs
        starts.append(float(values[0]))
        steps.append(step)
    return {**attrs, "grid_start": starts, "grid_step": steps}


def _numeric_coord(da: xr.DataArray, dim: str) -> np.ndarray | None:
    if dim not in da.coords:  # (coords.get would give the virtual pixel index)
        return None
    coord = da.coords[dim]
    if coord.ndim != 1 or not np.issubdtype(coord.dtype, np.number):
        return None
    return np.asarray(coord.values, dtype=np.float64)


def _check_surface(surface: xr.Dataset, func: str) -> None:
    missing = [v for v in ("post_threshold", "change_threshold") if v not in surface]
    if missing or "region_size" not in surface.attrs:
        raise ParameterError(
            f"{func}: thresholds= takes the Dataset of sarcube.flood_thresholds (with "
            "post_threshold, change_threshold and attrs region_size); "
            f"missing {missing or ['region_size']}"
        )


def _locate(surface: xr.Dataset, template: xr.DataArray, func: str) -> tuple[int, int]:
    """Where the image lies in the grid of *surface*: ``(row, column)`` of its first pixel.

    The image is the surface's grid or any window of it, found from the y/x
    coordinates (a regular grid); without coordinates it must be the whole grid.
    """
    region = int(surface.attrs["region_size"])
    ny, nx = (template.sizes[d] for d in SPATIAL_DIMS)
    shape = surface.attrs.get("grid_shape")
    start, step = surface.attrs.get("grid_start"), surface.attrs.get("grid_step")
    regions = (surface.sizes.get("region_y"), surface.sizes.get("region_x"))
    if shape is None:  # a surface from before the grid was recorded: regions only
        shape = [ny, nx]
    full = (int(shape[0]), int(shape[1]))
    if regions != (-(-full[0] // region), -(-full[1] // region)):
        raise GridMismatchError(
            f"{func}: the thresholds have a {regions[0]}×{regions[1]} region grid, which is not "
            f"that of their {full[0]}×{full[1]} pixel grid of {region} px regions"
        )
    own = [_numeric_coord(template, d) for d in SPATIAL_DIMS]
    if start is None or step is None or any(c is None for c in own):
        if (ny, nx) != full:
            raise GridMismatchError(
                f"{func}: the thresholds are for a {full[0]}×{full[1]} image (a "
                f"{regions[0]}×{regions[1]} region grid of {region} px) but this image is "
                f"{ny}×{nx}; compute them with sarcube.flood_thresholds on these images, or "
                "give both regular y/x coordinates to map a window of that grid"
            )
        return 0, 0
    origin = []
    for k, (dim, values, n) in enumerate(zip(SPATIAL_DIMS, own, (ny, nx), strict=True)):
        assert values is not None
        offset = (values[0] - float(start[k])) / float(step[k])
        first = round(offset)
        same_step = n < 2 or math.isclose(values[1] - values[0], float(step[k]), rel_tol=1e-6)
        if abs(offset - first) > 1e-3 or not same_step or first < 0 or first + n > full[k]:
            raise GridMismatchError(
                f"{func}: this image's {dim} coordinates are not a window of the grid the "
                f"thresholds were computed on ({full[0]}×{full[1]} pixels from "
                f"{list(start)} by {list(step)}); compute them with sarcube.flood_thresholds "
                "on these images or on a cube that holds them"
            )
        origin.append(int(first))
    return origin[0], origin[1]


@njit(cache=True, nogil=True, error_model="numpy")
def _regional_block(
    stack: np.ndarray, grid: np.ndarray, y0: int, x0: int, region: int
) -> np.ndarray:
    """uint8 map of a block of the window pass's stack at (y0, x0) against the surfaces."""
    ny, nx = stack.shape[1:]
    post_t = interpolate(grid[0], y0, x0, ny, nx, region)
    change_t = interpolate(grid[1], y0, x0, ny, nx, region)
    out = np.empty((ny, nx), dtype=np.uint8)
    for i in range(ny):
        for j in range(nx):
            if stack[_NODATA, i, j] > 0:
                out[i, j] = NODATA
            elif (
                stack[_USABLE, i, j] > 0
                and np.float64(stack[_POST, i, j]) <= post_t[i, j]
                and np.float64(stack[_CHANGE, i, j]) <= change_t[i, j]
            ):
                out[i, j] = FLOOD
            else:
                out[i, j] = NO_FLOOD
    return out


def _dask_block(
    stack: np.ndarray,
    grid: np.ndarray,
    *,
    shape: tuple[int, int, int],
    region: int,
    origin: tuple[int, int],
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    assert block_info is not None
    _, (y0, _), (x0, _) = block_info[0]["array-location"]
    y0, x0 = int(y0) + origin[0], int(x0) + origin[1]
    return _regional_block(stack, grid.reshape(shape), y0, x0, region)


def _regional_map(
    prep: _Prepared,
    surface: xr.Dataset,
    min_size: int,
    median_size: int,
    boxcar_size: int,
    origin: tuple[int, int] = (0, 0),
) -> xr.DataArray:
    region = int(surface.attrs["region_size"])
    grid = xr.concat([surface["post_threshold"], surface["change_threshold"]], "image")
    stack = prep.stack
    if isinstance(stack, dsa.Array):
        # With a computed surface (numpy), nothing here waits for a reduction: the map
        # streams chunk by chunk. A lazy surface joins its reduction pass to the graph.
        flat = dsa.asarray(grid.data).reshape((1, 1, -1)).rechunk(-1)
        out: Any = dsa.map_blocks(
            _dask_block,
            stack,
            flat,
            shape=grid.shape,
            region=region,
            origin=origin,
            drop_axis=0,
            chunks=stack.chunks[1:],
            dtype=np.uint8,
            meta=np.empty((0, 0), dtype=np.uint8),
        )
    else:
        out = _regional_block(stack, np.asarray(grid.values), *origin, region)
    result = prep.layer(_POST).copy(data=out)
    return _dress(
        result,
        prep,
        min_size,
        {
            "method": "otsu",
            "thresholds": "regional",
            "region_size": region,
            "median_size": median_size,
            "boxcar_size": boxcar_size,
            "post_offset": float(surface.attrs.get("post_offset", POST_OFFSET)),
            "change_offset": float(surface.attrs.get("change_offset", CHANGE_OFFSET)),
        },
    )


@renamed_keywords(scale="units")
@accepts_geographic
def flood_thresholds(
    pre: xr.DataArray | xr.Dataset,
    post: xr.DataArray | xr.Dataset,
    *,
    band: str | None = None,
    units: Literal["auto", "linear", "db", "log"] = "auto",
    median_size: int = 7,
    boxcar_size: int = 5,
    post_offset: float = POST_OFFSET,
    change_offset: float = CHANGE_OFFSET,
    nodata_buffer: int = 2,
    region_size: int = REGION_SIZE,
    tiles: int | None = None,
) -> xr.Dataset:
    """The regional threshold surfaces of :func:`flood_map` and their diagnostics, lazily.

    The images are filtered as :func:`flood_map` does and cut into square
    regions of *region_size* pixels anchored at the top-left pixel (a fixed
    grid: it does not depend on the chunks). Per region and image (the
    filtered post image, the change), a histogram over a fixed range (dB:
    −60 to 30 dB for the post image, ±45 dB for the change; integer chips: the
    dtype's range) with 1024 bins; Otsu's threshold shifted by the offsets in
    standard deviations of the region's values; and the bimodality tests of
    :func:`sarcube.bimodality_tests`. A region is *usable* when half its pixels
    are valid, Ashman's D > 2, the bimodality coefficient > 5/9 and the smaller
    class holds at least 10 %. Other regions take the mean threshold of the
    nearest usable regions, or, when none is usable, the whole image's
    threshold (the sum of the regional histograms). :func:`flood_map`
    interpolates the filled thresholds bilinearly between region centres.

    Returns
    -------
    xarray.Dataset
        Dims ``(region_y, region_x)`` (coords: the region centres in the
        image's y/x coordinates). Per image (``post_*``, ``change_*``): the
        ``threshold`` used (filled), the region's ``own_threshold`` (NaN when
        not usable), ``usable``, ``source`` (0 own, 1 nearest usable regions,
        2 whole image), ``ashman_d``, ``bimodality``, ``class_fraction`` and the
        0-d ``global_threshold``; ``n_valid`` pixels per region. Small: it can
        be computed first, plotted and written to Zarr, then passed to
        ``flood_map(..., thresholds=surface)``. Its attrs record the pixel
        grid (``grid_shape``; with regular numeric y/x coordinates also
        ``grid_start`` and ``grid_step``), so that it also maps any window
        of that grid, each pixel with the thresholds of its place.

    With ``tiles=N`` the histograms are **computed now**, one computation
    per square tile of N × N chunks (the counts are summed exactly, so the
    surface is the same): window operations make dask hold a front of chunks
    as wide as the image, and per tile the memory depends on the tile, not on
    the cube. The chunks around a tile that the filters read are computed
    again for the next tile. ``to_zarr(..., tiles=N)`` streams the map the
    same way.

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((128, 128), seed=1)
    >>> cube = scene.cube
    >>> surface = flood_thresholds(cube.isel(time=slice(0, -1)), cube.isel(time=-1), region_size=64)
    >>> dict(surface.sizes), surface.attrs["region_size"]
    ({'region_y': 2, 'region_x': 2}, 64)
    """
    func = "flood_thresholds"
    _check_options(
        "auto", units, median_size, boxcar_size, post_offset, change_offset, 0, nodata_buffer, func
    )
    region_size = _check_region_size(region_size, func)
    tiles = check_optional_int(tiles, "tiles", func, minimum=1, hint="chunks per tile side")
    prep = _prepare(pre, post, band, units, median_size, boxcar_size, nodata_buffer, func)
    return _surface(prep, units, post_offset, change_offset, region_size, func, tiles)
