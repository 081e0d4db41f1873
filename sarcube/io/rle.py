"""Run-length encoding (RLE) of binary masks, the text format of segmentation competitions.

A mask is flattened to one line of pixels and each run of 1s is written as its
**1-based** start and its length, all separated by single spaces:
``"start length start length ..."``. An all-zero mask is the empty string.

The order in which pixels are numbered must match the reader's:

* ``order="F"`` (column-major, the default and the Kaggle convention): pixel 1
  is the top-left one, numbers run **down the first column**, then down the
  second column, and so on; the pixel in row ``r`` and column ``c`` (0-based)
  of an ``H × W`` mask is number ``c * H + r + 1``.
* ``order="C"`` (row-major): numbers run **along the first row**, then the
  second; the pixel ``(r, c)`` is number ``r * W + c + 1``.

For the mask ``[[0, 1, 1], [0, 1, 0], [1, 0, 0]]`` the column-major string is
``"3 3 7 1"`` and the row-major one ``"2 2 5 1 7 1"``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dask.array as dsa
import numpy as np
import numpy.typing as npt
import xarray as xr
from dask.base import compute

from .._atomic import atomic_target, check_writable
from .._checks import as_int, items_of
from .._geographic import accepts_geographic
from ..conventions import SPATIAL_DIMS
from ..errors import DimensionError, DTypeError, MaskError, OutputError, ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["rle_decode", "rle_encode", "rle_frame"]

RleOrder = Literal["F", "C"]


def _check_order(order: object, func: str) -> RleOrder:
    if order not in ("F", "C"):
        raise ParameterError(
            f"{func}: order must be 'F' (column-major, Kaggle) or 'C' (row-major), got {order!r}"
        )
    return "F" if order == "F" else "C"


def _mask_data(mask: Any, func: str) -> Any:
    """The (y, x) data of a 2-D mask (numpy or dask), checked on metadata only."""
    if isinstance(mask, xr.Dataset):
        raise DTypeError(f"{func}: pass one mask (a DataArray or array), not a Dataset")
    if isinstance(mask, xr.DataArray):
        if all(d in mask.dims for d in SPATIAL_DIMS):
            mask = mask.transpose(*[d for d in mask.dims if d not in SPATIAL_DIMS], *SPATIAL_DIMS)
        data = mask.data
    else:
        data = mask if isinstance(mask, np.ndarray | dsa.Array) else np.asarray(mask)
    if data.ndim != 2:
        raise DimensionError(
            f"{func}: the mask has {data.ndim} dimensions (shape {data.shape}); pass one 2-D "
            "(y, x) mask, e.g. mask.isel(time=0)"
        )
    dtype = np.dtype(data.dtype)
    if not any(np.issubdtype(dtype, kind) for kind in (np.bool_, np.integer, np.floating)):
        raise DTypeError(
            f"{func}: the mask has dtype {dtype}; pass a boolean mask or 0/1 integers, "
            "e.g. (class_map == 1)"
        )
    return data


def _as_bool(values: np.ndarray, func: str) -> np.ndarray:
    """A 0/1 (or bool) array as bool, or MaskError naming the offending value."""
    if values.dtype == bool:
        return values
    if np.issubdtype(values.dtype, np.floating) and np.isnan(values).any():
        raise MaskError(
            f"{func}: the mask holds NaN; decide what missing pixels are first, e.g. mask.fillna(0)"
        )
    bad = (values != 0) & (values != 1)
    if bad.any():
        raise MaskError(
            f"{func}: the mask holds values other than 0 and 1, e.g. {values[bad].flat[0]}; "
            "pass a boolean mask, e.g. (class_map == 1), which also drops nodata (255)"
        )
    return np.asarray(values == 1)


def _encode(values: np.ndarray, order: RleOrder, func: str) -> str:
    flat = _as_bool(np.asarray(values), func).ravel(order=order)
    padded = np.zeros(flat.size + 2, dtype=np.int8)
    padded[1:-1] = flat
    edges = np.diff(padded)  # +1 where a run starts, -1 just past where it ends
    starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - starts
    pairs = np.column_stack((starts + 1, lengths)).ravel()
    return " ".join(map(str, pairs.tolist()))


@accepts_geographic
def rle_encode(mask: xr.DataArray | npt.ArrayLike, *, order: RleOrder = "F") -> str:
    """Run-length encode a 2-D binary mask (**computes** a dask-backed mask).

    Parameters
    ----------
    mask
        Boolean or 0/1 mask (numpy, dask or xarray; a DataArray with ``y`` and
        ``x`` dims is read as ``(y, x)``). NaN, nodata (255) and any other value
        raise :class:`~sarcube.errors.MaskError`: compare first, e.g.
        ``class_map == 1``.
    order
        ``"F"``: pixels numbered down each column, then left to right (the
        Kaggle convention); ``"C"``: along each row, then top to bottom.

    Returns
    -------
    str
        ``"start length ..."`` with 1-based starts in increasing order; ``""``
        for a mask without 1s.

    Examples
    --------
    >>> m = np.array([[0, 1, 1], [0, 1, 0], [1, 0, 0]])
    >>> rle_encode(m), rle_encode(m, order="C")
    ('3 3 7 1', '2 2 5 1 7 1')
    """
    func = "rle_encode"
    checked = _check_order(order, func)
    data = _mask_data(mask, func)
    values = data.compute() if isinstance(data, dsa.Array) else data
    return _encode(values, checked, func)


def _parse_runs(rle: object, n_pixels: int, func: str) -> tuple[np.ndarray, np.ndarray]:
    """0-based starts and lengths of the runs of an RLE string, checked."""
    if not isinstance(rle, str):
        raise ParameterError(
            f"{func}: expected an RLE string, got {type(rle).__name__} {rle!r}; an empty mask "
            "is '' (pandas reads empty CSV cells as NaN: read with keep_default_na=False)"
        )
    tokens = rle.split()
    if len(tokens) % 2:
        raise ParameterError(
            f"{func}: the RLE string has {len(tokens)} numbers, an odd count; it must hold "
            "'start length' pairs"
        )
    try:
        numbers = np.array([int(t) for t in tokens], dtype=np.int64).reshape(-1, 2)
    except (ValueError, OverflowError):
        raise ParameterError(
            f"{func}: the RLE string must hold whitespace-separated integers, got {rle[:60]!r}"
        ) from None
    starts, lengths = numbers[:, 0], numbers[:, 1]
    if (starts < 1).any():
        raise ParameterError(
            f"{func}: run starts are 1-based and must be >= 1, found {starts[starts < 1][0]}; "
            "add 1 to 0-based starts"
        )
    if (lengths < 1).any():
        raise ParameterError(f"{func}: run lengths must be >= 1, found {lengths[lengths < 1][0]}")
    ends = starts + lengths  # 1-based, one past the run
    overlap = starts[1:] < ends[:-1]
    if overlap.any():
        i = int(np.flatnonzero(overlap)[0])
        raise ParameterError(
            f"{func}: runs must be sorted and must not overlap, but the run at {starts[i + 1]} "
            f"starts before the run at {starts[i]} (length {lengths[i]}) ends"
        )
    if ends.size and ends[-1] - 1 > n_pixels:
        raise ParameterError(
            f"{func}: the last run ends at pixel {ends[-1] - 1} but the mask has {n_pixels} "
            "pixels; check the shape (height, width) and the order"
        )
    return starts - 1, lengths


def rle_decode(rle: str, shape: tuple[int, int], *, order: RleOrder = "F") -> np.ndarray:
    """Decode a run-length encoded mask into a ``uint8`` 0/1 array of *shape*.

    Parameters
    ----------
    rle
        ``"start length ..."`` with 1-based starts (see :func:`rle_encode`);
        ``""`` or whitespace for an empty mask. Runs must be sorted and must not
        overlap (adjacent runs are accepted).
    shape
        ``(height, width)`` of the mask.
    order
        Pixel numbering the string was written with: ``"F"`` (column-major,
        Kaggle) or ``"C"`` (row-major).

    Returns
    -------
    numpy.ndarray
        C-contiguous ``uint8`` array, 1 inside the runs and 0 elsewhere.

    Raises
    ------
    ParameterError
        On an odd count of numbers, a non-integer, a start < 1, a length < 1,
        unsorted or overlapping runs or a run past the last pixel.

    Examples
    --------
    >>> rle_decode("3 3 7 1", (3, 3)).tolist()
    [[0, 1, 1], [0, 1, 0], [1, 0, 0]]
    """
    func = "rle_decode"
    checked = _check_order(order, func)
    if items_of(shape, 2) is None or not all(as_int(n) is not None and n >= 0 for n in shape):
        raise ParameterError(
            f"{func}: shape must be (height, width) with two integers >= 0, got {shape!r}"
        )
    height, width = int(shape[0]), int(shape[1])
    starts, lengths = _parse_runs(rle, height * width, func)
    flat = np.zeros(height * width, dtype=np.uint8)
    # index of every pixel in a run: a running count shifted by each run's start
    first = np.cumsum(lengths) - lengths
    flat[np.arange(int(lengths.sum())) + np.repeat(starts - first, lengths)] = 1
    return np.ascontiguousarray(flat.reshape((height, width), order=checked))


def rle_frame(
    masks: Mapping[str, xr.DataArray | npt.ArrayLike],
    path: str | os.PathLike[str] | None = None,
    *,
    order: RleOrder = "F",
    overwrite: bool = False,
) -> pd.DataFrame:
    """A table ``id, rle`` with one encoded mask per row (**computes**).

    Dask-backed masks are computed together in one pass.

    Parameters
    ----------
    masks
        Mapping from an id (e.g. an image or chip name) to its mask, as for
        :func:`rle_encode`; rows follow the mapping's order.
    path
        Optional ``.csv`` file to write (header ``id,rle``, no index). It is
        written to a temporary name and renamed, so no half-written file is
        left. Empty masks are empty cells: read the file back with
        ``pandas.read_csv(path, keep_default_na=False)`` to get ``""``.
    order
        ``"F"`` (column-major, Kaggle) or ``"C"`` (row-major), see
        :func:`rle_encode`.
    overwrite
        Replace an existing *path*.

    Returns
    -------
    pandas.DataFrame
        Columns ``id`` and ``rle``.

    Examples
    --------
    >>> rle_frame({"a": np.eye(2, dtype=bool), "b": np.zeros((2, 2))}).values.tolist()
    [['a', '1 1 4 1'], ['b', '']]
    """
    import pandas as pd

    func = "rle_frame"
    checked = _check_order(order, func)
    if not isinstance(masks, Mapping):
        raise ParameterError(
            f"{func}: masks must be a mapping from id to mask, got {type(masks).__name__}; "
            "e.g. dict(zip(ids, masks))"
        )
    target = None if path is None else _check_csv_target(Path(path), overwrite, func)
    data = {key: _mask_data(mask, func) for key, mask in masks.items()}
    (values,) = compute(data)  # one pass over every dask-backed mask; numpy passes through
    frame = pd.DataFrame(
        {"id": list(values), "rle": [_encode(v, checked, func) for v in values.values()]},
        columns=["id", "rle"],
    )
    if target is not None:
        _write_csv(frame, target)
    return frame


def _check_csv_target(target: Path, overwrite: bool, func: str) -> Path:
    if target.suffix.lower() != ".csv":
        raise OutputError(f"{func}: the table is written as CSV; use a .csv path, got {target}")
    return check_writable(target, overwrite, func)


def _write_csv(frame: pd.DataFrame, target: Path) -> None:
    with atomic_target(target) as tmp:
        frame.to_csv(tmp, index=False)
