"""Split-based (tiled) thresholds and the bimodality tests they rest on."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.stats import kurtosis, skew
from sklearn.mixture import GaussianMixture

import sarcube
from sarcube.errors import DimensionError, ParameterError
from sarcube.thresholds import bimodality_tests, kittler_illingworth

from conftest import raise_if_dask_computes


def _lake_scene(seed: int = 3, shape: tuple[int, int] = (300, 260)) -> xr.DataArray:
    """Land at -8 dB with two small lakes at -20 dB (3 % water), noisy."""
    rng = np.random.default_rng(seed)
    image = rng.normal(-8.0, 2.5, shape)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    lakes = ((yy - 70) ** 2 + (xx - 80) ** 2 < 18**2) | ((yy - 220) ** 2 + (xx - 190) ** 2 < 12**2)
    image[lakes] = rng.normal(-20.0, 1.5, lakes.sum())
    image[:5, :40] = np.nan
    return xr.DataArray(image.astype(np.float32), dims=("y", "x"), attrs={"units": "dB"})


def test_bimodality_tests_match_sample_statistics() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 3000), rng.normal(5, 2, 7000)])
    counts, edges = np.histogram(values, bins=2048)
    centres = (edges[:-1] + edges[1:]) / 2
    d, bc, share = bimodality_tests(counts, centres)
    n = values.size
    g, k = skew(values, bias=True), kurtosis(values, bias=True)
    expected_bc = (g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    assert bc == pytest.approx(expected_bc, rel=1e-3)
    gmm = GaussianMixture(2, tol=1e-8, max_iter=1000, random_state=0).fit(values[:, None])
    mu, var = gmm.means_.ravel(), gmm.covariances_.ravel()
    expected_d = np.sqrt(2) * abs(mu[0] - mu[1]) / np.sqrt(var.sum())
    assert d == pytest.approx(expected_d, rel=1e-3)
    assert share == pytest.approx(gmm.weights_.min(), abs=1e-2)
    # a single Gaussian fails both tests; vectorised over leading axes
    single, _ = np.histogram(rng.normal(0, 1, 10000), bins=edges)
    two, _ = np.histogram(np.r_[rng.normal(0, 1, 5000), rng.normal(6, 1, 5000)], bins=edges)
    d2, bc2, _ = bimodality_tests(np.stack([two, single]), centres)
    assert d2[0] > 2 > d2[1] and bc2[0] > 5 / 9 > bc2[1]
    d0, bc0, share0 = bimodality_tests(np.zeros(8), np.arange(8.0))
    assert np.isnan(d0) and np.isnan(bc0) and np.isnan(share0)


def test_tiled_finds_small_lakes_where_global_thresholds_are_pulled_to_land() -> None:
    scene = _lake_scene()
    tiled = sarcube.threshold(scene, method="tiled", tile_sizes=(128, 64, 32))
    value = float(tiled["threshold"])
    assert not bool(tiled["fallback"]) and int(tiled["n_kept"].sum()) >= 3
    # the minimum-error point of the two classes lies near -14.5 dB
    assert -16.5 < value < -13.0
    hist = sarcube.threshold(scene, method="ki")["histogram"].values
    centres = tiled["bin"].values
    # the pooled tiles are far more balanced than the scene
    pooled = tiled["histogram"].values
    assert pooled[centres <= value].sum() / pooled.sum() > 0.1
    assert hist[centres <= value].sum() / hist.sum() < 0.05
    assert kittler_illingworth(pooled, centres) == value


def test_tiled_hierarchy_counts() -> None:
    rng = np.random.default_rng(1)
    image = rng.normal(-8, 1.5, (256, 256))
    image[20:60, 30:70] = rng.normal(-21, 1.5, (40, 40))
    scene = xr.DataArray(image, dims=("y", "x"), attrs={"units": "dB"})
    out = sarcube.threshold(scene, method="tiled", tile_sizes=(32, 128, 64))  # any order
    assert out["tile_size"].values.tolist() == [128, 64, 32]
    # 128: 4 candidates, none with >= 10 % lake; 64: 16, the top-left one kept;
    # 32: the 60 children of the other 15 tiles, one kept (rows 32-64, cols 64-96)
    assert out["n_candidates"].values.tolist() == [4, 16, 60]
    assert out["n_kept"].values.tolist() == [0, 1, 1]


@pytest.mark.parametrize("chunks", [{"y": 64, "x": 64}, {"y": 37, "x": 101}, {"y": 300, "x": 7}])
def test_tiled_is_lazy_and_chunk_invariant(chunks: dict[str, int]) -> None:
    scene = _lake_scene()
    expected = sarcube.threshold(scene, method="tiled", tile_sizes=(128, 64, 32), criterion="otsu")
    with raise_if_dask_computes():
        lazy = sarcube.threshold(
            scene.chunk(chunks), method="tiled", tile_sizes=(128, 64, 32), criterion="otsu"
        )
    xr.testing.assert_identical(lazy.compute(), expected)


def test_tiled_falls_back_explicitly() -> None:
    rng = np.random.default_rng(2)
    flat = xr.DataArray(rng.normal(-8, 1, (128, 128)), dims=("y", "x"), attrs={"units": "dB"})
    out = sarcube.threshold(flat.chunk(50), method="tiled", tile_sizes=(64, 32)).compute()
    assert bool(out["fallback"]) and int(out["n_kept"].sum()) == 0
    assert float(out["threshold"]) == float(sarcube.threshold(flat, method="ki")["threshold"])
    assert np.isfinite(float(out["threshold"]))
    # all-NaN image: no tile, no global histogram: NaN with fallback, no error
    empty = sarcube.threshold(flat * np.nan, method="tiled", tile_sizes=(64, 32))
    assert bool(empty["fallback"]) and np.isnan(float(empty["threshold"]))


def test_tiled_uint8_chips() -> None:
    scene = _lake_scene()
    chip = ((scene + 30) * 6).clip(0, 255).fillna(0).astype(np.uint8)
    out = sarcube.threshold(chip, method="tiled", tile_sizes=(64, 32))
    assert (-16.5 + 30) * 6 < float(out["threshold"]) < (-13.0 + 30) * 6


def test_tiled_bad_input() -> None:
    scene = _lake_scene()
    with pytest.raises(ParameterError, match="nest"):
        sarcube.threshold(scene, method="tiled", tile_sizes=(100, 64))
    with pytest.raises(ParameterError, match="integers >= 4"):
        sarcube.threshold(scene, method="tiled", tile_sizes=(2,))
    with pytest.raises(ParameterError, match="integers >= 4"):
        sarcube.threshold(scene, method="tiled", tile_sizes=(64.5,))
    with pytest.raises(ParameterError, match="criterion"):
        sarcube.threshold(scene, method="tiled", criterion="mean")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="min_valid"):
        sarcube.threshold(scene, method="tiled", min_valid=1.5)
    with pytest.raises(DimensionError, match="isel"):
        sarcube.threshold(scene.expand_dims(time=2), method="tiled")
    with pytest.raises(ParameterError, match="'tiled'"):
        sarcube.threshold(scene, method="triangle")  # type: ignore[arg-type]
