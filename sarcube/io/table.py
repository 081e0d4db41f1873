"""Tables of per-feature results (a GeoDataFrame) written as CSV, GeoParquet or GeoJSON."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._atomic import atomic_target, check_writable
from ..errors import OutputError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["check_table_target", "write_table"]

_TABLE_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".geojson": "geojson",
    ".json": "geojson",
}


def check_table_target(path: str | os.PathLike[str], overwrite: bool, func: str) -> Path:
    """*path* as a :class:`~pathlib.Path`, checked before any work.

    Its suffix must name a table format and it must be writable
    (:func:`~sarcube._atomic.check_writable`).
    """
    target = Path(path)
    if target.suffix.lower() not in _TABLE_FORMATS:
        raise OutputError(
            f"{func}: cannot write {target.suffix or 'files without a suffix'!r}; use .csv, "
            ".parquet (GeoParquet) or .geojson"
        )
    return check_writable(target, overwrite, func)


def write_table(frame: gpd.GeoDataFrame, target: Path, *, index_column: str | None) -> None:
    """Write *frame* atomically in the format its suffix names.

    CSV leaves out the geometry; with *index_column* that column comes first and
    the frame's index is left out, otherwise the index is the first column.
    """
    kind = _TABLE_FORMATS[target.suffix.lower()]
    with atomic_target(target) as tmp:
        if kind == "csv":
            table = frame.drop(columns=frame.geometry.name)
            if index_column is not None:
                table = table[[index_column, *[c for c in table.columns if c != index_column]]]
            table.to_csv(tmp, index=index_column is None, index_label=frame.index.name or "index")
        elif kind == "parquet":
            frame.to_parquet(tmp)
        else:
            frame.to_file(tmp, driver="GeoJSON")
