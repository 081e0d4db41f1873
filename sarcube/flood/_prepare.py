"""The inputs of a flood map: band choice, log scale, the window pass and its checks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .._checks import as_int, check_int, check_real, check_spatial, check_xarray
from ..calibration import linear_to_db_array
from ..change import _check_pair, reduce_time
from ..conventions import DB_UNITS, LINEAR_UNITS, NODATA, SPATIAL_DIMS
from ..errors import (
    BandNotFoundError,
    DimensionError,
    ParameterError,
    UnitsError,
)
from ..regions import remove_small_regions
from ._window import _CHANGE, _NODATA, _POST, _USABLE, _filtered

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
        db = linear_to_db_array(da.astype(np.float32, copy=False))
        db.attrs = {}  # the linear units no longer hold
        return db, None
    out: xr.DataArray = da.astype(np.float32)
    if not np.issubdtype(da.dtype, np.integer):
        return out, None
    info = np.iinfo(da.dtype)
    return out, (da == info.min) | (da == info.max)


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
        number = as_int(value) or 0
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
