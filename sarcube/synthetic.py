"""Seeded synthetic dual-polarisation SAR scenes with a flood.

The generator draws a landscape (smooth random elevation with a meandering
river, land-cover patches), gives every land-cover class a typical C-band
VV/VH backscatter in dB, varies it a little from date to date, floods the
low ground along the river from a chosen date on, and multiplies the linear
power by gamma speckle with ``looks`` looks (mean 1, variance ``1/looks``).

Typical C-band backscatter used (dB, VV/VH; after e.g. the ESA Sentinel-1
user handbook and the Sen1Floods11 / OPERA DSWx-SAR literature):

=========== ======= =======
class        VV      VH
=========== ======= =======
open water   -22     -29
urban         -6     -13
forest        -8     -14
cropland     -11     -18
grassland    -13     -21
flood water  -21     -28
=========== ======= =======

The equivalent number of looks of Sentinel-1 IW GRD high-resolution products
is 4.4 (Sentinel-1 Product Definition, ESA), the default here.

:func:`make_scene` returns the cube in memory; :func:`write_event` writes it
as Cloud-Optimised GeoTIFFs plus a static STAC catalog that
:func:`sarcube.open_cube` reads. :func:`lazy_cube` generates a cube of any
size block by block, without files, for benchmarks and scale tests.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import xarray as xr
from numba import njit
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from scipy import ndimage

from .catalog import FilenamePattern, build
from .conventions import LINEAR_UNITS, long_name
from .errors import OutputError, ParameterError

__all__ = [
    "CLASSES",
    "DEFAULT_DATES",
    "SyntheticEvent",
    "SyntheticScene",
    "lazy_cube",
    "make_scene",
    "two_landscapes",
    "write_event",
]

#: Land-cover classes by code, as (name, VV dB, VH dB).
CLASSES: dict[int, tuple[str, float, float]] = {
    0: ("open water", -22.0, -29.0),
    1: ("urban", -6.0, -13.0),
    2: ("forest", -8.0, -14.0),
    3: ("cropland", -11.0, -18.0),
    4: ("grassland", -13.0, -21.0),
}
#: Backscatter of flooded open land (dB, VV/VH).
FLOOD_DB = (-21.0, -28.0)

#: Two pre-event dates and one post-event date, 12 days apart (one S1 repeat cycle).
DEFAULT_DATES: tuple[dt.datetime, ...] = (
    dt.datetime(2024, 5, 2, 5, 17, 31, tzinfo=dt.UTC),
    dt.datetime(2024, 5, 14, 5, 17, 31, tzinfo=dt.UTC),
    dt.datetime(2024, 5, 26, 5, 17, 31, tzinfo=dt.UTC),
)


@dataclass(frozen=True)
class SyntheticScene:
    """A synthetic scene in memory.

    Attributes
    ----------
    cube
        The SAR cube: ``vv``, ``vh`` (time, y, x) float32 linear power with
        NaN nodata at the swath edge, ``spatial_ref``.
    landcover
        (y, x) uint8 class codes of :data:`CLASSES`.
    flood
        (time, y, x) uint8: 1 where the ground is flooded on that date (not
        counting permanent water), 0 elsewhere.

    Examples
    --------
    >>> scene = make_scene((64, 64), seed=1)
    >>> list(scene.cube.data_vars), scene.landcover.dims, scene.flood.dims
    (['vv', 'vh'], ('y', 'x'), ('time', 'y', 'x'))
    """

    cube: xr.Dataset
    landcover: xr.DataArray
    flood: xr.DataArray


@dataclass(frozen=True)
class SyntheticEvent:
    """Files written by :func:`write_event`.

    Attributes
    ----------
    root
        The output folder.
    catalog
        Path of the static STAC collection (``root/catalog/collection.json``).
    files
        The per-date, per-polarisation COGs.
    truth
        Folder with ``landcover.tif`` and ``flood.tif`` (flood on the last date).
    dates
        Acquisition times (UTC).
    flood_date
        The first date on which the flood is present.

    Examples
    --------
    >>> import tempfile
    >>> event = write_event(tempfile.mkdtemp(), (32, 32))
    >>> event.catalog.name, len(event.files), event.flood_date > event.dates[0]
    ('collection.json', 6, True)
    """

    root: Path
    catalog: Path
    files: tuple[Path, ...]
    truth: Path
    dates: tuple[dt.datetime, ...]
    flood_date: dt.datetime


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-variance random field with features about *scale* pixels wide.

    White noise on a coarse grid, upsampled with cubic splines: cost grows with
    the output size only, whatever the feature scale.
    """
    coarse = (
        max(2, int(np.ceil(shape[0] / scale)) + 3),
        max(2, int(np.ceil(shape[1] / scale)) + 3),
    )
    noise = rng.standard_normal(coarse)
    zoom = ((coarse[0] - 3) / shape[0], (coarse[1] - 3) / shape[1])
    iy = np.arange(shape[0]) * zoom[0] + 1
    ix = np.arange(shape[1]) * zoom[1] + 1
    field = ndimage.map_coordinates(
        noise, np.meshgrid(iy, ix, indexing="ij"), order=3, mode="nearest"
    )
    field -= field.mean()
    std = field.std()
    out: np.ndarray = (field / std if std > 0 else field).astype(np.float32)
    return out


def _check_shape(shape: object, func: str) -> tuple[int, int]:
    """(ny, nx) as ints, or a ParameterError naming the expected form."""
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 2
        or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape)
    ):
        raise ParameterError(
            f"{func}: shape must be (ny, nx) pixels, e.g. (512, 512); got {shape!r}"
        )
    return int(shape[0]), int(shape[1])


def _check_dates(
    dates: Sequence[dt.datetime], flood_date: dt.datetime | None
) -> tuple[tuple[dt.datetime, ...], dt.datetime]:
    if len(dates) < 1:
        raise ParameterError("synthetic: dates is empty; pass at least one acquisition time")
    norm = tuple(d if d.tzinfo else d.replace(tzinfo=dt.UTC) for d in dates)
    if list(norm) != sorted(set(norm)):
        raise ParameterError("synthetic: dates must be strictly increasing")
    flood = norm[-1] if flood_date is None else flood_date
    flood = flood if flood.tzinfo else flood.replace(tzinfo=dt.UTC)
    return norm, flood


def two_landscapes(
    shape: tuple[int, int] = (512, 1024), *, seed: int = 0, looks: float = 4.4, margin: int = 160
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """A pre/post VV pair over two landscapes whose water differs in backscatter.

    The left half is land at −10 dB with water at −22 dB after the event; the
    right half is brighter, land at +6 dB and water at −2 dB — what one global
    threshold cannot map on both sides and regional thresholds can. Water
    lies in 64-pixel squares on a 128-pixel grid, none within *margin* pixels
    of the border between the halves (a regional surface changes between
    region centres). Linear power with gamma speckle of *looks* looks,
    ``units="1"``, y/x coordinates of a 10 m grid.

    Returns
    -------
    (pre, post, truth)
        Two float32 images and the boolean flood truth.

    Examples
    --------
    >>> pre, post, truth = two_landscapes((256, 512))
    >>> post.shape, float(truth.mean()) > 0.1
    ((256, 512), True)
    """
    ny, nx = _check_shape(shape, "two_landscapes")
    rng = np.random.default_rng(seed)
    left = np.arange(nx) < nx // 2
    land = np.broadcast_to(np.where(left, -10.0, 6.0), (ny, nx))
    water = np.broadcast_to(np.where(left, -22.0, -2.0), (ny, nx))
    truth = np.zeros((ny, nx), dtype=bool)
    for y0 in range(16, ny - 63, 128):
        for x0 in range(16, nx - 63, 128):
            if abs(x0 + 32 - nx // 2) > margin:
                truth[y0 : y0 + 64, x0 : x0 + 64] = True

    def speckled(db: np.ndarray) -> np.ndarray:
        power = 10.0 ** (db / 10.0) * rng.gamma(looks, 1.0 / looks, db.shape)
        return power.astype(np.float32)

    coords = {"y": 1000.0 - 10.0 * np.arange(ny), "x": 10.0 * np.arange(nx)}

    def band(values: np.ndarray) -> xr.DataArray:
        attrs = {"units": LINEAR_UNITS, "long_name": long_name("vv", LINEAR_UNITS)}
        return xr.DataArray(values, dims=("y", "x"), coords=coords, attrs=attrs)

    pre = band(speckled(land))
    post = band(speckled(np.where(truth, water, land)))
    return pre, post, xr.DataArray(truth, dims=("y", "x"), coords=coords, name="truth")


def make_scene(
    shape: tuple[int, int] = (512, 512),
    *,
    dates: Sequence[dt.datetime] = DEFAULT_DATES,
    flood_date: dt.datetime | None = None,
    looks: float = 4.4,
    seed: int = 0,
    resolution: float = 20.0,
    crs: str = "EPSG:32633",
    origin: tuple[float, float] = (500_000.0, 5_000_000.0),
    nodata_edge: bool = True,
) -> SyntheticScene:
    """Draw a synthetic flood scene.

    Parameters
    ----------
    shape
        ``(ny, nx)`` pixels; any size.
    dates
        Acquisition times, increasing.
    flood_date
        The flood is present on every date at or after it (default: the last date).
    looks
        Equivalent number of looks of the gamma speckle (> 0; ``inf`` for none).
    seed
        Seed; the same arguments give the same scene.
    resolution, crs, origin
        Pixel size (CRS units), CRS, and ``(x, y)`` of the upper-left corner.
    nodata_edge
        Blank a wedge at one corner with NaN, as at a swath edge.

    Examples
    --------
    >>> scene = make_scene((64, 64), seed=1)
    >>> scene.cube["vv"].shape, int(scene.flood.isel(time=-1).sum()) > 0
    ((3, 64, 64), True)
    """
    ny, nx = _check_shape(shape, "make_scene")
    if ny < 8 or nx < 8:
        raise ParameterError(f"make_scene: shape {shape} too small; use at least (8, 8)")
    if isinstance(looks, bool) or not isinstance(looks, (int, float)) or not looks > 0:
        raise ParameterError(f"make_scene: looks must be a number > 0, got {looks!r}")
    times, flood_date = _check_dates(dates, flood_date)
    # Separate streams: the landscape does not depend on whether speckle is drawn.
    rng, speckle_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    scale = max(ny, nx)

    # Terrain: a valley with a meandering river along it.
    yy, xx = np.meshgrid(np.linspace(0, 1, ny), np.linspace(0, 1, nx), indexing="ij")
    meander = (
        0.5
        + 0.12 * np.sin(2 * np.pi * (xx * 1.3 + rng.uniform()))
        + 0.05 * _smooth_field(rng, (ny, nx), scale / 3)
    )
    distance = np.abs(yy - meander)  # distance to the river, fraction of the height
    elevation = 4.0 * distance + 0.35 * _smooth_field(rng, (ny, nx), scale / 6)
    river = distance < 0.015 + 0.004 * _smooth_field(rng, (ny, nx), scale / 10)
    lakes = elevation < np.quantile(elevation, 0.02)
    permanent_water = river | lakes

    # Land cover from a second field; towns are small bright patches.
    cover_field = _smooth_field(rng, (ny, nx), scale / 12)
    town_field = _smooth_field(rng, (ny, nx), scale / 25)
    landcover = np.full((ny, nx), 4, dtype=np.uint8)  # grassland
    landcover[cover_field > -0.4] = 3  # cropland
    landcover[cover_field > 0.7] = 2  # forest
    landcover[(town_field > 1.6) & (elevation > np.quantile(elevation, 0.2))] = 1  # urban
    landcover[permanent_water] = 0

    # The flood: low ground near the river, except towns and permanent water.
    floodable = (elevation < np.quantile(elevation, 0.22)) & ~permanent_water & (landcover != 1)
    flood_by_date = np.stack([floodable & (t >= flood_date) for t in times]).astype(np.uint8)

    # Stable per-pixel texture plus a small per-date, per-class change (dB).
    texture = 0.8 * _smooth_field(rng, (ny, nx), 3.0)
    swath = np.zeros((ny, nx), dtype=bool)
    if nodata_edge:
        swath = (xx + (1 - yy)) < 0.18
    bands: dict[str, np.ndarray] = {}
    for p, pol in enumerate(("vv", "vh")):
        db_by_class = np.array([CLASSES[c][1 + p] for c in sorted(CLASSES)], dtype=np.float32)
        stack = np.empty((len(times), ny, nx), dtype=np.float32)
        for t in range(len(times)):
            offsets = rng.normal(0.0, 0.4, size=db_by_class.size).astype(np.float32)
            db = (db_by_class + offsets)[landcover] + texture
            db = np.where(flood_by_date[t] == 1, FLOOD_DB[p] + 0.5 * texture, db)
            power = np.power(10.0, db / 10.0, dtype=np.float32)
            if np.isfinite(looks):
                power *= speckle_rng.gamma(looks, 1.0 / looks, size=(ny, nx)).astype(np.float32)
            power[swath] = np.nan
            stack[t] = power
        bands[pol] = stack

    geobox = GeoBox.from_bbox(
        (origin[0], origin[1] - ny * resolution, origin[0] + nx * resolution, origin[1]),
        crs=crs,
        resolution=resolution,
    )
    coords = xr_coords(geobox)
    time = np.array([t.replace(tzinfo=None) for t in times], dtype="datetime64[ns]")
    cube = xr.Dataset(
        {
            pol: xr.DataArray(
                arr,
                dims=("time", "y", "x"),
                attrs={"units": LINEAR_UNITS, "long_name": long_name(pol, LINEAR_UNITS)},
            )
            for pol, arr in bands.items()
        },
        coords={"time": time, **coords},
        attrs={"source": "sarcube.synthetic", "seed": seed, "looks": float(looks)},
    )
    flag_attrs = {"flag_values": [0, 1], "flag_meanings": "not_flooded flooded"}
    lc_attrs = {
        "flag_values": sorted(CLASSES),
        "flag_meanings": " ".join(CLASSES[c][0].replace(" ", "_") for c in sorted(CLASSES)),
    }
    return SyntheticScene(
        cube=cube,
        landcover=xr.DataArray(landcover, dims=("y", "x"), coords=coords, attrs=lc_attrs),
        flood=xr.DataArray(
            flood_by_date,
            dims=("time", "y", "x"),
            coords={"time": time, **coords},
            attrs=flag_attrs,
        ),
    )


def _write_cog(path: Path, array: np.ndarray, geobox: GeoBox, nodata: float | int | None) -> None:
    profile = {
        "driver": "COG",
        "width": array.shape[1],
        "height": array.shape[0],
        "count": 1,
        "dtype": array.dtype.name,
        "crs": str(geobox.crs),
        "transform": geobox.transform,
        "nodata": nodata,
        "compress": "deflate",
        "blocksize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array, 1)


#: File-name pattern of the scenes :func:`write_event` writes (the generic one).
SYNTHETIC_PATTERN = FilenamePattern(
    name="generic",
    regex=r"^(?P<group>SYNTH-\d+)_(?P<datetime>\d{8}T\d{6})_(?P<pol>VV|VH)\.tif$",
    properties={
        "platform": "synthetic",
        "constellation": "sarcube-synthetic",
        "sar:instrument_mode": "IW",
        "sar:frequency_band": "C",
        "sar:center_frequency": 5.405,
        "sar:product_type": "RTC",
        "sat:orbit_state": "descending",
        "sat:relative_orbit": 22,
    },
)


def write_event(
    out: str | os.PathLike[str],
    shape: tuple[int, int] = (512, 512),
    *,
    dates: Sequence[dt.datetime] = DEFAULT_DATES,
    flood_date: dt.datetime | None = None,
    looks: float = 4.4,
    seed: int = 0,
    collection_id: str = "sarcube-synthetic",
    overwrite: bool = False,
    **scene_kwargs: object,
) -> SyntheticEvent:
    """Write a synthetic flood event as COGs and a static STAC catalog.

    Layout: ``out/data/SYNTH-<seed>_<YYYYMMDDTHHMMSS>_<POL>.tif`` (the generic
    naming of :mod:`sarcube.catalog`), ``out/truth/landcover.tif`` and
    ``out/truth/flood.tif`` (the flood on the last date), and the collection at
    ``out/catalog/collection.json``.

    Examples
    --------
    >>> import tempfile
    >>> event = write_event(tempfile.mkdtemp(), (64, 64))
    >>> event.catalog.name, len(event.files)
    ('collection.json', 6)
    """
    root = Path(out)
    if (root / "catalog" / "collection.json").exists() and not overwrite:
        raise OutputError(f"{root} already holds a synthetic event; pass overwrite=True")
    scene = make_scene(
        shape,
        dates=dates,
        flood_date=flood_date,
        looks=looks,
        seed=seed,
        **scene_kwargs,  # type: ignore[arg-type]
    )
    times, flood_at = _check_dates(dates, flood_date)
    try:
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "truth").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {root}: {e}; pass a writable folder") from e
    geobox = scene.cube.odc.geobox
    files = []
    for t, when in enumerate(times):
        for pol in ("vv", "vh"):
            path = root / "data" / f"SYNTH-{seed}_{when:%Y%m%dT%H%M%S}_{pol.upper()}.tif"
            _write_cog(path, scene.cube[pol].values[t], geobox, np.nan)
            files.append(path)
    _write_cog(root / "truth" / "landcover.tif", scene.landcover.values, geobox, None)
    _write_cog(root / "truth" / "flood.tif", scene.flood.values[-1], geobox, None)
    build(
        root / "data",
        root / "catalog",
        collection_id=collection_id,
        pattern=SYNTHETIC_PATTERN,
        description=f"Synthetic dual-pol SAR flood event (seed {seed}, {looks} looks)",
        overwrite=overwrite,
    )
    return SyntheticEvent(
        root=root,
        catalog=root / "catalog" / "collection.json",
        files=tuple(files),
        truth=root / "truth",
        dates=times,
        flood_date=flood_at,
    )


# --------------------------------------------------------------------------
# lazily generated cubes of any size


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S31, _S30, _S27, _S11 = np.uint64(31), np.uint64(30), np.uint64(27), np.uint64(11)


@njit(cache=True, nogil=True, inline="always")
def _absorb(h: np.uint64, key: int) -> np.uint64:
    h = (h ^ np.uint64(key)) * _MIX1
    return h ^ (h >> _S31)


@njit(cache=True, nogil=True, inline="always")
def _finish(h: np.uint64) -> np.uint64:
    """splitmix64's finaliser."""
    h = (h ^ (h >> _S30)) * _MIX1
    h = (h ^ (h >> _S27)) * _MIX2
    return h ^ (h >> _S31)


@njit(cache=True, nogil=True, inline="always")
def _hash4(a: int, b: int, c: int, d: int) -> np.uint64:
    return _finish(_absorb(_absorb(_absorb(_absorb(_GOLDEN, a), b), c), d))


@njit(cache=True, nogil=True, inline="always")
def _hash6(a: int, b: int, c: int, d: int, e: int, f: int) -> np.uint64:
    h = _absorb(_absorb(_absorb(_absorb(_GOLDEN, a), b), c), d)
    return _finish(_absorb(_absorb(h, e), f))


@njit(cache=True, nogil=True, inline="always")
def _unit(h: np.uint64) -> float:
    """Uniform (0, 1) from the top 53 bits of a hash."""
    return (float(h >> _S11) + 0.5) / 9007199254740992.0  # 2**53


@njit(cache=True, nogil=True, inline="always")
def _normal(h: np.uint64) -> float:
    """A standard near-normal variate from one hash: the Irwin-Hall sum of its four
    16-bit uniforms, centred and scaled to unit variance (within ±3.46)."""
    total = 0.0
    for shift in range(4):
        total += (float((h >> np.uint64(16 * shift)) & np.uint64(0xFFFF)) + 0.5) / 65536.0
    return (total - 2.0) * 1.7320508075688772  # sqrt(3)


@njit(cache=True, nogil=True, error_model="numpy")
def _lazy_kernel(
    seed: int,
    pol: int,
    t: int,
    flooded: bool,
    looks: float,
    y0: int,
    x0: int,
    out: np.ndarray,
    class_db: np.ndarray,
    flood_db: float,
) -> None:
    """Fill *out* (ny, nx) with linear power; each pixel depends only on its global index.

    Land cover from hashed 48-px cells with a 16-px jitter of the cell edges;
    open land (classes 3 and 4) in flood zones of 256-px cells (35 %) takes
    the flood backscatter when *flooded*; gamma(looks, 1/looks) speckle by the
    Wilson-Hilferty cube of a near-normal variate (:func:`_normal`).
    """
    ny, nx = out.shape
    n_classes = class_db.shape[0]
    offsets = np.empty(n_classes)
    for c in range(n_classes):
        offsets[c] = (_unit(_hash6(seed, 4, t, pol, c, 0)) - 0.5) * 1.0
    speckle = looks == looks and looks < np.inf
    k = 1.0 / (9.0 * looks) if speckle else 0.0
    root_k = math.sqrt(k)
    for i in range(ny):
        y = y0 + i
        # land cover and flood zone change every few pixels along a row: hash once per cell
        last_cell, last_class_key, last_zone = -1, (-1, -1), -1
        jy = jx = cls = 0
        zone = False
        base = 0.0
        for j in range(nx):
            x = x0 + j
            if x // 16 != last_cell:
                last_cell = x // 16
                jy = int(_unit(_hash4(seed, 1, y // 16, last_cell)) * 16)
                jx = int(_unit(_hash4(seed, 2, y // 16, last_cell)) * 16)
            key = ((y + jy) // 48, (x + jx) // 48)
            if x // 256 != last_zone:
                last_zone = x // 256
                zone = flooded and _unit(_hash4(seed, 5, y // 256, last_zone)) < 0.35
                last_class_key = (-1, -1)
            if key != last_class_key:
                last_class_key = key
                cls = int(_hash4(seed, 3, key[0], key[1]) % np.uint64(n_classes))
                db = flood_db if zone and cls >= 3 else class_db[cls] + offsets[cls]
                base = math.exp(db * 0.23025850929940458)  # 10 ** (db / 10)
            power = base
            if speckle:
                z = _normal(_hash6(seed, 6, t, pol, y, x))
                g = max(1.0 - k + z * root_k, 0.0)
                power *= g * g * g
            out[i, j] = power


def _lazy_block(
    *,
    seed: int,
    pol: int,
    t: int,
    flooded: bool,
    looks: float,
    y0: int,
    x0: int,
    shape: tuple[int, int],
) -> np.ndarray:
    """One (1, ny, nx) block of linear power (see :func:`_lazy_kernel`)."""
    out = np.empty((1, *shape), dtype=np.float32)
    class_db = np.array([CLASSES[c][1 + pol] for c in sorted(CLASSES)], dtype=np.float64)
    _lazy_kernel(seed, pol, t, flooded, float(looks), y0, x0, out[0], class_db, FLOOD_DB[pol])
    return out


def _check_chunks(chunks: object) -> tuple[int, int]:
    """``(cy, cx)`` from an int, a ``(cy, cx)`` pair or an xarray-style ``{"y": …, "x": …}``."""
    if isinstance(chunks, Mapping):
        unknown = set(chunks) - {"y", "x", "time"}
        if unknown or not {"y", "x"} <= set(chunks):
            raise ParameterError(
                f"lazy_cube: chunks {dict(chunks)} need 'y' and 'x' (and no other dims but "
                "'time', one date per chunk); e.g. chunks={'y': 1024, 'x': 1024}"
            )
        if chunks.get("time", 1) != 1:
            raise ParameterError(
                f"lazy_cube: each chunk holds one date; drop 'time' from chunks or set it "
                f"to 1, got {chunks['time']!r}"
            )
        chunks = (chunks["y"], chunks["x"])
    pair = (chunks, chunks) if isinstance(chunks, int | np.integer) else chunks
    if (
        not isinstance(pair, tuple | list)
        or len(pair) != 2
        or not all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in pair)
        or min(pair) < 1
    ):
        raise ParameterError(
            f"lazy_cube: chunks must be a positive int, (y, x) or {{'y': .., 'x': ..}}, "
            f"got {chunks!r}"
        )
    return int(pair[0]), int(pair[1])


def lazy_cube(
    shape: tuple[int, int],
    *,
    chunks: int | tuple[int, int] | Mapping[str, int] = 1024,
    dates: Sequence[dt.datetime] = DEFAULT_DATES,
    flood_date: dt.datetime | None = None,
    looks: float = 4.4,
    seed: int = 0,
    resolution: float = 20.0,
    crs: str = "EPSG:32633",
    origin: tuple[float, float] = (500_000.0, 5_000_000.0),
) -> xr.Dataset:
    """A dual-pol cube of any size, generated block by block when computed (no files).

    Every pixel is a pure function of its global position, date, band and
    *seed* (counter-based hashing), so the values do not depend on *chunks*
    and any block can be computed alone: a continent-sized cube costs nothing
    until computed. Land cover comes in 48-pixel patches of the classes of
    :data:`CLASSES`; from *flood_date* on (default: the last date), open land
    in flood zones (256-pixel cells, 35 %) takes the flood-water backscatter.
    Speckle is gamma-like with *looks* looks (the Wilson-Hilferty cube of a near-normal
    variate: mean 1, variance about 1/looks).

    Examples
    --------
    >>> cube = lazy_cube((100_000, 100_000), chunks=2048)
    >>> cube["vv"].shape, cube["vv"].data.npartitions
    ((3, 100000, 100000), 7203)
    >>> float(cube["vv"][0, 50_000, 50_000]) > 0
    True
    """
    ny, nx = _check_shape(shape, "lazy_cube")
    if min(ny, nx) < 1:
        raise ParameterError(f"lazy_cube: shape must be positive, got {shape}")
    cy, cx = _check_chunks(chunks)
    times, flood_at = _check_dates(dates, flood_date)
    import dask.array as dsa
    from dask.array.core import normalize_chunks
    from dask.base import tokenize

    ychunks, xchunks = normalize_chunks((cy, cx), (ny, nx))
    flooded = tuple(when >= flood_at for when in times)
    bands = {
        pol: dsa.map_blocks(
            _generated_block,
            seed=seed,
            pol=p,
            flooded=flooded,
            looks=looks,
            chunks=((1,) * len(times), ychunks, xchunks),
            dtype=np.float32,
            meta=np.empty((0, 0, 0), dtype=np.float32),
            name=f"sarcube-lazy-{pol}-" + tokenize(seed, p, flooded, looks, ychunks, xchunks),
        )
        for p, pol in enumerate(("vv", "vh"))
    }
    geobox = GeoBox.from_bbox(
        (origin[0], origin[1] - ny * resolution, origin[0] + nx * resolution, origin[1]),
        crs=crs,
        resolution=resolution,
    )
    time = np.array([t.replace(tzinfo=None) for t in times], dtype="datetime64[ns]")
    return xr.Dataset(
        {
            pol: xr.DataArray(
                arr,
                dims=("time", "y", "x"),
                attrs={"units": LINEAR_UNITS, "long_name": long_name(pol, LINEAR_UNITS)},
            )
            for pol, arr in bands.items()
        },
        coords={"time": time, **xr_coords(geobox)},
        attrs={"source": "sarcube.synthetic.lazy_cube", "seed": seed, "looks": float(looks)},
    )


def _generated_block(
    *,
    seed: int,
    pol: int,
    flooded: tuple[bool, ...],
    looks: float,
    block_info: dict[object, Any] | None = None,
) -> np.ndarray:
    assert block_info is not None
    (t0, _), (y0, y1), (x0, x1) = block_info[None]["array-location"]
    return _lazy_block(
        seed=seed,
        pol=pol,
        t=t0,
        flooded=flooded[t0],
        looks=looks,
        y0=y0,
        x0=x0,
        shape=(y1 - y0, x1 - x0),
    )
