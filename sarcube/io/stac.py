"""STAC search and lazy loading of SAR cubes.

:func:`search` finds items in a STAC API (pystac-client), in a local static
catalog, collection or item collection (filtered in process with the same
semantics), or in an iterable of items. :func:`load` turns items into the
sarcube cube — one float32 linear-power variable per polarisation, dims
``(time, y, x)``, NaN nodata, ``spatial_ref`` — through odc-stac. It first
builds a :class:`LoadPlan` (what to read, on which grid, with which metadata),
which can be printed and tested without any I/O, then executes it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import numpy as np
import odc.stac
import pystac
import rasterio
import xarray as xr
from odc.loader._rio import GDAL_CLOUD_DEFAULTS, RioDriver, RioReader

from .._checks import check_choice, check_int, check_optional_int
from ..conventions import LINEAR_UNITS, POLARISATIONS, TIME_METADATA, long_name
from ..errors import (
    AssetReadError,
    BandNotFoundError,
    CatalogError,
    DTypeError,
    EmptySearchError,
    InputNotFoundError,
    ParameterError,
)
from ._redact import redact, redact_log_records, redact_text

__all__ = [
    "RETRY_MAX_BACKOFF_S",
    "FailedAsset",
    "LoadPlan",
    "failed_assets",
    "load",
    "open_cube",
    "plan_load",
    "search",
]

BBox = tuple[float, float, float, float]
DatetimeLike = str | dt.datetime | dt.date | tuple[Any, Any] | None
_T = TypeVar("_T")

redact_log_records()  # GDAL's warnings quote asset URLs, signatures included
log = logging.getLogger(__name__)

#: Longest wait between two attempts to read a remote asset, in seconds.
RETRY_MAX_BACKOFF_S = 8.0
#: The most retries :func:`load` accepts: past it, a dead server would hold a read for hours.
MAX_RETRIES = 100

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
    if not isinstance(source, str | os.PathLike | Iterable) or isinstance(source, bytes):
        raise ParameterError(
            f"search: source must be a STAC API URL, a catalog/collection path or STAC items, "
            f"got {type(source).__name__}"
        )
    collections = [collections] if isinstance(collections, str) else collections
    if collections is not None and (
        not isinstance(collections, Iterable) or not all(isinstance(c, str) for c in collections)
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


# --------------------------------------------------------------------------
# load


@dataclass(frozen=True)
class FailedAsset:
    """An asset that could not be opened when loading with ``on_error="skip"``.

    *href* and *error* have their credentials redacted (:func:`sarcube.io.redact`):
    they travel in the cube's attrs, hence into written stores.
    """

    item: str
    band: str
    href: str
    error: str


@dataclass(frozen=True)
class LoadPlan:
    """Everything :func:`load` will do, decided without reading any pixel.

    Attributes
    ----------
    items
        The items to read, with their SAR assets keyed by lower-case polarisation.
    bands
        The polarisations to load, in cube order.
    groups
        Item indices per output time step, in time order.
    times
        The ``time`` coordinate (first item of each group, UTC, naive).
    metadata
        Per-time coordinates from the STAC ``sar:``/``sat:`` fields.
    crs
        Output CRS passed to odc-stac; ``None`` means the items' common native CRS.
    resolution
        Output pixel size in CRS units; ``None`` means native.
    bbox
        ``(west, south, east, north)`` in degrees to crop to, or ``None``.
    chunks
        Dask chunk sizes, or ``None`` to read into memory.
    resampling
        Resampling method for reprojection.
    on_error
        ``"raise"`` or ``"skip"`` (see :func:`load`).
    failed
        Assets dropped at planning time (``on_error="skip"`` only).
    retries
        Extra attempts at a failed read of a remote asset (see :func:`load`).
    retry_backoff_s
        Wait before the first retry, in seconds; doubled for each further one.
    """

    items: tuple[pystac.Item, ...]
    bands: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...]
    times: tuple[np.datetime64, ...]
    metadata: Mapping[str, tuple[Any, ...]]
    crs: str | None
    resolution: float | None
    bbox: BBox | None
    chunks: Mapping[str, int] | None
    resampling: str
    on_error: Literal["raise", "skip"]
    failed: tuple[FailedAsset, ...] = field(default=())
    retries: int = 3
    retry_backoff_s: float = 0.5

    def __str__(self) -> str:
        lines = [
            f"LoadPlan: {len(self.items)} items -> {len(self.times)} time steps, "
            f"bands {list(self.bands)}",
            f"  crs={self.crs or 'native'} resolution={self.resolution or 'native'} "
            f"bbox={self.bbox} chunks={dict(self.chunks) if self.chunks else None}",
        ]
        for t, group in zip(self.times, self.groups, strict=True):
            lines.append(f"  {t}: {', '.join(self.items[i].id for i in group)}")
        if self.failed:
            lines.append(f"  skipped {len(self.failed)} unreadable assets")
        return "\n".join(lines)


def _asset_pol(key: str, asset: pystac.Asset) -> str | None:
    if key.lower() in POLARISATIONS:
        return key.lower()
    pols = asset.extra_fields.get("sar:polarizations")
    if isinstance(pols, list) and len(pols) == 1 and str(pols[0]).lower() in POLARISATIONS:
        return str(pols[0]).lower()
    return None


def _sar_assets(item: pystac.Item) -> dict[str, pystac.Asset]:
    out: dict[str, pystac.Asset] = {}
    for key, asset in item.assets.items():
        pol = _asset_pol(key, asset)
        if pol is not None and pol not in out:
            out[pol] = asset
    return out


def _item_crs(item: pystac.Item) -> str | None:
    props = item.properties
    for src in (props, *(a.extra_fields for a in item.assets.values())):
        if src.get("proj:code"):
            return str(src["proj:code"]).upper()
        if src.get("proj:epsg"):
            return f"EPSG:{int(src['proj:epsg'])}"
        if src.get("proj:wkt2"):
            return str(src["proj:wkt2"])
    return None


def _solar_day(item: pystac.Item) -> dt.date:
    """The local solar date at the centre of the item's footprint."""
    start, _ = _item_interval(item)
    lon = 0.0 if item.bbox is None else (item.bbox[0] + item.bbox[2]) / 2
    return (start + dt.timedelta(hours=lon / 15)).date()


def _group_key(groupby: str) -> Callable[[pystac.Item], Any]:
    if groupby == "solar_day":
        return _solar_day
    if groupby == "time":
        return lambda item: _item_interval(item)[0]
    if groupby == "id":
        return lambda item: item.id
    return lambda item: item.properties.get(groupby)


def plan_load(
    items: Iterable[pystac.Item],
    *,
    bands: str | Sequence[str] | None = None,
    chunks: Mapping[str, int] | None = None,
    groupby: str = "solar_day",
    crs: str | None = None,
    resolution: float | None = None,
    bbox: Sequence[float] | None = None,
    resampling: str = "nearest",
    on_error: Literal["raise", "skip"] = "raise",
    retries: int = 3,
    retry_backoff_s: float = 0.5,
) -> LoadPlan:
    """Validate the arguments of :func:`load` and decide what it will read.

    No pixel is read; with ``on_error="skip"`` every requested asset is opened
    once (header and one pixel, with the same retries as a read) to find the
    unreadable ones. See :func:`load` for the parameters.

    Examples
    --------
    >>> import tempfile
    >>> event = sarcube.synthetic.write_event(tempfile.mkdtemp(), (64, 64))
    >>> plan = plan_load(search(event.catalog), bands="VV", chunks={"y": 32, "x": 32})
    >>> plan.bands, len(plan.groups), str(plan.times[0])
    (('vv',), 3, '2024-05-02T05:17:31.000000000')
    """
    if isinstance(items, pystac.Item):
        raise ParameterError("load: pass a list of items; for one item use load([item])")
    if not isinstance(items, Iterable):
        raise ParameterError(
            f"load: items must be STAC items (e.g. from search), got {type(items).__name__}"
        )
    items = list(items)
    if not items:
        raise EmptySearchError("no STAC items to load; search returned nothing")
    for item in items:
        if not isinstance(item, pystac.Item):
            raise ParameterError(f"load: expected pystac.Item objects, got {type(item).__name__}")
    check_choice(on_error, ("raise", "skip"), "on_error", "load")
    hint = f"each retry may wait up to {RETRY_MAX_BACKOFF_S:g} s"
    retries = check_int(retries, "retries", "load", minimum=0, maximum=MAX_RETRIES, hint=hint)
    if not (
        isinstance(retry_backoff_s, int | float)
        and math.isfinite(retry_backoff_s)
        and retry_backoff_s >= 0
    ):
        raise ParameterError(
            f"load: retry_backoff_s must be a number of seconds >= 0, got {retry_backoff_s!r}"
        )
    if resampling not in {"nearest", "bilinear", "cubic", "average", "mode", "min", "max", "med"}:
        raise ParameterError(
            f"load: unknown resampling {resampling!r}; use 'nearest', 'bilinear', 'average', ..."
        )
    if resolution is not None and not (
        isinstance(resolution, int | float)
        and not isinstance(resolution, bool)
        and math.isfinite(resolution)
        and resolution > 0
    ):
        raise ParameterError(f"load: resolution must be > 0 (CRS units), got {resolution!r}")
    if chunks is not None:
        # a geographic load names its dims latitude/longitude; odc-stac takes y/x for both
        aliases = {"latitude": "y", "lat": "y", "longitude": "x", "lon": "x"}
        chunks = {aliases.get(k, k): v for k, v in chunks.items()}
        bad = {
            k: v
            for k, v in chunks.items()
            if k not in ("time", "y", "x")
            or isinstance(v, bool)
            or not isinstance(v, int | np.integer)
            or v < 1
        }
        if bad:
            raise ParameterError(
                f"load: bad chunks {bad}; use positive sizes for 'time', 'y', 'x' (or "
                "'latitude', 'longitude'), e.g. chunks={'time': 1, 'y': 1024, 'x': 1024}"
            )
    if crs is not None:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(crs)
        except CRSError as e:
            raise ParameterError(
                f"load: crs={crs!r} is not a CRS pyproj knows ({e}); pass e.g. crs='EPSG:32633'"
            ) from e
    bbox_t = _check_bbox(bbox)

    assets = [_sar_assets(item) for item in items]
    available = sorted(set().union(*assets), key=POLARISATIONS.index)
    if not available:
        keys = sorted(set().union(*(i.assets for i in items)))
        raise CatalogError(
            f"none of the {len(items)} items has a polarisation asset (keys vv/vh/hh/hv or "
            f"sar:polarizations); asset keys seen: {keys}"
        )
    if bands is None:
        wanted = [p for p in available if all(p in a for a in assets)]
        if not wanted:
            raise BandNotFoundError(
                f"no polarisation is present in every item (seen: {available}); "
                "pass bands=[...] and search only items that have them"
            )
    else:
        wanted = [bands.lower()] if isinstance(bands, str) else [b.lower() for b in bands]
        for band in wanted:
            lacking = [item.id for item, a in zip(items, assets, strict=True) if band not in a]
            if len(lacking) == len(items):
                raise BandNotFoundError(
                    f"band {band!r} not in the items; available: {available} — "
                    f"pass bands={available}"
                )
            if lacking:
                raise BandNotFoundError(
                    f"band {band!r} is missing from {len(lacking)} of {len(items)} items "
                    f"(e.g. {lacking[:3]}); search without them or pass bands without {band!r}"
                )

    if crs is None:
        crss = {_item_crs(item) for item in items}
        if len(crss) > 1:
            listed = ", ".join(sorted(str(c)[:40] for c in crss))
            raise CatalogError(
                f"items are in {len(crss)} CRSs ({listed}); pass crs= and resolution= to "
                "reproject them onto one grid, e.g. crs='EPSG:32611', resolution=30"
            )

    # Normalised copies: asset keys become the polarisation names so the
    # variables odc-stac returns are named like the cube's.
    normalised: list[pystac.Item] = []
    for item, a in zip(items, assets, strict=True):
        clone = item.clone()
        clone.assets = {}
        for pol in wanted:
            asset = a[pol].clone()
            asset.href = a[pol].get_absolute_href() or asset.href
            clone.add_asset(pol, asset)
        normalised.append(clone)

    failed: list[FailedAsset] = []
    if on_error == "skip":
        failed = _probe_assets(normalised, retries, retry_backoff_s)
        bad_items = {f.item for f in failed}
        normalised = [item for item in normalised if item.id not in bad_items]
        if not normalised:
            raise AssetReadError(
                f"every item has an unreadable asset, e.g. {failed[0].href}: {failed[0].error}"
            )

    key = _group_key(groupby)
    order = sorted(
        range(len(normalised)),
        key=lambda i: (key(normalised[i]), _item_interval(normalised[i])[0], normalised[i].id),
    )
    groups: list[list[int]] = []
    last: Any = object()
    for i in order:
        k = key(normalised[i])
        if groups and k == last:
            groups[-1].append(i)
        else:
            groups.append([i])
        last = k
    times = tuple(
        np.datetime64(_item_interval(normalised[g[0]])[0].replace(tzinfo=None), "ns")
        for g in groups
    )
    metadata: dict[str, tuple[Any, ...]] = {}
    for prop, coord in TIME_METADATA.items():
        values = [normalised[g[0]].properties.get(prop) for g in groups]
        if any(v is not None for v in values):
            metadata[coord] = tuple(values)

    return LoadPlan(
        items=tuple(normalised),
        bands=tuple(wanted),
        groups=tuple(tuple(g) for g in groups),
        times=times,
        metadata=metadata,
        crs=crs,
        resolution=resolution,
        bbox=bbox_t,
        chunks=None if chunks is None else {k: int(v) for k, v in chunks.items()},
        resampling=resampling,
        on_error=on_error,
        failed=tuple(failed),
        retries=retries,
        retry_backoff_s=float(retry_backoff_s),
    )


def _is_remote(href: str) -> bool:
    """True for hrefs read over a network (``http(s)``, ``s3``, ``gs``, ``/vsicurl/`` ...)."""
    if href.startswith("/vsi"):
        return not href.startswith("/vsimem/")
    scheme = urlsplit(href).scheme.lower()
    return len(scheme) > 1 and scheme != "file"  # one letter: a Windows drive


def _gdal_name(href: str) -> str:
    """The GDAL virtual file name of a remote href (what GDAL keys its cache by)."""
    scheme = urlsplit(href).scheme.lower()
    prefixes = {"http": "/vsicurl/", "https": "/vsicurl/", "s3": "/vsis3/", "gs": "/vsigs/"}
    if scheme in ("s3", "gs"):
        return prefixes[scheme] + href.split("://", 1)[1]
    return prefixes.get(scheme, "") + href


def _with_retries(
    action: Callable[[], _T], href: str, retries: int, backoff_s: float, what: str
) -> _T:
    """Run *action* (a read of *href*); retry a remote href with exponential backoff.

    GDAL remembers a failed request for the life of the process, so retries
    run with ``CPL_VSIL_CURL_NON_CACHED`` set for the href: each one asks the
    server again. Local files are read once: a missing or corrupt file on a
    disk does not heal by waiting.

    Raises
    ------
    AssetReadError
        After the last attempt, naming *href* and the number of attempts.
    """
    attempts = 1 + retries if _is_remote(href) else 1
    for attempt in range(attempts):
        try:
            if attempt == 0:
                return action()
            # (GDAL splits this option at ':', so for http(s) it covers every
            # URL of the scheme while the attempt runs: slower, never wrong)
            with rasterio.Env(CPL_VSIL_CURL_NON_CACHED=_gdal_name(href)):
                return action()
        except rasterio.errors.RasterioError as e:
            if attempt + 1 == attempts:
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                # the cause is not chained: GDAL's message quotes the href, secrets included
                raise AssetReadError(
                    f"failed to {what} asset {redact(href)}{tries}: "
                    f"{type(e).__name__}: {redact_text(str(e))}"
                ) from None
            delay = min(RETRY_MAX_BACKOFF_S, backoff_s * 2**attempt)
            log.warning(
                "cannot %s asset %s (%s); retry %d of %d in %.2f s",
                what,
                redact(href),
                redact_text(str(e)),
                attempt + 1,
                retries,
                delay,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _probe_assets(
    items: Sequence[pystac.Item], retries: int, backoff_s: float
) -> list[FailedAsset]:
    def open_one(href: str) -> None:
        with rasterio.open(href, sharing=False) as src:  # as odc-stac reads
            src.read(1, window=((0, 1), (0, 1)))

    def probe(job: tuple[str, str, str]) -> FailedAsset | None:
        item_id, band, href = job
        try:
            _with_retries(lambda: open_one(href), href, retries, backoff_s, "open")
        except Exception as e:  # any failure to open is what we are looking for
            return FailedAsset(
                item=item_id, band=band, href=redact(href), error=redact_text(str(e))
            )
        return None

    jobs = [(item.id, band, a.href) for item in items for band, a in item.assets.items()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return [f for f in pool.map(probe, jobs) if f is not None]


class _NamingReader(RioReader):
    """odc-stac's rasterio reader with retries, raising :class:`AssetReadError` naming the asset."""

    def __init__(self, src: Any, ctx: Any, retries: int, backoff_s: float) -> None:
        super().__init__(src, ctx)
        self._retries = retries
        self._backoff_s = backoff_s

    def read(self, *args: Any, **kwargs: Any) -> Any:
        read = super().read
        # a retry reads into the same window of the output again, replacing
        # whatever a failed attempt left there
        return _with_retries(
            lambda: read(*args, **kwargs),
            self._src.uri,
            self._retries,
            self._backoff_s,
            "read",
        )


class _NamingDriver(RioDriver):
    """odc-stac's rasterio driver with :class:`_NamingReader`; picklable for dask workers."""

    def __init__(self, retries: int = 3, backoff_s: float = 0.5) -> None:
        super().__init__()
        self._retries = retries
        self._backoff_s = backoff_s

    def capture_env(self) -> dict[str, Any]:
        env: dict[str, Any] = super().capture_env()
        if env == GDAL_CLOUD_DEFAULTS:
            # Nothing configured by the caller: odc-stac's default lets GDAL
            # retry an HTTP error 10 times with a growing delay (minutes per
            # read); sarcube's own retries are the one policy instead.
            env = {**env, "GDAL_HTTP_MAX_RETRY": "0"}
        return env

    def open(self, src: Any, ctx: Any) -> _NamingReader:
        return _NamingReader(src, ctx, self._retries, self._backoff_s)


def _group_callable(plan: LoadPlan) -> Callable[[pystac.Item, Any, int], int]:
    index = {plan.items[i].id: t for t, group in enumerate(plan.groups) for i in group}

    def group_of(item: pystac.Item, parsed: Any, idx: int) -> int:
        return index[item.id]

    return group_of


def execute_plan(plan: LoadPlan) -> xr.Dataset:
    """Build the cube a :class:`LoadPlan` describes (lazy when it has chunks)."""
    kwargs: dict[str, Any] = {}
    if plan.crs is not None:
        kwargs["crs"] = plan.crs
    if plan.resolution is not None:
        kwargs["resolution"] = plan.resolution
    if plan.bbox is not None:
        kwargs["bbox"] = plan.bbox
    ds = odc.stac.load(
        list(plan.items),
        bands=list(plan.bands),
        groupby=_group_callable(plan),
        chunks=dict(plan.chunks) if plan.chunks is not None else None,
        resampling=plan.resampling,
        dtype="float32",
        fail_on_error=True,  # a failed read must never become silent nodata
        driver=_NamingDriver(plan.retries, plan.retry_backoff_s),
        **kwargs,
    )
    ds = ds[list(plan.bands)].assign_coords(time=np.array(plan.times, dtype="datetime64[ns]"))
    for coord, values in plan.metadata.items():
        ds = ds.assign_coords({coord: ("time", _coord_values(values))})
    for band in plan.bands:
        ds[band].attrs = {"units": LINEAR_UNITS, "long_name": long_name(band, LINEAR_UNITS)}
    collections = sorted({i.collection_id for i in plan.items if i.collection_id})
    ds.attrs = {"source": "sarcube.load"}
    if collections:
        ds.attrs["stac_collections"] = collections
    if plan.failed:
        ds.attrs["failed_assets"] = [
            {"item": f.item, "band": f.band, "href": f.href, "error": f.error} for f in plan.failed
        ]
    return ds


def _coord_values(values: tuple[Any, ...]) -> np.ndarray:
    """Numbers stay numeric (missing -> NaN); anything else becomes a string."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        if len(present) == len(values):
            return np.asarray(values)
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    # object dtype: Zarr v3 stores it as variable-length UTF-8 (fixed-width has no spec)
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def load(
    items: Iterable[pystac.Item],
    *,
    bands: str | Sequence[str] | None = None,
    chunks: Mapping[str, int] | None = None,
    groupby: str = "solar_day",
    crs: str | None = None,
    resolution: float | None = None,
    bbox: Sequence[float] | None = None,
    resampling: str = "nearest",
    on_error: Literal["raise", "skip"] = "raise",
    retries: int = 3,
    retry_backoff_s: float = 0.5,
) -> xr.Dataset:
    """Load STAC items as a SAR cube.

    Parameters
    ----------
    items
        STAC items, e.g. from :func:`search`.
    bands
        Polarisations to load (``"vv"``, ``"vh"``, ``"hh"``, ``"hv"``, any case).
        Default: those present in every item.
    chunks
        Dask chunk sizes for ``time``, ``y``, ``x``. When given the cube is lazy;
        when ``None`` it is read into memory.
    groupby
        ``"solar_day"`` (items of one pass on the same local solar day are
        mosaicked into one time step), ``"time"``, ``"id"`` or an item property.
    crs, resolution
        Output grid. Required when items are in several CRSs.
    bbox
        ``(west, south, east, north)`` in degrees to crop to.
    resampling
        Resampling for reprojection (``"nearest"``, ``"bilinear"``, ...).
    on_error
        ``"raise"`` (default): a failed read raises :class:`AssetReadError`
        naming the asset — at compute time for a lazy cube, in :func:`load`
        when *chunks* is ``None``. ``"skip"``: every asset is opened once at
        planning time; items with an unreadable asset are left out and listed
        in ``ds.attrs["failed_assets"]`` (see :func:`failed_assets`). Read
        failures at compute time still raise. A failed read never becomes
        nodata.
    retries
        Extra attempts (0 to 100) after a failed open or read of a remote asset (``http``,
        ``https``, ``s3``, ``gs``, ``/vsi...``), each asking the server again;
        :class:`AssetReadError` is raised after the last. Local files are read
        once.
    retry_backoff_s
        Seconds to wait before the first retry; each further wait doubles, up
        to :data:`RETRY_MAX_BACKOFF_S`. GDAL's own HTTP retries
        (``GDAL_HTTP_MAX_RETRY``) are turned off unless you configured them
        (``rasterio.Env`` or ``odc.stac.configure_rio``), so these two
        parameters are the whole retry policy.

    Returns
    -------
    xarray.Dataset
        One float32 variable per polarisation, dims ``(time, y, x)``, linear
        power, NaN nodata, a ``spatial_ref`` coordinate, and STAC acquisition
        metadata (platform, orbit, product type, ...) as coordinates on ``time``.

    Raises
    ------
    BandNotFoundError
        A requested band is missing (the message lists the available ones).
    CatalogError
        Items in several CRSs without ``crs=``, or no SAR assets.
    EmptySearchError
        *items* is empty.
    AssetReadError
        An asset cannot be read (see *on_error*), or with ``on_error="skip"``
        no item is readable.

    Examples
    --------
    >>> import tempfile
    >>> event = sarcube.synthetic.write_event(tempfile.mkdtemp(), (64, 64))
    >>> items = search(event.catalog, datetime="2024-05-14/..")
    >>> cube = load(items, bands=["vv"], chunks={"y": 32, "x": 32})
    >>> dict(cube.sizes), cube["vv"].data.chunksize, cube.rio.crs.to_epsg()
    ({'time': 2, 'y': 64, 'x': 64}, (1, 32, 32), 32633)
    """
    return execute_plan(
        plan_load(
            items,
            bands=bands,
            chunks=chunks,
            groupby=groupby,
            crs=crs,
            resolution=resolution,
            bbox=bbox,
            resampling=resampling,
            on_error=on_error,
            retries=retries,
            retry_backoff_s=retry_backoff_s,
        )
    )


def failed_assets(cube: xr.Dataset) -> list[FailedAsset]:
    """The assets :func:`load` left out with ``on_error="skip"`` (empty if none).

    Examples
    --------
    >>> import tempfile
    >>> event = sarcube.synthetic.write_event(tempfile.mkdtemp(), (64, 64))
    >>> event.files[0].unlink()  # the first date's VV file is gone
    >>> cube = load(search(event.catalog), on_error="skip")
    >>> [(failed.item, failed.band) for failed in failed_assets(cube)], cube.sizes["time"]
    ([('SYNTH-0_20240502T051731', 'vv')], 2)
    """
    if not isinstance(cube, xr.Dataset):
        raise DTypeError(
            f"failed_assets: pass the cube (Dataset) that load returned, got {type(cube).__name__}"
        )
    return [FailedAsset(**entry) for entry in cube.attrs.get("failed_assets", [])]


_SEARCH_KEYS = ("collections", "bbox", "datetime", "ids", "filter", "max_items")


def open_cube(source: str | os.PathLike[str] | Iterable[pystac.Item], **kwargs: Any) -> xr.Dataset:
    """:func:`search` then :func:`load`: keyword arguments go to the one that takes them.

    Examples
    --------
    >>> import tempfile, sarcube
    >>> event = sarcube.synthetic.write_event(tempfile.mkdtemp(), (64, 64))
    >>> cube = open_cube(event.catalog, datetime="2024-05-14/..", chunks={"y": 32, "x": 32})
    >>> dict(cube.sizes), cube["vv"].chunks is not None
    ({'time': 2, 'y': 64, 'x': 64}, True)
    """
    search_kw = {k: kwargs.pop(k) for k in _SEARCH_KEYS if k in kwargs}
    items = search(source, **search_kw)
    return load(items, **kwargs)
