"""Numba kernels of the speckle filters.

Every kernel takes a stack of images float32, per-image parameters ``(n, k)``
float64 (or ``None``), ``pad`` and scalars, and returns float32. The stack
either already carries its halo of ``h = size // 2`` pixels on every side
(``pad = 0``: dask blocks with their neighbours' pixels) or has none and the
kernel mirrors its edges itself (``pad = h``: whole images in memory; numpy
``pad(mode="symmetric")``, the edge pixel repeated). The output is the
``(n, ny, nx)`` interior. NaN is nodata: windows ignore it and NaN pixels stay
NaN.

The Lee family, Gamma-MAP, boxcar and the ENL histogram take window means
and variances from running sums: per column over the window's rows (updated
by one row in, one row out as the window moves down), then per row over
``size`` columns. Accumulation is float64. Each per-pixel rule is a
branch-free loop along a row, so LLVM vectorises it; ``exp`` is the
vectorisable :func:`_exp_neg`.

Frost and refined Lee need more than the window moments. They sweep the image
in strips of columns (their row buffers stay in cache) and sum in an order
fixed relative to each window (never a running sum), so their result does
not depend on the chunking bit for bit: Frost weighs rings of equal distance
(a few exponentials per pixel instead of one per window pixel), refined Lee
reads its sub-window means from one 3×3 box-mean image and its half windows
from partial row sums. See the sections below.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from .._reduce import bin_index

# Reassociation and contraction let LLVM vectorise; NaN semantics are kept
# (no "nnan") because NaN marks nodata.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_NAN = np.float32(np.nan)
#: Window CV² below this (an ENL above 100 000, the low end of the ENL histogram)
#: is left out of the ENL estimate like a constant window: with bright outliers
#: in the running sums, the rounding residue of a constant window reaches 1e-9
#: and more, and differs with the chunking.
_CV2_CONSTANT = 1e-5


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
        pad_into(stack[k], pad, out[k])
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def pad_into(img: np.ndarray, pad: int, out: np.ndarray) -> None:
    """Write *img* mirrored by *pad* pixels on every side into *out* (symmetric edge)."""
    if pad == 0:
        out[:] = img
        return
    for r in range(img.shape[0] + 2 * pad):
        _padded_row(img, r, pad, out[r])


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
    fill_count: bool = True,
) -> bool:
    """Sums over ``size`` consecutive columns for every output column of the row.

    A running sum (one column in, one out), measured faster here than prefix
    sums or tap-by-tap vector adds. When no column holds nodata (the common
    case) the count is the constant ``size²`` and only two sums run; the
    return value says whether that was so (*win_n* is then filled with the
    constant only when *fill_count*).
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
        if fill_count:
            win_n[:] = full
        for j in range(1, win_n.shape[0]):
            b += col_s[j + size - 1] - col_s[j - 1]
            c += col_ss[j + size - 1] - col_ss[j - 1]
            win_s[j] = b
            win_ss[j] = c
        return True
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
    return False


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


def _bitcast(to: Any) -> Any:
    """A numba intrinsic reinterpreting the bits of a 64-bit number as *to*
    (an LLVM bitcast: free, and vectorisable)."""

    def typer(typingctx: Any, value: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], context.get_value_type(to))

        source = types.int64 if to == types.float64 else types.float64
        return to(source), codegen

    return intrinsic(typer)


_as_float64 = _bitcast(types.float64)  # int64 -> float64
_as_int64 = _bitcast(types.int64)  # float64 -> int64


_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
#: 1.5·2⁵²: for an integer |k| < 2⁵¹, k + _ROUND is exact and holds k in its low bits.
_ROUND = 6755399441055744.0
_ROUND_BITS = 0x4338000000000000
# 1/n! for the Taylor polynomial of exp
_E2, _E3, _E4, _E5, _E6 = 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720
_E7, _E8, _E9, _E10 = 1 / 5040, 1 / 40320, 1 / 362880, 1 / 3628800


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _exp_neg(x: float) -> float:
    """exp(x) for x <= 0, branch-free so that loops calling it vectorise.

    Numba calls libm's scalar ``exp``, which stops a loop from vectorising.
    Here ``exp(x) = 2^k exp(r)`` with ``k = round(x log2 e)`` and
    ``|r| <= ln2 / 2``; ``exp(r)`` is the degree-10 Taylor polynomial
    (truncation < 1e-16, evaluated by Estrin's scheme for short dependency
    chains) and ``2^k`` is built from its exponent bits. Relative error
    < 4e-13 against libm on [-708, 0] (from rounding ``x log2 e``), far below
    float32 resolution; 0 below -708, where exp(x) < 3e-308.
    """
    t = x * _LOG2E
    k = np.rint(t)
    r = (t - k) * _LN2
    r2 = r * r
    r4 = r2 * r2
    low = (1.0 + r) + r2 * (_E2 + _E3 * r)
    mid = (_E4 + _E5 * r) + r2 * (_E6 + _E7 * r)
    high = (_E8 + _E9 * r) + r2 * _E10
    p = low + r4 * (mid + r4 * high)
    scale = _as_float64((_as_int64(k + _ROUND) - _ROUND_BITS + 1023) << 52)
    return p * scale if x >= -708.0 else 0.0


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _row_enhanced(
    centre: np.ndarray,
    n: np.ndarray,
    s: np.ndarray,
    ss: np.ndarray,
    cu2: float,
    damping: float,
    out: np.ndarray,
) -> None:
    """Enhanced Lee (Lopes et al. 1990), with Ci = sqrt(v)/m and Cmax = sqrt(1 + 2Cu²):
    m where Ci <= Cu, x where Ci >= Cmax (or m <= 0), else m w + x (1 - w) with
    w = exp(-K (Ci - Cu)/(Cmax - Ci)). Every case is computed and one selected, so
    the loop has no branches and vectorises."""
    cu = math.sqrt(cu2)
    cmax = math.sqrt(1.0 + 2.0 * cu2)
    for x in range(out.shape[0]):
        v0 = np.float64(centre[x])
        c = n[x]
        ok = v0 == v0 and c > 0
        cc = c if ok else 1.0
        m = s[x] / cc
        var = max(ss[x] / cc - m * m, 0.0)
        positive = m > 0.0
        ci = math.sqrt(var) / (m if positive else 1.0)
        gap = cmax - ci
        w = _exp_neg(min(-damping * (ci - cu) / (gap if gap > 0.0 else 1.0), 0.0))
        res = m * w + v0 * (1.0 - w)
        res = v0 if ci >= cmax else res
        res = m if ci <= cu else res
        res = res if positive else v0
        out[x] = np.float32(res) if ok else _NAN


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _row_gamma_map(
    centre: np.ndarray, n: np.ndarray, s: np.ndarray, ss: np.ndarray, cu2: float, out: np.ndarray
) -> None:
    """Gamma-MAP (Lopes et al. 1990): m where Ci <= Cu, x where Ci >= Cmax (or
    m <= 0), else the positive root of α x̂² - b m x̂ - L m x = 0 with
    α = (1 + Cu²)/(Ci² - Cu²), b = α - L - 1, L = 1/Cu². Branch-free as
    :func:`_row_enhanced`."""
    cu = math.sqrt(cu2)
    cmax = math.sqrt(1.0 + 2.0 * cu2)
    looks = 1.0 / cu2
    for x in range(out.shape[0]):
        v0 = np.float64(centre[x])
        c = n[x]
        ok = v0 == v0 and c > 0
        cc = c if ok else 1.0
        m = s[x] / cc
        var = max(ss[x] / cc - m * m, 0.0)
        positive = m > 0.0
        ci = math.sqrt(var) / (m if positive else 1.0)
        excess = ci * ci - cu2
        alpha = (1.0 + cu2) / (excess if excess > 0.0 else 1.0)
        b = alpha - looks - 1.0
        # m²b² as (mb)², so that for x = 0 the root is |mb| exactly and the estimate
        # exactly 0 (not a rounding residue of either sign that depends on the chunks)
        mb = m * b
        d = mb * mb + 4.0 * alpha * looks * m * v0
        res = (mb + math.sqrt(max(d, 0.0))) / (2.0 * alpha)
        res = v0 if ci >= cmax else res
        res = m if ci <= cu else res
        res = res if positive else v0
        out[x] = np.float32(res) if ok else _NAN


@njit(cache=True, nogil=True, error_model="numpy")
def _row_cv2(
    n: np.ndarray, s: np.ndarray, ss: np.ndarray, full: float, nan_free: bool, out: np.ndarray
) -> None:
    """var / mean² of windows whose pixels are all valid and whose mean is > 0, else NaN.

    *nan_free*: every window of the row is full (``n == full``), so the counts
    are not read. Both paths compute a full window's CV² the same way (IEEE
    arithmetic, no fast-math: a vectorised and a scalar iteration agree), so
    which one a row takes does not change it.
    """
    r = 1.0 / full
    if nan_free:
        for x in range(out.shape[0]):
            m = s[x] * r
            res = (ss[x] * r - m * m) / (m * m)
            out[x] = np.float32(res if res >= _CV2_CONSTANT else 0.0) if m > 0 else _NAN
        return
    for x in range(out.shape[0]):
        m = s[x] * r
        ok = n[x] == full and m > 0
        res = (ss[x] * r - m * m) / (m * m)
        # A constant window gives 0 only up to the rounding of the sums, which differs
        # between vectorised and scalar code and with the chunking: below the histogram's
        # range it is made exactly 0 (left out), so the estimate does not depend on chunks.
        out[x] = np.float32(res if res >= _CV2_CONSTANT else 0.0) if ok else _NAN


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
    2 classic Lee, 3 enhanced Lee, 4 Gamma-MAP (``params[k, 0]`` = 1/ENL).
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
            elif rule == 3:
                _row_enhanced(centre, win_n, win_s, win_ss, p0, damping, out[k, y])
            else:
                _row_gamma_map(centre, win_n, win_s, win_ss, p0, out[k, y])
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
# ENL estimation: a histogram of log10 CV², without a CV² image or a logarithm

#: A float32 bit pattern >> this is its cell in the log-bin table.
_CELL_SHIFT = 15
_CELL_LOW = (1 << _CELL_SHIFT) - 1


@njit(cache=True, nogil=True, error_model="numpy")
def _bin_row(bits: np.ndarray, table: np.ndarray, counts: np.ndarray) -> None:
    """Count a float32 row (its bit patterns) into log bins, without a logarithm.

    The bin of a positive float32 is a non-decreasing function of its bit
    pattern. The top 17 bits of the pattern (sign, exponent and 8 mantissa
    bits) name a cell narrower than a bin, so a cell holds at most one bin
    boundary: an entry of *table* (see :func:`log_bin_table`) packs the cell's
    first bin (+ 1) and where in the cell the next bin starts. *counts*
    ``(nbins + 1,)`` int64: entry 0 collects what is not counted (0, NaN),
    bin b is entry b + 1.
    """
    for x in range(bits.shape[0]):
        b = np.int64(bits[x])  # signed throughout: numba would mix unsigned and signed in float
        entry = np.int64(table[b >> _CELL_SHIFT])
        column = (entry & 0xFFFF) + (1 if (b & _CELL_LOW) >= (entry >> 16) else 0)
        counts[column] += 1


#: The ENL kernel's running column sums restart from a fresh sum every this many
#: rows, counted from the padded image's first row (see :func:`cv2_histogram_kernel`).
ANCHOR = 64


@njit(cache=True, nogil=True, error_model="numpy")
def _window_sums_fixed(
    size: int,
    col_n: np.ndarray,
    col_s: np.ndarray,
    col_ss: np.ndarray,
    win_n: np.ndarray,
    win_s: np.ndarray,
    win_ss: np.ndarray,
) -> bool:
    """The sums of :func:`_window_sums`, each added over its own columns left to right.

    A running sum carries the rounding of every column it passed, so its value
    depends on where the row (the block) starts; these do not. Each tap is one
    vectorised pass over the row (about twice the running sum's time). Returns
    whether no column holds nodata (*win_n* is then left unfilled).
    """
    nan_free = True
    for j in range(col_n.shape[0]):
        nan_free &= col_n[j] == size
    nx = win_s.shape[0]
    win_s[:] = col_s[:nx]
    win_ss[:] = col_ss[:nx]
    for t in range(1, size):
        for j in range(nx):
            win_s[j] += col_s[j + t]
            win_ss[j] += col_ss[j + t]
    if not nan_free:
        win_n[:] = col_n[:nx]
        for t in range(1, size):
            for j in range(nx):
                win_n[j] += col_n[j + t]
    return nan_free


@njit(cache=True, nogil=True, error_model="numpy")
def cv2_histogram_kernel(
    stack: np.ndarray,
    pad: int,
    counts: np.ndarray,
    size: int,
    table: np.ndarray,
    origin_y: int = 0,
    own_y: int = 0,
    own_ny: int = -1,
) -> np.ndarray:
    """Histogram (*counts* ``(n, nbins)`` float64, filled here) of the squared
    coefficient of variation var/mean² of every full window with mean > 0.

    The window moments do not depend on the block they are computed in, so
    the estimate is the same on any chunking: a window's column sums are
    running sums down the rows (as in :func:`moments_rule_kernel`) that
    restart from a fresh sum every :data:`ANCHOR` rows counted from the padded
    image's first row, and its window sums add its columns left to right
    (:func:`_window_sums_fixed`). The last bit of a CV² decides its histogram
    bin. *origin_y*: the position of the stack's first padded row in the
    padded image; only the windows of rows ``own_y .. own_y + own_ny`` are
    counted, and the block must reach back to the anchor before them (a halo
    :data:`ANCHOR` − 1 rows wider than the window's). Each row's CV²
    (:func:`_row_cv2`) is binned at once by :func:`_bin_row`, so no CV² image
    is written. *stack* and *pad* as for the filter kernels.
    """
    n, ny_in, nx_in = stack.shape
    nbins = counts.shape[1]
    h = size // 2
    ny, nx = ny_in + 2 * pad - 2 * h, nx_in + 2 * pad - 2 * h
    if own_ny < 0:
        own_ny = ny - own_y
    first_y = own_y - (origin_y + own_y) % ANCHOR
    if first_y < 0:
        raise ValueError("cv2_histogram_kernel: the block does not reach back to its anchor")
    nx_p = nx + 2 * h
    col_n = np.empty(nx_p)
    col_s = np.empty(nx_p)
    col_ss = np.empty(nx_p)
    win_n = np.empty(nx)
    win_s = np.empty(nx)
    win_ss = np.empty(nx)
    cv2 = np.empty(nx, dtype=np.float32)
    bits = cv2.view(np.uint32)
    partial = np.empty(nbins + 1, dtype=np.int64)
    full = float(size * size)
    for k in range(n):
        img = stack[k]
        partial[:] = 0
        for y in range(first_y, own_y + own_ny):
            if y == first_y or (origin_y + y) % ANCHOR == 0:
                col_n[:] = 0.0
                col_s[:] = 0.0
                col_ss[:] = 0.0
                for r in range(size):
                    _add_source_row(img[_mirror(y + r - pad, ny_in)], pad, col_n, col_s, col_ss)
            else:
                _slide_source_rows(
                    img[_mirror(y + size - 1 - pad, ny_in)],
                    img[_mirror(y - 1 - pad, ny_in)],
                    pad,
                    col_n,
                    col_s,
                    col_ss,
                )
            if y < own_y:
                continue
            nan_free = _window_sums_fixed(size, col_n, col_s, col_ss, win_n, win_s, win_ss)
            _row_cv2(win_n, win_s, win_ss, full, nan_free, cv2)
            _bin_row(bits, table, partial)
        counts[k] = partial[1:]
    return counts


@njit(cache=True, nogil=True, error_model="numpy")
def _log_bin(v: np.float32, lo: float, scale: float, nbins: int) -> int:
    """The bin of a float32 *v* > 0: ``int((log10(v) - lo) * scale)`` clipped to the bins."""
    return bin_index(np.log10(v), lo, scale, nbins)


@njit(cache=True, nogil=True, error_model="numpy")
def log_bin_table(lo: float, scale: float, nbins: int) -> np.ndarray:
    """The cell table of :func:`_bin_row`, reproducing :func:`_log_bin` exactly.

    One uint32 per cell (float32 bit pattern >> 15, all 2¹⁷ cells): bits 0-15
    the bin of the cell's first value + 1, bits 16-31 the low 15 bits of the
    first pattern of the next bin (found by bisection; 2¹⁵: none). 0, negative
    values, +inf and NaN are not counted (column 0): the CV² of non-negative
    data lies in [0, size² - 1]. Raises when a cell would hold two boundaries.
    """
    ncells = 1 << (32 - _CELL_SHIFT)
    table = np.empty(ncells, dtype=np.uint32)
    word = np.empty(1, dtype=np.uint32)
    value = word.view(np.float32)
    none = _CELL_LOW + 1
    for cell in range(ncells):
        first = cell << _CELL_SHIFT
        last = first + _CELL_LOW
        if last >= 0x7F800000:  # +inf, NaN, negative
            table[cell] = (none << 16) | 0
            continue
        word[0] = max(first, 1)
        b0 = _log_bin(value[0], lo, scale, nbins)
        word[0] = last
        b1 = _log_bin(value[0], lo, scale, nbins)
        if b1 != b0 and b1 != b0 + 1:
            raise ValueError("log_bin_table: bins narrower than the float32 cells")
        split = none
        if b1 != b0:
            below, above = max(first, 1), last  # bin(below) == b0, bin(above) == b1
            while above - below > 1:
                mid = (below + above) // 2
                word[0] = mid
                if _log_bin(value[0], lo, scale, nbins) == b0:
                    below = mid
                else:
                    above = mid
            split = above - first
        if first == 0:  # 0 is not counted, the subnormals after it are (bin 0)
            if b1 != b0 or b0 != 0:
                raise ValueError("log_bin_table: a bin boundary among the subnormals")
            table[cell] = (1 << 16) | 0
        else:
            table[cell] = (split << 16) | (b0 + 1)
    return table


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
    """Padded row *r*, padded columns ``c0 .. c0 + len(v)``: the values with NaN
    as 0 in *v*, and when there is NaN (the return value), 1/0 for valid/NaN in
    *valid*."""
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
    """``pairs[j, x] = seg[x+h-j] + seg[x+h+j]`` (j = 0: ``seg[x+h]``), and the
    sums over j = 0..h of the pairs in *box* and of their squares in *box_sq*
    (the row sums across the window). Inlined where h is a constant (see
    :func:`_source_pairs`), the loop over j unrolls inside the vectorised loop
    over x."""
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
    """a = K · Ci², Ci² = var/m² of the window's valid pixels (0 where m <= 0),
    from the row sums *box_s*, *box_ss* of the window's 2h + 1 rows (added as
    the centre row, then the rows ±1, ±2, ...). *n*: the valid pixels; *full*:
    all of them, ``n = (2h+1)²``, and 1/n is taken once (the same number as
    per pixel)."""
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
    """:func:`_exponent_rows`, with h and *full* compile-time constants for the
    common windows (the loop over the rows unrolls; no division by n)."""
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
    """num += e^k S_k, den += e^k N_k for the powers k = offset + 1..3 of
    e = exp(-a √q). Ring k sums the four rows ``rows[index[k]]`` and has
    ``valid[rings[k]]`` valid pixels. num and den are updated in place: a loop
    that reads one array and writes another that may be the same would not
    vectorise."""
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
    """num += e_k S_k, den += e_k N_k for the rings d = √q_k of *n_bases* (1-3)
    values of q, e_k = exp(-a √q_k); rings as in :func:`_weigh_powers`."""
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
    """Frost et al. (1982): the mean of the window's valid pixels weighted by
    ``exp(-K · Ci² · d)``, d the distance (pixels) from the centre and Ci² =
    var/m² of the valid pixels (0 where m <= 0). Ring sums, see above."""
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
    """Each half window of :func:`_refined_masks` as one run of columns in each
    of its rows: per mask the number of rows (7, or 4 for top and bottom), and
    ``(8, 7)`` the rows, the runs' lengths and their first columns."""
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
    """``out[L - 1, x] = seg[x] + seg[x + 1] + ... + seg[x + L - 1]`` (left to
    right) for L = 1..7 and every x where the run fits in ``seg[:n]``, and the
    same of the squares in *out_sq*. One vectorised loop per L."""
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
    """3×3 means of the valid pixels (NaN where none) centred on the middle of
    three rows, at columns 1..w: from their values (NaN as 0) and valid flags
    (all valid: *nan_free*), summed row by row, left to right, from 0 — as the
    direct loops do."""
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
    """The half window (0-7, :func:`_refined_masks`) of a pixel from its 3×3
    sub-window means: beside the strongest of four edge directions, on the side
    whose mean is closer to the centre's. Strict IEEE arithmetic in the order
    of the direct computation (no fastmath), so ties resolve as there."""
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
    """The sums over each pixel's half window of *part* and *part_sq* (partial
    row sums, :func:`_partial_sums`): seven, ``part[x + offsets[mask[x], i]]``
    for the window rows i = 0..6 from the top (a row outside the half window
    points at zeros). One half window per pixel, gathered: a scalar loop, on
    unsigned indices (no test for negative ones)."""
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
    """The classic Lee MMSE estimate from the half window's sums of the values
    *s* and squares *ss* and its valid pixels *n* (28 when *nan_free*, and *n*
    not read), in the order of the direct computation (no fastmath)."""
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
