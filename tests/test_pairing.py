"""pair_items: scenes of two collections matched in time and footprint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pystac
import pytest

import sarcube
from sarcube.errors import ParameterError


def _item(id_: str, when: datetime, west: float, south: float, size: float = 1.0) -> Any:
    ring = [
        [west, south], [west + size, south], [west + size, south + size],
        [west, south + size], [west, south],
    ]  # fmt: skip
    return pystac.Item(
        id=id_,
        geometry={"type": "Polygon", "coordinates": [ring]},
        bbox=[west, south, west + size, south + size],
        datetime=when,
        properties={},
    )


def test_pair_items_closest_in_time_among_overlapping(synthetic_event: Any) -> None:
    sar = list(sarcube.search(synthetic_event.catalog))
    t0 = sar[-1].datetime
    footprint = sar[-1].geometry
    west, south = footprint["coordinates"][0][0]
    labels = [
        _item("far-away", t0 + timedelta(hours=1), west + 10, south + 10),  # no overlap
        _item("two-days", t0 + timedelta(days=2), west, south),
        _item("one-day-before", t0 - timedelta(days=1), west, south),
        _item("too-late", t0 + timedelta(days=9), west, south),
    ]
    table = sarcube.pair_items(sar[-1:], labels, max_days=3)
    assert table[["item", "other"]].values.tolist() == [[sar[-1].id, "one-day-before"]]
    assert table["days"].tolist() == [-1.0]
    assert 0 < table["overlap"].iloc[0] <= 1
    # every SAR scene of the event pairs with the labels within its window, or not at all
    every = sarcube.pair_items(sar, labels, max_days=3)
    assert set(every["item"]) <= {i.id for i in sar} and len(every) >= 1
    assert sarcube.pair_items(sar[-1:], labels, max_days=0.5).empty


def test_pair_items_overlap_and_ties() -> None:
    when = datetime(2021, 7, 14, tzinfo=UTC)
    sar = [_item("s", when, 0.0, 0.0, size=2.0)]
    small = _item("quarter", when + timedelta(days=1), 1.0, 1.0)  # a quarter of s
    whole = _item("whole", when - timedelta(days=1), 0.0, 0.0, size=2.0)
    table = sarcube.pair_items(sar, [small, whole], max_days=2)
    assert table["other"].tolist() == ["whole"]  # the same gap: the larger overlap wins
    assert sarcube.pair_items(sar, [small], max_days=2)["overlap"].tolist() == [0.25]
    assert sarcube.pair_items(sar, [small], max_days=2, min_overlap=0.5).empty
    touching = _item("touching", when, 2.0, 0.0)  # shares an edge only
    assert sarcube.pair_items(sar, [touching], max_days=2).empty
    naive = _item("naive", datetime(2021, 7, 14, 12), 0.0, 0.0)  # no time zone: UTC
    assert sarcube.pair_items(sar, [naive], max_days=1)["days"].tolist() == [0.5]
    for bad in ({"max_days": -1}, {"max_days": "3"}, {"max_days": 1, "min_overlap": 2}):
        with pytest.raises(ParameterError):
            sarcube.pair_items(sar, [small], **bad)
