"""Running 2-D window kernels on numpy and dask arrays with identical results.

A kernel sees a stack of images ``(n, Y, X)`` and a ``pad``: dask blocks
arrive with a halo of ``depth`` pixels from their neighbours (``pad = 0``);
whole in-memory images arrive bare and the kernel mirrors their edges itself
(``pad = depth``), which spares a padded copy. The outer edge is mirrored the
same way in both cases (numpy ``pad`` mode ``"symmetric"`` == dask
``boundary="reflect"``: the edge pixel is repeated), so the result never
depends on the chunking — chunks smaller than the halo included (they are
merged first, as dask's ``overlap`` needs). The kernel writes the
``(n, ny, nx)`` interior into an ``out`` array allocated here with numpy.

Per-image parameters that come from a global reduction (e.g. the variance of
the whole image) travel as an extra ``(n, k)`` array, computed lazily
beforehand and broadcast to every block of that image.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar, cast

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.array.overlap import ensure_minimum_chunksize
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from .conventions import SPATIAL_DIMS
from .errors import ParameterError

__all__ = [
    "apply_window_kernel",
    "at_least",
    "check_window_fits",
    "depth_pair",
    "halo_sizes",
    "lead_params",
    "neighbourhood_map",
    "overlapped",
    "tile_map",
]

#: ``kernel(stack (n, Y, X) f4, params (n, k) f8 | None, pad, out (n, y, x) f4, *args)``
Kernel = Callable[..., object]
Boundary = Literal["symmetric", "none"]
_Obj = TypeVar("_Obj", xr.DataArray, xr.Dataset)


class KernelByName:
    """A module-level numba kernel that travels to dask workers as its import path.

    A numba dispatcher pickles *by value*: a worker process that unpickles
    it builds a new dispatcher without the on-disk cache and compiles the
    kernel again (seconds per kernel and signature, per worker). Pickled as
    ``(module, name)`` instead, the worker imports the module and uses its
    dispatcher, cache included.
    """

    __slots__ = ("func", "module", "name")

    def __init__(self, func: Kernel) -> None:
        self.func = func
        self.module: str = func.__module__
        self.name: str = func.__name__
        try:
            found = _import_kernel(self.module, self.name)
        except (ImportError, AttributeError):
            found = None
        if found is not func:
            raise TypeError(f"{func!r} is not importable as {self.module}.{self.name}")

    @classmethod
    def wrap(cls, func: Kernel) -> Kernel:
        """*func* by name when it is importable as such, else *func* itself."""
        if isinstance(func, cls):
            return func
        try:
            return cls(func)
        except TypeError:  # a local function: pickled by value, as dask would
            return func

    def __call__(self, *args: Any, **kwargs: Any) -> object:
        return self.func(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_import_kernel_by_name, (self.module, self.name))

    def __dask_tokenize__(self) -> tuple[str, str]:
        return (self.module, self.name)


def _import_kernel(module: str, name: str) -> Kernel:
    import importlib

    kernel: Kernel = getattr(importlib.import_module(module), name)
    return kernel


def _import_kernel_by_name(module: str, name: str) -> KernelByName:
    return KernelByName(_import_kernel(module, name))


def check_window_fits(da: xr.DataArray, depth: int, func: str) -> None:
    """A symmetric halo cannot be wider than the image it reflects."""
    for dim in SPATIAL_DIMS:
        if da.sizes[dim] < depth:
            raise ParameterError(
                f"{func}: the window needs {depth} pixels of halo but {dim!r} has only "
                f"{da.sizes[dim]}; use a smaller size"
            )


def _flat_lead(block: np.ndarray) -> np.ndarray:
    """(..., Y, X) -> (n, Y, X) float32, contiguous, without copying when possible."""
    flat = block.reshape((-1, *block.shape[-2:]))
    return np.ascontiguousarray(flat, dtype=np.float32)


def _run_numpy(
    data: np.ndarray,
    depth: int,
    kernel: Kernel,
    params: np.ndarray | None,
    args: Sequence[Any],
    boundary: Boundary,
) -> np.ndarray:
    flat_params = None if params is None else np.asarray(params).reshape((-1, params.shape[-1]))
    stack = _flat_lead(data)
    out = np.empty(stack.shape, dtype=np.float32)
    if boundary == "none":
        kernel(stack, flat_params, 0, 0, 0, 0, out, *args)
    else:
        # the kernel mirrors the outer edge itself: no padded copy of the image
        kernel(stack, flat_params, depth, out, *args)
    return out.reshape(data.shape)


#: A halo: one width for y and x, or ``(y, x)``.
Depth = int | tuple[int, int]


def depth_pair(depth: Depth) -> tuple[int, int]:
    """*depth* as ``(y, x)`` halo widths."""
    return (depth, depth) if isinstance(depth, int) else (int(depth[0]), int(depth[1]))


def halo_sizes(block_info: dict[Any, Any] | None, depth: Depth) -> tuple[int, int, int, int]:
    """Halo pixels present on each side ``(top, bottom, left, right)`` of a block.

    The block was overlapped with ``boundary="none"``: no halo at the array's
    own edge.

    *depth*: one halo for y and x, or ``(y, x)``.
    """
    assert block_info is not None
    loc = block_info[0]["chunk-location"]
    nblocks = block_info[0]["num-chunks"]
    depth_y, depth_x = depth_pair(depth)
    return (
        depth_y if loc[-2] > 0 else 0,
        depth_y if loc[-2] < nblocks[-2] - 1 else 0,
        depth_x if loc[-1] > 0 else 0,
        depth_x if loc[-1] < nblocks[-1] - 1 else 0,
    )


def at_least(data: dsa.Array, depth: Depth) -> dsa.Array:
    """*data* with its y/x chunks merged where they are narrower than *depth*.

    A halo comes from one neighbour, so no chunk may be narrower than it.
    *depth*: one halo for y and x, or ``(y, x)``.
    """
    ndim = data.ndim
    depth_y, depth_x = depth_pair(depth)
    halo = {ndim - 2: depth_y, ndim - 1: depth_x}
    merged: dsa.Array = data.rechunk(
        {ax: ensure_minimum_chunksize(d, data.chunks[ax]) for ax, d in halo.items() if d}
    )
    return merged


def overlapped(data: dsa.Array, depth: Depth, boundary: Boundary) -> tuple[dsa.Array, dsa.Array]:
    """*data* with chunks of at least *depth* along y/x, and its blocks with their halo.

    *depth*: one halo for y and x, or ``(y, x)``.
    """
    ndim = data.ndim
    depth_y, depth_x = depth_pair(depth)
    halo = {ndim - 2: depth_y, ndim - 1: depth_x}
    data = at_least(data, depth)  # dask's overlap needs chunks at least as large as the halo
    depth_map = {ax: halo.get(ax, 0) for ax in range(ndim)}
    padded = dsa.overlap.overlap(
        data, depth=depth_map, boundary="reflect" if boundary == "symmetric" else "none"
    )
    return data, padded


#: A block and its neighbours' edges: ``grid[r][c]`` for rows above / own /
#: below and columns left / own / right; ``None`` where the array ends.
Pieces = list[list[np.ndarray | None]]


def neighbourhood_map(
    func: Callable[..., np.ndarray],
    arrays: Sequence[dsa.Array],
    depth: int,
    *,
    name: str,
    lead: tuple[int, ...],
    dtype: Any,
) -> dsa.Array:
    """Map *func* over the blocks of 2-D *arrays*, each block given with its neighbours' edges.

    For every block, ``func(*grids)`` receives one :data:`Pieces` grid per
    array: the block itself in the middle and, around it, the *depth* rows or
    columns of each neighbour that face it (corners ``depth × depth``); no
    concatenated copy is made, unlike ``dask.array.overlap``: the function
    reads the pieces straight into whatever buffer it needs. It returns the
    block's own pixels with *lead* leading axes (e.g. ``(4,)``: a stack of four
    layers). The arrays must share their chunks, each at least *depth* wide
    (:func:`overlapped` merges smaller ones). *func* names the graph:
    give *func* a stable token (a module-level function or ``functools.partial``
    of one), so that building the graph does not pickle it.
    """
    first = arrays[0]
    if any(a.chunks != first.chunks or a.ndim != 2 for a in arrays):
        raise ValueError("neighbourhood_map: the arrays must be 2-D with the same chunks")
    out_name = f"{name}-{tokenize(func, [a.name for a in arrays], depth, lead)}"
    halo_name = f"{out_name}-halo"
    ny_blocks, nx_blocks = first.numblocks
    # the slice of a neighbour that faces the block, by its offset -1 / 0 / +1
    facing = {-1: slice(-depth, None), 0: slice(None), 1: slice(0, depth)}
    graph: dict[Any, Any] = {}
    zeros = (0,) * len(lead)
    for i, j in itertools.product(range(ny_blocks), range(nx_blocks)):
        grids = []
        for index, array in enumerate(arrays):
            grid: list[list[Any]] = []
            for di in (-1, 0, 1):
                row: list[Any] = []
                for dj in (-1, 0, 1):
                    ni, nj = i + di, j + dj
                    if not (0 <= ni < ny_blocks and 0 <= nj < nx_blocks):
                        row.append(None)
                    elif di == dj == 0:
                        row.append((array.name, ni, nj))
                    else:
                        key = (halo_name, index, i, j, di + 1, dj + 1)
                        graph[key] = (
                            operator.getitem,
                            (array.name, ni, nj),
                            (facing[di], facing[dj]),
                        )
                        row.append(key)
                grid.append(row)
            grids.append(grid)
        graph[(out_name, *zeros, i, j)] = (func, *grids)
    layers = HighLevelGraph.from_collections(out_name, graph, dependencies=[*arrays])  # type: ignore[list-item]
    chunks = (*((n,) for n in lead), *first.chunks)
    meta = np.empty((0,) * (len(lead) + 2), dtype=dtype)
    return dsa.Array(layers, out_name, chunks=chunks, dtype=dtype, meta=meta)


def _block_kernel(
    block: np.ndarray,
    params: np.ndarray | None = None,
    *,
    kernel: Kernel,
    depth: Depth,
    args: Sequence[Any],
    boundary: Boundary,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    lead = block.shape[:-2]
    flat_params = None if params is None else params.reshape((-1, params.shape[-1]))
    if boundary == "none":
        # No padding at the outer edge: tell the kernel which sides are real halo.
        halo = halo_sizes(block_info, depth)
        ny = block.shape[-2] - halo[0] - halo[1]
        nx = block.shape[-1] - halo[2] - halo[3]
        stack = _flat_lead(block)
        out = np.empty((stack.shape[0], ny, nx), dtype=np.float32)
        kernel(stack, flat_params, *halo, out, *args)
    else:
        depth_y, depth_x = depth_pair(depth)
        ny, nx = block.shape[-2] - 2 * depth_y, block.shape[-1] - 2 * depth_x
        stack = _flat_lead(block)
        out = np.empty((stack.shape[0], ny, nx), dtype=np.float32)
        kernel(stack, flat_params, 0, out, *args)  # the halo is already there
    return out.reshape((*lead, ny, nx))


def _run_dask(
    data: dsa.Array,
    depth: Depth,
    kernel: Kernel,
    params: Any,
    args: Sequence[Any],
    boundary: Boundary,
) -> dsa.Array:
    ndim = data.ndim
    data, padded = overlapped(data, depth, boundary)
    extra = []
    if params is not None:
        p = dsa.asarray(params)
        p = p.rechunk({ax: data.chunks[ax] for ax in range(ndim - 2)} | {ndim - 2: -1})
        # (*lead, 1, k): one block along y and x, so every spatial block of an image gets it
        extra = [p.reshape((*p.shape[:-1], 1, p.shape[-1]))]
    result: dsa.Array = dsa.map_blocks(
        _block_kernel,
        padded,
        *extra,
        kernel=KernelByName.wrap(kernel),
        depth=depth,
        args=tuple(args),
        boundary=boundary,
        chunks=data.chunks,
        dtype=np.float32,
        meta=np.empty((0,) * ndim, dtype=np.float32),
    )
    return result


def apply_window_kernel(
    da: xr.DataArray,
    kernel: Kernel,
    depth: Depth,
    *,
    params: Any = None,
    args: Sequence[Any] = (),
    boundary: Boundary = "symmetric",
) -> xr.DataArray:
    """Run *kernel* over the ``(y, x)`` images of *da*, lazily on dask input.

    Parameters
    ----------
    da
        Input with ``y`` and ``x`` dims (any leading dims); cast to float32.
    kernel
        Kernel filling a float32 ``out`` allocated here, see the module
        docstring. With ``boundary="none"`` it receives the halo actually present
        on each side ``(top, bottom, left, right)`` instead of ``pad``.
    depth
        Halo in pixels on each side (``size // 2`` for a ``size × size`` window),
        or ``(y, x)`` halos (with ``boundary="none"``: a kernel that mirrors
        the edge itself takes one ``pad``).
    params
        Optional per-image parameters shaped like the leading dims plus one
        trailing axis, numpy or dask (lazy global statistics).
    args
        Extra scalar arguments for the kernel.
    boundary
        ``"symmetric"``: the outer edge is mirrored (edge pixel repeated);
        ``"none"``: no padding, the kernel handles the edge.
    """
    if boundary != "none" and not isinstance(depth, int):
        raise TypeError("apply_window_kernel: a (y, x) depth needs boundary='none'")
    order = [d for d in da.dims if d not in SPATIAL_DIMS] + list(SPATIAL_DIMS)
    arr = da.transpose(*order)
    data = arr.data
    out: dsa.Array | np.ndarray
    if isinstance(data, dsa.Array):
        out = _run_dask(data.astype(np.float32), depth, kernel, params, args, boundary)
    else:
        out = _run_numpy(
            np.asarray(data, dtype=np.float32),
            depth if isinstance(depth, int) else 0,
            kernel,
            None if params is None else np.asarray(params),
            args,
            boundary,
        )
    result = arr.copy(data=out).transpose(*da.dims)
    result.encoding = {}
    return result


def lead_params(stats: Sequence[xr.DataArray], da: xr.DataArray) -> Any:
    """Stack per-image statistics (dims = the leading dims of *da*) into ``(*lead, k)``."""
    lead = [d for d in da.dims if d not in SPATIAL_DIMS]
    arrays = [s.transpose(*lead).data for s in stats]
    if any(isinstance(a, dsa.Array) for a in arrays):
        return dsa.stack([dsa.asarray(a, dtype=np.float64) for a in arrays], axis=-1)
    return np.stack([np.asarray(a, dtype=np.float64) for a in arrays], axis=-1)


def tile_windows(size: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Along one axis: ``(start, stop)`` of each tile and of its window.

    The window is the tile and *margin* pixels on each side, clipped to the
    image.
    """
    return [
        (start, min(start + tile, size), max(start - margin, 0), min(start + tile + margin, size))
        for start in range(0, size, tile)
    ]


def _chunk_bounds(obj: xr.Dataset, dim: str) -> np.ndarray | None:
    chunks = obj.chunksizes.get(dim)
    return None if chunks is None else np.cumsum((0, *chunks))


def _inside(bounds: np.ndarray, start: int, stop: int) -> tuple[int, ...]:
    """The chunk sizes of ``[start, stop)`` cut at *bounds*."""
    cuts = [start, *[int(b) for b in bounds if start < b < stop], stop]
    return tuple(b - a for a, b in itertools.pairwise(cuts))


def tile_map(
    func: Callable[[xr.Dataset], _Obj],
    obj: xr.Dataset,
    *,
    tile: tuple[int, int],
    margin: int,
) -> _Obj:
    """*func* on each tile of *obj* read with *margin* pixels of its neighbours, joined.

    Each tile of ``tile`` pixels (y, x) is cut from *obj* with up to *margin*
    pixels more on each side, passed to *func*, and the result is cropped back
    to the tile; the tiles are joined into one lazy object on *obj*'s grid.
    When the result of *func* at a pixel depends only on the input within
    *margin* pixels (a chain of window operations that mirror the image edge),
    the join equals ``func(obj)``: inside a window, the pixels that the
    window's own (wrong) mirrored edge reaches are the ones cropped away.

    What this buys is locality. In ``func(obj)`` each window operation reads
    whole neighbouring chunks for its halo, so computing one region of the
    output pulls in a growing ring of chunks of every earlier stage; here a
    tile's output depends on the stages of that tile's window alone (only
    the source is read whole for the chunks its margin touches). Computing
    the output tile by tile (``to_zarr(..., tiles=)``) then holds one tile's
    window, whatever the size of the cube. *tile* should be a multiple of
    the chunks so that each tile's output keeps them.
    """
    ny, nx = (obj.sizes[d] for d in SPATIAL_DIMS)
    bounds = [_chunk_bounds(obj, d) for d in SPATIAL_DIMS]
    rows = []
    for y0, y1, wy0, wy1 in tile_windows(ny, tile[0], margin):
        row = []
        for x0, x1, wx0, wx1 in tile_windows(nx, tile[1], margin):
            window = obj.isel({"y": slice(wy0, wy1), "x": slice(wx0, wx1)})
            out = func(window)
            out = out.isel({"y": slice(y0 - wy0, y1 - wy0), "x": slice(x0 - wx0, x1 - wx0)})
            if out.chunksizes and bounds[0] is not None and bounds[1] is not None:
                # the filters may merge the window's thin edge chunks with their
                # neighbours; inside the tile, back to the input's chunks
                out = out.chunk({"y": _inside(bounds[0], y0, y1), "x": _inside(bounds[1], x0, x1)})
            row.append(out)
        rows.append(row)
    if len(rows) == 1 and len(rows[0]) == 1:
        return rows[0][0]
    first: object = rows[0][0]  # a DataArray or a Dataset, whichever the caller's type is
    options: dict[str, Any] = {} if isinstance(first, xr.DataArray) else {"data_vars": "minimal"}
    joined: Any = xr.combine_nested(
        rows,
        concat_dim=list(SPATIAL_DIMS),
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="override",
        **options,
    )
    return cast(_Obj, joined)  # combine_nested gives the type of its pieces
