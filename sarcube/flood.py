"""Flood mapping from a pre-event and a post-event image: :func:`flood_map`.

The chain follows the change-detection rule of operational SAR water mappers:
open flood water is dark after the event **and** darker than before. Every step
is lazy and chunk-invariant:

1. both images on a log scale (linear power → dB; dB and rescaled integer
   chips as they are), speckle-filtered (median, then boxcar);
2. the post-event image and the change ``post − pre`` are rescaled to [0, 1]
   by their exact minimum and maximum over the valid pixels (min/max do not
   depend on the chunking, unlike floating-point sums);
3. one automatic threshold for each from a lazy histogram (Otsu, KI or the
   tiled split-based selection of :func:`sarcube.threshold`), shifted by a
   fixed fraction of the image's standard deviation;
4. flood = dark post **and** decrease, then regions smaller than *min_size*
   removed.

The default constants were chosen on the OMBRIA Sentinel-1 flood chips
(Drakonakis et al. 2022), holding out every fifth chip; see
``benchmarks/validate_ombria.py`` and the change-detection docs.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr
from numba import njit
from scipy import ndimage

from ._checks import check_real, check_spatial, check_xarray
from ._geographic import accepts_geographic
from ._overlap import overlapped
from ._reduce import region_histograms
from .calibration import linear_to_db_values
from .change import _check_pair, reduce_time
from .conventions import DB_UNITS, LINEAR_UNITS, SPATIAL_DIMS
from .errors import (
    BandNotFoundError,
    DimensionError,
    GridMismatchError,
    ParameterError,
    UnitsError,
)
from .filters._kernels import moments_rule_kernel, pad_into
from .filters._median import median_args, median_kernel
from .regional import (
    FIELDS,
    SOURCE_GLOBAL,
    SOURCE_NEIGHBOUR,
    SOURCE_OWN,
    interpolate,
    region_thresholds,
)
from .regions import remove_small_regions
from .thresholds import histogram, threshold
from .validate import NODATA

__all__ = ["FLOOD", "NO_FLOOD", "REGION_SIZE", "flood_map", "flood_thresholds"]

NO_FLOOD = 0
FLOOD = 1

#: Shift of the post-event threshold, in standard deviations of the filtered post image.
POST_OFFSET = -0.2
#: Shift of the change threshold, in standard deviations of the change image.
CHANGE_OFFSET = 0.4

#: Side of the regions of ``thresholds="regional"``, in pixels.
REGION_SIZE = 1024
#: Histogram ranges of regional thresholds for dB images: the post image and the change.
DB_RANGE = (-60.0, 30.0)
CHANGE_DB_RANGE = (-45.0, 45.0)

_BINS = 1024
_PREFERRED = ("vv", "hh")


def _select(obj: xr.DataArray | xr.Dataset, band: str | None, name: str) -> xr.DataArray:
    if isinstance(obj, xr.DataArray):
        return obj
    bands = [str(v) for v in obj.data_vars]
    if band is None:
        band = next((b for b in _PREFERRED if b in bands), bands[0] if len(bands) == 1 else None)
        if band is None:
            raise BandNotFoundError(
                f"flood_map: {name} has bands {bands} and none is vv/hh; pass band="
            )
    if band not in bands:
        raise BandNotFoundError(f"flood_map: band {band!r} not in {name}; available: {bands}")
    return obj[band]


def _one_date(da: xr.DataArray, name: str) -> xr.DataArray:
    extra = [d for d in da.dims if d not in SPATIAL_DIMS]
    if not extra:
        return da
    if extra == ["time"] and name == "pre":
        reduced: xr.DataArray = reduce_time(da, how="median")  # stable pre-event reference
        return reduced
    if all(da.sizes[d] == 1 for d in extra):
        return da.squeeze(extra, drop=True)
    raise DimensionError(
        f"flood_map: {name} has dims {da.dims}; pass one post-event date "
        "(post.isel(time=-1)); several pre-event dates are reduced with their median"
    )


def _log_scale(da: xr.DataArray, scale: str) -> tuple[xr.DataArray, xr.DataArray]:
    """(values on a log scale as float32 with NaN nodata, pixels fit for statistics)."""
    units = da.attrs.get("units")
    if scale == "auto":
        if np.issubdtype(da.dtype, np.integer):
            scale = "log"
        elif units == DB_UNITS:
            scale = "db"
        elif units == LINEAR_UNITS:
            scale = "linear"
        else:
            raise UnitsError(
                "flood_map: cannot tell whether the float images are linear power or on a "
                "log scale (no 'units' attr); set units ('1' or 'dB') or pass scale="
            )
    if scale == "linear":
        db: xr.DataArray = xr.apply_ufunc(
            linear_to_db_values,
            da.astype(np.float32, copy=False),
            dask="parallelized",
            output_dtypes=[np.float32],
        )
        return db, db.notnull()
    out: xr.DataArray = da.astype(np.float32)
    usable = out.notnull()
    if np.issubdtype(da.dtype, np.integer):
        # saturated / fill values of rescaled integer chips carry no backscatter
        info = np.iinfo(da.dtype)
        usable = (da != info.min) & (da != info.max)
    return out, usable


def _filter_block(
    block: np.ndarray,
    *,
    median_size: int,
    boxcar_size: int,
    radius: int,
    depth: int,
) -> np.ndarray:
    """The spatial steps of the flood map on one block carrying a halo of *depth* pixels.

    *block* ``(3, Y, X)`` float32: pre and post on a log scale with NaN at nodata
    (a pixel NaN in one is nodata in both), and 1 where a pixel is unfit for
    statistics. Returns ``(3, Y - 2·depth,
    X - 2·depth)``: the filtered post image (median, then boxcar), the change
    (filtered post − filtered pre) and 1 where a pixel is usable (no unfit pixel
    within *radius*, both filtered values valid). The halo holds the neighbours'
    pixels, or the mirrored image at its outer edge; median and boxcar commute
    with that mirroring, so one halo of ``median // 2 + boxcar // 2`` serves
    both filters and the result equals filtering the whole image step by step.
    """
    ny, nx = block.shape[1] - 2 * depth, block.shape[2] - 2 * depth
    inner = np.s_[depth : depth + ny, depth : depth + nx]
    unfit = block[2] > 0
    if radius > 0:
        unfit = ndimage.maximum_filter(unfit, size=2 * radius + 1)
    images = np.where(np.isnan(block[0]) | np.isnan(block[1]), np.float32(np.nan), block[:2])
    for size, kernel, args in (
        (median_size, median_kernel, median_args(median_size) if median_size > 1 else ()),
        (boxcar_size, moments_rule_kernel, (0, 1.0)),
    ):
        if size > 1:
            h = size // 2
            out = np.empty((2, images.shape[1] - 2 * h, images.shape[2] - 2 * h), np.float32)
            kernel(images, None, 0, out, size, *args)
            images = out
    trim = (images.shape[1] - ny) // 2
    pre_f, post_f = images[:, trim : trim + ny, trim : trim + nx]
    result = np.empty((3, ny, nx), dtype=np.float32)
    result[0] = post_f
    change = np.subtract(post_f, pre_f, out=result[1])
    usable = ~unfit[inner] & ~np.isnan(post_f) & ~np.isnan(change)
    result[2] = usable
    return result


def _filtered(
    pre_log: xr.DataArray,
    post_log: xr.DataArray,
    unfit: xr.DataArray,
    median_size: int,
    boxcar_size: int,
    radius: int,
    func: str,
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """(filtered post, change, usable) in one window pass (one dask overlap)."""
    depth = max(median_size // 2 + boxcar_size // 2, radius)
    ny, nx = (post_log.sizes[d] for d in SPATIAL_DIMS)
    if depth > min(ny, nx):
        raise ParameterError(
            f"{func}: the filters need a halo of {depth} pixels but the image is {ny}×{nx}; "
            "use smaller median_size/boxcar_size/nodata_buffer or a larger image"
        )
    layers = [
        pre_log.transpose(*SPATIAL_DIMS).astype(np.float32, copy=False),
        post_log.transpose(*SPATIAL_DIMS).astype(np.float32, copy=False),
        unfit.transpose(*SPATIAL_DIMS).astype(np.float32, copy=False),
    ]
    data = [layer.data for layer in layers]
    options = {
        "median_size": median_size,
        "boxcar_size": boxcar_size,
        "radius": radius,
        "depth": depth,
    }
    out: Any
    if any(isinstance(d, dsa.Array) for d in data):
        stacked = dsa.stack([dsa.asarray(d) for d in data]).rechunk({0: -1})
        rechunked, padded = overlapped(stacked, depth, "symmetric")
        out = dsa.map_blocks(
            _filter_block,
            padded,
            **options,
            chunks=((3,), *rechunked.chunks[1:]),
            dtype=np.float32,
            meta=np.empty((0, 0, 0), dtype=np.float32),
        )
    else:
        padded_image = np.empty((3, ny + 2 * depth, nx + 2 * depth), dtype=np.float32)
        for layer, target in zip(data, padded_image, strict=True):
            pad_into(np.ascontiguousarray(layer), depth, target)  # mirrored, as np.pad "symmetric"
        out = _filter_block(padded_image, **options)
    template = layers[1]
    post_f, change, usable = (template.copy(data=out[i]) for i in range(3))
    for da in (post_f, change, usable):
        da.encoding = {}
    return post_f, change, usable > 0


def _unit_range(da: xr.DataArray, mask: xr.DataArray) -> tuple[xr.DataArray, Any, Any]:
    """*da* over the *mask* pixels rescaled to [0, 1] by its exact min and max."""
    values = da.where(mask)
    lo, hi = values.min(), values.max()
    span = (hi - lo).where(hi > lo)
    return ((values - lo) / span).astype(np.float64), lo, span


def _std_from_histogram(hist: xr.DataArray) -> xr.DataArray:
    total = hist.sum()
    n = total.where(total > 0)  # an empty histogram (no usable pixel) gives NaN, not 0/0
    mean = (hist * hist["bin"]).sum() / n
    variance: xr.DataArray = ((hist * hist["bin"] ** 2).sum() / n - mean**2).clip(0)
    return variance**0.5


@dataclass(frozen=True)
class _Prepared:
    """The filtered images of a pre/post pair, lazily, with their masks."""

    post: xr.DataArray  # filtered post-event image (log scale), NaN at nodata
    change: xr.DataArray  # filtered post − filtered pre
    usable: xr.DataArray  # pixels fit for statistics and for the map
    nodata: xr.DataArray  # NaN in either input
    template: xr.DataArray  # the post-event band (dims, coords)
    integer: np.dtype[Any] | None  # dtype of integer chips, else None


def _check_options(
    method: str,
    scale: str,
    median_size: int,
    boxcar_size: int,
    post_offset: float,
    change_offset: float,
    min_size: int,
    nodata_buffer: int,
    func: str,
) -> None:
    if method not in ("auto", "otsu", "ki", "tiled"):
        raise ParameterError(f"{func}: method must be 'auto', 'otsu', 'ki' or 'tiled'")
    if scale not in ("auto", "linear", "db", "log"):
        raise ParameterError(f"{func}: scale must be 'auto', 'linear', 'db' or 'log'")
    for label, value in (("median_size", median_size), ("boxcar_size", boxcar_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
            odd = value + 1 if isinstance(value, int) and value > 1 else 1
            raise ParameterError(
                f"{func}: {label} must be a positive odd integer (1 skips the step), got "
                f"{value!r}; e.g. {label}={odd}"
            )
    for label, value in (("min_size", min_size), ("nodata_buffer", nodata_buffer)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ParameterError(f"{func}: {label} must be an integer >= 0, got {value!r}")
    for label, offset in (("post_offset", post_offset), ("change_offset", change_offset)):
        if not math.isfinite(float(offset)):
            raise ParameterError(f"{func}: {label} must be finite, got {offset!r}")


def _check_region_size(region_size: object, func: str) -> int:
    if isinstance(region_size, bool) or not isinstance(region_size, int | np.integer):
        raise ParameterError(f"{func}: region_size must be an integer >= 64, got {region_size!r}")
    if region_size < 64:
        raise ParameterError(
            f"{func}: region_size must be >= 64 pixels (a region needs enough pixels for its "
            f"histogram), got {region_size}; e.g. region_size=1024"
        )
    return int(region_size)


def _prepare(
    pre: xr.DataArray | xr.Dataset,
    post: xr.DataArray | xr.Dataset,
    band: str | None,
    scale: str,
    median_size: int,
    boxcar_size: int,
    nodata_buffer: int,
    func: str,
) -> _Prepared:
    for name, obj in (("pre", pre), ("post", post)):
        check_xarray(obj, f"{func} ({name})")
        check_spatial(obj, func)
        check_real(obj, func)
    pre_da = _one_date(_select(pre, band, "pre"), "pre")
    post_da = _one_date(_select(post, band, "post"), "post")
    _check_pair(pre_da, post_da, func)
    if scale == "auto" and (pre_da.attrs.get("units") != post_da.attrs.get("units")):
        raise UnitsError(
            f"{func}: pre is in {pre_da.attrs.get('units')!r} and post in "
            f"{post_da.attrs.get('units')!r}; convert one (sarcube.to_db / to_linear)"
        )
    pre_log, pre_ok = _log_scale(pre_da, scale)
    post_log, post_ok = _log_scale(post_da, scale)
    nodata = pre_log.isnull() | post_log.isnull()
    post_f, change, usable = _filtered(
        pre_log,  # NaN in either image is made NaN in both inside the window pass
        post_log,
        ~(pre_ok & post_ok),
        median_size,
        boxcar_size,
        nodata_buffer,
        func,
    )
    integer = post_da.dtype if np.issubdtype(post_da.dtype, np.integer) else None
    return _Prepared(post_f, change, usable, nodata, post_da, integer)


def _finish(
    flooded: xr.DataArray, prep: _Prepared, min_size: int, attrs: dict[str, Any]
) -> xr.DataArray:
    """uint8 map with nodata, small regions removed, the template's coords and CF flags."""
    result = flooded.astype(np.uint8).where(~prep.nodata, np.uint8(NODATA)).astype(np.uint8)
    return _dress(result, prep, min_size, attrs)


def _dress(
    result: xr.DataArray, prep: _Prepared, min_size: int, attrs: dict[str, Any]
) -> xr.DataArray:
    if min_size > 0:
        result = remove_small_regions(result, min_size=min_size)
    template = prep.template
    result = result.transpose(*template.dims)
    result = result.assign_coords(
        {k: v for k, v in template.coords.items() if set(v.dims) <= set(result.dims)}
    )
    result.name = "flood"
    result.attrs = {
        "long_name": "flood map (dark after the event and darker than before)",
        "flag_values": np.array([NO_FLOOD, FLOOD, NODATA], dtype=np.uint8),
        "flag_meanings": "no_flood flood nodata",
        **attrs,
        "min_size": min_size,
    }
    return result


@accepts_geographic
def flood_map(
    pre: xr.DataArray | xr.Dataset,
    post: xr.DataArray | xr.Dataset,
    *,
    band: str | None = None,
    method: Literal["auto", "otsu", "ki", "tiled"] = "auto",
    scale: Literal["auto", "linear", "db", "log"] = "auto",
    median_size: int = 7,
    boxcar_size: int = 5,
    post_offset: float = POST_OFFSET,
    change_offset: float = CHANGE_OFFSET,
    min_size: int = 0,
    nodata_buffer: int = 2,
    tile_sizes: tuple[int, ...] = (256, 128, 64),
    thresholds: Literal["global", "regional"] | xr.Dataset = "global",
    region_size: int = REGION_SIZE,
) -> xr.DataArray:
    """Flood map from a pre-event and a post-event image: dark after **and** darker than before.

    Parameters
    ----------
    pre, post
        Images on one grid: cubes (Datasets; *band* picks the polarisation,
        default VV or HH) or bands. Several pre-event dates (a ``time`` dim)
        are reduced to their median. Calibrated linear power (``units="1"``),
        dB, or integer chips rescaled from dB (e.g. 8-bit exports; their
        extreme values, 0 and 255 for uint8, count as fill and are left out of
        the statistics).
    method
        Threshold selection of ``thresholds="global"``: ``"otsu"``
        (``"auto"``), ``"ki"`` or ``"tiled"`` (see :func:`sarcube.threshold`;
        *tile_sizes* apply).
    scale
        ``"auto"`` reads the ``units`` attr (integers: a log scale already);
        ``"linear"`` converts to dB; ``"db"``/``"log"`` use the values as they are.
    median_size, boxcar_size
        Speckle filter windows (median, then boxcar; 1 skips a step).
    post_offset, change_offset
        Shifts of the two thresholds in standard deviations of the filtered
        post image and of the change image. Negative is stricter.
    min_size
        Flood regions of fewer pixels (8-connected) are removed (0 keeps all).
    nodata_buffer
        Pixels within this distance of nodata or fill values are left out of
        the statistics and mapped as no flood.
    thresholds
        ``"global"``: one pair of thresholds for the image (from its exact
        value range and histogram). ``"regional"``: one pair per region of a
        fixed *region_size* grid, bimodal regions thresholded and the others
        filled from their nearest usable neighbours, interpolated smoothly
        between region centres (see :func:`flood_thresholds`, which returns the
        surface and its diagnostics), or that Dataset itself. On dask input,
        compute the surface first (a small result of one pass) and pass it:
        the map then streams chunk by chunk and memory does not grow with the
        image; with ``"regional"`` or ``"global"`` the filtered chunks wait in
        memory for the threshold reduction of the same graph.
    region_size
        Region side in pixels for ``thresholds="regional"``.

    Returns
    -------
    xarray.DataArray
        uint8: 0 no flood, 1 flood, 255 nodata (NaN in either input), with CF
        ``flag_values``/``flag_meanings`` and the input's coords and CRS. With
        global thresholds also the thresholds as 0-d coords ``post_threshold``
        and ``change_threshold`` (in the filtered images' units; lazy on dask
        input) and ``threshold_fallback`` (true when ``"tiled"`` found no
        bimodal tile).

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((128, 128), seed=1)
    >>> cube = scene.cube
    >>> flooded = flood_map(cube.isel(time=slice(0, -1)), cube.isel(time=-1))
    >>> flooded.dtype.name, flooded.attrs["flag_meanings"]
    ('uint8', 'no_flood flood nodata')
    >>> regional = flood_map(
    ...     cube.isel(time=slice(0, -1)), cube.isel(time=-1), thresholds="regional", region_size=64
    ... )
    >>> regional.attrs["thresholds"], regional.attrs["region_size"]
    ('regional', 64)
    """
    func = "flood_map"
    _check_options(
        method,
        scale,
        median_size,
        boxcar_size,
        post_offset,
        change_offset,
        min_size,
        nodata_buffer,
        func,
    )
    if isinstance(thresholds, xr.Dataset):
        _check_surface(thresholds, func)
        region_size = int(thresholds.attrs["region_size"])
    elif thresholds == "regional":
        region_size = _check_region_size(region_size, func)
    elif thresholds != "global":
        raise ParameterError(
            f"{func}: thresholds must be 'global', 'regional' or a Dataset from "
            f"sarcube.flood_thresholds, got {thresholds!r}"
        )
    prep = _prepare(pre, post, band, scale, median_size, boxcar_size, nodata_buffer, func)
    if isinstance(thresholds, str) and thresholds == "global":
        return _global_map(
            prep, method, post_offset, change_offset, min_size, tile_sizes, median_size, boxcar_size
        )
    if isinstance(thresholds, xr.Dataset):
        surface = thresholds
        _check_surface_grid(surface, prep.template, func)
    else:
        surface = _surface(prep, scale, post_offset, change_offset, region_size, func)
    return _regional_map(prep, surface, min_size, median_size, boxcar_size)


# --------------------------------------------------------------------------
# regional thresholds


def _ranges(prep: _Prepared, scale: str, func: str) -> tuple[tuple[float, float], ...]:
    """Fixed histogram ranges of the filtered post image and of the change."""
    if prep.integer is not None:
        info = np.iinfo(prep.integer)
        lo, hi = float(info.min), float(info.max) + 1.0
        return (lo, hi), (lo - hi, hi - lo)
    if scale == "log" or (
        scale == "auto"
        and prep.template.attrs.get("units") != DB_UNITS
        and prep.template.attrs.get("units") != LINEAR_UNITS
    ):
        raise ParameterError(
            f"{func}: regional thresholds bin float images in dB; pass linear power or dB "
            "(units '1' or 'dB', or scale='linear'/'db'), or integer chips"
        )
    return DB_RANGE, CHANGE_DB_RANGE


def _surface(
    prep: _Prepared,
    scale: str,
    post_offset: float,
    change_offset: float,
    region_size: int,
    func: str,
    tiles: int | None = None,
) -> xr.Dataset:
    ranges = _ranges(prep, scale, func)
    usable = prep.usable.transpose(*SPATIAL_DIMS)
    images = [
        prep.post.transpose(*SPATIAL_DIMS).where(usable),
        prep.change.transpose(*SPATIAL_DIMS).where(usable),
    ]
    data = [im.data for im in images]
    stacked = dsa.stack(data) if isinstance(data[0], dsa.Array) else np.stack(data)
    counts = region_histograms(stacked, region_size, ranges, _BINS, tiles=tiles)
    centres = np.stack([_centres(lo, hi, _BINS) for lo, hi in ranges])
    ny, nx = (prep.template.sizes[d] for d in SPATIAL_DIMS)
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
    return _surface_dataset(packed, prep.template, region_size, ranges, offsets)


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
        },
    )


def _check_surface(surface: xr.Dataset, func: str) -> None:
    missing = [v for v in ("post_threshold", "change_threshold") if v not in surface]
    if missing or "region_size" not in surface.attrs:
        raise ParameterError(
            f"{func}: thresholds= takes the Dataset of sarcube.flood_thresholds (with "
            "post_threshold, change_threshold and attrs region_size); "
            f"missing {missing or ['region_size']}"
        )


def _check_surface_grid(surface: xr.Dataset, template: xr.DataArray, func: str) -> None:
    region = int(surface.attrs["region_size"])
    ny, nx = (template.sizes[d] for d in SPATIAL_DIMS)
    expected = (-(-ny // region), -(-nx // region))
    got = (surface.sizes.get("region_y"), surface.sizes.get("region_x"))
    if got != expected:
        raise GridMismatchError(
            f"{func}: the thresholds are for a {got[0]}×{got[1]} region grid but this "
            f"{ny}×{nx} image has {expected[0]}×{expected[1]} regions of {region} px; compute "
            "them with sarcube.flood_thresholds on these images"
        )


@njit(cache=True, nogil=True, error_model="numpy")
def _regional_block(
    post: np.ndarray,
    change: np.ndarray,
    usable: np.ndarray,
    nodata: np.ndarray,
    grid: np.ndarray,
    y0: int,
    x0: int,
    region: int,
) -> np.ndarray:
    """uint8 map of a (ny, nx) block at (y0, x0) against the interpolated surfaces."""
    ny, nx = post.shape
    post_t = interpolate(grid[0], y0, x0, ny, nx, region)
    change_t = interpolate(grid[1], y0, x0, ny, nx, region)
    out = np.empty((ny, nx), dtype=np.uint8)
    for i in range(ny):
        for j in range(nx):
            if nodata[i, j]:
                out[i, j] = NODATA
            elif (
                usable[i, j]
                and np.float64(post[i, j]) <= post_t[i, j]
                and np.float64(change[i, j]) <= change_t[i, j]
            ):
                out[i, j] = FLOOD
            else:
                out[i, j] = NO_FLOOD
    return out


def _dask_block(
    post: np.ndarray,
    change: np.ndarray,
    usable: np.ndarray,
    nodata: np.ndarray,
    grid: np.ndarray,
    *,
    shape: tuple[int, int, int],
    region: int,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    assert block_info is not None
    (y0, _), (x0, _) = block_info[0]["array-location"]
    return _regional_block(
        post, change, usable, nodata, grid.reshape(shape), int(y0), int(x0), region
    )


def _regional_map(
    prep: _Prepared,
    surface: xr.Dataset,
    min_size: int,
    median_size: int,
    boxcar_size: int,
) -> xr.DataArray:
    region = int(surface.attrs["region_size"])
    grid = xr.concat([surface["post_threshold"], surface["change_threshold"]], "image")
    arrays = [
        prep.post.transpose(*SPATIAL_DIMS).astype(np.float32),
        prep.change.transpose(*SPATIAL_DIMS).astype(np.float32),
        prep.usable.transpose(*SPATIAL_DIMS),
        prep.nodata.transpose(*SPATIAL_DIMS),
    ]
    data = [a.data for a in arrays]
    if isinstance(data[0], dsa.Array):
        # With a computed surface (numpy), nothing here waits for a reduction: the map
        # streams chunk by chunk. A lazy surface joins its reduction pass to the graph.
        flat = dsa.asarray(grid.data).reshape((1, -1)).rechunk(-1)
        first = dsa.asarray(data[0])
        data = [dsa.asarray(d).rechunk(first.chunks) for d in data]  # the window pass may
        out: Any = dsa.map_blocks(  # have merged chunks smaller than its halo
            _dask_block,
            *data,
            flat,
            shape=grid.shape,
            region=region,
            chunks=data[0].chunks,
            dtype=np.uint8,
            meta=np.empty((0, 0), dtype=np.uint8),
        )
    else:
        post, change, usable, nodata = (np.asarray(d) for d in data)
        out = _regional_block(post, change, usable, nodata, np.asarray(grid.values), 0, 0, region)
    result = arrays[0].copy(data=out)
    result.encoding = {}
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


@accepts_geographic
def flood_thresholds(
    pre: xr.DataArray | xr.Dataset,
    post: xr.DataArray | xr.Dataset,
    *,
    band: str | None = None,
    scale: Literal["auto", "linear", "db", "log"] = "auto",
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
        ``flood_map(..., thresholds=surface)``.

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
        "auto", scale, median_size, boxcar_size, post_offset, change_offset, 0, nodata_buffer, func
    )
    region_size = _check_region_size(region_size, func)
    if tiles is not None and (isinstance(tiles, bool) or not isinstance(tiles, int) or tiles < 1):
        raise ParameterError(
            f"{func}: tiles must be a positive integer (chunks per tile side) or None, "
            f"got {tiles!r}"
        )
    prep = _prepare(pre, post, band, scale, median_size, boxcar_size, nodata_buffer, func)
    return _surface(prep, scale, post_offset, change_offset, region_size, func, tiles)


def _global_map(
    prep: _Prepared,
    method: str,
    post_offset: float,
    change_offset: float,
    min_size: int,
    tile_sizes: tuple[int, ...],
    median_size: int,
    boxcar_size: int,
) -> xr.DataArray:
    how = "otsu" if method == "auto" else method
    options: dict[str, Any] = {"method": how, "range": (0.0, 1.0), "bins": _BINS}
    if how == "tiled":
        options.update(criterion="otsu", tile_sizes=tile_sizes)
    conditions = []
    coords: dict[Hashable, Any] = {}
    fallback: Any = False
    for label, image, offset in (
        ("post_threshold", prep.post, post_offset),
        ("change_threshold", prep.change, change_offset),
    ):
        unit, lo, span = _unit_range(image, prep.usable)
        found = threshold(unit, **options)
        std = _std_from_histogram(found["histogram"] if how != "tiled" else _whole(unit))
        cut = found["threshold"] + offset * std
        conditions.append(unit <= cut)
        coords[label] = (lo + cut * span).astype(np.float64)
        if how == "tiled":
            fallback = fallback | found["fallback"]
    flooded = conditions[0] & conditions[1] & prep.usable
    result = _finish(
        flooded,
        prep,
        min_size,
        {
            "method": how,
            "thresholds": "global",
            "median_size": median_size,
            "boxcar_size": boxcar_size,
            "post_offset": float(post_offset),
            "change_offset": float(change_offset),
        },
    )
    result = result.assign_coords(coords)
    return result.assign_coords(threshold_fallback=xr.DataArray(fallback))


def _whole(unit: xr.DataArray) -> xr.DataArray:
    hist: xr.DataArray = histogram(unit, bins=_BINS, range=(0.0, 1.0))
    return hist
