"""Writing cubes and products to Zarr (v3) and reading them back with their CRS."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import shutil
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import rioxarray  # noqa: F401  (registers .rio on the cubes it returns)
import xarray as xr
from dask.base import compute, tokenize
from dask.highlevelgraph import HighLevelGraph

from .._atomic import write_text_atomic
from .._checks import check_choice, check_optional_int, check_xarray
from .._metadata import name_or
from .._reduce import active_client, compute_in_turn
from ..errors import InputNotFoundError, OutputError, ParameterError

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
    tiles: int | None = None,
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
    uninterrupted run. Until then :func:`open_zarr` refuses the store (or,
    with ``incomplete="mask"``, reads the unrecorded chunks as missing).

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
        Chunks recorded as written are not computed again; the others are
        written whole, replacing whatever a killed write left there. The
        process that was writing must have ended. (Every write ends by
        removing the temporary files a killed writer left in the store.)
    encoding
        Extra per-variable Zarr encoding (e.g. ``{"vv": {"compressors": ...}}``).
    progress
        Show a dask progress bar while writing.
    tiles
        Write in square tiles of ``tiles × tiles`` chunks (along the last two
        dims), one computation per tile, instead of all chunks in one. Window
        operations (filters, halos) make dask hold a front of chunks as wide as
        the image; per tile, memory depends on the tile, not on the cube. The
        price is that the chunks around a tile that its halos read are computed
        again for the next tile (for the stages before the last window
        operation). ``None``: one computation.

    Returns
    -------
    pathlib.Path
        The store path.

    Raises
    ------
    OutputError
        The store exists (with ``mode="w-"`` and no *resume*), is complete or
        holds other data (with *resume*), or its parent cannot be written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> cube = sarcube.synthetic.make_scene((32, 32), seed=1).cube.chunk({"y": 16})
    >>> store = to_zarr(cube, pathlib.Path(tempfile.mkdtemp()) / "cube.zarr", progress=False)
    >>> back = sarcube.open_zarr(store)
    >>> back["vv"].data.chunksize, back.rio.crs.to_epsg()
    ((3, 16, 32), 32633)

    Writing again with ``resume=True`` completes an interrupted write; on a
    complete store it refuses, since there is nothing left to do:

    >>> to_zarr(cube, store, resume=True)
    Traceback (most recent call last):
    ...
    sarcube.errors.OutputError: ...
    """
    check_xarray(obj, "to_zarr")
    tiles = check_optional_int(tiles, "tiles", "to_zarr", minimum=1)
    check_choice(mode, ("w-", "w"), "mode", "to_zarr")
    path = Path(store)
    parent = path.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise OutputError(
            f"cannot write {path}: {parent} is not a writable folder; create it first"
        )
    _check_names(obj)
    _check_sizes(obj)
    ds = _prepared(obj)
    _check_encoding(ds, encoding)
    plan = _plan(ds)
    progress_dir = path.with_name(path.name + PROGRESS)
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
        # mark the store unfinished before removing it: a kill halfway through the
        # removal leaves a store that open_zarr refuses, not one that looks complete
        progress_dir.mkdir(exist_ok=True)
        shutil.rmtree(path)
    if not path.exists():
        # the progress folder first: a store without one is complete
        shutil.rmtree(progress_dir, ignore_errors=True)
        progress_dir.mkdir()
        enc = {str(k): dict(v) for k, v in (encoding or {}).items()}
        # metadata and in-memory variables now; lazy variables chunk by chunk below
        ds.to_zarr(path, mode="w-", zarr_format=3, consolidated=False, encoding=enc, compute=False)
        write_text_atomic(progress_dir / "plan.json", json.dumps(plan))

    done = {p.name for p in progress_dir.iterdir() if p.suffix == ".done"}
    tasks: list[tuple[tuple[int, ...], Any]] = []
    for names, _ in _write_groups(plan, list(ds.data_vars)).values():
        first = ds[names[0]].data
        dims = ds[names[0]].dims
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
                tasks.append((index, writes.blocks[index]))
    run = _compute_with_progress if progress else compute
    for _ in compute_in_turn(_tile_batches(tasks, tiles), run):
        pass
    _remove_partial_files(path)  # left by a killed writer (this run's workers or an earlier run)
    shutil.rmtree(progress_dir)
    return path


def _tile_batches(tasks: list[tuple[tuple[int, ...], Any]], tiles: int | None) -> list[list[Any]]:
    """The write tasks grouped by square tiles of chunk positions (last two dims)."""
    if tiles is None:
        return [[task for _, task in tasks]] if tasks else []
    groups: dict[tuple[int, ...], list[Any]] = {}
    for index, task in tasks:
        key = tuple(i // tiles for i in index[-2:])
        groups.setdefault(key, []).append(task)
    return [groups[k] for k in sorted(groups)]


#: Per-variable encoding keys xarray's Zarr v3 writer takes.
_ENCODING_KEYS = frozenset(
    {
        "chunks", "shards", "compressors", "compressor", "filters", "serializer",
        "fill_value", "_FillValue", "dtype", "scale_factor", "add_offset", "units",
        "calendar", "preferred_chunks", "write_empty_chunks", "object_codec", "codecs",
    }
)  # fmt: skip


def _check_encoding(ds: xr.Dataset, encoding: Mapping[str, Mapping[str, Any]] | None) -> None:
    """Refuse an encoding for unknown variables or with unknown keys, before any write."""
    for name, settings in (encoding or {}).items():
        if name not in ds.variables:
            raise ParameterError(
                f"to_zarr: encoding names {name!r}, which is not in the data; available: "
                f"{sorted(map(str, ds.data_vars))}"
            )
        unknown = sorted(set(settings) - _ENCODING_KEYS)
        if unknown:
            raise ParameterError(
                f"to_zarr: encoding of {name!r} has unknown keys {unknown}; use Zarr encoding "
                f"keys such as {sorted(_ENCODING_KEYS)[:6]}"
            )


def _compute_with_progress(tasks: list[Any]) -> None:
    """Compute with a progress bar: distributed's when a Client is active, else dask's."""
    client = active_client()
    if client is not None:
        from distributed import progress

        futures = client.compute(tasks)
        # In a notebook, distributed draws an ipywidgets bar (and does not block);
        # without ipywidgets installed, the text bar instead of an ImportError.
        notebook = None if importlib.util.find_spec("ipywidgets") else False
        progress(futures, notebook=notebook)  # type: ignore[no-untyped-call]
        client.gather(futures)  # raises the first task error, as compute() does
        return
    from dask.diagnostics.progress import ProgressBar

    with ProgressBar():
        compute(tasks)


#: Suffix of the sibling folder that records a write in progress (zarr warns about
#: foreign files inside a store).
PROGRESS = ".sarcube-progress"


def _check_names(obj: xr.DataArray | xr.Dataset) -> None:
    """Every variable name must be one Zarr array name: no '/', not '.' or '..'."""
    names = [obj.name] if isinstance(obj, xr.DataArray) else list(obj.variables)
    for name in names:
        if name is None:
            continue
        text = str(name)
        if "/" in text or text in (".", "..") or not text or text.startswith("__"):
            safe = text.replace("/", "_").strip(".").lstrip("_") or "data"
            raise ParameterError(
                f"to_zarr: {text!r} cannot name a Zarr array (a '/' makes nested groups; "
                f"'.', '..', '' and names starting with '__' are reserved); rename it, "
                f"e.g. obj.rename({{{text!r}: {safe!r}}})"
            )


def _check_sizes(obj: xr.DataArray | xr.Dataset) -> None:
    """An empty dim leaves nothing to write: refused before the store is created."""
    empty = [str(d) for d, n in obj.sizes.items() if n == 0]
    if empty:
        raise ParameterError(
            f"to_zarr: dims {empty} have size 0, so there is nothing to write; select a "
            "non-empty region first (e.g. check the bbox or the time range of the search)"
        )


def _prepared(obj: xr.DataArray | xr.Dataset) -> xr.Dataset:
    ds = obj.to_dataset(name=name_or(obj, "data")) if isinstance(obj, xr.DataArray) else obj
    ds = ds.copy()
    # only data variables are written chunk by chunk: lazy coordinates (small) now
    lazy_coords = [k for k, v in ds.coords.items() if isinstance(v.data, dsa.Array)]
    if lazy_coords:
        ds = ds.assign_coords({k: ds.coords[k].compute() for k in lazy_coords})
    for name in ds.variables:
        target = _uniform_chunks(ds[name])
        if target is not None:
            ds[name] = ds[name].chunk(target)
        # Encodings inherited from a source file (e.g. GeoTIFF block sizes) do
        # not fit a Zarr store; keep only what matters for decoding.
        keep = {k: v for k, v in ds[name].encoding.items() if k in ("units", "calendar", "dtype")}
        ds[name].encoding = keep
    return ds


def _write_groups(
    plan: Mapping[str, Any], data_vars: Sequence[Hashable]
) -> dict[tuple[str, ...], tuple[list[str], list[list[int]]]]:
    """Lazy data variables grouped by dims, with the chunks their regions are written in.

    Each group is written region by region on its first variable's chunks and
    one ``.done`` marker per region records the whole group. Worked out from
    the recorded plan so that :func:`open_zarr` finds the same regions.
    """
    names = {str(n) for n in data_vars}
    groups: dict[tuple[str, ...], tuple[list[str], list[list[int]]]] = {}
    for name, entry in plan.items():
        if name in names and entry["chunks"] is not None:
            dims = tuple(entry["dims"])
            groups.setdefault(dims, ([], entry["chunks"]))[0].append(name)
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


# zarr's local store writes each file as "<name>.<32 hex>.partial" and renames it
_PARTIAL = re.compile(r".*\.[0-9a-f]{32}\.partial")


def _remove_partial_files(path: Path) -> None:
    """Remove the temporary files a killed writer left in the store."""
    for p in path.rglob("*.partial"):
        if p.is_file() and _PARTIAL.fullmatch(p.name):
            p.unlink()


def open_zarr(
    store: str | os.PathLike[str],
    *,
    incomplete: Literal["raise", "mask"] = "raise",
    **kwargs: Any,
) -> xr.Dataset:
    """Open a store written by :func:`to_zarr`, lazily, with ``spatial_ref`` as a coordinate.

    A store whose write was interrupted (its ``<store>.sarcube-progress/``
    record still exists) holds chunks that were never written or were only
    partly written; by default it is refused rather than read as if valid.

    Parameters
    ----------
    store
        Path of the store.
    incomplete
        What to do with an interrupted store. ``"raise"`` (default): raise
        :class:`~sarcube.errors.OutputError` saying how to complete it.
        ``"mask"``: open it, and read every chunk of the chunk-by-chunk
        written variables that is not recorded as finished as missing —
        NaN for floats (NaT for times), the ``nodata`` flag value where the
        variable has CF ``flag_values``/``flag_meanings``, and otherwise NaN
        after promoting integers and booleans to floating point. Those chunks
        are never read, so a half-written chunk cannot leak through. Variables
        written with the metadata (in-memory data, coordinates) are complete.
        A complete store opens the same either way.
    **kwargs
        Passed to :func:`xarray.open_zarr` (``decode_coords="all"`` and
        ``consolidated=False`` by default). With ``incomplete="mask"`` the
        variables come in the store's chunks, or are rechunked to the
        ``chunks`` given; ``chunks=None`` (eager) is refused.

    Returns
    -------
    xarray.Dataset
        The store's contents, lazy.

    Raises
    ------
    InputNotFoundError
        The store does not exist.
    OutputError
        The store is not a Zarr store, or its write was interrupted (with
        ``incomplete="raise"``, or with any setting when it stopped before a
        single chunk was written).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cube.zarr"
    >>> cube = sarcube.synthetic.make_scene((32, 32), seed=1).cube.chunk({"y": 16})
    >>> back = open_zarr(to_zarr(cube, path))
    >>> back["vv"].chunks[1], back.rio.crs.to_epsg()
    ((16, 16), 32633)
    """
    path = Path(store)
    progress_dir = path.with_name(path.name + PROGRESS)
    if not path.exists():
        if progress_dir.exists():  # killed after removing the old store, before the new one
            raise OutputError(
                f"{path} is an interrupted write that stopped before any chunk (the old "
                f"store was removed); call sarcube.to_zarr(data, {str(path)!r}, resume=True) "
                "to write it"
            )
        raise InputNotFoundError(
            f"open_zarr: {path} does not exist; pass the path given to to_zarr"
        )
    if incomplete not in ("raise", "mask"):
        raise ParameterError(f"open_zarr: incomplete must be 'raise' or 'mask', got {incomplete!r}")
    kwargs.setdefault("decode_coords", "all")
    kwargs.setdefault("consolidated", False)
    if not progress_dir.exists():
        if not (path / "zarr.json").is_file() and not (path / ".zgroup").is_file():
            raise OutputError(
                f"open_zarr: {path} is not a Zarr store (no zarr.json); pass a store written "
                "by sarcube.to_zarr or another Zarr writer"
            )
        ds: xr.Dataset = xr.open_zarr(path, **kwargs)
        return ds

    recorded = progress_dir / "plan.json"
    fix = (
        f"call sarcube.to_zarr(data, {str(path)!r}, resume=True) with the same data to complete it"
    )
    if not recorded.exists():
        raise OutputError(f"{path} is an interrupted write that stopped before any chunk; {fix}")
    plan = json.loads(recorded.read_text())
    done = {p.name for p in progress_dir.iterdir() if p.suffix == ".done"}
    if incomplete == "raise":
        total = sum(
            int(np.prod([len(c) for c in chunks]))
            for _, chunks in _write_groups(plan, list(plan)).values()
        )
        raise OutputError(
            f"{path} is an interrupted write ({len(done)} of {total} chunks finished, "
            f"recorded in {progress_dir}); unfinished chunks may hold nothing or partial "
            f"data. {fix[0].upper()}{fix[1:]}, or pass incomplete='mask' to read the "
            "finished chunks with the others missing"
        )

    chunks = kwargs.pop("chunks", {})
    if chunks is None:
        raise ParameterError(
            "open_zarr: incomplete='mask' reads lazily; leave out chunks=None and call "
            ".load() on the result to read it into memory"
        )
    ds = xr.open_zarr(path, chunks={}, **kwargs)  # one dask chunk per Zarr chunk
    for dims, (names, grid) in _write_groups(plan, list(ds.data_vars)).items():
        finished = np.zeros([len(c) for c in grid], dtype=bool)
        for index in itertools.product(*[range(len(c)) for c in grid]):
            finished[index] = _marker(dims, index) in done
        for name in names:
            ds[name] = _masked(ds[name], grid, finished)
    if chunks != {}:
        ds = ds.chunk(chunks)
    return ds


def _nodata(var: xr.DataArray) -> tuple[Any, np.dtype[Any]]:
    """The value an unwritten chunk of *var* reads as, and the dtype that holds it."""
    dtype = var.dtype
    if dtype.kind in "fc":
        return np.nan, dtype
    if dtype.kind in "mM":
        return np.array("NaT", dtype=dtype), dtype
    meanings = str(var.attrs.get("flag_meanings", "")).split()
    values = np.atleast_1d(var.attrs.get("flag_values", []))
    if "nodata" in meanings and len(values) == len(meanings):
        return values[meanings.index("nodata")], dtype
    return np.nan, np.result_type(dtype, np.float32)


def _masked(var: xr.DataArray, grid: list[list[int]], finished: np.ndarray) -> xr.DataArray:
    """*var* with every block that is not wholly inside finished chunks replaced by nodata.

    The graph aliases the finished blocks of the source and builds the others
    from scratch, so an unfinished block is never read.
    """
    fill, dtype = _nodata(var)
    data = var.data
    assert isinstance(data, dsa.Array)
    if dtype != data.dtype:
        data = data.astype(dtype)
    # which finished-grid chunks each block overlaps, per dim
    spans: list[list[range]] = []
    for block_sizes, grid_sizes in zip(data.chunks, grid, strict=True):
        grid_edges = np.cumsum([0, *grid_sizes])
        starts = np.cumsum([0, *block_sizes[:-1]])
        spans.append(
            [
                range(
                    int(np.searchsorted(grid_edges, lo, side="right")) - 1,
                    int(np.searchsorted(grid_edges, lo + size - 1, side="right")),
                )
                for lo, size in zip(starts, block_sizes, strict=True)
            ]
        )
    name = "sarcube-masked-" + tokenize(data, finished, fill)
    layer: dict[Any, Any] = {}  # dask keys are (name, *block index)
    for index in itertools.product(*[range(n) for n in data.numblocks]):
        overlap = tuple(slice(s[i].start, s[i].stop) for s, i in zip(spans, index, strict=True))
        if finished[overlap].all():
            layer[(name, *index)] = (data.name, *index)
        else:
            shape = tuple(c[i] for c, i in zip(data.chunks, index, strict=True))
            layer[(name, *index)] = (np.full, shape, fill, dtype)
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[data])
    masked = dsa.Array(
        graph, name, data.chunks, dtype=dtype, meta=np.empty((0,) * data.ndim, dtype)
    )
    out = var.copy(data=masked)
    out.encoding = {k: v for k, v in var.encoding.items() if k != "dtype" or dtype == var.dtype}
    return out
