"""Local speckle filters: Lee family, refined Lee, Frost, Gamma-MAP, boxcar, median.

Every filter works on a Dataset (each variable) or a DataArray with ``y``/``x``
dims and any leading dims, in memory or lazily on dask; the result does not
depend on the chunking (halos come from neighbouring chunks, the outer edge is
mirrored with the edge pixel repeated, as numpy's ``pad(mode="symmetric")`` /
scipy.ndimage's ``mode="reflect"``). NaN is nodata: windows ignore it and NaN
pixels stay NaN. Output is float32 with the input's dims, coords and attrs.

The filters that model multiplicative speckle (all but boxcar, median and the
tutorial Lee variant) need linear power: they refuse ``units="dB"`` before
anything is built, and negative values — in memory at once, on dask chunk by
chunk when computed.

References
----------
- Lee, J.-S. (1980), Digital image enhancement and noise filtering by use of
  local statistics, IEEE TPAMI 2(2). — classic Lee.
- Lee, J.-S. (1981), Refined filtering of image noise using local statistics,
  CGIP 15. — edge-aligned windows.
- Frost, V. S. et al. (1982), A model for radar images and its application to
  adaptive digital filtering of multiplicative noise, IEEE TPAMI 4(2).
- Lopes, A., Touzi, R., Nezry, E. (1990), Adaptive speckle filters and scene
  heterogeneity, IEEE TGRS 28(6). — enhanced Lee and Gamma-MAP.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any, Literal, TypeVar

import dask.array as dsa
import numpy as np
import xarray as xr

from .._checks import (
    check_int,
    check_positive_finite,
    check_real,
    check_spatial,
    check_xarray,
    data_arrays,
)
from .._geographic import accepts_geographic
from .._metadata import map_arrays
from .._overlap import apply_window_kernel, check_window_fits, lead_params, overlapped
from .._reduce import sum_of_blocks
from ..calibration import _partials
from ..conventions import DB_UNITS, SPATIAL_DIMS
from ..errors import ParameterError, UnitsError
from . import _enl, _frost, _moments, _refined_lee
from ._median import median_args, median_kernel

__all__ = [
    "boxcar_filter",
    "estimate_enl",
    "frost_filter",
    "gamma_map_filter",
    "lee_filter",
    "median_filter",
    "refined_lee",
]

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)
LeeVariant = Literal["classic", "enhanced", "tutorial"]

_RULES = {"boxcar": 0, "tutorial": 1, "classic": 2, "enhanced": 3, "gamma_map": 4}


# --------------------------------------------------------------------------
# validation


def _check_input(obj: object, func: str, *, linear: bool) -> None:
    check_xarray(obj, func)
    assert isinstance(obj, xr.DataArray | xr.Dataset)
    check_spatial(obj, func)
    check_real(obj, func)
    if linear:
        for name, da in data_arrays(obj):
            if da.attrs.get("units") == DB_UNITS:
                raise UnitsError(
                    f"{func}: variable {name!r} is in dB, but this filter models multiplicative "
                    "speckle on linear power; call sarcube.to_linear first"
                )
            if not isinstance(da.data, dsa.Array):  # in memory: check the values now
                _nonnegative_block(np.asarray(da.data), func, name)


def _nonnegative_block(block: np.ndarray, func: str, name: Hashable) -> np.ndarray:
    """*block* unchanged, or UnitsError when it holds a negative value (NaN is nodata)."""
    negative = block < 0
    if negative.any():
        raise UnitsError(
            f"{func}: variable {name!r} holds negative values (e.g. {block[negative].flat[0]}), "
            "but linear power is >= 0; if the values are dB, set attrs['units']='dB' and call "
            "sarcube.to_linear; clip noise-removal residuals with obj.clip(min=0)"
        )
    return block


def _nonnegative(da: xr.DataArray, func: str) -> xr.DataArray:
    """*da*, checked for negative values chunk by chunk when computed (dask input).

    In-memory input was checked by :func:`_check_input` already.
    """
    if not isinstance(da.data, dsa.Array):
        return da
    checked = dsa.map_blocks(_nonnegative_block, da.data, func, da.name, dtype=da.dtype)
    return da.copy(data=checked)


def _check_size(size: object, func: str, *, even: bool = False) -> int:
    """A window size: odd and >= 3, or with *even* any integer >= 2.

    An even window has no centre pixel: as in ``scipy.ndimage.uniform_filter``,
    a window of size ``n`` covers ``n // 2`` pixels before the output pixel and
    ``n // 2 - 1`` after it (on both axes).
    """
    if even:
        return check_int(size, "size", func, minimum=2)
    number = check_int(size, "size", func)
    hint = f"the window is centred; use size={max(3, number + 1 - number % 2)}"
    return check_int(number, "size", func, minimum=3, odd=True, hint=hint)


def _fits(obj: xr.DataArray | xr.Dataset, depth: int, func: str) -> None:
    for _, da in data_arrays(obj):
        check_window_fits(da, depth, func)


def _tag(da: xr.DataArray, source: xr.DataArray, description: str) -> xr.DataArray:
    da.attrs = {**source.attrs, "speckle_filter": description}
    return da


# --------------------------------------------------------------------------
# ENL estimation


_LOG_CV2_RANGE = (-5.0, 3.0)
_N_BINS = 4000


@functools.cache
def _bin_table() -> np.ndarray:
    """The table giving each float32 CV² the bin of ``log10(CV²)`` (built once per process)."""
    lo, hi = _LOG_CV2_RANGE
    return _enl.log_bin_table(lo, _N_BINS / (hi - lo), _N_BINS)


def _cv2_counts(stack: np.ndarray, pad: int, size: int) -> np.ndarray:
    """(n, Y, X) float32 -> (n, nbins) histogram counts of the window CV²."""
    counts = np.empty((stack.shape[0], _N_BINS), dtype=np.float64)
    _enl.cv2_histogram_kernel(stack, pad, counts, size, _bin_table())
    return counts


def _block_histogram(
    block: np.ndarray,
    *,
    size: int,
    depth: int,
    rows: tuple[int, ...],
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """Counts of one dask block that carries its halo, as ``(*lead, 1, 1, nbins)``.

    The halo is the window's half-width in x and *depth* rows in y: the
    half-width plus, where there are several row chunks, ``ANCHOR - 1`` rows,
    so that the kernel's running sums start at the same rows as on any other
    chunking. *rows*: the row chunks of the array without halo.
    """
    assert block_info is not None
    lead = block.shape[:-2]
    stack = np.ascontiguousarray(block.reshape((-1, *block.shape[-2:])), dtype=np.float32)
    index = block_info[0]["chunk-location"][-2]
    y0 = sum(rows[:index])
    h = size // 2
    counts = np.empty((stack.shape[0], _N_BINS), dtype=np.float64)
    _enl.cv2_histogram_kernel(
        stack,
        0,
        counts,
        size,
        _bin_table(),
        y0 - depth + h,  # the block's first row in the padded image
        depth - h,  # where its own windows start
        rows[index],
    )
    return counts.reshape((*lead, 1, 1, _N_BINS))


def _anchored(data: dsa.Array, size: int) -> tuple[dsa.Array, dsa.Array, int]:
    """*data* and its blocks with the halo of :func:`_block_histogram` (symmetric edge)."""
    h = size // 2
    wide = h + _enl.ANCHOR - 1
    y = data.ndim - 2
    if len(data.chunks[y]) == 1 or data.shape[y] < 2 * wide:
        data, depth = data.rechunk({y: -1}), h  # one chunk: it starts at the first anchor
    else:
        depth = wide
    data, padded = overlapped(data, (depth, h), "symmetric")
    return data, padded, depth


def _enl_from_counts(counts: np.ndarray) -> np.ndarray:
    """1 / median of the local CV², the median read off the cumulative histogram."""
    edges = np.linspace(_LOG_CV2_RANGE[0], _LOG_CV2_RANGE[1], _N_BINS + 1)
    total = counts.sum(axis=-1, keepdims=True)
    cum = np.cumsum(counts, axis=-1)
    half = total / 2.0
    idx = np.argmax(cum >= half, axis=-1)
    below = np.take_along_axis(cum, idx[..., None], axis=-1) - np.take_along_axis(
        counts, idx[..., None], axis=-1
    )
    inside = np.take_along_axis(counts, idx[..., None], axis=-1)
    frac = np.where(inside > 0, (half - below) / np.where(inside > 0, inside, 1.0), 0.5)
    log_median = edges[idx] + frac[..., 0] * (edges[1] - edges[0])
    enl = np.where(total[..., 0] > 0, 10.0 ** (-log_median), np.nan)
    return np.asarray(enl, dtype=np.float64)


def _enl_array(da: xr.DataArray, size: int) -> xr.DataArray:
    lead = [d for d in da.dims if d not in SPATIAL_DIMS]
    data = da.transpose(*lead, *SPATIAL_DIMS).data
    if isinstance(data, dsa.Array):
        nd = data.ndim
        # the blocks with their (anchored) halo; one histogram per block
        data, padded, depth = _anchored(data.astype(np.float32), size)
        counts: Any = sum_of_blocks(
            _block_histogram,
            padded,
            size=size,
            depth=depth,
            rows=data.chunks[-2],
            out_shape=(_N_BINS,),
            dtype=np.float64,
            keep=nd - 2,
        )
        enl: Any = dsa.map_blocks(
            _enl_from_counts, counts.rechunk({nd - 2: -1}), drop_axis=nd - 2, dtype=np.float64
        )
    else:
        image = np.asarray(data, dtype=np.float32)
        stack = np.ascontiguousarray(image.reshape((-1, *image.shape[-2:])))
        counts = _cv2_counts(stack, size // 2, size).reshape((*image.shape[:-2], _N_BINS))
        enl = _enl_from_counts(counts)
    coords = {name: c for name, c in da.coords.items() if c.dims and set(c.dims) <= set(lead)}
    return xr.DataArray(
        enl,
        dims=lead,
        coords=coords,
        name=da.name,
        attrs={"long_name": "equivalent number of looks (1 / median local CV²)", "units": "1"},
    )


@accepts_geographic
def estimate_enl(obj: XObj, *, size: int = 7) -> XObj:
    """Estimate the equivalent number of looks (ENL) of each image, lazily.

    The squared coefficient of variation ``CV² = var / mean²`` is computed in
    every ``size × size`` window whose pixels are all valid; the ENL of the
    image (per leading index, e.g. per time step) is ``1 / median(CV²)``. The
    median comes from a histogram of ``log10(CV²)`` (4000 bins over
    [1e-5, 1e3], read with linear interpolation), so it is one lazy pass with
    bounded memory. The estimate is the same to the last bit on any chunking:
    each window's sums are computed in an order fixed by its place in the
    image, not by its block. (Each CV² is binned as it is computed, from its
    float32 bit pattern through a table equal to the logarithm's bins: the
    pass costs about 0.9 of a Lee filter.) Windows with
    ``CV² < 1e-5`` (constant up to rounding, an ENL above 100 000) are left
    out, as are windows with nodata; an image with no other window gives NaN.
    In homogeneous areas
    ``CV² = 1 / ENL``; texture raises it, so on heterogeneous scenes this
    estimate is biased low — pass ``enl=`` to the filters when the product's
    ENL is known (Sentinel-1 IW GRDH: 4.4).

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((128, 128), looks=4.4)
    >>> float(estimate_enl(scene.cube["vv"]).isel(time=0)) > 2
    True
    """
    func = "estimate_enl"
    _check_input(obj, func, linear=True)
    size = _check_size(size, func, even=True)
    _fits(obj, size // 2, func)
    if isinstance(obj, xr.Dataset):
        return xr.Dataset(
            {name: _enl_array(_nonnegative(obj[name], func), size) for name in obj.data_vars}
        )
    return _enl_array(_nonnegative(obj, func), size)


def _image_moments(da: xr.DataArray) -> tuple[Any, Any]:
    """NaN-aware mean and population variance of each (y, x) image, lazily, as ``(*lead, 1)``.

    One pass of the clamp-statistics kernel with no clamp (an infinite one):
    count, sum and sum of squares in float64.
    """
    lead = [d for d in da.dims if d not in SPATIAL_DIMS]
    parts: Any = _partials(da.transpose(*lead, *SPATIAL_DIMS).data, np.array([np.inf]), 2)
    count = parts[..., 0:1]
    valid = np.where(count > 0, count, np.nan)
    mean = parts[..., 1:2] / valid
    return mean, np.maximum(parts[..., 2:3] / valid - mean**2, 0.0)


def _inverse_enl(da: xr.DataArray, enl: float | None, size: int) -> Any:
    """Per-image 1/ENL as kernel parameters: from *enl*, or estimated lazily."""
    if enl is not None:
        lead_shape = tuple(n for d, n in da.sizes.items() if d not in SPATIAL_DIMS)
        return np.full((*lead_shape, 1), 1.0 / enl)
    return lead_params([1.0 / _enl_array(da, size)], da)


# --------------------------------------------------------------------------
# filters


@accepts_geographic
def lee_filter(
    obj: XObj,
    *,
    size: int = 7,
    variant: LeeVariant = "classic",
    enl: float | None = None,
    damping: float = 1.0,
) -> XObj:
    """Lee speckle filter (three variants), NaN-aware and chunk-invariant.

    Local mean ``m`` and variance ``v`` (ddof 0) are taken over the valid
    pixels of a ``size × size`` window.

    ``"classic"`` (Lee 1980)
        Minimum-mean-square-error filter for multiplicative speckle with
        coefficient of variation ``Cu = 1/sqrt(ENL)``:
        ``w = (v - m²Cu²) / ((1 + Cu²) v)`` clipped to [0, 1], output
        ``m + w (x - m)``. Needs linear power.
    ``"enhanced"`` (Lopes et al. 1990)
        With ``Ci = sqrt(v)/m`` and ``Cmax = sqrt(1 + 2/ENL)``: ``m`` where
        ``Ci <= Cu`` (homogeneous), ``x`` where ``Ci >= Cmax`` (point target),
        else ``m w + x (1 - w)`` with ``w = exp(-damping (Ci - Cu)/(Cmax - Ci))``.
        Needs linear power.
    ``"tutorial"``
        The variant of widely circulated SAR teaching notebooks, kept for
        reproducibility: ``σ²`` is the NaN-aware population variance of the
        whole image (each 2-D image, i.e. per leading index; a lazy global
        reduction), ``w = v² / (v² + σ⁴)``, output ``m + w (x - m)``. Works in
        any units.

    Parameters
    ----------
    obj
        Cube or band(s), dims ``(..., y, x)``.
    size
        Window size (>= 2). An even size (e.g. 6, as in window sweeps that use
        ``scipy.ndimage.uniform_filter``) covers ``size // 2`` pixels before
        each pixel and ``size // 2 - 1`` after it, as scipy does.
    variant
        ``"classic"``, ``"enhanced"`` or ``"tutorial"``.
    enl
        Equivalent number of looks; default: estimated per image with
        :func:`estimate_enl` (lazily). Not used by ``"tutorial"``.
    damping
        Damping factor K of the enhanced variant.

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((64, 64), seed=1)
    >>> out = lee_filter(scene.cube, size=5, enl=4.4)
    >>> out["vv"].dtype, bool(out["vv"].std() < scene.cube["vv"].std())
    (dtype('float32'), True)
    """
    func = "lee_filter"
    if variant not in ("classic", "enhanced", "tutorial"):
        raise ParameterError(
            f"{func}: unknown variant {variant!r}; use 'classic', 'enhanced' or 'tutorial'"
        )
    _check_input(obj, func, linear=variant != "tutorial")
    size = _check_size(size, func, even=True)
    enl_value = None if enl is None else check_positive_finite(enl, "enl", func)
    damping = check_positive_finite(damping, "damping", func)
    _fits(obj, size // 2, func)
    description = f"lee(variant={variant}, size={size}" + (
        ")" if variant == "tutorial" else f", enl={enl_value or 'estimated'})"
    )

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        source = da
        if variant != "tutorial":
            da = _nonnegative(da, func)
        # tutorial: σ² of the image; the others: 1/ENL
        params = (
            _image_moments(da)[1] if variant == "tutorial" else _inverse_enl(da, enl_value, size)
        )
        out = apply_window_kernel(
            da,
            _moments.moments_rule_kernel,
            size // 2,
            params=params,
            args=(size, _RULES[variant], damping),
        )
        return _tag(out, source, description)

    return map_arrays(obj, apply)


@accepts_geographic
def gamma_map_filter(obj: XObj, *, size: int = 7, enl: float | None = None) -> XObj:
    """Gamma-MAP speckle filter (Lopes et al. 1990), NaN-aware and chunk-invariant.

    Maximum a posteriori estimate under gamma-distributed scene reflectivity and
    speckle with ``L = ENL`` looks. With ``Cu = 1/sqrt(L)``, ``Ci = sqrt(v)/m``
    and ``Cmax = sqrt(1 + 2/L)``: ``m`` where ``Ci <= Cu``, ``x`` where
    ``Ci >= Cmax``, else ``(b m + sqrt(m² b² + 4 α L m x)) / (2α)`` with
    ``α = (1 + Cu²)/(Ci² - Cu²)`` and ``b = α - L - 1``. Needs linear power.

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((64, 64), seed=1)
    >>> bool(gamma_map_filter(scene.cube["vh"], enl=4.4).std() < scene.cube["vh"].std())
    True
    """
    func = "gamma_map_filter"
    _check_input(obj, func, linear=True)
    size = _check_size(size, func, even=True)
    enl_value = None if enl is None else check_positive_finite(enl, "enl", func)
    _fits(obj, size // 2, func)

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        checked = _nonnegative(da, func)
        out = apply_window_kernel(
            checked,
            _moments.moments_rule_kernel,
            size // 2,
            params=_inverse_enl(checked, enl_value, size),
            args=(size, _RULES["gamma_map"], 1.0),
        )
        return _tag(out, da, f"gamma_map(size={size}, enl={enl_value or 'estimated'})")

    return map_arrays(obj, apply)


@accepts_geographic
def boxcar_filter(obj: XObj, *, size: int = 7) -> XObj:
    """Mean of the valid pixels in a ``size × size`` window (any units).

    Examples
    --------
    >>> import xarray as xr
    >>> da = xr.DataArray(np.arange(9.0).reshape(3, 3), dims=("y", "x"))
    >>> float(boxcar_filter(da, size=3)[1, 1])
    4.0
    """
    func = "boxcar_filter"
    _check_input(obj, func, linear=False)
    size = _check_size(size, func, even=True)
    _fits(obj, size // 2, func)

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        out = apply_window_kernel(
            da, _moments.moments_rule_kernel, size // 2, args=(size, _RULES["boxcar"], 1.0)
        )
        return _tag(out, da, f"boxcar(size={size})")

    return map_arrays(obj, apply)


@accepts_geographic
def median_filter(obj: XObj, *, size: int = 7) -> XObj:
    """Median of the valid pixels in a ``size × size`` window (any units).

    With an even number of valid pixels the two middle values are averaged, as
    ``numpy.nanmedian`` does.

    Examples
    --------
    >>> import xarray as xr
    >>> values = np.array([[1.0, 9.0, 2.0], [3.0, 100.0, 4.0], [5.0, 6.0, 7.0]])
    >>> da = xr.DataArray(values, dims=("y", "x"))
    >>> float(median_filter(da, size=3)[1, 1])
    5.0
    """
    func = "median_filter"
    _check_input(obj, func, linear=False)
    size = _check_size(size, func)
    _fits(obj, size // 2, func)

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        program: tuple[Any, ...] = median_args(size)
        out = apply_window_kernel(da, median_kernel, size // 2, args=(size, *program))
        return _tag(out, da, f"median(size={size})")

    return map_arrays(obj, apply)


@accepts_geographic
def frost_filter(obj: XObj, *, size: int = 7, damping: float = 2.0) -> XObj:
    """Frost filter (Frost et al. 1982): an exponentially weighted window mean.

    Each valid pixel of the window gets the weight ``exp(-K · Ci² · r)`` with
    ``r`` its distance (pixels) from the centre, ``Ci² = v/m²`` the local
    squared coefficient of variation and ``K = damping``: smooth areas are
    averaged widely, edges and bright targets stay sharp. Needs linear power.

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((64, 64), seed=1)
    >>> bool(frost_filter(scene.cube["vv"], size=5).std() < scene.cube["vv"].std())
    True
    """
    func = "frost_filter"
    _check_input(obj, func, linear=True)
    size = _check_size(size, func)
    damping = check_positive_finite(damping, "damping", func)
    _fits(obj, size // 2, func)

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        out = apply_window_kernel(
            _nonnegative(da, func), _frost.frost_kernel, size // 2, args=(size, damping)
        )
        return _tag(out, da, f"frost(size={size}, damping={damping})")

    return map_arrays(obj, apply)


#: Halo of :func:`refined_lee` (its 7×7 window).
REFINED_LEE_HALO = 3


@accepts_geographic
def refined_lee(obj: XObj, *, enl: float | None = None) -> XObj:
    """Refined Lee filter (Lee 1981) with edge-aligned windows, NaN-aware.

    In each 7×7 window the means of nine 3×3 sub-windows (stride 2) give the
    gradient in four directions (vertical, horizontal, two diagonals); of the
    two half-windows on either side of the strongest edge, the one whose mean
    is closer to the centre sub-window is kept (28 pixels, edge line
    included). Its mean and variance feed the classic Lee MMSE weight with
    ``Cu² = 1/ENL``. The window is 7×7 as in the original. Needs linear power.

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((64, 64), seed=1)
    >>> bool(refined_lee(scene.cube["vv"], enl=4.4).std() < scene.cube["vv"].std())
    True
    """
    func = "refined_lee"
    _check_input(obj, func, linear=True)
    enl_value = None if enl is None else check_positive_finite(enl, "enl", func)
    _fits(obj, REFINED_LEE_HALO, func)

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        checked = _nonnegative(da, func)
        out = apply_window_kernel(
            checked,
            _refined_lee.refined_lee_kernel,
            REFINED_LEE_HALO,
            params=_inverse_enl(checked, enl_value, 7),
        )
        return _tag(out, da, f"refined_lee(enl={enl_value or 'estimated'})")

    return map_arrays(obj, apply)
