"""Speckle filters (Lee family, refined Lee, Frost, Gamma-MAP, boxcar, median, TV), inpainting."""

from .inpaint import inpaint_nodata
from .speckle import (
    boxcar_filter,
    estimate_enl,
    frost_filter,
    gamma_map_filter,
    lee_filter,
    median_filter,
    refined_lee,
)
from .tv import tv_denoise

__all__ = [
    "boxcar_filter",
    "estimate_enl",
    "frost_filter",
    "gamma_map_filter",
    "inpaint_nodata",
    "lee_filter",
    "median_filter",
    "refined_lee",
    "tv_denoise",
]
