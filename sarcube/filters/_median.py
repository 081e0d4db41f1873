"""Exact NaN-aware median filter at memory speed: shared merging networks.

Sorting every window (``O(s² log s)`` per pixel, no sharing) is what makes a
plain median filter slow. Here, for windows without nodata, the median of a
``s × s`` window is found by a fixed network of compare-exchange steps that is
shared between neighbouring windows:

1. each column of ``s`` pixels is sorted once per output row (it belongs to
   ``s`` windows);
2. sorted groups of adjacent columns are merged (Batcher's odd-even merge,
   which works for any two lengths) into sorted groups of 2, 3, 4, … columns,
   each computed once per position and shared by every window containing it:
   a 7-wide window is the merge of a 4-column group and the 3-column group
   next to it, a 4-column group the merge of two 2-column groups, and so on;
3. only the order statistics that can still become the window's median are
   computed: the network is pruned backwards from the one output rank needed
   (dead compare-exchanges removed, half-used ones reduced to a min or a max).

The network is the same for every pixel, so each step is a branch-free
``min``/``max`` over a row strip of a few hundred columns, which the compiler
vectorises; a strip's intermediate rows stay in cache. Windows that hold
nodata (NaN) take the exact slow path: the valid pixels are gathered and
sorted, and for an even count the two middle values are averaged (as
``numpy.nanmedian``). The output equals the per-window sort exactly: a
compare-exchange network only moves values.

Reference: K. E. Batcher (1968), Sorting networks and their applications,
AFIPS SJCC 32 — the odd-even merge; D. E. Knuth, TAOCP vol. 3, §5.3.4.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit

from ._kernels import pad_stack

__all__ = ["median_kernel", "median_program"]

_NAN = np.float32(np.nan)
#: Output columns per strip: the strip's intermediate rows (a few dozen) stay in L1/L2 cache.
_STRIP = 512

# Operation kinds of a network step on registers (a, b): both outputs, the min only, the max only.
_CE, _MIN, _MAX = 0, 1, 2


class _Network:
    """A compare-exchange network over symbolic registers, built by merges and pruned."""

    def __init__(self) -> None:
        self.ops: list[tuple[int, int, int]] = []

    def merge(self, x: list[int], y: list[int]) -> list[int]:
        """Batcher's odd-even merge of two sorted register lists (any lengths)."""
        if not x:
            return y
        if not y:
            return x
        if len(x) == 1 and len(y) == 1:
            self.ops.append((_CE, x[0], y[0]))
            return [x[0], y[0]]
        v = self.merge(x[0::2], y[0::2])
        w = self.merge(x[1::2], y[1::2])
        out = [v[0]]
        for i, wi in enumerate(w):
            if i + 1 < len(v):
                self.ops.append((_CE, wi, v[i + 1]))
                out += [wi, v[i + 1]]
            else:
                out.append(wi)
        out += v[len(w) + 1 :]
        return out

    def sort(self, regs: list[int]) -> list[int]:
        """Batcher's merge sort."""
        if len(regs) <= 1:
            return regs
        half = len(regs) // 2
        return self.merge(self.sort(regs[:half]), self.sort(regs[half:]))

    def prune(self, needed: set[int]) -> tuple[list[tuple[int, int, int]], set[int]]:
        """The steps needed for the registers *needed* at the end, and the live inputs."""
        live = set(needed)
        kept = []
        for kind, a, b in reversed(self.ops):
            want_a, want_b = a in live, b in live
            if not (want_a or want_b):
                continue
            kept.append((kind if want_a and want_b else _MIN if want_a else _MAX, a, b))
            live |= {a, b}
        kept.reverse()
        return kept, live


def _pow2_split(w: int) -> int:
    """The width of the first child of a group of *w* columns: the largest power of two < w."""
    return 1 << ((w - 1).bit_length() - 1)


class _Rows:
    """Rows of the strip buffer: new ones for a level's steps, reused once dead."""

    def __init__(self, start: int) -> None:
        self.count = start
        self._mine: set[int] = set()
        self._free: list[int] = []

    def fresh(self) -> int:
        if self._free:
            return self._free.pop()
        self.count += 1
        self._mine.add(self.count - 1)
        return self.count - 1

    def release(self, row: int) -> None:
        """Free *row* if this level made it (children's rows and image rows stay)."""
        if row in self._mine:
            self._free.append(row)


@lru_cache(maxsize=32)
def median_program(size: int, split: Callable[[int], int] = _pow2_split) -> tuple[Any, ...]:
    """The pruned network for the median of a ``size × size`` window (odd *size*).

    Returns ``(level_extra, level_ops, ops, out_row, n_rows)``: ``ops[t] = (kind, a row,
    a offset, b row, b offset, min row, max row)`` as int64, grouped by level
    (``level_ops[i] .. level_ops[i + 1]``; a level per group width, 1 = the
    sorted columns, …, *size* = the window), run in order over a strip by
    :func:`median_kernel`. Every step writes new rows (no step reads what it
    writes, so the compiler vectorises it); an operand row ``-1 - i`` is image
    row ``i`` of the window, and an offset shifts a child group by whole columns.
    Level *i* (group width ``w``) is evaluated on ``strip + level_extra[i]``
    columns, ``level_extra[i] = size - w``.
    """
    n_pixels = size * size
    median_rank = n_pixels // 2

    children: dict[int, tuple[int, int]] = {}

    def grow(w: int) -> None:
        if w == 1 or w in children:
            return
        a = split(w)
        children[w] = (a, w - a)
        grow(a)
        grow(w - a)

    grow(size)
    widths = sorted({1, *children}, reverse=True)

    # Top-down: the ranks of each group that can still become the median.
    needed: dict[int, set[int]] = {w: set() for w in widths}
    needed[size].add(median_rank)
    programs = {}
    for w in widths:
        net = _Network()
        if w == 1:
            order = net.sort(list(range(size)))
            sources = {i: (-1, i, 0) for i in range(size)}  # (child width, rank, offset)
        else:
            a, b = children[w]
            xs, ys = list(range(a * size)), list(range(a * size, w * size))
            order = net.merge(xs, ys)
            sources = {r: (a, r, 0) for r in xs} | {r: (b, r - a * size, a) for r in ys}
        rank_reg = {rank: order[rank] for rank in needed[w]}
        ops, live = net.prune(set(rank_reg.values()))
        for reg in live & set(sources):
            child, rank, _ = sources[reg]
            if child > 0:
                needed[child].add(rank)
        programs[w] = (ops, sources, rank_reg)

    # Bottom-up: single-assignment rows; a level's temporaries reuse rows after their last use.
    rank_row: dict[int, dict[int, int]] = {}
    all_ops: list[tuple[int, ...]] = []
    level_ops = [0]
    level_extra = []
    n_rows = 0
    for w in reversed(widths):
        ops, sources, rank_reg = programs[w]
        where: dict[int, tuple[int, int]] = {}  # register -> (row, offset) holding its value
        for reg, (child, rank, offset) in sources.items():
            if child < 0:
                where[reg] = (-1 - rank, offset)
            elif rank in rank_row[child]:  # the ranks of a child that this level does not read
                where[reg] = (rank_row[child][rank], offset)  # were never computed
        rows = _Rows(n_rows)
        for kind, x, y in ops:
            (xr, xo), (yr, yo) = where[x], where[y]
            lo = rows.fresh() if kind != _MAX else -1
            hi = rows.fresh() if kind != _MIN else -1
            all_ops.append((kind, xr, xo, yr, yo, lo, hi))
            # a register's old row is dead once the register is overwritten
            for new_row, reg, old_row in ((lo, x, xr), (hi, y, yr)):
                if new_row >= 0:
                    where[reg] = (new_row, 0)
                    rows.release(old_row)
        n_rows = rows.count
        rank_row[w] = {}
        for rank, reg in rank_reg.items():
            row, offset = where[reg]
            assert offset == 0, "every needed rank is written at this level"
            rank_row[w][rank] = row
        level_ops.append(len(all_ops))
        level_extra.append(size - w)

    return (
        np.asarray(level_extra, dtype=np.int64),
        np.asarray(level_ops, dtype=np.int64),
        np.asarray(all_ops, dtype=np.int64).reshape(-1, 7),
        np.int64(rank_row[size][median_rank]),
        np.int64(n_rows),
    )


@njit(cache=True, nogil=True, error_model="numpy")
def _operand(
    img: np.ndarray, regs: np.ndarray, y: int, x0: int, row: int, offset: int, n: int
) -> np.ndarray:
    """Columns ``offset .. offset + n`` of a buffer row, or of image row ``-1 - row``."""
    if row < 0:
        out: np.ndarray = img[y - 1 - row, x0 + offset : x0 + offset + n]
        return out
    reg: np.ndarray = regs[row, offset : offset + n]
    return reg


@njit(cache=True, nogil=True, error_model="numpy")
def _run_network(
    img: np.ndarray,
    y: int,
    x0: int,
    width: int,
    level_extra: np.ndarray,
    level_ops: np.ndarray,
    ops: np.ndarray,
    regs: np.ndarray,
) -> None:
    """Run every level of the network over output columns ``x0 .. x0 + width`` of row *y*."""
    for level in range(level_extra.shape[0]):
        n = width + level_extra[level]
        for t in range(level_ops[level], level_ops[level + 1]):
            kind = ops[t, 0]
            a = _operand(img, regs, y, x0, ops[t, 1], ops[t, 2], n)
            b = _operand(img, regs, y, x0, ops[t, 3], ops[t, 4], n)
            if kind == 0:
                lo = regs[ops[t, 5]]
                hi = regs[ops[t, 6]]
                for j in range(n):
                    u = a[j]
                    v = b[j]
                    lo[j] = u if u < v else v
                    hi[j] = v if u < v else u
            elif kind == 1:
                lo = regs[ops[t, 5]]
                for j in range(n):
                    u = a[j]
                    v = b[j]
                    lo[j] = u if u < v else v
            else:
                hi = regs[ops[t, 6]]
                for j in range(n):
                    u = a[j]
                    v = b[j]
                    hi[j] = v if u < v else u


@njit(cache=True, nogil=True, error_model="numpy")
def _sorted_median(img: np.ndarray, y: int, x: int, size: int, buf: np.ndarray) -> np.float32:
    """Median of the valid pixels of the window at (y, x) by sorting (windows with NaN)."""
    c = 0
    for i in range(size):
        for j in range(size):
            v = img[y + i, x + j]
            if v == v:
                buf[c] = v
                c += 1
    window = buf[:c]
    window.sort()
    if c % 2 == 1:
        middle: np.float32 = window[c // 2]
        return middle
    return np.float32((np.float64(window[c // 2 - 1]) + np.float64(window[c // 2])) / 2.0)


@njit(cache=True, nogil=True, error_model="numpy")
def median_kernel(
    stack: np.ndarray,
    params: np.ndarray | None,
    pad: int,
    out: np.ndarray,
    size: int,
    level_extra: np.ndarray,
    level_ops: np.ndarray,
    ops: np.ndarray,
    out_reg: int,
    n_rows: int,
) -> np.ndarray:
    """Median of the valid pixels in every ``size × size`` window (see the module docstring).

    Kernel interface of :mod:`sarcube._overlap`; the program arrays come from
    :func:`median_program`.
    """
    padded = pad_stack(stack, pad)
    n, ny_p, nx_p = padded.shape
    h = size // 2
    ny, nx = ny_p - 2 * h, nx_p - 2 * h
    strip = min(_STRIP, nx)
    regs = np.empty((n_rows, strip + size), dtype=np.float32)
    col_nan = np.empty(strip + size, dtype=np.int64)
    buf = np.empty(size * size, dtype=np.float32)
    for k in range(n):
        img = padded[k]
        for y in range(ny):
            for x0 in range(0, nx, strip):
                width = min(strip, nx - x0)
                # nodata per column of the window rows, then per window (running sum)
                ncols = width + size - 1
                col_nan[:ncols] = 0
                for i in range(size):
                    row = img[y + i, x0 : x0 + ncols]
                    for j in range(ncols):
                        col_nan[j] += row[j] != row[j]
                any_nan = 0
                for j in range(ncols):
                    any_nan += col_nan[j]
                if any_nan < ncols * size:  # some window may be NaN-free: run the network
                    _run_network(img, y, x0, width, level_extra, level_ops, ops, regs)
                    out[k, y, x0 : x0 + width] = regs[out_reg, :width]
                if any_nan == 0:
                    continue
                count = 0
                for j in range(size - 1):
                    count += col_nan[j]
                for x in range(width):
                    count += col_nan[x + size - 1]
                    if count > 0:
                        centre = img[y + h, x0 + x + h]
                        out[k, y, x0 + x] = (
                            _NAN if centre != centre else _sorted_median(img, y, x0 + x, size, buf)
                        )
                    count -= col_nan[x]
    return out
