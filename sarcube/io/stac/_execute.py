"""execute_plan, load and open_cube: a LoadPlan run through odc-stac."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import odc.stac
import pystac
import rioxarray  # noqa: F401  (registers .rio on the cubes it returns)
import xarray as xr

from ...conventions import LINEAR_UNITS, long_name
from ...errors import (
    DTypeError,
)
from ._plan import LoadPlan, plan_load
from ._read import FailedAsset, _NamingDriver, _probe_assets
from ._search import search


def _group_callable(plan: LoadPlan) -> Callable[[pystac.Item, Any, int], int]:
    index = {plan.items[i].id: t for t, group in enumerate(plan.groups) for i in group}

    def group_of(item: pystac.Item, parsed: Any, idx: int) -> int:
        return index[item.id]

    return group_of


def execute_plan(plan: LoadPlan) -> xr.Dataset:
    """Build the cube a :class:`LoadPlan` describes (lazy when it has chunks).

    With ``on_error="skip"`` this is where the plan's assets are opened (header
    and one pixel each, with the plan's retries) and the items with an
    unreadable one left out (:meth:`LoadPlan.without`).
    """
    if plan.on_error == "skip":
        plan = plan.without(_probe_assets(plan.items, plan.retries, plan.retry_backoff_s))
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
        when *chunks* is ``None``. ``"skip"``: every asset is opened once before
        the cube is built (:func:`plan_load` itself opens nothing); items
        with an unreadable asset are left out and listed in
        ``ds.attrs["failed_assets"]`` (see :func:`failed_assets`). Read
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
