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
from sarcube.errors import InputNotFoundError, OutputError, ParameterError

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
    with pytest.raises(InputNotFoundError, match="does not exist"):
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
    for incomplete in ("raise", "mask"):
        with pytest.raises(OutputError, match=r"before any chunk.*resume=True"):
            sarcube.open_zarr(store, incomplete=incomplete)  # type: ignore[arg-type]
    sarcube.to_zarr(_lazy(10**6), store, resume=True)
    back = sarcube.open_zarr(store)
    assert back["vv"].shape == (2, 40, 36) and back.rio.crs is not None
    # killed after removing an older store, before writing the new one
    gone = tmp_path / "gone.zarr"
    (tmp_path / "gone.zarr.sarcube-progress").mkdir()
    with pytest.raises(OutputError, match=r"before any chunk.*resume=True"):
        sarcube.open_zarr(gone)
    sarcube.to_zarr(_lazy(10**6), gone, resume=True)
    assert _files(gone) == _files(store)
    # a marker lost after its chunk was written: the chunk is written again, same store
    sarcube.to_zarr(_lazy(10**6), tmp_path / "new.zarr", resume=True)  # no store yet: fresh
    assert _files(tmp_path / "new.zarr") == _files(store)


def _stop_after(block: np.ndarray, fail_after: int) -> np.ndarray:
    """The block unchanged; raises once *fail_after* blocks were computed."""
    if len(_COMPUTED) >= fail_after:
        raise RuntimeError(f"worker lost after {fail_after} blocks")
    _COMPUTED.append(1)
    return block


def _products(fail_after: int) -> xr.Dataset:
    """A float band, a CF class map with a nodata flag and plain integer counts."""
    cube = random_cube((2, 40, 36), nan_block=False)
    flood = (cube["vv"] < 0.08).astype(np.uint8).where(cube["vh"] > 0.001, 255).astype(np.uint8)
    flood.attrs = {"flag_values": [0, 1, 255], "flag_meanings": "no_flood flood nodata"}
    ds = xr.Dataset(
        {"vv": cube["vv"], "flood": flood, "count": (cube["vv"] * 1000).astype(np.int16)},
        coords=cube.coords,
    ).chunk({"time": 1, "y": 20, "x": 18})  # 8 regions
    return ds.map(
        lambda da: da.copy(
            data=da.data.map_blocks(
                _stop_after, fail_after, dtype=da.dtype, meta=np.empty((0, 0, 0), da.dtype)
            )
        )
    )


def test_open_zarr_refuses_or_masks_an_interrupted_store(tmp_path: Path) -> None:
    store = tmp_path / "out.zarr"
    expected = _products(10**6).compute()
    with dask.config.set(scheduler="synchronous"):
        _COMPUTED.clear()
        with pytest.raises(RuntimeError, match="worker lost"):
            sarcube.to_zarr(_products(10), store)  # a region holds 3 blocks
    done = {
        tuple(int(i) for i in p.name.removesuffix(".done").split("_")[1].split("."))
        for p in (tmp_path / "out.zarr.sarcube-progress").glob("*.done")
    }
    assert 0 < len(done) < 8

    with pytest.raises(OutputError, match=rf"{len(done)} of 8 chunks.*resume=True.*'mask'"):
        sarcube.open_zarr(store)
    with pytest.raises(ParameterError, match="chunks=None"):
        sarcube.open_zarr(store, incomplete="mask", chunks=None)
    with pytest.raises(ParameterError, match="incomplete"):
        sarcube.open_zarr(store, incomplete="ignore")  # type: ignore[arg-type]

    masked = sarcube.open_zarr(store, incomplete="mask")
    assert masked["vv"].chunks == ((1, 1), (20, 20), (18, 18))  # the store's chunks
    assert (masked["vv"].dtype, masked["flood"].dtype) == (np.float32, np.uint8)
    assert masked["count"].dtype == np.float32  # no nodata value: promoted to hold NaN
    assert "dtype" not in masked["count"].encoding  # writing it again keeps the NaN
    assert masked["flood"].attrs == expected["flood"].attrs
    rechunked = sarcube.open_zarr(store, incomplete="mask", chunks={"y": 40, "x": 36})
    assert rechunked["vv"].chunks == ((1, 1), (40,), (36,))
    xr.testing.assert_identical(rechunked.compute(), masked.compute())
    masked = masked.compute()
    for t, iy, ix in np.ndindex(2, 2, 2):
        region = {"time": t, "y": slice(20 * iy, 20 * iy + 20), "x": slice(18 * ix, 18 * ix + 18)}
        got, want = masked.isel(region), expected.isel(region)
        if (t, iy, ix) in done:
            np.testing.assert_array_equal(got["vv"].values, want["vv"].values)
            np.testing.assert_array_equal(got["flood"].values, want["flood"].values)
            np.testing.assert_array_equal(got["count"].values, want["count"].values)
        else:
            assert np.isnan(got["vv"].values).all() and np.isnan(got["count"].values).all()
            assert (got["flood"].values == 255).all()

    sarcube.to_zarr(_products(10**6), store, resume=True)
    for incomplete in ("raise", "mask"):
        back = sarcube.open_zarr(store, incomplete=incomplete)  # type: ignore[arg-type]
        xr.testing.assert_identical(back.compute(), expected)


def test_lazy_coordinates_are_written(tmp_path: Path) -> None:
    cube = random_cube().chunk({"y": 7})
    cube = cube.assign_coords(northing=("y", cube["y"].chunk(7).data / 1000))
    back = sarcube.open_zarr(sarcube.to_zarr(cube, tmp_path / "c.zarr"))
    xr.testing.assert_identical(back["northing"].compute(), cube["northing"].compute())


def test_tiled_writes_compute_each_tile_alone_and_equal_one_write(tmp_path: Path) -> None:
    cube = random_cube((2, 40, 50)).chunk({"time": 1, "y": 10, "x": 10})
    filtered = sarcube.boxcar_filter(cube, size=5)  # halos across chunks
    computes = []

    def counting(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        computes.append(1)
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=counting):
        sarcube.to_zarr(filtered, tmp_path / "tiled.zarr", tiles=2)
    assert len(computes) == 2 * 3  # 4 x 5 chunk positions in tiles of 2 x 2
    whole = sarcube.to_zarr(filtered, tmp_path / "whole.zarr")
    xr.testing.assert_identical(
        sarcube.open_zarr(tmp_path / "tiled.zarr").compute(), sarcube.open_zarr(whole).compute()
    )
    with pytest.raises(ParameterError, match="tiles must be a positive integer"):
        sarcube.to_zarr(filtered, tmp_path / "bad.zarr", tiles=0)


def test_a_replace_killed_while_removing_the_old_store_leaves_no_complete_looking_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "out.zarr"
    sarcube.to_zarr(random_cube((2, 20, 18), seed=1).chunk({"y": 10}), store)
    import shutil

    removing = shutil.rmtree

    def dies_halfway(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path) == store:  # the chunks go, then the process is killed
            for chunks in sorted(Path(path).glob("*/c")):
                if chunks.is_dir():
                    removing(chunks)
                else:
                    chunks.unlink()
            raise KeyboardInterrupt
        removing(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        sarcube.to_zarr(random_cube((2, 20, 18), seed=2).chunk({"y": 10}), store, mode="w")
    monkeypatch.undo()
    assert (store / "zarr.json").is_file()  # the metadata survived, the chunks did not
    with pytest.raises(OutputError, match="interrupted write"):
        sarcube.open_zarr(store)
    new = random_cube((2, 20, 18), seed=2).chunk({"y": 10})
    sarcube.to_zarr(new, store, resume=True)  # starts afresh
    xr.testing.assert_identical(
        sarcube.open_zarr(store).compute(),
        sarcube.open_zarr(sarcube.to_zarr(new, tmp_path / "ref.zarr")).compute(),
    )
