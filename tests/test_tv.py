"""TV denoising: equal to scikit-image in memory, bounded deviation when chunked, NaN, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr
from skimage.restoration import denoise_tv_bregman, denoise_tv_chambolle

import sarcube
from sarcube.errors import ParameterError, UnitsError
from sarcube.filters import tv_denoise

from conftest import raise_if_dask_computes, random_cube


@pytest.fixture(scope="module")
def scene_db() -> np.ndarray:
    cube = sarcube.synthetic.make_scene((160, 144), seed=7, nodata_edge=False).cube
    return (10 * np.log10(cube["vv"].values[2])).astype(np.float32)


@pytest.mark.parametrize("weight", [0.1, 1.0, 3.0])
def test_chambolle_equals_skimage(scene_db: np.ndarray, weight: float) -> None:
    da = xr.DataArray(scene_db, dims=("y", "x"))
    out32 = tv_denoise(da, weight=weight, db=False).values
    np.testing.assert_allclose(out32, denoise_tv_chambolle(scene_db, weight=weight), atol=1e-4)
    out64 = tv_denoise(da, weight=weight, db=False, precision="float64").values
    ref64 = denoise_tv_chambolle(scene_db.astype(np.float64), weight=weight)
    np.testing.assert_allclose(out64, ref64.astype(np.float32), atol=1e-5)
    # and the float64 solver itself agrees with skimage to rounding
    out_iter = tv_denoise(da, weight=weight, db=False, max_iter=7, eps=1e-9).values
    ref_iter = denoise_tv_chambolle(scene_db, weight=weight, max_num_iter=7, eps=1e-9)
    np.testing.assert_allclose(out_iter, ref_iter, atol=1e-4)


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_bregman_equals_skimage(scene_db: np.ndarray, weight: float) -> None:
    da = xr.DataArray(scene_db, dims=("y", "x"))
    out = tv_denoise(da, weight=weight, method="bregman", db=False).values
    np.testing.assert_allclose(out, denoise_tv_bregman(scene_db, weight=weight), atol=1e-4)
    out64 = tv_denoise(da, weight=weight, method="bregman", db=False, precision="float64").values
    ref64 = denoise_tv_bregman(scene_db.astype(np.float64), weight=weight)
    np.testing.assert_allclose(out64, ref64.astype(np.float32), atol=1e-5)


def test_db_domain_round_trip(scene_db: np.ndarray) -> None:
    linear = xr.DataArray(10 ** (scene_db / 10), dims=("y", "x"), attrs={"units": "1"})
    out = tv_denoise(linear, weight=1.0)
    assert out.attrs["units"] == "1" and "tv_denoise" in out.attrs["speckle_filter"]
    expected = denoise_tv_chambolle(scene_db, weight=1.0)
    np.testing.assert_allclose(10 * np.log10(out.values), expected, atol=1e-3)


@pytest.mark.parametrize(
    ("method", "weight"), [("chambolle", 1.0), ("chambolle", 3.0), ("bregman", 1.0)]
)
def test_chunked_matches_in_memory(method: Any, weight: float) -> None:
    """Chunks with a halo, and the whole image's iteration count: within 1e-3 dB."""
    cube = sarcube.synthetic.make_scene((192, 176), seed=2).cube[["vv"]]
    eager = sarcube.to_db(tv_denoise(cube, weight=weight, method=method))["vv"].values
    with raise_if_dask_computes():
        lazy = tv_denoise(
            cube.chunk({"time": 1, "y": 64, "x": 50}), weight=weight, method=method, halo=24
        )
    lazy_db = sarcube.to_db(lazy)["vv"].values
    np.testing.assert_array_equal(np.isnan(lazy_db), np.isnan(eager))
    assert np.nanmax(np.abs(lazy_db - eager)) <= 1e-3


def test_a_halo_wider_than_one_side_keeps_the_other_side_chunked() -> None:
    """A strip shorter than the halo: one chunk along y, x still chunked with its halo."""
    cube = sarcube.synthetic.make_scene((20, 240), seed=4, nodata_edge=False).cube[["vv"]]
    eager = sarcube.to_db(tv_denoise(cube, weight=1.0))["vv"].values
    with raise_if_dask_computes():
        lazy = tv_denoise(cube.chunk({"time": 1, "y": 8, "x": 60}), weight=1.0, halo=24)
    assert lazy["vv"].chunks[1:] == ((20,), (60, 60, 60, 60))
    lazy_db = sarcube.to_db(lazy)["vv"].values
    assert np.nanmax(np.abs(lazy_db - eager)) <= 1e-3


def test_nan_stays_nan_and_metadata_kept() -> None:
    cube = random_cube((2, 23, 31))
    cube["vh"][1] = np.nan
    out = tv_denoise(cube, weight=1.0)
    np.testing.assert_array_equal(np.isnan(out["vv"].values), np.isnan(cube["vv"].values))
    assert np.isnan(out["vh"].values[1]).all()
    xr.testing.assert_identical(out.coords.to_dataset(), cube.coords.to_dataset())
    assert out["vv"].dtype == np.float32
    chunked = tv_denoise(cube.chunk({"y": 12, "x": 16}), weight=1.0, halo=8)
    np.testing.assert_array_equal(np.isnan(chunked["vh"].values), np.isnan(out["vh"].values))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"weight": 0}, ParameterError, "weight"),
        ({"weight": -1.0}, ParameterError, "weight"),
        ({"weight": 1.0, "method": "rof"}, ParameterError, "unknown method"),
        ({"weight": 1.0, "db": "log"}, ParameterError, "db must be True or False"),
        ({"weight": 1.0, "max_iter": 0}, ParameterError, "max_iter"),
        ({"weight": 1.0, "eps": 0.0}, ParameterError, "eps"),
        ({"weight": 1.0, "halo": -4}, ParameterError, "halo"),
        ({"weight": 1.0, "precision": "half"}, ParameterError, "precision"),
    ],
)
def test_bad_parameters(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    cube = random_cube().chunk({"y": 7})
    with raise_if_dask_computes(), pytest.raises(error, match=match):
        tv_denoise(cube, **kwargs)


def test_db_input_needs_linear_domain() -> None:
    in_db = sarcube.to_db(random_cube())
    with pytest.raises(UnitsError, match="to_linear"):
        tv_denoise(in_db, weight=1.0)
    out = tv_denoise(in_db, weight=1.0, db=False)
    assert out["vv"].attrs["units"] == "dB"


def test_chunked_tv_on_a_stac_loaded_cube(synthetic_event: Any) -> None:
    """odc-stac graphs (one chunk or many) go through both passes."""
    for chunks in ({"time": 1, "y": 256, "x": 256}, {"time": 1, "y": 40, "x": 30}):
        cube = sarcube.open_cube(synthetic_event.catalog, chunks=chunks, bands="vv")
        lazy = sarcube.to_db(tv_denoise(cube, weight=1.5, halo=16))["vv"].values
        eager = sarcube.to_db(tv_denoise(cube.compute(), weight=1.5))["vv"].values
        np.testing.assert_array_equal(np.isnan(lazy), np.isnan(eager))
        assert np.nanmax(np.abs(lazy - eager)) <= 1e-3


def test_the_old_domain_keyword_still_works_with_a_deprecation_warning() -> None:
    cube = random_cube()
    expected = tv_denoise(cube, weight=1.0, db=False)
    with pytest.warns(DeprecationWarning, match=r"domain= is renamed db=.*pass db=False"):
        old = tv_denoise(cube, weight=1.0, domain="linear")
    xr.testing.assert_identical(old, expected)
    with pytest.warns(DeprecationWarning, match=r"pass db=False"):
        via_accessor = cube.sar.tv_denoise(weight=1.0, domain="linear")
    xr.testing.assert_identical(via_accessor, expected)
    with pytest.raises(ParameterError, match=r"domain must be one of 'db', 'linear', got 'log'"):
        tv_denoise(cube, weight=1.0, domain="log")
