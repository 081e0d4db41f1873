"""write_event: a scene written as COGs with a static STAC catalog."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from odc.geo.geobox import GeoBox

from ..errors import OutputError
from ..io.catalog import FilenamePattern, build
from ._common import DEFAULT_DATES, _check_dates
from ._scene import make_scene


@dataclass(frozen=True)
class SyntheticEvent:
    """Files written by :func:`write_event`.

    Attributes
    ----------
    root
        The output folder.
    catalog
        Path of the static STAC collection (``root/catalog/collection.json``).
    files
        The per-date, per-polarisation COGs.
    truth
        Folder with ``landcover.tif`` and ``flood.tif`` (flood on the last date).
    dates
        Acquisition times (UTC).
    flood_date
        The first date on which the flood is present.

    Examples
    --------
    >>> import tempfile
    >>> event = write_event(tempfile.mkdtemp(), (32, 32))
    >>> event.catalog.name, len(event.files), event.flood_date > event.dates[0]
    ('collection.json', 6, True)
    """

    root: Path
    catalog: Path
    files: tuple[Path, ...]
    truth: Path
    dates: tuple[dt.datetime, ...]
    flood_date: dt.datetime


def _write_cog(path: Path, array: np.ndarray, geobox: GeoBox, nodata: float | int | None) -> None:
    profile = {
        "driver": "COG",
        "width": array.shape[1],
        "height": array.shape[0],
        "count": 1,
        "dtype": array.dtype.name,
        "crs": str(geobox.crs),
        "transform": geobox.transform,
        "nodata": nodata,
        "compress": "deflate",
        "blocksize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)


#: File-name pattern of the scenes :func:`write_event` writes (the generic one).
SYNTHETIC_PATTERN = FilenamePattern(
    name="generic",
    regex=r"^(?P<group>SYNTH-\d+)_(?P<datetime>\d{8}T\d{6})_(?P<pol>VV|VH)\.tif$",
    properties={
        "platform": "synthetic",
        "constellation": "sarcube-synthetic",
        "sar:instrument_mode": "IW",
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:product_type": "RTC",
        "sat:orbit_state": "descending",
        "sat:relative_orbit": 22,
    },
)


def write_event(
    out: str | os.PathLike[str],
    shape: tuple[int, int] = (512, 512),
    *,
    dates: Sequence[dt.datetime] = DEFAULT_DATES,
    flood_date: dt.datetime | None = None,
    looks: float = 4.4,
    seed: int = 0,
    collection_id: str = "sarcube-synthetic",
    overwrite: bool = False,
    **scene_kwargs: object,
) -> SyntheticEvent:
    """Write a synthetic flood event as COGs and a static STAC catalog.

    Layout: ``out/data/SYNTH-<seed>_<YYYYMMDDTHHMMSS>_<POL>.tif`` (the generic
    naming of :mod:`sarcube.catalog`), ``out/truth/landcover.tif`` and
    ``out/truth/flood.tif`` (the flood on the last date), and the collection at
    ``out/catalog/collection.json``.

    Examples
    --------
    >>> import tempfile
    >>> event = write_event(tempfile.mkdtemp(), (64, 64))
    >>> event.catalog.name, len(event.files)
    ('collection.json', 6)
    """
    root = Path(out)
    if (root / "catalog" / "collection.json").exists() and not overwrite:
        raise OutputError(f"{root} already holds a synthetic event; pass overwrite=True")
    scene = make_scene(
        shape,
        dates=dates,
        flood_date=flood_date,
        looks=looks,
        seed=seed,
        **scene_kwargs,  # type: ignore[arg-type]
    )
    times, flood_at = _check_dates(dates, flood_date)
    try:
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "truth").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {root}: {e}; pass a writable folder") from e
    geobox = scene.cube.odc.geobox
    files = []
    for t, when in enumerate(times):
        for pol in ("vv", "vh"):
            path = root / "data" / f"SYNTH-{seed}_{when:%Y%m%dT%H%M%S}_{pol.upper()}.tif"
            _write_cog(path, scene.cube[pol].values[t], geobox, np.nan)
            files.append(path)
    _write_cog(root / "truth" / "landcover.tif", scene.landcover.values, geobox, None)
    _write_cog(root / "truth" / "flood.tif", scene.flood.values[-1], geobox, None)
    build(
        root / "data",
        root / "catalog",
        collection_id=collection_id,
        pattern=SYNTHETIC_PATTERN,
        description=f"Synthetic dual-pol SAR flood event (seed {seed}, {looks} looks)",
        overwrite=overwrite,
    )
    return SyntheticEvent(
        root=root,
        catalog=root / "catalog" / "collection.json",
        files=tuple(files),
        truth=root / "truth",
        dates=times,
        flood_date=flood_at,
    )


# --------------------------------------------------------------------------
# lazily generated cubes of any size
