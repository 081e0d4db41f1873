"""search / load / open_cube on static catalogs (real OPERA RTC-S1 and synthetic data)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio

import sarcube
from sarcube.catalog import build
from sarcube.errors import (
    AssetReadError,
    BandNotFoundError,
    CatalogError,
    EmptySearchError,
    InputNotFoundError,
    ParameterError,
)

from conftest import raise_if_dask_computes
from test_catalog import _tif

BURST = "T137-292318-IW1"


def _read(href: str) -> np.ndarray:
    with rasterio.open(href) as src:
        return src.read(1)


# --------------------------------------------------------------------------
# search on a local static catalog


@pytest.mark.real_data
def test_search_local_filters(opera_catalog: Path) -> None:
    everything = sarcube.search(opera_catalog)
    assert len(everything) == 315
    by_id = sarcube.search(opera_catalog, ids=[f"OPERA_L2_RTC-S1_{BURST}_20211119T015854Z"])
    assert [i.id for i in by_id] == [f"OPERA_L2_RTC-S1_{BURST}_20211119T015854Z"]
    # a month expands to the whole month; 15 bursts x 4 dates in December 2021
    december = sarcube.search(opera_catalog, datetime="2021-12")
    assert len(december) == 60
    assert all(i.datetime is not None and i.datetime.month == 12 for i in december)
    interval = sarcube.search(opera_catalog, datetime=("2021-11-19", dt.date(2021, 11, 25)))
    assert len(interval) == 30
    open_end = sarcube.search(opera_catalog, datetime="2025-01-01/..")
    assert {i.datetime.date() for i in open_end} == {dt.date(2025, 1, 2)}  # type: ignore[union-attr]
    # bbox around the first burst only
    first = everything[0]
    assert first.bbox is not None
    w, s = first.bbox[0], first.bbox[1]
    tiny = (w + 1e-4, s + 1e-4, w + 2e-4, s + 2e-4)
    hits = sarcube.search(opera_catalog, bbox=tiny)
    assert 0 < len(hits) < 315
    assert all(sarcube.io.stac._search._bbox_intersects(i.bbox, tiny) for i in hits)  # type: ignore[arg-type]
    assert len(sarcube.search(opera_catalog, collections="opera-rtc-s1", max_items=7)) == 7
    cql = sarcube.search(
        opera_catalog,
        filter={"op": "=", "args": [{"property": "opera:burst_id"}, BURST]},
    )
    assert len(cql) == 21
    text = sarcube.search(opera_catalog, filter=f"\"opera:burst_id\" = '{BURST}'")
    assert [i.id for i in text] == [i.id for i in cql]


@pytest.mark.real_data
def test_search_empty_and_bad_arguments(opera_catalog: Path) -> None:
    with pytest.raises(EmptySearchError, match="widen the search"):
        sarcube.search(opera_catalog, datetime="1999")
    with pytest.raises(EmptySearchError):
        sarcube.search(opera_catalog, collections=["other"])
    with pytest.raises(ParameterError, match="ISO 8601"):
        sarcube.search(opera_catalog, datetime="yesterday")
    with pytest.raises(ParameterError, match="start is after"):
        sarcube.search(opera_catalog, datetime="2022/2021")
    with pytest.raises(ParameterError, match="bbox"):
        sarcube.search(opera_catalog, bbox=(0, 10, 1, 5))
    with pytest.raises(ParameterError, match="CQL2"):
        sarcube.search(opera_catalog, filter="this is not cql2 ((")
    with pytest.raises(InputNotFoundError, match="does not exist"):
        sarcube.search(opera_catalog.parent / "nope.json")


def test_search_item_collection_and_items(synthetic_event: Any, tmp_path: Path) -> None:
    items = sarcube.search(synthetic_event.catalog)
    assert len(items) == 3
    path = tmp_path / "items.json"
    items.save_object(dest_href=str(path))
    assert [i.id for i in sarcube.search(path)] == [i.id for i in items]
    assert len(sarcube.search(list(items), datetime="2024-05-14")) == 1
    with pytest.raises(ParameterError, match=r"pystac\.Item"):
        sarcube.search([1, 2])  # type: ignore[list-item]
    # an empty search is an error, never an empty cube
    with pytest.raises(EmptySearchError, match="widen the search"):
        sarcube.search(synthetic_event.catalog, datetime="1999")
    with pytest.raises(EmptySearchError, match="widen the search"):
        sarcube.open_cube(synthetic_event.catalog, ids=["no-such-item"], chunks={"y": 32})


# --------------------------------------------------------------------------
# load


@pytest.mark.real_data
@pytest.mark.parametrize("chunks", [None, {"time": 1, "y": 37, "x": 41}])
def test_load_equals_rasterio(opera_catalog: Path, chunks: dict[str, int] | None) -> None:
    items = sarcube.search(opera_catalog, filter=f"\"opera:burst_id\" = '{BURST}'", datetime="2021")
    with raise_if_dask_computes():
        cube = sarcube.load(items, chunks=chunks)
    assert list(cube.data_vars) == ["vv", "vh"]
    assert cube["vv"].dims == ("time", "y", "x")
    assert cube["vv"].dtype == np.float32
    assert (cube["vv"].chunks is not None) == (chunks is not None)
    assert cube["vv"].attrs == {"units": "1", "long_name": "VV backscatter (linear power)"}
    assert cube.odc.crs.epsg == 32611
    assert "spatial_ref" in cube.coords
    assert cube.sizes == {"time": 6, "y": 100, "x": 100}
    ordered = sorted(items, key=lambda i: i.datetime)  # type: ignore[arg-type, return-value]
    assert list(cube["platform"].values) == [i.properties["platform"] for i in ordered]
    assert set(cube["platform"].values) == {"sentinel-1a", "sentinel-1b"}
    assert list(cube["relative_orbit"].values) == [137] * 6
    assert list(cube["product_type"].values) == ["RTC"] * 6
    np.testing.assert_array_equal(
        cube["time"].values,
        np.array([i.datetime.replace(tzinfo=None) for i in ordered], dtype="datetime64[ns]"),  # type: ignore[union-attr]
    )
    for t, item in enumerate(ordered):
        for band in ("vv", "vh"):
            np.testing.assert_array_equal(cube[band].values[t], _read(item.assets[band].href))


@pytest.mark.real_data
def test_load_two_bursts_mosaics_per_solar_day(opera_catalog: Path) -> None:
    items = sarcube.search(
        opera_catalog,
        filter={
            "op": "in",
            "args": [{"property": "opera:burst_id"}, ["T137-292318-IW1", "T137-292319-IW1"]],
        },
        datetime="2021-11-19",
    )
    assert len(items) == 2
    plan = sarcube.plan_load(items, bands="VV")
    assert plan.bands == ("vv",)
    assert len(plan.groups) == 1 and len(plan.groups[0]) == 2
    assert "2 items -> 1 time steps" in str(plan)
    cube = sarcube.load(items, bands=["vv"], chunks={"y": 64, "x": 64})
    assert cube.sizes["time"] == 1
    assert cube.sizes["y"] > 100 or cube.sizes["x"] > 100  # the union of two bursts


def test_load_band_errors(synthetic_event: Any) -> None:
    items = sarcube.search(synthetic_event.catalog)
    with pytest.raises(BandNotFoundError, match=r"available: \['vv', 'vh'\]"):
        sarcube.load(items, bands=["hh"])
    # remove VH from one item: asking for it names the items that lack it
    broken = [i.clone() for i in items]
    del broken[1].assets["vh"]
    with pytest.raises(BandNotFoundError, match="missing from 1 of 3 items"):
        sarcube.load(broken, bands=["vv", "vh"])
    assert list(sarcube.load(broken, chunks={"y": 32, "x": 32}).data_vars) == ["vv"]
    # no polarisation common to every item: the error lists those seen
    del broken[0].assets["vv"]
    with pytest.raises(BandNotFoundError, match=r"seen: \['vv', 'vh'\].*pass bands="):
        sarcube.load(broken)
    with pytest.raises(EmptySearchError):
        sarcube.load([])
    with pytest.raises(ParameterError, match="chunks"):
        sarcube.load(items, chunks={"band": 1})
    with pytest.raises(ParameterError, match="resampling"):
        sarcube.load(items, resampling="magic")
    with pytest.raises(ParameterError, match="retries"):
        sarcube.load(items, retries=-1)
    with pytest.raises(ParameterError, match="retry_backoff_s"):
        sarcube.load(items, retry_backoff_s=float("nan"))
    plan = sarcube.plan_load(items, retries=5, retry_backoff_s=0.1)
    assert (plan.retries, plan.retry_backoff_s) == (5, 0.1)


def test_load_mixed_crs_needs_crs(tmp_path: Path) -> None:
    _tif(tmp_path / "in" / "a_20240502_VV.tif", epsg=32633)
    _tif(tmp_path / "in" / "b_20240502_VV.tif", epsg=32632, x0=700_000.0)
    build(tmp_path / "in", tmp_path / "cat", collection_id="mixed", pattern="generic")
    items = sarcube.search(tmp_path / "cat")
    with pytest.raises(CatalogError, match=r"2 CRSs.*pass crs= and resolution="):
        sarcube.load(items)
    cube = sarcube.load(items, crs="EPSG:32633", resolution=20, chunks={"x": 64, "y": 64})
    assert cube.odc.crs.epsg == 32633
    assert float(cube["vv"].max()) == pytest.approx(0.05)
    # the requested grid is the one delivered, whichever CRS is most common
    other = sarcube.load(items, crs="EPSG:32632", resolution=40)
    assert other.odc.crs.epsg == 32632
    assert other.odc.geobox.resolution.x == 40


def test_failed_asset_raises_naming_it_or_is_listed(synthetic_event: Any, tmp_path: Path) -> None:
    # copy the event's files, then corrupt one asset
    data = tmp_path / "data"
    shutil.copytree(synthetic_event.root / "data", data)
    build(data, tmp_path / "cat", collection_id="c", pattern=sarcube.synthetic.SYNTHETIC_PATTERN)
    victim = sorted(data.glob("*_VH.tif"))[1]
    victim.write_bytes(b"not a tiff at all")
    items = sarcube.search(tmp_path / "cat")

    cube = sarcube.load(items, chunks={"y": 48, "x": 40})  # lazy: nothing read yet
    with pytest.raises(AssetReadError, match=victim.name):
        cube.compute()

    tolerant = sarcube.load(items, chunks={"y": 48, "x": 40}, on_error="skip")
    failed = sarcube.failed_assets(tolerant)
    assert [f.href for f in failed] == [victim.resolve().as_uri()]
    assert failed[0].band == "vh"
    assert tolerant.sizes["time"] == 2  # the item with the broken asset is left out
    assert not np.isnan(tolerant["vh"].values).all(axis=(1, 2)).any()
    assert sarcube.failed_assets(cube) == []

    # the plan itself opens nothing: all three items, nothing failed yet
    plan = sarcube.plan_load(items, chunks={"y": 48, "x": 40}, on_error="skip")
    assert (len(plan.items), plan.failed) == (3, ())
    (bad,) = failed
    fewer = plan.without(failed)
    assert [i.id for i in fewer.items] == [i.id for i in plan.items if i.id != bad.item]
    assert fewer.failed == (bad,) and len(fewer.groups) == len(fewer.times) == 2
    assert (
        all(t in plan.times for t in fewer.times) and fewer.metadata.keys() == plan.metadata.keys()
    )
    assert plan.without([]) is plan
    everything = [
        sarcube.io.FailedAsset(item=i.id, band="vv", href="x", error="gone") for i in plan.items
    ]
    with pytest.raises(AssetReadError, match="every item"):
        plan.without(everything)


def test_open_cube_synthetic_lazy(synthetic_event: Any) -> None:
    with raise_if_dask_computes():
        cube = sarcube.open_cube(
            synthetic_event.catalog, datetime="2024-05-10/..", chunks={"time": 1, "y": 50, "x": 30}
        )
    assert cube.sizes == {"time": 2, "y": 96, "x": 80}
    assert cube["vv"].data.chunksize == (1, 50, 30)
    assert list(cube["orbit_state"].values) == ["descending", "descending"]
    np.testing.assert_array_equal(
        cube["vv"].isel(time=-1).values,
        sarcube.synthetic.make_scene((96, 80), seed=3).cube["vv"].isel(time=-1).values,
    )


def test_item_without_polarisation_assets() -> None:
    item = pystac.Item("x", None, None, dt.datetime(2024, 1, 1), {})
    item.add_asset("thumbnail", pystac.Asset("file:///tmp/x.png"))
    with pytest.raises(CatalogError, match="asset keys seen"):
        sarcube.load([item])


def test_load_bbox_crops_and_stats_keep_time_metadata(synthetic_event: Any) -> None:
    items = sarcube.search(synthetic_event.catalog)
    full = sarcube.load(items, chunks={"y": 40, "x": 40})
    x0, y0 = float(full.x[10]), float(full.y[20])
    x1, y1 = float(full.x[40]), float(full.y[60])
    # a bbox in degrees from the cube's own grid
    from odc.geo.geom import BoundingBox

    bbox = BoundingBox(x0, y1, x1, y0, crs=full.odc.crs).to_crs("EPSG:4326")
    cropped = sarcube.load(items, bbox=tuple(bbox), chunks={"y": 40, "x": 40})
    assert cropped.sizes["y"] < full.sizes["y"] and cropped.sizes["x"] < full.sizes["x"]
    inner = cropped["vv"].isel(time=0).sel(x=slice(x0, x1), y=slice(y0, y1))
    np.testing.assert_array_equal(
        inner.values, full["vv"].isel(time=0).sel(x=inner.x, y=inner.y).values
    )
    stats = sarcube.clamp_stats(full)
    assert list(stats["orbit_state"].values) == ["descending"] * 3
    assert "spatial_ref" not in stats.coords


def test_a_load_plan_has_a_stable_dask_token(opera_catalog: Path) -> None:
    from dask.base import tokenize

    items = sarcube.search(opera_catalog, datetime="2021-11-19")
    again = sarcube.search(opera_catalog, datetime="2021-11-19")  # new Item objects
    plan = sarcube.plan_load(items, bands="VV", chunks={"y": 64, "x": 64})
    same = sarcube.plan_load(again, bands="VV", chunks={"y": 64, "x": 64})
    assert plan.items[0] is not same.items[0]
    assert tokenize(plan) == tokenize(same)
    assert tokenize(plan) != tokenize(
        sarcube.plan_load(items, bands="VV", chunks={"y": 32, "x": 64})
    )
    assert tokenize(plan) != tokenize(
        sarcube.plan_load(items[:1], bands="VV", chunks={"y": 64, "x": 64})
    )
