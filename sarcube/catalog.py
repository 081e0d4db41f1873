"""Static STAC catalogs from folders of per-polarisation GeoTIFFs: :func:`build`.

The public face of :mod:`sarcube.io.catalog`, where the code lives (catalog
building is I/O); see there for the built-in file-name patterns.
"""

from __future__ import annotations

from .io import catalog as _catalog
from .io.catalog import FilenamePattern, build

# (assigned here, with its doc comment, so that the API page finds it)
#: The built-in file-name patterns, by name.
PATTERNS = _catalog.PATTERNS

__all__ = ["PATTERNS", "FilenamePattern", "build"]
