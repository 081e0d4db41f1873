"""Automatic thresholds from lazy histograms.

:func:`threshold` finds a threshold without loading the scene. One lazy pass
builds a histogram with fixed bins (a numba kernel per chunk, float64 counts
summed by dask) and Otsu's or Kittler-Illingworth's criterion is applied to it
(``method="otsu"`` / ``"ki"``). ``method="tiled"`` is the split-based selection
used by operational water mappers: the histogram is pooled from the image tiles
whose values are clearly bimodal, so that a scene with little water still gets
a threshold between water and land (see :func:`threshold`).

The package follows those steps: ``_histogram`` (:func:`histogram`, its bins
are :func:`sarcube._reduce.bin_counts`'s), ``_criteria`` (the criteria on a
histogram and the bimodality tests of a tile) and ``_threshold``
(:func:`threshold`, global or tiled).
"""

from __future__ import annotations

from ._criteria import (
    ASHMAN_D,
    BIMODALITY_COEFFICIENT,
    bimodality_tests,
    kittler_illingworth,
    otsu,
)
from ._histogram import MAX_BINS, histogram
from ._threshold import threshold

__all__ = [
    "ASHMAN_D",
    "BIMODALITY_COEFFICIENT",
    "MAX_BINS",
    "bimodality_tests",
    "histogram",
    "kittler_illingworth",
    "otsu",
    "threshold",
]
