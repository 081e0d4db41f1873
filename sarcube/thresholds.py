"""Automatic thresholds from lazy histograms.

:func:`threshold` finds a threshold without loading the scene. One lazy pass
builds a histogram with fixed bins (a numba kernel per chunk, float64 counts
summed by dask) and Otsu's or Kittler-Illingworth's criterion is applied to it
(``method="otsu"`` / ``"ki"``). ``method="tiled"`` is the split-based selection
used by operational water mappers: the histogram is pooled from the image tiles
whose values are clearly bimodal, so that a scene with little water still gets
a threshold between water and land (see :func:`threshold`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr
from numba import njit

from ._checks import check_int, check_real, check_xarray
from ._geographic import accepts_geographic
from ._metadata import name_or
from ._reduce import bin_index, sum_of_blocks
from .conventions import DB_UNITS
from .errors import DimensionError, DTypeError, ParameterError

__all__ = [
    "ASHMAN_D",
    "BIMODALITY_COEFFICIENT",
    "MAX_BINS",
    "bimodality_tests",
    "histogram",
    "kittler_illingworth",
    "otsu",
    "threshold",
]


#: The most bins a histogram takes: 8 MiB of float64 counts per chunk.
MAX_BINS = 1 << 20


@njit(cache=True, nogil=True, error_model="numpy")
def _histogram_kernel(values: np.ndarray, lo: float, hi: float, nbins: int) -> np.ndarray:
    """Counts of the valid values in nbins equal bins over [lo, hi]; outside values clipped."""
    out = np.zeros(nbins, dtype=np.float64)
    scale = nbins / (hi - lo)
    for v in values:
        if v == v:
            b = bin_index(np.float64(v), lo, scale, nbins)
            out[b] += 1.0
    return out


def _block_histogram(block: np.ndarray, lo: float, hi: float, nbins: int) -> np.ndarray:
    counts = _histogram_kernel(np.ascontiguousarray(block).reshape(-1), lo, hi, nbins)
    return counts.reshape((1,) * block.ndim + (nbins,))


def _default_range(da: xr.DataArray) -> tuple[float, float]:
    if np.issubdtype(da.dtype, np.integer):
        info = np.iinfo(da.dtype)
        if info.bits <= 16:
            return (float(info.min), float(info.max) + 1.0)
    if da.attrs.get("units") == DB_UNITS:
        return (-50.0, 20.0)
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
    bins = check_int(bins, "bins", "histogram", minimum=2)
    if bins > MAX_BINS:
        raise ParameterError(
            f"histogram: bins={bins} would hold {bins * 8 / 2**20:,.0f} MiB of counts per "
            f"chunk; pass at most {MAX_BINS} (a threshold needs a few hundred to a few "
            "thousand, e.g. bins=1024)"
        )
    lo, hi = _default_range(da) if range is None else (float(range[0]), float(range[1]))
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        example = f"({hi:g}, {lo:g})" if math.isfinite(lo) and hi < lo else "(-30, 30)"
        raise ParameterError(
            f"histogram: range must be finite with low < high, got {range!r}; e.g. range={example}"
        )
    data = da.data
    if isinstance(data, dsa.Array):
        counts: Any = sum_of_blocks(
            _block_histogram, data, lo, hi, bins, out_shape=(bins,), dtype=np.float64
        )
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
        attrs={"long_name": f"histogram of {name_or(da, 'values')}", "units": "1"},
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
    return _split_value(counts, centres, int(np.argmax(between)))


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
    return _split_value(counts, centres, int(np.argmin(np.where(valid, j, np.inf))))


def _split_value(counts: np.ndarray, centres: np.ndarray, k: int) -> float:
    """The threshold for a split after bin *k*, centred in an empty gap that follows it.

    Splitting after any bin of an empty gap between the modes gives the same two
    classes, hence the same score: take the middle of the gap rather than its
    first bin.
    """
    end = k
    while end + 1 < counts.size - 1 and counts[end + 1] == 0:
        end += 1
    width = centres[1] - centres[0]
    return float(centres[(k + end) // 2] + width / 2)


_CRITERIA = {"otsu": otsu, "ki": kittler_illingworth}

# --------------------------------------------------------------------------
# split-based (tiled) selection

#: Ashman's D above which two Gaussian classes count as separated (Ashman et al. 1994).
ASHMAN_D = 2.0
#: Bimodality coefficient above which a distribution counts as bimodal (5/9: the value
#: of a uniform distribution; SAS Institute 1990, Pfister et al. 2013).
BIMODALITY_COEFFICIENT = 5 / 9


@njit(cache=True, nogil=True, error_model="numpy")
def _tile_histogram_kernel(
    block: np.ndarray, lo: float, hi: float, nbins: int, size: int
) -> np.ndarray:
    """Histograms of the size×size tiles of a 2-D block (tiles anchored at its corner)."""
    ny, nx = block.shape
    ty, tx = -(-ny // size), -(-nx // size)
    out = np.zeros((ty, tx, nbins), dtype=np.float64)
    scale = nbins / (hi - lo)
    for i in range(ny):
        row = block[i]
        ti = i // size
        for j in range(nx):
            v = row[j]
            if v == v:
                b = bin_index(np.float64(v), lo, scale, nbins)
                out[ti, j // size, b] += 1.0
    return out


def _otsu_classes(counts: np.ndarray, centres: np.ndarray) -> dict[str, np.ndarray]:
    """Weights, means and variances of the two classes of each histogram's Otsu split.

    Vectorised over the leading axes of *counts* (…, bins). The first maximum of
    the between-class variance is taken: an empty gap between the modes leaves
    the class moments unchanged, so the position inside the gap does not matter
    here.
    """
    c = np.asarray(centres, dtype=np.float64)
    n = counts.sum(-1)[..., None]
    w0 = np.cumsum(counts, -1)[..., :-1]
    s0 = np.cumsum(counts * c, -1)[..., :-1]
    q0 = np.cumsum(counts * c**2, -1)[..., :-1]
    w1 = n - w0
    s1 = (counts * c).sum(-1)[..., None] - s0
    q1 = (counts * c**2).sum(-1)[..., None] - q0
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0, mu1 = s0 / w0, s1 / w1
        between = np.where((w0 > 0) & (w1 > 0), w0 * w1 * (mu0 - mu1) ** 2, -1.0)
        k = np.argmax(between, axis=-1)[..., None]

        def pick(a: np.ndarray) -> np.ndarray:
            return np.take_along_axis(a, k, -1)[..., 0]

        out = {"w0": pick(w0), "w1": pick(w1), "mu0": pick(mu0), "mu1": pick(mu1)}
        out["var0"] = pick(q0 / w0) - out["mu0"] ** 2
        out["var1"] = pick(q1 / w1) - out["mu1"] ** 2
        out["split"] = pick(between) > 0
    return out


#: EM iterations of the two-Gaussian fit behind Ashman's D.
_EM_ITERATIONS = 60


def _two_gaussians(counts: np.ndarray, centres: np.ndarray) -> dict[str, np.ndarray]:
    """A two-Gaussian mixture fitted to each histogram by EM, started from its Otsu split.

    Vectorised over the leading axes of *counts* (…, bins). Variances are kept
    above a twelfth of the squared bin width (the quantisation of the bins).
    """
    c = np.asarray(centres, dtype=np.float64)
    floor = (c[1] - c[0]) ** 2 / 12
    start = _otsu_classes(counts, c)
    n = counts.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        w = [start["w0"] / n, start["w1"] / n]
        mu = [start["mu0"], start["mu1"]]
        var = [np.maximum(start["var0"], floor), np.maximum(start["var1"], floor)]
        for _ in range(_EM_ITERATIONS):
            dens = [
                w[i][..., None]
                * np.exp(-((c - mu[i][..., None]) ** 2) / (2 * var[i][..., None]))
                / np.sqrt(var[i][..., None])
                for i in (0, 1)
            ]
            total = dens[0] + dens[1]
            r0 = np.where(total > 0, dens[0] / total, 0.5)
            for i, r in enumerate((r0, 1.0 - r0)):
                weight = (counts * r).sum(-1)
                w[i] = weight / n
                mu[i] = (counts * r * c).sum(-1) / weight
                var[i] = np.maximum(
                    (counts * r * (c - mu[i][..., None]) ** 2).sum(-1) / weight, floor
                )
    return {"w0": w[0], "w1": w[1], "mu0": mu[0], "mu1": mu[1], "var0": var[0], "var1": var[1]}


def bimodality_tests(
    counts: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ashman's D, the bimodality coefficient and the smaller class share of histograms.

    Vectorised over the leading axes of *counts* (…, bins). Ashman's D is
    ``√2·|μ1 − μ2| / √(σ1² + σ2²)`` for a two-Gaussian mixture fitted to the
    histogram by EM (started from its Otsu split); D > 2 means the two classes
    are separated (Ashman et al. 1994). A hard split would not do: the two
    halves of a single Gaussian already give D ≈ 2.65. The bimodality
    coefficient is ``(g² + 1) / (k + 3(n−1)²/((n−2)(n−3)))`` with the sample
    skewness *g* and excess kurtosis *k* (> 5/9: bimodal). The share is the
    weight of the smaller mixture component. Histograms with fewer than four
    values give NaN.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> values = np.concatenate([rng.normal(0, 1, 4000), rng.normal(6, 1, 4000)])
    >>> counts, edges = np.histogram(values, bins=128)
    >>> d, bc, share = bimodality_tests(counts, (edges[:-1] + edges[1:]) / 2)
    >>> bool(d > 2), bool(bc > 5 / 9), round(float(share), 2)
    (True, True, 0.5)
    """
    counts = np.asarray(counts, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    mixture = _two_gaussians(counts, c)
    n = counts.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(mixture["var0"] + mixture["var1"])
        ashman = np.sqrt(2.0) * np.abs(mixture["mu0"] - mixture["mu1"]) / spread
        share = np.minimum(mixture["w0"], mixture["w1"])

        mean = (counts * c).sum(-1) / n
        d = c - mean[..., None]
        m2 = (counts * d**2).sum(-1) / n
        m3 = (counts * d**3).sum(-1) / n
        m4 = (counts * d**4).sum(-1) / n
        skew = m3 / m2**1.5
        excess = m4 / m2**2 - 3.0
        small = 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3))
        bc = (skew**2 + 1.0) / (excess + small)
    valid = (n >= 4) & (m2 > 0)
    return (
        np.where(valid, ashman, np.nan),
        np.where(valid, bc, np.nan),
        np.where(valid, share, np.nan),
    )


#: Bins of the tile histograms the bimodality tests look at (the pooled histogram keeps all).
_TEST_BINS = 128


def _coarse(tiles: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tile histograms merged to _TEST_BINS bins when the bin count allows it (speed)."""
    nbins = centres.size
    if nbins <= _TEST_BINS or nbins % _TEST_BINS:
        return tiles, centres
    f = nbins // _TEST_BINS
    return tiles.reshape(*tiles.shape[:-1], _TEST_BINS, f).sum(-1), centres.reshape(-1, f).mean(-1)


def _tiled_block(
    block: np.ndarray,
    lo: float,
    hi: float,
    nbins: int,
    sizes: tuple[int, ...],
    centres: np.ndarray,
    min_valid: float,
    min_class_fraction: float,
    min_ashman_d: float,
    min_bimodality: float,
) -> np.ndarray:
    """One chunk's share of the tiled selection, as one vector.

    Layout: pooled histogram of the kept tiles (bins), histogram of the whole
    chunk (bins), then per tile size the number of candidate tiles and of kept
    tiles. The chunk holds whole tiles of every size (its shape is a multiple of
    the largest), so coarse tiles are sums of fine ones and the hierarchy (a
    tile is only looked at when its parent was not kept) stays inside the chunk.
    """
    fine = sizes[-1]
    hist = _tile_histogram_kernel(np.ascontiguousarray(block), lo, hi, nbins, fine)
    pooled = np.zeros(nbins)
    stats = np.zeros(2 * len(sizes))
    covered: np.ndarray | None = None  # tiles of the previous size already kept
    for level, size in enumerate(sizes):
        f = size // fine
        ty, tx = -(-hist.shape[0] // f), -(-hist.shape[1] // f)
        padded = np.zeros((ty * f, tx * f, nbins))
        padded[: hist.shape[0], : hist.shape[1]] = hist
        tiles = padded.reshape(ty, f, tx, f, nbins).sum(axis=(1, 3))
        ashman, bc, share = bimodality_tests(*_coarse(tiles, centres))
        candidate = tiles.sum(-1) >= min_valid * size * size
        if covered is not None:
            r = sizes[level - 1] // size
            covered = np.repeat(np.repeat(covered, r, 0), r, 1)[:ty, :tx]
            candidate &= ~covered
        with np.errstate(invalid="ignore"):
            keep = (
                candidate
                & (share >= min_class_fraction)
                & (ashman > min_ashman_d)
                & (bc > min_bimodality)
            )
        pooled += tiles[keep].sum(0)
        stats[2 * level] = candidate.sum()
        stats[2 * level + 1] = keep.sum()
        covered = keep if covered is None else keep | covered
    out = np.concatenate([pooled, hist.sum(axis=(0, 1)), stats])
    return out.reshape(1, 1, -1)


def _tile_sizes(tile_sizes: Any) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(v) for v in tile_sizes}, reverse=True))
        ok = all(float(v) == int(v) for v in tile_sizes)
    except (TypeError, ValueError):
        sizes, ok = (), False
    if not sizes or not ok or sizes[-1] < 4:
        raise ParameterError(
            f"threshold: tile_sizes must be integers >= 4, e.g. (256, 128, 64); got {tile_sizes!r}"
        )
    for big, small in itertools.pairwise(sizes):
        if big % small:
            raise ParameterError(
                f"threshold: tile sizes must nest (each divides the next larger one); "
                f"{small} does not divide {big}, e.g. use (256, 128, 64)"
            )
    return sizes


def _fraction(value: float, name: str) -> float:
    out = float(value)
    if not 0 <= out <= 1:
        raise ParameterError(f"threshold: {name} must be in [0, 1], got {value!r}")
    return out


def _tiled(
    da: xr.DataArray,
    lo: float,
    hi: float,
    bins: int,
    sizes: tuple[int, ...],
    options: dict[str, float],
) -> tuple[Any, np.ndarray]:
    """The summed per-chunk vectors of :func:`_tiled_block` (lazy on dask input)."""
    edges = np.linspace(lo, hi, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    args = (
        lo,
        hi,
        bins,
        sizes,
        centres,
        options["min_valid"],
        options["min_class_fraction"],
        options["min_ashman_d"],
        options["min_bimodality"],
    )
    data = da.transpose("y", "x").data
    if not isinstance(data, dsa.Array):
        return _tiled_block(np.asarray(data), *args).reshape(-1), centres
    # Every chunk must hold whole tiles of every size: round the chunks up to a
    # multiple of the largest tile (tiles are anchored at the image's corner).
    big = sizes[0]
    target = tuple(max(big, -(-max(c) // big) * big) for c in data.chunks)
    data = data.rechunk(target)
    length = 2 * bins + 2 * len(sizes)
    return sum_of_blocks(_tiled_block, data, *args, out_shape=(length,), dtype=np.float64), centres


def _choose(vector: np.ndarray, bins: int, centres: np.ndarray, criterion: str) -> np.ndarray:
    """Threshold and fallback flag from a summed tiled vector."""
    pooled, whole = vector[:bins], vector[bins : 2 * bins]
    fallback = pooled.sum() == 0
    value = _CRITERIA[criterion](whole if fallback else pooled, centres)
    return np.array([value, float(fallback)])


@accepts_geographic
def threshold(
    da: xr.DataArray,
    *,
    method: Literal["otsu", "ki", "tiled"] = "otsu",
    bins: int = 512,
    range: tuple[float, float] | None = None,
    tile_sizes: tuple[int, ...] = (512, 256, 128),
    criterion: Literal["otsu", "ki"] = "ki",
    min_ashman_d: float = ASHMAN_D,
    min_bimodality: float = BIMODALITY_COEFFICIENT,
    min_class_fraction: float = 0.1,
    min_valid: float = 0.5,
) -> xr.Dataset:
    """A threshold from lazy histograms (one pass over the data, bounded memory).

    Parameters
    ----------
    da
        One band or change image, e.g. post-event VV in dB. Any dims for the
        global methods; ``(y, x)`` for ``"tiled"``.
    method
        ``"otsu"`` (maximum between-class variance, Otsu 1979) or ``"ki"``
        (Kittler-Illingworth minimum error, 1986) on the histogram of the whole
        image; or ``"tiled"``, the split-based selection of operational water
        mappers (Martinis et al. 2009, Chini et al. 2017): the image is cut into
        square tiles (anchored at its top-left corner) of the largest size in
        *tile_sizes*; a tile is kept when it is bimodal — Ashman's D of its Otsu
        split > *min_ashman_d* **and** its bimodality coefficient >
        *min_bimodality*, with at least *min_class_fraction* of its values in
        the smaller class and at least *min_valid* of its pixels valid. A tile
        that is not kept is split into tiles of the next size, and so on. The
        threshold is *criterion* applied to the pooled histogram of all kept
        tiles. When no tile is kept, the whole image's histogram is used
        instead and the ``fallback`` diagnostic is true.
    bins, range
        Histogram bins over *range*. Defaults exist for dB data (−50 to 20 dB)
        and 8/16-bit integers; otherwise *range* is required.
    tile_sizes
        Tile sizes in pixels for ``"tiled"``; each must divide the next larger.
    criterion
        The criterion ``"tiled"`` applies to the pooled histogram.
    min_ashman_d, min_bimodality, min_class_fraction, min_valid
        The tile tests of ``"tiled"``. Defaults: D > 2 (Ashman et al. 1994),
        bimodality coefficient > 5/9 (the value of a uniform distribution;
        Pfister et al. 2013), 10 % in the smaller class, half the pixels valid.

    Returns
    -------
    xarray.Dataset
        ``threshold`` (0-d, lazy on dask input; values ``<=`` it are the lower
        class) and the ``histogram`` it came from, attrs ``method``. For
        ``"tiled"`` also ``fallback`` (0-d bool: no tile was bimodal, the
        global histogram was used), and ``n_candidates``/``n_kept`` (tiles
        examined and kept per ``tile_size``). The histogram is the pooled one
        of the kept tiles (all zero on fallback).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> values = np.concatenate([rng.normal(-20, 1, 5000), rng.normal(-8, 1, 5000)])
    >>> da = xr.DataArray(values.reshape(100, 100), dims=("y", "x"), attrs={"units": "dB"})
    >>> -16 < float(threshold(da)["threshold"]) < -12
    True

    A small lake in a large scene: the tiles across its shore are bimodal.

    >>> image = rng.normal(-8, 1.5, (256, 256))
    >>> image[20:60, 30:70] = rng.normal(-21, 1.5, (40, 40))
    >>> scene = xr.DataArray(image, dims=("y", "x"), attrs={"units": "dB"})
    >>> tiled = threshold(scene, method="tiled", tile_sizes=(128, 64, 32))
    >>> -17 < float(tiled["threshold"]) < -12, bool(tiled["fallback"])
    (True, False)
    >>> tiled["n_kept"].values.tolist()
    [0, 1, 1]
    """
    if method not in (*_CRITERIA, "tiled"):
        raise ParameterError(f"threshold: unknown method {method!r}; use 'otsu', 'ki' or 'tiled'")
    if method != "tiled":
        return _global_threshold(da, method, bins, range)
    if criterion not in _CRITERIA:
        raise ParameterError(f"threshold: criterion must be 'otsu' or 'ki', got {criterion!r}")
    sizes = _tile_sizes(tile_sizes)
    options = {
        "min_valid": _fraction(min_valid, "min_valid"),
        "min_class_fraction": _fraction(min_class_fraction, "min_class_fraction"),
        "min_ashman_d": float(min_ashman_d),
        "min_bimodality": float(min_bimodality),
    }
    hist = histogram(da, bins=bins, range=range)  # validates da, bins and range
    if set(da.dims) != {"y", "x"}:
        raise DimensionError(
            f"threshold: method='tiled' needs a (y, x) image, got dims {tuple(da.dims)}; "
            "select one date first, e.g. da.isel(time=0)"
        )
    lo, hi = float(hist["bin_lower"][0]), float(hist["bin_upper"][-1])
    vector, centres = _tiled(da, lo, hi, bins, sizes, options)
    if isinstance(vector, dsa.Array):
        chosen: Any = dsa.map_blocks(
            _choose, vector, bins, centres, criterion, chunks=((2,),), dtype=np.float64
        )
    else:
        chosen = _choose(vector, bins, centres, criterion)
    nsize = len(sizes)
    counts = vector[2 * bins :].reshape(nsize, 2)
    units = da.attrs.get("units")
    return xr.Dataset(
        {
            "threshold": xr.DataArray(
                chosen[0],
                attrs={
                    "long_name": f"tiled {criterion} threshold",
                    **({"units": units} if units else {}),
                },
            ),
            "fallback": xr.DataArray(
                chosen[1] > 0,
                attrs={"long_name": "no bimodal tile: threshold of the whole image"},
            ),
            "histogram": hist.copy(data=vector[:bins]).assign_attrs(
                long_name="pooled histogram of the kept tiles"
            ),
            "n_candidates": ("tile_size", counts[:, 0].astype(np.int64)),
            "n_kept": ("tile_size", counts[:, 1].astype(np.int64)),
        },
        coords={"tile_size": list(sizes)},
        attrs={
            "method": "tiled",
            "criterion": criterion,
            "min_ashman_d": options["min_ashman_d"],
            "min_bimodality": options["min_bimodality"],
            "min_class_fraction": options["min_class_fraction"],
            "min_valid": options["min_valid"],
        },
    )


def _global_threshold(
    da: xr.DataArray, method: str, bins: int, range: tuple[float, float] | None
) -> xr.Dataset:
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
    return xr.Dataset(
        {
            "threshold": xr.DataArray(
                value,
                attrs={"long_name": f"{method} threshold", **({"units": units} if units else {})},
            ),
            "histogram": hist,
        },
        attrs={"method": method},
    )
