"""Input/output at the edge of sarcube: STAC search and load, Zarr, vector exports."""

from .export import to_vector
from .stac import FailedAsset, LoadPlan, failed_assets, load, open_cube, plan_load, search

__all__ = [
    "FailedAsset",
    "LoadPlan",
    "failed_assets",
    "load",
    "open_cube",
    "plan_load",
    "search",
    "to_vector",
]
