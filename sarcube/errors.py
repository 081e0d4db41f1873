"""The sarcube exception hierarchy.

Every error sarcube raises on bad input derives from :class:`SarcubeError` and
from the built-in exception a Python user would expect (``ValueError``,
``TypeError``, ...), so both ``except SarcubeError`` and ``except ValueError``
work. Messages say what was found and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AssetReadError",
    "BandNotFoundError",
    "CatalogError",
    "DTypeError",
    "DimensionError",
    "EmptySearchError",
    "GridMismatchError",
    "InputNotFoundError",
    "MaskError",
    "MissingExtraError",
    "OutputError",
    "ParameterError",
    "SarcubeError",
    "UnitsError",
]


class SarcubeError(Exception):
    """Base class of every error raised by sarcube.

    Each subclass also derives from the built-in exception of its kind, so
    code that catches ``ValueError`` or ``OSError`` keeps working.

    Examples
    --------
    >>> from sarcube.errors import ParameterError, SarcubeError
    >>> cube = sarcube.synthetic.make_scene((16, 16)).cube
    >>> try:
    ...     sarcube.clamp(cube, -1)
    ... except SarcubeError as error:
    ...     isinstance(error, ParameterError), isinstance(error, ValueError)
    (True, True)
    """


class ParameterError(SarcubeError, ValueError):
    """A parameter value is out of range or of an unknown kind (e.g. a negative clamp)."""


class DimensionError(SarcubeError, ValueError):
    """The input lacks the dimensions an operation needs (e.g. no ``y``/``x``)."""


class DTypeError(SarcubeError, TypeError):
    """The input has a dtype the operation cannot work on (e.g. complex SLC data)."""


class UnitsError(SarcubeError, ValueError):
    """The input is in the wrong units (e.g. ``to_db`` on data already in dB)."""


class BandNotFoundError(SarcubeError, ValueError):
    """A requested band/polarisation is not present; the message lists the available ones."""


class CatalogError(SarcubeError, ValueError):
    """STAC items cannot be combined into one cube (mixed CRS, no SAR assets, bad paths)."""


class EmptySearchError(CatalogError, LookupError):
    """A STAC search matched no item."""


class AssetReadError(SarcubeError, OSError):
    """A raster asset could not be opened or read; the message names the asset."""


class InputNotFoundError(SarcubeError, FileNotFoundError):
    """An input file or folder does not exist (a catalog, a raster, a model, a store...).

    The message names the path that was looked for.
    """


class OutputError(SarcubeError, OSError):
    """An output path cannot be written (missing parent, not writable, exists)."""


class GridMismatchError(SarcubeError, ValueError):
    """Two inputs that must share a grid (pre/post, prediction/truth) do not."""


class MaskError(SarcubeError, ValueError):
    """A mask is not binary (0/1, 255 for nodata, or bool) or is empty."""


class MissingExtraError(SarcubeError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""
