"""Decibel conversion and calibration statistics.

Backscatter in a cube is linear power (``units="1"``); :func:`to_db` and
:func:`to_linear` convert between that and decibels, and :func:`clamp_stats`
computes, in one pass over the data, the statistics a model's input
normalisation needs at several clamp cut-offs.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, TypeVar, cast

import dask.array as dsa
import numpy as np
import xarray as xr
from numba import njit

from ._checks import (
    check_dims_present,
    check_nonempty,
    check_positive_finite,
    check_real,
    check_spatial,
    check_xarray,
    data_arrays,
)
from ._geographic import accepts_geographic
from ._metadata import map_arrays, with_units
from ._reduce import sum_of_blocks
from .conventions import DB_UNITS, LINEAR_UNITS, SPATIAL_DIMS
from .errors import ParameterError, UnitsError

__all__ = ["clamp_stats", "to_db", "to_linear"]

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)


def _as_float(da: xr.DataArray) -> xr.DataArray:
    """Integers become float32 (8-bit chips, DN); floats keep their precision."""
    if np.issubdtype(da.dtype, np.floating):
        return da
    return da.astype(np.float32)


def linear_to_db_values(values: np.ndarray) -> np.ndarray:
    """``10·log10`` of a numpy array of linear power, NaN where not positive.

    One output array of the input's float dtype (float32 for other dtypes);
    log10 never sees a non-positive value, so there are no warnings. The
    block function of :func:`to_db`, for callers that hold plain arrays.
    """
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float32)
    db = np.full(values.shape, np.nan, dtype=values.dtype)
    np.log10(values, out=db, where=values > 0)
    db *= 10
    return db


def linear_to_db_array(da: xr.DataArray) -> xr.DataArray:
    """:func:`linear_to_db_values` over a DataArray, lazily on dask input.

    The one decibel conversion of sarcube: no units check and attrs kept as
    they are (:func:`to_db` adds both), for callers whose input is linear by
    construction (a ratio, a model's calibrated input).
    """
    x = _as_float(da)
    out: xr.DataArray = xr.apply_ufunc(
        linear_to_db_values, x, dask="parallelized", output_dtypes=[x.dtype], keep_attrs=True
    )
    return out


def to_db(obj: XObj) -> XObj:
    """Convert linear power to decibels, ``10·log10(x)``.

    Non-positive values (and NaN) become NaN: they have no decibel value.
    ``units`` becomes ``"dB"`` and ``long_name`` is updated; everything else
    (dims, coords, ``spatial_ref``, other attrs) is kept. Lazy on dask input.

    Parameters
    ----------
    obj
        A cube (Dataset) or a single band (DataArray) in linear power.

    Raises
    ------
    UnitsError
        If a variable already has ``units="dB"``.
    DTypeError
        On complex or non-numeric data.

    Examples
    --------
    >>> import xarray as xr
    >>> da = xr.DataArray([[1.0, 0.1, 0.0]], dims=("y", "x"))
    >>> to_db(da).values.tolist()
    [[0.0, -10.0, nan]]
    """
    check_xarray(obj, "to_db")
    check_real(obj, "to_db")
    for name, da in data_arrays(obj):
        if da.attrs.get("units") == DB_UNITS:
            raise UnitsError(
                f"to_db: variable {name!r} already has units='dB'; it is in decibels already "
                "(call to_linear first, or fix the units attribute)"
            )

    def convert(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        return with_units(linear_to_db_array(da), name, DB_UNITS, da)

    return map_arrays(obj, convert)


def to_linear(obj: XObj) -> XObj:
    """Convert decibels to linear power, ``10^(x/10)``.

    ``units`` becomes ``"1"``; NaN stays NaN. Lazy on dask input.

    Raises
    ------
    UnitsError
        If a variable has a ``units`` attribute other than ``"dB"``.

    Examples
    --------
    >>> import xarray as xr
    >>> da = xr.DataArray([[0.0, -10.0]], dims=("y", "x"), attrs={"units": "dB"})
    >>> to_linear(da).values.round(6).tolist(), to_linear(da).attrs["units"]
    ([[1.0, 0.1]], '1')
    """
    check_xarray(obj, "to_linear")
    check_real(obj, "to_linear")
    for name, da in data_arrays(obj):
        units = da.attrs.get("units", DB_UNITS)
        if units != DB_UNITS:
            raise UnitsError(
                f"to_linear: variable {name!r} has units={units!r}, expected 'dB'; it looks "
                "linear already (set attrs['units']='dB' if the values really are decibels)"
            )

    def convert(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        x = _as_float(da)
        out = cast(xr.DataArray, np.power(x.dtype.type(10), x / 10))
        return with_units(out.astype(x.dtype, copy=False), name, LINEAR_UNITS, da)

    return map_arrays(obj, convert)


# --------------------------------------------------------------------------
# clamp statistics


# Reassociation lets LLVM vectorise the float64 sums; NaN semantics are kept
# (no "nnan"/"ninf" flags) because NaN marks nodata.
_FASTMATH = {"reassoc", "contract", "nsz"}


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _clamp_moments(values: np.ndarray, clamps: np.ndarray) -> np.ndarray:
    """Per row of *values* (lead, n): partial sums for every clamp.

    Layout of the last axis: the valid count, then for each clamp c the sum
    and the sum of squares of min(x, c) over valid pixels and the number of
    valid pixels above c. The inner loop is branch-free (selects on a 1-D
    row), so it vectorises; accumulation is float64.
    """
    lead, n = values.shape
    k = clamps.shape[0]
    out = np.zeros((lead, 1 + 3 * k), dtype=np.float64)
    for i in range(lead):
        row = values[i]
        for c in range(k):
            limit = clamps[c]
            count = 0.0
            total = 0.0
            total_sq = 0.0
            above = 0.0
            for j in range(n):
                v = np.float64(row[j])
                ok = v == v
                hit = v > limit  # False for NaN
                x = limit if hit else v
                x = x if ok else 0.0  # nodata adds nothing
                count += 1.0 if ok else 0.0
                total += x
                total_sq += x * x
                above += 1.0 if hit else 0.0
            if c == 0:
                out[i, 0] = count
            out[i, 1 + 3 * c] = total
            out[i, 2 + 3 * c] = total_sq
            out[i, 3 + 3 * c] = above
    return out


def _block_partials(block: np.ndarray, clamps: np.ndarray, n_reduce: int) -> np.ndarray:
    """Partial sums of one block whose last *n_reduce* axes are reduced.

    Returns shape ``lead + (1,) * n_reduce + (1 + 3k,)`` so dask can sum the
    partials of all blocks along the reduced axes.
    """
    lead = block.shape[: block.ndim - n_reduce]
    flat = np.ascontiguousarray(block).reshape((int(np.prod(lead)), -1))
    if not np.issubdtype(flat.dtype, np.floating):
        flat = flat.astype(np.float32)
    partial = _clamp_moments(flat, clamps)
    return partial.reshape(lead + (1,) * n_reduce + (partial.shape[-1],))


def _partials(data: np.ndarray | dsa.Array, clamps: np.ndarray, n_reduce: int) -> object:
    """Summed partials over the last *n_reduce* axes: shape ``lead + (1 + 3k,)``."""
    k = 1 + 3 * clamps.size
    reduce_axes = tuple(range(data.ndim - n_reduce, data.ndim))
    if isinstance(data, dsa.Array):
        return sum_of_blocks(
            _block_partials,
            data,
            clamps,
            n_reduce,
            out_shape=(k,),
            dtype=np.float64,
            keep=data.ndim - n_reduce,
        )
    return _block_partials(np.asarray(data), clamps, n_reduce).sum(axis=reduce_axes)


@accepts_geographic
def clamp_stats(
    obj: xr.DataArray | xr.Dataset,
    clamps: Sequence[float] = (0.15, 0.3, 0.5),
    *,
    dims: Sequence[Hashable] = SPATIAL_DIMS,
    positive_only: bool = False,
) -> xr.Dataset:
    """Mean, standard deviation and clipped fraction of each band at several clamps.

    For every clamp value ``c`` the data are clamped to ``min(x, c)`` (as
    :func:`sarcube.clamp` does) and the NaN-aware mean and population standard
    deviation (ddof 0) of the clamped values are computed over *dims*, together
    with the fraction of valid pixels strictly above ``c`` (the pixels the clamp
    clips). All clamps and all statistics come from **one pass** over the data:
    each chunk is read once and reduced by one compiled kernel to a few float64
    partial sums, which dask then adds up. The result is lazy on dask input.

    Parameters
    ----------
    obj
        A cube (Dataset: one entry on the ``band`` dim per variable) or a
        DataArray. Linear power is the usual input; any units work.
    clamps
        Clamp cut-offs, in the units of the data.
    dims
        Dimensions to reduce over; the others (e.g. ``time``) are kept.
    positive_only
        Leave out values ``<= 0`` as well as NaN, for products whose fill or
        border pixels are zeros rather than NaN (as walkthroughs that keep
        ``x > 0`` do). Default False: zeros are data.

    Returns
    -------
    xarray.Dataset
        Variables ``mean``, ``std``, ``clipped_fraction`` and ``count`` (valid
        pixels) with dims ``(band, clamp, *kept)`` (``band`` only for a Dataset
        input). A band without valid pixels gets NaN statistics.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.array([[0.1, 0.2], [0.4, np.nan]]), dims=("y", "x"))
    >>> s = clamp_stats(da, clamps=(0.3,))
    >>> round(float(s["mean"][0]), 6), round(float(s["clipped_fraction"][0]), 6)
    (0.2, 0.333333)
    >>> zeros = xr.DataArray(np.array([[0.0, 0.2], [0.4, 0.0]]), dims=("y", "x"))
    >>> [int(clamp_stats(zeros, clamps=(0.3,), positive_only=p)["count"]) for p in (False, True)]
    [4, 2]
    """
    check_xarray(obj, "clamp_stats")
    check_nonempty(obj, "clamp_stats")
    check_real(obj, "clamp_stats")
    dims = tuple(dims)
    if not dims:
        raise ParameterError("clamp_stats: dims is empty; pass dims=('y', 'x') or more")
    if dims == SPATIAL_DIMS:
        check_spatial(obj, "clamp_stats")
    check_dims_present(obj, dims, "clamp_stats")
    clamp_values = np.array(
        [check_positive_finite(c, "each clamp", "clamp_stats") for c in clamps], dtype=np.float64
    )
    if clamp_values.size == 0:
        raise ParameterError("clamp_stats: clamps is empty; pass e.g. clamps=(0.15, 0.3, 0.5)")
    if np.unique(clamp_values).size != clamp_values.size:
        raise ParameterError(
            f"clamp_stats: clamps {tuple(clamps)} has duplicates; pass each clamp once"
        )

    if not isinstance(positive_only, bool):
        raise ParameterError(
            f"clamp_stats: positive_only must be True or False, got {positive_only!r}"
        )

    per_band = []
    kept: list[Hashable] = []
    for _, da in data_arrays(obj):
        kept = [d for d in da.dims if d not in dims]
        arr = da.transpose(*kept, *dims)
        if positive_only:
            arr = arr.where(arr > 0)
        per_band.append(_partials(arr.data, clamp_values, len(dims)))
    first = data_arrays(obj)[0][1]
    # Coordinates along the kept dims (e.g. time and its platform/orbit metadata) stay.
    coords: dict[Hashable, Any] = {
        name: c.variable for name, c in first.coords.items() if c.dims and set(c.dims) <= set(kept)
    }
    coords["clamp"] = xr.Variable("clamp", clamp_values)
    if isinstance(obj, xr.Dataset):
        partials = _stack(per_band)
        lead: tuple[Hashable, ...] = ("band", *kept)
        coords["band"] = [str(name) for name, _ in data_arrays(obj)]
    else:
        partials = per_band[0]
        lead = tuple(kept)
        if obj.name is not None:  # a scalar band label lets NormConfig.from_stats name it
            coords["band"] = str(obj.name)
    out = _finish(partials, clamp_values.size, lead, coords)
    units = {str(da.attrs.get("units", "")) for _, da in data_arrays(obj)}
    if len(units) == 1 and units != {""}:
        out["mean"].attrs["units"] = out["std"].attrs["units"] = units.pop()
    out["clamp"].attrs["long_name"] = "clamp cut-off (values above are set to it)"
    return out


def _stack(arrays: list[Any]) -> Any:
    """Stack per-band partials along a new first axis (numpy or dask)."""
    if any(isinstance(a, dsa.Array) for a in arrays):
        return dsa.stack(arrays)
    return np.stack(arrays)


def _finish(
    partials: Any, k: int, lead: tuple[Hashable, ...], coords: dict[Hashable, Any]
) -> xr.Dataset:
    """Statistics from summed partials ``(*lead, 1 + 3k)``, as a Dataset ``(clamp, *lead)``.

    Plain array arithmetic (numpy or dask alike) keeps the overhead per call
    small; the Dataset is assembled once at the end.
    """
    count = partials[..., 0]
    # A zero count becomes NaN so empty bands give NaN, not a division warning.
    valid = np.where(count > 0, count, np.nan)[..., None]
    mean = partials[..., 1::3] / valid
    var = np.maximum(partials[..., 2::3] / valid - mean**2, 0.0)
    clipped = partials[..., 3::3] / valid
    # ``clamp`` goes after ``band`` (when there is one) and before the kept dims.
    at = 1 if lead[:1] == ("band",) else 0
    dims = (*lead[:at], "clamp", *lead[at:])

    def clamp_axis_in_place(a: Any) -> Any:
        return np.moveaxis(a, -1, at)

    out = xr.Dataset(
        {
            "mean": (dims, clamp_axis_in_place(mean), {"long_name": "mean of the clamped values"}),
            "std": (
                dims,
                clamp_axis_in_place(np.sqrt(var)),
                {"long_name": "standard deviation (ddof=0) of the clamped values"},
            ),
            "clipped_fraction": (
                dims,
                clamp_axis_in_place(clipped),
                {"long_name": "fraction of valid pixels above the clamp", "units": "1"},
            ),
            "count": (
                lead,
                count.astype(np.int64),
                {"long_name": "number of valid (non-NaN) pixels"},
            ),
        },
        coords=coords,
    )
    return out
