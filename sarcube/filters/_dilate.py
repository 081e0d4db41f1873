"""Square dilation of a 0/1 mask in O(1) per pixel (numba).

``dilate_square(mask, radius)`` marks every pixel with a marked pixel within
*radius* in y and in x (a ``(2·radius + 1)²`` square), the window clipped at
the array's edges. It replaces ``scipy.ndimage.maximum_filter`` on boolean
masks where the caller only reads pixels at least *radius* from the edge (a
block with a halo), so the edge rule does not matter there: a row's running
count of marked pixels gives the horizontal pass, and a running count per
column over the rows of that result the vertical one, each a few integer
operations per pixel whatever the radius.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["dilate_square"]


@njit(cache=True, nogil=True, error_model="numpy")
def _dilate_rows(mask: np.ndarray, radius: int, out: np.ndarray) -> None:
    """out[i, j] = 1 where mask[i, j - radius : j + radius + 1] holds a nonzero value."""
    ny, nx = mask.shape
    for i in range(ny):
        row = mask[i]
        count = 0
        for j in range(min(radius, nx)):  # the window of column 0, clipped at the edge
            count += row[j] != 0
        for j in range(nx):
            if j + radius < nx:
                count += row[j + radius] != 0
            if j - radius - 1 >= 0:
                count -= row[j - radius - 1] != 0
            out[i, j] = count > 0


@njit(cache=True, nogil=True, error_model="numpy")
def _dilate_columns(rows: np.ndarray, radius: int, out: np.ndarray) -> None:
    """out[i, j] = 1 where rows[i - radius : i + radius + 1, j] holds a nonzero value."""
    ny, nx = rows.shape
    count = np.zeros(nx, dtype=np.int32)
    for i in range(min(radius, ny)):
        for j in range(nx):
            count[j] += rows[i, j]
    for i in range(ny):
        if i + radius < ny:
            add = rows[i + radius]
            for j in range(nx):
                count[j] += add[j]
        if i - radius - 1 >= 0:
            drop = rows[i - radius - 1]
            for j in range(nx):
                count[j] -= drop[j]
        target = out[i]
        for j in range(nx):
            target[j] = count[j] > 0


def dilate_square(mask: np.ndarray, radius: int) -> np.ndarray:
    """uint8 0/1: 1 where a nonzero pixel of the 2-d *mask* lies within *radius* (square)."""
    mask = np.ascontiguousarray(mask)
    if mask.dtype == np.bool_:
        mask = mask.view(np.uint8)
    rows = np.empty(mask.shape, dtype=np.uint8)
    _dilate_rows(mask, radius, rows)
    if radius == 0:
        return rows
    out = np.empty(mask.shape, dtype=np.uint8)
    _dilate_columns(rows, radius, out)
    return out
