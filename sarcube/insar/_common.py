"""Constants and input checks shared by the InSAR steps."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import xarray as xr

from .._checks import (
    check_dataarray,
    check_real,
    check_same_grid,
    check_spatial,
    check_xarray,
    nodata_of,
)
from ..errors import DimensionError, DTypeError, ParameterError

__all__ = ["RADAR_WAVELENGTHS_M"]

#: Speed of light in vacuum, m/s (exact, SI definition).
SPEED_OF_LIGHT: Final = 299_792_458.0

#: Centre frequencies (Hz) of the radar missions whose wavelength can be
#: inferred from a ``platform``/``mission``/``sensor`` attribute.
#:
#: * Sentinel-1 C-SAR: 5.405 GHz (ESA, *Sentinel-1 User Handbook*, 2013).
#: * ALOS PALSAR: 1270 MHz (JAXA, *ALOS Data Users Handbook*, 2008). Its
#:   wavelength is taken as the 0.2362 m quoted for PALSAR InSAR products,
#:   not ``c / f`` = 0.23606 m (0.06 % apart).
#: * ALOS-2 PALSAR-2: 1257.5 MHz (JAXA, ALOS-2/PALSAR-2 product documentation).
#: * NISAR L-SAR: 1257.5 MHz (NASA-ISRO, *NISAR Science Users' Handbook*,
#:   2018). NISAR's S-band and its other L-band modes differ: products carry
#:   their own wavelength, which takes precedence.
CENTRE_FREQUENCIES_HZ: Final[Mapping[str, float]] = MappingProxyType(
    {
        "Sentinel-1": 5.405e9,
        "ALOS": 1.270e9,
        "ALOS-2": 1.2575e9,
        "NISAR": 1.2575e9,
    }
)

#: Radar wavelengths in metres, ``c / f`` of :data:`CENTRE_FREQUENCIES_HZ`
#: except ALOS: Sentinel-1 0.05546576, ALOS 0.2362, ALOS-2 and NISAR (L) 0.2384035.
RADAR_WAVELENGTHS_M: Final[Mapping[str, float]] = MappingProxyType(
    {name: SPEED_OF_LIGHT / f for name, f in CENTRE_FREQUENCIES_HZ.items()} | {"ALOS": 0.2362}
)

#: Spellings of the missions in product metadata, lower case without
#: separators ("Sentinel-1A", "S1B", "ALOS-2", "PALSAR2", ...).
_MISSION_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{a: "Sentinel-1" for a in ("sentinel1", "s1")},
        **{f"sentinel1{u}": "Sentinel-1" for u in "abcd"},
        **{f"s1{u}": "Sentinel-1" for u in "abcd"},
        **{a: "ALOS" for a in ("alos", "alos1", "palsar", "palsar1", "alospalsar")},
        **{a: "ALOS-2" for a in ("alos2", "palsar2", "alos2palsar2")},
        **{a: "NISAR" for a in ("nisar", "nisarl", "nisarlsar")},
    }
)

_WAVELENGTH_ATTRS: Final = ("wavelength", "radar_wavelength")
_FREQUENCY_ATTRS: Final = ("center_frequency", "sar:center_frequency", "centre_frequency")
_MISSION_ATTRS: Final = ("platform", "mission", "sensor")
_LENGTH_UNITS: Final = frozenset({"m", "metre", "metres", "meter", "meters", "mm", "cm"})
_ANGLE_RADIANS: Final = frozenset({"rad", "radian", "radians"})


# --------------------------------------------------------------------------
# shared checks


def _check_array(obj: Any, name: str, func: str) -> xr.DataArray:
    """*obj* as a real (y, x) DataArray, or a sarcube error naming the fix."""
    check_xarray(obj, func)
    if not isinstance(obj, xr.DataArray):
        raise DTypeError(
            f"{func}: {name} is a Dataset; pass one variable, e.g. ds['unwrapped_phase']"
        )
    check_spatial(obj, func)
    check_real(obj, func)
    return obj


def _check_same_grid(da: xr.DataArray, other: xr.DataArray, name: str, func: str) -> None:
    """*other* must be on the (y, x) grid of *da*, without dims *da* lacks."""
    extra = [d for d in other.dims if d not in da.dims]
    if extra:
        raise DimensionError(
            f"{func}: {name} has dims {extra} that the data lacks (dims {tuple(da.dims)}); "
            f"pass a {name} on (y, x)"
        )
    check_same_grid(
        other, da, name, func, fix="resample it onto the data's grid (e.g. rio.reproject_match)"
    )


def _positional(other: xr.DataArray) -> xr.DataArray:
    """*other* without its coordinates, so it applies pixel by pixel after the grid check."""
    return xr.DataArray(other.data, dims=other.dims)


def _float_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    return np.dtype(np.float64) if dtype == np.float64 else np.result_type(dtype, np.float32)


def _attr(da: xr.DataArray, names: Iterable[str]) -> tuple[str, Any] | None:
    """The first of *names* among the attrs (case-insensitive) or scalar coordinates."""
    lowered = {str(k).lower(): (str(k), v) for k, v in da.attrs.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    for name in names:
        for key, coord in da.coords.items():
            if str(key).lower() == name and coord.ndim <= 1 and not coord.chunks:
                values = {str(v) for v in np.atleast_1d(coord.values)}
                if len(values) == 1:
                    return str(key), values.pop()
    return None


def _checked_wavelength(value: Any, where: str, func: str) -> float:
    try:
        wavelength = float(value)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{func}: the wavelength from {where} is {value!r}, not a number; "
            "pass wavelength= in metres"
        ) from None
    if not math.isfinite(wavelength) or wavelength <= 0:
        raise ParameterError(f"{func}: the wavelength from {where} is {value!r}; pass one > 0 m")
    if not 1e-3 <= wavelength <= 2.0:
        raise ParameterError(
            f"{func}: the wavelength from {where} is {wavelength!r}, outside the radar range "
            "1 mm to 2 m; pass it in metres (e.g. 0.0555 for Sentinel-1, not 5.55 cm)"
        )
    return wavelength


def _mission(value: Any) -> str | None:
    key = re.sub(r"[^a-z0-9]", "", str(value).lower())
    return _MISSION_ALIASES.get(key)


def _wavelength(da: xr.DataArray, wavelength: float | None, func: str) -> float:
    """The radar wavelength in metres: argument, then attrs, then the mission name."""
    if wavelength is not None:
        return _checked_wavelength(wavelength, "the wavelength argument", func)
    found = _attr(da, _WAVELENGTH_ATTRS)
    if found is not None:
        return _checked_wavelength(found[1], f"attribute {found[0]!r}", func)
    found = _attr(da, _FREQUENCY_ATTRS)
    if found is not None:
        try:
            frequency = float(found[1])
        except (TypeError, ValueError):
            frequency = math.nan
        # STAC's sar:center_frequency is in GHz; processors often store Hz.
        hz = frequency if frequency > 1e3 else frequency * 1e9
        return _checked_wavelength(SPEED_OF_LIGHT / hz, f"attribute {found[0]!r} (Hz/GHz)", func)
    found = _attr(da, _MISSION_ATTRS)
    if found is not None:
        mission = _mission(found[1])
        if mission is not None:
            return RADAR_WAVELENGTHS_M[mission]
        raise ParameterError(
            f"{func}: no wavelength known for {found[0]}={found[1]!r} (known: "
            f"{', '.join(RADAR_WAVELENGTHS_M)}); pass wavelength= in metres"
        )
    raise ParameterError(
        f"{func}: the radar wavelength is unknown (no 'wavelength', 'radar_wavelength' or "
        "'platform' attribute); pass wavelength= in metres, e.g. "
        f"wavelength=sarcube.insar.RADAR_WAVELENGTHS_M['Sentinel-1'] "
        f"({RADAR_WAVELENGTHS_M['Sentinel-1']:.8f})"
    )


def _nodata(da: xr.DataArray, nodata: float | None, func: str) -> float | None:
    raw: Any = nodata
    if raw is None:
        raw = nodata_of(da)
        if raw is None:
            return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ParameterError(f"{func}: nodata must be a number, got {raw!r}") from None
    return None if math.isnan(value) else value


def _check_mask(mask: Any, da: xr.DataArray, func: str) -> xr.DataArray:
    check_dataarray(mask, func, "one boolean mask")
    if mask.dtype != bool:
        raise DTypeError(
            f"{func}: the mask has dtype {mask.dtype}; pass a boolean mask, True inside the "
            "swath, e.g. (valid_data == 1)"
        )
    _check_same_grid(da, mask, "mask", func)
    return _positional(mask)
