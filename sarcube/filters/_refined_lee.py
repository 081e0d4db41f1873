"""The refined Lee filter's kernel (Lee 1981): edge-aligned half windows in 7×7."""

from __future__ import annotations

import numpy as np
from numba import njit

from ._frost import _STRIP, _source_segment
from ._windows import _NAN

# --------------------------------------------------------------------------
# Refined Lee (Lee 1981): edge-aligned directional windows in a 7x7 window
#
# The nine 3×3 sub-window means (stride 2) are one 3×3 box-mean image read at
# offsets 0, 2, 4; each padded row's box means are computed once, summing in
# the order of the direct loops (row by row, left to right), so the gradient
# and the choice of half window are those of the direct computation. The
# sums over the eight half windows come from per-row running partial sums
# R_L(x) = v(x) + ... + v(x + L - 1), L = 1..7, made once per source row: each
# half window is seven (or four) of them, one per row — e.g. the upper-right
# triangle (col >= row) is Σ_i R_{7-i}(row i)[x + i]. All eight are summed for
# every pixel (branch-free, so the loops vectorise), then the chosen one is
# selected. The sums run in a fixed order relative to the window: the result
# does not depend on the chunking. Strips of _STRIP columns keep the buffers
# in cache, as for Frost.


@njit(cache=True, nogil=True, error_model="numpy")
def _refined_masks() -> np.ndarray:
    """The 8 directional half windows of a 7x7 window (28 pixels each).

    0 left (cols <= 3), 1 right (cols >= 3), 2 top (rows <= 3), 3 bottom (rows >= 3),
    4 upper-right triangle (col >= row), 5 lower-left (col <= row),
    6 upper-left (row + col <= 6), 7 lower-right (row + col >= 6).
    """
    masks = np.zeros((8, 7, 7), dtype=np.bool_)
    for i in range(7):
        for j in range(7):
            masks[0, i, j] = j <= 3
            masks[1, i, j] = j >= 3
            masks[2, i, j] = i <= 3
            masks[3, i, j] = i >= 3
            masks[4, i, j] = j >= i
            masks[5, i, j] = j <= i
            masks[6, i, j] = i + j <= 6
            masks[7, i, j] = i + j >= 6
    return masks


@njit(cache=True, nogil=True, error_model="numpy")
def _mask_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each half window of :func:`_refined_masks` as one run of columns per row.

    Per mask the number of rows (7, or 4 for top and bottom), and
    ``(8, 7)`` the rows, the runs' lengths and their first columns.
    """
    masks = _refined_masks()
    n_rows = np.zeros(8, dtype=np.int64)
    row = np.zeros((8, 7), dtype=np.int64)
    length = np.zeros((8, 7), dtype=np.int64)
    start = np.zeros((8, 7), dtype=np.int64)
    for m in range(8):
        for i in range(7):
            run = 0
            for j in range(7):
                if masks[m, i, j]:
                    if run == 0:
                        start[m, n_rows[m]] = j
                    run += 1
            if run > 0:
                row[m, n_rows[m]] = i
                length[m, n_rows[m]] = run
                n_rows[m] += 1
    return n_rows, row, length, start


@njit(cache=True, nogil=True, error_model="numpy")
def _partial_sums(seg: np.ndarray, n: int, out: np.ndarray, out_sq: np.ndarray) -> None:
    """``out[L - 1, x] = seg[x] + seg[x + 1] + ... + seg[x + L - 1]``, left to right.

    For L = 1..7 and every x where the run fits in ``seg[:n]``, and the same of
    the squares in *out_sq*. One vectorised loop per L.
    """
    first, first_sq = out[0], out_sq[0]
    for x in range(n):
        first[x] = seg[x]
        first_sq[x] = seg[x] * seg[x]
    for length in range(2, 8):
        prev, cur = out[length - 2], out[length - 1]
        prev_sq, cur_sq = out_sq[length - 2], out_sq[length - 1]
        tail = seg[length - 1 : n]
        for x in range(n - length + 1):
            cur[x] = prev[x] + tail[x]
            cur_sq[x] = prev_sq[x] + tail[x] * tail[x]


@njit(cache=True, nogil=True, error_model="numpy")
def _box_means(
    v0: np.ndarray,
    v1: np.ndarray,
    v2: np.ndarray,
    n0: np.ndarray,
    n1: np.ndarray,
    n2: np.ndarray,
    nan_free: bool,
    w: int,
    out: np.ndarray,
) -> None:
    """3×3 means of the valid pixels (NaN where none) centred on the middle of three rows.

    At columns 1..w, from their values (NaN as 0) and valid flags
    (all valid: *nan_free*), summed row by row, left to right, from 0 — as the
    direct loops do.
    """
    if nan_free:
        for x in range(w):
            s = 0.0 + v0[x]
            s = (s + v0[x + 1]) + v0[x + 2]
            s = ((s + v1[x]) + v1[x + 1]) + v1[x + 2]
            s = ((s + v2[x]) + v2[x + 1]) + v2[x + 2]
            out[x] = s / 9.0
        return
    for x in range(w):
        s = 0.0 + v0[x]
        s = (s + v0[x + 1]) + v0[x + 2]
        s = ((s + v1[x]) + v1[x + 1]) + v1[x + 2]
        s = ((s + v2[x]) + v2[x + 1]) + v2[x + 2]
        c = ((n0[x] + n0[x + 1]) + n0[x + 2]) + ((n1[x] + n1[x + 1]) + n1[x + 2])
        c += (n2[x] + n2[x + 1]) + n2[x + 2]  # integers: exact in any order
        out[x] = s / c if c > 0 else np.nan


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _refined_mask(
    s00: float,
    s01: float,
    s02: float,
    s10: float,
    c11: float,
    s12: float,
    s20: float,
    s21: float,
    s22: float,
) -> int:
    """The half window (0-7, :func:`_refined_masks`) of a pixel from its 3×3 means.

    It lies beside the strongest of four edge directions, on the side
    whose mean is closer to the centre's. Strict IEEE arithmetic in the order
    of the direct computation (no fastmath), so ties resolve as there.
    """
    g_vertical = abs(s02 + s12 + s22 - s00 - s10 - s20)
    g_horizontal = abs(s20 + s21 + s22 - s00 - s01 - s02)
    g_diag = abs(s01 + s02 + s12 - s10 - s20 - s21)
    g_anti = abs(s00 + s01 + s10 - s12 - s21 - s22)
    # the first of the largest gradients
    best = g_vertical
    direction = 0
    direction = 1 if g_horizontal > best else direction
    best = g_horizontal if g_horizontal > best else best
    direction = 2 if g_diag > best else direction
    best = g_diag if g_diag > best else best
    direction = 3 if g_anti > best else direction
    # its two sides; the one whose mean is closer to the centre sub-window
    first, second = s10, s12
    first, second = (s01, s21) if direction == 1 else (first, second)
    first, second = (s02, s20) if direction == 2 else (first, second)
    first, second = (s00, s22) if direction == 3 else (first, second)
    return 2 * direction + (0 if abs(c11 - first) <= abs(c11 - second) else 1)


@njit(cache=True, nogil=True, error_model="numpy")
def _refined_masks_of_row(
    b0: np.ndarray, b1: np.ndarray, b2: np.ndarray, nan_free: bool, w: int, mask: np.ndarray
) -> None:
    """The half window (:func:`_refined_mask`) of each pixel of a strip row.

    *b0*, *b1*, *b2*: the 3×3 box means of the window's rows 1, 3, 5 (column
    x + 1 + 2b is sub-window b); a NaN mean (no valid pixel) is replaced by
    the centre's, which holds the valid centre pixel (none when *nan_free*).
    """
    if nan_free:
        for x in range(w):
            mask[x] = _refined_mask(
                b0[x],
                b0[x + 2],
                b0[x + 4],
                b1[x],
                b1[x + 2],
                b1[x + 4],
                b2[x],
                b2[x + 2],
                b2[x + 4],
            )
        return
    for x in range(w):
        c11 = b1[x + 2]
        s00, s01, s02 = b0[x], b0[x + 2], b0[x + 4]
        s10, s12 = b1[x], b1[x + 4]
        s20, s21, s22 = b2[x], b2[x + 2], b2[x + 4]
        s00 = c11 if s00 != s00 else s00
        s01 = c11 if s01 != s01 else s01
        s02 = c11 if s02 != s02 else s02
        s10 = c11 if s10 != s10 else s10
        s12 = c11 if s12 != s12 else s12
        s20 = c11 if s20 != s20 else s20
        s21 = c11 if s21 != s21 else s21
        s22 = c11 if s22 != s22 else s22
        mask[x] = _refined_mask(s00, s01, s02, s10, c11, s12, s20, s21, s22)


@njit(cache=True, nogil=True, error_model="numpy")
def _half_window_sum(
    part: np.ndarray,
    part_sq: np.ndarray,
    mask: np.ndarray,
    offsets: np.ndarray,
    w: int,
    out: np.ndarray,
    out_sq: np.ndarray,
) -> None:
    """The sums over each pixel's half window of *part* and *part_sq*.

    They are partial row sums (:func:`_partial_sums`): seven, ``part[x + offsets[mask[x], i]]``
    for the window rows i = 0..6 from the top (a row outside the half window
    points at zeros). One half window per pixel, gathered: a scalar loop, on
    unsigned indices (no test for negative ones).
    """
    for xi in range(w):
        x = np.uint64(xi)
        o = offsets[mask[xi]]
        o0, o1, o2, o3 = x + o[0], x + o[1], x + o[2], x + o[3]
        o4, o5, o6 = x + o[4], x + o[5], x + o[6]
        t = (part[o0] + part[o1]) + part[o2]
        t = ((t + part[o3]) + part[o4]) + part[o5]
        out[xi] = t + part[o6]
        t = (part_sq[o0] + part_sq[o1]) + part_sq[o2]
        t = ((t + part_sq[o3]) + part_sq[o4]) + part_sq[o5]
        out_sq[xi] = t + part_sq[o6]


@njit(cache=True, nogil=True, error_model="numpy")
def _refined_output(
    s: np.ndarray,
    ss: np.ndarray,
    n: np.ndarray,
    nan_free: bool,
    centre: np.ndarray,
    valid: np.ndarray,
    cu2: float,
    w: int,
    out: np.ndarray,
) -> None:
    """The classic Lee MMSE estimate from the half window's sums.

    The sums are of the values *s* and squares *ss*, with *n* valid pixels (28
    when *nan_free*, and *n* not read), in the order of the direct computation
    (no fastmath).
    """
    for x in range(w):
        c = 28.0 if nan_free else n[x]
        m = s[x] / c
        var = max(ss[x] / c - m * m, 0.0)
        weight = (var - m * m * cu2) / ((1.0 + cu2) * (var if var > 0.0 else 1.0))
        weight = min(max(weight, 0.0), 1.0)
        res = m + weight * (centre[x] - m) if var > 0.0 else m
        out[x] = np.float32(res) if valid[x] > 0 else _NAN


@njit(cache=True, nogil=True, error_model="numpy")
def refined_lee_kernel(
    stack: np.ndarray, params: np.ndarray, pad: int, out: np.ndarray
) -> np.ndarray:
    """Refined Lee (Lee 1981) on the 7×7 window; ``params[k, 0]`` = Cu² = 1/ENL."""
    n, ny_in, nx_in = stack.shape
    ny, nx = ny_in + 2 * pad - 6, nx_in + 2 * pad - 6
    mask_n_rows, mask_row, mask_length, mask_start = _mask_rows()
    width = min(_STRIP, nx)
    seg_v = np.empty((7, width + 6))  # ring buffer of source rows: values (NaN as 0)
    seg_n = np.empty((7, width + 6))  # valid flags, of the rows with NaN
    ones = np.ones(width + 6)  # the valid flags of the others
    has_nan = np.zeros(7, dtype=np.bool_)
    # partial row sums (_partial_sums) of the source rows, flat: row slot t,
    # length L at t * block + (L - 1) * stride; then a row of zeros
    stride = width + 6
    block = 7 * stride
    zeros = 7 * block
    part_s = np.zeros(7 * block + stride)
    part_ss = np.zeros(7 * block + stride)
    part_n = np.zeros(7 * block + stride)
    counted = np.zeros(7, dtype=np.bool_)  # part_n holds the row's counts
    scratch = np.empty((7, stride))
    box = np.empty((7, width + 4))  # 3×3 box means, column c centred on padded column c + 1
    mask = np.empty(width, dtype=np.int64)
    offsets = np.empty((8, 7), dtype=np.uint64)
    s = np.empty(width)
    ss = np.empty(width)
    counts = np.empty(width)
    for k in range(n):
        cu2 = params[k, 0]
        if cu2 != cu2:  # no ENL for this image (all nodata)
            out[k] = _NAN
            continue
        img = stack[k]
        for x0 in range(0, nx, width):
            w = min(width, nx - x0)
            seg = w + 6
            for r in range(ny + 6):
                slot = r % 7
                v = seg_v[slot, :seg]
                has_nan[slot] = _source_segment(img, r, pad, x0, v, seg_n[slot, :seg])
                here = slot * block
                _partial_sums(
                    v,
                    seg,
                    part_s[here : here + block].reshape((7, stride)),
                    part_ss[here : here + block].reshape((7, stride)),
                )
                counted[slot] = False
                if r >= 2:  # the box means centred on row r - 1
                    a, b = (r - 2) % 7, (r - 1) % 7
                    full = not (has_nan[a] or has_nan[b] or has_nan[slot])
                    n0 = seg_n[a] if has_nan[a] else ones
                    n1 = seg_n[b] if has_nan[b] else ones
                    n2 = seg_n[slot] if has_nan[slot] else ones
                    _box_means(seg_v[a], seg_v[b], v, n0, n1, n2, full, w + 4, box[b])
                if r < 6:
                    continue
                y = r - 6  # output row; its window holds the source rows y .. r
                nan_free = True
                for i in range(7):
                    nan_free &= not has_nan[(y + i) % 7]
                for m in range(8):  # where each half window's partial row sums are
                    offsets[m] = zeros
                    for t in range(mask_n_rows[m]):
                        i = mask_row[m, t]
                        where = ((y + i) % 7) * block + (mask_length[m, t] - 1) * stride
                        offsets[m, i] = where + mask_start[m, t]
                rows_135 = box[(y + 1) % 7], box[(y + 3) % 7], box[(y + 5) % 7]
                _refined_masks_of_row(*rows_135, nan_free, w, mask)
                _half_window_sum(part_s, part_ss, mask, offsets, w, s, ss)
                if not nan_free:
                    for i in range(7):
                        t = (y + i) % 7
                        if not counted[t]:
                            here = t * block
                            flags = part_n[here : here + block].reshape((7, stride))
                            _partial_sums(seg_n[t] if has_nan[t] else ones, seg, flags, scratch)
                            counted[t] = True
                    _half_window_sum(part_n, part_n, mask, offsets, w, counts, counts)
                c = (y + 3) % 7
                _refined_output(
                    s,
                    ss,
                    counts,
                    nan_free,
                    seg_v[c, 3 : 3 + w],
                    seg_n[c, 3 : 3 + w] if has_nan[c] else ones[3 : 3 + w],
                    cu2,
                    w,
                    out[k, y, x0 : x0 + w],
                )
    return out
