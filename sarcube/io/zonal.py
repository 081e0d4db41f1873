"""Former home of :func:`sarcube.zonal.zonal_stats` (analysis, not I/O).

Importing ``zonal_stats`` from here still works, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name == "zonal_stats":
        warnings.warn(
            "sarcube.io.zonal.zonal_stats moved to sarcube.zonal.zonal_stats (also "
            "sarcube.zonal_stats); the old path will be removed",
            DeprecationWarning,
            stacklevel=2,
        )
        from ..zonal import zonal_stats

        return zonal_stats
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
