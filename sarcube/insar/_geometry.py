"""Line-of-sight displacement to vertical motion, referenced to the spatial median."""

from __future__ import annotations

import math
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr

from ..conventions import SPATIAL_DIMS
from ..errors import DTypeError, ParameterError, UnitsError
from ._common import (
    _ANGLE_RADIANS,
    _check_array,
    _check_same_grid,
    _float_dtype,
    _positional,
)

__all__ = ["los_to_vertical"]

# --------------------------------------------------------------------------
# LOS to vertical


def _plane_nanmedian(block: np.ndarray) -> np.ndarray:
    """NaN-ignoring median over the last two axes; NaN (no warning) for all-NaN planes.

    All-NaN planes are filled before the median rather than the warning filtered:
    ``warnings.catch_warnings`` is not thread-safe, and dask calls this in threads.
    """
    empty = np.isnan(block).all(axis=(-2, -1))
    filled = np.where(empty[..., None, None], 0, block) if empty.any() else block
    out = np.array(np.nanmedian(filled, axis=(-2, -1)), dtype=block.dtype)
    out[empty] = np.nan
    return out


def _spatial_median(da: xr.DataArray) -> xr.DataArray:
    """Exact NaN-ignoring median of each (y, x) plane; lazy on dask input.

    Each plane is gathered into one chunk (the leading dims one index per
    chunk), so the result does not depend on the input's chunking; memory is
    that of one plane.
    """
    leading = [d for d in da.dims if d not in SPATIAL_DIMS]
    arr = da.transpose(*leading, *SPATIAL_DIMS)
    data = arr.data
    if isinstance(data, dsa.Array):
        nd = data.ndim
        whole = data.rechunk({**{i: 1 for i in range(nd - 2)}, nd - 2: -1, nd - 1: -1})
        median: Any = dsa.map_blocks(
            _plane_nanmedian, whole, drop_axis=(nd - 2, nd - 1), dtype=data.dtype
        )
    else:
        median = _plane_nanmedian(np.asarray(data))
    template = arr.isel({d: 0 for d in SPATIAL_DIMS}, drop=True)
    out: xr.DataArray = template.copy(data=median)
    return out


def _checked_incidence(block: np.ndarray, func: str) -> np.ndarray:
    """*block* unchanged, or ParameterError when a finite angle is outside (0, 90) degrees."""
    finite = block[np.isfinite(block)]
    if finite.size and (finite.min() <= 0 or finite.max() >= 90):
        bad = finite[(finite <= 0) | (finite >= 90)][0]
        raise ParameterError(
            f"{func}: incidence angles must be in (0, 90) degrees, found {bad!r}; pass the "
            "incidence in degrees (np.degrees(...) for radians), not the look or elevation angle"
        )
    return block


def _incidence_cosine(incidence: Any, los: xr.DataArray, func: str) -> Any:
    """``cos θ`` as a float or a (lazy) DataArray on the LOS grid, after checking θ."""
    if isinstance(incidence, xr.Dataset):
        raise DTypeError(f"{func}: pass the incidence as one DataArray or a number, not a Dataset")
    if isinstance(incidence, xr.DataArray):
        if str(incidence.attrs.get("units", "")).strip().lower() in _ANGLE_RADIANS:
            raise UnitsError(
                f"{func}: the incidence is in radians; pass degrees, e.g. np.degrees(incidence)"
            )
        if not (
            np.issubdtype(incidence.dtype, np.floating)
            or np.issubdtype(incidence.dtype, np.integer)
        ):
            raise DTypeError(f"{func}: the incidence has dtype {incidence.dtype}; pass degrees")
        _check_same_grid(los, incidence, "incidence", func)
        inc = _positional(incidence).astype(los.dtype)
        if isinstance(inc.data, dsa.Array):
            checked = dsa.map_blocks(_checked_incidence, inc.data, func, dtype=inc.dtype)
            inc = inc.copy(data=checked)
        else:
            _checked_incidence(np.asarray(inc.data), func)
        return np.cos(np.deg2rad(inc))
    if isinstance(incidence, bool):
        raise ParameterError(f"{func}: incidence must be in degrees, got {incidence!r}")
    try:
        angle = float(incidence)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{func}: incidence must be a number or a DataArray in degrees, got {incidence!r}"
        ) from None
    if not 0 < angle < 90:
        raise ParameterError(
            f"{func}: incidence must be in (0, 90) degrees, got {incidence!r}; pass degrees "
            "(np.degrees(...) for radians)"
        )
    return math.cos(math.radians(angle))


def los_to_vertical(
    los: xr.DataArray,
    incidence: float | xr.DataArray,
    *,
    reference: Literal["median"] | float | None = "median",
) -> xr.DataArray:
    """Vertical displacement ``u = (d − d_ref) / cos θ`` from LOS displacement (lazy).

    Assumes the motion is purely vertical, so the LOS sees ``u·cos θ``
    (Hanssen 2001); horizontal motion leaks into *u* as
    ``sin θ / cos θ`` times its LOS component. With the sign convention of
    :func:`phase_to_displacement`, *u* is positive up (subsidence negative).

    An interferogram measures displacement relative to an unknown constant,
    so the LOS field is referenced first, before the projection: to its
    spatial median by default, a stable reference when most of the scene does
    not move. Calibrate the remaining offset against gauges with
    :func:`fit_gain_offset`.

    Parameters
    ----------
    los
        LOS displacement on ``(y, x)``, e.g. from :func:`phase_to_displacement`.
    incidence
        Incidence angle in degrees, ``0 < θ < 90``: a number, or a DataArray on
        the same ``(y, x)`` grid (e.g. ISCE2 ``los.rdr`` band 1; convert maps
        stored in radians with ``np.degrees``). A dask-backed incidence is checked
        chunk by chunk when computed.
    reference
        ``"median"``: subtract the NaN-ignoring spatial median of each
        ``(y, x)`` plane (exact, whatever the chunking; on dask each plane is
        gathered into one chunk for it). A number: subtract that LOS value.
        ``None``: no referencing.

    Returns
    -------
    xarray.DataArray
        Vertical displacement in the units of *los*, with its dims,
        coordinates and attrs (``long_name`` updated, ``reference`` noted).

    Examples
    --------
    >>> los = xr.DataArray([[0.01, 0.02, 0.03]], dims=("y", "x"), attrs={"units": "m"})
    >>> los_to_vertical(los, 60.0).values.round(3).tolist()
    [[-0.02, 0.0, 0.02]]
    >>> los_to_vertical(los, 60.0, reference=None).values.round(3).tolist()
    [[0.02, 0.04, 0.06]]
    """
    func = "los_to_vertical"
    da = _check_array(los, "los", func)
    units = str(da.attrs.get("units", "")).strip().lower()
    if units in _ANGLE_RADIANS:
        raise UnitsError(
            f"{func}: the input is phase in radians; convert it with "
            "sarcube.insar.phase_to_displacement first"
        )
    if not np.issubdtype(da.dtype, np.floating):
        da = da.astype(_float_dtype(da.dtype))
    if isinstance(reference, str):
        if reference != "median":
            raise ParameterError(
                f"{func}: reference must be 'median', a number or None, got {reference!r}"
            )
    elif reference is not None:
        if isinstance(reference, bool) or not isinstance(reference, int | float | np.number):
            raise ParameterError(
                f"{func}: reference must be 'median', a number or None, got {reference!r}"
            )
        if not math.isfinite(float(reference)):
            raise ParameterError(f"{func}: reference must be finite, got {reference!r}")
    cosine = _incidence_cosine(incidence, da, func)

    if reference == "median":
        referenced = da - _spatial_median(da)
        note = "spatial median of the LOS field"
    elif reference is None:
        referenced = da
        note = "none"
    else:
        referenced = da - float(reference)
        note = f"LOS value {float(reference)!r}"
    out: xr.DataArray = (referenced / cosine).transpose(*da.dims)
    attrs = dict(da.attrs)
    attrs.update(
        long_name="vertical displacement (positive up), LOS / cos(incidence)",
        reference=note,
    )
    attrs.setdefault("units", "m")
    out.attrs = attrs
    out.encoding = {}
    out.name = da.name
    return out
