"""Regional thresholds: one threshold per region of a fixed grid, a smooth surface between them.

Operational SAR water mappers (OPERA DSWx-SAR, ASF HydroSAR) do not use one
threshold for a whole continent: the backscatter of open water and of land
changes with the landscape, the incidence angle and the wind. They threshold
where the histogram is clearly bimodal and carry those thresholds to the rest.
This module does that on the histograms of :func:`sarcube._reduce.region_histograms`:

1. per region, Otsu's threshold of its histogram shifted by ``offset`` standard
   deviations of the region's values, and the bimodality tests of
   :func:`sarcube.bimodality_tests` (Ashman's D of a two-Gaussian fit, the
   bimodality coefficient, the share of the smaller class) on enough valid
   pixels: a region passing all of them is *usable*;
2. a region that is not usable takes the mean threshold of the nearest usable
   regions (in region steps, ties averaged); with no usable region at all, the
   threshold of the whole image's histogram (the sum of the regions');
3. the threshold of a pixel is the bilinear interpolation of the region
   thresholds at the region centres (constant beyond the outer centres), so the
   surface is continuous: there is no seam at region borders.

Everything depends only on global pixel positions and on exact integer counts,
so the surface — and a map made with it — is the same for any chunking.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit
from scipy import ndimage

from .thresholds._criteria import (
    ASHMAN_D,
    BIMODALITY_COEFFICIENT,
    bimodality_tests,
    coarse_tiles,
    otsu,
)

__all__ = ["SOURCE_GLOBAL", "SOURCE_NEIGHBOUR", "SOURCE_OWN", "interpolate", "region_thresholds"]

#: Where a region's threshold comes from.
SOURCE_OWN, SOURCE_NEIGHBOUR, SOURCE_GLOBAL = 0, 1, 2

#: Fields of :func:`region_thresholds`, in the order of its packed output.
FIELDS = (
    "threshold",
    "own_threshold",
    "usable",
    "source",
    "ashman_d",
    "bimodality",
    "class_fraction",
    "n_valid",
    "global_threshold",
)


def _std(counts: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Standard deviation of the values of each histogram (bin centres), NaN if empty."""
    n = counts.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (counts * centres).sum(-1) / n
        var = (counts * centres**2).sum(-1) / n - mean**2
    return np.asarray(np.sqrt(np.clip(var, 0, None)))


def _shifted_otsu(counts: np.ndarray, centres: np.ndarray, offset: float) -> float:
    return float(otsu(counts, centres) + offset * _std(counts, centres))


def _nearest_mean(values: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Each unusable cell: the mean of the usable cells at the smallest grid distance."""
    if usable.all() or not usable.any():
        return values.copy()
    distance = ndimage.distance_transform_edt(~usable)
    out = values.copy()
    ys, xs = np.nonzero(usable)
    for i, j in zip(*np.nonzero(~usable), strict=True):
        d2 = (ys - i) ** 2 + (xs - j) ** 2
        nearest = d2 <= distance[i, j] ** 2 + 1e-9
        out[i, j] = values[ys[nearest], xs[nearest]].mean()
    return out


def region_thresholds(
    counts: np.ndarray,
    centres: np.ndarray,
    offsets: Sequence[float],
    capacity: np.ndarray,
    *,
    min_valid: float = 0.5,
    min_ashman_d: float = ASHMAN_D,
    min_bimodality: float = BIMODALITY_COEFFICIENT,
    min_class_fraction: float = 0.1,
) -> np.ndarray:
    """Thresholds per region and image, filled where a region is not usable.

    Parameters
    ----------
    counts
        ``(regions_y, regions_x, k, bins)`` histograms.
    centres
        ``(k, bins)`` bin centres of each image's histogram.
    offsets
        Per image, the shift of Otsu's threshold in standard deviations.
    capacity
        ``(regions_y, regions_x)`` pixels of each region inside the image; a
        region is tested only when at least ``min_valid`` of them are valid.

    Returns
    -------
    ``(len(FIELDS), k, regions_y, regions_x)`` float64, the fields of
    :data:`FIELDS` (``global_threshold`` repeated over the regions).
    """
    nry, nrx, k, _ = counts.shape
    out = np.full((len(FIELDS), k, nry, nrx), np.nan)
    field = {name: out[i] for i, name in enumerate(FIELDS)}
    for m in range(k):
        c = counts[:, :, m, :]
        n_valid = c.sum(-1)
        ashman, bc, share = bimodality_tests(*coarse_tiles(c, centres[m]))
        with np.errstate(invalid="ignore"):
            usable = (
                (n_valid >= min_valid * capacity)
                & (share >= min_class_fraction)
                & (ashman > min_ashman_d)
                & (bc > min_bimodality)
            )
        own = np.full((nry, nrx), np.nan)
        for i, j in zip(*np.nonzero(usable), strict=True):
            own[i, j] = _shifted_otsu(c[i, j], centres[m], offsets[m])
        usable &= np.isfinite(own)
        whole = _shifted_otsu(c.sum((0, 1)), centres[m], offsets[m])
        if usable.any():
            filled = _nearest_mean(own, usable)
            source = np.where(usable, SOURCE_OWN, SOURCE_NEIGHBOUR)
        else:
            filled = np.full((nry, nrx), whole)
            source = np.full((nry, nrx), SOURCE_GLOBAL)
        field["threshold"][m] = filled
        field["own_threshold"][m] = own
        field["usable"][m] = usable
        field["source"][m] = source
        field["ashman_d"][m] = ashman
        field["bimodality"][m] = bc
        field["class_fraction"][m] = share
        field["n_valid"][m] = n_valid
        field["global_threshold"][m] = whole
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _axis_weights(start: int, n: int, region: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """For pixels ``start .. start + n``: the lower region centre index and its weight."""
    lower = np.empty(n, dtype=np.int64)
    weight = np.empty(n, dtype=np.float64)
    for i in range(n):
        u = (start + i + 0.5) / region - 0.5  # position in units of region centres
        if u <= 0.0 or cells == 1:
            lower[i], weight[i] = 0, 1.0
        elif u >= cells - 1:
            lower[i], weight[i] = cells - 2, 0.0
        else:
            f = np.floor(u)
            lower[i] = int(f)
            weight[i] = 1.0 - (u - f)
    return lower, weight


@njit(cache=True, nogil=True, error_model="numpy")
def interpolate(grid: np.ndarray, y0: int, x0: int, ny: int, nx: int, region: int) -> np.ndarray:
    """The bilinear surface of a ``(regions_y, regions_x)`` grid on pixels of a block.

    The block's top-left pixel is ``(y0, x0)`` of the whole image; region
    ``(i, j)`` has its centre at pixel ``((i + ½)·R − ½, (j + ½)·R − ½)``.
    """
    nry, nrx = grid.shape
    ly, wy = _axis_weights(y0, ny, region, nry)
    lx, wx = _axis_weights(x0, nx, region, nrx)
    out = np.empty((ny, nx), dtype=np.float64)
    for i in range(ny):
        a = ly[i]
        b = min(a + 1, nry - 1)
        for j in range(nx):
            c = lx[j]
            d = min(c + 1, nrx - 1)
            top = wx[j] * grid[a, c] + (1.0 - wx[j]) * grid[a, d]
            bottom = wx[j] * grid[b, c] + (1.0 - wx[j]) * grid[b, d]
            out[i, j] = wy[i] * top + (1.0 - wy[i]) * bottom
    return out
