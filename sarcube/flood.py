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

import functools
import itertools
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.base import tokenize
from numba import njit

from ._checks import check_int, check_optional_int, check_real, check_spatial, check_xarray
from ._deprecation import renamed_keywords
from ._geographic import accepts_geographic
from ._overlap import KernelByName, Pieces, at_least, neighbourhood_map
from ._reduce import bin_index, region_histograms
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
from .filters._dilate import dilate_square
from .filters._median import median_args, median_kernel
from .filters._moments import moments_rule_kernel
from .regional import (
    FIELDS,
    SOURCE_GLOBAL,
    SOURCE_NEIGHBOUR,
    SOURCE_OWN,
    interpolate,
    region_thresholds,
)
from .regions import remove_small_regions
from .thresholds import _CRITERIA, threshold
from .validate import NODATA

__all__ = [
    "FLOOD",
    "NO_FLOOD",
    "REGION_SIZE",
    "flood_halo",
    "flood_map",
    "flood_thresholds",
    "surface_from_images",
    "threshold_images",
]

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


def _log_scale(da: xr.DataArray, units: str) -> tuple[xr.DataArray, xr.DataArray | None]:
    """(values on a log scale as float32 with NaN nodata, fill values of integer chips).

    Float images have no fill value besides NaN (None); in integer chips the
    dtype's extreme values (0 and 255 for uint8) are saturated or fill and
    carry no backscatter.
    """
    attr_units = da.attrs.get("units")
    if units == "auto":
        if np.issubdtype(da.dtype, np.integer):
            units = "log"
        elif attr_units == DB_UNITS:
            units = "db"
        elif attr_units == LINEAR_UNITS:
            units = "linear"
        else:
            raise UnitsError(
                "flood_map: cannot tell whether the float images are linear power or on a "
                "log scale (no 'units' attr); set the attr ('1' or 'dB') or pass "
                "units='linear' or units='db'"
            )
    if units == "linear":
        db: xr.DataArray = xr.apply_ufunc(
            linear_to_db_values,
            da.astype(np.float32, copy=False),
            dask="parallelized",
            output_dtypes=[np.float32],
        )
        return db, None
    out: xr.DataArray = da.astype(np.float32)
    if not np.issubdtype(da.dtype, np.integer):
        return out, None
    info = np.iinfo(da.dtype)
    return out, (da == info.min) | (da == info.max)


#: Layers of the window pass's output (a ``(4, y, x)`` float32 stack).
_POST, _CHANGE, _USABLE, _NODATA = range(4)


@njit(cache=True, nogil=True, error_model="numpy")
def _join_piece(
    pre: np.ndarray,
    post: np.ndarray,
    fill: np.ndarray,
    row: int,
    col: int,
    images: np.ndarray,
    bad: np.ndarray,
) -> None:
    """Copy one piece of a block's neighbourhood into the halo buffers at (*row*, *col*).

    *images* ``(2, H, W)`` get pre and post with NaN where either is NaN;
    *bad* ``(H, W)`` gets 1 there or at a fill value (*fill*: 1 where a pixel of
    an integer chip is a fill value, or empty for float images).
    """
    has_fill = fill.size > 0
    for i in range(pre.shape[0]):
        a_row = pre[i]
        b_row = post[i]
        f_row = fill[i] if has_fill else a_row
        for j in range(pre.shape[1]):
            a = a_row[j]
            b = b_row[j]
            missing = a != a or b != b
            images[0, row + i, col + j] = np.float32(np.nan) if missing else a
            images[1, row + i, col + j] = np.float32(np.nan) if missing else b
            bad[row + i, col + j] = missing or (has_fill and f_row[j] > 0)


@njit(cache=True, nogil=True, error_model="numpy")
def _mirror_edges(
    images: np.ndarray, bad: np.ndarray, depth: int, missing: tuple[bool, bool, bool, bool]
) -> None:
    """Fill the halo the image's edge leaves empty (sides *missing*: top, bottom,
    left, right) by mirroring (the edge pixel repeated, numpy's "symmetric");
    rows first, then columns over every row, as padding the whole image would."""
    height, width = bad.shape
    top, bottom, left, right = missing
    for k in range(depth):
        for flag, dst, src in (
            (top, k, 2 * depth - 1 - k),
            (bottom, height - 1 - k, height - 2 * depth + k),
        ):
            if flag:
                images[:, dst, :] = images[:, src, :]
                bad[dst, :] = bad[src, :]
    for k in range(depth):
        for flag, dst, src in (
            (left, k, 2 * depth - 1 - k),
            (right, width - 1 - k, width - 2 * depth + k),
        ):
            if flag:
                images[:, :, dst] = images[:, :, src]
                bad[:, dst] = bad[:, src]


@njit(cache=True, nogil=True, error_model="numpy")
def _assemble(
    filtered: np.ndarray,
    trim: int,
    bad: np.ndarray,
    pre: np.ndarray,
    post: np.ndarray,
    depth: int,
    out: np.ndarray,
) -> None:
    """The window pass's four layers (see ``_POST`` …) of a block's pixels."""
    nx = out.shape[2]
    for i in range(out.shape[1]):
        pre_row = filtered[0, trim + i, trim : trim + nx]
        post_row = filtered[1, trim + i, trim : trim + nx]
        bad_row = bad[depth + i, depth : depth + nx]
        a_row = pre[i]
        b_row = post[i]
        for j in range(nx):  # branch-free, so that it vectorises
            post_f = post_row[j]
            change = post_f - pre_row[j]
            out[_POST, i, j] = post_f
            out[_CHANGE, i, j] = change
            fit = (bad_row[j] == 0) & (post_f == post_f) & (change == change)
            out[_USABLE, i, j] = np.float32(fit)
            out[_NODATA, i, j] = np.float32((a_row[j] != a_row[j]) | (b_row[j] != b_row[j]))


_NO_FILL = np.empty((0, 0), dtype=np.float32)


def _filter_block(
    pre: Pieces,
    post: Pieces,
    fill: Pieces | None = None,
    *,
    median_size: int,
    boxcar_size: int,
    radius: int,
    depth: int,
) -> np.ndarray:
    """The spatial steps of the flood map on one block and its neighbours' edges.

    *pre*, *post*: the :data:`~sarcube._overlap.Pieces` of a block, float32 on
    a log scale with NaN at nodata (a pixel NaN in one is nodata in both), the
    facing *depth* pixels of its neighbours around it (``None`` past the
    image's edge, where the image is mirrored here; a whole numpy image has no
    neighbours); *fill*, for integer chips, 1 where a pixel is a fill value.
    Returns ``(4, ny, nx)`` for the block's own pixels: the filtered post image
    (median, then boxcar), the change (filtered post − filtered pre), 1 where a
    pixel is usable (no nodata or fill pixel within *radius*, both filtered
    values valid) and 1 at nodata. Median and boxcar commute with the
    mirroring, so one halo of ``median // 2 + boxcar // 2`` serves both filters
    and the result equals filtering the whole image step by step.
    """
    centre_pre, centre_post = pre[1][1], post[1][1]
    assert centre_pre is not None
    assert centre_post is not None
    ny, nx = centre_pre.shape
    images = np.empty((2, ny + 2 * depth, nx + 2 * depth), dtype=np.float32)
    bad = np.empty(images.shape[1:], dtype=np.uint8)
    starts = (0, depth, depth + ny), (0, depth, depth + nx)
    for r, c in itertools.product(range(3), range(3)):
        a, b = pre[r][c], post[r][c]
        if a is not None and b is not None:
            f = _NO_FILL if fill is None else fill[r][c]
            assert f is not None
            _join_piece(a, b, f, starts[0][r], starts[1][c], images, bad)
    missing = (pre[0][1] is None, pre[2][1] is None, pre[1][0] is None, pre[1][2] is None)
    _mirror_edges(images, bad, depth, missing)
    if radius > 0:
        bad = dilate_square(bad, radius)
    for size, kernel, args in (
        (median_size, median_kernel, median_args(median_size) if median_size > 1 else ()),
        (boxcar_size, moments_rule_kernel, (0, 1.0)),
    ):
        if size > 1:
            h = size // 2
            out = np.empty((2, images.shape[1] - 2 * h, images.shape[2] - 2 * h), np.float32)
            kernel(images, None, 0, out, size, *args)
            images = out
    result = np.empty((4, ny, nx), dtype=np.float32)
    trim = (images.shape[1] - ny) // 2
    _assemble(images, trim, bad, centre_pre, centre_post, depth, result)
    return result


def _alone(image: np.ndarray) -> Pieces:
    """The pieces of a whole image: no neighbours."""
    return [[None, None, None], [None, image, None], [None, None, None]]


def _window_depth(median_size: int, boxcar_size: int, radius: int) -> int:
    """The halo of the window pass: the filters in sequence, the nodata buffer beside them."""
    return max(median_size // 2 + boxcar_size // 2, radius)


def flood_halo(
    *, median_size: int = 7, boxcar_size: int = 5, nodata_buffer: int = 2, min_size: int = 0
) -> int:
    """How far (pixels) the flood map of a pixel looks around it, given its thresholds.

    With a threshold surface computed beforehand, the map at a pixel depends
    only on the inputs within this distance: the window pass (median then
    boxcar; the nodata buffer) and, with *min_size*, the extent of a region
    small enough to be removed. A window of the inputs with this many pixels
    around a tile maps the tile exactly (see :func:`sarcube._overlap.tile_map`).

    Examples
    --------
    >>> flood_halo()  # median 7 (3) + boxcar 5 (2), the nodata buffer inside them
    5
    >>> flood_halo(min_size=50) > flood_halo()  # a removable region can reach further
    True
    """
    window = _window_depth(median_size, boxcar_size, nodata_buffer)
    return window + (min_size + 1 if min_size > 0 else 0)


def _filtered(
    pre_log: xr.DataArray,
    post_log: xr.DataArray,
    fill: xr.DataArray | None,
    median_size: int,
    boxcar_size: int,
    radius: int,
    func: str,
) -> Any:
    """The ``(4, y, x)`` float32 stack of :func:`_filter_block` in one window pass.

    One dask overlap on dask input, a numpy array otherwise. *fill* marks the
    fill values of integer chips (None for float images: only NaN is unfit).
    """
    depth = _window_depth(median_size, boxcar_size, radius)
    ny, nx = (post_log.sizes[d] for d in SPATIAL_DIMS)
    if depth > min(ny, nx):
        raise ParameterError(
            f"{func}: the filters need a halo of {depth} pixels but the image is {ny}×{nx}; "
            "use smaller median_size/boxcar_size/nodata_buffer or a larger image"
        )
    layers = [pre_log, post_log] + ([] if fill is None else [fill])
    data = [layer.transpose(*SPATIAL_DIMS).astype(np.float32, copy=False).data for layer in layers]
    options: dict[str, Any] = {
        "median_size": median_size,
        "boxcar_size": boxcar_size,
        "radius": radius,
        "depth": depth,
    }
    if any(isinstance(d, dsa.Array) for d in data):
        # each block with its neighbours' facing edges, read into the halo
        # buffer by the block function (no concatenated copy); the image's edge
        # is mirrored there too (no boundary copies)
        first = dsa.asarray(data[1])
        aligned = [at_least(dsa.asarray(d).rechunk(first.chunks), depth) for d in data]
        return neighbourhood_map(
            functools.partial(_filter_block, **options),
            aligned,
            depth,
            name="flood-window-pass",
            lead=(4,),
            dtype=np.float32,
        )
    return _filter_block(*(_alone(np.ascontiguousarray(d)) for d in data), **options)


def _std_from_histogram(hist: xr.DataArray) -> xr.DataArray:
    total = hist.sum()
    n = total.where(total > 0)  # an empty histogram (no usable pixel) gives NaN, not 0/0
    mean = (hist * hist["bin"]).sum() / n
    variance: xr.DataArray = ((hist * hist["bin"] ** 2).sum() / n - mean**2).clip(0)
    return variance**0.5


@dataclass(frozen=True)
class _Prepared:
    """The filtered images of a pre/post pair, lazily, with their masks."""

    stack: Any  # (4, y, x) float32 numpy or dask: the layers _POST, _CHANGE, _USABLE, _NODATA
    template: xr.DataArray  # the post-event band (dims, coords)
    integer: np.dtype[Any] | None  # dtype of integer chips, else None

    def layer(self, index: int) -> xr.DataArray:
        """One layer of the stack on the template's (y, x) grid."""
        coords = self.template.coords.items()
        return xr.DataArray(
            self.stack[index],
            dims=SPATIAL_DIMS,
            coords={k: v for k, v in coords if set(v.dims) <= set(SPATIAL_DIMS)},
        )

    @property
    def post(self) -> xr.DataArray:
        """Filtered post-event image (log scale), NaN at nodata."""
        return self.layer(_POST)

    @property
    def change(self) -> xr.DataArray:
        """Filtered post − filtered pre."""
        return self.layer(_CHANGE)

    @property
    def usable(self) -> xr.DataArray:
        """Pixels fit for statistics and for the map."""
        return self.layer(_USABLE) > 0

    @property
    def nodata(self) -> xr.DataArray:
        """NaN in either input."""
        return self.layer(_NODATA) > 0


def _check_options(
    method: str,
    units: str,
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
    if units not in ("auto", "linear", "db", "log"):
        raise ParameterError(f"{func}: units must be 'auto', 'linear', 'db' or 'log'")
    for label, value in (("median_size", median_size), ("boxcar_size", boxcar_size)):
        number = value if isinstance(value, int) and not isinstance(value, bool) else 0
        odd = number + 1 if number > 1 else 1
        check_int(
            value, label, func, minimum=1, odd=True, hint=f"1 skips the step; e.g. {label}={odd}"
        )
    for label, value in (("min_size", min_size), ("nodata_buffer", nodata_buffer)):
        check_int(value, label, func, minimum=0)
    for label, offset in (("post_offset", post_offset), ("change_offset", change_offset)):
        if not math.isfinite(float(offset)):
            raise ParameterError(f"{func}: {label} must be finite, got {offset!r}")


def _check_region_size(region_size: object, func: str) -> int:
    hint = "a region needs enough pixels for its histogram; e.g. region_size=1024"
    return check_int(region_size, "region_size", func, minimum=64, hint=hint)


def _prepare(
    pre: xr.DataArray | xr.Dataset,
    post: xr.DataArray | xr.Dataset,
    band: str | None,
    units: str,
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
    if units == "auto" and (pre_da.attrs.get("units") != post_da.attrs.get("units")):
        raise UnitsError(
            f"{func}: pre is in {pre_da.attrs.get('units')!r} and post in "
            f"{post_da.attrs.get('units')!r}; convert one (sarcube.to_db / to_linear)"
        )
    pre_log, pre_fill = _log_scale(pre_da, units)
    post_log, post_fill = _log_scale(post_da, units)
    fills = [f for f in (pre_fill, post_fill) if f is not None]
    fill = fills[0] | fills[1] if len(fills) == 2 else (fills[0] if fills else None)
    stack = _filtered(
        pre_log,  # NaN in either image is made NaN in both inside the window pass
        post_log,
        fill,
        median_size,
        boxcar_size,
        nodata_buffer,
        func,
    )
    integer = post_da.dtype if np.issubdtype(post_da.dtype, np.integer) else None
    return _Prepared(stack, post_da, integer)


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


@renamed_keywords(scale="units")
@accepts_geographic
def flood_map(
    pre: xr.DataArray | xr.Dataset,
    post: xr.DataArray | xr.Dataset,
    *,
    band: str | None = None,
    method: Literal["auto", "otsu", "ki", "tiled"] = "auto",
    units: Literal["auto", "linear", "db", "log"] = "auto",
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
    units
        The images' units: ``"auto"`` reads the ``units`` attr (integers: a
        log scale already); ``"linear"`` converts to dB; ``"db"``/``"log"``
        use the values as they are. Formerly ``scale``; the old name still
        works, with a ``DeprecationWarning``.
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
        surface and its diagnostics), or that Dataset itself: computed on
        these images or on a larger grid that holds them (located by the
        y/x coordinates, see :func:`flood_thresholds`). On dask input,
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
        units,
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
    prep = _prepare(pre, post, band, units, median_size, boxcar_size, nodata_buffer, func)
    if isinstance(thresholds, str) and thresholds == "global":
        return _global_map(
            prep, method, post_offset, change_offset, min_size, tile_sizes, median_size, boxcar_size
        )
    if isinstance(thresholds, xr.Dataset):
        surface = thresholds
        origin = _locate(surface, prep.template, func)
    else:
        surface = _surface(prep, units, post_offset, change_offset, region_size, func)
        origin = (0, 0)
    return _regional_map(prep, surface, min_size, median_size, boxcar_size, origin)


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
    """The pixel grid a surface was made on: its shape and, for regular numeric
    y/x coordinates, the first pixel's coordinates and the step, so that a
    window of that grid can be located (:func:`_locate`)."""
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


# --------------------------------------------------------------------------
# global thresholds: three block passes over the window pass's stack (value
# ranges, histograms, map) with two tiny reductions between them

_EMPTY = math.inf


@njit(cache=True, nogil=True, error_model="numpy")
def _range_kernel(stack: np.ndarray) -> np.ndarray:
    """[min post, −max post, min change, −max change] over the usable pixels (inf: none)."""
    out = np.full(4, _EMPTY)
    for i in range(stack.shape[1]):
        for j in range(stack.shape[2]):
            if stack[_USABLE, i, j] > 0:
                p = np.float64(stack[_POST, i, j])
                c = np.float64(stack[_CHANGE, i, j])
                out[0] = min(out[0], p)
                out[1] = min(out[1], -p)
                out[2] = min(out[2], c)
                out[3] = min(out[3], -c)
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _to_unit(value: np.float32, lo: np.float32, span: np.float32) -> np.float32:
    """*value* rescaled to [0, 1] by the image's range, in float32 (NaN span: NaN)."""
    return np.float32(np.float32(value - lo) / span)


@njit(cache=True, nogil=True, error_model="numpy")
def _histogram_of_units(stack: np.ndarray, unit: np.ndarray, nbins: int) -> np.ndarray:
    """Counts of the usable pixels' unit values, ``nbins`` equal bins over [0, 1] per image.

    The binning of :func:`sarcube.histogram` over ``range=(0, 1)``.
    """
    out = np.zeros(2 * nbins, dtype=np.float64)
    scale = nbins / (1.0 - 0.0)
    lo_p, span_p = np.float32(unit[0]), np.float32(unit[1])
    lo_c, span_c = np.float32(unit[2]), np.float32(unit[3])
    for i in range(stack.shape[1]):
        for j in range(stack.shape[2]):
            if stack[_USABLE, i, j] > 0:
                u = _to_unit(stack[_POST, i, j], lo_p, span_p)
                if u == u:
                    out[bin_index(np.float64(u), 0.0, scale, nbins)] += 1.0
                u = _to_unit(stack[_CHANGE, i, j], lo_c, span_c)
                if u == u:
                    out[nbins + bin_index(np.float64(u), 0.0, scale, nbins)] += 1.0
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _units(stack: np.ndarray, unit: np.ndarray, k: int) -> np.ndarray:
    """Unit values of image *k* (0 post, 1 change) as float64, NaN where not usable."""
    out = np.full(stack.shape[1:], np.nan)
    lo, span = np.float32(unit[2 * k]), np.float32(unit[2 * k + 1])
    for i in range(stack.shape[1]):
        for j in range(stack.shape[2]):
            if stack[_USABLE, i, j] > 0:
                out[i, j] = _to_unit(stack[_POST + k, i, j], lo, span)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _global_block(stack: np.ndarray, params: np.ndarray) -> np.ndarray:
    """uint8 map of a block: usable, unit post <= its cut and unit change <= its cut."""
    lo_p, span_p, cut_p = np.float32(params[0]), np.float32(params[1]), params[2]
    lo_c, span_c, cut_c = np.float32(params[3]), np.float32(params[4]), params[5]
    out = np.empty(stack.shape[1:], dtype=np.uint8)
    for i in range(stack.shape[1]):
        for j in range(stack.shape[2]):
            if stack[_NODATA, i, j] > 0:
                out[i, j] = NODATA
            elif (
                stack[_USABLE, i, j] > 0
                and np.float64(_to_unit(stack[_POST, i, j], lo_p, span_p)) <= cut_p
                and np.float64(_to_unit(stack[_CHANGE, i, j], lo_c, span_c)) <= cut_c
            ):
                out[i, j] = FLOOD
            else:
                out[i, j] = NO_FLOOD
    return out


def _unit_params(ranges: np.ndarray) -> np.ndarray:
    """[lo, span] of the post image and of the change, float32 values (NaN span: no range)."""
    out = np.full(4, np.nan)
    for k in range(2):
        if np.isfinite(ranges[2 * k]):
            lo, hi = np.float32(ranges[2 * k]), np.float32(-ranges[2 * k + 1])
            out[2 * k] = lo
            out[2 * k + 1] = np.float32(hi - lo) if hi > lo else np.nan
    return out


def _cuts(
    counts: np.ndarray,
    unit: np.ndarray,
    tiled: np.ndarray | None = None,
    *,
    how: str,
    offsets: tuple[float, float],
) -> np.ndarray:
    """[lo, span, cut] per image, then both thresholds in the images' units, then fallback.

    The cut is the criterion's threshold on the unit histogram (or the tiled
    selection's, *tiled* ``[post, change, fallback post, fallback change]``)
    shifted by the offset in standard deviations of the unit values.
    """
    centres = _centres(0.0, 1.0, _BINS)
    out = np.empty(9)
    for k in range(2):
        hist = counts[k * _BINS : (k + 1) * _BINS]
        found = _CRITERIA[how](hist, centres) if tiled is None else tiled[k]
        std = _std_from_histogram(xr.DataArray(hist, dims="bin", coords={"bin": centres}))
        cut = found + offsets[k] * float(std)
        lo, span = unit[2 * k], unit[2 * k + 1]
        out[3 * k : 3 * k + 3] = lo, span, cut
        out[6 + k] = lo + cut * span
    out[8] = 0.0 if tiled is None else float(tiled[2] > 0 or tiled[3] > 0)
    return out


def _one(block: Any) -> np.ndarray:
    """The block of a contracted blockwise index with one chunk (dask passes a list)."""
    while isinstance(block, list):
        (block,) = block
    return np.asarray(block)


class _OnBlock:
    """*kernel* of one block of the stack and whole 1-d small arrays, as blockwise calls it.

    ``concatenate=False`` hands the one-chunk layer and parameter axes over as
    (nested) lists, unwrapped here: dask's concatenation would copy every
    block of the stack. With *size*, the kernel's 1-d result becomes a
    ``(1, 1, size)`` block. A module-level callable with a cheap token: the
    kernel travels by name (:class:`~sarcube._overlap.KernelByName`), and
    building the graph does not pickle a closure to name it.
    """

    __slots__ = ("args", "kernel", "kwargs", "size")

    def __init__(
        self, kernel: Any, *, args: tuple[Any, ...] = (), size: int | None = None, **kwargs: Any
    ) -> None:
        self.kernel = KernelByName.wrap(kernel)
        self.args = args
        self.size = size
        self.kwargs = kwargs

    def __call__(self, block: Any, *small: Any) -> np.ndarray:
        values = (_one(a) for a in small)
        result = np.asarray(self.kernel(_one(block), *values, *self.args, **self.kwargs))
        return result if self.size is None else result.reshape((1, 1, self.size))

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (
            tokenize(self.kernel),
            self.args,
            self.size,
            sorted(self.kwargs.items()),
        )


def _per_block(kernel: Any, stack: Any, *small: Any, size: int, **kwargs: Any) -> Any:
    """A dask array of *kernel*'s 1-d result of *size* values for every block of *stack*."""
    return dsa.blockwise(
        _OnBlock(kernel, size=size, **kwargs),
        "yxr",
        stack,
        "kyx",
        *[a for s in small for a in (s.rechunk(-1), "p")],
        concatenate=False,
        new_axes={"r": size},
        adjust_chunks={"y": 1, "x": 1},
        dtype=np.float64,
        meta=np.empty((0, 0, 0), dtype=np.float64),
    )


def _per_pixel(kernel: Any, stack: Any, small: Any, *args: Any, dtype: Any) -> Any:
    """A dask ``(y, x)`` array of *kernel* on every block of *stack* and the 1-d *small*."""
    return dsa.blockwise(
        _OnBlock(kernel, args=args),
        "yx",
        stack,
        "kyx",
        small.rechunk(-1),
        "p",
        concatenate=False,
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


def _small(func: Any, *arrays: Any, size: int, **kwargs: Any) -> Any:
    """*func* of whole small 1-d dask arrays: a lazy 1-d float64 result of *size* values.

    One task; blockwise keeps the inputs' keys, so the blocks they come from are
    computed once for the whole graph.
    """
    indices = "abc"[: len(arrays)]
    pairs = [a for index, array in zip(indices, arrays, strict=True) for a in (array, index)]
    return dsa.blockwise(
        func,
        "r",
        *pairs,
        new_axes={"r": size},
        concatenate=True,
        dtype=np.float64,
        meta=np.empty((0,), dtype=np.float64),
        **kwargs,
    )


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
    offsets = (float(post_offset), float(change_offset))
    stack = prep.stack
    lazy = isinstance(stack, dsa.Array)
    if lazy:
        ranges = _per_block(_range_kernel, stack, size=4).min(axis=(0, 1))
        unit = _small(_unit_params, ranges, size=4)
        counts = _per_block(_histogram_of_units, stack, unit, nbins=_BINS, size=2 * _BINS)
        counts = counts.sum(axis=(0, 1))
    else:
        unit = _unit_params(_range_kernel(stack))
        counts = _histogram_of_units(stack, unit, _BINS)
    tiled: Any = None
    if how == "tiled":
        found = []
        for k in range(2):
            if lazy:
                units: Any = _per_pixel(_units, stack, unit, k, dtype=np.float64)
            else:
                units = _units(stack, unit, k)
            picked = threshold(
                xr.DataArray(units, dims=SPATIAL_DIMS),
                method="tiled",
                criterion="otsu",
                tile_sizes=tile_sizes,
                range=(0.0, 1.0),
                bins=_BINS,
            )
            found.append(picked)
        parts = [f["threshold"].data for f in found] + [f["fallback"].data for f in found]
        tiled = dsa.stack(parts) if lazy else np.stack(parts).astype(np.float64)
    if lazy:
        extra = () if tiled is None else (tiled,)
        params: Any = _small(_cuts, counts, unit, *extra, how=how, offsets=offsets, size=9)
        out: Any = _per_pixel(_global_block, stack, params, dtype=np.uint8)
    else:
        params = _cuts(counts, unit, tiled, how=how, offsets=offsets)
        out = _global_block(stack, params)
    result = prep.layer(_POST).copy(data=out)
    result = _dress(
        result,
        prep,
        min_size,
        {
            "method": how,
            "thresholds": "global",
            "median_size": median_size,
            "boxcar_size": boxcar_size,
            "post_offset": offsets[0],
            "change_offset": offsets[1],
        },
    )
    return result.assign_coords(
        post_threshold=xr.DataArray(params[6]),
        change_threshold=xr.DataArray(params[7]),
        threshold_fallback=xr.DataArray(params[8] > 0),
    )
