"""The two TV solvers of :func:`~sarcube.filters.tv_denoise`, on one 2-D image (numba).

``_chambolle`` is Chambolle's (2004) projection algorithm as one streaming pass
over the rows per iteration; ``_bregman`` split Bregman with Gauss-Seidel
sweeps (Goldstein & Osher 2009). Both record the energy (or update) trace over
an interior rectangle, which the chunked run sums across chunks; :func:`solve`
runs either on an image whose NaN are filled.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _dual_to_primal_row(
    f: np.ndarray, p0: np.ndarray, p1: np.ndarray, y: int, out_row: np.ndarray
) -> float:
    """Row *y* of ``f + div p`` into *out_row*; returns the row's Σ (div p)².

    Edge terms are peeled off the loops so the loops vectorise.
    """
    nx = f.shape[1]
    fr = f[y]
    a = p0[y]
    b = p1[y]
    energy = 0.0
    d = -a[0] - b[0] + (p0[y - 1, 0] if y > 0 else f.dtype.type(0))
    out_row[0] = fr[0] + d
    energy += np.float64(d) * np.float64(d)
    if y > 0:
        above = p0[y - 1]
        for x in range(1, nx):
            d = above[x] - a[x] + b[x - 1] - b[x]
            out_row[x] = fr[x] + d
            energy += np.float64(d) * np.float64(d)
    else:
        for x in range(1, nx):
            d = b[x - 1] - a[x] - b[x]
            out_row[x] = fr[x] + d
            energy += np.float64(d) * np.float64(d)
    return energy


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _update_dual_row(
    cur: np.ndarray,
    nxt: np.ndarray,
    last: bool,
    a: np.ndarray,
    b: np.ndarray,
    tau: float,
    scale: float,
    norms: np.ndarray,
) -> float:
    """Gradient of the primal row, projected dual update of row (a, b); returns Σ |grad|.

    The gradient magnitudes go to *norms* (for energies over part of the row).
    All constants come typed like the image, so float32 images stay in float32
    (and vectorise 8-wide), as skimage computes on them.
    """
    nx = cur.shape[0]
    one = cur.dtype.type(1)
    zero = cur.dtype.type(0)
    tau_t = cur.dtype.type(tau)
    scale_t = cur.dtype.type(scale)
    tv = 0.0
    for x in range(nx - 1):
        g0 = zero if last else nxt[x] - cur[x]
        g1 = cur[x + 1] - cur[x]
        norm = np.sqrt(g0 * g0 + g1 * g1)
        norms[x] = norm
        tv += np.float64(norm)
        denom = one + norm * scale_t
        a[x] = (a[x] - tau_t * g0) / denom
        b[x] = (b[x] - tau_t * g1) / denom
    x = nx - 1
    g0 = zero if last else nxt[x] - cur[x]
    norm = np.abs(g0)
    norms[x] = norm
    tv += np.float64(norm)
    denom = one + norm * scale_t
    a[x] = (a[x] - tau_t * g0) / denom
    b[x] = b[x] / denom
    return tv


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _interior_energy(
    cur: np.ndarray, f_row: np.ndarray, norms: np.ndarray, weight: float, l0: int, l1: int
) -> float:
    """Σ (out - f)² + weight · |grad out| over columns [l0, l1) of one row."""
    e = 0.0
    for x in range(l0, l1):
        d = np.float64(cur[x]) - np.float64(f_row[x])
        e += d * d + weight * np.float64(norms[x])
    return e


@njit(cache=True, nogil=True, error_model="numpy")
def _chambolle(
    f: np.ndarray,
    weight: float,
    eps: float,
    max_iter: int,
    p0: np.ndarray,
    p1: np.ndarray,
    out: np.ndarray,
    trace: np.ndarray,
    t0: int,
    t1: int,
    l0: int,
    l1: int,
) -> int:
    """Chambolle's projection algorithm on one 2-D image (float32 or float64).

    *p0*, *p1* (zeros) and *out* are work arrays shaped and typed like *f*.
    Stops as skimage does (energy change below ``eps`` times the first
    energy; ``eps = 0`` runs exactly *max_iter* iterations) and returns the
    number of iterations run. ``trace[i]`` receives iteration i's energy
    (unnormalised) over rows [t0, t1) and columns [l0, l1): summed over the
    chunks of an image, these give the whole image's energies.
    """
    ny, nx = f.shape
    tau = 0.25
    scale = tau / weight
    cur = np.empty(nx, dtype=f.dtype)
    nxt = np.empty(nx, dtype=f.dtype)
    norms = np.empty(nx, dtype=f.dtype)
    e_init = 0.0
    e_prev = 0.0
    for i in range(max_iter):
        energy = _dual_to_primal_row(f, p0, p1, 0, cur)
        tv = 0.0
        inside = 0.0
        for y in range(ny):
            # the next primal row needs the dual of rows y and y+1 before row y changes
            last = y + 1 == ny
            if not last:
                energy += _dual_to_primal_row(f, p0, p1, y + 1, nxt)
            out[y] = cur
            tv += _update_dual_row(cur, nxt, last, p0[y], p1[y], tau, scale, norms)
            if t0 <= y < t1:
                inside += _interior_energy(cur, f[y], norms, weight, l0, l1)
            cur, nxt = nxt, cur
        trace[i] = inside
        energy = energy + weight * tv
        if i == 0:
            e_init = energy
            e_prev = energy
        elif abs(e_prev - energy) < eps * e_init:
            return i + 1
        else:
            e_prev = energy
    return max_iter


@njit(cache=True, nogil=True, error_model="numpy")
def _bregman(
    f: np.ndarray,
    weight: float,
    eps: float,
    max_iter: int,
    u: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    trace: np.ndarray,
    t0: int,
    t1: int,
    l0: int,
    l1: int,
) -> int:
    """Isotropic split Bregman with Gauss-Seidel sweeps on one 2-D image.

    Work arrays ``(ny + 2, nx + 2)`` typed like *f*, zeros; the result is
    ``u[1:-1, 1:-1]``. Stops as skimage does (RMS update below ``eps``;
    ``eps = 0`` runs exactly *max_iter* sweeps) and returns the sweeps run;
    ``trace[i]`` receives sweep i's Σ update² over rows [t0, t1) and columns
    [l0, l1) of the image.
    """
    ny, nx = f.shape
    dtype = f.dtype.type
    w = dtype(weight)
    lam = dtype(2) * w
    norm = w + dtype(4) * lam
    u[1:-1, 1:-1] = f
    # mirror one pixel around the image, edge not repeated (corners stay 0)
    u[0, 1:-1] = f[1 if ny > 1 else 0]
    u[-1, 1:-1] = f[ny - 1]
    u[1:-1, 0] = f[:, 1 if nx > 1 else 0]
    u[1:-1, -1] = f[:, nx - 1]
    rmse = np.inf
    i = 0
    while i < max_iter and rmse > eps:
        sq = 0.0
        inside = 0.0
        for r in range(1, ny + 1):
            row_inside = t0 < r <= t1
            for c in range(1, nx + 1):
                prev = u[r, c]
                ux = u[r, c + 1] - prev
                uy = u[r + 1, c] - prev
                new = (
                    lam
                    * (
                        u[r + 1, c]
                        + u[r - 1, c]
                        + u[r, c + 1]
                        + u[r, c - 1]
                        + dx[r, c - 1]
                        - dx[r, c]
                        + dy[r - 1, c]
                        - dy[r, c]
                        - bx[r, c - 1]
                        + bx[r, c]
                        - by[r - 1, c]
                        + by[r, c]
                    )
                    + w * f[r - 1, c - 1]
                ) / norm
                u[r, c] = new
                step = new - prev
                sq += step * step
                if row_inside and l0 < c <= l1:
                    inside += step * step
                tx = ux + bx[r, c]
                ty = uy + by[r, c]
                s = math.sqrt(tx * tx + ty * ty)
                shrink = s * lam / (s * lam + 1)
                ddx = shrink * tx
                ddy = shrink * ty
                dx[r, c] = ddx
                dy[r, c] = ddy
                bx[r, c] += ux - ddx
                by[r, c] += uy - ddy
        rmse = math.sqrt(sq / (ny * nx))
        trace[i] = inside
        i += 1
    return i


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def _fill_nan(img: np.ndarray, fill: float, out: np.ndarray) -> None:
    """Copy *img* into *out* (its dtype), NaN replaced by *fill*."""
    fill_t = out.dtype.type(fill)
    for y in range(img.shape[0]):
        src = img[y]
        dst = out[y]
        for x in range(src.shape[0]):
            v = src[x]
            dst[x] = fill_t if v != v else out.dtype.type(v)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def restore_nan(img: np.ndarray, res: np.ndarray, top: int, left: int, out: np.ndarray) -> None:
    """The interior of *res* as float32 into *out*, NaN where *img* is NaN."""
    nan = np.float32(np.nan)
    for y in range(out.shape[0]):
        src = img[top + y]
        val = res[top + y]
        dst = out[y]
        for x in range(out.shape[1]):
            v = src[left + x]
            dst[x] = nan if v != v else np.float32(val[left + x])


def solve(
    image: np.ndarray,
    fill: float,
    method: int,
    weight: float,
    eps: float,
    max_iter: int,
    dtype: type,
    interior: tuple[int, int, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """TV-denoise one image (NaN filled with *fill*) in *dtype*.

    Returns the result and the per-iteration trace over *interior* (rows
    [t0, t1), columns [l0, l1)). Work arrays come from numpy, which maps large
    arrays on huge pages: far fewer page faults than allocating them in
    compiled code.
    """
    work: np.ndarray = np.empty(image.shape, dtype=dtype)
    _fill_nan(image, fill, work)
    trace = np.zeros(max_iter)
    if method == 0:
        result = np.empty_like(work)
        n = _chambolle(
            work,
            weight,
            eps,
            max_iter,
            np.zeros_like(work),
            np.zeros_like(work),
            result,
            trace,
            *interior,
        )
        return result, trace[:n]
    ny, nx = image.shape
    u, dx, dy, bx, by = (np.zeros((ny + 2, nx + 2), dtype=dtype) for _ in range(5))
    n = _bregman(work, weight, eps, max_iter, u, dx, dy, bx, by, trace, *interior)
    return u[1:-1, 1:-1], trace[:n]
