"""Multi-sensor stacks on the SAR grid: co-registration, SAR features, water priors.

Flood models rarely see SAR alone: optical bands, elevation (DEM), height above
nearest drainage (HAND) and a permanent-water prior join the backscatter.
:func:`coregister` puts such rasters lazily on the SAR cube's grid with
odc-geo (GDAL's warper, chunk by chunk); :func:`sar_features` derives the
usual polarimetric features (:func:`sarcube.feature_stack`, in
:mod:`sarcube.infer` with the other model inputs, orders them into a model's
channels with a label); :func:`apply_water_prior` and
:func:`three_class_metrics` post-process and score 2-class flood maps against a
permanent-water prior.

The modules: ``_coregister`` (:func:`coregister`), ``_features``
(:func:`sar_features`) and ``_prior``
(:func:`dswe_labels`, :func:`apply_water_prior`).
:func:`three_class_metrics` lives with the other scores in
:mod:`sarcube.validate` and is importable from here too.
"""

from __future__ import annotations

import warnings
from typing import Any

from .. import conventions
from ..validate import three_class_metrics as three_class_metrics  # its home is validate
from . import _prior
from ._coregister import coregister
from ._features import sar_features
from ._prior import apply_water_prior, dswe_labels

# (assigned here, with their doc comments, so that the API page finds them)
#: Channel order of an ALOS-2 style flood stack: L-band SAR, the four optical
#: bands of Landsat/Sentinel-2 used for water, elevation and HAND.
ALOS_CHANNELS = conventions.ALOS_CHANNELS
#: Classes of a prior-corrected flood map (:func:`apply_water_prior`).
FLOOD_CLASSES = conventions.FLOOD_CLASSES
#: Classes of the USGS Dynamic Surface Water Extent interpreted layer (Jones 2019,
#: *Remote Sensing* 11(4), 374; DSWE product guide).
DSWE_CLASSES = _prior.DSWE_CLASSES

__all__ = [
    "ALOS_CHANNELS",
    "DSWE_CLASSES",
    "FLOOD_CLASSES",
    "apply_water_prior",
    "coregister",
    "dswe_labels",
    "sar_features",
]


def __getattr__(name: str) -> Any:
    if name == "feature_stack":  # a model input: it moved to sarcube.infer
        warnings.warn(
            "sarcube.multisensor.feature_stack moved to sarcube.infer.feature_stack (also "
            "sarcube.feature_stack); the old path will be removed",
            DeprecationWarning,
            stacklevel=2,
        )
        from ..infer import feature_stack

        return feature_stack
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
