"""Chips for training: georeferenced GeoTIFF windows of a cube, with an index."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from dask.base import compute
from dask.delayed import delayed

from .._atomic import check_writable, replacing_folder
from .._checks import (
    check_bands,
    check_choice,
    check_int,
    check_real,
    check_same_grid,
    check_spatial,
    check_xarray,
)
from ..conventions import NODATA
from ..errors import (
    DimensionError,
    DTypeError,
    ParameterError,
)

__all__ = ["to_chips"]


def _window_starts(n: int, size: int, stride: int) -> list[int]:
    """Chip starts along an axis: every *stride*, the last one flush with the edge."""
    if n < size:
        return []
    starts = list(range(0, n - size + 1, stride))
    if starts[-1] != n - size:
        starts.append(n - size)
    return starts


def time_position(p: object, n: int, what: str, func: str) -> int:
    """*p* as a position (0..n-1) among *n* dates, negative positions counting from the end."""
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or not -n <= p < n:
        raise ParameterError(
            f"{func}: {what} {p!r} is not one of the cube's {n} dates; pass positions in "
            f"{-n}..{n - 1}"
        )
    return int(p) % n


def check_on_grid(layer: xr.DataArray, cube: xr.Dataset, what: str, func: str) -> None:
    """A *layer* (label map, cloud mask) on the cube's ``(y, x)`` grid, else a clear error."""
    check_xarray(layer, f"{func} ({what})")
    check_spatial(layer, f"{func} ({what})")
    check_same_grid(
        layer,
        cube,
        f"the {what}",
        func,
        ref_name="the cube",
        fix="put it there with sarcube.coregister(..., like=cube, resampling='nearest')",
    )
    if what == "label map" and layer.dtype != bool and not np.issubdtype(layer.dtype, np.integer):
        raise DTypeError(
            f"{func}: the label map has dtype {layer.dtype}; pass integer classes with 255 for "
            "no label, e.g. label.fillna(255).astype('uint8')"
        )


def tile_starts(
    cube: xr.Dataset, size: int, stride: int, func: str, noun: str
) -> tuple[list[int], list[int]]:
    """The row and column starts of the tiles (see :func:`_window_starts`).

    A cube smaller than one tile is refused with a clear error.
    """
    ys = _window_starts(cube.sizes["y"], size, stride)
    xs = _window_starts(cube.sizes["x"], size, stride)
    if not ys or not xs:
        raise DimensionError(
            f"{func}: the cube ({cube.sizes['y']}x{cube.sizes['x']}) is smaller than one "
            f"{noun}; pass size <= {min(cube.sizes['y'], cube.sizes['x'])}"
        )
    return ys, xs


def _write_tif(
    path: Path, data: np.ndarray, transform: Affine, crs: Any, nodata: float | None
) -> None:
    profile = {
        "driver": "GTiff",
        "height": data.shape[1],
        "width": data.shape[2],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "transform": transform,
        "compress": "deflate",
    }
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def _chip_task(
    layers: dict[str, np.ndarray],
    label: np.ndarray | None,
    *,
    out: Path,
    chip_id: str,
    row: int,
    col: int,
    transform: Affine,
    crs: Any,
    max_nodata: float,
    class_limits: dict[int, tuple[float, float]],
    cloud: np.ndarray | None = None,
    max_cloud: float = 1.0,
    max_label_nodata: float = 1.0,
) -> dict[str, Any] | None:
    """Check one chip against the filters and write it; its index row, or None if dropped."""
    valid = np.ones(next(iter(layers.values())).shape[1:], dtype=bool)
    for data in layers.values():
        valid &= np.isfinite(data).all(axis=0)
    nodata = 1.0 - float(valid.mean())
    if nodata > max_nodata:
        return None
    record: dict[str, Any] = {"chip_id": chip_id, "row": row, "col": col, "nodata_fraction": nodata}
    if cloud is not None:
        share = float(np.mean(np.asarray(cloud) != 0))
        if share > max_cloud:
            return None
        record["cloud_fraction"] = share
    if label is not None:
        labelled = label != NODATA
        unlabelled = 1.0 - float(labelled.mean())
        if unlabelled > max_label_nodata:
            return None
        record["label_nodata_fraction"] = unlabelled
        for c, (lo, hi) in class_limits.items():
            share = float((label[labelled] == c).mean()) if labelled.any() else 0.0
            if not lo <= share <= hi:
                return None
        for c in np.unique(label[labelled]).tolist():
            record[f"class_{c}_fraction"] = float((label[labelled] == c).mean())
    for name, data in layers.items():
        _write_tif(out / name / f"{chip_id}.tif", data.astype(np.float32), transform, crs, np.nan)
    if label is not None:
        _write_tif(
            out / "label" / f"{chip_id}.tif", label[None].astype(np.uint8), transform, crs, NODATA
        )
    return record


def to_chips(
    cube: xr.Dataset,
    out: str | os.PathLike[str],
    *,
    bands: Sequence[str],
    size: int = 512,
    stride: int | None = None,
    label: xr.DataArray | None = None,
    layout: Literal["stack", "triplets"] = "stack",
    times: Sequence[int] | None = None,
    max_nodata: float = 0.0,
    class_fractions: dict[int, tuple[float, float]] | None = None,
    cloud: xr.DataArray | None = None,
    max_cloud: float = 1.0,
    max_label_nodata: float = 1.0,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Cut a cube (and its label map) into georeferenced chips with an index (**computes**).

    Chips are ``size × size`` windows every *stride* pixels (default *size*:
    no overlap; the last chip of a row or column is moved flush with the
    edge). Each is a GeoTIFF with its own transform and the cube's CRS.

    Parameters
    ----------
    cube
        Bands on ``(time, y, x)`` or ``(y, x)``.
    out
        Output folder, refused if it exists unless *overwrite*. The chips are
        written to a hidden sibling folder that is renamed to *out* when
        complete, so a failed run leaves no half-written folder (and, with
        *overwrite*, keeps the old one). Its parent folder must exist.
    bands
        Bands to write, in order.
    label
        Optional ``(y, x)`` class map (uint8, 255 = no label) written as ``label/``.
    layout
        ``"stack"``: one file per chip in ``image/`` with every (time, band)
        layer, time-major. ``"triplets"``: one folder per position in *times*
        (``t0/``, ``t1/``, … e.g. pre_1, pre_2, post), each with the bands.
    times
        Time positions to use (default: all dates).
    max_nodata
        Drop chips with a larger fraction of pixels NaN in any layer.
    class_fractions
        ``{class: (min, max)}``: keep chips whose label has that class share
        (e.g. ``{1: (0.05, 1)}`` for a minimum water fraction of 5 %).
    cloud
        Optional ``(y, x)`` cloud mask of the optical layers (non-zero = cloud).
    max_cloud
        Drop chips with a larger cloud fraction (written as ``cloud_fraction``).
    max_label_nodata
        Drop chips with a larger fraction of unlabelled pixels (255) in the
        label map (written as ``label_nodata_fraction``); e.g. 0.5 keeps
        chips at least half labelled. *max_nodata* counts the image layers
        only.

    Returns
    -------
    pandas.DataFrame
        The index, also written as ``index.csv``: ``chip_id``, ``row``, ``col``
        (pixel offsets), ``minx``, ``miny``, ``maxx``, ``maxy`` (CRS units),
        ``nodata_fraction`` and ``class_<c>_fraction`` per label class.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sarcube.ml import to_chips
    >>> scene = sarcube.synthetic.make_scene((64, 64), seed=1)
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "chips"
    >>> index = to_chips(scene.cube, out, bands=["vv", "vh"], size=32,
    ...                  label=scene.flood.isel(time=-1), max_nodata=1.0)
    >>> len(index), index[["row", "col"]].values.tolist()
    (4, [[0, 0], [0, 32], [32, 0], [32, 32]])
    >>> sorted(p.name for p in out.iterdir())
    ['image', 'index.csv', 'label']
    """
    func = "to_chips"
    check_xarray(cube, func)
    if not isinstance(cube, xr.Dataset):
        raise DTypeError(f"{func}: pass a cube (Dataset) with one variable per band")
    check_spatial(cube, func)
    bands = check_bands(cube, bands, func)
    check_real(cube[bands], func)
    size = check_int(size, "size", func, minimum=1)
    stride = size if stride is None else check_int(stride, "stride", func, minimum=1)
    check_choice(layout, ("stack", "triplets"), "layout", func)
    if not 0 <= max_nodata <= 1:
        raise ParameterError(f"{func}: max_nodata must be in [0, 1], got {max_nodata!r}")
    if not 0 <= max_cloud <= 1:
        raise ParameterError(f"{func}: max_cloud must be in [0, 1], got {max_cloud!r}")
    if not 0 <= max_label_nodata <= 1:
        raise ParameterError(
            f"{func}: max_label_nodata must be in [0, 1], got {max_label_nodata!r}"
        )
    if max_label_nodata < 1 and label is None:
        raise ParameterError(f"{func}: max_label_nodata needs a label map (label=)")
    for what, layer in (("cloud mask", cloud), ("label map", label)):
        if layer is not None:
            check_on_grid(layer, cube, what, func)
    limits = {int(c): (float(lo), float(hi)) for c, (lo, hi) in (class_fractions or {}).items()}
    if limits and label is None:
        raise ParameterError(f"{func}: class_fractions needs a label map")
    has_time = "time" in cube.dims
    if not has_time and (times is not None or layout == "triplets"):
        raise DimensionError(f"{func}: times= and layout='triplets' need a time dim")
    n_times = cube.sizes.get("time", 0)
    positions = list(range(n_times)) if has_time and times is None else list(times or [])
    for p in positions:
        time_position(p, n_times, "time position", func)
    ys, xs = tile_starts(cube, size, stride, func, "chip")
    target = check_writable(Path(out), overwrite, func)

    if has_time:
        layer_names = (
            [f"t{i}" for i in range(len(positions))] if layout == "triplets" else ["image"]
        )
    else:
        layer_names = ["image"]

    def layers_for(window: dict[str, slice]) -> dict[str, Any]:
        part = cube[bands].isel(window)
        if not has_time:
            return {"image": xr.concat([part[b] for b in bands], "layer").data}
        per_time = [
            xr.concat([part[b].isel(time=p) for b in bands], "layer").data for p in positions
        ]
        if layout == "triplets":
            return dict(zip(layer_names, per_time, strict=True))
        stacked = xr.concat([xr.DataArray(d, dims=("layer", "y", "x")) for d in per_time], "layer")
        return {"image": stacked.data}

    transform = cube.rio.transform(recalc=True)
    crs = cube.rio.crs
    with replacing_folder(target) as partial:
        for name in layer_names + (["label"] if label is not None else []):
            (partial / name).mkdir()
        index = _write_chips(
            partial,
            layers_for,
            label,
            cloud,
            ys,
            xs,
            size,
            transform,
            crs,
            max_nodata=max_nodata,
            limits=limits,
            max_cloud=max_cloud,
            max_label_nodata=max_label_nodata,
        )
    return index


def _write_chips(
    folder: Path,
    layers_for: Any,
    label: xr.DataArray | None,
    cloud: xr.DataArray | None,
    ys: list[int],
    xs: list[int],
    size: int,
    transform: Affine,
    crs: Any,
    *,
    max_nodata: float,
    limits: dict[int, tuple[float, float]],
    max_cloud: float,
    max_label_nodata: float,
) -> pd.DataFrame:
    """Compute and write every chip into *folder*, and the index; returns the index."""
    tasks = []
    for r in ys:
        for c in xs:
            window = {"y": slice(r, r + size), "x": slice(c, c + size)}
            chip_transform = transform * Affine.translation(c, r)
            chip_label = None if label is None else label.isel(window).transpose("y", "x").data
            chip_cloud = None if cloud is None else cloud.isel(window).transpose("y", "x").data
            tasks.append(
                delayed(_chip_task)(
                    layers_for(window),
                    chip_label,
                    out=folder,
                    chip_id=f"chip_{r:06d}_{c:06d}",
                    row=r,
                    col=c,
                    transform=chip_transform,
                    crs=crs,
                    max_nodata=max_nodata,
                    class_limits=limits,
                    cloud=chip_cloud,
                    max_cloud=max_cloud,
                    max_label_nodata=max_label_nodata,
                )
            )
    (records,) = compute(tasks)
    rows = [rec for rec in records if rec is not None]
    index = pd.DataFrame(
        rows, columns=None if rows else ["chip_id", "row", "col", "nodata_fraction"]
    )
    if len(index):
        res_x, res_y = transform.a, transform.e
        index["minx"] = transform.c + index["col"] * res_x
        index["maxx"] = index["minx"] + size * res_x
        top = transform.f + index["row"] * res_y
        index["maxy"] = np.maximum(top, top + size * res_y)
        index["miny"] = np.minimum(top, top + size * res_y)
    index.to_csv(folder / "index.csv", index=False)
    return index
