"""Global thresholds: three block passes over the window pass's stack.

The passes find the value ranges, the histograms and the map, with two tiny
reductions between them.
"""

from __future__ import annotations

import math
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.base import tokenize
from numba import njit

from .._overlap import KernelByName
from .._reduce import bin_index
from ..conventions import NODATA, SPATIAL_DIMS
from ..thresholds import threshold
from ..thresholds._criteria import CRITERIA
from ._prepare import _BINS, FLOOD, NO_FLOOD, _dress, _Prepared, _std_from_histogram
from ._regional import _centres
from ._window import _CHANGE, _NODATA, _POST, _USABLE

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
        found = CRITERIA[how](hist, centres) if tiled is None else tiled[k]
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
