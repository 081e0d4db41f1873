"""Input/output at the edge of sarcube: STAC search and load, Zarr, raster/vector exports,
run-length encoding and zonal statistics."""

from ._redact import redact, redact_text
from .export import to_cog, to_vector
from .pairing import pair_items
from .rle import rle_decode, rle_encode, rle_frame
from .stac import FailedAsset, LoadPlan, failed_assets, load, open_cube, plan_load, search
from .zonal import zonal_stats

__all__ = [
    "FailedAsset",
    "LoadPlan",
    "failed_assets",
    "load",
    "open_cube",
    "pair_items",
    "plan_load",
    "redact",
    "redact_text",
    "rle_decode",
    "rle_encode",
    "rle_frame",
    "search",
    "to_cog",
    "to_vector",
    "zonal_stats",
]
