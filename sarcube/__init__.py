"""sarcube: synthetic aperture radar analysis on lazily chunked xarray datacubes.

Find scenes with :func:`search`, load them as a lazy cube with :func:`load`
(or both with :func:`open_cube`), and analyse them with the functions below or
the ``.sar`` accessor that forwards to them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import accessor as _accessor  # registers .sar on Dataset and DataArray
from . import catalog, insar, multisensor, synthetic
from .calibration import clamp_stats, to_db, to_linear
from .change import difference, log_ratio, normalized_change, reduce_time
from .classify import kmeans, sar_rgb, superpixels
from .errors import SarcubeError
from .filters import (
    boxcar_filter,
    estimate_enl,
    frost_filter,
    gamma_map_filter,
    lee_filter,
    median_filter,
    refined_lee,
    tv_denoise,
)
from .flood import flood_map, flood_thresholds
from .io.export import to_cog, to_vector
from .io.rle import rle_decode, rle_encode, rle_frame
from .io.stac import failed_assets, load, open_cube, plan_load, search
from .io.zarr import open_zarr, to_zarr
from .io.zonal import zonal_stats
from .multisensor import (
    apply_water_prior,
    coregister,
    feature_stack,
    sar_features,
    three_class_metrics,
)
from .regions import boundary_ratio, region_stats, remove_small_regions
from .scaling import NormConfig, clamp, normalise
from .thresholds import threshold
from .validate import agreement_matrix, class_fractions, confusion_matrix, segmentation_metrics

try:
    __version__ = version("sarcube")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

del _accessor

__all__ = [
    "NormConfig",
    "SarcubeError",
    "__version__",
    "agreement_matrix",
    "apply_water_prior",
    "boundary_ratio",
    "boxcar_filter",
    "catalog",
    "clamp",
    "clamp_stats",
    "class_fractions",
    "confusion_matrix",
    "coregister",
    "difference",
    "estimate_enl",
    "failed_assets",
    "feature_stack",
    "flood_map",
    "flood_thresholds",
    "frost_filter",
    "gamma_map_filter",
    "insar",
    "kmeans",
    "lee_filter",
    "load",
    "log_ratio",
    "median_filter",
    "multisensor",
    "normalise",
    "normalized_change",
    "open_cube",
    "open_zarr",
    "plan_load",
    "reduce_time",
    "refined_lee",
    "region_stats",
    "remove_small_regions",
    "rle_decode",
    "rle_encode",
    "rle_frame",
    "sar_features",
    "sar_rgb",
    "search",
    "segmentation_metrics",
    "superpixels",
    "synthetic",
    "three_class_metrics",
    "threshold",
    "to_cog",
    "to_db",
    "to_linear",
    "to_vector",
    "to_zarr",
    "tv_denoise",
    "zonal_stats",
]
