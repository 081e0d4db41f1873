"""sarcube: synthetic aperture radar analysis on lazily chunked xarray datacubes.

Find scenes with :func:`search`, load them as a lazy cube with :func:`load`
(or both with :func:`open_cube`), and analyse them with the functions below or
the ``.sar`` accessor that forwards to them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._lazy import register_accessor_with_xarray

if TYPE_CHECKING:  # what the names below are; at run time they load on first use
    from . import catalog, insar, multisensor, synthetic
    from .calibration import clamp_stats, to_db, to_linear
    from .change import difference, log_ratio, normalised_change, normalized_change, reduce_time
    from .classify import kmeans, sar_rgb, segment_kmeans, segment_table, superpixels
    from .errors import SarcubeError
    from .filters import (
        boxcar_filter,
        estimate_enl,
        frost_filter,
        gamma_map_filter,
        inpaint_nodata,
        lee_filter,
        median_filter,
        refined_lee,
        tv_denoise,
    )
    from .flood import flood_map, flood_thresholds
    from .grid import crop_to_valid, pixel_size_m
    from .infer import feature_stack
    from .io.export import to_cog, to_vector
    from .io.pairing import pair_items
    from .io.rle import rle_decode, rle_encode, rle_frame
    from .io.stac import failed_assets, load, open_cube, plan_load, search
    from .io.zarr import open_zarr, to_zarr
    from .multisensor import (
        apply_water_prior,
        coregister,
        dswe_labels,
        sar_features,
    )
    from .regions import boundary_ratio, region_stats, remove_small_regions
    from .scaling import NormConfig, clamp, normalise
    from .thresholds import threshold
    from .validate import (
        agreement_matrix,
        class_fractions,
        confusion_matrix,
        segmentation_metrics,
        three_class_metrics,
        validation_report,
    )
    from .zonal import zonal_stats

#: Where each public function lives; it is imported the first time it is used,
#: so that ``import sarcube`` (and ``sarcube --help``) does not load xarray,
#: dask or numba. Submodules (``sarcube.synthetic``, ``sarcube.plot`` …) load
#: the same way.
_EXPORTS: dict[str, str] = {
    "NormConfig": "sarcube.scaling",
    "SarcubeError": "sarcube.errors",
    "agreement_matrix": "sarcube.validate",
    "apply_water_prior": "sarcube.multisensor",
    "boundary_ratio": "sarcube.regions",
    "boxcar_filter": "sarcube.filters",
    "clamp": "sarcube.scaling",
    "clamp_stats": "sarcube.calibration",
    "class_fractions": "sarcube.validate",
    "confusion_matrix": "sarcube.validate",
    "coregister": "sarcube.multisensor",
    "crop_to_valid": "sarcube.grid",
    "dswe_labels": "sarcube.multisensor",
    "difference": "sarcube.change",
    "estimate_enl": "sarcube.filters",
    "failed_assets": "sarcube.io.stac",
    "feature_stack": "sarcube.infer",
    "flood_map": "sarcube.flood",
    "flood_thresholds": "sarcube.flood",
    "frost_filter": "sarcube.filters",
    "gamma_map_filter": "sarcube.filters",
    "kmeans": "sarcube.classify",
    "lee_filter": "sarcube.filters",
    "load": "sarcube.io.stac",
    "log_ratio": "sarcube.change",
    "median_filter": "sarcube.filters",
    "normalise": "sarcube.scaling",
    "normalised_change": "sarcube.change",
    "normalized_change": "sarcube.change",
    "pixel_size_m": "sarcube.grid",
    "open_cube": "sarcube.io.stac",
    "open_zarr": "sarcube.io.zarr",
    "pair_items": "sarcube.io.pairing",
    "plan_load": "sarcube.io.stac",
    "reduce_time": "sarcube.change",
    "refined_lee": "sarcube.filters",
    "region_stats": "sarcube.regions",
    "remove_small_regions": "sarcube.regions",
    "rle_decode": "sarcube.io.rle",
    "rle_encode": "sarcube.io.rle",
    "rle_frame": "sarcube.io.rle",
    "sar_features": "sarcube.multisensor",
    "sar_rgb": "sarcube.classify",
    "search": "sarcube.io.stac",
    "segmentation_metrics": "sarcube.validate",
    "segment_kmeans": "sarcube.classify",
    "segment_table": "sarcube.classify",
    "superpixels": "sarcube.classify",
    "three_class_metrics": "sarcube.validate",
    "threshold": "sarcube.thresholds",
    "to_cog": "sarcube.io.export",
    "to_db": "sarcube.calibration",
    "to_linear": "sarcube.calibration",
    "to_vector": "sarcube.io.export",
    "to_zarr": "sarcube.io.zarr",
    "inpaint_nodata": "sarcube.filters",
    "tv_denoise": "sarcube.filters",
    "validation_report": "sarcube.validate",
    "zonal_stats": "sarcube.zonal",
}

try:
    __version__ = version("sarcube")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

register_accessor_with_xarray()  # .sar on Dataset and DataArray, now or when xarray loads


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif not name.startswith("__"):
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "crop_to_valid",
    "difference",
    "dswe_labels",
    "estimate_enl",
    "failed_assets",
    "feature_stack",
    "flood_map",
    "flood_thresholds",
    "frost_filter",
    "gamma_map_filter",
    "inpaint_nodata",
    "insar",
    "kmeans",
    "lee_filter",
    "load",
    "log_ratio",
    "median_filter",
    "multisensor",
    "normalise",
    "normalised_change",
    "normalized_change",
    "open_cube",
    "open_zarr",
    "pair_items",
    "pixel_size_m",
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
    "segment_kmeans",
    "segment_table",
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
    "validation_report",
    "zonal_stats",
]
