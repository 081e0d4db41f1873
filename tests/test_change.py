"""Change images, temporal reduction, lazy histograms and thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.stats import norm

import sarcube
from sarcube.errors import DimensionError, GridMismatchError, ParameterError, UnitsError
from sarcube.thresholds import histogram, kittler_illingworth, otsu

from conftest import raise_if_dask_computes, random_cube


def _pre_post(chunks: dict[str, int] | None) -> tuple[xr.Dataset, xr.Dataset]:
    cube = random_cube((3, 23, 31))
    cube["vv"][2, 3, 4] = 0.0
    pre, post = cube.isel(time=0), cube.isel(time=2)
    if chunks is not None:
        pre, post = pre.chunk(chunks), post.chunk({"y": 5, "x": 13})
    return pre, post


@pytest.mark.parametrize("chunks", [None, {"y": 7, "x": 11}])
def test_change_images(chunks: dict[str, int] | None) -> None:
    pre, post = _pre_post(chunks)
    with raise_if_dask_computes():
        lr = sarcube.log_ratio(pre, post)
        nc = sarcube.normalised_change(pre, post)
        diff = sarcube.difference(sarcube.to_db(pre), sarcube.to_db(post))
    a, b = pre["vv"].values.astype(np.float64), post["vv"].values.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = 10 * np.log10(np.where((a > 0) & (b > 0), b / a, np.nan))
    np.testing.assert_allclose(lr["vv"].values, expected, rtol=1e-5, atol=1e-6)  # float32
    assert np.isnan(lr["vv"].values[3, 4])  # post is 0 there
    np.testing.assert_allclose(nc["vv"].values, (b - a) / (b + a), rtol=1e-5)
    np.testing.assert_allclose(diff["vv"].values, lr["vv"].values, rtol=1e-4, atol=1e-5)
    assert lr["vv"].attrs["units"] == "dB" and nc["vv"].attrs["units"] == "1"
    assert lr["vv"].dtype == np.float32
    xr.testing.assert_identical(lr.coords.to_dataset(), post.coords.to_dataset())


def test_change_bad_input() -> None:
    pre, post = _pre_post(None)
    with pytest.raises(GridMismatchError, match="pixels along 'x'"):
        sarcube.log_ratio(pre, post.isel(x=slice(0, 20)))
    shifted = post.assign_coords(x=post.x + 20.0)
    with pytest.raises(GridMismatchError, match="coordinates"):
        sarcube.log_ratio(pre, shifted)
    other_crs = post.assign_coords(spatial_ref=xr.DataArray(0, attrs={"crs_wkt": "EPSG:4326"}))
    with pytest.raises(GridMismatchError, match="EPSG:4326"):
        sarcube.log_ratio(pre, other_crs)
    with pytest.raises(GridMismatchError, match="bands"):
        sarcube.log_ratio(pre[["vv"]], post)
    with pytest.raises(UnitsError, match="to_linear"):
        sarcube.log_ratio(sarcube.to_db(pre), sarcube.to_db(post))
    with pytest.raises(DimensionError, match="reduce_time"):
        sarcube.log_ratio(random_cube((3, 23, 31)), post)


@pytest.mark.parametrize("how", ["mean", "median"])
def test_reduce_time(how: str) -> None:
    cube = random_cube((3, 23, 31))
    eager = sarcube.reduce_time(cube, how=how)  # type: ignore[arg-type]
    with raise_if_dask_computes():
        lazy = sarcube.reduce_time(cube.chunk({"time": 1, "y": 7}), how=how)  # type: ignore[arg-type]
    reference = getattr(np, f"nan{how}")(cube["vv"].values, axis=0)
    np.testing.assert_allclose(eager["vv"].values, reference, rtol=1e-6)
    np.testing.assert_allclose(lazy["vv"].values, reference, rtol=1e-6)
    assert eager["vv"].dims == ("y", "x") and eager["vv"].attrs["units"] == "1"
    with pytest.raises(ParameterError):
        sarcube.reduce_time(cube, how="max")  # type: ignore[arg-type]


def test_histogram_one_pass_and_chunk_invariant() -> None:
    db = sarcube.to_db(random_cube((3, 23, 31)))["vv"]
    eager = histogram(db, bins=64)
    with raise_if_dask_computes():
        lazy = histogram(db.chunk({"time": 1, "y": 5, "x": 7}), bins=64)
    np.testing.assert_array_equal(lazy.values, eager.values)
    values = db.values[~np.isnan(db.values)]
    expected, _ = np.histogram(np.clip(values, -50, 20 - 1e-9), bins=64, range=(-50, 20))
    np.testing.assert_array_equal(eager.values, expected)
    assert eager.sum() == values.size
    with pytest.raises(ParameterError, match="range="):
        histogram(random_cube()["vv"])  # linear float data: no default range
    with pytest.raises(ParameterError, match="bins"):
        histogram(db, bins=1)


def _brute_force_otsu(counts: np.ndarray, centres: np.ndarray) -> float:
    best, best_t = -1.0, np.nan
    total = counts.sum()
    for k in range(len(counts) - 1):
        w0, w1 = counts[: k + 1].sum(), counts[k + 1 :].sum()
        if w0 == 0 or w1 == 0:
            continue
        m0 = (counts[: k + 1] * centres[: k + 1]).sum() / w0
        m1 = (counts[k + 1 :] * centres[k + 1 :]).sum() / w1
        between = w0 / total * w1 / total * (m0 - m1) ** 2
        if between > best:
            best, best_t = between, centres[k] + (centres[1] - centres[0]) / 2
    return best_t


def test_otsu_and_ki_on_histograms() -> None:
    rng = np.random.default_rng(3)
    centres = np.linspace(-40, 10, 200)
    for _ in range(5):
        counts = rng.integers(0, 50, size=200).astype(float)
        assert otsu(counts, centres) == pytest.approx(_brute_force_otsu(counts, centres))
    # Kittler-Illingworth finds the minimum-error point of a two-Gaussian mixture
    mix = 0.2 * norm.pdf(centres, -22, 1.5) + 0.8 * norm.pdf(centres, -10, 3.0)
    counts = np.round(mix * 1e6)
    grid = np.linspace(-20, -12, 8001)
    density_gap = 0.2 * norm.pdf(grid, -22, 1.5) - 0.8 * norm.pdf(grid, -10, 3.0)
    crossing = grid[np.argmin(np.abs(density_gap))]
    assert kittler_illingworth(counts, centres) == pytest.approx(crossing, abs=0.3)
    assert np.isnan(otsu(np.zeros(10), centres[:10]))


@pytest.mark.parametrize("method", ["otsu", "ki"])
def test_threshold_lazy_equals_eager_and_separates_water(method: str) -> None:
    scene = sarcube.synthetic.make_scene((160, 160), seed=5, looks=float("inf"))
    db = sarcube.to_db(scene.cube["vv"].isel(time=0))
    eager = sarcube.threshold(db, method=method)  # type: ignore[arg-type]
    with raise_if_dask_computes():
        lazy = sarcube.threshold(db.chunk({"y": 33, "x": 41}), method=method)  # type: ignore[arg-type]
    assert float(lazy["threshold"].compute()) == float(eager["threshold"])
    value = float(eager["threshold"])
    water = scene.landcover.values == 0
    valid = np.isfinite(db.values)
    # open water (about -22 dB) below, land above, on speckle-free data
    assert (db.values[water & valid] <= value).mean() > 0.95
    assert (db.values[~water & valid] > value).mean() > 0.9
    assert eager.attrs["method"] == method
    with pytest.raises(ParameterError, match="unknown method"):
        sarcube.threshold(db, method="mean")  # type: ignore[arg-type]


@pytest.mark.parametrize("dates", [2, 3, 4])
def test_reduce_time_median_equals_numpy_with_nan(dates: int) -> None:
    # the pair of dates has its own branch-free path; every count of valid dates
    rng = np.random.default_rng(dates)
    values = rng.gamma(4.0, 0.05, (dates, 37, 29)).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, 0, :3] = np.nan  # no valid date
    cube = xr.DataArray(values, dims=("time", "y", "x"))
    expected = np.full(values.shape[1:], np.nan, dtype=np.float32)
    some = ~np.isnan(values).all(axis=0)
    expected[some] = np.nanmedian(values[:, some], axis=0)
    eager = sarcube.reduce_time(cube, how="median")
    lazy = sarcube.reduce_time(cube.chunk({"time": 1, "y": 10, "x": 16}), how="median")
    assert eager.dtype == np.float32
    np.testing.assert_array_equal(eager.values, expected)
    np.testing.assert_array_equal(lazy.values, expected)


def test_normalized_change_is_a_deprecated_spelling_of_normalised_change() -> None:
    cube = sarcube.synthetic.make_scene((16, 16), seed=2).cube
    pre, post = cube.isel(time=0), cube.isel(time=-1)
    expected = sarcube.normalised_change(pre, post)
    with pytest.warns(DeprecationWarning, match="renamed normalised_change"):
        xr.testing.assert_identical(sarcube.normalized_change(pre, post), expected)
    with pytest.warns(DeprecationWarning, match="renamed normalised_change"):
        xr.testing.assert_identical(pre.sar.normalized_change(post), expected)
