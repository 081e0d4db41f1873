"""The .sar accessor forwards to the functions and keeps their docstrings."""

from __future__ import annotations

import pytest
import xarray as xr

import sarcube

from conftest import random_cube


def test_accessor_forwards_on_dataset_and_dataarray() -> None:
    cube = random_cube().chunk({"y": 7})
    xr.testing.assert_identical(cube.sar.to_db(), sarcube.to_db(cube))
    xr.testing.assert_identical(cube["vv"].sar.to_db(), sarcube.to_db(cube["vv"]))
    db = cube.sar.to_db()
    xr.testing.assert_identical(db.sar.to_linear(), sarcube.to_linear(db))
    xr.testing.assert_identical(
        cube.sar.clamp_stats((0.1, 0.2), dims=("time", "y", "x")),
        sarcube.clamp_stats(cube, (0.1, 0.2), dims=("time", "y", "x")),
    )
    xr.testing.assert_identical(
        cube.sar.clamp(0.1, lower=0.01), sarcube.clamp(cube, 0.1, lower=0.01)
    )
    cfg = sarcube.NormConfig.from_stats(cube.sar.clamp_stats(dims=("time", "y", "x")))
    xr.testing.assert_identical(cube.sar.normalise(cfg), sarcube.normalise(cube, cfg))
    xr.testing.assert_identical(
        cube["vh"].sar.normalise(cfg, band="vh"), sarcube.normalise(cube["vh"], cfg, band="vh")
    )


def test_accessor_docstrings_are_the_functions() -> None:
    for name in ("to_db", "to_linear", "clamp_stats", "clamp", "normalise"):
        assert getattr(xr.Dataset.sar, name).__doc__ == getattr(sarcube, name).__doc__


def test_accessor_forwards_filters() -> None:
    cube = random_cube()
    xr.testing.assert_identical(
        cube.sar.lee_filter(size=5, variant="enhanced", enl=3.0, damping=2.0),
        sarcube.lee_filter(cube, size=5, variant="enhanced", enl=3.0, damping=2.0),
    )
    xr.testing.assert_identical(
        cube["vv"].sar.refined_lee(enl=4.0), sarcube.refined_lee(cube["vv"], enl=4.0)
    )
    xr.testing.assert_identical(cube.sar.frost_filter(size=3), sarcube.frost_filter(cube, size=3))
    xr.testing.assert_identical(
        cube.sar.gamma_map_filter(enl=5), sarcube.gamma_map_filter(cube, enl=5)
    )
    xr.testing.assert_identical(cube.sar.boxcar_filter(size=3), sarcube.boxcar_filter(cube, size=3))
    xr.testing.assert_identical(cube.sar.median_filter(size=3), sarcube.median_filter(cube, size=3))
    xr.testing.assert_identical(cube.sar.estimate_enl(), sarcube.estimate_enl(cube))


def test_accessor_forwards_tv() -> None:
    cube = random_cube()
    xr.testing.assert_identical(
        cube.sar.tv_denoise(weight=2.0, method="bregman"),
        sarcube.tv_denoise(cube, weight=2.0, method="bregman"),
    )


def test_accessor_forwards_change_and_classification() -> None:
    cube = sarcube.synthetic.make_scene((40, 36), seed=3).cube
    pre, post = cube.isel(time=0), cube.isel(time=-1)
    xr.testing.assert_identical(pre.sar.log_ratio(post), sarcube.log_ratio(pre, post))
    xr.testing.assert_identical(pre.sar.difference(post), sarcube.difference(pre, post))
    xr.testing.assert_identical(
        pre.sar.normalised_change(post), sarcube.normalised_change(pre, post)
    )
    xr.testing.assert_identical(
        cube.sar.reduce_time(how="mean"), sarcube.reduce_time(cube, how="mean")
    )
    change = sarcube.log_ratio(pre, post)["vv"]
    xr.testing.assert_identical(
        change.sar.threshold(method="ki", range=(-30, 30)),
        sarcube.threshold(change, method="ki", range=(-30, 30)),
    )
    mask = change < -3
    xr.testing.assert_identical(
        mask.sar.remove_small_regions(min_size=3), sarcube.remove_small_regions(mask, min_size=3)
    )
    xr.testing.assert_identical(mask.sar.region_stats(), sarcube.region_stats(mask))
    assert mask.sar.to_vector().equals(sarcube.to_vector(mask))
    xr.testing.assert_identical(
        post.sar.kmeans(n_clusters=2, sample=500), sarcube.kmeans(post, n_clusters=2, sample=500)
    )
    xr.testing.assert_identical(
        post.sar.superpixels(tile_size=32), sarcube.superpixels(post, tile_size=32)
    )
    xr.testing.assert_identical(cube.sar.sar_rgb(), sarcube.sar_rgb(cube))
    for name in ("log_ratio", "threshold", "remove_small_regions", "to_vector", "superpixels"):
        assert getattr(xr.DataArray.sar, name).__doc__ == getattr(sarcube, name).__doc__


def test_accessor_forwards_multisensor_exports_and_insar() -> None:
    cube = random_cube(nan_block=False).isel(time=0)
    xr.testing.assert_identical(cube.sar.sar_features(), sarcube.sar_features(cube))
    mask = (cube["vv"] > cube["vv"].median()).astype("uint8")
    assert mask.sar.rle_encode(order="C") == sarcube.rle_encode(mask, order="C")
    phase = (cube["vv"] * 3).assign_attrs(wavelength=0.0555)
    los = phase.sar.phase_to_displacement()
    xr.testing.assert_identical(los, sarcube.insar.phase_to_displacement(phase))
    xr.testing.assert_identical(
        los.sar.los_to_vertical(35.0), sarcube.insar.los_to_vertical(los, 35.0)
    )


def test_accessor_forwards_flood_map_thresholds_zarr_and_channels(tmp_path) -> None:
    scene = sarcube.synthetic.make_scene((128, 128), seed=2)
    cube = scene.cube.chunk({"y": 64, "x": 64})
    pre, post = cube.isel(time=slice(0, -1)), cube.isel(time=-1)
    xr.testing.assert_identical(
        pre.sar.flood_map(post, band="vv", min_size=3).compute(),
        sarcube.flood_map(pre, post, band="vv", min_size=3).compute(),
    )
    xr.testing.assert_identical(
        pre.sar.flood_thresholds(post, band="vv", region_size=64).compute(),
        sarcube.flood_thresholds(pre, post, band="vv", region_size=64).compute(),
    )
    path = cube.sar.to_zarr(tmp_path / "cube.zarr")
    xr.testing.assert_allclose(sarcube.open_zarr(path).compute(), cube.compute())
    xr.testing.assert_identical(
        cube.sar.stack_channels(bands=["vv", "vh"], times=[-2, -1]),
        sarcube.infer.stack_channels(cube, bands=["vv", "vh"], times=[-2, -1]),
    )
    with pytest.raises(sarcube.errors.ParameterError, match="Dataset"):
        cube["vv"].sar.stack_channels(bands=["vv"])
    for name in ("flood_map", "flood_thresholds", "to_zarr"):
        assert getattr(xr.Dataset.sar, name).__doc__ == getattr(sarcube, name).__doc__
