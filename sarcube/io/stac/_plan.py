"""plan_load: a LoadPlan, everything load will do, decided without reading a pixel."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pystac

from ..._checks import as_int, check_choice, check_int, is_real
from ...conventions import POLARISATIONS, TIME_METADATA
from ...errors import (
    AssetReadError,
    BandNotFoundError,
    CatalogError,
    EmptySearchError,
    ParameterError,
)
from ._common import MAX_RETRIES, RETRY_MAX_BACKOFF_S, BBox
from ._read import FailedAsset
from ._search import _check_bbox, _item_interval


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
    groupby
        How items become time steps (see :func:`load`); kept so that
        :meth:`without` can group the remaining items the same way.
    failed
        Assets left out as unreadable (``on_error="skip"`` only): empty in
        the plan :func:`plan_load` returns, filled by :meth:`without` when
        :func:`load` has probed the assets.
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
    groupby: str = "solar_day"

    def without(self, failed: Sequence[FailedAsset]) -> LoadPlan:
        """The plan with every item that has an asset in *failed* left out.

        The remaining items are grouped into time steps again, as
        :func:`plan_load` groups them; *failed* is added to :attr:`failed`.
        No I/O.

        Raises
        ------
        AssetReadError
            *failed* covers every item.
        """
        if not failed:
            return self
        bad = {f.item for f in failed}
        kept = [item for item in self.items if item.id not in bad]
        if not kept:
            raise AssetReadError(
                f"every item has an unreadable asset, e.g. {failed[0].href}: {failed[0].error}"
            )
        groups, times, metadata = _group(kept, self.groupby)
        return replace(
            self,
            items=tuple(kept),
            groups=groups,
            times=times,
            metadata=metadata,
            failed=(*self.failed, *failed),
        )

    def __dask_tokenize__(self) -> object:
        """The same token for the same plan, in any process (items by their JSON)."""
        items = tuple(
            json.dumps(item.to_dict(), sort_keys=True, default=str) for item in self.items
        )
        fields = {k: v for k, v in self.__dict__.items() if k != "items"}
        return (type(self).__name__, items, repr(sorted(fields.items())))

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

    Nothing is read or opened: the plan is a pure function of the items and
    the arguments. With ``on_error="skip"``, :func:`load` opens every asset of
    the plan when it executes it and leaves out the unreadable ones
    (:meth:`LoadPlan.without`). See :func:`load` for the parameters.

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
    if not (is_real(retry_backoff_s) and retry_backoff_s >= 0):
        raise ParameterError(
            f"load: retry_backoff_s must be a number of seconds >= 0, got {retry_backoff_s!r}"
        )
    if resampling not in {"nearest", "bilinear", "cubic", "average", "mode", "min", "max", "med"}:
        raise ParameterError(
            f"load: unknown resampling {resampling!r}; use 'nearest', 'bilinear', 'average', ..."
        )
    if resolution is not None and not (is_real(resolution) and resolution > 0):
        raise ParameterError(f"load: resolution must be > 0 (CRS units), got {resolution!r}")
    if chunks is not None:
        # a geographic load names its dims latitude/longitude; odc-stac takes y/x for both
        aliases = {"latitude": "y", "lat": "y", "longitude": "x", "lon": "x"}
        chunks = {aliases.get(k, k): v for k, v in chunks.items()}
        bad = {
            k: v
            for k, v in chunks.items()
            if k not in ("time", "y", "x") or as_int(v) is None or v < 1
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

    groups, times, metadata = _group(normalised, groupby)
    return LoadPlan(
        items=tuple(normalised),
        bands=tuple(wanted),
        groups=groups,
        times=times,
        metadata=metadata,
        crs=crs,
        resolution=resolution,
        bbox=bbox_t,
        chunks=None if chunks is None else {k: int(v) for k, v in chunks.items()},
        resampling=resampling,
        on_error=on_error,
        retries=retries,
        retry_backoff_s=float(retry_backoff_s),
        groupby=groupby,
    )


def _group(
    items: Sequence[pystac.Item], groupby: str
) -> tuple[tuple[tuple[int, ...], ...], tuple[np.datetime64, ...], dict[str, tuple[Any, ...]]]:
    """Item indices per time step (in time order), each step's time and its STAC metadata."""
    key = _group_key(groupby)
    order = sorted(
        range(len(items)),
        key=lambda i: (key(items[i]), _item_interval(items[i])[0], items[i].id),
    )
    groups: list[list[int]] = []
    last: Any = object()
    for i in order:
        k = key(items[i])
        if groups and k == last:
            groups[-1].append(i)
        else:
            groups.append([i])
        last = k
    times = tuple(
        np.datetime64(_item_interval(items[g[0]])[0].replace(tzinfo=None), "ns") for g in groups
    )
    metadata: dict[str, tuple[Any, ...]] = {}
    for prop, coord in TIME_METADATA.items():
        values = [items[g[0]].properties.get(prop) for g in groups]
        if any(v is not None for v in values):
            metadata[coord] = tuple(values)
    return tuple(tuple(g) for g in groups), times, metadata
