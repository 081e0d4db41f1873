"""Ionospheric correction of interferometric phase with a dispersive phase screen."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import xarray as xr

from .._checks import NODATA_ATTRS, check_spatial, check_xarray, is_instance, nodata_of
from ..errors import DimensionError, DTypeError, GridMismatchError, ParameterError, UnitsError
from ._common import _LENGTH_UNITS, _check_array, _check_mask, _check_same_grid, _positional

__all__ = ["ionosphere_correction"]

_INVALID = ("nodata", "keep")


def _screen_on_grid(screen: xr.DataArray, da: xr.DataArray, func: str) -> xr.DataArray:
    """The phase screen on *da*'s pixels, resampled bilinearly when its grid differs."""
    try:
        _check_same_grid(da, screen, "ionosphere", func)
    except GridMismatchError:
        pass  # another grid: resampled below
    else:
        return _positional(screen)
    if screen.rio.crs is None or da.rio.crs is None:
        raise DimensionError(
            f"{func}: the ionosphere is on another grid ({dict(screen.sizes)}) than the phase "
            f"({dict(da.sizes)}) and one of them has no CRS; write both CRSs "
            "(.rio.write_crs) so it can be resampled, or pass it on the phase's grid"
        )
    from ..multisensor import coregister

    on_grid = coregister({"ionosphere": screen}, da, resampling="bilinear")["ionosphere"]
    return _positional(on_grid)


def ionosphere_correction(
    phase: xr.DataArray,
    ionosphere: xr.DataArray,
    *,
    mask: xr.DataArray | None = None,
    wrapped: bool = False,
    invalid: Literal["nodata", "keep"] = "nodata",
) -> xr.DataArray:
    """Interferometric phase with a dispersive (ionospheric) phase removed (lazy).

    Split-spectrum processing (Gomba et al. 2016; ISCE2's ``ion`` step, Liang
    et al. 2019) estimates the phase the ionosphere adds at the radar's
    carrier frequency, in radians. It is removed from the interferogram before
    the phase becomes a displacement (:func:`phase_to_displacement`):

    * unwrapped phase: ``φ − φ_ion``;
    * wrapped phase (``wrapped=True``): ``φ − φ_ion`` re-wrapped to ``[−π, π)``;
    * a complex interferogram: ``z · exp(−i φ_ion)`` (the magnitude is kept).

    Parameters
    ----------
    phase
        Interferometric phase in radians on ``(y, x)`` (leading dims are
        kept), or a complex interferogram. Pixels equal to the nodata value
        it declares (``_FillValue``, ..., ``nodata``, in rioxarray's order;
        HyP3 and ISCE2 write 0 outside the data) stay missing. May be
        dask-backed.
    ionosphere
        The dispersive phase in radians (e.g. ISCE2's ``filt.ion``, geocoded).
        On the phase's grid, or on another grid when both carry a CRS: it is
        then resampled bilinearly (the screen is smooth). NaN where it was
        not estimated.
    mask
        Boolean, ``True`` where the ionospheric estimate is trusted (e.g.
        coherence above a cut-off in the sub-band interferograms), on the
        phase's grid.
    wrapped
        Whether a real *phase* is wrapped, so that the result is wrapped again.
    invalid
        What becomes of pixels whose estimate is missing (NaN, or outside the
        *mask*): ``"nodata"`` (NaN, or 0 for a complex interferogram, ISCE2's
        missing value) or ``"keep"`` (the phase stays uncorrected there).

    Returns
    -------
    xarray.DataArray
        The corrected phase with the input's dims, coordinates, dtype and
        attrs, ``attrs["ionosphere"]`` saying what was removed. Missing
        pixels of a real phase are NaN (its nodata attributes are dropped).

    Raises
    ------
    UnitsError
        The phase or the screen is in length units (a displacement): correct
        the phase first, or convert the screen with ``−4π/λ``.

    References
    ----------
    Gomba, G., Parizzi, A., De Zan, F., Eineder, M., Bamler, R. (2016). Toward
    operational compensation of ionospheric effects in SAR interferograms: the
    split-spectrum method. *IEEE TGRS* 54(3), 1446–1461. Liang, C., Agram, P.,
    Simons, M., Fielding, E. J. (2019). Ionospheric correction of InSAR time
    series analysis of C-band Sentinel-1 TOPS data. *IEEE TGRS* 57(9), 6755–6773.

    Examples
    --------
    >>> phase = xr.DataArray([[3.0, -3.0, 0.5]], dims=("y", "x"))
    >>> ion = xr.DataArray([[-0.5, 0.5, np.nan]], dims=("y", "x"))
    >>> ionosphere_correction(phase, ion).values.round(3).tolist()
    [[3.5, -3.5, nan]]
    >>> ionosphere_correction(phase, ion, wrapped=True, invalid="keep").values.round(3).tolist()
    [[-2.783, 2.783, 0.5]]
    """
    func = "ionosphere_correction"
    if invalid not in _INVALID:
        raise ParameterError(f"{func}: invalid must be one of {_INVALID}, got {invalid!r}")
    if not isinstance(wrapped, bool):
        raise ParameterError(f"{func}: wrapped must be True or False, got {wrapped!r}")
    check_xarray(phase, func)
    complex_input = is_instance(phase, xr.DataArray) and np.issubdtype(
        phase.dtype, np.complexfloating
    )
    if complex_input:
        check_spatial(phase, func)
        da = phase
    else:
        da = _check_array(phase, "phase", func)
        if not np.issubdtype(da.dtype, np.floating):
            raise DTypeError(f"{func}: the phase has dtype {da.dtype}; pass radians as floats")
    for name, arr in (("phase", da), ("ionosphere", ionosphere)):
        units = str(getattr(arr, "attrs", {}).get("units", "")).strip().lower()
        if units in _LENGTH_UNITS:
            raise UnitsError(
                f"{func}: {name} is in {units!r}, a length; pass phase in radians "
                "(a screen in metres becomes radians with −4π/λ)"
            )
    screen_da = _check_array(ionosphere, "ionosphere", func)
    extra = [d for d in screen_da.dims if d not in ("y", "x")]
    if extra:
        raise DimensionError(
            f"{func}: the ionosphere has dims {extra} besides (y, x); pass one screen, "
            "e.g. ion.isel(band=0)"
        )
    screen = _screen_on_grid(screen_da.astype(np.float64), da, func)
    if mask is not None:
        screen = screen.where(_check_mask(mask, da, func))
    usable = np.isfinite(screen)
    correction = screen.fillna(0.0)

    attrs = dict(da.attrs)
    if complex_input:
        out = da * np.exp(-1j * correction)
        if invalid == "nodata":
            out = out.where(usable, 0)
    else:
        fill = nodata_of(da)
        values = da if fill is None or math.isnan(float(fill)) else da.where(da != fill)
        out = values - correction
        if wrapped:
            out = (out + math.pi) % (2 * math.pi) - math.pi
        if invalid == "nodata":
            out = out.where(usable)
        for key in NODATA_ATTRS:
            attrs.pop(key, None)
    out = out.astype(da.dtype)
    out.attrs = {**attrs, "ionosphere": "dispersive phase removed (split-spectrum estimate)"}
    out.encoding = {}
    out.name = da.name
    return out
