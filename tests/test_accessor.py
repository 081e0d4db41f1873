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
    with pytest.raises(AttributeError, match=r"needs a Dataset cube.*to_dataset"):
        cube["vv"].sar.stack_channels(bands=["vv"])
    for name in ("flood_map", "flood_thresholds", "to_zarr"):
        assert getattr(xr.Dataset.sar, name).__doc__ == getattr(sarcube, name).__doc__


def _public_functions() -> dict[str, object]:
    import inspect

    found = {n: getattr(sarcube, n) for n in sarcube._EXPORTS}
    for module in (sarcube.insar, sarcube.infer):
        found |= {n: getattr(module, n) for n in module.__all__}
    return {n: f for n, f in found.items() if inspect.isfunction(f)}


def test_every_operation_on_an_xarray_object_is_on_the_accessor() -> None:
    import inspect

    deprecated = {"classify"}  # infer.classify, renamed most_likely_class
    for name, function in _public_functions().items():
        if name in deprecated:
            continue
        if name == "coregister":  # the object is its `like=`, the grid to reproject onto
            assert hasattr(xr.DataArray.sar, name) and hasattr(xr.Dataset.sar, name)
            continue
        first = next(iter(inspect.signature(function).parameters.values()), None)
        kind = str(first.annotation) if first is not None else ""
        takes = {part.strip().removeprefix("xr.") for part in kind.split("|")}
        on_array = bool(takes & {"DataArray", "XObj"})
        on_dataset = bool(takes & {"Dataset", "XObj"})
        assert hasattr(xr.DataArray.sar, name) == on_array, (name, kind)
        assert hasattr(xr.Dataset.sar, name) == on_dataset, (name, kind)


def test_generated_methods_keep_the_function_signature_and_docs() -> None:
    import inspect

    cube = random_cube()
    for accessor in (xr.DataArray.sar, xr.Dataset.sar):
        for name in vars(accessor):
            if name.startswith("_") or name == "coregister":
                continue
            function = getattr(accessor, name)
            target = getattr(sarcube, name, None) or getattr(sarcube.insar, name, None)
            target = target or getattr(sarcube.infer, name)
            assert function.__doc__ == target.__doc__, name
            wanted = list(inspect.signature(target).parameters)[1:]
            assert list(inspect.signature(function).parameters) == ["self", *wanted], name
    bound = cube.sar.lee_filter
    assert list(inspect.signature(bound).parameters) == ["size", "variant", "enl", "damping"]
    assert bound.__doc__ == sarcube.lee_filter.__doc__
    with pytest.raises(AttributeError):
        cube.sar.anything = 1  # __slots__: the accessor holds no state
    with pytest.raises(AttributeError, match=r"one band or map: cube\['vv'\]\.sar\.threshold"):
        cube.sar.threshold()
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        cube.sar.nothing  # noqa: B018


def test_accessor_forwards_grid_exports_metrics_and_insar_corrections(tmp_path) -> None:
    import numpy as np

    scene = sarcube.synthetic.make_scene((48, 40), seed=5)
    cube = scene.cube
    xr.testing.assert_identical(cube.sar.crop_to_valid(), sarcube.crop_to_valid(cube))
    assert cube["vv"].sar.pixel_size_m() == sarcube.pixel_size_m(cube["vv"])
    truth = scene.flood.isel(time=-1, drop=True)
    pred = (cube["vv"].isel(time=-1, drop=True) < 0.02).astype("uint8")
    xr.testing.assert_identical(
        pred.sar.segmentation_metrics(truth, classes=[0, 1]),
        sarcube.segmentation_metrics(pred, truth, classes=[0, 1]),
    )
    path = pred.sar.to_cog(tmp_path / "flood.tif")
    assert path == sarcube.to_cog(pred, tmp_path / "again.tif").with_name("flood.tif")
    phase = xr.DataArray(np.linspace(-3, 3, 12).reshape(3, 4), dims=("y", "x"))
    ion = xr.full_like(phase, 0.5)
    xr.testing.assert_identical(
        phase.sar.ionosphere_correction(ion, wrapped=True),
        sarcube.insar.ionosphere_correction(phase, ion, wrapped=True),
    )
