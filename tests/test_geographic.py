"""Geographic cubes: (…, latitude, longitude) and (…, lat, lon) work like (…, y, x)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube._geographic import spatial_aliases

from conftest import random_cube


def _geographic(cube: xr.Dataset, north: str = "latitude", east: str = "longitude") -> xr.Dataset:
    return cube.rename({"y": north, "x": east})


@pytest.mark.parametrize(("north", "east"), [("latitude", "longitude"), ("lat", "lon")])
def test_same_results_as_the_projected_names(north: str, east: str) -> None:
    cube = random_cube((3, 23, 31), seed=4)
    geo = _geographic(cube, north, east)
    pairs = {
        "lee": (sarcube.lee_filter(cube, enl=4.4), sarcube.lee_filter(geo, enl=4.4)),
        "median": (sarcube.median_filter(cube, size=5), sarcube.median_filter(geo, size=5)),
        "tv": (sarcube.tv_denoise(cube, weight=1.0), sarcube.tv_denoise(geo, weight=1.0)),
        "flood": (
            sarcube.flood_map(cube.isel(time=slice(0, 2)), cube.isel(time=2), median_size=3),
            sarcube.flood_map(geo.isel(time=slice(0, 2)), geo.isel(time=2), median_size=3),
        ),
        "small regions": (
            sarcube.remove_small_regions((cube["vv"] > 0.08).astype(np.uint8), min_size=3),
            sarcube.remove_small_regions((geo["vv"] > 0.08).astype(np.uint8), min_size=3),
        ),
    }
    for name, (projected, geographic) in pairs.items():
        assert north in geographic.dims and east in geographic.dims, name
        assert "y" not in geographic.dims, name
        back = geographic.rename({north: "y", east: "x"})
        xr.testing.assert_identical(back, projected)
    # a dims= argument in the cube's own names
    stats = sarcube.clamp_stats(geo, (0.1, 0.3), dims=("time", north, east))
    xr.testing.assert_identical(
        stats, sarcube.clamp_stats(cube, (0.1, 0.3), dims=("time", "y", "x"))
    )
    # the accessor too
    assert north in geo.sar.lee_filter(enl=4.4)["vv"].dims


def test_only_recognised_pairs_are_renamed() -> None:
    cube = random_cube((1, 7, 9))
    assert spatial_aliases(cube) == {}
    assert spatial_aliases(cube.rename({"y": "latitude", "x": "longitude"})) == {
        "latitude": "y",
        "longitude": "x",
    }
    assert spatial_aliases(cube.rename({"y": "latitude"})) == {}  # half geographic
    with pytest.raises(sarcube.SarcubeError, match="needs 'y' and 'x'"):
        sarcube.lee_filter(cube.rename({"y": "north", "x": "east"}), enl=4.4)


@pytest.mark.real_data
def test_opera_loaded_in_epsg_4326_runs_the_chain(opera_catalog: Path, tmp_path: Path) -> None:
    items = sarcube.search(
        opera_catalog, datetime="2021-11/2021-12", filter="\"opera:burst_id\" = 'T137-292318-IW1'"
    )
    cube = sarcube.load(
        items,
        crs="EPSG:4326",
        resolution=0.0003,
        chunks={"time": 1, "latitude": 48, "longitude": 64},
    )
    assert {"latitude", "longitude"} <= set(cube.dims) and str(cube.rio.crs) == "EPSG:4326"
    stats = sarcube.clamp_stats(cube, (0.15, 0.3, 0.5), dims=("time", "latitude", "longitude"))
    assert np.isfinite(stats["mean"].values).all()
    lee = sarcube.lee_filter(cube, enl=4.4)
    tv = sarcube.tv_denoise(lee, weight=1.0)
    flood = sarcube.flood_map(tv.isel(time=slice(0, -1)), tv.isel(time=-1))
    assert flood.dims == ("latitude", "longitude") and str(flood.rio.crs) == "EPSG:4326"
    store = sarcube.to_zarr(
        flood.to_dataset(name="flood").assign(vv=tv["vv"].isel(time=-1)), tmp_path / "geo.zarr"
    )
    back = sarcube.open_zarr(store)
    assert back["flood"].dims == ("latitude", "longitude")
    assert str(back.rio.crs) == "EPSG:4326"
    np.testing.assert_array_equal(back["flood"].values, flood.values)
    np.testing.assert_allclose(back["latitude"].values, cube["latitude"].values)
