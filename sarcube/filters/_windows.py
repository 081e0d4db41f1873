"""Running window sums and edge mirroring shared by the speckle-filter kernels.

Every kernel takes a stack of images float32, per-image parameters ``(n, k)``
float64 (or ``None``), ``pad`` and scalars, and returns float32. The stack
either already carries its halo of ``h = size // 2`` pixels on every side
(``pad = 0``: dask blocks with their neighbours' pixels) or has none and the
kernel mirrors its edges itself (``pad = h``: whole images in memory; numpy
``pad(mode="symmetric")``, the edge pixel repeated). The output is the
``(n, ny, nx)`` interior. NaN is nodata: windows ignore it and NaN pixels stay
NaN.

The Lee family, Gamma-MAP, boxcar (:mod:`._moments`) and the ENL histogram
(:mod:`._enl`) take window means and variances from running sums: per column
over the window's rows (updated by one row in, one row out as the window moves
down), then per row over ``size`` columns. Accumulation is float64. Frost
(:mod:`._frost`) and refined Lee (:mod:`._refined_lee`) need more than the
window moments and sum in an order fixed relative to each window.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
