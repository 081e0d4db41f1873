"""STAC search and lazy loading of SAR cubes.

:func:`search` finds items in a STAC API (pystac-client), in a local static
catalog, collection or item collection (filtered in process with the same
semantics), or in an iterable of items. :func:`load` turns items into the
sarcube cube — one float32 linear-power variable per polarisation, dims
``(time, y, x)``, NaN nodata, ``spatial_ref`` — through odc-stac. It first
builds a :class:`LoadPlan` (what to read, on which grid, with which metadata),
which can be printed and tested without any I/O, then executes it.

The package follows those steps: ``_search`` (:func:`search`), ``_plan``
(:class:`LoadPlan`, :func:`plan_load`), ``_read`` (GDAL names, retries,
probing, the reader odc-stac calls) and ``_execute`` (:func:`load`,
:func:`open_cube`); ``_common`` holds the types, the ``sarcube.io.stac``
logger and the retry limits.
"""

from __future__ import annotations

from .._redact import redact_log_records
from ._common import RETRY_MAX_BACKOFF_S
from ._execute import failed_assets, load, open_cube
from ._plan import LoadPlan, plan_load
from ._read import FailedAsset
from ._search import search

# once odc-stac, its reader and rasterio are imported (above), their loggers exist:
# GDAL's warnings and odc-stac's errors quote asset URLs, signatures included
redact_log_records()

__all__ = [
    "RETRY_MAX_BACKOFF_S",
    "FailedAsset",
    "LoadPlan",
    "failed_assets",
    "load",
    "open_cube",
    "plan_load",
    "search",
]
