"""Writing cubes and products to Zarr (v3) and reading them back with their CRS."""

from __future__ import annotations

import os
import shutil
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, Literal

import dask.array as dsa
import xarray as xr

from .._checks import check_xarray
from ..errors import OutputError, ParameterError

__all__ = ["open_zarr", "to_zarr"]


def _uniform_chunks(da: xr.DataArray) -> dict[Hashable, int] | None:
    """Chunk sizes to rechunk to when dask chunks would straddle Zarr chunks.

    Zarr needs every dask chunk but the last along a dim to have one size;
    odd chunkings are rechunked to their first chunk size.
    """
    if not isinstance(da.data, dsa.Array):
        return None
    target: dict[Hashable, int] = {}
    for dim, sizes in zip(da.dims, da.data.chunks, strict=True):
        if len(set(sizes[:-1])) > 1 or (len(sizes) > 1 and sizes[-1] > sizes[0]):
            target[dim] = sizes[0]
    return target or None


def to_zarr(
    obj: xr.DataArray | xr.Dataset,
    store: str | os.PathLike[str],
    *,
    mode: Literal["w-", "w"] = "w-",
    encoding: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = False,
) -> Path:
    """Write a cube or product to a Zarr v3 store, chunk-aligned, CRS kept.

    The ``spatial_ref`` coordinate and the ``grid_mapping`` link are stored, so
    :func:`open_zarr` gives back the same geobox. Dask chunks become Zarr
    chunks (irregular chunkings are rechunked to their first chunk size).
    This **computes** lazy input.

    Parameters
    ----------
    obj
        What to write; a DataArray is written as a one-variable Dataset.
    store
        Path of the store (a folder).
    mode
        ``"w-"`` (default) refuses an existing store; ``"w"`` replaces it.
    encoding
        Extra per-variable Zarr encoding (e.g. ``{"vv": {"compressors": ...}}``).
    progress
        Show a dask progress bar while writing.

    Returns
    -------
    pathlib.Path
        The store path.

    Raises
    ------
    OutputError
        The store exists (with ``mode="w-"``) or its parent cannot be written.
    """
    check_xarray(obj, "to_zarr")
    if mode not in ("w-", "w"):
        raise ParameterError(f"to_zarr: mode must be 'w-' or 'w', got {mode!r}")
    path = Path(store)
    if path.exists() and mode == "w-":
        raise OutputError(f"{path} exists; pass mode='w' to replace it or choose another path")
    parent = path.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise OutputError(
            f"cannot write {path}: {parent} is not a writable folder; create it first"
        )

    ds = obj.to_dataset(name=obj.name or "data") if isinstance(obj, xr.DataArray) else obj
    ds = ds.copy()
    for name in ds.variables:
        target = _uniform_chunks(ds[name])
        if target is not None:
            ds[name] = ds[name].chunk(target)
        # Encodings inherited from a source file (e.g. GeoTIFF block sizes) do
        # not fit a Zarr store; keep only what matters for decoding.
        keep = {k: v for k, v in ds[name].encoding.items() if k in ("units", "calendar", "dtype")}
        ds[name].encoding = keep
    enc = {str(k): dict(v) for k, v in (encoding or {}).items()}
    if mode == "w" and path.exists():
        shutil.rmtree(path)

    writer = ds.to_zarr(
        path, mode="w-", zarr_format=3, consolidated=False, encoding=enc, compute=False
    )
    if progress:
        from dask.diagnostics.progress import ProgressBar

        with ProgressBar():
            writer.compute()
    else:
        writer.compute()
    return path


def open_zarr(store: str | os.PathLike[str], **kwargs: Any) -> xr.Dataset:
    """Open a store written by :func:`to_zarr`, lazily, with ``spatial_ref`` as a coordinate."""
    path = Path(store)
    if not path.exists():
        raise OutputError(f"{path} does not exist; pass the path given to to_zarr")
    kwargs.setdefault("decode_coords", "all")
    kwargs.setdefault("consolidated", False)
    ds: xr.Dataset = xr.open_zarr(path, **kwargs)
    return ds
