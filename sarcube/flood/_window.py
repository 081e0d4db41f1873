"""The window pass of the flood map: median then boxcar filters on both dates, one kernel."""

from __future__ import annotations

import functools
import itertools
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
from numba import njit

from .._overlap import Pieces, at_least, neighbourhood_map
from ..conventions import SPATIAL_DIMS
from ..errors import ParameterError
from ..filters._dilate import dilate_square
from ..filters._median import median_args, median_kernel
from ..filters._moments import moments_rule_kernel

#: Layers of the window pass's output (a ``(4, y, x)`` float32 stack).
_POST, _CHANGE, _USABLE, _NODATA = range(4)


@njit(cache=True, nogil=True, error_model="numpy")
def _join_piece(
    pre: np.ndarray,
    post: np.ndarray,
    fill: np.ndarray,
    row: int,
    col: int,
    images: np.ndarray,
    bad: np.ndarray,
) -> None:
    """Copy one piece of a block's neighbourhood into the halo buffers at (*row*, *col*).

    *images* ``(2, H, W)`` get pre and post with NaN where either is NaN;
    *bad* ``(H, W)`` gets 1 there or at a fill value (*fill*: 1 where a pixel of
    an integer chip is a fill value, or empty for float images).
    """
    has_fill = fill.size > 0
    for i in range(pre.shape[0]):
        a_row = pre[i]
        b_row = post[i]
        f_row = fill[i] if has_fill else a_row
        for j in range(pre.shape[1]):
            a = a_row[j]
            b = b_row[j]
            missing = a != a or b != b
            images[0, row + i, col + j] = np.float32(np.nan) if missing else a
            images[1, row + i, col + j] = np.float32(np.nan) if missing else b
            bad[row + i, col + j] = missing or (has_fill and f_row[j] > 0)


@njit(cache=True, nogil=True, error_model="numpy")
def _mirror_edges(
    images: np.ndarray, bad: np.ndarray, depth: int, missing: tuple[bool, bool, bool, bool]
) -> None:
    """Fill the halo the image's edge leaves empty by mirroring.

    The sides *missing* are top, bottom, left, right; mirroring repeats the
    edge pixel (numpy's "symmetric"), rows first, then columns over every row,
    as padding the whole image would.
    """
    height, width = bad.shape
    top, bottom, left, right = missing
    for k in range(depth):
        for flag, dst, src in (
            (top, k, 2 * depth - 1 - k),
            (bottom, height - 1 - k, height - 2 * depth + k),
        ):
            if flag:
                images[:, dst, :] = images[:, src, :]
                bad[dst, :] = bad[src, :]
    for k in range(depth):
        for flag, dst, src in (
            (left, k, 2 * depth - 1 - k),
            (right, width - 1 - k, width - 2 * depth + k),
        ):
            if flag:
                images[:, :, dst] = images[:, :, src]
                bad[:, dst] = bad[:, src]


@njit(cache=True, nogil=True, error_model="numpy")
def _assemble(
    filtered: np.ndarray,
    trim: int,
    bad: np.ndarray,
    pre: np.ndarray,
    post: np.ndarray,
    depth: int,
    out: np.ndarray,
) -> None:
    """The window pass's four layers (see ``_POST`` …) of a block's pixels."""
    nx = out.shape[2]
    for i in range(out.shape[1]):
        pre_row = filtered[0, trim + i, trim : trim + nx]
        post_row = filtered[1, trim + i, trim : trim + nx]
        bad_row = bad[depth + i, depth : depth + nx]
        a_row = pre[i]
        b_row = post[i]
        for j in range(nx):  # branch-free, so that it vectorises
            post_f = post_row[j]
            change = post_f - pre_row[j]
            out[_POST, i, j] = post_f
            out[_CHANGE, i, j] = change
            fit = (bad_row[j] == 0) & (post_f == post_f) & (change == change)
            out[_USABLE, i, j] = np.float32(fit)
            out[_NODATA, i, j] = np.float32((a_row[j] != a_row[j]) | (b_row[j] != b_row[j]))


_NO_FILL = np.empty((0, 0), dtype=np.float32)


def _filter_block(
    pre: Pieces,
    post: Pieces,
    fill: Pieces | None = None,
    *,
    median_size: int,
    boxcar_size: int,
    radius: int,
    depth: int,
) -> np.ndarray:
    """The spatial steps of the flood map on one block and its neighbours' edges.

    *pre*, *post*: the :data:`~sarcube._overlap.Pieces` of a block, float32 on
    a log scale with NaN at nodata (a pixel NaN in one is nodata in both), the
    facing *depth* pixels of its neighbours around it (``None`` past the
    image's edge, where the image is mirrored here; a whole numpy image has no
    neighbours); *fill*, for integer chips, 1 where a pixel is a fill value.
    Returns ``(4, ny, nx)`` for the block's own pixels: the filtered post image
    (median, then boxcar), the change (filtered post − filtered pre), 1 where a
    pixel is usable (no nodata or fill pixel within *radius*, both filtered
    values valid) and 1 at nodata. Median and boxcar commute with the
    mirroring, so one halo of ``median // 2 + boxcar // 2`` serves both filters
    and the result equals filtering the whole image step by step.
    """
    centre_pre, centre_post = pre[1][1], post[1][1]
    assert centre_pre is not None
    assert centre_post is not None
    ny, nx = centre_pre.shape
    images = np.empty((2, ny + 2 * depth, nx + 2 * depth), dtype=np.float32)
    bad = np.empty(images.shape[1:], dtype=np.uint8)
    starts = (0, depth, depth + ny), (0, depth, depth + nx)
    for r, c in itertools.product(range(3), range(3)):
        a, b = pre[r][c], post[r][c]
        if a is not None and b is not None:
            f = _NO_FILL if fill is None else fill[r][c]
            assert f is not None
            _join_piece(a, b, f, starts[0][r], starts[1][c], images, bad)
    missing = (pre[0][1] is None, pre[2][1] is None, pre[1][0] is None, pre[1][2] is None)
    _mirror_edges(images, bad, depth, missing)
    if radius > 0:
        bad = dilate_square(bad, radius)
    for size, kernel, args in (
        (median_size, median_kernel, median_args(median_size) if median_size > 1 else ()),
        (boxcar_size, moments_rule_kernel, (0, 1.0)),
    ):
        if size > 1:
            h = size // 2
            out = np.empty((2, images.shape[1] - 2 * h, images.shape[2] - 2 * h), np.float32)
            kernel(images, None, 0, out, size, *args)
            images = out
    result = np.empty((4, ny, nx), dtype=np.float32)
    trim = (images.shape[1] - ny) // 2
    _assemble(images, trim, bad, centre_pre, centre_post, depth, result)
    return result


def _alone(image: np.ndarray) -> Pieces:
    """The pieces of a whole image: no neighbours."""
    return [[None, None, None], [None, image, None], [None, None, None]]


def _window_depth(median_size: int, boxcar_size: int, radius: int) -> int:
    """The halo of the window pass: the filters in sequence, the nodata buffer beside them."""
    return max(median_size // 2 + boxcar_size // 2, radius)


def flood_halo(
    *, median_size: int = 7, boxcar_size: int = 5, nodata_buffer: int = 2, min_size: int = 0
) -> int:
    """How far (pixels) the flood map of a pixel looks around it, given its thresholds.

    With a threshold surface computed beforehand, the map at a pixel depends
    only on the inputs within this distance: the window pass (median then
    boxcar; the nodata buffer) and, with *min_size*, the extent of a region
    small enough to be removed. A window of the inputs with this many pixels
    around a tile maps the tile exactly (see :func:`sarcube._overlap.tile_map`).

    Examples
    --------
    >>> flood_halo()  # median 7 (3) + boxcar 5 (2), the nodata buffer inside them
    5
    >>> flood_halo(min_size=50) > flood_halo()  # a removable region can reach further
    True
    """
    window = _window_depth(median_size, boxcar_size, nodata_buffer)
    return window + (min_size + 1 if min_size > 0 else 0)


def _filtered(
    pre_log: xr.DataArray,
    post_log: xr.DataArray,
    fill: xr.DataArray | None,
    median_size: int,
    boxcar_size: int,
    radius: int,
    func: str,
) -> Any:
    """The ``(4, y, x)`` float32 stack of :func:`_filter_block` in one window pass.

    One dask overlap on dask input, a numpy array otherwise. *fill* marks the
    fill values of integer chips (None for float images: only NaN is unfit).
    """
    depth = _window_depth(median_size, boxcar_size, radius)
    ny, nx = (post_log.sizes[d] for d in SPATIAL_DIMS)
    if depth > min(ny, nx):
        raise ParameterError(
            f"{func}: the filters need a halo of {depth} pixels but the image is {ny}×{nx}; "
            "use smaller median_size/boxcar_size/nodata_buffer or a larger image"
        )
    layers = [pre_log, post_log] + ([] if fill is None else [fill])
    data = [layer.transpose(*SPATIAL_DIMS).astype(np.float32, copy=False).data for layer in layers]
    options: dict[str, Any] = {
        "median_size": median_size,
        "boxcar_size": boxcar_size,
        "radius": radius,
        "depth": depth,
    }
    if any(isinstance(d, dsa.Array) for d in data):
        # each block with its neighbours' facing edges, read into the halo
        # buffer by the block function (no concatenated copy); the image's edge
        # is mirrored there too (no boundary copies)
        first = dsa.asarray(data[1])
        aligned = [at_least(dsa.asarray(d).rechunk(first.chunks), depth) for d in data]
        return neighbourhood_map(
            functools.partial(_filter_block, **options),
            aligned,
            depth,
            name="flood-window-pass",
            lead=(4,),
            dtype=np.float32,
        )
    return _filter_block(*(_alone(np.ascontiguousarray(d)) for d in data), **options)
