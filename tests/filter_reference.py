"""Plain numpy reference implementations of the speckle filters (slow, obvious).

Each takes one 2-D float array, mirrors its edge with ``np.pad(mode="symmetric")``,
visits every pixel's window, ignores NaN, and applies the published formula.
The numba kernels in ``sarcube.filters`` are checked against these.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.ndimage import uniform_filter


def _windows(img: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    h = size // 2
    return np.pad(img.astype(np.float64), h, mode="symmetric"), h


def _local(img: np.ndarray, size: int, rule: Callable[[float, np.ndarray], float]) -> np.ndarray:
    padded, _ = _windows(img, size)
    out = np.full(img.shape, np.nan)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            v0 = float(img[y, x])
            if np.isnan(v0):
                continue
            window = padded[y : y + size, x : x + size]
            out[y, x] = rule(v0, window[~np.isnan(window)])
    return out


def boxcar(img: np.ndarray, size: int) -> np.ndarray:
    return _local(img, size, lambda v0, w: w.mean())


def median(img: np.ndarray, size: int) -> np.ndarray:
    return _local(img, size, lambda v0, w: float(np.median(w)))


def lee_tutorial(img: np.ndarray, size: int) -> np.ndarray:
    sigma2 = np.nanvar(img.astype(np.float64))

    def rule(v0: float, w: np.ndarray) -> float:
        m, v = w.mean(), w.var()
        weight = v**2 / (v**2 + sigma2**2)
        return m + weight * (v0 - m)

    return _local(img, size, rule)


def lee_tutorial_scipy(img: np.ndarray, size: int) -> np.ndarray:
    """The teaching-notebook formulation with scipy.ndimage.uniform_filter (no NaN)."""
    x = img.astype(np.float64)
    m = uniform_filter(x, size, mode="reflect")
    v = uniform_filter(x * x, size, mode="reflect") - m * m
    s2 = x.var()
    return m + v**2 / (v**2 + s2**2) * (x - m)


def lee_classic(img: np.ndarray, size: int, enl: float) -> np.ndarray:
    cu2 = 1.0 / enl

    def rule(v0: float, w: np.ndarray) -> float:
        m, v = w.mean(), w.var()
        if v <= 0:
            return m
        weight = min(max((v - m * m * cu2) / ((1 + cu2) * v), 0.0), 1.0)
        return m + weight * (v0 - m)

    return _local(img, size, rule)


def _cv_rule(kind: str, enl: float, damping: float) -> Callable[[float, np.ndarray], float]:
    cu = math.sqrt(1.0 / enl)
    cmax = math.sqrt(1.0 + 2.0 / enl)

    def rule(v0: float, w: np.ndarray) -> float:
        m, v = w.mean(), w.var()
        if m <= 0:
            return v0
        ci = math.sqrt(v) / m
        if ci <= cu:
            return m
        if ci >= cmax:
            return v0
        if kind == "enhanced":
            k = math.exp(-damping * (ci - cu) / (cmax - ci))
            return m * k + v0 * (1 - k)
        alpha = (1 + cu**2) / (ci**2 - cu**2)
        b = alpha - enl - 1
        d = m * m * b * b + 4 * alpha * enl * m * v0
        return (b * m + math.sqrt(d)) / (2 * alpha)

    return rule


def lee_enhanced(img: np.ndarray, size: int, enl: float, damping: float = 1.0) -> np.ndarray:
    return _local(img, size, _cv_rule("enhanced", enl, damping))


def gamma_map(img: np.ndarray, size: int, enl: float) -> np.ndarray:
    return _local(img, size, _cv_rule("gamma", enl, 1.0))


def frost(img: np.ndarray, size: int, damping: float) -> np.ndarray:
    padded, h = _windows(img, size)
    yy, xx = np.mgrid[-h : h + 1, -h : h + 1]
    dist = np.sqrt(yy**2 + xx**2)
    out = np.full(img.shape, np.nan)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            if np.isnan(img[y, x]):
                continue
            w = padded[y : y + size, x : x + size]
            valid = ~np.isnan(w)
            m, v = w[valid].mean(), w[valid].var()
            weights = np.exp(-damping * (v / m**2) * dist)[valid]
            out[y, x] = (weights * w[valid]).sum() / weights.sum()
    return out


def refined_lee(img: np.ndarray, enl: float) -> np.ndarray:
    """Lee (1981): the half window beside the strongest of four edge directions."""
    padded, _ = _windows(img, 7)
    i, j = np.mgrid[0:7, 0:7]
    masks = [j <= 3, j >= 3, i <= 3, i >= 3, j >= i, j <= i, i + j <= 6, i + j >= 6]
    cu2 = 1.0 / enl
    out = np.full(img.shape, np.nan)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            v0 = img[y, x]
            if np.isnan(v0):
                continue
            w = padded[y : y + 7, x : x + 7]
            sub = np.array(
                [
                    [
                        np.nanmean(w[2 * a : 2 * a + 3, 2 * b : 2 * b + 3])
                        if (~np.isnan(w[2 * a : 2 * a + 3, 2 * b : 2 * b + 3])).any()
                        else np.nan
                        for b in range(3)
                    ]
                    for a in range(3)
                ]
            )
            c = sub[1, 1]
            sub[np.isnan(sub)] = c
            grads = [
                abs(sub[:, 2].sum() - sub[:, 0].sum()),
                abs(sub[2, :].sum() - sub[0, :].sum()),
                abs(sub[0, 1] + sub[0, 2] + sub[1, 2] - sub[1, 0] - sub[2, 0] - sub[2, 1]),
                abs(sub[0, 0] + sub[0, 1] + sub[1, 0] - sub[1, 2] - sub[2, 1] - sub[2, 2]),
            ]
            d = int(np.argmax(grads))  # first maximum, as the kernel
            pairs = [((1, 0), (1, 2)), ((0, 1), (2, 1)), ((0, 2), (2, 0)), ((0, 0), (2, 2))]
            first, second = pairs[d]
            side = 0 if abs(c - sub[first]) <= abs(c - sub[second]) else 1
            sel = w[masks[2 * d + side]]
            sel = sel[~np.isnan(sel)]
            m, v = sel.mean(), sel.var()
            if v <= 0:
                out[y, x] = m
                continue
            weight = min(max((v - m * m * cu2) / ((1 + cu2) * v), 0.0), 1.0)
            out[y, x] = m + weight * (v0 - m)
    return out


def enl(img: np.ndarray, size: int, lo: float = -5.0, hi: float = 3.0, nbins: int = 4000) -> float:
    """1 / median of the CV² = var/m² of the full windows with m > 0 (float32, < 1e-12 is 0
    and left out), the median read off the histogram of log10 CV² (nbins over [lo, hi],
    linear interpolation inside the median's bin)."""
    padded, _ = _windows(img, size)
    scale = nbins / (hi - lo)
    counts = np.zeros(nbins)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            w = padded[y : y + size, x : x + size]
            m = w.mean()
            if np.isnan(m) or m <= 0:
                continue
            cv2 = w.var() / m**2
            if cv2 <= 1e-12:
                continue
            b = int((np.log10(np.float32(cv2)) - lo) * scale)
            counts[min(max(b, 0), nbins - 1)] += 1
    if counts.sum() == 0:
        return math.nan
    cum = np.cumsum(counts)
    half = counts.sum() / 2
    idx = int(np.argmax(cum >= half))
    frac = (half - (cum[idx] - counts[idx])) / counts[idx]
    return float(10.0 ** -(lo + (idx + frac) / scale))
