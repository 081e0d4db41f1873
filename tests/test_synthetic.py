"""The synthetic scene generator: determinism, backscatter levels, speckle, flood timing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

import sarcube
from sarcube.errors import OutputError, ParameterError
from sarcube.synthetic import CLASSES, FLOOD_DB, make_scene, write_event


def test_same_seed_same_scene() -> None:
    a = make_scene((64, 48), seed=7)
    b = make_scene((64, 48), seed=7)
    c = make_scene((64, 48), seed=8)
    np.testing.assert_array_equal(a.cube["vv"].values, b.cube["vv"].values)
    assert not np.array_equal(a.cube["vv"].values, c.cube["vv"].values, equal_nan=True)


def test_metadata_and_grid() -> None:
    scene = make_scene((40, 30), resolution=10.0, crs="EPSG:32611", origin=(300_000.0, 4_000_000.0))
    cube = scene.cube
    assert cube["vv"].dims == ("time", "y", "x") and cube["vv"].dtype == np.float32
    assert cube["vh"].attrs["units"] == "1"
    assert cube.odc.crs.epsg == 32611
    assert cube.odc.geobox.resolution.x == 10.0
    assert float(cube["x"][0]) == 300_005.0  # pixel centres
    assert scene.landcover.dtype == np.uint8
    assert scene.flood.attrs["flag_meanings"] == "not_flooded flooded"


def test_class_backscatter_and_speckle_statistics() -> None:
    """Class means come back in dB, and the speckle has the requested number of looks."""
    looks = 4.4
    scene = make_scene((512, 512), seed=2, looks=looks)
    no_speckle = make_scene((512, 512), seed=2, looks=float("inf"))
    lc = scene.landcover.values
    for t in range(2):  # pre-event dates: no flood
        for p, pol in enumerate(("vv", "vh")):
            clean = no_speckle.cube[pol].values[t]
            for code, (_, *levels) in CLASSES.items():
                sel = (lc == code) & np.isfinite(clean)
                if sel.sum() < 500:
                    continue
                mean_db = 10 * np.log10(np.mean(clean[sel]))
                # per-date class offsets (sd 0.4 dB) and the texture move the mean a little
                assert abs(mean_db - levels[p]) < 2.0, (pol, code, mean_db)
            # speckle: the ratio speckled / clean is gamma(L, 1/L): mean 1, ENL = L
            ratio = scene.cube[pol].values[t] / clean
            ratio = ratio[np.isfinite(ratio)]
            assert ratio.mean() == pytest.approx(1.0, abs=0.01)
            assert ratio.mean() ** 2 / ratio.var() == pytest.approx(looks, rel=0.05)


def test_flood_appears_on_flood_date_only() -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    dates = [start + dt.timedelta(days=12 * k) for k in range(4)]
    scene = make_scene((128, 128), dates=dates, flood_date=dates[2], looks=float("inf"), seed=4)
    flood = scene.flood.values
    assert flood[0].sum() == 0 and flood[1].sum() == 0
    assert flood[2].sum() > 0
    np.testing.assert_array_equal(flood[2], flood[3])
    vv = scene.cube["vv"].values
    where = (flood[2] == 1) & np.isfinite(vv[2])
    # flooded pixels are dark after, not before
    assert 10 * np.log10(np.median(vv[2][where])) == pytest.approx(FLOOD_DB[0], abs=1.5)
    assert np.median(vv[1][where]) > 3 * np.median(vv[2][where])
    # permanent water is never counted as flood
    assert not ((scene.landcover.values == 0) & (flood[2] == 1)).any()


def test_nodata_edge_is_nan_everywhere() -> None:
    scene = make_scene((64, 64))
    nan = np.isnan(scene.cube["vv"].values)
    assert 0 < nan[0].mean() < 0.1
    np.testing.assert_array_equal(nan[0], nan[-1])
    np.testing.assert_array_equal(nan[0], np.isnan(scene.cube["vh"].values[0]))
    assert not np.isnan(make_scene((64, 64), nodata_edge=False).cube["vv"].values).any()


def test_write_event_files(tmp_path: Path) -> None:
    event = write_event(tmp_path / "ev", (48, 40), seed=1)
    assert len(event.files) == 6 and all(f.exists() for f in event.files)
    with rasterio.open(event.files[0]) as src:
        assert src.crs.to_epsg() == 32633 and src.dtypes[0] == "float32"
        assert src.profile["tiled"] and np.isnan(src.nodata)
    with rasterio.open(event.truth / "flood.tif") as src:
        np.testing.assert_array_equal(src.read(1), make_scene((48, 40), seed=1).flood.values[-1])
    with pytest.raises(OutputError, match="overwrite=True"):
        write_event(tmp_path / "ev", (48, 40))
    write_event(tmp_path / "ev", (48, 40), overwrite=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shape": (4, 64)},
        {"looks": 0},
        {"dates": []},
        {"dates": [dt.datetime(2024, 2, 1), dt.datetime(2024, 1, 1)]},
    ],
)
def test_bad_parameters(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ParameterError):
        make_scene(**kwargs)


def test_lazy_cube_is_lazy_chunk_invariant_and_floods_the_last_date() -> None:
    from conftest import raise_if_dask_computes

    with raise_if_dask_computes():
        big = sarcube.synthetic.lazy_cube((200_000, 150_000), chunks=4096)
    assert big["vv"].shape == (3, 200_000, 150_000) and big.rio.crs is not None
    a = sarcube.synthetic.lazy_cube((300, 280), chunks=128, seed=5)
    b = sarcube.synthetic.lazy_cube((300, 280), chunks=(97, 280), seed=5)
    xr.testing.assert_identical(a.compute(), b.compute())
    c = sarcube.synthetic.lazy_cube((300, 280), chunks={"time": 1, "y": 97, "x": 280}, seed=5)
    assert c["vv"].chunks == b["vv"].chunks  # xarray-style chunk dicts too
    window = big.isel(y=slice(100_000, 100_300), x=slice(70_000, 70_280))
    assert np.isfinite(window["vh"].values).all() and (window["vh"].values > 0).all()
    db = 10 * np.log10(a["vv"].values)
    assert -16 < db[0].mean() < -8  # land-cover backscatter
    assert db[-1].mean() < db[0].mean() - 0.5  # flooded open land after the event
    speckle = a["vv"].values[1] / a["vv"].values[0]
    assert 0.3 < np.var(np.log(speckle)) < 1.5  # two independent 4.4-look draws
    assert not np.array_equal(
        a["vv"].values, sarcube.synthetic.lazy_cube((300, 280), seed=6)["vv"].values
    )


@pytest.mark.parametrize(
    ("chunks", "match"),
    [
        ({"y": 64}, "need 'y' and 'x'"),
        ({"y": 64, "x": 64, "band": 2}, "need 'y' and 'x'"),
        ({"y": 64, "x": 64, "time": 3}, "one date"),
        ((0, 64), "positive int"),
        ("64", "positive int"),
        (True, "positive int"),
    ],
)
def test_lazy_cube_refuses_bad_chunks(chunks: object, match: str) -> None:
    with pytest.raises(sarcube.errors.ParameterError, match=match):
        sarcube.synthetic.lazy_cube((128, 128), chunks=chunks)  # type: ignore[arg-type]
