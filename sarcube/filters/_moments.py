"""Kernels of the Lee family, Gamma-MAP and boxcar: a per-pixel rule on the window moments."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from ._windows import (
    _CV2_CONSTANT,
    _FASTMATH,
    _NAN,
    _add_source_row,
    _mirror,
    _slide_source_rows,
    _window_sums,
)

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
    """``w = v² / (v² + σ⁴)``; output ``m + w (x - m)``."""
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
    """A numba intrinsic reinterpreting the bits of a 64-bit number as *to*.

    It is an LLVM bitcast: free, and vectorisable.
    """

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
    """Enhanced Lee (Lopes et al. 1990), with Ci = sqrt(v)/m and Cmax = sqrt(1 + 2Cu²).

    The estimate is m where Ci <= Cu, x where Ci >= Cmax (or m <= 0), else m w + x (1 - w) with
    w = exp(-K (Ci - Cu)/(Cmax - Ci)). Every case is computed and one selected, so
    the loop has no branches and vectorises.
    """
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
    """Gamma-MAP (Lopes et al. 1990), branch-free.

    The estimate is m where Ci <= Cu, x where Ci >= Cmax (or m <= 0), else the
    positive root of α x̂² - b m x̂ - L m x = 0 with α = (1 + Cu²)/(Ci² - Cu²),
    b = α - L - 1, L = 1/Cu². Branch-free as :func:`_row_enhanced`.
    """
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
    """``var / mean²`` of windows whose pixels are all valid and whose mean is > 0, else NaN.

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
