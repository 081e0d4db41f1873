"""The lazy histogram of a whole image, with the bins every threshold uses."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .._checks import check_dataarray, check_int, check_real
from .._metadata import name_or
from .._reduce import bin_counts
from ..conventions import DB_UNITS
from ..errors import ParameterError

#: The most bins a histogram takes: 8 MiB of float64 counts per chunk.
MAX_BINS = 1 << 20


def _default_range(da: xr.DataArray) -> tuple[float, float]:
    if np.issubdtype(da.dtype, np.integer):
        info = np.iinfo(da.dtype)
        if info.bits <= 16:
            return (float(info.min), float(info.max) + 1.0)
    if da.attrs.get("units") == DB_UNITS:
        return (-50.0, 20.0)
    raise ParameterError(
        "threshold: pass range=(low, high) for this data (defaults exist only for dB data, "
        "units='dB', and 8/16-bit integers); e.g. range=(-30, 30) for a dB change image"
    )


def histogram(
    da: xr.DataArray, *, bins: int = 512, range: tuple[float, float] | None = None
) -> xr.DataArray:
    """A lazy histogram of all valid values of *da* (one pass, bounded memory).

    Bins are equal over *range*; values outside it count in the end bins. The
    result has dim ``bin`` with coords ``bin`` (centres), ``bin_lower`` and
    ``bin_upper``.
    """
    check_dataarray(da, "histogram", "one band", "cube['vv']")
    check_real(da, "histogram")
    bins = check_int(bins, "bins", "histogram", minimum=2)
    if bins > MAX_BINS:
        raise ParameterError(
            f"histogram: bins={bins} would hold {bins * 8 / 2**20:,.0f} MiB of counts per "
            f"chunk; pass at most {MAX_BINS} (a threshold needs a few hundred to a few "
            "thousand, e.g. bins=1024)"
        )
    lo, hi = _default_range(da) if range is None else (float(range[0]), float(range[1]))
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        example = f"({hi:g}, {lo:g})" if math.isfinite(lo) and hi < lo else "(-30, 30)"
        raise ParameterError(
            f"histogram: range must be finite with low < high, got {range!r}; e.g. range={example}"
        )
    counts = bin_counts(da.data, lo, hi, bins)
    edges = np.linspace(lo, hi, bins + 1)
    return xr.DataArray(
        counts,
        dims="bin",
        coords={
            "bin": (edges[:-1] + edges[1:]) / 2,
            "bin_lower": ("bin", edges[:-1]),
            "bin_upper": ("bin", edges[1:]),
        },
        name="count",
        attrs={"long_name": f"histogram of {name_or(da, 'values')}", "units": "1"},
    )
