"""Build a static STAC catalog from a folder of per-polarisation GeoTIFFs.

Many SAR products ship one GeoTIFF per polarisation and acquisition (OPERA
RTC-S1, ASF HyP3 RTC, exported GEE scenes). :func:`build` parses the file
names, groups the files of one acquisition into one STAC item with one asset
per polarisation, reads each file's grid (projection extension v2) and writes
a self-contained static collection whose assets use absolute ``file://`` URIs,
so it loads both from disk and through a STAC API.

Two file-name patterns are built in (see :data:`PATTERNS`):

``"opera-rtc-s1"``
    ``OPERA_L2_RTC-S1_<burst>_<YYYYMMDDTHHMMSS>Z_<processed>Z_<S1A|S1B|S1C>_<spacing>_v<ver>_<POL>.tif``
    (burst id such as ``T137-292318-IW1``; the track gives ``sat:relative_orbit``).
    When one acquisition was processed twice, the newest processing wins.
``"generic"``
    ``<scene>_<YYYYMMDD>[T<HHMMSS>][Z]_<POL>.tif`` — ``scene`` is any text,
    ``POL`` one of VV/VH/HH/HV in either case. Fields the name cannot carry
    (platform, instrument mode, ...) come from ``properties=``.

Any other naming works with a :class:`FilenamePattern` whose regular expression
has the named groups ``datetime`` and ``pol`` (and optionally ``group``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pystac

# pystac and rasterio are imported by the functions that use them: the command
# line reads PATTERNS for its help without loading them.

from .._atomic import write_text_atomic
from ..errors import CatalogError, InputNotFoundError, OutputError, ParameterError

__all__ = ["PATTERNS", "FilenamePattern", "build"]


@dataclass(frozen=True)
class FilenamePattern:
    """How to read acquisition, polarisation and grouping from a file name.

    Parameters
    ----------
    name
        Short name of the pattern.
    regex
        Regular expression matched against the file name (not the path). Named
        groups: ``datetime`` (``YYYYMMDD`` or ``YYYYMMDDTHHMMSS``) and ``pol``
        are required; ``group`` (scene/burst id), ``platform`` and
        ``processed`` (processing time, newest wins on duplicates) are optional.
    properties
        STAC properties every item of this pattern gets (overridable).
    item_id
        Format string for the item id, over the regex groups and ``date``
        (the acquisition time as ``YYYYMMDDTHHMMSS``).

    Examples
    --------
    Files named ``site7-20240502-vv.tif`` (scene, date, polarisation):

    >>> import pathlib, shutil, tempfile
    >>> event = sarcube.synthetic.write_event(tempfile.mkdtemp(), (32, 32))
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for f in event.files:  # SYNTH-0_20240502T051731_VV.tif -> site7-20240502-vv.tif
    ...     name = f.name.replace("SYNTH-0_", "site7-").replace("T051731_", "-").lower()
    ...     _ = shutil.copy(f, folder / name)
    >>> pattern = FilenamePattern(
    ...     name="site",
    ...     regex="^(?P<group>site[0-9]+)-(?P<datetime>[0-9]{8})-(?P<pol>vv|vh)[.]tif$",
    ...     properties={"platform": "sentinel-1a"},
    ... )
    >>> collection = build(folder, folder / "stac", collection_id="sites", pattern=pattern)
    >>> items = sorted(collection.get_items(), key=lambda item: item.id)
    >>> [item.id for item in items], items[0].properties["platform"]
    (['site7_20240502T000000', 'site7_20240514T000000', 'site7_20240526T000000'], 'sentinel-1a')
    """

    name: str
    regex: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    item_id: str = "{group}_{date}"

    def match(self, filename: str) -> dict[str, str] | None:
        """The named groups of *filename*, or ``None`` when it does not match."""
        m = re.match(self.regex, filename, flags=re.IGNORECASE)
        return None if m is None else {k: v for k, v in m.groupdict().items() if v is not None}


_S1_PLATFORMS = {"S1A": "sentinel-1a", "S1B": "sentinel-1b", "S1C": "sentinel-1c"}

#: The built-in file-name patterns, by name.
PATTERNS: dict[str, FilenamePattern] = {
    "opera-rtc-s1": FilenamePattern(
        name="opera-rtc-s1",
        regex=(
            r"^OPERA_L2_RTC-S1_(?P<group>T(?P<track>\d{3})-\d{6}-IW[1-3])_"
            r"(?P<datetime>\d{8}T\d{6})Z_(?P<processed>\d{8}T\d{6})Z_"
            r"(?P<platform>S1[ABC])_(?P<spacing>\d+)_v(?P<version>[\d.]+)_"
            r"(?P<pol>VV|VH|HH|HV)\.tiff?$"
        ),
        properties={
            "constellation": "sentinel-1",
            "sar:instrument_mode": "IW",
            "sar:frequency_band": "C",
            "sar:center_frequency": 5.405,
            "sar:product_type": "RTC",
        },
        item_id="OPERA_L2_RTC-S1_{group}_{date}Z",
    ),
    "generic": FilenamePattern(
        name="generic",
        regex=r"^(?P<group>.+)_(?P<datetime>\d{8}(?:T\d{6})?)Z?_(?P<pol>VV|VH|HH|HV)\.tiff?$",
        properties={
            "sar:instrument_mode": "IW",
            "sar:frequency_band": "C",
            "sar:product_type": "GRD",
        },
    ),
}


def _parse_datetime(text: str) -> dt.datetime:
    fmt = "%Y%m%dT%H%M%S" if "T" in text.upper() else "%Y%m%d"
    return dt.datetime.strptime(text.upper(), fmt).replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Grid:
    epsg: int | None
    wkt: str
    shape: tuple[int, int]
    transform: tuple[float, ...]
    bounds: tuple[float, float, float, float]
    dtype: str
    tiled: bool
    overviews: bool


def _read_grid(path: Path) -> _Grid:
    import rasterio

    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise CatalogError(
                    f"{path} has no CRS; only georeferenced GeoTIFFs can be catalogued"
                )
            return _Grid(
                epsg=src.crs.to_epsg(),
                wkt=src.crs.to_wkt(),
                shape=(src.height, src.width),
                transform=tuple(src.transform)[:6],
                bounds=tuple(src.bounds),
                dtype=src.dtypes[0],
                tiled=src.profile.get("tiled", False),
                overviews=bool(src.overviews(1)),
            )
    except rasterio.errors.RasterioIOError as e:
        raise CatalogError(f"cannot open {path} as a raster: {e}") from e


def _collect_files(
    folder_or_files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> list[Path]:
    if isinstance(folder_or_files, str | os.PathLike):
        root = Path(folder_or_files)
        if not root.exists():
            raise InputNotFoundError(
                f"{root} does not exist; pass a folder of GeoTIFFs or a list of files"
            )
        if root.is_file():
            return [root.resolve()]
        return sorted(p.resolve() for p in root.rglob("*") if p.suffix.lower() in {".tif", ".tiff"})
    return sorted(Path(p).resolve() for p in folder_or_files)


def build(
    folder_or_files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    collection_id: str,
    pattern: str | FilenamePattern = "opera-rtc-s1",
    properties: Mapping[str, Any] | None = None,
    description: str | None = None,
    title: str | None = None,
    license: str = "other",
    overwrite: bool = False,
) -> pystac.Collection:
    """Write a static STAC collection for per-polarisation GeoTIFFs.

    Parameters
    ----------
    folder_or_files
        A folder (searched recursively for ``*.tif``/``*.tiff``) or file paths.
    out
        Output folder; ``out/collection.json`` is the collection and every
        item lives at ``out/<item id>/<item id>.json``.
    collection_id
        The collection id.
    pattern
        A name from :data:`PATTERNS` or a :class:`FilenamePattern`.
    properties
        Extra STAC properties for every item (e.g. ``{"platform": "sentinel-1a",
        "sat:orbit_state": "ascending"}``); they override the pattern's.
    overwrite
        Replace an existing ``out/collection.json``.

    Every JSON file is written under a temporary name and renamed, the items
    first and ``collection.json`` last: a ``collection.json`` that is there
    belongs to a complete catalog.

    Returns
    -------
    pystac.Collection
        The written collection (items attached).

    Raises
    ------
    CatalogError
        No file matched the pattern, files of one acquisition have different
        grids, or an acquisition has the same polarisation twice.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> event = sarcube.synthetic.write_event(tempfile.mkdtemp(), (32, 32))
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "stac"
    >>> collection = build(event.root / "data", out, collection_id="synth", pattern="generic")
    >>> collection.id, len(list(collection.get_items())), (out / "collection.json").exists()
    ('synth', 3, True)
    >>> sarcube.open_cube(out / "collection.json").sizes["time"]
    3
    """
    import pystac
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.sar import SarExtension

    if isinstance(pattern, str):
        if pattern not in PATTERNS:
            raise ParameterError(
                f"catalog.build: unknown pattern {pattern!r}; use one of {sorted(PATTERNS)} "
                "or a FilenamePattern"
            )
        pattern = PATTERNS[pattern]
    out_dir = Path(out)
    if (out_dir / "collection.json").exists() and not overwrite:
        raise OutputError(
            f"{out_dir / 'collection.json'} exists; pass overwrite=True to replace it"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} exists and is not a folder; pass a folder path as out")

    files = _collect_files(folder_or_files)
    # (group, datetime) -> pol -> (processed, path, fields)
    acquisitions: dict[tuple[str, str], dict[str, tuple[str, Path, dict[str, str]]]] = {}
    for path in files:
        fields = pattern.match(path.name)
        if fields is None:
            continue
        key = (fields.get("group", path.parent.name), fields["datetime"].upper())
        pol = fields["pol"].upper()
        processed = fields.get("processed", "")
        previous = acquisitions.setdefault(key, {}).get(pol)
        if previous is not None:
            if not processed or processed == previous[0]:
                raise CatalogError(
                    f"two files for {pol} of acquisition {key}: {previous[1]} and {path}; "
                    "remove one, or name them so the pattern tells them apart"
                )
            if processed < previous[0]:
                continue
        acquisitions[key][pol] = (processed, path, fields)
    if not acquisitions:
        raise CatalogError(
            f"no file matched pattern {pattern.name!r} among {len(files)} rasters; see "
            "sarcube.catalog.PATTERNS or pass pattern=FilenamePattern(...)"
        )

    items = [
        _make_item(key, pols, pattern, dict(properties or {}))
        for key, pols in sorted(acquisitions.items())
    ]
    collection = pystac.Collection(
        id=collection_id,
        description=description or f"SAR backscatter, {len(items)} acquisitions ({pattern.name})",
        title=title,
        license=license,
        extent=pystac.Extent.from_items(items),
        stac_extensions=[
            ProjectionExtension.get_schema_uri(),
            SarExtension.get_schema_uri(),
        ],
    )
    collection.add_items(items)
    out_dir.mkdir(parents=True, exist_ok=True)
    collection.normalize_hrefs(str(out_dir.resolve()))
    # pystac saves a collection's items before the collection itself
    collection.save(catalog_type=pystac.CatalogType.SELF_CONTAINED, stac_io=_atomic_stac_io())
    return collection


def _atomic_stac_io() -> Any:
    """The local I/O of pystac, with every file written through :func:`write_text_atomic`.

    Defined here, not at import: pystac is imported by the functions that use it.
    """
    from pystac.stac_io import DefaultStacIO

    class AtomicStacIO(DefaultStacIO):
        def write_text_to_href(self, href: str, txt: str) -> None:
            target = Path(href)
            target.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(target, txt)

    return AtomicStacIO()


def _make_item(
    key: tuple[str, str],
    pols: Mapping[str, tuple[str, Path, dict[str, str]]],
    pattern: FilenamePattern,
    extra: dict[str, Any],
) -> pystac.Item:
    import pystac
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.sar import FrequencyBand, Polarization, SarExtension
    from pystac.extensions.sat import SatExtension
    from rasterio.warp import transform_bounds

    group, when = key
    grids = {pol: _read_grid(path) for pol, (_, path, _) in pols.items()}
    first_pol = sorted(grids)[0]
    grid = grids[first_pol]
    for pol, g in grids.items():
        if (g.wkt, g.shape, g.transform) != (grid.wkt, grid.shape, grid.transform):
            raise CatalogError(
                f"acquisition {group} {when}: {pols[pol][1].name} and {pols[first_pol][1].name} "
                "have different grids; one item needs one grid per polarisation"
            )
    fields = pols[first_pol][2]
    acquired = _parse_datetime(when)
    west, south, east, north = transform_bounds(grid.wkt, "EPSG:4326", *grid.bounds, densify_pts=21)
    geometry = {
        "type": "Polygon",
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }
    props: dict[str, Any] = dict(pattern.properties)
    if "platform" in fields:
        props["platform"] = _S1_PLATFORMS.get(
            fields["platform"].upper(), fields["platform"].lower()
        )
    if pattern.name == "opera-rtc-s1":
        props["opera:burst_id"] = group
        props["processing:datetime"] = _parse_datetime(fields["processed"]).isoformat()
    props.update(extra)
    item_id = pattern.item_id.format(
        **{**fields, "group": group, "date": acquired.strftime("%Y%m%dT%H%M%S")}
    )
    item = pystac.Item(
        id=item_id,
        geometry=geometry,
        bbox=[west, south, east, north],
        datetime=acquired,
        properties={},
    )

    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.apply(
        code=f"EPSG:{grid.epsg}" if grid.epsg else None,
        wkt2=None if grid.epsg else grid.wkt,
        shape=list(grid.shape),
        transform=list(grid.transform),
        bbox=list(grid.bounds),
    )
    sar = SarExtension.ext(item, add_if_missing=True)
    sar.apply(
        instrument_mode=str(props.pop("sar:instrument_mode", "UNKNOWN")),
        frequency_band=FrequencyBand(str(props.pop("sar:frequency_band", "C"))),
        polarizations=[Polarization(p) for p in sorted(pols)],
        product_type=str(props.pop("sar:product_type", "UNKNOWN")),
        center_frequency=props.pop("sar:center_frequency", None),
    )
    track = fields.get("track")
    if track is not None or any(k.startswith("sat:") for k in props):
        sat = SatExtension.ext(item, add_if_missing=True)
        if track is not None:
            sat.relative_orbit = int(track)
    item.properties.update(props)

    for pol in sorted(pols):
        _, path, _ = pols[pol]
        g = grids[pol]
        media = pystac.MediaType.COG if (g.tiled and g.overviews) else pystac.MediaType.GEOTIFF
        item.add_asset(
            pol.lower(),
            pystac.Asset(
                href=path.as_uri(),
                media_type=media,
                title=f"{pol} backscatter",
                roles=["data", "backscatter"],
                extra_fields={"sar:polarizations": [pol]},
            ),
        )
    return item
