"""make_scene and two_landscapes: scenes in memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from .._checks import is_real
from ..conventions import LINEAR_UNITS, long_name
from ..errors import ParameterError
from ._common import CLASSES, DEFAULT_DATES, FLOOD_DB, _check_dates, _check_shape, _smooth_field


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
    if not is_real(looks, finite=False) or not looks > 0:
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
