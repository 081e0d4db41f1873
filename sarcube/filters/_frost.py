"""The Frost filter's kernel: exponential weights summed ring by ring."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._moments import _exp_neg
from ._windows import _FASTMATH, _NAN, _mirror

# --------------------------------------------------------------------------
# Frost: exponentially weighted mean, weights exp(-K · Ci² · distance)
#
# The weight of a window pixel depends only on the output pixel's a = K·Ci² and
# on the distance d of the pixel's cell, and d takes few values: the cells with
# equal d² form a ring (7×7: d² ∈ {0, 1, 2, 4, 5, 8, 9, 10, 13, 18}). So the
# weighted sums are Σ_r exp(-a d_r) S_r over the rings' sums S_r; and with
# d = p √q (q square-free), exp(-a d) = exp(-a √q)^p: 7×7 needs five
# exponentials per pixel (q = 1, 2, 5, 10, 13), which :func:`_exp_neg` vectorises.
#
# The image is swept in vertical strips of _STRIP output columns, top to
# bottom, so the row buffers stay in cache. Each source row, once, gives its
# mirrored pairs H_j(x) = v(x - j) + v(x + j) (j = 0: v(x)) and its row sums of
# the values and of their squares, kept in a ring buffer of `size` rows. The
# window cell (i, j), i.e. the four pixels (±i, ±j), is then
# H_j(row - i) + H_j(row + i), and a ring of a window up to 9×9 has at most
# two cells: up to four rows of pair sums (larger rings are summed first).
# Every sum runs in a fixed order relative to the window, so the result does not
# depend on the chunking. The loops run along a strip row with a fixed number of
# input rows, so that they vectorise.

#: Output columns per strip of the Frost sweep.
_STRIP = 256
#: Kinds of weighing pass, see :func:`_frost_plan`.
_POWERS, _BASES = 0, 1


@njit(cache=True, nogil=True, error_model="numpy")
def _frost_plan(
    h: int,
) -> tuple[
    np.ndarray,
    np.ndarray,
    np.ndarray,
    tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
]:
    """The rings of a (2h+1)² window and the passes that weigh them.

    Returns ``ring_rows`` (rings, 2h+1, 2): the rows ``(offset from the centre
    row, j)`` of the pair sums that add up to each ring (their number in
    ``ring_n_rows``), ``ring_count``: pixels per ring; and the weighing passes:
    their kind, number of terms, rings (-1: none), √q and power offset. A pass
    of _POWERS weighs the rings of the powers offset + 1..3 of exp(-a √q) (the
    offset is 0 but in windows from 9×9), one of _BASES the rings d = √q of
    up to three q.
    """
    d2_of = np.empty((h + 1) * (h + 1), dtype=np.int64)
    for i in range(h + 1):
        for j in range(h + 1):
            d2_of[i * (h + 1) + j] = i * i + j * j
    ring_d2 = np.unique(d2_of)
    n_rings = ring_d2.shape[0]
    ring_rows = np.zeros((n_rings, 2 * h + 1, 2), dtype=np.int64)
    ring_n_rows = np.zeros(n_rings, dtype=np.int64)
    ring_count = np.zeros(n_rings)
    for i in range(h + 1):
        for j in range(h + 1):
            ring = np.searchsorted(ring_d2, i * i + j * j)
            for di in range(-i, i + 1, max(2 * i, 1)):  # -i and i, or 0
                ring_rows[ring, ring_n_rows[ring], 0] = di
                ring_rows[ring, ring_n_rows[ring], 1] = j
                ring_n_rows[ring] += 1
            ring_count[ring] += (2.0 if i > 0 else 1.0) * (2.0 if j > 0 else 1.0)
    # d² = p² q, the largest square p² <= (h + 1)² (so q is square-free in the
    # common windows; any p² q = d² is exact, a larger q only costs an exponential)
    ring_q = np.ones(n_rings, dtype=np.int64)
    ring_p = np.zeros(n_rings, dtype=np.int64)
    for r in range(1, n_rings):
        for t in range(1, h + 2):
            if t * t <= ring_d2[r] and ring_d2[r] % (t * t) == 0:
                ring_p[r] = t
        ring_q[r] = ring_d2[r] // (ring_p[r] * ring_p[r])
    qs = np.unique(ring_q[1:])
    n_q = qs.shape[0]
    top = np.zeros(n_q, dtype=np.int64)  # the highest power of each q
    for r in range(1, n_rings):
        q_of_r = np.searchsorted(qs, ring_q[r])
        top[q_of_r] = max(top[q_of_r], ring_p[r])
    # groups of three powers (1-3, 4-6, ...) of the q with more than one power
    levels = np.where(top > 1, (top + 2) // 3, 0)
    n_groups = int(levels.sum())
    group_q = np.empty(n_groups, dtype=np.int64)
    group_level = np.empty(n_groups, dtype=np.int64)
    group_rings = np.full((n_groups, 3), -1, dtype=np.int64)
    g = 0
    for b in range(n_q):
        for level in range(levels[b]):
            group_q[g] = qs[b]
            group_level[g] = level
            for r in range(1, n_rings):
                if ring_q[r] == qs[b] and (ring_p[r] - 1) // 3 == level:
                    group_rings[g, (ring_p[r] - 1) % 3] = r
            g += 1
    singles = qs[top == 1]
    n_passes = n_groups + (singles.shape[0] + 2) // 3
    kind = np.empty(n_passes, dtype=np.int64)
    terms = np.zeros(n_passes, dtype=np.int64)
    rings = np.full((n_passes, 3), -1, dtype=np.int64)
    roots = np.zeros((n_passes, 3))
    offset = np.zeros(n_passes, dtype=np.int64)  # of the powers of a _POWERS pass
    for g in range(n_groups):
        kind[g] = _POWERS
        terms[g] = 3
        roots[g] = math.sqrt(group_q[g])
        rings[g] = group_rings[g]
        offset[g] = 3 * group_level[g]
    for m in range(singles.shape[0]):  # three rings d = √q per pass
        t = n_groups + m // 3
        kind[t] = _BASES
        terms[t] += 1
        roots[t, m % 3] = math.sqrt(singles[m])
        rings[t, m % 3] = np.searchsorted(ring_d2, singles[m])
    return ring_rows, ring_n_rows, ring_count, (kind, terms, rings, roots, offset)


@njit(cache=True, nogil=True, error_model="numpy")
def _source_segment(
    img: np.ndarray, r: int, pad: int, c0: int, v: np.ndarray, valid: np.ndarray
) -> bool:
    """Padded row *r*, padded columns ``c0 .. c0 + len(v)``, into *v* (NaN as 0).

    Returns whether there is NaN; then *valid* gets 1/0 for valid/NaN.
    """
    ny_in, nx_in = img.shape
    row = img[_mirror(r - pad, ny_in)]
    length = v.shape[0]
    start = c0 - pad
    nan_seen = False
    if start >= 0 and start + length <= nx_in:
        src = row[start : start + length]
        for t in range(length):
            x = np.float64(src[t])
            ok = x == x
            nan_seen |= not ok
            v[t] = x if ok else 0.0
    else:
        for t in range(length):
            x = np.float64(row[_mirror(start + t, nx_in)])
            ok = x == x
            nan_seen |= not ok
            v[t] = x if ok else 0.0
    if nan_seen:
        for t in range(length):
            x = row[_mirror(start + t, nx_in)]
            valid[t] = 1.0 if x == x else 0.0
    return nan_seen


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _pairs(
    seg: np.ndarray, h: int, w: int, pairs: np.ndarray, box: np.ndarray, box_sq: np.ndarray
) -> None:
    """``pairs[j, x] = seg[x+h-j] + seg[x+h+j]`` (j = 0: ``seg[x+h]``), and their sums.

    The sums over j = 0..h of the pairs go to *box* and of their squares to
    *box_sq* (the row sums across the window). Inlined where h is a constant (see
    :func:`_source_pairs`), the loop over j unrolls inside the vectorised loop
    over x.
    """
    for x in range(w):
        centre = seg[x + h]
        pairs[0, x] = centre
        total = centre
        squares = centre * centre
        for j in range(1, h + 1):
            lo = seg[x + h - j]
            hi = seg[x + h + j]
            pair = lo + hi
            pairs[j, x] = pair
            total += pair
            squares += lo * lo + hi * hi
        box[x] = total
        box_sq[x] = squares


@njit(cache=True, nogil=True, error_model="numpy")
def _source_pairs(
    seg: np.ndarray, h: int, w: int, pairs: np.ndarray, box: np.ndarray, box_sq: np.ndarray
) -> None:
    """:func:`_pairs`, with h a compile-time constant for the common windows."""
    if h == 1:
        _pairs(seg, 1, w, pairs, box, box_sq)
    elif h == 2:
        _pairs(seg, 2, w, pairs, box, box_sq)
    elif h == 3:
        _pairs(seg, 3, w, pairs, box, box_sq)
    else:
        _pairs(seg, h, w, pairs, box, box_sq)


@njit(cache=True, nogil=True, error_model="numpy")
def _count_pairs(seg: np.ndarray, h: int, w: int, pairs: np.ndarray, box: np.ndarray) -> None:
    """:func:`_pairs` of the valid flags, without squares."""
    first = pairs[0]
    centre = seg[h : h + w]
    for x in range(w):
        first[x] = centre[x]
        box[x] = centre[x]
    for j in range(1, h + 1):
        lo = seg[h - j : h - j + w]
        hi = seg[h + j : h + j + w]
        pj = pairs[j]
        for x in range(w):
            pj[x] = lo[x] + hi[x]
            box[x] += pj[x]


@njit(cache=True, nogil=True, error_model="numpy")
def _sum_rows(rows: np.ndarray, index: np.ndarray, w: int, out: np.ndarray) -> None:
    """``out = rows[index[0]] + rows[index[1]] + ...``, left to right."""
    first = rows[index[0]]
    for x in range(w):
        out[x] = first[x]
    for t in range(1, index.shape[0]):
        row = rows[index[t]]
        for x in range(w):
            out[x] += row[x]


@njit(cache=True, nogil=True, error_model="numpy")
def _vertical_sum(rows: np.ndarray, h: int, w: int, out: np.ndarray) -> None:
    """Sum over the window's 2h + 1 *rows*, in the order of :func:`_exponent_rows`."""
    centre = rows[h]
    for x in range(w):
        out[x] = centre[x]
    for i in range(1, h + 1):
        up, down = rows[h - i], rows[h + i]
        for x in range(w):
            out[x] += up[x] + down[x]


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _exponent_rows(
    box_s: np.ndarray,
    box_ss: np.ndarray,
    h: int,
    n: np.ndarray,
    full: bool,
    damping: float,
    w: int,
    a: np.ndarray,
) -> None:
    """``a = K · Ci²``, ``Ci² = var/m²`` of the window's valid pixels (0 where m <= 0).

    From the row sums *box_s*, *box_ss* of the window's 2h + 1 rows (added as
    the centre row, then the rows ±1, ±2, ...). *n*: the valid pixels; *full*:
    all of them, ``n = (2h+1)²``, and 1/n is taken once (the same number as
    per pixel).
    """
    inv_full = 1.0 / ((2 * h + 1) * (2 * h + 1))
    for x in range(w):
        s = box_s[h, x]
        ss = box_ss[h, x]
        for i in range(1, h + 1):
            s += box_s[h - i, x] + box_s[h + i, x]
            ss += box_ss[h - i, x] + box_ss[h + i, x]
        inv = inv_full if full else 1.0 / (n[x] if n[x] > 0 else 1.0)
        m = s * inv
        positive = m > 0
        ci2 = max(ss * inv - m * m, 0.0) / (m * m if positive else 1.0)
        a[x] = damping * ci2 if positive else 0.0


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _frost_exponent(
    box_s: np.ndarray,
    box_ss: np.ndarray,
    h: int,
    n: np.ndarray,
    full: bool,
    damping: float,
    w: int,
    a: np.ndarray,
) -> None:
    """:func:`_exponent_rows`, with h and *full* compile-time constants.

    For the common windows the loop over the rows unrolls, without a division
    by n.
    """
    if full:
        if h == 1:
            _exponent_rows(box_s, box_ss, 1, n, True, damping, w, a)
        elif h == 2:
            _exponent_rows(box_s, box_ss, 2, n, True, damping, w, a)
        elif h == 3:
            _exponent_rows(box_s, box_ss, 3, n, True, damping, w, a)
        else:
            _exponent_rows(box_s, box_ss, h, n, True, damping, w, a)
    else:
        _exponent_rows(box_s, box_ss, h, n, False, damping, w, a)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH, inline="always")
def _ring_term(
    num: float, den: float, weight: float, a: float, b: float, c: float, d: float, n: float
) -> tuple[float, float]:
    """Add a ring, the sum of its four rows *a*..*d* (zero rows pad), of *n* valid pixels."""
    return num + weight * (((a + b) + c) + d), den + weight * n


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _weigh_powers(
    a: np.ndarray,
    root: float,
    offset: int,
    rows: np.ndarray,
    index: np.ndarray,
    valid: np.ndarray,
    rings: np.ndarray,
    w: int,
    num: np.ndarray,
    den: np.ndarray,
) -> None:
    """``num += e^k S_k``, ``den += e^k N_k`` for the powers k = offset + 1..3 of e.

    Here e = exp(-a √q). Ring k sums the four rows ``rows[index[k]]`` and has
    ``valid[rings[k]]`` valid pixels. num and den are updated in place: a loop
    that reads one array and writes another that may be the same would not
    vectorise.
    """
    a1, b1, c1, d1 = rows[index[0, 0]], rows[index[0, 1]], rows[index[0, 2]], rows[index[0, 3]]
    a2, b2, c2, d2 = rows[index[1, 0]], rows[index[1, 1]], rows[index[1, 2]], rows[index[1, 3]]
    a3, b3, c3, d3 = rows[index[2, 0]], rows[index[2, 1]], rows[index[2, 2]], rows[index[2, 3]]
    n1, n2, n3 = valid[rings[0]], valid[rings[1]], valid[rings[2]]
    if offset > 0:
        for x in range(w):
            e = _exp_neg(-a[x] * root)
            w1 = _exp_neg(-a[x] * root * (offset + 1))
            w2 = w1 * e
            w3 = w2 * e
            t, b = _ring_term(num[x], den[x], w1, a1[x], b1[x], c1[x], d1[x], n1[x])
            t, b = _ring_term(t, b, w2, a2[x], b2[x], c2[x], d2[x], n2[x])
            num[x], den[x] = _ring_term(t, b, w3, a3[x], b3[x], c3[x], d3[x], n3[x])
        return
    for x in range(w):
        w1 = _exp_neg(-a[x] * root)
        w2 = w1 * w1
        w3 = w2 * w1
        t, b = _ring_term(num[x], den[x], w1, a1[x], b1[x], c1[x], d1[x], n1[x])
        t, b = _ring_term(t, b, w2, a2[x], b2[x], c2[x], d2[x], n2[x])
        num[x], den[x] = _ring_term(t, b, w3, a3[x], b3[x], c3[x], d3[x], n3[x])


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _weigh_bases(
    a: np.ndarray,
    roots: np.ndarray,
    n_bases: int,
    rows: np.ndarray,
    index: np.ndarray,
    valid: np.ndarray,
    rings: np.ndarray,
    w: int,
    num: np.ndarray,
    den: np.ndarray,
) -> None:
    """``num += e_k S_k``, ``den += e_k N_k`` for the rings d = √q_k.

    There are *n_bases* (1-3) values of q, ``e_k = exp(-a √q_k)``; rings as in
    :func:`_weigh_powers`.
    """
    a1, b1, c1, d1 = rows[index[0, 0]], rows[index[0, 1]], rows[index[0, 2]], rows[index[0, 3]]
    a2, b2, c2, d2 = rows[index[1, 0]], rows[index[1, 1]], rows[index[1, 2]], rows[index[1, 3]]
    a3, b3, c3, d3 = rows[index[2, 0]], rows[index[2, 1]], rows[index[2, 2]], rows[index[2, 3]]
    n1, n2, n3 = valid[rings[0]], valid[rings[1]], valid[rings[2]]
    q1, q2, q3 = roots[0], roots[1], roots[2]
    if n_bases == 1:
        for x in range(w):
            e1 = _exp_neg(-a[x] * q1)
            num[x], den[x] = _ring_term(num[x], den[x], e1, a1[x], b1[x], c1[x], d1[x], n1[x])
    elif n_bases == 2:
        for x in range(w):
            e1 = _exp_neg(-a[x] * q1)
            e2 = _exp_neg(-a[x] * q2)
            t, b = _ring_term(num[x], den[x], e1, a1[x], b1[x], c1[x], d1[x], n1[x])
            num[x], den[x] = _ring_term(t, b, e2, a2[x], b2[x], c2[x], d2[x], n2[x])
    else:
        for x in range(w):
            e1 = _exp_neg(-a[x] * q1)
            e2 = _exp_neg(-a[x] * q2)
            e3 = _exp_neg(-a[x] * q3)
            t, b = _ring_term(num[x], den[x], e1, a1[x], b1[x], c1[x], d1[x], n1[x])
            t, b = _ring_term(t, b, e2, a2[x], b2[x], c2[x], d2[x], n2[x])
            num[x], den[x] = _ring_term(t, b, e3, a3[x], b3[x], c3[x], d3[x], n3[x])


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _frost_output(
    valid: np.ndarray, num: np.ndarray, den: np.ndarray, w: int, out: np.ndarray
) -> None:
    for x in range(w):
        out[x] = np.float32(num[x] / den[x]) if valid[x] > 0 else _NAN


@njit(cache=True, nogil=True, error_model="numpy")
def frost_kernel(
    stack: np.ndarray,
    params: np.ndarray | None,
    pad: int,
    out: np.ndarray,
    size: int,
    damping: float,
) -> np.ndarray:
    """Frost et al. (1982): the weighted mean of the window's valid pixels.

    The weights are ``exp(-K · Ci² · d)``, d the distance (pixels) from the centre and Ci² =
    var/m² of the valid pixels (0 where m <= 0). Ring sums, see above.
    """
    n, ny_in, nx_in = stack.shape
    h = size // 2
    ny, nx = ny_in + 2 * pad - 2 * h, nx_in + 2 * pad - 2 * h
    ring_rows, ring_n_rows, ring_count, passes = _frost_plan(h)
    pass_kind, pass_terms, pass_rings, pass_roots, pass_offset = passes
    n_passes = pass_kind.shape[0]
    n_rings = ring_count.shape[0]
    width = min(_STRIP, nx)
    seg_v = np.empty(width + 2 * h)
    seg_n = np.empty(width + 2 * h)
    # Rows of pair sums: `size` source rows × (h + 1) values of j, then a zero
    # row, then (values only) the sums of rings with more than four rows.
    n_pairs = size * (h + 1)
    zero = n_pairs
    rows_v = np.zeros((n_pairs + 1 + n_rings, width))
    rows_n = np.zeros((n_pairs + 1, width))
    pairs_v = rows_v[:n_pairs].reshape((size, h + 1, width))
    pairs_n = rows_n[:n_pairs].reshape((size, h + 1, width))
    # row sums, each row twice (slots r % size and r % size + size): the
    # window's rows are the consecutive slots y % size .. y % size + 2h
    box_s = np.empty((2 * size, width))
    box_n = np.empty((2 * size, width))
    box_ss = np.empty((2 * size, width))
    has_nan = np.zeros(size, dtype=np.bool_)
    counted = np.zeros(size, dtype=np.bool_)  # pairs_n and box_n hold the row's counts
    counts = np.empty((n_rings + 1, width))  # ring_count as rows, then a zero row
    for r in range(n_rings):
        counts[r] = ring_count[r]
    counts[n_rings] = 0.0
    ring_n = np.empty((n_rings + 1, width))
    ring_n[n_rings] = 0.0
    # per slot of the centre row: the rows of each ring, and the four rows to add
    ring_index = np.empty((size, n_rings, 2 * h + 1), dtype=np.int64)
    index = np.full((size, n_rings + 1, 4), zero, dtype=np.int64)  # ring n_rings: none
    for c in range(size):
        for rr in range(1, n_rings):
            nr = ring_n_rows[rr]
            for m in range(nr):
                di, j = ring_rows[rr, m, 0], ring_rows[rr, m, 1]
                ring_index[c, rr, m] = ((c + di) % size) * (h + 1) + j
            if nr <= 4:
                index[c, rr, :nr] = ring_index[c, rr, :nr]
            else:  # summed beforehand into a row of its own
                index[c, rr, 0] = n_pairs + 1 + rr
    pass_index = np.empty((3, 4), dtype=np.int64)
    tot_n = np.empty(width)
    a = np.empty(width)
    num = np.empty(width)
    den = np.empty(width)
    for k in range(n):
        img = stack[k]
        for x0 in range(0, nx, width):
            w = min(width, nx - x0)
            seg = w + 2 * h
            for r in range(ny + 2 * h):
                slot = r % size
                has_nan[slot] = _source_segment(img, r, pad, x0, seg_v[:seg], seg_n[:seg])
                _source_pairs(seg_v[:seg], h, w, pairs_v[slot], box_s[slot], box_ss[slot])
                box_s[slot + size, :w] = box_s[slot, :w]
                box_ss[slot + size, :w] = box_ss[slot, :w]
                counted[slot] = has_nan[slot]
                if has_nan[slot]:
                    _count_pairs(seg_n[:seg], h, w, pairs_n[slot], box_n[slot])
                    box_n[slot + size, :w] = box_n[slot, :w]
                if r < 2 * h:
                    continue
                y = r - 2 * h  # output row; its window holds the source rows y .. r
                c = (y + h) % size  # slot of the centre row
                nan_free = True
                for t in range(size):
                    nan_free &= not has_nan[t]
                for rr in range(1, n_rings):
                    nr = ring_n_rows[rr]
                    if nr > 4:
                        _sum_rows(rows_v, ring_index[c, rr, :nr], w, rows_v[n_pairs + 1 + rr])
                if nan_free:
                    valid = counts
                else:
                    for t in range(size):
                        if not counted[t]:  # a row without NaN: constant counts
                            pairs_n[t, 0, :w] = 1.0
                            pairs_n[t, 1:, :w] = 2.0
                            box_n[t, :w] = float(size)
                            box_n[t + size, :w] = float(size)
                            counted[t] = True
                    for rr in range(1, n_rings):
                        _sum_rows(rows_n, ring_index[c, rr, : ring_n_rows[rr]], w, ring_n[rr])
                    _vertical_sum(box_n[y % size : y % size + size], h, w, tot_n)
                    valid = ring_n
                top = y % size  # the window's first row
                _frost_exponent(
                    box_s[top : top + size],
                    box_ss[top : top + size],
                    h,
                    tot_n,
                    nan_free,
                    damping,
                    w,
                    a,
                )
                centre = pairs_v[c, 0]  # weight 1
                centre_valid = counts[0] if nan_free else pairs_n[c, 0]
                for x in range(w):  # the centre pixel, weight 1
                    num[x] = centre[x]
                    den[x] = 1.0
                for t in range(n_passes):
                    rings = pass_rings[t] % (n_rings + 1)  # -1 -> n_rings: none (zero rows)
                    for m in range(3):
                        pass_index[m] = index[c, rings[m]]
                    if pass_kind[t] == _POWERS:
                        _weigh_powers(
                            a,
                            pass_roots[t, 0],
                            pass_offset[t],
                            rows_v,
                            pass_index,
                            valid,
                            rings,
                            w,
                            num,
                            den,
                        )
                    else:
                        _weigh_bases(
                            a,
                            pass_roots[t],
                            pass_terms[t],
                            rows_v,
                            pass_index,
                            valid,
                            rings,
                            w,
                            num,
                            den,
                        )
                _frost_output(centre_valid, num, den, w, out[k, y, x0 : x0 + w])
    return out
