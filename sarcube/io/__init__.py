"""Input/output at the edge of sarcube.

STAC search and load, Zarr, raster/vector and table exports, run-length
encoding.
"""

from typing import Any

from ._redact import redact, redact_text
from .export import to_cog, to_vector
from .pairing import pair_items
from .rle import rle_decode, rle_encode, rle_frame
from .stac import FailedAsset, LoadPlan, failed_assets, load, open_cube, plan_load, search

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
]


def __getattr__(name: str) -> Any:
    if name == "zonal_stats":  # moved to the analysis layer: sarcube.zonal
        from . import zonal

        return zonal.zonal_stats
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
