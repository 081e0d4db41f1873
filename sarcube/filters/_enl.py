"""The ENL estimate's kernel: a histogram of the windows' log10 CV², chunk-invariant."""

from __future__ import annotations

import numpy as np
from numba import njit

from .._reduce import bin_index
from ._moments import _row_cv2
from ._windows import _add_source_row, _mirror, _slide_source_rows

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


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _column_sums(
    size: int, col_s: np.ndarray, col_ss: np.ndarray, win_s: np.ndarray, win_ss: np.ndarray
) -> None:
    """``win[j] = col[j] + col[j + 1] + … + col[j + size − 1]``, added left to right.

    Inlined where *size* is a constant, the tap loop is unrolled and the column
    loop vectorised, with each sum kept in a register (four times faster than
    adding one tap to the whole row at a time, same order of additions).
    """
    for j in range(win_s.shape[0]):
        s = col_s[j]
        ss = col_ss[j]
        for t in range(1, size):
            s += col_s[j + t]
            ss += col_ss[j + t]
        win_s[j] = s
        win_ss[j] = ss


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
    depends on where the row (the block) starts; these do not. The common
    window sizes get their own unrolled loop (:func:`_column_sums`). Returns
    whether no column holds nodata (*win_n* is then left unfilled).
    """
    nan_free = True
    for j in range(col_n.shape[0]):
        nan_free &= col_n[j] == size
    if size == 3:
        _column_sums(3, col_s, col_ss, win_s, win_ss)
    elif size == 5:
        _column_sums(5, col_s, col_ss, win_s, win_ss)
    elif size == 7:
        _column_sums(7, col_s, col_ss, win_s, win_ss)
    elif size == 9:
        _column_sums(9, col_s, col_ss, win_s, win_ss)
    elif size == 11:
        _column_sums(11, col_s, col_ss, win_s, win_ss)
    else:
        _column_sums(size, col_s, col_ss, win_s, win_ss)
    if not nan_free:
        nx = win_n.shape[0]
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
    """Histogram of the squared coefficient of variation of the full windows.

    *counts* ``(n, nbins)`` float64 is filled here with the var/mean² of every
    full window whose mean is > 0.

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
