"""Lazy, bounded-memory reductions: blockwise partial sums, histograms, quantiles.

:func:`sum_of_blocks` is the one blockwise partial-sum reduction;
:func:`bin_counts` the one histogram of a whole array (equal bins, clipped
ends, :func:`bin_index`) and :func:`quantile_from_counts` reads a quantile off
it. :func:`region_histograms` counts per region of a fixed global grid,
anchored at the array's origin: region ``(i, j)`` holds the pixels
of rows ``[i·R, (i+1)·R)`` and columns ``[j·R, (j+1)·R)``, whatever the chunks.
Each dask block counts its pixels into the regions it touches (a few small
histograms), the partial counts are summed in a tree, and only the final
``(regions_y, regions_x, images, bins)`` array is dense. Counts are whole numbers
in float64, so the sums are exact and the result does not depend on the
chunking. NaN values are left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dask
import dask.array as dsa
import numpy as np
from dask.core import flatten
from dask.delayed import Delayed, delayed
from numba import njit

__all__ = [
    "bin_counts",
    "quantile_from_counts",
    "region_histograms",
    "region_shape",
    "sum_of_blocks",
    "sum_of_keyed_parts",
]

#: Partial histograms merged per task of the tree reduction.
_FAN_IN = 16


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def bin_index(value: float, lo: float, scale: float, nbins: int) -> int:
    """The bin of a valid *value* among *nbins* equal bins from *lo*; outside ones clipped.

    *scale* is ``nbins / (hi - lo)``. The binning of every histogram in
    sarcube (:func:`sarcube.histogram`, the tiled and regional thresholds,
    the flood map's and the ENL estimate's), so they agree to the bin.
    """
    b = int((value - lo) * scale)  # outside the range: the end bins
    return min(max(b, 0), nbins - 1)


@njit(cache=True, nogil=True, error_model="numpy")
def _counts_kernel(values: np.ndarray, lo: float, hi: float, nbins: int) -> np.ndarray:
    """Counts of the valid values in nbins equal bins over [lo, hi]; outside values clipped."""
    out = np.zeros(nbins, dtype=np.float64)
    scale = nbins / (hi - lo)
    for v in values:
        if v == v:
            b = bin_index(np.float64(v), lo, scale, nbins)
            out[b] += 1.0
    return out


def _block_counts_1d(block: np.ndarray, lo: float, hi: float, nbins: int) -> np.ndarray:
    counts = _counts_kernel(np.ascontiguousarray(block).reshape(-1), lo, hi, nbins)
    return counts.reshape((1,) * block.ndim + (nbins,))


def bin_counts(data: Any, lo: float, hi: float, nbins: int) -> Any:
    """Counts of the non-NaN values of *data* in *nbins* equal bins over ``[lo, hi]``.

    Values outside the range count in the end bins (:func:`bin_index`). Counts
    are whole numbers in float64, so they do not depend on the chunking. Lazy
    (one pass, one partial per block) on a dask array, a NumPy array otherwise.
    """
    if isinstance(data, dsa.Array):
        return sum_of_blocks(
            _block_counts_1d, data, lo, hi, nbins, out_shape=(nbins,), dtype=np.float64
        )
    return _counts_kernel(np.asarray(data).reshape(-1), lo, hi, nbins)


def quantile_from_counts(counts: Any, edges: np.ndarray, q: float) -> Any:
    """The *q*-th percentile (0-100) of a histogram, linear inside its bin.

    *counts* has one value per bin between *edges*; a lazy *counts* gives a
    lazy 0-d result. An empty histogram gives NaN; ``q=0`` gives the lower edge
    of the first bin that holds a value.

    Examples
    --------
    >>> float(quantile_from_counts(np.array([0.0, 2.0, 2.0]), np.array([0.0, 1, 2, 3]), 50))
    2.0
    """

    def read(c: np.ndarray) -> np.ndarray:
        c = np.asarray(c, dtype=np.float64)
        total = c.sum()
        if total <= 0:
            return np.asarray(np.nan)
        cum = np.cumsum(c)
        target = q / 100.0 * total
        k = min(int(np.searchsorted(cum, target)), c.size - 1)
        while k < c.size - 1 and c[k] == 0:  # q = 0: the first bin that holds a value
            k += 1
        below = cum[k] - c[k]
        frac = (target - below) / c[k] if c[k] > 0 else 0.0
        return np.asarray(edges[k] + frac * (edges[k + 1] - edges[k]))

    if isinstance(counts, dsa.Array):
        return dsa.map_blocks(read, counts, drop_axis=0, dtype=np.float64)
    return read(counts)


def region_shape(shape: Sequence[int], region: int) -> tuple[int, int]:
    """Regions along y and x of an image of *shape* ``(..., Y, X)``."""
    return -(-int(shape[-2]) // region), -(-int(shape[-1]) // region)


@njit(cache=True, nogil=True, error_model="numpy")
def _block_counts(
    block: np.ndarray,
    y0: int,
    x0: int,
    region: int,
    lows: np.ndarray,
    highs: np.ndarray,
    nbins: int,
) -> np.ndarray:
    """Counts of a (k, ny, nx) block at global offset (y0, x0) per touched region and image."""
    k, ny, nx = block.shape
    ry0, rx0 = y0 // region, x0 // region
    nry = (y0 + ny - 1) // region - ry0 + 1
    nrx = (x0 + nx - 1) // region - rx0 + 1
    out = np.zeros((nry, nrx, k, nbins), dtype=np.float64)
    for m in range(k):
        lo = lows[m]
        scale = nbins / (highs[m] - lo)
        for i in range(ny):
            ri = (y0 + i) // region - ry0
            row = block[m, i]
            for j in range(nx):
                v = row[j]
                if v == v:
                    b = bin_index(np.float64(v), lo, scale, nbins)
                    out[ri, (x0 + j) // region - rx0, m, b] += 1.0
    return out


def _partial(
    block: np.ndarray,
    y0: int,
    x0: int,
    region: int,
    lows: np.ndarray,
    highs: np.ndarray,
    nbins: int,
) -> dict[tuple[int, int], np.ndarray]:
    counts = _block_counts(
        np.ascontiguousarray(block, dtype=np.float32), y0, x0, region, lows, highs, nbins
    )
    ry0, rx0 = y0 // region, x0 // region
    return {
        (ry0 + a, rx0 + b): counts[a, b]
        for a in range(counts.shape[0])
        for b in range(counts.shape[1])
    }


def _merge(parts: Sequence[dict[tuple[int, int], np.ndarray]]) -> dict[tuple[int, int], np.ndarray]:
    out: dict[tuple[int, int], np.ndarray] = {}
    for part in parts:
        for key, counts in part.items():
            if key in out:
                out[key] = out[key] + counts
            else:
                out[key] = counts
    return out


def _dense(
    parts: Sequence[dict[Any, np.ndarray]], shape: tuple[int, ...], dtype: Any
) -> np.ndarray:
    out = np.zeros(shape, dtype=dtype)
    for key, counts in _merge(parts).items():
        out[key] = counts
    return out


def sum_of_keyed_parts(parts: Sequence[Any], shape: tuple[int, ...], dtype: Any) -> Any:
    """The sum of partials keyed by position in the result, summed in a tree.

    Each part is a ``{key: array}`` dict (or a delayed one): the partial of
    ``result[key]`` from one block, for the few keys the block touches (the
    regions of a grid, the polygons that meet a chunk). Parts are merged
    :data:`_FAN_IN` at a time, so memory holds a few sparse partials, never one
    dense array per block; only the final result of *shape* is dense. Delayed
    parts give a lazy dask array of one chunk, plain dicts a NumPy array.
    """
    if not any(isinstance(p, Delayed) for p in parts):
        return _dense(parts, shape, dtype)
    merge = delayed(_merge, pure=True)
    parts = list(parts)
    while len(parts) > _FAN_IN:
        parts = [merge(parts[i : i + _FAN_IN]) for i in range(0, len(parts), _FAN_IN)]
    total = delayed(_dense, pure=True)(parts, shape, dtype)
    return dsa.from_delayed(total, shape=shape, dtype=dtype)


def region_histograms(
    data: Any,
    region: int,
    ranges: Sequence[tuple[float, float]],
    nbins: int,
    *,
    tiles: int | None = None,
) -> Any:
    """Histograms of the valid values of each image of *data* per region.

    Parameters
    ----------
    data
        ``(k, Y, X)`` numpy or dask array: *k* images on one grid.
    region
        Side of the square regions in pixels.
    ranges
        ``(low, high)`` of the *nbins* equal bins of each image; values outside
        count in the end bins.
    tiles
        ``None``: lazy. An integer: **compute now**, one computation per square
        tile of ``tiles × tiles`` chunks (summing the tiles' counts, exactly),
        so that the memory held is that of one tile, not a front of chunks as
        wide as the image (the chunks around a tile that window operations
        read are computed again for the next tile).

    Returns
    -------
    ``(regions_y, regions_x, k, nbins)`` float64 counts, numpy or a lazy dask
    array of one chunk.
    """
    lows = np.asarray([r[0] for r in ranges], dtype=np.float64)
    highs = np.asarray([r[1] for r in ranges], dtype=np.float64)
    k = int(data.shape[0])
    nry, nrx = region_shape(data.shape, region)
    if not isinstance(data, dsa.Array):
        part = _partial(np.asarray(data), 0, 0, region, lows, highs, nbins)
        return _dense([part], (nry, nrx, k, nbins), np.float64)
    data = data.rechunk({0: -1})
    # the blocks keep their keys (no optimisation of their own graph), so a graph
    # that also reads the stack elsewhere (the map) shares their tasks
    blocks = data.to_delayed(optimize_graph=False)[0]
    y_starts = np.cumsum((0, *data.chunks[1][:-1]))
    x_starts = np.cumsum((0, *data.chunks[2][:-1]))
    partial = delayed(_partial, pure=True)
    if tiles is not None:
        return _tiled(data, blocks, y_starts, x_starts, (region, lows, highs, nbins), tiles)
    parts: list[Any] = [
        partial(blocks[i, j], int(y0), int(x0), region, lows, highs, nbins)
        for i, y0 in enumerate(y_starts)
        for j, x0 in enumerate(x_starts)
    ]
    return sum_of_keyed_parts(parts, (nry, nrx, k, nbins), np.float64)


def sum_of_blocks(
    func: Callable[..., np.ndarray],
    *args: Any,
    out_shape: tuple[int, ...],
    dtype: Any,
    keep: int = 0,
    **kwargs: Any,
) -> dsa.Array:
    """The sum over dask blocks of ``func(*blocks, **kwargs)``: one partial per block.

    The first of *args* is a dask array whose blocks set the grid; other dask
    arrays among *args* are passed block by block, anything else as is. *func*
    returns its block's partial of shape ``block.shape[:keep] + (1,) * (ndim -
    keep) + out_shape`` (counts, moments, confusion counts...). The partials are
    summed in dask's tree over the blocks of the last ``ndim - keep`` axes, so
    memory holds partials, never the cube; the result has shape
    ``shape[:keep] + out_shape``, chunked like the kept axes. With integer (or
    whole-number float) partials the sum does not depend on the chunking.
    """
    grid = args[0]
    nd = grid.ndim
    chunks = (
        *grid.chunks[:keep],
        *((1,) * len(c) for c in grid.chunks[keep:]),
        *((n,) for n in out_shape),
    )
    parts = dsa.map_blocks(
        func,
        *args,
        chunks=chunks,
        new_axis=list(range(nd, nd + len(out_shape))),
        dtype=dtype,
        meta=np.empty((0,) * (nd + len(out_shape)), dtype=dtype),
        **kwargs,
    )
    summed: dsa.Array = parts.sum(axis=tuple(range(keep, nd)))
    return summed


def active_client() -> Any:
    """The dask.distributed Client that computes now, or None (a local scheduler)."""
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):  # no distributed client
        return None
    if dask.config.get("scheduler", None) not in (None, "dask.distributed"):
        return None  # e.g. scheduler="synchronous" set while a Client exists
    return client


def compute_in_turn(
    batches: Sequence[list[Any]], run: Callable[[list[Any]], Any] | None = None
) -> Iterator[Any]:
    """Compute each batch (dask collections, parts of one graph) on its own, one after the other.

    Yields what ``run(batch)`` (default: ``dask.compute``) returns. Used to
    hold one tile's memory at a time. Consecutive computations of one graph
    share keys (e.g. a source chunk two tiles read, a small constant), and two
    things go wrong on a distributed scheduler that still holds a key from the
    previous computation when the next arrives: low-level fusion gives the key
    another task (the scheduler's "different run_spec" warning), and the
    scheduler can lose track of it (a KeyError). So on a distributed
    scheduler the batches run without low-level fusion, and each waits until
    the scheduler has forgotten the previous batch's outputs (their tasks are
    released with them). Local schedulers keep nothing between computations.
    """
    from dask.base import compute

    one = run if run is not None else compute
    client = active_client()
    if len(batches) < 2 or client is None:  # local schedulers keep no state between computations
        yield from (one(batch) for batch in batches)
        return
    with dask.config.set({"optimization.fuse.active": False, "optimization.fuse.delayed": False}):
        for batch in batches:
            result = one(batch)
            keys = [key for item in batch for key in flatten(item.__dask_keys__())]
            _wait_forgotten(client, keys)
            yield result


def _wait_forgotten(client: Any, keys: list[Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while client.run_on_scheduler(_held, keys=keys) and time.monotonic() < deadline:
        time.sleep(0.005)


def _held(keys: list[Any], dask_scheduler: Any = None) -> int:
    """How many of *keys* the scheduler still knows (runs on the scheduler)."""
    tasks = dask_scheduler.tasks
    return sum((tuple(k) if isinstance(k, list) else k) in tasks for k in keys)


def _tiled(
    data: dsa.Array,
    blocks: Any,
    y_starts: np.ndarray,
    x_starts: np.ndarray,
    options: tuple[int, np.ndarray, np.ndarray, int],
    tiles: int,
) -> np.ndarray:
    """The counts computed one tile of ``tiles × tiles`` blocks at a time."""
    from dask.base import compute

    region, lows, highs, nbins = options
    nry, nrx = region_shape(data.shape, region)
    out = np.zeros((nry, nrx, int(data.shape[0]), nbins), dtype=np.float64)
    partial = delayed(_partial, pure=True)
    merge = delayed(_merge, pure=True)
    origins = [
        (ti, tj) for ti in range(0, len(y_starts), tiles) for tj in range(0, len(x_starts), tiles)
    ]
    batches = [
        [
            merge(
                [
                    partial(
                        blocks[i, j], int(y_starts[i]), int(x_starts[j]), region, lows, highs, nbins
                    )
                    for i in range(ti, min(ti + tiles, len(y_starts)))
                    for j in range(tj, min(tj + tiles, len(x_starts)))
                ]
            )
        ]
        for ti, tj in origins
    ]
    for (counts,) in compute_in_turn(batches, lambda batch: compute(*batch)):
        for (i, j), c in counts.items():
            out[i, j] += c
    return out
