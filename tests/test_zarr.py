"""Zarr round trip with CRS; refusing to overwrite or write where it cannot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import xarray as xr

import sarcube
from sarcube.errors import OutputError

from conftest import random_cube


def test_round_trip_keeps_crs_and_coords(synthetic_event: Any, tmp_path: Path) -> None:
    cube = sarcube.open_cube(synthetic_event.catalog, chunks={"time": 1, "y": 50, "x": 30})
    store = sarcube.to_zarr(cube, tmp_path / "cube.zarr")
    back = sarcube.open_zarr(store)
    assert back["vv"].chunks is not None
    xr.testing.assert_identical(back.compute(), cube.compute())
    assert back.odc.geobox == cube.odc.geobox
    assert back["vv"].encoding["chunks"] == (1, 50, 30)


def test_irregular_chunks_are_made_zarr_compatible(tmp_path: Path) -> None:
    cube = random_cube((2, 23, 31)).chunk({"y": (5, 9, 9), "x": (11, 20)})
    back = sarcube.open_zarr(sarcube.to_zarr(cube["vv"], tmp_path / "vv.zarr"))
    xr.testing.assert_identical(back["vv"].compute(), cube["vv"].compute())


def test_refuses_existing_and_unwritable(tmp_path: Path) -> None:
    cube = random_cube()
    sarcube.to_zarr(cube, tmp_path / "a.zarr")
    with pytest.raises(OutputError, match="mode='w'"):
        sarcube.to_zarr(cube, tmp_path / "a.zarr")
    sarcube.to_zarr(sarcube.to_db(cube), tmp_path / "a.zarr", mode="w")
    assert sarcube.open_zarr(tmp_path / "a.zarr")["vv"].attrs["units"] == "dB"
    with pytest.raises(OutputError, match="writable folder"):
        sarcube.to_zarr(cube, tmp_path / "missing" / "b.zarr")
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OutputError):
            sarcube.to_zarr(cube, locked / "c.zarr")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(OutputError, match="does not exist"):
        sarcube.open_zarr(tmp_path / "nothing.zarr")
