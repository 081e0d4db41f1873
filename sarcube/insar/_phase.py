"""Unwrapped phase to line-of-sight displacement."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import xarray as xr

from .._checks import NODATA_ATTRS, is_instance
from ..errors import DTypeError, ParameterError, UnitsError
from ._common import (
    _LENGTH_UNITS,
    _check_array,
    _check_mask,
    _float_dtype,
    _nodata,
    _wavelength,
)

__all__ = ["phase_to_displacement"]

# --------------------------------------------------------------------------
# phase to displacement


#: Length units of :func:`phase_to_displacement` and how many of them make a metre.
_PER_METRE = {"m": 1.0, "cm": 100.0, "mm": 1000.0}


def phase_to_displacement(
    unw_phase: xr.DataArray,
    *,
    wavelength: float | None = None,
    nodata: float | None = None,
    mask: xr.DataArray | None = None,
    units: Literal["m", "cm", "mm"] = "m",
) -> xr.DataArray:
    """Line-of-sight displacement from unwrapped phase in radians (lazy), in metres by default.

    ``d = −λ·φ / (4π)`` (Hanssen 2001; Yunjun et al. 2019). **Positive
    means motion towards the satellite** (range shortening, uplift for purely
    vertical motion): the convention of ISCE2 and MintPy, and of the HyP3
    ``los_disp`` maps made from HyP3's ``unw_phase``. A product whose phase has
    the opposite sign (phase increasing towards the satellite) gives the
    opposite displacement: negate the result (``-phase_to_displacement(...)``).

    Parameters
    ----------
    unw_phase
        Unwrapped phase in radians on ``(y, x)`` (leading dims, e.g. one per
        interferogram, are kept). May be dask-backed.
    wavelength
        Radar wavelength in metres. By default it is taken from the attrs
        ``wavelength`` or ``radar_wavelength`` (metres), else
        ``center_frequency`` (GHz as in STAC, or Hz), else from a
        ``platform``/``mission``/``sensor`` attribute or scalar coordinate
        via :data:`RADAR_WAVELENGTHS_M`.
    nodata
        Phase value that marks missing pixels (HyP3 writes 0 outside the
        swath). By default the nodata value *phase* declares, if any
        (``_FillValue``, ``missing_value``, ``fill_value`` or ``nodata``, in
        rioxarray's order).
    mask
        Boolean swath mask on the same ``(y, x)`` grid, ``True`` where the
        phase is valid; pixels where it is ``False`` become NaN.
    units
        Length unit of the result: ``"m"``, ``"cm"`` (what gauge studies
        usually tabulate) or ``"mm"``. The wavelength stays in metres.

    Returns
    -------
    xarray.DataArray
        LOS displacement (float32 for float32 or integer input) with the
        input's dims and coordinates (CRS included), ``units`` in its attrs
        and the wavelength used (metres) in ``attrs["wavelength"]``; nodata
        and masked pixels are NaN.

    Raises
    ------
    ParameterError
        The wavelength is missing or implausible (not in metres), or *units*
        is not one of ``"m"``, ``"cm"``, ``"mm"``.
    UnitsError
        The input is already a displacement (length units).

    References
    ----------
    Hanssen, R. F. (2001). *Radar Interferometry: Data Interpretation and Error
    Analysis*. Kluwer. Yunjun, Z., Fattahi, H., Amelung, F. (2019). Small
    baseline InSAR time series analysis: unwrapping error correction and noise
    reduction. *Computers & Geosciences* 133, 104331.

    Examples
    --------
    >>> phase = xr.DataArray([[-np.pi, 2 * np.pi]], dims=("y", "x"), attrs={"platform": "S1A"})
    >>> phase_to_displacement(phase).values.round(4).tolist()
    [[0.0139, -0.0277]]
    >>> phase_to_displacement(phase, units="cm").values.round(2).tolist()
    [[1.39, -2.77]]
    """
    func = "phase_to_displacement"
    if units not in _PER_METRE:
        raise ParameterError(
            f"{func}: units must be one of {sorted(_PER_METRE)}, got {units!r}; e.g. units='cm'"
        )
    if is_instance(unw_phase, xr.DataArray) and np.issubdtype(unw_phase.dtype, np.complexfloating):
        raise DTypeError(
            f"{func}: the input is complex (a wrapped interferogram); unwrap it first "
            "(e.g. SNAPHU) and pass the unwrapped phase in radians"
        )
    da = _check_array(unw_phase, "unw_phase", func)
    given = str(da.attrs.get("units", "")).strip().lower()
    if given in _LENGTH_UNITS:
        raise UnitsError(
            f"{func}: the input is in {given!r}, already a displacement; pass unwrapped phase "
            "in radians, or use the displacement directly"
        )
    lam = _wavelength(da, wavelength, func)
    fill = _nodata(da, nodata, func)
    valid_mask = None if mask is None else _check_mask(mask, da, func)

    out = da.astype(_float_dtype(da.dtype))
    if fill is not None:
        out = out.where(da != fill)
    if valid_mask is not None:
        out = out.where(valid_mask)
    out = out * (-lam / (4 * math.pi) * _PER_METRE[units])
    attrs = {k: v for k, v in da.attrs.items() if k not in (*NODATA_ATTRS, "units")}
    attrs.update(
        units=units,
        long_name="line-of-sight displacement (positive towards the satellite)",
        wavelength=lam,
    )
    out.attrs = attrs
    out.encoding = {}
    out.name = da.name
    return out
