"""The merging-network median filter equals the NaN-aware median of every window."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import sarcube
from sarcube.filters import _median_fused
from sarcube.filters._median import (
    _STRIP,
    _Network,
    median_args,
    median_kernel,
    median_program,
)
from sarcube.filters._median_codegen import fused_source

from filter_reference import median as median_loop


def reference(img: np.ndarray, size: int) -> np.ndarray:
    """numpy: nanmedian of each mirrored window, NaN where the centre is NaN."""
    h = size // 2
    windows = sliding_window_view(np.pad(img, h, mode="symmetric"), (size, size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        out = np.nanmedian(windows.reshape(*img.shape, -1).astype(np.float64), axis=-1)
    out[np.isnan(img)] = np.nan
    return out.astype(np.float32)


def test_odd_even_merge_sorts_every_zero_one_input() -> None:
    # 0-1 principle: a comparator network that merges every sorted 0-1 input merges any input
    for m, n in itertools.product(range(8), repeat=2):
        net = _Network()
        order = net.merge(list(range(m)), list(range(m, m + n)))
        for i, j in itertools.product(range(m + 1), range(n + 1)):
            values = [0] * (m - i) + [1] * i + [0] * (n - j) + [1] * j
            for _, a, b in net.ops:
                values[a], values[b] = min(values[a], values[b]), max(values[a], values[b])
            assert [values[r] for r in order] == sorted(values), (m, n, i, j)


def test_selection_picks_every_rank_of_every_zero_one_merge() -> None:
    # the min-of-max selection of one rank from two sorted lists, on every sorted 0-1 input
    for m, n in itertools.product(range(7), repeat=2):
        for rank in range(m + n):
            net = _Network()
            reg = net.select(list(range(m)), list(range(m, m + n)), rank)
            for i, j in itertools.product(range(m + 1), range(n + 1)):
                values = [0] * (m - i) + [1] * i + [0] * (n - j) + [1] * j
                expected = sorted(values)[rank]
                for kind, a, b in net.ops:
                    lo, hi = min(values[a], values[b]), max(values[a], values[b])
                    if kind == 1:
                        values[a] = lo
                    else:
                        values[b] = hi
                assert values[reg] == expected, (m, n, rank, i, j)


@pytest.mark.parametrize(
    ("size", "tile", "strip"), [(7, 1, 64), (7, 3, 40), (5, 4, 16), (9, 5, 33)]
)
def test_any_tile_of_rows_and_any_strip(size: int, tile: int, strip: int) -> None:
    # the kernel itself with other row tiles and strip widths than the defaults
    rng = np.random.default_rng(tile)
    img = rng.gamma(1.0, 1.0, (1, 29, 101)).astype(np.float32)
    img[0, rng.random(img.shape[1:]) < 0.03] = np.nan
    out = np.empty_like(img)
    median_kernel(img, None, size // 2, out, size, *median_args(size, tile, strip))
    np.testing.assert_array_equal(out[0], reference(img[0], size))


def test_compiled_networks_are_generated_from_the_programs() -> None:
    # _median_fused.py is generated; regenerate it with scripts/generate-median-networks.py
    source = Path(_median_fused.__file__).read_text()
    assert source == fused_source(), "run python scripts/generate-median-networks.py"
    assert median_args(7)[-1] and not median_args(11)[-1] and not median_args(7, 3)[-1]


@pytest.mark.parametrize("size", _median_fused.SIZES)
def test_compiled_network_equals_the_step_by_step_run_bit_for_bit(size: int) -> None:
    # ties, signed zeros, infinities and NaN (blocks with nodata run the network too)
    rng = np.random.default_rng(size)
    values = np.array([0.0, -0.0, 1.0, 2.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    img = rng.choice(values, size=(2, 37, 2 * _STRIP + 11), p=[0.3, 0.3, 0.1, 0.1, 0.1, 0.09, 0.01])
    img[1] = rng.gamma(1.0, 1.0, img.shape[1:])
    args = median_args(size)
    assert args[-1]
    fused, stepwise = np.empty_like(img), np.empty_like(img)
    median_kernel(img, None, size // 2, fused, size, *args)
    median_kernel(img, None, size // 2, stepwise, size, *args[:-1], False)
    np.testing.assert_array_equal(fused.view(np.uint32), stepwise.view(np.uint32))
    finite = img[1:]
    np.testing.assert_array_equal(fused[1], reference(finite[0], size))


@pytest.mark.parametrize("size", [3, 5, 7, 9, 11, 13, 15])
def test_equals_numpy_on_random_images_with_nan(size: int) -> None:
    rng = np.random.default_rng(size)
    img = rng.gamma(1.0, 1.0, (61, _STRIP + 37)).astype(np.float32)  # two strips
    img[rng.random(img.shape) < 0.02] = np.nan  # scattered nodata
    img[10:20, 100:130] = np.nan  # a hole
    img[:, _STRIP - 2 : _STRIP + 1] = np.nan  # nodata across the strip border
    da = xr.DataArray(img, dims=("y", "x"))
    out = sarcube.median_filter(da, size=size).values
    np.testing.assert_array_equal(out, reference(img, size))


def test_matches_the_per_window_loop_reference() -> None:
    rng = np.random.default_rng(3)
    img = rng.normal(size=(23, 29)).astype(np.float32)
    img[4:7, 3:5] = np.nan
    out = sarcube.median_filter(xr.DataArray(img, dims=("y", "x")), size=5).values
    np.testing.assert_allclose(out, median_loop(img, 5), rtol=0, atol=1e-7)


def test_ties_infinities_and_integers() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 4, (40, 50)).astype(np.float32)  # many ties
    img[5, 5] = np.inf
    img[6, 9] = -np.inf
    img[7:9, 20:22] = np.nan
    da = xr.DataArray(img, dims=("y", "x"))
    np.testing.assert_array_equal(sarcube.median_filter(da, size=7).values, reference(img, 7))
    counts = xr.DataArray(rng.integers(0, 255, (30, 30), dtype=np.uint8), dims=("y", "x"))
    expected = reference(counts.values.astype(np.float32), 3)
    np.testing.assert_array_equal(sarcube.median_filter(counts, size=3).values, expected)


def test_all_nan_and_image_smaller_than_window() -> None:
    img = np.full((6, 6), np.nan, dtype=np.float32)
    out = sarcube.median_filter(xr.DataArray(img, dims=("y", "x")), size=5).values
    assert np.isnan(out).all()
    small = np.arange(16, dtype=np.float32).reshape(4, 4)
    out = sarcube.median_filter(xr.DataArray(small, dims=("y", "x")), size=7).values
    np.testing.assert_array_equal(out, reference(small, 7))


def test_network_is_pruned_to_the_median() -> None:
    # a full merge of the 7x7 window would need thousands of compare-exchanges
    level_extra, _, ops, out_rows, n_rows = median_program(7)
    assert sorted(7 - level_extra) == [1, 2, 3, 4, 7]  # group widths
    assert len(ops) < 200 and len(out_rows) == 1
    assert n_rows < 120
    # two output rows at once share the sorting of their common six rows
    _, _, pair_ops, pair_rows, _ = median_program(7, tile=2)
    assert len(pair_rows) == 2
    assert len(pair_ops) / 2 < 0.9 * len(ops)


@pytest.mark.parametrize("rows", [1, 2, 3, 8, 9])
def test_odd_and_even_row_counts(rows: int) -> None:
    rng = np.random.default_rng(rows)
    img = rng.normal(size=(rows, 40)).astype(np.float32)
    img[0, 3] = np.nan
    out = sarcube.median_filter(xr.DataArray(img, dims=("y", "x")), size=3).values
    np.testing.assert_array_equal(out, reference(img, 3))


@settings(max_examples=30, deadline=None)
@given(
    size=st.sampled_from([3, 5, 7, 9, 11, 13, 15]),
    shape=st.tuples(st.integers(8, 48), st.integers(8, 48)),
    nan_fraction=st.sampled_from([0.0, 0.05, 0.5]),
    chunks=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    seed=st.integers(0, 2**16),
)
def test_property_any_window_any_chunking(
    size: int,
    shape: tuple[int, int],
    nan_fraction: float,
    chunks: tuple[int, int],
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    img = rng.lognormal(size=(2, *shape)).astype(np.float32)
    img[rng.random(img.shape) < nan_fraction] = np.nan
    if min(shape) < size // 2:
        return  # refused: the halo would be wider than the image (tested elsewhere)
    expected = np.stack([reference(i, size) for i in img])
    da = xr.DataArray(img, dims=("time", "y", "x"))
    np.testing.assert_array_equal(sarcube.median_filter(da, size=size).values, expected)
    lazy = da.copy(data=dsa.from_array(img, chunks=(1, *chunks)))
    np.testing.assert_array_equal(sarcube.median_filter(lazy, size=size).values, expected)
