"""Pairing the scenes of two collections in time and space: SAR with labels, SAR with optical.

Training data often comes from two catalogs: SAR scenes from one, label or
optical scenes (e.g. DSWE water maps from Landsat) from another, acquired on
other days. :func:`pair_items` matches each scene of the first collection with
the closest-in-time scene of the second whose footprint overlaps it, within
a maximum gap, without reading any pixel.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from .._checks import is_real
from ..errors import ParameterError

__all__ = ["pair_items"]


def _time(item: Any, func: str, which: str) -> datetime:
    when = getattr(item, "datetime", None)
    if when is None:  # a range item: the start of its range
        start = getattr(item, "common_metadata", None)
        when = getattr(start, "start_datetime", None) if start is not None else None
    if when is None:
        raise ParameterError(
            f"{func}: {which} item {getattr(item, 'id', item)!r} has no datetime (nor a "
            "start_datetime); every item needs an acquisition time"
        )
    moment: datetime = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return moment


def _footprint(item: Any, func: str, which: str) -> Any:
    import shapely.geometry

    geometry = getattr(item, "geometry", None)
    if geometry is None:
        bbox = getattr(item, "bbox", None)
        if bbox is None:
            raise ParameterError(
                f"{func}: {which} item {getattr(item, 'id', item)!r} has neither a geometry "
                "nor a bbox"
            )
        west, south = bbox[0], bbox[1]
        east, north = (bbox[2], bbox[3]) if len(bbox) == 4 else (bbox[3], bbox[4])  # 3-D bbox
        return shapely.geometry.box(west, south, east, north)
    return shapely.geometry.shape(geometry)


def pair_items(
    items: Iterable[Any],
    others: Iterable[Any],
    *,
    max_days: float,
    min_overlap: float = 0.0,
) -> pd.DataFrame:
    """Match each of *items* with the closest-in-time of *others* that overlaps it.

    Parameters
    ----------
    items, others
        ``pystac.Item`` (or any object with ``id``, ``datetime`` and a GeoJSON
        ``geometry`` or a ``bbox``), e.g. from two :func:`sarcube.search`
        calls. Footprints are compared in longitude/latitude, as STAC stores
        them.
    max_days
        Largest gap in days (either way) between the two acquisitions.
    min_overlap
        Smallest shared area as a fraction of the *items* footprint (0: any
        overlap, touching borders excluded).

    Returns
    -------
    pandas.DataFrame
        One row per item that found a partner, in the order of *items*:
        ``item``, ``other`` (ids), ``item_datetime``, ``other_datetime``,
        ``days`` (other − item, signed) and ``overlap`` (shared fraction of the
        item's footprint). Ties in time go to the larger overlap, then to the
        first of *others*.

    Examples
    --------
    >>> from types import SimpleNamespace as Item
    >>> from datetime import datetime
    >>> square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    >>> sar = [Item(id="s1", datetime=datetime(2021, 7, 14), geometry=square)]
    >>> labels = [Item(id="l1", datetime=datetime(2021, 7, 10), geometry=square),
    ...           Item(id="l2", datetime=datetime(2021, 7, 15), geometry=square)]
    >>> pair_items(sar, labels, max_days=3)[["item", "other", "days"]].values.tolist()
    [['s1', 'l2', 1.0]]
    """
    func = "pair_items"
    if not is_real(max_days, finite=False) or not max_days >= 0:
        raise ParameterError(f"{func}: max_days must be a number of days >= 0, got {max_days!r}")
    if isinstance(min_overlap, bool) or not 0 <= min_overlap <= 1:
        raise ParameterError(f"{func}: min_overlap must be in [0, 1], got {min_overlap!r}")
    first = list(items)
    second = list(others)
    second_meta = [(o, _time(o, func, "other"), _footprint(o, func, "other")) for o in second]
    rows = []
    for item in first:
        when = _time(item, func, "an")
        shape = _footprint(item, func, "an")
        best: tuple[float, float, int] | None = None
        for k, (_, other_when, other_shape) in enumerate(second_meta):
            days = (other_when - when).total_seconds() / 86400
            if abs(days) > max_days:
                continue
            shared = shape.intersection(other_shape).area
            overlap = shared / shape.area if shape.area > 0 else 0.0
            if shared <= 0 or overlap < min_overlap:
                continue
            key = (abs(days), -overlap, k)
            if best is None or key < best:
                best = key
        if best is not None:
            other, other_when, other_shape = second_meta[best[2]]
            rows.append(
                {
                    "item": item.id,
                    "other": other.id,
                    "item_datetime": pd.Timestamp(when),
                    "other_datetime": pd.Timestamp(other_when),
                    "days": (other_when - when).total_seconds() / 86400,
                    "overlap": -best[1],
                }
            )
    columns = ["item", "other", "item_datetime", "other_datetime", "days", "overlap"]
    return pd.DataFrame(rows, columns=columns)
