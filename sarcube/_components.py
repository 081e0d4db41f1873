"""Connected components of a mask on dask chunks, linear in the number of chunks.

Each chunk is labelled on its own (scipy), labels are made unique with
per-chunk offsets, and the labels that touch across chunk borders are merged
with a union-find over the border pixels only. A region spanning several
chunks is therefore one region and the labels do not depend on the chunking.
Each 2-D image (per leading index, e.g. per date) is labelled on its own.
Used by :mod:`sarcube.regions` and by the vector export.
"""

from __future__ import annotations

from typing import Any

import dask.array as dsa
import numpy as np
from dask.delayed import delayed
from scipy import ndimage

__all__ = ["connected_components"]


def _structure(ndim: int, connectivity: int) -> np.ndarray:
    """Connectivity within (y, x) only: leading dims never connect."""
    plane = ndimage.generate_binary_structure(2, connectivity)
    structure = np.zeros((3,) * (ndim - 2) + (3, 3), dtype=bool)
    structure[(1,) * (ndim - 2)] = plane
    return structure


def _local_labels(block: np.ndarray, structure: np.ndarray) -> np.ndarray:
    labels, _ = ndimage.label(block, structure=structure)
    return np.asarray(labels, dtype=np.int64)


def _block_max(labels: np.ndarray) -> int:
    return int(labels.max(initial=0))


def _offsets(counts: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _shift(labels: np.ndarray, offsets: np.ndarray, flat_index: int) -> np.ndarray:
    """Make a chunk's labels unique across chunks (0 stays background)."""
    return np.where(labels > 0, labels + offsets[flat_index], 0)


def _face(labels: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The first (index 0) or last (index -1) pixel line of a chunk along *axis*."""
    return np.asarray(np.take(labels, index, axis=axis))


def _corner(labels: np.ndarray, row: int, col: int) -> np.ndarray:
    """One corner pixel of a chunk (per leading index), as a line of length 1."""
    return labels[..., row, col][..., None]


def _n_regions(table: np.ndarray) -> np.int64:
    return np.int64(table.max(initial=0))


def _touching_pairs(a: np.ndarray, b: np.ndarray, diagonal: bool) -> np.ndarray:
    """Label pairs of two facing pixel lines (last line of one chunk, first of the next)."""
    pairs = [np.stack([a, b], axis=-1)]
    if diagonal:
        pairs.append(np.stack([a[..., :-1], b[..., 1:]], axis=-1))
        pairs.append(np.stack([a[..., 1:], b[..., :-1]], axis=-1))
    flat = np.concatenate([p.reshape(-1, 2) for p in pairs])
    return flat[(flat[:, 0] > 0) & (flat[:, 1] > 0)]


def _relabel(labels: np.ndarray, table: np.ndarray) -> np.ndarray:
    return np.asarray(table[labels])


def _merge_table(offsets: np.ndarray, *faces: np.ndarray, diagonal: bool) -> np.ndarray:
    """Union-find over the labels touching across chunk borders: old label -> final label.

    *faces* come in (before, after) pairs of pixel lines on either side of a
    chunk border. Final labels are 1..n in order of first appearance.
    """
    n_labels = int(offsets[-1])
    parent = np.arange(n_labels + 1)

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    for before, after in zip(faces[::2], faces[1::2], strict=True):
        for x, y in np.unique(_touching_pairs(before, after, diagonal), axis=0):
            rx, ry = find(int(x)), find(int(y))
            if rx != ry:
                parent[max(rx, ry)] = min(rx, ry)
    roots = np.array([find(i) for i in range(n_labels + 1)])
    _, final = np.unique(roots, return_inverse=True)  # root 0 (background) stays 0
    return final.astype(np.int64)


def connected_components(foreground: Any, connectivity: int) -> tuple[Any, Any]:
    """Connected-component labels (0 = background) and the number of regions."""
    structure = _structure(foreground.ndim, connectivity)
    if not isinstance(foreground, dsa.Array):
        labels_np, count_np = ndimage.label(np.asarray(foreground), structure=structure)
        return labels_np, count_np
    # Explicit per-chunk tasks (to_delayed / from_delayed) keep the graph linear in the
    # number of chunks: a global step (offsets, merge table) is one task that the
    # chunk tasks depend on by key, never re-embedded per chunk.
    blocks = foreground.to_delayed()
    grid = blocks.shape
    local = np.empty(grid, dtype=object)
    for idx in np.ndindex(grid):
        local[idx] = delayed(_local_labels)(blocks[idx], structure)
    offsets = delayed(_offsets)([delayed(_block_max)(b) for b in local.flat])
    unique = np.empty(grid, dtype=object)
    for idx in np.ndindex(grid):
        unique[idx] = delayed(_shift)(local[idx], offsets, int(np.ravel_multi_index(idx, grid)))
    faces = []
    nd = len(grid)
    for axis in (nd - 2, nd - 1):
        for idx in np.ndindex(grid):
            if idx[axis] + 1 < grid[axis]:
                after = list(idx)
                after[axis] += 1
                faces.append(delayed(_face)(unique[idx], axis, -1))
                faces.append(delayed(_face)(unique[tuple(after)], axis, 0))
    if connectivity == 2:
        # 8-connectivity also joins pixels that meet only at a chunk corner
        for idx in np.ndindex(grid):
            if idx[-2] + 1 < grid[-2] and idx[-1] + 1 < grid[-1]:
                down_right = (*idx[:-2], idx[-2] + 1, idx[-1] + 1)
                right = (*idx[:-2], idx[-2], idx[-1] + 1)
                down = (*idx[:-2], idx[-2] + 1, idx[-1])
                faces += [
                    delayed(_corner)(unique[idx], -1, -1),
                    delayed(_corner)(unique[down_right], 0, 0),
                    delayed(_corner)(unique[right], -1, 0),
                    delayed(_corner)(unique[down], 0, -1),
                ]
    table = delayed(_merge_table)(offsets, *faces, diagonal=connectivity == 2)
    relabelled = np.empty(grid, dtype=object)
    for idx in np.ndindex(grid):
        shape = tuple(foreground.chunks[ax][i] for ax, i in enumerate(idx))
        relabelled[idx] = dsa.from_delayed(
            delayed(_relabel)(unique[idx], table), shape=shape, dtype=np.int64
        )
    labels = dsa.block(relabelled.tolist())
    count = dsa.from_delayed(delayed(_n_regions)(table), shape=(), dtype=np.int64)
    return labels, count
