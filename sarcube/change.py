"""Change between acquisitions, and automatic thresholds from lazy histograms.

Change images compare a pre-event and a post-event image on the same grid:
:func:`difference` (post − pre, in the input's units), :func:`log_ratio`
(``10·log10(post/pre)``, dB) and :func:`normalized_change`
(``(post − pre)/(post + pre)``). :func:`reduce_time` makes a stable pre-event
reference from several dates.

:func:`threshold` finds a global threshold without loading the scene: one lazy
pass builds a histogram with fixed bins (a numba kernel per chunk, float64
counts summed by dask), and Otsu's or Kittler-Illingworth's criterion is
applied to it.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Hashable
from typing import Any, Literal, TypeVar, cast

import dask.array as dsa
import numpy as np
import xarray as xr
from numba import njit

from ._checks import check_real, check_spatial, check_xarray, data_arrays
from ._metadata import map_arrays, with_units
from .conventions import DB_UNITS, LINEAR_UNITS, SPATIAL_DIMS
from .errors import DimensionError, DTypeError, GridMismatchError, ParameterError, UnitsError

__all__ = [
    "difference",
    "histogram",
    "kittler_illingworth",
    "log_ratio",
    "normalized_change",
    "otsu",
    "reduce_time",
    "threshold",
]

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)


# --------------------------------------------------------------------------
# change images


def _check_pair(pre: Any, post: Any, func: str) -> None:
    """pre and post: xarray objects on the same grid (dims, shape, y/x coords, CRS)."""
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
    for dim in SPATIAL_DIMS:
        if pre.sizes[dim] != post.sizes[dim]:
            raise GridMismatchError(
                f"{func}: pre has {pre.sizes[dim]} pixels along {dim!r}, post {post.sizes[dim]}; "
                "load both on one grid (sarcube.load(..., like=) or xarray's reindex_like)"
            )
        if (
            dim in pre.coords
            and dim in post.coords
            and not np.allclose(
                pre[dim].values,
                post[dim].values,
                rtol=0,
                atol=1e-6 * max(1.0, abs(float(pre[dim][0]))),
            )
        ):
            raise GridMismatchError(
                f"{func}: the {dim!r} coordinates of pre and post differ; reproject one onto "
                "the other's grid first"
            )
    crs_pre, crs_post = _crs(pre), _crs(post)
    if crs_pre is not None and crs_post is not None and crs_pre != crs_post:
        raise GridMismatchError(
            f"{func}: pre is in {crs_pre} but post in {crs_post}; reproject one onto the other"
        )


def _crs(obj: xr.DataArray | xr.Dataset) -> str | None:
    if "spatial_ref" not in obj.coords:
        return None
    attrs = obj.coords["spatial_ref"].attrs
    wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
    return None if wkt is None else str(wkt)


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
    for name, da in (*data_arrays(pre), *data_arrays(post)):
        if da.attrs.get("units") == DB_UNITS:
            raise UnitsError(
                f"log_ratio: {name!r} is in dB; pass linear power (sarcube.to_linear), or use "
                "sarcube.difference on dB images"
            )

    def op(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
        ratio = b.where((a > 0) & (b > 0)) / a.where((a > 0) & (b > 0))
        return cast(xr.DataArray, 10 * np.log10(ratio))

    return _pairwise(pre, post, "log_ratio", op, DB_UNITS, "log ratio post/pre")


def normalized_change(pre: XObj, post: XObj) -> XObj:
    """``(post − pre) / (post + pre)`` in [−1, 1] from linear power (NaN where both are 0).

    Examples
    --------
    >>> import xarray as xr
    >>> pre = xr.DataArray([[0.3, 0.1]], dims=("y", "x"))
    >>> post = xr.DataArray([[0.1, 0.1]], dims=("y", "x"))
    >>> normalized_change(pre, post).values.round(3).tolist()
    [[-0.5, 0.0]]
    """

    def op(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
        total = (a + b).where((a + b) != 0)
        result: xr.DataArray = (b - a) / total
        return result

    return _pairwise(pre, post, "normalized_change", op, LINEAR_UNITS, "normalised change")


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
    if how not in ("mean", "median"):
        raise ParameterError(f"reduce_time: how must be 'mean' or 'median', got {how!r}")
    for name, da in data_arrays(obj):
        if dim not in da.dims:
            raise DimensionError(f"reduce_time: {name!r} has no {dim!r} dim (dims {da.dims})")

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        if how == "median":
            if da.chunks is not None:
                da = da.chunk({dim: -1})
            out = da.median(dim, skipna=True, keep_attrs=True)
        else:
            out = da.mean(dim, skipna=True, keep_attrs=True)
        return out.astype(da.dtype)

    return map_arrays(obj, apply)


# --------------------------------------------------------------------------
# histograms and thresholds


@njit(cache=True, nogil=True, error_model="numpy")
def _histogram_kernel(values: np.ndarray, lo: float, hi: float, nbins: int) -> np.ndarray:
    """Counts of the valid values in nbins equal bins over [lo, hi]; outside values clipped."""
    out = np.zeros(nbins, dtype=np.float64)
    scale = nbins / (hi - lo)
    for v in values:
        if v == v:
            b = int((np.float64(v) - lo) * scale)  # below lo: clipped to bin 0 next
            b = min(max(b, 0), nbins - 1)
            out[b] += 1.0
    return out


def _block_histogram(block: np.ndarray, lo: float, hi: float, nbins: int) -> np.ndarray:
    counts = _histogram_kernel(np.ascontiguousarray(block).reshape(-1), lo, hi, nbins)
    return counts.reshape((1,) * block.ndim + (nbins,))


def _default_range(da: xr.DataArray) -> tuple[float, float]:
    if da.attrs.get("units") == DB_UNITS:
        return (-50.0, 20.0)
    if np.issubdtype(da.dtype, np.integer):
        info = np.iinfo(da.dtype)
        if info.bits <= 16:
            return (float(info.min), float(info.max) + 1.0)
    raise ParameterError(
        "threshold: pass range=(low, high) for this data (defaults exist only for dB data, "
        "units='dB', and 8/16-bit integers); e.g. range=(-30, 30) for a dB change image"
    )


def histogram(
    da: xr.DataArray, *, bins: int = 512, range: tuple[float, float] | None = None
) -> xr.DataArray:
    """A lazy histogram of all valid values of *da* (one pass, bounded memory).

    Bins are equal over *range*; values outside it count in the end bins. The
    result has dim ``bin`` with coords ``bin`` (centres), ``bin_lower`` and
    ``bin_upper``.
    """
    check_xarray(da, "histogram")
    if not isinstance(da, xr.DataArray):
        raise DTypeError("histogram: pass one band (a DataArray), e.g. cube['vv']")
    check_real(da, "histogram")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ParameterError(f"histogram: bins must be an integer >= 2, got {bins!r}")
    lo, hi = _default_range(da) if range is None else (float(range[0]), float(range[1]))
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ParameterError(f"histogram: range must be finite with low < high, got {range!r}")
    data = da.data
    if isinstance(data, dsa.Array):
        parts = dsa.map_blocks(
            _block_histogram,
            data,
            lo,
            hi,
            bins,
            chunks=(*((1,) * len(c) for c in data.chunks), (bins,)),
            new_axis=data.ndim,
            dtype=np.float64,
            meta=np.empty((0,) * (data.ndim + 1), dtype=np.float64),
        )
        # `range` is a parameter here (as in numpy.histogram): use the builtin by name
        counts: Any = parts.sum(axis=tuple(builtins.range(data.ndim)))
    else:
        counts = _histogram_kernel(np.asarray(data).reshape(-1), lo, hi, bins)
    edges = np.linspace(lo, hi, bins + 1)
    return xr.DataArray(
        counts,
        dims="bin",
        coords={
            "bin": (edges[:-1] + edges[1:]) / 2,
            "bin_lower": ("bin", edges[:-1]),
            "bin_upper": ("bin", edges[1:]),
        },
        name="count",
        attrs={"long_name": f"histogram of {da.name or 'values'}", "units": "1"},
    )


def otsu(counts: np.ndarray, centres: np.ndarray) -> float:
    """Otsu's (1979) threshold on a histogram: the split maximising between-class variance.

    Returns the upper edge of the last bin of the lower class (values ``<=`` it
    are the dark class), or NaN for an empty or single-valued histogram. When
    the score is flat across an empty gap between the modes, the middle of the
    gap is taken.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0 or np.count_nonzero(counts) < 2:
        return math.nan
    w0 = np.cumsum(counts)[:-1]
    w1 = total - w0
    s0 = np.cumsum(counts * centres)[:-1]
    mu0 = s0 / np.where(w0 > 0, w0, 1)
    mu1 = (np.sum(counts * centres) - s0) / np.where(w1 > 0, w1, 1)
    between = np.where((w0 > 0) & (w1 > 0), w0 * w1 * (mu0 - mu1) ** 2, -1.0)
    # An empty gap between the modes makes a plateau of equal scores: take its
    # middle rather than its first bin.
    best = np.flatnonzero(between >= between.max() * (1 - 1e-12))
    run_end = best[0]
    while run_end + 1 < between.size and run_end + 1 in best:
        run_end += 1
    k = int((best[0] + run_end) // 2)
    width = centres[1] - centres[0]
    return float(centres[k] + width / 2)


def kittler_illingworth(counts: np.ndarray, centres: np.ndarray) -> float:
    """Kittler & Illingworth's (1986) minimum-error threshold on a histogram.

    Minimises ``J(t) = 1 + 2 (P1 ln σ1 + P2 ln σ2) − 2 (P1 ln P1 + P2 ln P2)``
    over splits whose two classes both have a positive variance.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0 or np.count_nonzero(counts) < 2:
        return math.nan
    p = counts / total
    c0 = np.cumsum(p)[:-1]
    c1 = 1.0 - c0
    m0 = np.cumsum(p * centres)[:-1]
    m1 = np.sum(p * centres) - m0
    q0 = np.cumsum(p * centres**2)[:-1]
    q1 = np.sum(p * centres**2) - q0
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0, mu1 = m0 / c0, m1 / c1
        v0, v1 = q0 / c0 - mu0**2, q1 / c1 - mu1**2
        j = (
            1
            + 2 * (c0 * np.log(np.sqrt(v0)) + c1 * np.log(np.sqrt(v1)))
            - 2 * (c0 * np.log(c0) + c1 * np.log(c1))
        )
    valid = (c0 > 0) & (c1 > 0) & (v0 > 0) & (v1 > 0) & np.isfinite(j)
    if not valid.any():
        return otsu(counts, centres)
    k = int(np.argmin(np.where(valid, j, np.inf)))
    width = centres[1] - centres[0]
    return float(centres[k] + width / 2)


_CRITERIA = {"otsu": otsu, "ki": kittler_illingworth}


def threshold(
    da: xr.DataArray,
    *,
    method: Literal["otsu", "ki"] = "otsu",
    bins: int = 512,
    range: tuple[float, float] | None = None,
) -> xr.Dataset:
    """A global threshold from a lazy histogram (one pass over the data).

    Parameters
    ----------
    da
        One band or change image (any dims), e.g. post-event VV in dB.
    method
        ``"otsu"`` (maximum between-class variance, Otsu 1979) or ``"ki"``
        (Kittler-Illingworth minimum error, 1986).
    bins, range
        Histogram bins over *range*. Defaults exist for dB data (−50 to 20 dB)
        and 8/16-bit integers; otherwise *range* is required.

    Returns
    -------
    xarray.Dataset
        ``threshold`` (0-d, lazy on dask input; values ``<=`` it are the lower
        class) and the ``histogram`` it came from, attrs ``method``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> values = np.concatenate([rng.normal(-20, 1, 5000), rng.normal(-8, 1, 5000)])
    >>> da = xr.DataArray(values.reshape(100, 100), dims=("y", "x"), attrs={"units": "dB"})
    >>> -16 < float(threshold(da)["threshold"]) < -12
    True
    """
    if method not in _CRITERIA:
        raise ParameterError(f"threshold: unknown method {method!r}; use 'otsu' or 'ki'")
    hist = histogram(da, bins=bins, range=range)
    centres = hist["bin"].values
    criterion = _CRITERIA[method]
    data = hist.data
    if isinstance(data, dsa.Array):
        value: Any = dsa.map_blocks(
            lambda c: np.asarray(criterion(c, centres)), data, drop_axis=0, dtype=np.float64
        )
    else:
        value = np.asarray(criterion(data, centres))
    units = da.attrs.get("units")
    out = xr.Dataset(
        {
            "threshold": xr.DataArray(
                value,
                attrs={"long_name": f"{method} threshold", **({"units": units} if units else {})},
            ),
            "histogram": hist,
        },
        attrs={"method": method},
    )
    return out
