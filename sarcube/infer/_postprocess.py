"""From a model's flood probability to a flood map: a threshold, then small regions removed."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .._checks import check_int, check_real, check_spatial, check_xarray
from ..conventions import NODATA
from ..errors import DimensionError, DTypeError, ParameterError
from ..regions import remove_small_regions

__all__ = ["flood_from_probability"]


def flood_from_probability(
    probability: xr.DataArray,
    *,
    threshold: float = 0.5,
    min_size: int = 0,
) -> xr.DataArray:
    """A uint8 flood map of a flood probability (lazy; chunk-invariant).

    1 where the probability is at least *threshold*, 0 below it, 255
    (sarcube's nodata) where it is NaN; then flood regions of fewer than *min_size* pixels
    (8-connected, as :func:`sarcube.remove_small_regions`) become 0. A model
    card's post-processing in one step: e.g. ``predict`` →
    ``probs.sel({"class": 1})`` → this.

    Parameters
    ----------
    probability
        ``(..., y, x)`` probabilities in [0, 1], NaN for nodata (e.g. the
        ``flood_probability`` that ``sarcube run`` writes).
    threshold
        In (0, 1); the default 0.5 equals :func:`classify` for two classes.
    min_size
        Flood regions of fewer pixels are removed (0 keeps all).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> p = xr.DataArray([[0.9, 0.2, np.nan], [0.7, 0.6, 0.1]], dims=("y", "x"))
    >>> flood_from_probability(p).values.tolist()
    [[1, 0, 255], [1, 1, 0]]
    >>> flood_from_probability(p, threshold=0.65).values.tolist()
    [[1, 0, 255], [1, 0, 0]]
    """
    func = "flood_from_probability"
    check_xarray(probability, func)
    if not isinstance(probability, xr.DataArray):
        raise DTypeError(f"{func}: pass the probability as a DataArray, e.g. probs.sel(class=1)")
    check_spatial(probability, func)
    check_real(probability, func)
    if "class" in probability.dims:
        raise DimensionError(
            f"{func}: the probability has a 'class' dim; pick the flood class first, "
            "e.g. probs.sel({'class': 1})"
        )
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
        raise ParameterError(f"{func}: threshold must be a number in (0, 1), got {threshold!r}")
    if not (math.isfinite(float(threshold)) and 0 < float(threshold) < 1):
        raise ParameterError(f"{func}: threshold must be in (0, 1), e.g. 0.5, got {threshold!r}")
    min_size = check_int(min_size, "min_size", func, minimum=0)
    flooded = (probability >= threshold).astype(np.uint8)
    out = flooded.where(probability.notnull(), NODATA).astype(np.uint8)
    if min_size > 0:
        out = remove_small_regions(out, min_size=int(min_size))
    out.name = "flood"
    out.attrs = {
        "long_name": f"flood where the probability is at least {float(threshold):g}",
        "flag_values": np.array([0, 1, NODATA], dtype=np.uint8),
        "flag_meanings": "no_flood flood nodata",
        "threshold": float(threshold),
        "min_size": int(min_size),
    }
    return out
