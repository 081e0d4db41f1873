"""Change between acquisitions.

Change images compare a pre-event and a post-event image on the same grid:
:func:`difference` (post − pre, in the input's units), :func:`log_ratio`
(``10·log10(post/pre)``, dB) and :func:`normalized_change`
(``(post − pre)/(post + pre)``). :func:`reduce_time` makes a stable pre-event
reference from several dates.

Thresholds for change images are in :mod:`sarcube.thresholds`; the whole flood
mapping chain is :func:`sarcube.flood_map`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, Literal, TypeVar

import dask.array as dsa
import numpy as np
import xarray as xr
from numba import njit

from ._checks import check_real, check_same_grid, check_spatial, check_xarray, data_arrays
from ._deprecation import warn_renamed
from ._geographic import accepts_geographic
from ._metadata import map_arrays, with_units
from .calibration import linear_to_db_array
from .conventions import DB_UNITS, LINEAR_UNITS, SPATIAL_DIMS
from .errors import DimensionError, DTypeError, GridMismatchError, ParameterError, UnitsError

__all__ = [
    "difference",
    "log_ratio",
    "normalised_change",
    "normalized_change",
    "reduce_time",
]

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)


# --------------------------------------------------------------------------
# change images


def _check_pair(pre: Any, post: Any, func: str) -> None:
    """*pre* and *post*: xarray objects on the same grid (dims, shape, y/x coords, CRS)."""
    for name, obj in (("pre", pre), ("post", post)):
        check_xarray(obj, f"{func} ({name})")
        check_spatial(obj, func)
        check_real(obj, func)
    if type(pre) is not type(post):
        raise DTypeError(
            f"{func}: pre is a {type(pre).__name__} but post a {type(post).__name__}; "
            "pass two Datasets or two DataArrays"
        )
    if isinstance(pre, xr.Dataset) and set(pre.data_vars) != set(post.data_vars):
        raise GridMismatchError(
            f"{func}: pre has bands {sorted(map(str, pre.data_vars))} but post has "
            f"{sorted(map(str, post.data_vars))}; select the same bands"
        )
    check_same_grid(
        post,
        pre,
        "post",
        func,
        ref_name="pre",
        fix="load both on one grid (sarcube.load(..., like=) or xarray's reindex_like)",
        reproject_fix="reproject one onto the other's grid first",
    )


def _spatial_only(da: xr.DataArray, name: Hashable, func: str) -> None:
    extra = [d for d in da.dims if d not in SPATIAL_DIMS]
    if extra:
        raise DimensionError(
            f"{func}: {name!r} still has dims {extra}; select one date (isel(time=-1)) or "
            "reduce several with sarcube.reduce_time"
        )


def _pairwise(pre: XObj, post: XObj, func: str, op: Any, units: str, label: str) -> XObj:
    _check_pair(pre, post, func)
    pre_bands = dict(data_arrays(pre))

    def apply(name: Hashable, post_da: xr.DataArray) -> xr.DataArray:
        pre_da = pre_bands[name] if len(pre_bands) > 1 else next(iter(pre_bands.values()))
        _spatial_only(pre_da, "pre", func)
        out: xr.DataArray = op(pre_da.astype(np.float32), post_da.astype(np.float32))
        out = with_units(out, None, units, post_da)
        out.attrs["long_name"] = f"{label} of {name}" if name is not None else label
        return out

    return map_arrays(post, apply)


@accepts_geographic
def difference(pre: XObj, post: XObj) -> XObj:
    """``post − pre`` in the input's units (use dB input for a dB difference).

    Examples
    --------
    >>> import xarray as xr
    >>> pre = xr.DataArray([[-10.0, -12.0]], dims=("y", "x"), attrs={"units": "dB"})
    >>> post = xr.DataArray([[-20.0, -12.5]], dims=("y", "x"), attrs={"units": "dB"})
    >>> difference(pre, post).values.tolist()
    [[-10.0, -0.5]]
    """
    units = str(getattr(post, "attrs", {}).get("units", ""))
    return _pairwise(pre, post, "difference", lambda a, b: b - a, units, "post - pre")


@accepts_geographic
def log_ratio(pre: XObj, post: XObj) -> XObj:
    """``10·log10(post / pre)`` in dB from linear power; non-positive values give NaN.

    Negative where the backscatter dropped (e.g. open flood water).

    Examples
    --------
    >>> import xarray as xr
    >>> pre = xr.DataArray([[0.1, 0.01]], dims=("y", "x"))
    >>> post = xr.DataArray([[0.01, 0.01]], dims=("y", "x"))
    >>> log_ratio(pre, post).values.tolist()
    [[-10.0, 0.0]]
    """
    check_xarray(pre, "log_ratio (pre)")
    check_xarray(post, "log_ratio (post)")
    for name, da in (*data_arrays(pre), *data_arrays(post)):
        if da.attrs.get("units") == DB_UNITS:
            raise UnitsError(
                f"log_ratio: {name!r} is in dB; pass linear power (sarcube.to_linear), or use "
                "sarcube.difference on dB images"
            )

    def op(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
        ratio = b.where((a > 0) & (b > 0)) / a.where((a > 0) & (b > 0))
        return linear_to_db_array(ratio)

    return _pairwise(pre, post, "log_ratio", op, DB_UNITS, "log ratio post/pre")


@accepts_geographic
def normalised_change(pre: XObj, post: XObj) -> XObj:
    """``(post − pre) / (post + pre)`` in [−1, 1] from linear power (NaN where both are 0).

    Examples
    --------
    >>> import xarray as xr
    >>> pre = xr.DataArray([[0.3, 0.1]], dims=("y", "x"))
    >>> post = xr.DataArray([[0.1, 0.1]], dims=("y", "x"))
    >>> normalised_change(pre, post).values.round(3).tolist()
    [[-0.5, 0.0]]
    """

    def op(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
        total = (a + b).where((a + b) != 0)
        result: xr.DataArray = (b - a) / total
        return result

    return _pairwise(pre, post, "normalised_change", op, LINEAR_UNITS, "normalised change")


def normalized_change(pre: XObj, post: XObj) -> XObj:
    """Deprecated: the old spelling of :func:`normalised_change` (same result).

    sarcube spells *normalise* with an *s* throughout (:func:`normalise`).
    It warns with a ``DeprecationWarning`` and will be removed in the next
    release.

    Examples
    --------
    >>> import warnings
    >>> pre = xr.DataArray([[0.3]], dims=("y", "x"))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     normalized_change(pre, pre / 3).values.round(3).tolist()
    [[-0.5]]
    >>> str(caught[0].message)
    'normalized_change is renamed normalised_change; the old name will be removed'
    """
    warn_renamed("normalized_change", "normalised_change")
    return normalised_change(pre, post)


# The two reducers below avoid numpy's warnings for all-NaN slices instead of filtering
# them: ``warnings.catch_warnings`` is not thread-safe, and dask runs them in threads.


@njit(cache=True, nogil=True, error_model="numpy")
def _nanmedian_columns(values: np.ndarray, out: np.ndarray) -> None:
    """Per column of a (dates, pixels) float array: the median of its valid values.

    An insertion sort of the few dates of each pixel; an even count averages the
    two middle values (in float64, as ``numpy.nanmedian`` gives to the last bit
    for float32); a row with no valid value gives NaN.
    """
    if values.shape[0] == 2:  # a pair of dates (the common pre-event case): branch-free
        for p in range(values.shape[1]):
            a = np.float64(values[0, p])
            b = np.float64(values[1, p])
            a_ok = a == a
            b_ok = b == b
            both = (a + b) / 2.0  # the sorted pair's mean: addition commutes exactly
            out[p] = both if a_ok and b_ok else (a if a_ok else b)
        return
    buf = np.empty(values.shape[0], dtype=np.float64)
    for p in range(values.shape[1]):
        c = 0
        for t in range(values.shape[0]):
            v = np.float64(values[t, p])
            if v == v:
                i = c
                while i > 0 and buf[i - 1] > v:
                    buf[i] = buf[i - 1]
                    i -= 1
                buf[i] = v
                c += 1
        if c == 0:
            out[p] = np.nan
        elif c % 2 == 1:
            out[p] = buf[c // 2]
        else:
            out[p] = (buf[c // 2 - 1] + buf[c // 2]) / 2.0


def _quiet_nanmedian(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """nanmedian; pixels that are NaN on every date stay NaN, without a warning."""
    if values.dtype in (np.float32, np.float64) and axis in (-1, values.ndim - 1):
        # dates first: a view of time-major data (as apply_ufunc passes it), no copy
        flat = np.moveaxis(values, -1, 0).reshape((values.shape[-1], -1))
        out = np.empty(flat.shape[1], dtype=values.dtype)
        _nanmedian_columns(flat, out)
        return out.reshape(values.shape[:-1])
    empty = np.isnan(values).all(axis=axis, keepdims=True)
    if not empty.any():
        return np.asarray(np.nanmedian(values, axis=axis))
    result = np.array(np.nanmedian(np.where(empty, 0, values), axis=axis))
    result[np.squeeze(empty, axis=axis)] = np.nan
    return result


def _quiet_nanmean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """nanmean; pixels that are NaN on every date stay NaN (0/0), without a warning."""
    valid = ~np.isnan(values)
    total = np.where(valid, values, 0).sum(axis=axis)
    count = valid.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):  # thread-safe, unlike warnings
        # divided in float64 and cast back, as numpy's nanmean does
        return np.asarray((total / count).astype(total.dtype, copy=False))


def _one_chunk(reducer: Callable[[np.ndarray], np.ndarray], blocks: Any) -> np.ndarray:
    """*reducer* of the one block along a contracted axis (dask passes a list)."""
    while isinstance(blocks, list):
        (blocks,) = blocks
    return reducer(blocks)


@accepts_geographic
def reduce_time(obj: XObj, *, how: Literal["mean", "median"] = "median", dim: str = "time") -> XObj:
    """A NaN-aware temporal mean or median, e.g. a pre-event reference from several dates.

    The median needs the whole time axis in one chunk: dask input is rechunked
    along *dim* only (chunks along y/x are kept, so memory stays bounded).

    Examples
    --------
    >>> cube = sarcube.synthetic.make_scene((32, 32)).cube
    >>> reduce_time(cube.isel(time=[0, 1]))["vv"].dims
    ('y', 'x')
    """
    check_xarray(obj, "reduce_time")
    check_real(obj, "reduce_time")
    if how not in ("mean", "median"):
        raise ParameterError(f"reduce_time: how must be 'mean' or 'median', got {how!r}")
    for name, da in data_arrays(obj):
        if dim not in da.dims:
            raise DimensionError(
                f"reduce_time: {name!r} has no {dim!r} dim (dims {da.dims}); pass dim= one of "
                f"{tuple(da.dims)}, or skip the reduction for a single date"
            )

    reducer = _quiet_nanmedian if how == "median" else _quiet_nanmean

    def reduce(values: Any) -> Any:
        if isinstance(values, dsa.Array):
            # one chunk along time (last): per block, without the copy that
            # dask makes to join a contracted axis's chunks, even a single one
            index = tuple(range(values.ndim))
            return dsa.blockwise(
                functools.partial(_one_chunk, reducer),
                index[:-1],
                values,
                index,
                concatenate=False,
                dtype=values.dtype,
                meta=np.empty((0,) * (values.ndim - 1), dtype=values.dtype),
            )
        return reducer(values)

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        if da.chunks is not None:
            da = da.chunk({dim: -1})
        out: xr.DataArray = xr.apply_ufunc(
            reduce, da, input_core_dims=[[dim]], dask="allowed", keep_attrs=True
        )
        return out.astype(da.dtype)

    return map_arrays(obj, apply)
