"""Static catalog building from per-polarisation GeoTIFFs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from rasterio.transform import from_origin

from sarcube.catalog import PATTERNS, FilenamePattern, build
from sarcube.errors import CatalogError, InputNotFoundError, OutputError, ParameterError


def _tif(
    path: Path, *, shape: tuple[int, int] = (8, 10), x0: float = 500_000.0, epsg: int = 32633
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": shape[1],
        "height": shape[0],
        "count": 1,
        "dtype": "float32",
        "crs": f"EPSG:{epsg}",
        "transform": from_origin(x0, 5_000_000.0, 20, 20),
        "nodata": np.nan,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full(shape, 0.05, dtype=np.float32), 1)
    return path


@pytest.mark.real_data
def test_build_opera_rtc_s1(opera_dir: Path, tmp_path: Path) -> None:
    collection = build(opera_dir, tmp_path / "cat", collection_id="opera")
    items = list(collection.get_items())
    n_files = len(list(opera_dir.rglob("*.tif")))
    assert len(items) == n_files // 2 == 315
    item = pystac.read_file(
        str(
            tmp_path
            / "cat"
            / "OPERA_L2_RTC-S1_T137-292318-IW1_20211119T015854Z"
            / "OPERA_L2_RTC-S1_T137-292318-IW1_20211119T015854Z.json"
        )
    )
    assert isinstance(item, pystac.Item)
    props = item.properties
    assert props["proj:code"] == "EPSG:32611"
    assert props["proj:shape"] == [100, 100]
    assert props["proj:transform"] == [30.0, 0.0, 165660.0, 0.0, -30.0, 3779190.0]
    assert props["sar:polarizations"] == ["VH", "VV"]
    assert props["sar:frequency_band"] == "C"
    assert props["sat:relative_orbit"] == 137
    assert props["platform"] == "sentinel-1a"
    assert props["opera:burst_id"] == "T137-292318-IW1"
    assert item.datetime is not None and item.datetime.isoformat() == "2021-11-19T01:58:54+00:00"
    assert set(item.assets) == {"vv", "vh"}
    href = item.assets["vv"].href
    assert href.startswith("file:///") and href.endswith("_VV.tif")
    assert Path(href[len("file://") :]).exists()
    raw = json.loads((tmp_path / "cat" / "collection.json").read_text())
    assert (
        "https://stac-extensions.github.io/projection/v2.0.0/schema.json" in raw["stac_extensions"]
    )
    # bbox in degrees around southern California
    west, south, east, north = item.bbox  # type: ignore[misc]
    assert -121 < west < east < -120 and 34 < south < north < 34.2


def test_build_generic_pattern_groups_by_acquisition(tmp_path: Path) -> None:
    for date in ("20240502T051731", "20240514T051731"):
        for pol in ("VV", "vh"):
            _tif(tmp_path / "in" / f"scene-a_{date}_{pol}.tif")
    _tif(tmp_path / "in" / "notes_without_pol.tif")
    collection = build(
        tmp_path / "in",
        tmp_path / "cat",
        collection_id="g",
        pattern="generic",
        properties={"platform": "sentinel-1a", "sat:orbit_state": "ascending"},
    )
    items = sorted(collection.get_items(), key=lambda i: i.id)
    assert [i.id for i in items] == ["scene-a_20240502T051731", "scene-a_20240514T051731"]
    assert set(items[0].assets) == {"vv", "vh"}
    assert items[0].properties["sat:orbit_state"] == "ascending"
    assert items[0].properties["platform"] == "sentinel-1a"


def test_build_custom_pattern(tmp_path: Path) -> None:
    _tif(tmp_path / "in" / "HH-2020-01-05.tif")
    pattern = FilenamePattern(
        name="mine",
        regex=r"^(?P<pol>HH|HV)-(?P<datetime>\d{4}-\d{2}-\d{2})\.tif$",
        item_id="mine_{date}",
    )
    # the datetime group must be YYYYMMDD[THHMMSS]: a clear error otherwise
    with pytest.raises(ValueError, match="does not match format"):
        build(tmp_path / "in", tmp_path / "cat", collection_id="m", pattern=pattern)


def test_build_errors(tmp_path: Path) -> None:
    _tif(tmp_path / "in" / "a_20240502_VV.tif")
    _tif(tmp_path / "in" / "a_20240502_VH.tif", shape=(9, 10))
    with pytest.raises(CatalogError, match="different grids"):
        build(tmp_path / "in", tmp_path / "cat", collection_id="x", pattern="generic")
    with pytest.raises(CatalogError, match="no file matched"):
        build(tmp_path / "in", tmp_path / "cat", collection_id="x")  # OPERA pattern
    with pytest.raises(ParameterError, match="unknown pattern"):
        build(tmp_path / "in", tmp_path / "cat", collection_id="x", pattern="nope")
    with pytest.raises(InputNotFoundError, match="does not exist"):
        build(tmp_path / "missing", tmp_path / "cat", collection_id="x")
    shutil.rmtree(tmp_path / "in")
    _tif(tmp_path / "in" / "a_20240502_VV.tif")
    _tif(tmp_path / "in" / "sub" / "a_20240502_VV.tif")
    with pytest.raises(CatalogError, match="two files for VV"):
        build(tmp_path / "in", tmp_path / "cat", collection_id="x", pattern="generic")


def test_build_refuses_to_overwrite(tmp_path: Path) -> None:
    _tif(tmp_path / "in" / "a_20240502_VV.tif")
    build(tmp_path / "in", tmp_path / "cat", collection_id="x", pattern="generic")
    with pytest.raises(OutputError, match="overwrite=True"):
        build(tmp_path / "in", tmp_path / "cat", collection_id="x", pattern="generic")
    build(tmp_path / "in", tmp_path / "cat", collection_id="x", pattern="generic", overwrite=True)


def test_build_writes_the_collection_last_and_leaves_no_partial_file(tmp_path: Path) -> None:
    _tif(tmp_path / "in" / "a_20240502_VV.tif")
    _tif(tmp_path / "in" / "a_20240514_VV.tif")
    first = build(tmp_path / "in", tmp_path / "ok", collection_id="x", pattern="generic")
    assert not [p for p in (tmp_path / "ok").rglob("*") if p.name.startswith(".")]
    # an item that cannot be written (a file where its folder goes): no collection.json
    item_id = sorted(item.id for item in first.get_items())[-1]
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / item_id).write_text("in the way")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        build(tmp_path / "in", tmp_path / "broken", collection_id="x", pattern="generic")
    assert not (tmp_path / "broken" / "collection.json").exists()
    assert not [p for p in (tmp_path / "broken").rglob("*") if p.name.startswith(".")]


def test_opera_pattern_keeps_newest_processing(tmp_path: Path) -> None:
    stem = "OPERA_L2_RTC-S1_T137-292318-IW1_20211119T015854Z"
    old = _tif(tmp_path / "in" / f"{stem}_20230101T000000Z_S1A_30_v1.0_VV.tif")
    new = _tif(tmp_path / "in" / f"{stem}_20250830T120333Z_S1A_30_v1.0_VV.tif")
    assert PATTERNS["opera-rtc-s1"].match(new.name) is not None
    collection = build(tmp_path / "in", tmp_path / "cat", collection_id="o")
    (item,) = collection.get_items()
    assert item.assets["vv"].href == new.resolve().as_uri()
    assert old.exists()
