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
   (dead compare-exchanges removed, half-used ones reduced to a min or a max);
   where a merge needs a single rank, it is selected directly
   (``min over i + j = k of max(x_i, y_j)``) when that takes fewer steps;
4. output rows are done in tiles (two by default): the rows their windows
   share are sorted and merged once, and each window adds its own row last.

The network is the same for every pixel, so each step is a branch-free
``min``/``max`` over a row strip of a few hundred columns, which the compiler
vectorises; the strip's image rows and intermediate rows live in one flat
buffer (about 170 KB at 7 × 7: it stays in the L2 cache). Windows that hold
nodata (NaN) take the exact slow path: the valid pixels are gathered and
sorted, and for an even count the two middle values are averaged (as
``numpy.nanmedian``). The output equals the per-window sort exactly: a
compare-exchange network only moves values.

Run step by step, every compare-exchange loads and stores whole rows of the
strip buffer, so the buffer's traffic sets the speed. For the common window
sizes the tile's network is also compiled whole: one loop per group runs all
of that group's steps on a column in registers and stores only the ranks
later groups read (about half the time of the step-by-step run at 7 × 7).
That code is generated from the same program by ``_median_codegen`` and
kept in ``_median_fused.py``; the tests check that it is up to date.

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

from . import _median_fused
from ._windows import pad_stack

__all__ = ["median_args", "median_kernel", "median_program"]

_NAN = np.float32(np.nan)
#: Output columns per strip: the strip's intermediate rows (a few dozen) stay in L1/L2 cache.
_STRIP = 256
#: Output rows per tile: their windows' shared rows are sorted and merged once.
_TILE = 2
#: Window sizes whose tile network is compiled whole (``_median_fused.py``).
_FUSED_SIZES = (3, 5, 7, 9)

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

    def select(self, x: list[int], y: list[int], rank: int) -> int:
        """The register of rank *rank* (0-based) in the merge of sorted *x* and *y*.

        The ``k``-th smallest (``k = rank + 1``) of two sorted lists is
        ``min over i + j = k of max(x_i, y_j)`` (1-based, an empty side
        counting as −∞): one ``max`` per pair and a chain of ``min``. For a
        single rank this is cheaper than a pruned merge.
        """
        k = rank + 1
        terms = []
        for i in range(max(0, k - len(y)), min(len(x), k) + 1):
            j = k - i
            if i == 0:
                terms.append(y[j - 1])
            elif j == 0:
                terms.append(x[i - 1])
            else:
                self.ops.append((_MAX, x[i - 1], y[j - 1]))  # y[j - 1] <- the max
                terms.append(y[j - 1])
        for other in terms[1:]:
            self.ops.append((_MIN, terms[0], other))  # terms[0] <- the min
        return terms[0]

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


def _row_tree(nodes: list[_Node], size: int, tile: int, split: Callable[[int], int]) -> list[int]:
    """The groups for *tile* consecutive output rows; the index of each row's window.

    The windows of output rows ``a .. b`` share the image rows ``b − 1 .. a + size − 1``
    (relative to the first window's top row). Those are sorted and merged once;
    the range is halved, and each half merges what its windows alone add, down
    to single windows (a binary tree over the output rows).
    """
    finals: list[int] = []

    def build(a: int, b: int, parent: tuple[int, frozenset[int]] | None) -> None:
        common = frozenset(range(b - 1, a + size))
        above = parent[1] if parent else frozenset()
        segment = _tree(nodes, tuple(sorted(common - above)), size, split)
        if parent:
            nodes.append(_Node(size, size * len(common), children=((parent[0], 0), (segment, 0))))
            here = len(nodes) - 1
        else:
            here = segment
        if b - a == 1:
            finals.append(here)
        else:
            middle = (a + b) // 2
            build(a, middle, (here, common))
            build(middle, b, (here, common))

    build(0, tile, None)
    return finals


@lru_cache(maxsize=64)
def median_program(
    size: int, tile: int = 1, split: Callable[[int], int] = _pow2_split
) -> tuple[Any, ...]:
    """The pruned network for the median of ``size × size`` windows (odd *size*).

    With *tile* > 1, that many output rows at once: the image rows their
    windows share are sorted and merged once, then each half of the tile adds
    the rows its windows alone share, down to single windows — fewer steps per
    pixel (a tile of two merges the ``size − 1`` shared rows with each
    window's own row).

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
    finals = _row_tree(nodes, size, tile, split)

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
        if node.children and len(needed[index]) == 1:  # one rank: selection may be cheaper
            (rank,) = needed[index]
            chooser = _Network()
            chosen = chooser.select(xs, ys, rank)
            select_ops, select_live = chooser.prune({chosen})
            if len(select_ops) < len(ops):
                rank_reg, ops, live = {rank: chosen}, select_ops, select_live
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


def _flat(program: tuple[Any, ...], size: int, strip: int) -> tuple[np.ndarray, np.ndarray, int]:
    """*program* (from :func:`median_program`) on one flat buffer of rows ``strip + size`` long.

    The buffer starts with the image rows of the window(s), copied in by the
    kernel, followed by the network's rows. Returns ``(steps, out_at, rows)``:
    ``steps[t] = (kind, a, b, min at, max at, extra)`` with buffer positions
    and the step's length beyond the strip's width; ``out_at`` is where each
    output row's medians start; ``rows`` is the buffer's row count.
    """
    level_extra, level_ops, ops, out_rows, n_rows = program
    image_rows = len(out_rows) + size - 1
    stride = strip + size

    def at(row: int, offset: int = 0) -> int:
        return (image_rows + row if row >= 0 else -1 - row) * stride + offset

    steps = []
    for level, extra in enumerate(level_extra):
        level_steps = ops[level_ops[level] : level_ops[level + 1]]
        for kind, a_row, a_off, b_row, b_off, lo, hi in level_steps:
            steps.append((kind, at(a_row, a_off), at(b_row, b_off), at(lo), at(hi), extra))
    out_at = np.asarray([at(row) for row in out_rows], dtype=np.int64)
    return np.asarray(steps, dtype=np.int64).reshape(-1, 6), out_at, image_rows + int(n_rows)


@njit(cache=True, nogil=True, error_model="numpy")
def _run_network(buf: np.ndarray, steps: np.ndarray, width: int) -> None:
    """Run the network's steps over *width* output columns of the buffer.

    Unsigned positions: numba then skips the negative-index wraparound, so
    each step is a plain loop that LLVM vectorises (with a run-time overlap
    check of its operands), without making array views per step.
    """
    for t in range(steps.shape[0]):
        kind = steps[t, 0]
        n = np.uint64(width + steps[t, 5])
        a = np.uint64(steps[t, 1])
        b = np.uint64(steps[t, 2])
        lo = np.uint64(steps[t, 3])
        hi = np.uint64(steps[t, 4])
        if kind == 0:
            for j in range(n):
                u = buf[a + j]
                v = buf[b + j]
                buf[lo + j] = u if u < v else v
                buf[hi + j] = v if u < v else u
        elif kind == 1:
            for j in range(n):
                u = buf[a + j]
                v = buf[b + j]
                buf[lo + j] = u if u < v else v
        else:
            for j in range(n):
                u = buf[a + j]
                v = buf[b + j]
                buf[hi + j] = v if u < v else u


@njit(cache=True, nogil=True, error_model="numpy")
def _load_rows(
    img: np.ndarray, y: int, x0: int, rows: int, ncols: int, stride: int, buf: np.ndarray
) -> bool:
    """Copy image rows ``y .. y + rows`` (columns from *x0*) into the buffer; True if any is NaN."""
    nan = False
    for i in range(rows):
        src = img[y + i, x0 : x0 + ncols]
        dst = buf[i * stride : i * stride + ncols]
        for j in range(ncols):
            v = src[j]
            dst[j] = v
            nan |= v != v
    return nan


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
    strip: int,
    buffer_rows: int,
    one_steps: np.ndarray,
    one_out: np.ndarray,
    tile_steps: np.ndarray,
    tile_out: np.ndarray,
    fused: bool,
) -> np.ndarray:
    """Median of the valid pixels in every ``size × size`` window (see the module docstring).

    Kernel interface of :mod:`sarcube._overlap`; the programs come from
    :func:`median_program` (one output row, then a tile of rows at once) through
    :func:`median_args`. Output rows are done a tile at a time, the last ones alone.
    With *fused*, a tile runs the compiled network of ``_median_fused.py``
    (the same steps, kept in registers).
    """
    padded = pad_stack(stack, pad)
    n, ny_p, nx_p = padded.shape
    h = size // 2
    ny, nx = ny_p - 2 * h, nx_p - 2 * h
    tile = tile_out.shape[0]
    stride = strip + size
    buf = np.empty(buffer_rows * stride, dtype=np.float32)
    col_nan = np.empty((tile, stride), dtype=np.int64)
    nans = np.empty(tile, dtype=np.int64)
    window = np.empty(size * size, dtype=np.float32)
    for k in range(n):
        img = padded[k]
        y = 0
        while y < ny:
            rows = tile if y + tile <= ny else 1
            steps = tile_steps if rows == tile else one_steps
            out_at = tile_out if rows == tile else one_out
            whole = fused and rows == tile
            for x0 in range(0, nx, strip):
                width = min(strip, nx - x0)
                ncols = width + size - 1
                if not _load_rows(img, y, x0, rows + size - 1, ncols, stride, buf):
                    if whole:
                        _median_fused.run(size, buf, width)
                    else:
                        _run_network(buf, steps, width)
                    for r in range(rows):
                        out[k, y + r, x0 : x0 + width] = buf[out_at[r] : out_at[r] + width]
                    continue
                # Nodata in the block: the network where some window is NaN-free, then
                # the exact slow path for each window that holds NaN.
                full = ncols * size
                some_valid = False
                for r in range(rows):
                    nans[r] = _nan_columns(img, y + r, x0, ncols, size, col_nan[r])
                    some_valid |= nans[r] < full
                if some_valid:
                    if whole:
                        _median_fused.run(size, buf, width)
                    else:
                        _run_network(buf, steps, width)
                    for r in range(rows):
                        out[k, y + r, x0 : x0 + width] = buf[out_at[r] : out_at[r] + width]
                for r in range(rows):
                    if nans[r]:
                        _patch_nan_windows(
                            img, y + r, x0, width, size, col_nan[r], window, out[k, y + r]
                        )
            y += rows
    return out


@lru_cache(maxsize=64)
def median_args(size: int, tile: int = _TILE, strip: int = _STRIP) -> tuple[Any, ...]:
    """The kernel arguments of :func:`median_kernel` after *size*."""
    one_steps, one_out, one_rows = _flat(median_program(size), size, strip)
    tile_steps, tile_out, tile_rows = _flat(median_program(size, tile), size, strip)
    fused = (
        size in _median_fused.SIZES and tile == _median_fused.TILE and strip == _median_fused.STRIP
    )
    return (strip, max(one_rows, tile_rows), one_steps, one_out, tile_steps, tile_out, fused)
