"""lazy_cube: a cube of any size generated block by block, without files."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from numba import njit
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from ..conventions import LINEAR_UNITS, long_name
from ..errors import ParameterError
from ._common import CLASSES, DEFAULT_DATES, FLOOD_DB, _check_dates, _check_shape

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
    """A standard near-normal variate from one hash.

    The Irwin-Hall sum of its four 16-bit uniforms, centred and scaled to unit
    variance (within ±3.46).
    """
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
