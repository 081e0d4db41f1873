"""search: items from a STAC API, a static catalog or an iterable, filtered alike."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pystac

from ..._checks import check_optional_int, is_instance
from ...errors import (
    CatalogError,
    EmptySearchError,
    InputNotFoundError,
    ParameterError,
)
from .._redact import redact, redact_text
from ._common import BBox, DatetimeLike

# --------------------------------------------------------------------------
# search


def search(
    source: str | os.PathLike[str] | Iterable[pystac.Item],
    *,
    collections: str | Sequence[str] | None = None,
    bbox: Sequence[float] | None = None,
    datetime: DatetimeLike = None,
    ids: str | Sequence[str] | None = None,
    filter: Mapping[str, Any] | str | None = None,
    max_items: int | None = None,
) -> pystac.ItemCollection:
    """Find STAC items.

    Parameters
    ----------
    source
        A STAC API URL (``http(s)://...``, searched with pystac-client), a path
        or ``file://`` URI of a static catalog, collection, item collection or
        item (filtered in process), or an iterable of :class:`pystac.Item`.
    collections
        Collection id(s) to keep.
    bbox
        ``(west, south, east, north)`` in degrees; items whose bbox intersects it.
    datetime
        A single time or an interval: ``"2021-11-19"``, ``"2021-11"``,
        ``"2021-11-01/2021-12-31"``, ``"2021-11-01/.."``, a
        :class:`datetime.datetime`, or a ``(start, end)`` tuple (``None`` open).
        Dates without a time cover the whole day (month, year).
    ids
        Item id(s) to keep.
    filter
        A CQL2 filter, as CQL2-JSON (dict) or CQL2 text (str). Sent to the API
        as CQL2-JSON; evaluated in process for local sources.
    max_items
        Keep at most this many items.

    Returns
    -------
    pystac.ItemCollection
        Matching items, with absolute asset hrefs.

    Raises
    ------
    EmptySearchError
        When nothing matches (an empty search never becomes an empty cube).
    InputNotFoundError
        A local *source* does not exist.

    Examples
    --------
    >>> import tempfile
    >>> event = sarcube.synthetic.write_event(tempfile.mkdtemp(), (64, 64))
    >>> items = search(event.catalog, datetime="2024-05-14/..")
    >>> [item.id for item in items]
    ['SYNTH-0_20240514T051731', 'SYNTH-0_20240526T051731']
    """
    if not is_instance(source, str | os.PathLike | Iterable) or isinstance(source, bytes):
        raise ParameterError(
            f"search: source must be a STAC API URL, a catalog/collection path or STAC items, "
            f"got {type(source).__name__}"
        )
    collections = [collections] if isinstance(collections, str) else collections
    if collections is not None and (
        not is_instance(collections, Iterable) or not all(isinstance(c, str) for c in collections)
    ):
        raise ParameterError(
            f"search: collections must be a collection id or a list of ids, got {collections!r}"
        )
    ids = [ids] if isinstance(ids, str) else ids
    bbox_t = _check_bbox(bbox)
    interval = _parse_interval(datetime)
    max_items = check_optional_int(max_items, "max_items", "search", minimum=1)
    filter_json = _filter_json(filter)

    if isinstance(source, str | os.PathLike) and re.match(r"^https?://", str(source)):
        items = _search_api(str(source), collections, bbox_t, interval, ids, filter_json, max_items)
        where = str(source)
    else:
        where = str(source) if isinstance(source, str | os.PathLike) else "the given items"
        pool = _read_local(source) if isinstance(source, str | os.PathLike) else list(source)
        items = _filter_local(pool, collections, bbox_t, interval, ids, filter_json, max_items)
    if not items:
        raise EmptySearchError(
            f"no STAC item in {where} matched collections={collections}, bbox={bbox}, "
            f"datetime={datetime!r}, ids={ids}, filter={filter!r}; widen the search"
        )
    return pystac.ItemCollection(items)


def _check_bbox(bbox: Sequence[float] | None) -> BBox | None:
    if bbox is None:
        return None
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ParameterError(
            f"bbox must be (west, south, east, north) in degrees, got {bbox!r}"
        ) from None
    if not (south <= north and south >= -90 and north <= 90):
        raise ParameterError(f"bbox {bbox!r}: need south <= north within [-90, 90]")
    return west, south, east, north


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _parse_instant(text: Any, end: bool) -> dt.datetime | None:
    """One end of an interval; a partial date expands to its start or end."""
    if text is None or text == ".." or text == "":
        return None
    if isinstance(text, dt.datetime):
        return _as_utc(text)
    if isinstance(text, dt.date):
        text = text.isoformat()
    s = str(text).strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", s)
    if m:
        year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
        try:
            start = dt.datetime(year, month, day, tzinfo=dt.UTC)
        except ValueError as err:  # e.g. month 13, 31 April
            raise ParameterError(
                f"cannot read datetime {text!r}: {err}; use a real date in ISO 8601 such as "
                "'2021-11-19'"
            ) from None
        if not end:
            return start
        if m[3]:
            stop = start + dt.timedelta(days=1)
        elif m[2]:
            stop = start + dt.timedelta(days=calendar.monthrange(year, month)[1])
        else:
            stop = start.replace(year=year + 1)
        return stop - dt.timedelta(microseconds=1)
    try:
        return _as_utc(dt.datetime.fromisoformat(s.replace("Z", "+00:00")))
    except ValueError:
        raise ParameterError(
            f"cannot read datetime {text!r}; use ISO 8601 such as '2021-11-19', "
            "'2021-11-19T01:58:54Z' or an interval 'start/end' ('..' for open)"
        ) from None


def _parse_interval(value: DatetimeLike) -> tuple[dt.datetime | None, dt.datetime | None] | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ParameterError(f"datetime tuple must be (start, end), got {value!r}")
        start, stop = _parse_instant(value[0], False), _parse_instant(value[1], True)
    elif isinstance(value, str) and "/" in value:
        a, b = value.split("/", 1)
        start, stop = _parse_instant(a, False), _parse_instant(b, True)
    else:
        start, stop = _parse_instant(value, False), _parse_instant(value, True)
    if start is not None and stop is not None and start > stop:
        raise ParameterError(f"datetime {value!r}: the start is after the end")
    return start, stop


def _filter_json(flt: Mapping[str, Any] | str | None) -> dict[str, Any] | None:
    if flt is None:
        return None
    import cql2

    try:
        return dict(cql2.Expr(flt if isinstance(flt, str) else dict(flt)).to_json())
    except Exception as e:  # cql2 raises its own ValueError-like types
        raise ParameterError(f"filter {flt!r} is not valid CQL2: {e}") from e


def _interval_text(interval: tuple[dt.datetime | None, dt.datetime | None] | None) -> str | None:
    if interval is None:
        return None
    return "/".join(".." if t is None else t.isoformat().replace("+00:00", "Z") for t in interval)


def _search_api(
    url: str,
    collections: Sequence[str] | None,
    bbox: BBox | None,
    interval: tuple[dt.datetime | None, dt.datetime | None] | None,
    ids: Sequence[str] | None,
    filter_json: dict[str, Any] | None,
    max_items: int | None,
) -> list[pystac.Item]:
    import pystac_client

    try:
        client = pystac_client.Client.open(url)
    except Exception as e:
        raise CatalogError(
            f"cannot open the STAC API at {redact(url)}: {type(e).__name__}: {redact_text(str(e))}"
        ) from None
    kwargs: dict[str, Any] = {}
    if filter_json is not None:
        # Servers such as stac-fastapi-pgstac only take CQL2 as JSON in a POST body.
        kwargs.update(filter=filter_json, filter_lang="cql2-json", method="POST")
    result = client.search(
        collections=None if collections is None else list(collections),
        bbox=bbox,
        datetime=_interval_text(interval),
        ids=None if ids is None else list(ids),
        max_items=max_items,
        **kwargs,
    )
    return list(result.items())


def _read_local(source: str | os.PathLike[str]) -> list[pystac.Item]:
    text = str(source)
    path = Path(text[len("file://") :] if text.startswith("file://") else text)
    if path.is_dir():
        for name in ("catalog.json", "collection.json"):
            if (path / name).exists():
                path = path / name
                break
    if not path.exists():
        raise InputNotFoundError(
            f"STAC source {source} does not exist; pass a catalog/collection path"
        )
    try:
        with path.open("rb") as f:
            kind = json.load(f).get("type")
        obj: pystac.STACObject | pystac.ItemCollection
        if kind == "FeatureCollection":
            obj = pystac.ItemCollection.from_file(str(path.resolve()))
        else:
            obj = pystac.read_file(str(path.resolve()))
    except Exception as e:
        raise CatalogError(f"{path} is not a readable STAC document: {e}") from e
    if isinstance(obj, pystac.ItemCollection):
        items = list(obj.items)
    elif isinstance(obj, pystac.Catalog):  # Collection is a Catalog
        items = list(obj.get_items(recursive=True))
    elif isinstance(obj, pystac.Item):
        items = [obj]
    else:
        raise CatalogError(f"{path} holds a {type(obj).__name__}, not a catalog or items")
    for item in items:
        item.make_asset_hrefs_absolute()
    return items


def _item_interval(item: pystac.Item) -> tuple[dt.datetime, dt.datetime]:
    if item.datetime is not None:
        t = _as_utc(item.datetime)
        return t, t
    start, end = item.common_metadata.start_datetime, item.common_metadata.end_datetime
    if start is None or end is None:
        raise CatalogError(f"item {item.id} has neither datetime nor start/end_datetime")
    return _as_utc(start), _as_utc(end)


def _bbox_intersects(a: Sequence[float], b: BBox) -> bool:
    # Longitude ranges are compared as-is; an antimeridian-crossing bbox
    # (west > east) is split into its two halves.
    def spans(w: float, e: float) -> list[tuple[float, float]]:
        return [(w, e)] if w <= e else [(w, 180.0), (-180.0, e)]

    aw, as_, ae, an = a[0], a[1], a[-2], a[-1]
    if as_ > b[3] or an < b[1]:
        return False
    return any(x0 <= y1 and y0 <= x1 for x0, x1 in spans(aw, ae) for y0, y1 in spans(b[0], b[2]))


def _filter_local(
    items: Iterable[pystac.Item],
    collections: Sequence[str] | None,
    bbox: BBox | None,
    interval: tuple[dt.datetime | None, dt.datetime | None] | None,
    ids: Sequence[str] | None,
    filter_json: dict[str, Any] | None,
    max_items: int | None,
) -> list[pystac.Item]:
    expr = None
    if filter_json is not None:
        import cql2

        expr = cql2.Expr(filter_json)
    wanted_ids = None if ids is None else set(ids)
    out: list[pystac.Item] = []
    for item in items:
        if not isinstance(item, pystac.Item):
            raise ParameterError(f"search: expected pystac.Item objects, got {type(item).__name__}")
        if collections is not None and item.collection_id not in collections:
            continue
        if wanted_ids is not None and item.id not in wanted_ids:
            continue
        if bbox is not None and (item.bbox is None or not _bbox_intersects(item.bbox, bbox)):
            continue
        if interval is not None:
            start, end = _item_interval(item)
            if (interval[0] is not None and end < interval[0]) or (
                interval[1] is not None and start > interval[1]
            ):
                continue
        if expr is not None and not expr.matches(item.to_dict(include_self_link=False)):
            continue
        out.append(item)
        if max_items is not None and len(out) >= max_items:
            break
    return out
