"""Filling nodata holes with biharmonic inpainting, hole by hole, identically on any chunking.

Each hole (a connected group of NaN pixels, grouped as scikit-image's
``inpaint_biharmonic(..., split_into_regions=True)`` groups them: holes whose
one-pixel dilations touch are one) is solved on its own, from the known pixels
of its bounding box widened by the biharmonic stencil's radius of two pixels,
and the solution is clipped to the range of those known pixels. A hole's
values therefore depend only on that window, which is what makes the result
independent of the chunking: a dask block borrows ``max_size + 5`` pixels from
its neighbours, so every hole that touches the block and spans at most
*max_size* pixels lies in the block with its window and with every hole it
could be grouped with. Larger holes (a missing swath, the outside of an
orbit's footprint) stay NaN: a biharmonic surface over them would be invented.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

import dask.array as dsa
import numpy as np
import xarray as xr
from scipy import ndimage

from .._checks import check_int, check_real, check_spatial, check_xarray
from .._geographic import accepts_geographic
from .._metadata import map_arrays
from .._overlap import apply_window_kernel

__all__ = ["inpaint_nodata"]

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)

#: Reach of the biharmonic stencil (scikit-image's ``radius``).
STENCIL = 2
#: Pixels between a kept hole and a halo edge, so that every hole it is grouped with is seen.
MARGIN = 3


def _fill_holes(image: np.ndarray, max_size: int, halo: tuple[int, int, int, int]) -> np.ndarray:
    """*image* with each hole of at most *max_size* pixels across filled (a copy).

    *halo* ``(top, bottom, left, right)``: the borrowed rows/columns on each
    side. A hole within :data:`MARGIN` pixels of a borrowed edge may continue
    past it, so it is left for the block that owns it.
    """
    from skimage.restoration import inpaint_biharmonic

    out = image.copy()
    mask = np.isnan(image)
    if not mask.any() or mask.all():
        return out
    grouped, _ = ndimage.label(
        ndimage.binary_dilation(mask, ndimage.generate_binary_structure(2, 1)),
        structure=np.ones((3, 3), dtype=bool),
    )
    grouped[~mask] = 0
    ny, nx = image.shape
    top, bottom, left, right = halo
    kept: list[tuple[int, tuple[slice, slice]]] = []
    for label, box in enumerate(ndimage.find_objects(grouped), start=1):
        if box is None:
            continue
        rows, cols = box
        if rows.stop - rows.start > max_size or cols.stop - cols.start > max_size:
            continue
        if (
            (top and rows.start < MARGIN)
            or (bottom and rows.stop > ny - MARGIN)
            or (left and cols.start < MARGIN)
            or (right and cols.stop > nx - MARGIN)
        ):
            continue
        window = (
            slice(max(rows.start - STENCIL, 0), min(rows.stop + STENCIL, ny)),
            slice(max(cols.start - STENCIL, 0), min(cols.stop + STENCIL, nx)),
        )
        patch = image[window]
        if np.isnan(patch).all():
            continue
        kept.append((label, window))
    if not kept:
        return out
    labels = np.array([label for label, _ in kept])
    solve = np.isin(grouped, labels)
    # One solve over the kept holes: scikit-image groups and solves them one by one
    # exactly as above. The holes left out are never reached by a kept hole's
    # stencil; they get a known value that does not widen the clip range.
    known = image[~mask]
    solved = inpaint_biharmonic(
        np.where(mask & ~solve, known.min(), image), solve, split_into_regions=True
    )
    for label, window in kept:
        patch = image[window]
        hole = grouped[window] == label
        lo, hi = np.nanmin(patch), np.nanmax(patch)  # the known pixels around the hole
        out[window][hole] = np.clip(solved[window][hole], lo, hi)
    return out


def _inpaint_kernel(
    stack: np.ndarray,
    params: None,
    top: int,
    bottom: int,
    left: int,
    right: int,
    out: np.ndarray,
    max_size: int,
) -> None:
    """The window-kernel form (``boundary="none"``) of :func:`_fill_holes` over a stack."""
    ny, nx = out.shape[-2:]
    for i in range(stack.shape[0]):
        filled = _fill_holes(stack[i], max_size, (top, bottom, left, right))
        out[i] = filled[top : top + ny, left : left + nx]


@accepts_geographic
def inpaint_nodata(obj: XObj, *, max_size: int = 32) -> XObj:
    """Fill NaN holes of up to *max_size* pixels across by biharmonic inpainting (lazy).

    As scikit-image's ``inpaint_biharmonic`` with ``split_into_regions=True``,
    except that each hole's values are clipped to the range of the known
    pixels around it (its bounding box widened by two pixels) instead of the
    whole image's: a fill never depends on pixels far from the hole, so the
    result is the same on any chunking and in memory. Holes larger than
    *max_size* (in rows or columns) stay NaN. Typical use: the few missing
    pixels of a scene before :func:`~sarcube.tv_denoise` or a change image.

    Parameters
    ----------
    obj
        Cube or band(s) ``(..., y, x)``; the values are inpainted as they are
        (linear power or dB: call :func:`~sarcube.to_db` first to inpaint in dB).
    max_size
        The largest hole, in pixels along ``y`` or ``x``, that is filled. A dask
        block borrows ``max_size + 5`` pixels from each neighbour.

    Returns
    -------
    Same type as *obj*, float32, with the filled pixels set; attrs kept plus
    ``inpainted = "biharmonic, holes up to <max_size> px"``.

    Examples
    --------
    >>> y, x = np.mgrid[0:16, 0:16]
    >>> plane = xr.DataArray((0.5 * y + 0.25 * x).astype("float32"), dims=("y", "x"))
    >>> holes = plane.where((y - 8) ** 2 + (x - 8) ** 2 > 4)  # a hole of 13 pixels
    >>> filled = inpaint_nodata(holes)
    >>> bool(filled.notnull().all()), float(abs(filled - plane).max()) < 1e-4
    (True, True)
    """
    func = "inpaint_nodata"
    check_xarray(obj, func)
    check_spatial(obj, func)
    check_real(obj, func)
    size = check_int(max_size, "max_size", func, minimum=1)
    depth = size + MARGIN + STENCIL

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        halo = depth
        if isinstance(da.data, dsa.Array) and min(da.sizes["y"], da.sizes["x"]) <= depth:
            # the halo spans the image: fill it whole, as in memory
            da = da.chunk({"y": -1, "x": -1})
            halo = min(da.sizes["y"], da.sizes["x"])
        out = apply_window_kernel(da, _inpaint_kernel, halo, args=(size,), boundary="none")
        out.attrs = {**da.attrs, "inpainted": f"biharmonic, holes up to {size} px"}
        return out

    return map_arrays(obj, apply)
