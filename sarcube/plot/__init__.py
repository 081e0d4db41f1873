"""Figures. Needs matplotlib (``pip install sarcube[plot]``).

Plot functions **compute** what they draw (a histogram, a few numbers); they
never load a whole cube: histograms come from one lazy pass with fixed bins.

The modules: ``_backscatter`` (:func:`clamp_histogram`, :func:`image_panels`,
:func:`threshold_histogram`), ``_maps`` (:func:`comparison_grid`,
:func:`agreement_heatmap`, :func:`difference_maps`), ``_insar``
(:func:`displacement_panels`, :func:`fringes`, :func:`period_boxplot`,
:func:`accuracy_vs_density`) and ``_common`` (pyplot, colours, legends).
"""

from __future__ import annotations

from . import _common
from ._backscatter import clamp_histogram, image_panels, threshold_histogram
from ._insar import accuracy_vs_density, displacement_panels, fringes, period_boxplot
from ._maps import agreement_heatmap, comparison_grid, difference_maps

#: Colour of nodata (NaN) in grey-scale images: distinct from dark and bright backscatter.
NODATA_COLOUR = _common.NODATA_COLOUR  # (assigned here so that the API page finds its comment)

__all__ = [
    "NODATA_COLOUR",
    "accuracy_vs_density",
    "agreement_heatmap",
    "clamp_histogram",
    "comparison_grid",
    "difference_maps",
    "displacement_panels",
    "fringes",
    "image_panels",
    "period_boxplot",
    "threshold_histogram",
]
