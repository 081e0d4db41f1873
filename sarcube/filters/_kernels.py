"""Numba kernels of the speckle filters.

Every kernel takes a stack of images float32, per-image parameters ``(n, k)``
float64 (or ``None``), ``pad`` and scalars, and returns float32. The stack
either already carries its halo of ``h = size // 2`` pixels on every side
(``pad = 0``: dask blocks with their neighbours' pixels) or has none and the
kernel mirrors its edges itself (``pad = h``: whole images in memory; numpy
``pad(mode="symmetric")``, the edge pixel repeated). The output is the
``(n, ny, nx)`` interior. NaN is nodata: windows ignore it and NaN pixels stay
NaN.

Window means and variances come from running sums: per column over the
window's rows (updated by one row in, one row out as the window moves down),
then per row over ``size`` columns. Accumulation is float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Reassociation and contraction let LLVM vectorise; NaN semantics are kept
# (no "nnan") because NaN marks nodata.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_NAN = np.float32(np.nan)
#: Squared coefficients of variation below this are rounding residue of a constant window.
_CV2_ZERO = 1e-12


@njit(cache=True, nogil=True, error_model="numpy")
def _mirror(i: int, n: int) -> int:
    """Index into a length-*n* axis after symmetric padding (edge repeated)."""
    while i < 0 or i >= n:
        i = -i - 1 if i < 0 else 2 * n - i - 1
    return i


@njit(cache=True, nogil=True, error_model="numpy")
def _padded_row(img: np.ndarray, r: int, pad: int, buf: np.ndarray) -> np.ndarray:
    """Row *r* of *img* padded by *pad* on every side (a view when pad is 0)."""
    if pad == 0:
        row: np.ndarray = img[r]
        return row
    ny, nx = img.shape
    src = img[_mirror(r - pad, ny)]
    buf[pad : pad + nx] = src
    for j in range(pad):
        buf[pad - 1 - j] = src[_mirror(j, nx)]
        buf[pad + nx + j] = src[_mirror(nx - 1 - j, nx)]
    return buf


@njit(cache=True, nogil=True, error_model="numpy")
def pad_stack(stack: np.ndarray, pad: int) -> np.ndarray:
    """The stack mirrored by *pad* pixels on every side (itself when pad is 0)."""
    if pad == 0:
        return stack
    n, ny, nx = stack.shape
    out = np.empty((n, ny + 2 * pad, nx + 2 * pad), dtype=stack.dtype)
    for k in range(n):
        for r in range(ny + 2 * pad):
            _padded_row(stack[k], r, pad, out[k, r])
    return out


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _columns_add(row: np.ndarray, col_n: np.ndarray, col_s: np.ndarray, col_ss: np.ndarray) -> None:
    """Add one padded row to the column sums (NaN adds nothing)."""
    for j in range(row.shape[0]):
        v = np.float64(row[j])
        ok = v == v
        x = v if ok else 0.0
        col_n[j] += 1.0 if ok else 0.0
        col_s[j] += x
        col_ss[j] += x * x


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _columns_slide(
    row_in: np.ndarray,
    row_out: np.ndarray,
    col_n: np.ndarray,
    col_s: np.ndarray,
    col_ss: np.ndarray,
) -> None:
    """Move the window down one row: add *row_in*, remove *row_out*, in one pass."""
    for j in range(row_in.shape[0]):
        a = np.float64(row_in[j])
        b = np.float64(row_out[j])
        a_ok = a == a
        b_ok = b == b
        xa = a if a_ok else 0.0
        xb = b if b_ok else 0.0
        col_n[j] += (1.0 if a_ok else 0.0) - (1.0 if b_ok else 0.0)
        col_s[j] += xa - xb
        col_ss[j] += xa * xa - xb * xb


@njit(cache=True, nogil=True, error_model="numpy")
def _edge_update(
    row: np.ndarray, pad: int, sign: float, col_n: np.ndarray, col_s: np.ndarray, col_ss: np.ndarray
) -> None:
    """Update the 2·pad mirrored edge columns of the column sums with one source row."""
    nx = row.shape[0]
    for j in range(pad):
        for dst, src in ((pad - 1 - j, _mirror(j, nx)), (pad + nx + j, _mirror(nx - 1 - j, nx))):
            v = np.float64(row[src])
            if v == v:
                col_n[dst] += sign
                col_s[dst] += sign * v
                col_ss[dst] += sign * v * v


@njit(cache=True, nogil=True, error_model="numpy")
def _add_source_row(
    row: np.ndarray, pad: int, col_n: np.ndarray, col_s: np.ndarray, col_ss: np.ndarray
) -> None:
    """Add a source row (mirrored by *pad* columns on each side) to the column sums."""
    nx = row.shape[0]
    _columns_add(row, col_n[pad : pad + nx], col_s[pad : pad + nx], col_ss[pad : pad + nx])
    _edge_update(row, pad, 1.0, col_n, col_s, col_ss)


@njit(cache=True, nogil=True, error_model="numpy")
def _slide_source_rows(
    row_in: np.ndarray,
    row_out: np.ndarray,
    pad: int,
    col_n: np.ndarray,
    col_s: np.ndarray,
    col_ss: np.ndarray,
) -> None:
    """Add *row_in* and remove *row_out* (source rows, mirrored by *pad*) in one pass."""
    nx = row_in.shape[0]
    _columns_slide(
        row_in, row_out, col_n[pad : pad + nx], col_s[pad : pad + nx], col_ss[pad : pad + nx]
    )
    _edge_update(row_in, pad, 1.0, col_n, col_s, col_ss)
    _edge_update(row_out, pad, -1.0, col_n, col_s, col_ss)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _window_sums(
    size: int,
    col_n: np.ndarray,
    col_s: np.ndarray,
    col_ss: np.ndarray,
    win_n: np.ndarray,
    win_s: np.ndarray,
    win_ss: np.ndarray,
) -> None:
    """Sums over ``size`` consecutive columns for every output column of the row.

    A running sum (one column in, one out), measured faster here than prefix
    sums or tap-by-tap vector adds. When no column holds nodata (the common
    case) the count is the constant ``size²`` and only two sums run.
    """
    full = float(size * size)
    nan_free = True
    for j in range(col_n.shape[0]):
        nan_free &= col_n[j] == size
    b = 0.0
    c = 0.0
    for t in range(size):
        b += col_s[t]
        c += col_ss[t]
    win_s[0] = b
    win_ss[0] = c
    if nan_free:
        win_n[:] = full
        for j in range(1, win_n.shape[0]):
            b += col_s[j + size - 1] - col_s[j - 1]
            c += col_ss[j + size - 1] - col_ss[j - 1]
            win_s[j] = b
            win_ss[j] = c
        return
    a = 0.0
    for t in range(size):
        a += col_n[t]
    win_n[0] = a
    for j in range(1, win_n.shape[0]):
        a += col_n[j + size - 1] - col_n[j - 1]
        b += col_s[j + size - 1] - col_s[j - 1]
        c += col_ss[j + size - 1] - col_ss[j - 1]
        win_n[j] = a
        win_s[j] = b
        win_ss[j] = c


# --------------------------------------------------------------------------
# Lee family, Gamma-MAP, boxcar: a per-pixel rule on (x, mean, variance)
#
# One small loop per rule, chosen once per row, so each loop is branch-light
# and vectorises.


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _row_boxcar(centre: np.ndarray, n: np.ndarray, s: np.ndarray, out: np.ndarray) -> None:
    for x in range(out.shape[0]):
        ok = centre[x] == centre[x] and n[x] > 0
        out[x] = np.float32(s[x] / n[x]) if ok else _NAN


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _row_tutorial(
    centre: np.ndarray, n: np.ndarray, s: np.ndarray, ss: np.ndarray, sigma2: float, out: np.ndarray
) -> None:
    """w = v² / (v² + σ⁴); output m + w (x - m)."""
    s4 = sigma2 * sigma2
    for x in range(out.shape[0]):
        v0 = np.float64(centre[x])
        c = n[x]
        ok = v0 == v0 and c > 0
        cc = c if ok else 1.0
        m = s[x] / cc
        var = ss[x] / cc - m * m
        var2 = var * var
        denom = var2 + s4
        w = var2 / denom if denom > 0 else 0.0
        res = m + w * (v0 - m)
        out[x] = np.float32(res) if ok else _NAN


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _row_classic(
    centre: np.ndarray, n: np.ndarray, s: np.ndarray, ss: np.ndarray, cu2: float, out: np.ndarray
) -> None:
    """Lee (1980): w = (v - m²Cu²) / ((1 + Cu²) v), clipped to [0, 1]."""
    for x in range(out.shape[0]):
        v0 = np.float64(centre[x])
        c = n[x]
        ok = v0 == v0 and c > 0
        cc = c if ok else 1.0
        m = s[x] / cc
        var = max(ss[x] / cc - m * m, 0.0)
        denom = (1.0 + cu2) * var
        w = (var - m * m * cu2) / (denom if denom > 0 else 1.0)
        w = min(max(w, 0.0), 1.0) if denom > 0 else 0.0
        res = m + w * (v0 - m)
        out[x] = np.float32(res) if ok else _NAN


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _cv_rule(rule: int, v0: float, m: float, var: float, cu2: float, damping: float) -> float:
    """Enhanced Lee (rule 3) and Gamma-MAP (rule 4), Lopes et al. (1990)."""
    if m <= 0.0:
        return v0
    cu = math.sqrt(cu2)
    cmax = math.sqrt(1.0 + 2.0 * cu2)
    ci = math.sqrt(var) / m
    if ci <= cu:
        return m
    if ci >= cmax:
        return v0
    if rule == 3:
        w = math.exp(-damping * (ci - cu) / (cmax - ci))
        return m * w + v0 * (1.0 - w)
    # Gamma-MAP: positive root of  α x̂² - b m x̂ - L m x = 0,  α = (1 + Cu²)/(Ci² - Cu²), L = 1/Cu²
    looks = 1.0 / cu2
    alpha = (1.0 + cu2) / (ci * ci - cu2)
    b = alpha - looks - 1.0
    d = m * m * b * b + 4.0 * alpha * looks * m * v0
    return (b * m + math.sqrt(max(d, 0.0))) / (2.0 * alpha)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _row_cv(
    rule: int,
    centre: np.ndarray,
    n: np.ndarray,
    s: np.ndarray,
    ss: np.ndarray,
    cu2: float,
    damping: float,
    out: np.ndarray,
) -> None:
    for x in range(out.shape[0]):
        v0 = np.float64(centre[x])
        c = n[x]
        if v0 != v0 or c <= 0:
            out[x] = _NAN
            continue
        m = s[x] / c
        var = max(ss[x] / c - m * m, 0.0)
        out[x] = np.float32(_cv_rule(rule, v0, m, var, cu2, damping))


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _row_cv2(n: np.ndarray, s: np.ndarray, ss: np.ndarray, full: float, out: np.ndarray) -> None:
    """var / mean² of windows whose pixels are all valid and whose mean is > 0, else NaN."""
    for x in range(out.shape[0]):
        c = n[x]
        m = s[x] / c
        ok = c == full and m > 0
        res = (ss[x] / c - m * m) / (m * m)
        # A constant window gives 0 only up to the rounding of the sums, which differs
        # between vectorised and scalar code, hence with the chunking: make it exactly 0
        # (left out of the ENL histogram), so the estimate does not depend on the chunks.
        out[x] = np.float32(res if res > _CV2_ZERO else 0.0) if ok else _NAN


@njit(cache=True, nogil=True, error_model="numpy")
def moments_rule_kernel(
    stack: np.ndarray,
    params: np.ndarray | None,
    pad: int,
    out: np.ndarray,
    size: int,
    rule: int,
    damping: float,
) -> np.ndarray:
    """Apply a per-pixel rule to the window mean/variance of every pixel.

    Rules: 0 boxcar, 1 tutorial Lee (``params[k, 0]`` = σ² of image k),
    2 classic Lee, 3 enhanced Lee, 4 Gamma-MAP (``params[k, 0]`` = 1/ENL),
    5 the squared coefficient of variation of full windows (for ENL estimation).
    *out* ``(n, ny, nx)`` float32 is allocated by the caller (numpy's allocator
    maps large arrays on huge pages, numba's does not: far fewer page faults).
    The mirrored edge is handled through index arithmetic on the source rows:
    no padded copy of the image or of its rows is made.
    """
    n, ny_in, nx_in = stack.shape
    h = size // 2
    ny, nx = ny_in + 2 * pad - 2 * h, nx_in + 2 * pad - 2 * h
    nx_p = nx + 2 * h
    col_n = np.empty(nx_p)
    col_s = np.empty(nx_p)
    col_ss = np.empty(nx_p)
    win_n = np.empty(nx)
    win_s = np.empty(nx)
    win_ss = np.empty(nx)
    for k in range(n):
        img = stack[k]
        p0 = 0.0 if params is None else params[k, 0]
        if p0 != p0:  # no statistics for this image (all nodata): nothing to filter
            out[k] = _NAN
            continue
        col_n[:] = 0.0
        col_s[:] = 0.0
        col_ss[:] = 0.0
        # padded row r is source row _mirror(r - pad, ny_in)
        for r in range(size):
            _add_source_row(img[_mirror(r - pad, ny_in)], pad, col_n, col_s, col_ss)
        for y in range(ny):
            _window_sums(size, col_n, col_s, col_ss, win_n, win_s, win_ss)
            centre = img[_mirror(y + h - pad, ny_in)][h - pad : h - pad + nx]
            if rule == 0:
                _row_boxcar(centre, win_n, win_s, out[k, y])
            elif rule == 1:
                _row_tutorial(centre, win_n, win_s, win_ss, p0, out[k, y])
            elif rule == 2:
                _row_classic(centre, win_n, win_s, win_ss, p0, out[k, y])
            elif rule == 5:
                _row_cv2(win_n, win_s, win_ss, float(size * size), out[k, y])
            else:
                _row_cv(rule, centre, win_n, win_s, win_ss, p0, damping, out[k, y])
            if y + 1 < ny:
                _slide_source_rows(
                    img[_mirror(y + size - pad, ny_in)],
                    img[_mirror(y - pad, ny_in)],
                    pad,
                    col_n,
                    col_s,
                    col_ss,
                )
    return out


# --------------------------------------------------------------------------
# Frost: exponentially weighted mean, weights exp(-K · Ci² · distance)


@njit(cache=True, nogil=True, error_model="numpy")
def frost_kernel(
    stack: np.ndarray,
    params: np.ndarray | None,
    pad: int,
    out: np.ndarray,
    size: int,
    damping: float,
) -> np.ndarray:
    padded = pad_stack(stack, pad)
    n, ny_p, nx_p = padded.shape
    h = size // 2
    ny, nx = ny_p - 2 * h, nx_p - 2 * h
    dist = np.empty((size, size))
    for i in range(size):
        for j in range(size):
            dist[i, j] = math.sqrt((i - h) ** 2 + (j - h) ** 2)
    for k in range(n):
        img = padded[k]
        for y in range(ny):
            for x in range(nx):
                v0 = np.float64(img[y + h, x + h])
                if v0 != v0:
                    out[k, y, x] = _NAN
                    continue
                # window mean and variance of the valid pixels (the centre is one)
                c = 0.0
                s = 0.0
                ss = 0.0
                for i in range(size):
                    for j in range(size):
                        v = np.float64(img[y + i, x + j])
                        if v == v:
                            c += 1.0
                            s += v
                            ss += v * v
                m = s / c
                ci2 = max(ss / c - m * m, 0.0) / (m * m) if m > 0 else 0.0
                a = damping * ci2
                num = 0.0
                den = 0.0
                for i in range(size):
                    for j in range(size):
                        v = np.float64(img[y + i, x + j])
                        if v == v:
                            w = math.exp(-a * dist[i, j])
                            num += w * v
                            den += w
                out[k, y, x] = np.float32(num / den)
    return out


# --------------------------------------------------------------------------
# Median


@njit(cache=True, nogil=True, error_model="numpy")
def median_kernel(
    stack: np.ndarray, params: np.ndarray | None, pad: int, out: np.ndarray, size: int
) -> np.ndarray:
    padded = pad_stack(stack, pad)
    n, ny_p, nx_p = padded.shape
    h = size // 2
    ny, nx = ny_p - 2 * h, nx_p - 2 * h
    buf = np.empty(size * size, dtype=np.float32)
    for k in range(n):
        img = padded[k]
        for y in range(ny):
            for x in range(nx):
                if img[y + h, x + h] != img[y + h, x + h]:
                    out[k, y, x] = _NAN
                    continue
                c = 0
                for i in range(size):
                    for j in range(size):
                        v = img[y + i, x + j]
                        if v == v:
                            buf[c] = v
                            c += 1
                window = buf[:c]
                window.sort()
                if c % 2 == 1:
                    out[k, y, x] = window[c // 2]
                else:
                    out[k, y, x] = np.float32(
                        (np.float64(window[c // 2 - 1]) + np.float64(window[c // 2])) / 2.0
                    )
    return out


# --------------------------------------------------------------------------
# Refined Lee (Lee 1981): edge-aligned directional windows in a 7x7 window


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
def refined_lee_kernel(
    stack: np.ndarray, params: np.ndarray, pad: int, out: np.ndarray
) -> np.ndarray:
    padded = pad_stack(stack, pad)
    n, ny_p, nx_p = padded.shape
    ny, nx = ny_p - 6, nx_p - 6
    masks = _refined_masks()
    sub = np.empty((3, 3))
    for k in range(n):
        img = padded[k]
        cu2 = params[k, 0]
        for y in range(ny):
            for x in range(nx):
                v0 = np.float64(img[y + 3, x + 3])
                if v0 != v0 or cu2 != cu2:
                    out[k, y, x] = _NAN
                    continue
                # 3x3 sub-window means on a 3x3 grid with stride 2 (NaN-aware)
                for a in range(3):
                    for b in range(3):
                        s = 0.0
                        c = 0.0
                        for i in range(3):
                            for j in range(3):
                                v = np.float64(img[y + 2 * a + i, x + 2 * b + j])
                                if v == v:
                                    s += v
                                    c += 1.0
                        sub[a, b] = s / c if c > 0 else np.nan
                centre = sub[1, 1]  # never NaN: it holds the valid centre pixel
                for a in range(3):
                    for b in range(3):
                        if sub[a, b] != sub[a, b]:
                            sub[a, b] = centre
                g_vertical = abs(
                    sub[0, 2] + sub[1, 2] + sub[2, 2] - sub[0, 0] - sub[1, 0] - sub[2, 0]
                )
                g_horizontal = abs(
                    sub[2, 0] + sub[2, 1] + sub[2, 2] - sub[0, 0] - sub[0, 1] - sub[0, 2]
                )
                g_diag = abs(sub[0, 1] + sub[0, 2] + sub[1, 2] - sub[1, 0] - sub[2, 0] - sub[2, 1])
                g_anti = abs(sub[0, 0] + sub[0, 1] + sub[1, 0] - sub[1, 2] - sub[2, 1] - sub[2, 2])
                best = g_vertical
                direction = 0
                if g_horizontal > best:
                    best = g_horizontal
                    direction = 1
                if g_diag > best:
                    best = g_diag
                    direction = 2
                if g_anti > best:
                    direction = 3
                # keep the side whose mean is closer to the centre sub-window
                if direction == 0:
                    mask = 0 if abs(centre - sub[1, 0]) <= abs(centre - sub[1, 2]) else 1
                elif direction == 1:
                    mask = 2 if abs(centre - sub[0, 1]) <= abs(centre - sub[2, 1]) else 3
                elif direction == 2:
                    mask = 4 if abs(centre - sub[0, 2]) <= abs(centre - sub[2, 0]) else 5
                else:
                    mask = 6 if abs(centre - sub[0, 0]) <= abs(centre - sub[2, 2]) else 7
                s = 0.0
                ss = 0.0
                c = 0.0
                for i in range(7):
                    for j in range(7):
                        if masks[mask, i, j]:
                            v = np.float64(img[y + i, x + j])
                            if v == v:
                                s += v
                                ss += v * v
                                c += 1.0
                m = s / c
                var = max(ss / c - m * m, 0.0)
                if var <= 0.0:
                    out[k, y, x] = np.float32(m)
                    continue
                w = (var - m * m * cu2) / ((1.0 + cu2) * var)
                w = min(max(w, 0.0), 1.0)
                out[k, y, x] = np.float32(m + w * (v0 - m))
    return out
