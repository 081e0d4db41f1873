"""The classes, their backscatter, the default dates and the checks every generator shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ..errors import ParameterError

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
