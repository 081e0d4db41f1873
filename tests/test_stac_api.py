"""A real STAC API (stac-fastapi-pgstac on PostgreSQL/PostGIS, 127.0.0.1) serving the
real OPERA RTC-S1 catalog: searched through pystac-client, loaded with sarcube.load,
values checked against direct rasterio reads.

Needs ``bash scripts/install-stac-server.sh``; required (not skipped) in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pystac
import pystac_client
import pytest
import rasterio

import sarcube

from conftest import missing_resource
from stac_server import StacServerUnavailable, pgstac_api

pytestmark = [pytest.mark.stac_server, pytest.mark.real_data]

BURST = "T137-292318-IW1"


@pytest.fixture(scope="module")
def api(opera_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    collection = pystac.read_file(str(opera_catalog))
    assert isinstance(collection, pystac.Collection)
    items = [item.to_dict(include_self_link=False) for item in collection.get_items()]
    for item in items:
        item["links"] = []
        item["collection"] = collection.id
    coll = collection.to_dict(include_self_link=False)
    coll["links"] = []
    try:
        with pgstac_api([coll], items, workdir=tmp_path_factory.mktemp("pgstac")) as url:
            yield url
    except StacServerUnavailable as e:
        missing_resource(str(e))


def _read(href: str) -> np.ndarray:
    with rasterio.open(href) as src:
        return src.read(1)


def test_api_search_collection_ids_bbox_datetime(api: str) -> None:
    client = pystac_client.Client.open(api)
    assert [c.id for c in client.get_collections()] == ["opera-rtc-s1"]
    assert len(sarcube.search(api, collections="opera-rtc-s1")) == 315
    item_id = f"OPERA_L2_RTC-S1_{BURST}_20211119T015854Z"
    (item,) = sarcube.search(api, ids=[item_id])
    assert item.id == item_id
    assert item.properties["proj:code"] == "EPSG:32611"
    assert item.assets["vv"].href.startswith("file:///")
    december = sarcube.search(api, collections=["opera-rtc-s1"], datetime="2021-12")
    assert len(december) == 60
    assert item.bbox is not None
    w, s = item.bbox[0], item.bbox[1]
    api_hits = {i.id for i in sarcube.search(api, bbox=(w + 1e-4, s + 1e-4, w + 2e-4, s + 2e-4))}
    assert item_id in api_hits and len(api_hits) < 315


def test_api_and_local_search_agree(api: str, opera_catalog: Path) -> None:
    """The in-process filter of static catalogs has the API's semantics."""
    queries = [
        {"datetime": "2021-11-19/2021-12-01"},
        {"datetime": "2023"},
        {"bbox": (-120.6, 34.0, -120.55, 34.2)},
        {"filter": {"op": "=", "args": [{"property": "platform"}, "sentinel-1b"]}},
        {"filter": f"\"opera:burst_id\" = '{BURST}'", "datetime": "2022-11/2023-01"},
    ]
    for query in queries:
        remote = {i.id for i in sarcube.search(api, **query)}  # type: ignore[arg-type]
        local = {i.id for i in sarcube.search(opera_catalog, **query)}  # type: ignore[arg-type]
        assert remote == local, query
        assert remote


def test_api_paging(api: str) -> None:
    client = pystac_client.Client.open(api)
    search = client.search(collections=["opera-rtc-s1"], datetime="2021-11", limit=7)
    pages = list(search.pages())
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]  # 30 items in November 2021
    ids = [i.id for p in pages for i in p]
    assert len(set(ids)) == 30
    assert len(sarcube.search(api, datetime="2021-11", max_items=11)) == 11


def test_api_empty_search_raises(api: str) -> None:
    with pytest.raises(sarcube.errors.EmptySearchError):
        sarcube.search(api, datetime="1990-01-01/1990-12-31")


def test_api_load_equals_rasterio(api: str) -> None:
    cube = sarcube.open_cube(
        api,
        filter={"op": "=", "args": [{"property": "opera:burst_id"}, BURST]},
        datetime="2022",
        chunks={"time": 1, "y": 60, "x": 45},
    )
    items = sorted(
        sarcube.search(api, filter=f"\"opera:burst_id\" = '{BURST}'", datetime="2022"),
        key=lambda i: i.datetime,  # type: ignore[arg-type, return-value]
    )
    assert cube.sizes == {"time": len(items), "y": 100, "x": 100}
    assert cube.odc.crs.epsg == 32611
    assert list(cube["platform"].values) == [i.properties["platform"] for i in items]
    for t, item in enumerate(items):
        for band in ("vv", "vh"):
            np.testing.assert_array_equal(cube[band].values[t], _read(item.assets[band].href))
