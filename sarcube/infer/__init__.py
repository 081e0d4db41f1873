"""Model inference over lazy cubes (needs the ``torch`` extra).

:func:`predict` runs a segmentation model over a whole image on a global window
grid with overlap blending and optional flip test-time augmentation, lazily and
identically for any chunking; :func:`classify` turns probabilities into a class
map; :func:`stack_channels` and :func:`feature_stack` build model inputs.
Models are described by a :class:`ModelSpec` (several averaged: an
:class:`Ensemble`) and loaded once per process.
"""

from ._models import (
    Ensemble,
    ModelSpec,
    clear_model_cache,
    file_sha256,
    load_model,
    model_cache_info,
)
from ._postprocess import flood_from_probability
from ._predict import classify, most_likely_class, predict, ramp_weights, window_starts
from ._stack import feature_stack, stack_channels, sweep_norms

__all__ = [
    "Ensemble",
    "ModelSpec",
    "classify",
    "clear_model_cache",
    "feature_stack",
    "file_sha256",
    "flood_from_probability",
    "load_model",
    "model_cache_info",
    "most_likely_class",
    "predict",
    "ramp_weights",
    "stack_channels",
    "sweep_norms",
    "window_starts",
]
