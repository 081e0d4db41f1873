"""Flood mapping from a pre-event and a post-event image: :func:`flood_map`.

The chain follows the change-detection rule of operational SAR water mappers:
open flood water is dark after the event **and** darker than before. Every step
is lazy and chunk-invariant:

1. both images on a log scale (linear power → dB; dB and rescaled integer
   chips as they are), speckle-filtered (median, then boxcar);
2. the post-event image and the change ``post − pre`` are rescaled to [0, 1]
   by their exact minimum and maximum over the valid pixels (min/max do not
   depend on the chunking, unlike floating-point sums);
3. one automatic threshold for each from a lazy histogram (Otsu, KI or the
   tiled split-based selection of :func:`sarcube.threshold`), shifted by a
   fixed fraction of the image's standard deviation;
4. flood = dark post **and** decrease, then regions smaller than *min_size*
   removed.

The default constants were chosen on the OMBRIA Sentinel-1 flood chips
(Drakonakis et al. 2022), holding out every fifth chip; see
``benchmarks/validate_ombria.py`` and the change-detection docs.

The package, by step: ``_prepare`` (band choice, log scale, option checks),
``_window`` (the one-kernel filter pass on both dates, :func:`flood_halo`),
``_global`` (global thresholds from three block passes), ``_regional``
(per-region thresholds and their surface: :func:`flood_thresholds`,
:func:`threshold_images`, :func:`surface_from_images`) and ``_map``
(:func:`flood_map`, which joins them).
"""

from __future__ import annotations

from ._map import flood_map
from ._prepare import FLOOD, NO_FLOOD, REGION_SIZE
from ._regional import flood_thresholds, surface_from_images, threshold_images
from ._window import flood_halo

__all__ = [
    "FLOOD",
    "NO_FLOOD",
    "REGION_SIZE",
    "flood_halo",
    "flood_map",
    "flood_thresholds",
    "surface_from_images",
    "threshold_images",
]
