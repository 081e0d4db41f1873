"""threshold: a global criterion on the lazy histogram, or the split-based tiled selection."""

from __future__ import annotations

import itertools
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr
from numba import njit

from .._geographic import accepts_geographic
from .._reduce import bin_index, sum_of_blocks
from ..errors import DimensionError, ParameterError
from ._criteria import ASHMAN_D, BIMODALITY_COEFFICIENT, CRITERIA, bimodality_tests, coarse_tiles
from ._histogram import histogram


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
        ashman, bc, share = bimodality_tests(*coarse_tiles(tiles, centres))
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
    value = CRITERIA[criterion](whole if fallback else pooled, centres)
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
    if method not in (*CRITERIA, "tiled"):
        raise ParameterError(f"threshold: unknown method {method!r}; use 'otsu', 'ki' or 'tiled'")
    if method != "tiled":
        return _global_threshold(da, method, bins, range)
    if criterion not in CRITERIA:
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
    criterion = CRITERIA[method]
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
