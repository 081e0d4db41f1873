"""Tiles in the layout of the Kuro Siwo flood dataset, for its loaders (**computes**).

Kuro Siwo (Bountos et al. 2023) stores each 224 × 224 tile of an event in its
own folder: the post-event ("master") image and two pre-event ("slave")
images as one single-band GeoTIFF per polarisation, ``MS1_IVV.tif``,
``MS1_IVH.tif``, ``SL1_IVV.tif`` … ``SL2_IVH.tif``; with labels, the class
map ``MK0_MLU.tif`` (0 no water, 1 flood, 2 permanent water in the dataset;
any integer classes here) and the valid-pixel mask ``MK0_MNA.tif`` (1 valid).
The folders sit under ``data/{event}/{aoi:02d}/{tile}/`` and an index maps
each tile to its folder, event (``actid``) and area (``aoiid``), which is how
the loaders select the events of a split.

Reference: Bountos, N. I., Sdraka, M., Zavras, A., et al. (2023). Kuro Siwo:
33 billion m² under the water. A global multi-temporal satellite dataset for
rapid flood mapping. arXiv:2311.12056.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from dask.base import compute
from dask.delayed import delayed

from .._atomic import atomic_target, check_writable, replacing_folder
from .._checks import (
    check_bands,
    check_int,
    check_real,
    check_spatial,
    check_xarray,
    is_instance,
    items_of,
)
from ..conventions import NODATA
from ..errors import DimensionError, InputNotFoundError, OutputError, ParameterError
from .chips import _write_tif, check_on_grid, tile_starts, time_position

__all__ = ["to_kurosiwo"]

#: Tile side of the Kuro Siwo dataset (pixels)
TILE = 224
_ROLES = ("MS1", "SL1", "SL2")


def _read_index(path: Path, func: str) -> dict[str, Any]:
    """An existing root's ``index.json`` (a dict of tile records)."""
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise OutputError(f"{func}: cannot read {path} ({err}); rebuild the root") from err
    if not isinstance(index, dict):
        raise OutputError(f"{func}: {path} is not a Kuro Siwo index (a dict of tiles)")
    return index


def _write_index(folder: Path, index: dict[str, Any], write_pickle: bool, *, replace: bool) -> None:
    """``index.json`` (and ``index.pkl``) in *folder*; with *replace*, each renamed into place."""
    with ExitStack() as stack:
        json_path = folder / "index.json"
        if replace:
            json_path = stack.enter_context(atomic_target(json_path))
        json_path.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        if write_pickle:
            pkl_path = folder / "index.pkl"
            if replace:
                pkl_path = stack.enter_context(atomic_target(pkl_path))
            with open(pkl_path, "wb") as f:
                pickle.dump(index, f)


def _tile_task(
    images: dict[str, np.ndarray],
    label: np.ndarray | None,
    *,
    folder: Path,
    transform: Affine,
    crs: Any,
    info: dict[str, Any],
    max_nodata: float,
) -> dict[str, Any] | None:
    """Write one tile's folder; its index record, or None when it has too much nodata."""
    valid = np.ones(next(iter(images.values())).shape, dtype=bool)
    for data in images.values():
        valid &= np.isfinite(data)
    if label is not None:
        valid &= label != NODATA
    nodata = 1.0 - float(valid.mean())
    if nodata > max_nodata:
        return None
    folder.mkdir(parents=True)
    for name, data in images.items():
        _write_tif(folder / f"{name}.tif", data[None].astype(np.float32), transform, crs, np.nan)
    if label is not None:
        classes = np.where(label == NODATA, 0, label).astype(np.uint8)
        _write_tif(folder / "MK0_MLU.tif", classes[None], transform, crs, None)
        _write_tif(folder / "MK0_MNA.tif", valid[None].astype(np.uint8), transform, crs, None)
    record = {**info, "nodata_fraction": nodata}
    (folder / "info.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def to_kurosiwo(
    cube: xr.Dataset,
    out: str | os.PathLike[str],
    *,
    event: int | str,
    aoi: int,
    bands: Sequence[str] = ("vv", "vh"),
    post: int = -1,
    pre: tuple[int, int] = (-2, -3),
    label: xr.DataArray | None = None,
    climatic_zone: int | None = None,
    size: int = TILE,
    stride: int | None = None,
    max_nodata: float = 0.0,
    write_pickle: bool = False,
    overwrite: bool = False,
    append: bool = False,
) -> pd.DataFrame:
    """Cut an event's cube into Kuro Siwo tiles with their index (**computes**).

    Parameters
    ----------
    cube
        Dataset with the *bands* on ``(time, y, x)`` (linear power, as the
        dataset stores it), a CRS and at least three dates.
    out
        The dataset root to create: ``out/data/{event}/{aoi:02d}/{tile}/`` and
        ``out/index.json``.
    event, aoi
        The event (Kuro Siwo's activation id, ``actid``) and area of interest
        (``aoiid``) the tiles belong to.
    bands
        Polarisations, written as ``I`` + the upper-case name (``IVV``, ``IVH``).
    post, pre
        Time positions of the post-event image (``MS1``) and of the two
        pre-event images (``SL1``, the one closer to the event, then ``SL2``).
    label
        Optional ``(y, x)`` integer class map (255: no label) on the cube's
        grid; written as ``MK0_MLU.tif`` with ``MK0_MNA.tif``, 1 where every
        image and the label are valid.
    climatic_zone
        Recorded as ``clz`` in the index (the loaders count tiles per zone).
    size, stride
        Tile side (224 in the dataset) and step (default: *size*); the last
        tile of a row or column is flush with the edge.
    max_nodata
        Drop tiles with a larger fraction of pixels invalid in any image (or
        unlabelled).
    write_pickle
        Also write the index as ``index.pkl``, the form the dataset's own
        loader reads. Off by default: a pickle runs code when it is read, so
        hand one only to people who trust you.
    overwrite
        Replace an existing *out*.
    append
        Add the tiles of this event and area to an existing root made by
        ``to_kurosiwo`` (a dataset holds many events and areas): they go to
        ``data/{event}/{aoi:02d}/``, which must not exist yet, and their
        records join ``index.json`` (and ``index.pkl`` where there is one).
        The area's folder and the index are each replaced in one rename, so
        an interrupted call leaves the root as it was.

    Returns
    -------
    pandas.DataFrame
        One row per tile written: ``tile``, ``path``, ``actid``, ``aoiid``,
        ``clz``, ``row``, ``col``, ``lon``, ``lat`` (the tile's centre),
        ``nodata_fraction``. The same records are in ``index.json`` (a dict
        keyed by tile, each with its ``info``), next to the ``info.json`` of
        every tile (row, col, lon, lat, bounds, dates).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sarcube.ml import to_kurosiwo
    >>> scene = sarcube.synthetic.make_scene((64, 64), seed=1)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "kurosiwo"
    >>> index = to_kurosiwo(scene.cube, out, event=470, aoi=1, size=32, max_nodata=1.0)
    >>> len(index), index["path"].iloc[0]
    (4, '470/01/470_01_000000_000000')
    >>> (out / "index.json").exists()
    True

    A second area of the same event joins the same root and index:

    >>> second = to_kurosiwo(scene.cube, out, event=470, aoi=2, size=32, max_nodata=1.0,
    ...                      append=True)
    >>> import json
    >>> index = json.loads((out / "index.json").read_text())
    >>> sorted({(v["actid"], v["aoiid"]) for v in index.values()})
    [(470, 1), (470, 2)]
    """
    func = "to_kurosiwo"
    check_xarray(cube, func)
    if not isinstance(cube, xr.Dataset):
        raise ParameterError(f"{func}: pass the cube as a Dataset with one variable per band")
    check_spatial(cube, func)
    check_real(cube, func)
    check_bands(cube, list(bands), func)
    if "time" not in cube.dims or cube.sizes["time"] < 3:
        raise DimensionError(
            f"{func}: needs a time dim with at least three dates (two before the event, one "
            f"after); the cube has {cube.sizes.get('time', 0)}"
        )
    n = cube.sizes["time"]
    if items_of(pre, 2) is None:
        raise ParameterError(f"{func}: pre must be two time positions, got {pre!r}")
    slots = {
        "MS1": time_position(post, n, "post", func),
        "SL1": time_position(pre[0], n, "pre", func),
        "SL2": time_position(pre[1], n, "pre", func),
    }
    if len(set(slots.values())) != 3:
        raise ParameterError(f"{func}: post and the two pre dates must differ, got {slots}")
    aoi = check_int(aoi, "aoi", func, minimum=0)
    if (
        not is_instance(event, int | str)
        or isinstance(event, bool)
        or str(event) in ("", ".", "..")
    ):
        raise ParameterError(f"{func}: event must be an id (an integer or a name), got {event!r}")
    if "/" in str(event) or "\\" in str(event):
        raise ParameterError(f"{func}: event {event!r} must not contain a path separator")
    size = check_int(size, "size", func, minimum=8)
    step = size if stride is None else check_int(stride, "stride", func, minimum=1)
    if not 0 <= max_nodata <= 1:
        raise ParameterError(f"{func}: max_nodata must be in [0, 1], got {max_nodata!r}")
    if cube.rio.crs is None:
        raise ParameterError(
            f"{func}: the cube has no CRS; the tiles need one (cube.rio.write_crs(...))"
        )
    if label is not None:
        check_on_grid(label, cube, "label map", func)
    ys, xs = tile_starts(cube, size, step, func, "tile")
    area = f"{aoi:02d}"
    if not isinstance(append, bool):
        raise ParameterError(f"{func}: append must be True or False, got {append!r}")
    if append:
        if overwrite:
            raise ParameterError(
                f"{func}: pass append=True (add an area) or overwrite=True (replace the root), "
                "not both"
            )
        root = Path(out)
        if not (root / "index.json").is_file():
            raise InputNotFoundError(
                f"{func}: no Kuro Siwo index at {root / 'index.json'}; create the root first "
                "(to_kurosiwo without append=True)"
            )
        existing = _read_index(root / "index.json", func)
        target = root / "data" / str(event) / area
        if target.exists() or any(
            (v.get("actid"), v.get("aoiid")) == (event, aoi) for v in existing.values()
        ):
            raise OutputError(
                f"{func}: {root} already holds event {event!r} area {aoi}; pass another aoi, "
                "or rebuild the root with overwrite=True"
            )
        write_pickle = write_pickle or (root / "index.pkl").exists()
    else:
        target = check_writable(Path(out), overwrite, func)
        existing = {}

    from pyproj import Transformer

    crs = cube.rio.crs
    transform = cube.rio.transform(recalc=True)
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    times = cube["time"].values
    dates = {role: str(np.datetime_as_string(times[t], unit="s")) for role, t in slots.items()}
    # The folder that appears in one rename: the new root, or (appending) the area's
    # folder, or the event's when the event is new, so a failure leaves nothing behind.
    below = Path("data") / str(event) / area
    if append:
        (root / "data").mkdir(exist_ok=True)
        new_event = not target.parent.exists()
        target, below = (target.parent, Path(area)) if new_event else (target, Path())
    with replacing_folder(target) as partial:
        tiles = partial / below
        tasks = []
        for r in ys:
            for c in xs:
                window = {"y": slice(r, r + size), "x": slice(c, c + size)}
                tile = f"{event}_{area}_{r:06d}_{c:06d}"
                tile_transform = transform * Affine.translation(c, r)
                left, top = tile_transform * (0, 0)
                right, bottom = tile_transform * (size, size)
                lon, lat = to_lonlat.transform((left + right) / 2, (top + bottom) / 2)
                images = {
                    f"{role}_I{band.upper()}": cube[band].isel({"time": t, **window}).data
                    for role, t in slots.items()
                    for band in bands
                }
                info = {
                    "tile": tile,
                    "path": f"{event}/{area}/{tile}",
                    "actid": event,
                    "aoiid": aoi,
                    "clz": climatic_zone,
                    "row": r,
                    "col": c,
                    "lon": float(lon),
                    "lat": float(lat),
                    "bounds": [
                        min(left, right),
                        min(top, bottom),
                        max(left, right),
                        max(top, bottom),
                    ],
                    "crs": crs.to_string(),
                    "dates": dates,
                }
                chip_label = None if label is None else label.isel(window).transpose("y", "x").data
                tasks.append(
                    delayed(_tile_task)(
                        images,
                        chip_label,
                        folder=tiles / tile,
                        transform=tile_transform,
                        crs=crs,
                        info=info,
                        max_nodata=max_nodata,
                    )
                )
        records = [r for r in compute(*tasks) if r is not None]
        index = existing | {
            rec["tile"]: {
                "path": rec["path"],
                "actid": rec["actid"],
                "aoiid": rec["aoiid"],
                "clz": rec["clz"],
                "info": rec,
            }
            for rec in records
        }
        if not append:  # a new root carries its index inside
            _write_index(partial, index, write_pickle, replace=False)
    if append:  # the area's folder is in place; the root's index files follow, each renamed
        _write_index(Path(out), index, write_pickle, replace=True)
    columns = ["tile", "path", "actid", "aoiid", "clz", "row", "col", "lon", "lat"]
    table = pd.DataFrame(
        [
            {k: rec[k] for k in columns} | {"nodata_fraction": rec["nodata_fraction"]}
            for rec in records
        ],
        columns=[*columns, "nodata_fraction"],
    )
    return table
