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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit

from ._kernels import pad_stack

__all__ = ["median_args", "median_kernel", "median_program"]

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


@dataclass(frozen=True)
class _Node:
    """A sorted group of pixels: *width* adjacent columns of some window rows.

    A leaf is one column of the image rows *rows* (sorted by a network); other
    groups merge two children, the second *offset* columns to the right.
    """

    width: int
    count: int
    rows: tuple[int, ...] = ()
    children: tuple[tuple[int, int], ...] = ()  # (node index, column offset)


def _tree(nodes: list[_Node], rows: tuple[int, ...], size: int, split: Callable[[int], int]) -> int:
    """Add the groups of widths 1 … *size* over *rows* to *nodes*; the index of the widest."""
    made: dict[int, int] = {}

    def group(w: int) -> int:
        if w not in made:
            if w == 1:
                nodes.append(_Node(1, len(rows), rows=rows))
            else:
                a = split(w)
                left, right = group(a), group(w - a)
                nodes.append(_Node(w, w * len(rows), children=((left, 0), (right, a))))
            made[w] = len(nodes) - 1
        return made[w]

    return group(size)


@lru_cache(maxsize=64)
def median_program(
    size: int, pair: bool = False, split: Callable[[int], int] = _pow2_split
) -> tuple[Any, ...]:
    """The pruned network for the median of ``size × size`` windows (odd *size*).

    With *pair*, two output rows at once: the ``size − 1`` image rows their
    windows share are sorted and merged once, and each window adds its own
    row (sorted runs of one row) in a last merge — fewer steps per pixel.

    Returns ``(level_extra, level_ops, ops, out_rows, n_rows)``: ``ops[t] = (kind,
    a row, a offset, b row, b offset, min row, max row)`` as int64, grouped by
    level (``level_ops[i] .. level_ops[i + 1]``, one level per group), run in
    order over a strip by :func:`median_kernel`. Every step writes new rows (no
    step reads what it writes, so the compiler vectorises it); an operand row
    ``-1 - i`` is image row ``i`` of the window(s), and an offset shifts a
    child group by whole columns. Level *i* is evaluated on ``strip +
    level_extra[i]`` columns (``size`` minus the group's width). ``out_rows``
    holds the buffer row of each output row's median.
    """
    median_rank = size * size // 2
    nodes: list[_Node] = []
    if pair:
        core = _tree(nodes, tuple(range(1, size)), size, split)
        finals = []
        for own in (0, size):
            segment = _tree(nodes, (own,), size, split)
            nodes.append(_Node(size, size * size, children=((core, 0), (segment, 0))))
            finals.append(len(nodes) - 1)
    else:
        finals = [_tree(nodes, tuple(range(size)), size, split)]

    # Top-down (parents follow their children in *nodes*): the ranks that can
    # still become a median, and the pruned network of each group.
    needed: list[set[int]] = [set() for _ in nodes]
    for final in finals:
        needed[final].add(median_rank)
    programs: dict[int, tuple[Any, ...]] = {}
    for index in reversed(range(len(nodes))):
        node = nodes[index]
        net = _Network()
        if node.rows:
            order = net.sort(list(range(node.count)))
            sources = {i: (-1, row, 0) for i, row in enumerate(node.rows)}  # (node, rank, offset)
        else:
            (a, offset_a), (b, offset_b) = node.children
            xs = list(range(nodes[a].count))
            ys = list(range(nodes[a].count, node.count))
            order = net.merge(xs, ys)
            sources = {r: (a, r, offset_a) for r in xs}
            sources |= {r: (b, r - nodes[a].count, offset_b) for r in ys}
        rank_reg = {rank: order[rank] for rank in needed[index]}
        ops, live = net.prune(set(rank_reg.values()))
        for reg in live & set(sources):
            child, rank, _ = sources[reg]
            if child >= 0:
                needed[child].add(rank)
        programs[index] = (ops, sources, rank_reg)

    # Bottom-up: single-assignment rows; a level's temporaries reuse rows after their last use.
    rank_row: dict[int, dict[int, int]] = {}
    all_ops: list[tuple[int, ...]] = []
    level_ops = [0]
    level_extra = []
    n_rows = 0
    for index, node in enumerate(nodes):
        ops, sources, rank_reg = programs[index]
        where: dict[int, tuple[int, int]] = {}  # register -> (row, offset) holding its value
        for reg, (child, rank, offset) in sources.items():
            if child < 0:
                where[reg] = (-1 - rank, offset)  # an image row
            elif rank in rank_row[child]:  # the ranks of a child that no parent reads
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
        rank_row[index] = {}
        for rank, reg in rank_reg.items():
            row, offset = where[reg]
            assert offset == 0, "every needed rank is at its group's own columns"
            rank_row[index][rank] = row
        level_ops.append(len(all_ops))
        level_extra.append(size - node.width)

    out_rows = [rank_row[final][median_rank] for final in finals]
    assert all(row >= 0 for row in out_rows), "a window's median is computed, not an image row"
    return (
        np.asarray(level_extra, dtype=np.int64),
        np.asarray(level_ops, dtype=np.int64),
        np.asarray(all_ops, dtype=np.int64).reshape(-1, 7),
        np.asarray(out_rows, dtype=np.int64),
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
def _nan_columns(
    img: np.ndarray, y: int, x0: int, ncols: int, size: int, col_nan: np.ndarray
) -> int:
    """NaN count per column of the window rows ``y .. y + size``; returns their sum."""
    col_nan[:ncols] = 0
    for i in range(size):
        row = img[y + i, x0 : x0 + ncols]
        for j in range(ncols):
            col_nan[j] += row[j] != row[j]
    total = 0
    for j in range(ncols):
        total += col_nan[j]
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def _patch_nan_windows(
    img: np.ndarray,
    y: int,
    x0: int,
    width: int,
    size: int,
    col_nan: np.ndarray,
    buf: np.ndarray,
    out_row: np.ndarray,
) -> None:
    """Windows of output row *y* that hold NaN: NaN at a NaN centre, else sorted."""
    h = size // 2
    count = 0
    for j in range(size - 1):
        count += col_nan[j]
    for x in range(width):
        count += col_nan[x + size - 1]
        if count > 0:
            centre = img[y + h, x0 + x + h]
            out_row[x0 + x] = (
                _NAN if centre != centre else _sorted_median(img, y, x0 + x, size, buf)
            )
        count -= col_nan[x]


@njit(cache=True, nogil=True, error_model="numpy")
def median_kernel(
    stack: np.ndarray,
    params: np.ndarray | None,
    pad: int,
    out: np.ndarray,
    size: int,
    one_extra: np.ndarray,
    one_level_ops: np.ndarray,
    one_ops: np.ndarray,
    one_out: np.ndarray,
    one_rows: int,
    two_extra: np.ndarray,
    two_level_ops: np.ndarray,
    two_ops: np.ndarray,
    two_out: np.ndarray,
    two_rows: int,
) -> np.ndarray:
    """Median of the valid pixels in every ``size × size`` window (see the module docstring).

    Kernel interface of :mod:`sarcube._overlap`; the programs come from
    :func:`median_program` (one output row, then two rows at once) through
    :func:`median_args`. Output rows are done in pairs, the last one alone.
    """
    padded = pad_stack(stack, pad)
    n, ny_p, nx_p = padded.shape
    h = size // 2
    ny, nx = ny_p - 2 * h, nx_p - 2 * h
    strip = min(_STRIP, nx)
    regs = np.empty((max(one_rows, two_rows), strip + size), dtype=np.float32)
    nan_a = np.empty(strip + size, dtype=np.int64)
    nan_b = np.empty(strip + size, dtype=np.int64)
    buf = np.empty(size * size, dtype=np.float32)
    for k in range(n):
        img = padded[k]
        for y in range(0, ny, 2):
            rows = 2 if y + 1 < ny else 1
            for x0 in range(0, nx, strip):
                width = min(strip, nx - x0)
                ncols = width + size - 1
                full = ncols * size
                nans = _nan_columns(img, y, x0, ncols, size, nan_a)
                nans_b = _nan_columns(img, y + 1, x0, ncols, size, nan_b) if rows == 2 else full
                if nans < full or nans_b < full:  # some window may be NaN-free
                    if rows == 2:
                        _run_network(img, y, x0, width, two_extra, two_level_ops, two_ops, regs)
                        out[k, y, x0 : x0 + width] = regs[two_out[0], :width]
                        out[k, y + 1, x0 : x0 + width] = regs[two_out[1], :width]
                    else:
                        _run_network(img, y, x0, width, one_extra, one_level_ops, one_ops, regs)
                        out[k, y, x0 : x0 + width] = regs[one_out[0], :width]
                if nans:
                    _patch_nan_windows(img, y, x0, width, size, nan_a, buf, out[k, y])
                if rows == 2 and nans_b:
                    _patch_nan_windows(img, y + 1, x0, width, size, nan_b, buf, out[k, y + 1])
    return out


def median_args(size: int) -> tuple[Any, ...]:
    """The kernel arguments of :func:`median_kernel` after *size*: both programs."""
    return (*median_program(size), *median_program(size, pair=True))
