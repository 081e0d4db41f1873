"""crop_to_valid and pixel_size_m: a cube's extent of data and its pixel size in metres."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube.errors import ParameterError

from conftest import random_cube


def test_crop_to_valid_keeps_the_box_of_data_on_any_chunking() -> None:
    cube = random_cube()
    cube = cube.where(cube.y != cube.y[-1])  # the last row empty everywhere
    edge = np.zeros(cube.sizes["x"], bool)
    edge[:3] = True  # the first three columns empty, but only in vv
    cube["vv"] = cube["vv"].where(~xr.DataArray(edge, dims="x"))
    cube["vh"] = cube["vh"].where(~xr.DataArray(edge, dims="x"))
    cube["vh"][0, :, 3] = np.nan  # one date's column: the others still hold data
    expected = cube.isel(y=slice(0, -1), x=slice(3, None))
    for data in (cube, cube.chunk({"y": 7, "x": 5})):
        cropped = sarcube.crop_to_valid(data)
        xr.testing.assert_identical(cropped.compute(), expected)
        assert cropped.rio.crs == cube.rio.crs
    assert sarcube.crop_to_valid(cube["vv"]).shape == expected["vv"].shape
    with pytest.raises(ParameterError, match="no pixel holds data"):
        sarcube.crop_to_valid(cube["vv"] * np.nan)


def test_crop_to_valid_on_a_geographic_grid() -> None:
    da = xr.DataArray(
        np.full((4, 6), np.nan, np.float32),
        dims=("latitude", "longitude"),
        coords={"latitude": [3.0, 2.0, 1.0, 0.0], "longitude": np.arange(6.0)},
    )
    da[1:3, 2:5] = 1.0
    out = sarcube.crop_to_valid(da)
    assert out.dims == ("latitude", "longitude")
    assert out["latitude"].values.tolist() == [2.0, 1.0]
    assert out["longitude"].values.tolist() == [2.0, 3.0, 4.0]


def test_pixel_size_m_projected_and_geographic() -> None:
    cube = random_cube()  # 20 m, EPSG:32633
    size = sarcube.pixel_size_m(cube)
    step = float(abs(cube.x[1] - cube.x[0]))
    assert np.allclose(size["dx"], step) and np.allclose(size["area"], step**2)
    # one arc-second: at the equator 30.92 m east-west and 30.72 m north-south (WGS 84)
    arcsec = 1 / 3600
    grid = xr.DataArray(
        np.zeros((3, 3)),
        dims=("lat", "lon"),
        coords={"lat": [0.0, 30.0, 60.0], "lon": [10.0, 10.0 + arcsec, 10.0 + 2 * arcsec]},
    )
    size = sarcube.pixel_size_m(grid)
    assert size["dx"].dims == ("lat",)
    assert size["dx"].values[0] == pytest.approx(30.922, abs=1e-3)
    # north-south: the 30° step of this grid, on the meridional radius at each row
    assert size["dy"].values[0] == pytest.approx(30 * 3600 * 30.715, rel=1e-4)
    # east-west shrinks with the cosine of the latitude (and the ellipsoid's N(φ))
    assert size["dx"].values[2] == pytest.approx(15.50, abs=0.01)
    assert size["area"].values[1] == pytest.approx(size["dx"].values[1] * size["dy"].values[1])
    uneven = grid.assign_coords(lon=[10.0, 10.1, 10.3])
    with pytest.raises(ParameterError, match="not evenly spaced"):
        sarcube.pixel_size_m(uneven)
