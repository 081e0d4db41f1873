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
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr
from scipy import ndimage

from ._checks import check_real, check_spatial, check_xarray
from .change import _check_pair, reduce_time
from .conventions import DB_UNITS, LINEAR_UNITS, SPATIAL_DIMS
from .errors import BandNotFoundError, DimensionError, ParameterError, UnitsError
from .filters import boxcar_filter, median_filter
from .regions import remove_small_regions
from .thresholds import histogram, threshold
from .validate import NODATA

__all__ = ["FLOOD", "NO_FLOOD", "flood_map"]

NO_FLOOD = 0
FLOOD = 1

#: Shift of the post-event threshold, in standard deviations of the filtered post image.
POST_OFFSET = -0.2
#: Shift of the change threshold, in standard deviations of the change image.
CHANGE_OFFSET = 0.4

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
        values = da.astype(np.float32)
        db: xr.DataArray = 10 * xr.apply_ufunc(np.log10, values.where(values > 0), dask="allowed")
        return db, db.notnull()
    out: xr.DataArray = da.astype(np.float32)
    usable = out.notnull()
    if np.issubdtype(da.dtype, np.integer):
        # saturated / fill values of rescaled integer chips carry no backscatter
        info = np.iinfo(da.dtype)
        usable = (da != info.min) & (da != info.max)
    return out, usable


def _grow(bad: Any, radius: int) -> Any:
    """Binary dilation by a (2r+1)² square, exact across chunks."""
    if radius == 0:
        return bad
    size = 2 * radius + 1
    if isinstance(bad, dsa.Array):
        return bad.map_overlap(
            ndimage.maximum_filter, depth=radius, boundary="none", size=size, dtype=bool
        )
    return ndimage.maximum_filter(np.asarray(bad), size=size)


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
        Threshold selection: ``"otsu"`` (``"auto"``), ``"ki"`` or ``"tiled"``
        (see :func:`sarcube.threshold`; *tile_sizes* apply).
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

    Returns
    -------
    xarray.DataArray
        uint8: 0 no flood, 1 flood, 255 nodata (NaN in either input), with CF
        ``flag_values``/``flag_meanings``, the input's coords and CRS, and the
        thresholds as 0-d coords ``post_threshold`` and ``change_threshold``
        (in the filtered images' units; lazy on dask input) and
        ``threshold_fallback`` (true when ``"tiled"`` found no bimodal tile).

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((128, 128), seed=1)
    >>> cube = scene.cube
    >>> flooded = flood_map(cube.isel(time=slice(0, -1)), cube.isel(time=-1))
    >>> flooded.dtype.name, flooded.attrs["flag_meanings"]
    ('uint8', 'no_flood flood nodata')
    """
    func = "flood_map"
    for name, obj in (("pre", pre), ("post", post)):
        check_xarray(obj, f"{func} ({name})")
        check_spatial(obj, func)
        check_real(obj, func)
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
    pre_da = _one_date(_select(pre, band, "pre"), "pre")
    post_da = _one_date(_select(post, band, "post"), "post")
    _check_pair(pre_da, post_da, func)
    if scale == "auto" and (pre_da.attrs.get("units") != post_da.attrs.get("units")):
        raise UnitsError(
            f"{func}: pre is in {pre_da.attrs.get('units')!r} and post in "
            f"{post_da.attrs.get('units')!r}; convert one (sarcube.to_db / to_linear)"
        )
    template = post_da
    pre_log, pre_ok = _log_scale(pre_da, scale)
    post_log, post_ok = _log_scale(post_da, scale)
    nodata = pre_log.isnull() | post_log.isnull()
    usable = pre_ok & post_ok
    bad = (~usable).data
    usable = usable.copy(data=~_grow(bad, nodata_buffer))

    def smooth(da: xr.DataArray) -> xr.DataArray:
        out = da.where(~nodata)
        if median_size > 1:
            out = median_filter(out, size=median_size)
        if boxcar_size > 1:
            out = boxcar_filter(out, size=boxcar_size)
        return out

    post_f = smooth(post_log)
    change = smooth(post_log) - smooth(pre_log)
    usable = usable & post_f.notnull() & change.notnull()

    how = "otsu" if method == "auto" else method
    options: dict[str, Any] = {"method": how, "range": (0.0, 1.0), "bins": _BINS}
    if how == "tiled":
        options.update(criterion="otsu", tile_sizes=tile_sizes)
    conditions = []
    coords: dict[Hashable, Any] = {}
    fallback: Any = False
    for label, image, offset in (
        ("post_threshold", post_f, post_offset),
        ("change_threshold", change, change_offset),
    ):
        unit, lo, span = _unit_range(image, usable)
        found = threshold(unit, **options)
        std = _std_from_histogram(found["histogram"] if how != "tiled" else _whole(unit))
        cut = found["threshold"] + offset * std
        conditions.append(unit <= cut)
        coords[label] = (lo + cut * span).astype(np.float64)
        if how == "tiled":
            fallback = fallback | found["fallback"]
    flooded = conditions[0] & conditions[1] & usable
    result = flooded.astype(np.uint8).where(~nodata, np.uint8(NODATA)).astype(np.uint8)
    if min_size > 0:
        result = remove_small_regions(result, min_size=min_size)
    result = result.transpose(*template.dims)
    result = result.assign_coords(
        {k: v for k, v in template.coords.items() if set(v.dims) <= set(result.dims)}
    )
    result = result.assign_coords(coords)
    result = result.assign_coords(threshold_fallback=xr.DataArray(fallback))
    result.name = "flood"
    result.attrs = {
        "long_name": "flood map (dark after the event and darker than before)",
        "flag_values": np.array([NO_FLOOD, FLOOD, NODATA], dtype=np.uint8),
        "flag_meanings": "no_flood flood nodata",
        "method": how,
        "median_size": median_size,
        "boxcar_size": boxcar_size,
        "post_offset": float(post_offset),
        "change_offset": float(change_offset),
        "min_size": min_size,
    }
    return result


def _whole(unit: xr.DataArray) -> xr.DataArray:
    hist: xr.DataArray = histogram(unit, bins=_BINS, range=(0.0, 1.0))
    return hist
