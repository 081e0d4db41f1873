"""The .sar accessor forwards to the functions and keeps their docstrings."""

from __future__ import annotations

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
