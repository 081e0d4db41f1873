"""Threshold criteria on a histogram (Otsu, Kittler-Illingworth) and the bimodality tests."""

from __future__ import annotations

import math

import numpy as np


def otsu(counts: np.ndarray, centres: np.ndarray) -> float:
    """Otsu's (1979) threshold on a histogram: the split maximising between-class variance.

    Returns the upper edge of the last bin of the lower class (values ``<=`` it
    are the dark class), or NaN for an empty or single-valued histogram. When
    the score is flat across an empty gap between the modes, the middle of the
    gap is taken.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0 or np.count_nonzero(counts) < 2:
        return math.nan
    w0 = np.cumsum(counts)[:-1]
    w1 = total - w0
    s0 = np.cumsum(counts * centres)[:-1]
    mu0 = s0 / np.where(w0 > 0, w0, 1)
    mu1 = (np.sum(counts * centres) - s0) / np.where(w1 > 0, w1, 1)
    between = np.where((w0 > 0) & (w1 > 0), w0 * w1 * (mu0 - mu1) ** 2, -1.0)
    return _split_value(counts, centres, int(np.argmax(between)))


def kittler_illingworth(counts: np.ndarray, centres: np.ndarray) -> float:
    """Kittler & Illingworth's (1986) minimum-error threshold on a histogram.

    Minimises ``J(t) = 1 + 2 (P1 ln σ1 + P2 ln σ2) − 2 (P1 ln P1 + P2 ln P2)``
    over splits whose two classes both have a positive variance.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0 or np.count_nonzero(counts) < 2:
        return math.nan
    p = counts / total
    c0 = np.cumsum(p)[:-1]
    c1 = 1.0 - c0
    m0 = np.cumsum(p * centres)[:-1]
    m1 = np.sum(p * centres) - m0
    q0 = np.cumsum(p * centres**2)[:-1]
    q1 = np.sum(p * centres**2) - q0
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0, mu1 = m0 / c0, m1 / c1
        v0, v1 = q0 / c0 - mu0**2, q1 / c1 - mu1**2
        j = (
            1
            + 2 * (c0 * np.log(np.sqrt(v0)) + c1 * np.log(np.sqrt(v1)))
            - 2 * (c0 * np.log(c0) + c1 * np.log(c1))
        )
    valid = (c0 > 0) & (c1 > 0) & (v0 > 0) & (v1 > 0) & np.isfinite(j)
    if not valid.any():
        return otsu(counts, centres)
    return _split_value(counts, centres, int(np.argmin(np.where(valid, j, np.inf))))


def _split_value(counts: np.ndarray, centres: np.ndarray, k: int) -> float:
    """The threshold for a split after bin *k*, centred in an empty gap that follows it.

    Splitting after any bin of an empty gap between the modes gives the same two
    classes, hence the same score: take the middle of the gap rather than its
    first bin.
    """
    end = k
    while end + 1 < counts.size - 1 and counts[end + 1] == 0:
        end += 1
    width = centres[1] - centres[0]
    return float(centres[(k + end) // 2] + width / 2)


CRITERIA = {"otsu": otsu, "ki": kittler_illingworth}


#: Ashman's D above which two Gaussian classes count as separated (Ashman et al. 1994).
ASHMAN_D = 2.0
#: Bimodality coefficient above which a distribution counts as bimodal (5/9: the value
#: of a uniform distribution; SAS Institute 1990, Pfister et al. 2013).
BIMODALITY_COEFFICIENT = 5 / 9


def _otsu_classes(counts: np.ndarray, centres: np.ndarray) -> dict[str, np.ndarray]:
    """Weights, means and variances of the two classes of each histogram's Otsu split.

    Vectorised over the leading axes of *counts* (…, bins). The first maximum of
    the between-class variance is taken: an empty gap between the modes leaves
    the class moments unchanged, so the position inside the gap does not matter
    here.
    """
    c = np.asarray(centres, dtype=np.float64)
    n = counts.sum(-1)[..., None]
    w0 = np.cumsum(counts, -1)[..., :-1]
    s0 = np.cumsum(counts * c, -1)[..., :-1]
    q0 = np.cumsum(counts * c**2, -1)[..., :-1]
    w1 = n - w0
    s1 = (counts * c).sum(-1)[..., None] - s0
    q1 = (counts * c**2).sum(-1)[..., None] - q0
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0, mu1 = s0 / w0, s1 / w1
        between = np.where((w0 > 0) & (w1 > 0), w0 * w1 * (mu0 - mu1) ** 2, -1.0)
        k = np.argmax(between, axis=-1)[..., None]

        def pick(a: np.ndarray) -> np.ndarray:
            return np.take_along_axis(a, k, -1)[..., 0]

        out = {"w0": pick(w0), "w1": pick(w1), "mu0": pick(mu0), "mu1": pick(mu1)}
        out["var0"] = pick(q0 / w0) - out["mu0"] ** 2
        out["var1"] = pick(q1 / w1) - out["mu1"] ** 2
        out["split"] = pick(between) > 0
    return out


#: EM iterations of the two-Gaussian fit behind Ashman's D.
_EM_ITERATIONS = 60


def _two_gaussians(counts: np.ndarray, centres: np.ndarray) -> dict[str, np.ndarray]:
    """A two-Gaussian mixture fitted to each histogram by EM, started from its Otsu split.

    Vectorised over the leading axes of *counts* (…, bins). Variances are kept
    above a twelfth of the squared bin width (the quantisation of the bins).
    """
    c = np.asarray(centres, dtype=np.float64)
    floor = (c[1] - c[0]) ** 2 / 12
    start = _otsu_classes(counts, c)
    n = counts.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        w = [start["w0"] / n, start["w1"] / n]
        mu = [start["mu0"], start["mu1"]]
        var = [np.maximum(start["var0"], floor), np.maximum(start["var1"], floor)]
        for _ in range(_EM_ITERATIONS):
            dens = [
                w[i][..., None]
                * np.exp(-((c - mu[i][..., None]) ** 2) / (2 * var[i][..., None]))
                / np.sqrt(var[i][..., None])
                for i in (0, 1)
            ]
            total = dens[0] + dens[1]
            r0 = np.where(total > 0, dens[0] / total, 0.5)
            for i, r in enumerate((r0, 1.0 - r0)):
                weight = (counts * r).sum(-1)
                w[i] = weight / n
                mu[i] = (counts * r * c).sum(-1) / weight
                var[i] = np.maximum(
                    (counts * r * (c - mu[i][..., None]) ** 2).sum(-1) / weight, floor
                )
    return {"w0": w[0], "w1": w[1], "mu0": mu[0], "mu1": mu[1], "var0": var[0], "var1": var[1]}


def bimodality_tests(
    counts: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ashman's D, the bimodality coefficient and the smaller class share of histograms.

    Vectorised over the leading axes of *counts* (…, bins). Ashman's D is
    ``√2·|μ1 − μ2| / √(σ1² + σ2²)`` for a two-Gaussian mixture fitted to the
    histogram by EM (started from its Otsu split); D > 2 means the two classes
    are separated (Ashman et al. 1994). A hard split would not do: the two
    halves of a single Gaussian already give D ≈ 2.65. The bimodality
    coefficient is ``(g² + 1) / (k + 3(n−1)²/((n−2)(n−3)))`` with the sample
    skewness *g* and excess kurtosis *k* (> 5/9: bimodal). The share is the
    weight of the smaller mixture component. Histograms with fewer than four
    values give NaN.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> values = np.concatenate([rng.normal(0, 1, 4000), rng.normal(6, 1, 4000)])
    >>> counts, edges = np.histogram(values, bins=128)
    >>> d, bc, share = bimodality_tests(counts, (edges[:-1] + edges[1:]) / 2)
    >>> bool(d > 2), bool(bc > 5 / 9), round(float(share), 2)
    (True, True, 0.5)
    """
    counts = np.asarray(counts, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    mixture = _two_gaussians(counts, c)
    n = counts.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(mixture["var0"] + mixture["var1"])
        ashman = np.sqrt(2.0) * np.abs(mixture["mu0"] - mixture["mu1"]) / spread
        share = np.minimum(mixture["w0"], mixture["w1"])

        mean = (counts * c).sum(-1) / n
        d = c - mean[..., None]
        m2 = (counts * d**2).sum(-1) / n
        m3 = (counts * d**3).sum(-1) / n
        m4 = (counts * d**4).sum(-1) / n
        skew = m3 / m2**1.5
        excess = m4 / m2**2 - 3.0
        small = 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3))
        bc = (skew**2 + 1.0) / (excess + small)
    valid = (n >= 4) & (m2 > 0)
    return (
        np.where(valid, ashman, np.nan),
        np.where(valid, bc, np.nan),
        np.where(valid, share, np.nan),
    )


#: Bins of the tile histograms the bimodality tests look at (the pooled histogram keeps all).
_TEST_BINS = 128


def coarse_tiles(tiles: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tile histograms merged to _TEST_BINS bins when the bin count allows it (speed)."""
    nbins = centres.size
    if nbins <= _TEST_BINS or nbins % _TEST_BINS:
        return tiles, centres
    f = nbins // _TEST_BINS
    return tiles.reshape(*tiles.shape[:-1], _TEST_BINS, f).sum(-1), centres.reshape(-1, f).mean(-1)
