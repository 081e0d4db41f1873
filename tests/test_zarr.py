"""Zarr round trip with CRS; refusing to overwrite or write where it cannot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dask
import numpy as np
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


_COMPUTED: list[int] = []


def _flaky(block: np.ndarray, fail_after: int) -> np.ndarray:
    """Doubles the block; raises once *fail_after* blocks were computed (a crash mid-write)."""
    if len(_COMPUTED) >= fail_after:
        raise RuntimeError(f"worker lost after {fail_after} blocks")
    _COMPUTED.append(1)
    return block * 2


def _lazy(fail_after: int) -> xr.Dataset:
    cube = random_cube((2, 40, 36)).chunk({"time": 1, "y": 20, "x": 18})  # 8 chunks per band
    meta = np.empty((0, 0, 0), dtype=np.float32)  # no call on a dummy block to guess it
    return cube.map(
        lambda da: da.copy(data=da.data.map_blocks(_flaky, fail_after, dtype=da.dtype, meta=meta))
    )


def _files(store: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()
    }


def test_resume_completes_an_interrupted_write(tmp_path: Path) -> None:
    with dask.config.set(scheduler="synchronous"):
        reference = sarcube.to_zarr(_lazy(10**6), tmp_path / "ref.zarr")
        _COMPUTED.clear()
        with pytest.raises(RuntimeError, match="worker lost"):
            sarcube.to_zarr(_lazy(5), tmp_path / "out.zarr")
        progress = tmp_path / "out.zarr.sarcube-progress"
        done = len(list(progress.glob("*.done")))  # one region = one chunk of both bands
        assert 0 < done < 8
        with pytest.raises(OutputError, match="resume=True"):
            sarcube.to_zarr(_lazy(10**6), tmp_path / "out.zarr")
        with pytest.raises(OutputError, match="other data"):
            sarcube.to_zarr(_lazy(10**6).isel(x=slice(0, 30)), tmp_path / "out.zarr", resume=True)
        _COMPUTED.clear()
        sarcube.to_zarr(_lazy(10**6), tmp_path / "out.zarr", resume=True)
    assert len(_COMPUTED) == 2 * (8 - done)  # finished chunks are not recomputed
    assert not progress.exists()
    assert _files(tmp_path / "out.zarr") == _files(reference)  # byte for byte
    xr.testing.assert_identical(
        sarcube.open_zarr(tmp_path / "out.zarr").compute(), sarcube.open_zarr(reference).compute()
    )
    with pytest.raises(OutputError, match="complete store"):
        sarcube.to_zarr(_lazy(10**6), tmp_path / "out.zarr", resume=True)


def test_resume_after_a_crash_before_any_chunk(tmp_path: Path) -> None:
    store = tmp_path / "out.zarr"
    store.mkdir()
    (tmp_path / "out.zarr.sarcube-progress").mkdir()  # metadata stage never finished
    sarcube.to_zarr(_lazy(10**6), store, resume=True)
    back = sarcube.open_zarr(store)
    assert back["vv"].shape == (2, 40, 36) and back.rio.crs is not None
    # a marker lost after its chunk was written: the chunk is written again, same store
    sarcube.to_zarr(_lazy(10**6), tmp_path / "new.zarr", resume=True)  # no store yet: fresh
    assert _files(tmp_path / "new.zarr") == _files(store)
