"""Writing cubes and products to Zarr (v3) and reading them back with their CRS."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.base import compute

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
    resume: bool = False,
    encoding: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = False,
) -> Path:
    """Write a cube or product to a Zarr v3 store, chunk-aligned, CRS kept, resumable.

    The ``spatial_ref`` coordinate and the ``grid_mapping`` link are stored, so
    :func:`open_zarr` gives back the same geobox. Dask chunks become Zarr
    chunks (irregular chunkings are rechunked to their first chunk size).
    This **computes** lazy input.

    The store's metadata and in-memory variables are written first; then each
    chunk of the lazy variables is computed and written as one task (an
    xarray region write) and recorded in a sibling folder
    ``<store>.sarcube-progress/``. When every chunk is written the record is
    removed. If the write is interrupted (a crash, a killed job), calling
    again with ``resume=True`` and the same data computes and writes only the
    chunks that were not recorded, and ends with the same store as an
    uninterrupted run.

    Parameters
    ----------
    obj
        What to write; a DataArray is written as a one-variable Dataset.
    store
        Path of the store (a folder).
    mode
        ``"w-"`` (default) refuses an existing store; ``"w"`` replaces it.
    resume
        Complete an interrupted write of the same data (same variables, shapes,
        dtypes and chunks); starts afresh when *store* does not exist yet.
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
        The store exists (with ``mode="w-"`` and no *resume*), is complete or
        holds other data (with *resume*), or its parent cannot be written.
    """
    check_xarray(obj, "to_zarr")
    if mode not in ("w-", "w"):
        raise ParameterError(f"to_zarr: mode must be 'w-' or 'w', got {mode!r}")
    path = Path(store)
    parent = path.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise OutputError(
            f"cannot write {path}: {parent} is not a writable folder; create it first"
        )
    ds = _prepared(obj)
    plan = _plan(ds)
    progress_dir = path.with_name(path.name + _PROGRESS)
    if resume and path.exists():
        recorded = progress_dir / "plan.json"
        if not progress_dir.exists():
            raise OutputError(
                f"to_zarr: {path} is a complete store (nothing to resume); pass mode='w' "
                "to write it again"
            )
        if not recorded.exists():  # interrupted before any chunk: start afresh
            shutil.rmtree(path)
            shutil.rmtree(progress_dir)
        elif json.loads(recorded.read_text()) != plan:
            raise OutputError(
                f"to_zarr: {path} was started from other data (variables, shapes, dtypes or "
                "chunks differ); pass mode='w' to replace it"
            )
    elif path.exists():
        if mode == "w-":
            raise OutputError(
                f"{path} exists; pass mode='w' to replace it, resume=True to complete an "
                "interrupted write, or choose another path"
            )
        shutil.rmtree(path)
    if not path.exists():
        # the progress folder first: a store without one is complete
        shutil.rmtree(progress_dir, ignore_errors=True)
        progress_dir.mkdir()
        enc = {str(k): dict(v) for k, v in (encoding or {}).items()}
        # metadata and in-memory variables now; lazy variables chunk by chunk below
        ds.to_zarr(path, mode="w-", zarr_format=3, consolidated=False, encoding=enc, compute=False)
        _atomic_write(progress_dir / "plan.json", json.dumps(plan))

    done = {p.name for p in progress_dir.iterdir() if p.suffix == ".done"}
    tasks = []
    for dims, names in _lazy_groups(ds).items():
        first = ds[names[0]].data
        # one tiny output block per chunk: computing some of them computes (and
        # writes) only those chunks
        writes = dsa.map_blocks(
            _write_chunk,
            *[ds[n].data.rechunk(first.chunks) for n in names],
            path=path,
            dims=dims,
            variables=[(n, ds[n].attrs, ds[n].encoding) for n in names],
            progress_dir=progress_dir,
            chunks=tuple((1,) * len(c) for c in first.chunks),
            dtype=bool,
            meta=np.empty((0,) * first.ndim, dtype=bool),
        )
        for index in itertools.product(*[range(len(c)) for c in first.chunks]):
            if _marker(dims, index) not in done:
                tasks.append(writes.blocks[index])
    if progress:
        from dask.diagnostics.progress import ProgressBar

        with ProgressBar():
            compute(tasks)
    else:
        compute(tasks)
    shutil.rmtree(progress_dir)
    return path


_PROGRESS = ".sarcube-progress"  # a sibling folder: zarr warns about foreign files inside


def _prepared(obj: xr.DataArray | xr.Dataset) -> xr.Dataset:
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
    return ds


def _lazy_groups(ds: xr.Dataset) -> dict[tuple[Hashable, ...], list[Hashable]]:
    """Lazy data variables grouped by their dims (each group is written region by region)."""
    groups: dict[tuple[Hashable, ...], list[Hashable]] = {}
    for name, var in ds.data_vars.items():
        if isinstance(var.data, dsa.Array):
            groups.setdefault(tuple(var.dims), []).append(name)
    return groups


def _plan(ds: xr.Dataset) -> dict[str, Any]:
    """What identifies a write: variables with dims, shapes, dtypes and chunks."""
    return {
        str(name): {
            "dims": [str(d) for d in var.dims],
            "shape": list(var.shape),
            "dtype": str(var.dtype),
            "chunks": [list(c) for c in var.chunks] if var.chunks is not None else None,
        }
        for name, var in ds.variables.items()
    }


def _marker(dims: tuple[Hashable, ...], index: tuple[int, ...]) -> str:
    return "-".join(map(str, dims)) + "_" + ".".join(map(str, index)) + ".done"


def _write_chunk(
    *blocks: np.ndarray,
    path: Path,
    dims: tuple[Hashable, ...],
    variables: list[tuple[Hashable, dict[str, Any], dict[str, Any]]],
    progress_dir: Path,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """Write one chunk of a group of variables into its region, then record it as done."""
    assert block_info is not None
    location = block_info[0]["array-location"]
    region = {str(d): slice(lo, hi) for d, (lo, hi) in zip(dims, location, strict=True)}
    part = xr.Dataset()
    for (name, attrs, encoding), block in zip(variables, blocks, strict=True):
        part[name] = xr.Variable(dims, block, attrs=attrs, encoding=encoding)
    part.to_zarr(path, region=region, zarr_format=3, consolidated=False)
    index = tuple(int(i) for i in block_info[0]["chunk-location"])
    (progress_dir / _marker(dims, index)).touch()
    return np.ones((1,) * len(dims), dtype=bool)


def _atomic_write(target: Path, text: str) -> None:
    tmp = target.with_name(target.name + ".partial")
    tmp.write_text(text)
    os.replace(tmp, target)


def open_zarr(store: str | os.PathLike[str], **kwargs: Any) -> xr.Dataset:
    """Open a store written by :func:`to_zarr`, lazily, with ``spatial_ref`` as a coordinate."""
    path = Path(store)
    if not path.exists():
        raise OutputError(f"{path} does not exist; pass the path given to to_zarr")
    kwargs.setdefault("decode_coords", "all")
    kwargs.setdefault("consolidated", False)
    ds: xr.Dataset = xr.open_zarr(path, **kwargs)
    return ds
