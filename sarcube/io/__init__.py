"""Input/output at the edge of sarcube.

STAC search and load, Zarr, raster/vector and table exports, run-length
encoding.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names are; at run time each module loads on first use
    from ._redact import redact, redact_text
    from .export import to_cog, to_vector
    from .pairing import pair_items
    from .rle import rle_decode, rle_encode, rle_frame
    from .stac import FailedAsset, LoadPlan, failed_assets, load, open_cube, plan_load, search

#: Where each public name lives: ``import sarcube.io`` (e.g. for
#: ``sarcube.io.catalog``'s file-name patterns) loads no raster or STAC library.
_EXPORTS = {
    "redact": "._redact",
    "redact_text": "._redact",
    "to_cog": ".export",
    "to_vector": ".export",
    "pair_items": ".pairing",
    "rle_decode": ".rle",
    "rle_encode": ".rle",
    "rle_frame": ".rle",
    "FailedAsset": ".stac",
    "LoadPlan": ".stac",
    "failed_assets": ".stac",
    "load": ".stac",
    "open_cube": ".stac",
    "plan_load": ".stac",
    "search": ".stac",
}

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
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
