"""InSAR post-processing: from unwrapped phase to vertical motion checked against gauges.

The chain starts from an unwrapped, geocoded interferogram (ISCE2, HyP3,
MintPy-style products) and ends with numbers a gauge network can verify:

1. :func:`phase_to_displacement`: line-of-sight (LOS) displacement in metres,
   ``d = −λ·φ / (4π)``, positive towards the satellite.
2. :func:`los_to_vertical`: referenced to the spatial median and projected
   to the vertical, ``u = d / cos θ``, assuming purely vertical motion.
3. :func:`clip_to_areas` and :func:`sample_at_points`: the field over areas
   of interest (with a coverage report) and at gauge locations.
4. :func:`fit_gain_offset`, :func:`idw`, :func:`farthest_point_splits`,
   :func:`accuracy_metrics` and :func:`gauge_density_experiment`: how many
   gauges are needed to calibrate the InSAR field, and how the calibrated
   field compares with interpolating the gauges alone.

The raster functions are lazy on dask input and give the same result for any
chunking; the functions that return tables (coverage, samples) compute only
the pixels they need, in one ``dask.compute``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, overload

import dask.array as dsa
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from dask.base import compute
from numpy.typing import ArrayLike

from ._checks import check_real, check_spatial, check_xarray
from .conventions import SPATIAL_DIMS
from .errors import DimensionError, DTypeError, GridMismatchError, ParameterError, UnitsError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "RADAR_WAVELENGTHS_M",
    "GainOffset",
    "accuracy_metrics",
    "clip_to_areas",
    "farthest_point_splits",
    "fit_gain_offset",
    "gauge_density_experiment",
    "idw",
    "los_to_vertical",
    "phase_to_displacement",
    "sample_at_points",
]

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
    """*other* must be on the (y, x) grid of *da*."""
    extra = [d for d in other.dims if d not in da.dims]
    if extra:
        raise DimensionError(
            f"{func}: {name} has dims {extra} that the data lacks (dims {tuple(da.dims)}); "
            f"pass a {name} on (y, x)"
        )
    for dim in SPATIAL_DIMS:
        if dim not in other.dims:
            continue
        if other.sizes[dim] != da.sizes[dim]:
            raise GridMismatchError(
                f"{func}: {name} has {other.sizes[dim]} pixels along {dim!r}, the data "
                f"{da.sizes[dim]}; resample it onto the data's grid (e.g. rio.reproject_match)"
            )
        if dim in other.coords and dim in da.coords:
            a, b = np.asarray(da[dim].values), np.asarray(other[dim].values)
            step = abs(float(a[1] - a[0])) if a.size > 1 else 1.0
            if not np.allclose(a, b, rtol=0, atol=1e-3 * step):
                raise GridMismatchError(
                    f"{func}: the {dim!r} coordinates of {name} differ from the data's; "
                    "resample it onto the data's grid (e.g. rio.reproject_match)"
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
        for key in ("_FillValue", "nodata"):
            if key in da.attrs:
                raw = da.attrs[key]
                break
        else:
            return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ParameterError(f"{func}: nodata must be a number, got {raw!r}") from None
    return None if math.isnan(value) else value


def _check_mask(mask: Any, da: xr.DataArray, func: str) -> xr.DataArray:
    check_xarray(mask, func)
    if not isinstance(mask, xr.DataArray):
        raise DTypeError(f"{func}: pass one boolean mask (a DataArray), not a Dataset")
    if mask.dtype != bool:
        raise DTypeError(
            f"{func}: the mask has dtype {mask.dtype}; pass a boolean mask, True inside the "
            "swath, e.g. (valid_data == 1)"
        )
    _check_same_grid(da, mask, "mask", func)
    return _positional(mask)


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
        swath). By default the ``_FillValue`` or ``nodata`` attribute, if any.
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
    if isinstance(unw_phase, xr.DataArray) and np.issubdtype(unw_phase.dtype, np.complexfloating):
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
    attrs = {k: v for k, v in da.attrs.items() if k not in ("_FillValue", "nodata", "units")}
    attrs.update(
        units=units,
        long_name="line-of-sight displacement (positive towards the satellite)",
        wavelength=lam,
    )
    out.attrs = attrs
    out.encoding = {}
    out.name = da.name
    return out


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
    """cos θ as a float or a (lazy) DataArray on the LOS grid, after checking θ."""
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


# --------------------------------------------------------------------------
# areas and points


def _grid(raster: xr.DataArray, func: str) -> tuple[float, float, float, float]:
    """(x0, dx, y0, dy): the outer edge and signed pixel size along x and y.

    From the pixel-centre coordinates of a regular grid, as rioxarray's
    ``rio.transform(recalc=True)`` derives them.
    """
    edges = []
    for dim in ("x", "y"):
        if dim not in raster.coords or raster[dim].ndim != 1 or raster.sizes[dim] < 2:
            raise DimensionError(
                f"{func}: the raster needs 1-D '{dim}' coordinates with at least 2 pixels; "
                "load it with rioxarray.open_rasterio or assign coords"
            )
        centres = np.asarray(raster[dim].values, dtype=float)
        step = (centres[-1] - centres[0]) / (centres.size - 1)
        edges += [float(centres[0] - step / 2), float(step)]
    return edges[0], edges[1], edges[2], edges[3]


def _raster_crs(raster: xr.DataArray, func: str) -> Any:
    crs = raster.rio.crs
    if crs is None:
        raise ParameterError(
            f"{func}: the raster has no CRS; set it with raster.rio.write_crs('EPSG:32633') "
            "(the CRS of your product)"
        )
    return crs


def _geopandas(func: str) -> Any:
    from ._extras import require

    gpd = require("geopandas", func)
    return gpd


def _is_geodataframe(obj: Any) -> bool:
    if not type(obj).__module__.startswith("geopandas"):
        return False
    return isinstance(obj, _geopandas("sample_at_points").GeoDataFrame)


def _to_raster_crs(frame: Any, raster: xr.DataArray, what: str, func: str) -> Any:
    if frame.crs is None:
        raise ParameterError(
            f"{func}: the {what} have no CRS; set it with gdf.set_crs('EPSG:4326') "
            "(the CRS their coordinates are in)"
        )
    return frame.to_crs(_raster_crs(raster, func))


def clip_to_areas(
    raster: xr.DataArray,
    polygons: gpd.GeoDataFrame,
    *,
    min_coverage: float = 0.65,
    id_column: str | None = None,
) -> tuple[dict[Hashable, xr.DataArray], pd.DataFrame]:
    """The raster over each polygon, and a coverage report (**computes** the coverage).

    Each polygon is reprojected to the raster's CRS and rasterised on the
    raster's grid (``rasterio.features.geometry_mask``: a pixel belongs to the
    polygon when its centre is inside). Its array is the raster cut to the
    polygon's bounding box with the pixels outside the polygon set to NaN.
    Its coverage is the fraction of its pixels that are valid (finite) in the
    raster, pixels beyond the raster's edge counting as missing; with leading
    dims a pixel is valid when it is finite in all of them. Only the
    valid-pixel counts are computed (one ``dask.compute``); the arrays stay
    lazy.

    Parameters
    ----------
    raster
        Data on ``(y, x)`` with a CRS (rioxarray), e.g. vertical displacement.
    polygons
        GeoDataFrame of Polygon/MultiPolygon geometries with a CRS (any).
    min_coverage
        Areas with coverage below this fraction (0–1) are reported but not
        returned.
    id_column
        Column holding the area ids; the GeoDataFrame's index by default. Ids
        must be unique.

    Returns
    -------
    (dict, pandas.DataFrame)
        ``{id: clipped DataArray}`` for the areas kept, and a report with one
        row per polygon: ``id``, ``n_pixels`` (pixels of the polygon on the
        raster's grid, beyond its edge included), ``n_valid``, ``coverage``
        (NaN for a polygon smaller than a pixel) and ``kept``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> r = xr.DataArray(np.ones((4, 4)), dims=("y", "x"),
    ...                  coords={"y": [3.5, 2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5, 3.5]})
    >>> r = r.rio.write_crs("EPSG:32633")
    >>> areas = gpd.GeoDataFrame(geometry=[box(0, 0, 2, 2), box(3, 3, 5, 5)], crs="EPSG:32633")
    >>> clipped, report = clip_to_areas(r, areas)
    >>> report[["id", "n_pixels", "n_valid", "kept"]].values.tolist()
    [[0, 4, 4, True], [1, 4, 1, False]]
    """
    from rasterio.features import geometry_mask

    func = "clip_to_areas"
    da = _check_array(raster, "raster", func)
    gpd_mod = _geopandas(func)
    if not isinstance(polygons, gpd_mod.GeoDataFrame):
        raise DTypeError(
            f"{func}: polygons must be a GeoDataFrame, got {type(polygons).__name__}; "
            "read them with geopandas.read_file"
        )
    try:
        min_cov = float(min_coverage)
    except (TypeError, ValueError):
        min_cov = math.nan
    if not 0 <= min_cov <= 1:
        raise ParameterError(f"{func}: min_coverage must be in [0, 1], got {min_coverage!r}")
    if id_column is not None and id_column not in polygons.columns:
        raise ParameterError(
            f"{func}: no column {id_column!r} in the polygons; have {list(polygons.columns)}"
        )
    ids = list(polygons.index if id_column is None else polygons[id_column])
    if len(set(ids)) != len(ids):
        raise ParameterError(
            f"{func}: the area ids are not unique; pass id_column= a column of unique ids"
        )
    kinds = set(polygons.geometry.dropna().geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise ParameterError(
            f"{func}: the geometries must be polygons, found {sorted(kinds)}; use "
            "sample_at_points for points, or buffer lines first"
        )
    x0, dx, y0, dy = _grid(da, func)
    areas = _to_raster_crs(polygons, da, "polygons", func)
    da = da.transpose(..., *SPATIAL_DIMS)
    leading = [d for d in da.dims if d not in SPATIAL_DIMS]
    ny, nx = da.sizes["y"], da.sizes["x"]

    clipped: dict[Hashable, xr.DataArray] = {}
    n_pixels: list[int] = []
    n_valid: list[Any] = []
    for area_id, geom in zip(ids, areas.geometry, strict=True):
        if geom is None or geom.is_empty:
            n_pixels.append(0)
            n_valid.append(0)
            continue
        minx, miny, maxx, maxy = geom.bounds
        cols = ((minx - x0) / dx, (maxx - x0) / dx)
        rows = ((miny - y0) / dy, (maxy - y0) / dy)
        c0, c1 = math.floor(min(cols)), math.ceil(max(cols))
        r0, r1 = math.floor(min(rows)), math.ceil(max(rows))
        if c1 <= c0 or r1 <= r0:
            n_pixels.append(0)
            n_valid.append(0)
            continue
        window = Affine(dx, 0.0, x0 + c0 * dx, 0.0, dy, y0 + r0 * dy)
        inside = geometry_mask([geom], out_shape=(r1 - r0, c1 - c0), transform=window, invert=True)
        n_pixels.append(int(inside.sum()))
        rr0, rr1, cc0, cc1 = max(r0, 0), min(r1, ny), max(c0, 0), min(c1, nx)
        if rr1 <= rr0 or cc1 <= cc0:
            n_valid.append(0)
            continue
        part = da.isel(y=slice(rr0, rr1), x=slice(cc0, cc1))
        keep = xr.DataArray(inside[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0], dims=SPATIAL_DIMS)
        valid = part.notnull()
        if leading:
            valid = valid.all(leading)
        n_valid.append((valid & keep).sum().data)
        area = part.where(keep)
        area.attrs = dict(da.attrs)
        area.encoding = {}
        clipped[area_id] = area

    counts = [int(c) for c in compute(*n_valid)] if n_valid else []
    report = pd.DataFrame(
        {
            "id": ids,
            "n_pixels": np.asarray(n_pixels, dtype=np.int64),
            "n_valid": np.asarray(counts, dtype=np.int64),
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = report["n_valid"].to_numpy() / report["n_pixels"].to_numpy(dtype=float)
    report["coverage"] = np.where(report["n_pixels"].to_numpy() > 0, coverage, np.nan)
    report["kept"] = report["coverage"].to_numpy() >= min_cov  # NaN compares False
    kept_ids = set(report.loc[report["kept"], "id"])
    return {k: v for k, v in clipped.items() if k in kept_ids}, report


def sample_at_points(
    raster: xr.DataArray,
    points: gpd.GeoDataFrame | Sequence[tuple[float, float]] | ArrayLike,
    *,
    window: int = 3,
) -> pd.DataFrame:
    """NaN-aware mean of the ``window × window`` pixels around each point (**computes**).

    The window is centred on the pixel that contains the point; the part of
    it beyond the raster's edge is ignored. Only those pixels are read: the
    small windows are cut with ``isel`` and computed together in one
    ``dask.compute``.

    Parameters
    ----------
    raster
        One ``(y, x)`` map (select one from a stack first, e.g. ``isel(time=0)``).
    points
        A GeoDataFrame of Points with a CRS (reprojected to the raster's), or
        a sequence of ``(x, y)`` pairs in the raster's CRS.
    window
        Odd window size in pixels, ≥ 1 (1: the point's own pixel).

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        For a GeoDataFrame, a copy of it (in its own CRS) with the columns
        ``value`` and ``n_valid`` added; otherwise ``x``, ``y``, ``value`` and
        ``n_valid``. Points outside the raster, or whose window holds no
        finite pixel, get NaN and ``n_valid`` 0.

    Examples
    --------
    >>> r = xr.DataArray(np.arange(16.0).reshape(4, 4), dims=("y", "x"),
    ...                  coords={"y": [3.5, 2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5, 3.5]})
    >>> table = sample_at_points(r, [(1.2, 2.7), (9.0, 9.0)], window=3)
    >>> table[["value", "n_valid"]].values.tolist()
    [[5.0, 9.0], [nan, 0.0]]
    """
    import shapely

    func = "sample_at_points"
    da = _check_array(raster, "raster", func)
    extra = [d for d in da.dims if d not in SPATIAL_DIMS]
    if extra:
        raise DimensionError(
            f"{func}: the raster has dims {extra} besides (y, x); select one map, e.g. "
            f"raster.isel({extra[0]}=0)"
        )
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ParameterError(f"{func}: window must be an odd integer >= 1, got {window!r}")
    if window % 2 == 0:
        raise ParameterError(
            f"{func}: window must be odd so it centres on the point's pixel, got {window}; "
            f"pass window={window + 1} or {window - 1}"
        )
    x0, dx, y0, dy = _grid(da, func)
    geo = _is_geodataframe(points)
    if geo:
        frame: Any = points
        kinds = set(frame.geometry.dropna().geom_type)
        if not kinds <= {"Point"}:
            raise ParameterError(
                f"{func}: the geometries must be Points, found {sorted(kinds)}; use "
                "clip_to_areas for polygons, or take .centroid first"
            )
        moved = _to_raster_crs(frame, da, "points", func).geometry.to_numpy()
        xs = np.asarray(shapely.get_x(moved), dtype=float)  # NaN for missing/empty points
        ys = np.asarray(shapely.get_y(moved), dtype=float)
    else:
        try:
            xy = np.asarray(points, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{func}: points must be a GeoDataFrame or (x, y) pairs, got "
                f"{type(points).__name__}"
            ) from None
        if xy.size == 0:
            xy = xy.reshape(0, 2)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ParameterError(
                f"{func}: points must be (x, y) pairs, got an array of shape {xy.shape}"
            )
        xs, ys = xy[:, 0], xy[:, 1]

    da = da.transpose(*SPATIAL_DIMS)
    ny, nx = da.sizes["y"], da.sizes["x"]
    half = window // 2
    with np.errstate(invalid="ignore"):
        cols = np.floor((xs - x0) / dx)
        rows = np.floor((ys - y0) / dy)
    inside = np.isfinite(cols) & np.isfinite(rows)
    inside &= (cols >= 0) & (cols < nx) & (rows >= 0) & (rows < ny)
    wanted = np.flatnonzero(inside)
    pieces = []
    for i in wanted:
        r, c = int(rows[i]), int(cols[i])
        pieces.append(
            da.isel(
                y=slice(max(r - half, 0), r + half + 1), x=slice(max(c - half, 0), c + half + 1)
            ).data
        )
    blocks = compute(*pieces) if pieces else ()
    value = np.full(xs.shape, np.nan)
    n_valid = np.zeros(xs.shape, dtype=np.int64)
    for i, block in zip(wanted, blocks, strict=True):
        values = np.asarray(block, dtype=float)
        finite = np.isfinite(values)
        n_valid[i] = int(finite.sum())
        if n_valid[i]:
            value[i] = float(values[finite].sum()) / n_valid[i]
    if geo:
        out = frame.copy()
        out["value"] = value
        out["n_valid"] = n_valid
        return out
    return pd.DataFrame({"x": xs, "y": ys, "value": value, "n_valid": n_valid})


# --------------------------------------------------------------------------
# gauge calibration


def _vector(values: ArrayLike, name: str, func: str) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{func}: {name} must be numbers, got {type(values).__name__}"
        ) from None
    if out.ndim != 1:
        raise ParameterError(f"{func}: {name} must be 1-D, got shape {out.shape}")
    return out


def _points(values: ArrayLike, name: str, func: str) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{func}: {name} must be (x, y) pairs") from None
    if out.size == 0:
        out = out.reshape(0, 2)
    if out.ndim != 2 or out.shape[1] != 2:
        raise ParameterError(f"{func}: {name} must have shape (n, 2), got {out.shape}")
    return out


@dataclass(frozen=True)
class GainOffset:
    """A linear calibration ``y = gain · x + offset``, from :func:`fit_gain_offset`.

    Calling it applies it: ``fit(insar)`` works on numbers, numpy arrays and
    (lazily) on DataArrays.

    Attributes
    ----------
    gain, offset
        The slope and intercept (offset in the units of ``y``).
    n
        Number of finite pairs it was fitted on.
    fixed
        ``True`` when the gain was held fixed (too few points) and only the
        offset fitted.

    Examples
    --------
    >>> fit = fit_gain_offset([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])
    >>> fit.gain, fit.offset, fit.fixed
    (2.0, 1.0, False)
    >>> fit(np.array([3.0, 4.0])).tolist()  # applies y = 2 x + 1
    [7.0, 9.0]
    """

    gain: float
    offset: float
    n: int
    fixed: bool

    @overload
    def __call__(self, x: xr.DataArray) -> xr.DataArray: ...

    @overload
    def __call__(self, x: float | np.ndarray | Sequence[float]) -> np.ndarray: ...

    def __call__(self, x: Any) -> Any:
        """``gain · x + offset``; DataArrays keep their coords and attrs."""
        if isinstance(x, xr.DataArray):
            out = x * self.gain + self.offset
            out.attrs = dict(x.attrs)
            return out
        return np.asarray(x, dtype=float) * self.gain + self.offset


def _press_line(x: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out squared prediction error of the least-squares line (PRESS)."""
    x_mean = x.mean()
    spread = float(((x - x_mean) ** 2).sum())
    gain = float(((x - x_mean) * (y - y.mean())).sum()) / spread
    residual = y - (y.mean() + gain * (x - x_mean))
    leverage = 1 / x.size + (x - x_mean) ** 2 / spread
    if np.any(leverage >= 1 - 1e-12):  # a point the others cannot predict at all
        return math.inf
    return float(((residual / (1 - leverage)) ** 2).sum())


def fit_gain_offset(
    x: ArrayLike,
    y: ArrayLike,
    *,
    fixed_gain: float = 1.0,
    min_points_for_gain: int = 3,
    cross_validate: bool = True,
) -> GainOffset:
    """Least-squares fit of ``y = a·x + b`` (pairs with a NaN are skipped).

    With fewer than *min_points_for_gain* finite pairs (or no spread in *x*)
    the gain is held at *fixed_gain* and only the offset is fitted,
    ``b = mean(y − a·x)``: two gauges cannot tell a gain error from noise,
    but they do fix the InSAR reference offset.

    With more points the gain is fitted too, unless *cross_validate* finds
    that it does not pay: a few gauges on stable ground span almost no
    displacement, and a gain fitted to them amplifies their noise without
    bound. The gain is then kept only if the line predicts each point from
    the others better than the offset-only model does (leave-one-out
    prediction error, PRESS; Allen 1974, Stone 1974).

    Parameters
    ----------
    x, y
        1-D arrays of equal length, e.g. InSAR at the gauges and the gauge
        changes (same units).
    fixed_gain
        The gain used when it is not fitted.
    min_points_for_gain
        Fewest points (≥ 2) with which the gain is fitted.
    cross_validate
        Choose between the line and the offset-only model by leave-one-out
        error; ``False`` always fits the line from *min_points_for_gain* on.

    Returns
    -------
    GainOffset
        ``fixed`` tells whether the gain was held at *fixed_gain*.

    References
    ----------
    Allen, D. M. (1974). The relationship between variable selection and data
    augmentation and a method for prediction. *Technometrics* 16, 125–127.
    Stone, M. (1974). Cross-validatory choice and assessment of statistical
    predictions. *J. R. Stat. Soc. B* 36, 111–147.

    Examples
    --------
    >>> fit_gain_offset([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])
    GainOffset(gain=2.0, offset=1.0, n=3, fixed=False)
    >>> fit_gain_offset([0.0, 1.0], [1.0, 3.0])
    GainOffset(gain=1.0, offset=1.5, n=2, fixed=True)
    """
    func = "fit_gain_offset"
    xv, yv = _vector(x, "x", func), _vector(y, "y", func)
    if xv.shape != yv.shape:
        raise ParameterError(
            f"{func}: x and y differ in length ({xv.size} vs {yv.size}); pass one y per x"
        )
    if isinstance(min_points_for_gain, bool) or not isinstance(min_points_for_gain, int):
        raise ParameterError(f"{func}: min_points_for_gain must be an integer >= 2")
    if min_points_for_gain < 2:
        raise ParameterError(
            f"{func}: min_points_for_gain must be >= 2 (a slope needs two points), "
            f"got {min_points_for_gain}"
        )
    gain0 = float(fixed_gain)
    if not math.isfinite(gain0):
        raise ParameterError(f"{func}: fixed_gain must be finite, got {fixed_gain!r}")
    ok = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[ok], yv[ok]
    n = int(xv.size)
    if n == 0:
        raise ParameterError(f"{func}: no pair of finite x and y values; check the inputs")
    x_mean, y_mean = float(xv.mean()), float(yv.mean())
    spread = float(((xv - x_mean) ** 2).sum())
    offset0 = float((yv - gain0 * xv).mean())
    fit_line = n >= min_points_for_gain and spread > 0
    if fit_line and cross_validate:
        # offset only: each point left out moves the mean offset by e_i / (n - 1)
        press_fixed = float((((yv - gain0 * xv - offset0) * n / (n - 1)) ** 2).sum())
        fit_line = _press_line(xv, yv) < press_fixed
    if fit_line:
        gain = float(((xv - x_mean) * (yv - y_mean)).sum()) / spread
        return GainOffset(gain=gain, offset=y_mean - gain * x_mean, n=n, fixed=False)
    return GainOffset(gain=gain0, offset=offset0, n=n, fixed=True)


def idw(
    xy_known: ArrayLike,
    values: ArrayLike,
    xy_query: ArrayLike,
    *,
    power: float = 2.0,
) -> np.ndarray:
    """Inverse-distance-weighted interpolation (Shepard 1968), exact at the known points.

    ``v(q) = Σ wᵢ vᵢ / Σ wᵢ`` with ``wᵢ = 1 / dist(q, pᵢ)^power`` over all known
    points with a finite value; a query on a known point gets its value (the
    mean where several coincide). Memory grows as queries × known points,
    processed in blocks of 4096 queries.

    Parameters
    ----------
    xy_known
        ``(n, 2)`` coordinates of the known points.
    values
        ``(n,)`` values there; NaN values are skipped.
    xy_query
        ``(m, 2)`` coordinates to interpolate at (same CRS).
    power
        Distance exponent, > 0.

    Returns
    -------
    numpy.ndarray
        ``(m,)`` interpolated values (all NaN when no known value is finite).

    References
    ----------
    Shepard, D. (1968). A two-dimensional interpolation function for
    irregularly-spaced data. *Proc. 23rd ACM National Conference*, 517–524.

    Examples
    --------
    >>> idw([[0, 0], [2, 0]], [1.0, 3.0], [[1, 0], [2, 0]]).tolist()
    [2.0, 3.0]
    """
    func = "idw"
    known = _points(xy_known, "xy_known", func)
    vals = _vector(values, "values", func)
    query = _points(xy_query, "xy_query", func)
    if vals.size != known.shape[0]:
        raise ParameterError(
            f"{func}: {known.shape[0]} known points but {vals.size} values; pass one value each"
        )
    try:
        p = float(power)
    except (TypeError, ValueError):
        p = math.nan
    if not math.isfinite(p) or p <= 0:
        raise ParameterError(f"{func}: power must be finite and > 0, got {power!r}")
    ok = np.isfinite(vals) & np.isfinite(known).all(axis=1)
    known, vals = known[ok], vals[ok]
    out = np.full(query.shape[0], np.nan)
    if known.shape[0] == 0:
        return out
    for start in range(0, query.shape[0], 4096):
        q = query[start : start + 4096]
        dist = np.hypot(q[:, None, 0] - known[None, :, 0], q[:, None, 1] - known[None, :, 1])
        exact = dist == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(exact, 0.0, dist**-p)
            estimate = (weights * vals).sum(axis=1) / weights.sum(axis=1)
            hits = exact.sum(axis=1)
            at_known = (exact * vals).sum(axis=1) / np.maximum(hits, 1)
        out[start : start + 4096] = np.where(hits > 0, at_known, estimate)
    return out


def farthest_point_splits(
    xy: ArrayLike,
    n_calibration: int,
    *,
    replicates: int = 10,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Calibration/validation splits that spread the calibration points out.

    Farthest-point sampling (Gonzalez 1985): start from a random point, then
    repeatedly add the point farthest from those already chosen (ties: the
    lowest index). The other points are the validation set. Replicates
    differ in their random start, drawn from ``numpy.random.default_rng(seed)``,
    so the splits are reproducible. With one calibration point there is no
    spread to seek: it is the **centre point**, the one nearest the centroid
    of all points (ties: the lowest index), the same in every replicate.

    Parameters
    ----------
    xy
        ``(n, 2)`` finite point coordinates.
    n_calibration
        Calibration points per split, ``1 ≤ n_calibration < n``.
    replicates
        Number of splits.
    seed
        Seed of the random starts.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        One ``(calibration indices, validation indices)`` pair per replicate;
        the calibration indices in the order chosen, the validation ones
        sorted.

    References
    ----------
    Gonzalez, T. F. (1985). Clustering to minimize the maximum intercluster
    distance. *Theoretical Computer Science* 38, 293–306.

    Examples
    --------
    >>> xy = [[0, 0], [1, 0], [10, 0], [5, 0]]
    >>> [(c.tolist(), v.tolist()) for c, v in farthest_point_splits(xy, 2, replicates=1)]
    [([3, 0], [1, 2])]
    >>> [c.tolist() for c, _ in farthest_point_splits(xy, 1, replicates=2)]  # the centre point
    [[3], [3]]
    """
    func = "farthest_point_splits"
    pts = _points(xy, "xy", func)
    n = pts.shape[0]
    if not np.isfinite(pts).all():
        raise ParameterError(f"{func}: xy holds NaN or infinite coordinates; drop those points")
    if isinstance(n_calibration, bool) or not isinstance(n_calibration, int | np.integer):
        raise ParameterError(f"{func}: n_calibration must be an integer, got {n_calibration!r}")
    if not 1 <= n_calibration < n:
        raise ParameterError(
            f"{func}: n_calibration must be in [1, {n - 1}] for {n} points (one at least is "
            f"left for validation), got {n_calibration}"
        )
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ParameterError(f"{func}: replicates must be an integer >= 1, got {replicates!r}")
    rng = np.random.default_rng(seed)
    splits = []
    centre = int(np.argmin(np.hypot(*(pts - pts.mean(axis=0)).T)))
    for _ in range(replicates):
        chosen = [centre if n_calibration == 1 else int(rng.integers(n))]
        nearest = np.hypot(*(pts - pts[chosen[0]]).T)
        for _ in range(int(n_calibration) - 1):
            nxt = int(np.argmax(nearest))
            chosen.append(nxt)
            nearest = np.minimum(nearest, np.hypot(*(pts - pts[nxt]).T))
        cal = np.asarray(chosen, dtype=np.int64)
        val = np.setdiff1d(np.arange(n, dtype=np.int64), cal)
        splits.append((cal, val))
    return splits


def accuracy_metrics(predicted: ArrayLike, observed: ArrayLike) -> dict[str, float]:
    """RMSE, MAE, bias, Pearson r and n over the pairs where both are finite.

    ``bias = mean(predicted − observed)``. With no pair every metric is NaN;
    ``r`` is NaN with fewer than two pairs or no spread in either.

    Examples
    --------
    >>> m = accuracy_metrics([1.0, 2.0, 4.0, np.nan], [1.0, 3.0, 3.0, 0.0])
    >>> {k: round(v, 4) for k, v in m.items()}
    {'rmse': 0.8165, 'mae': 0.6667, 'bias': 0.0, 'r': 0.7559, 'n': 3}
    """
    func = "accuracy_metrics"
    p, o = _vector(predicted, "predicted", func), _vector(observed, "observed", func)
    if p.shape != o.shape:
        raise ParameterError(
            f"{func}: predicted and observed differ in length ({p.size}, {o.size}); pass one "
            "observation per prediction"
        )
    ok = np.isfinite(p) & np.isfinite(o)
    p, o = p[ok], o[ok]
    n = int(p.size)
    if n == 0:
        return {"rmse": math.nan, "mae": math.nan, "bias": math.nan, "r": math.nan, "n": 0}
    err = p - o
    r = math.nan
    if n >= 2:
        dp, do = p - p.mean(), o - o.mean()
        denominator = math.sqrt(float((dp**2).sum()) * float((do**2).sum()))
        if denominator > 0:
            r = float((dp * do).sum()) / denominator
    return {
        "rmse": math.sqrt(float((err**2).mean())),
        "mae": float(np.abs(err).mean()),
        "bias": float(err.mean()),
        "r": r,
        "n": n,
    }


def gauge_density_experiment(
    insar_at_gauges: ArrayLike,
    gauge_change: ArrayLike,
    gauge_xy: ArrayLike,
    *,
    n_calibration: Sequence[int] = (2, 3, 5, 8, 13),
    replicates: int = 20,
    seed: int = 0,
    fixed_gain: float = 1.0,
    area_km2: float | None = None,
) -> pd.DataFrame:
    """How accuracy at independent gauges grows with the number of calibration gauges.

    For each number of calibration gauges *k* and each replicate, a
    farthest-point split (:func:`farthest_point_splits`, the same random
    starts for every *k*) picks *k* calibration gauges; the others validate.
    Two predictions of the validation gauges are scored with
    :func:`accuracy_metrics`:

    ``"insar"``
        InSAR calibrated on the calibration gauges with
        :func:`fit_gain_offset` (offset only below three gauges, and where a
        gain does not pass its cross-validation).
    ``"idw"``
        The gauge-only baseline: :func:`idw` of the calibration gauges' changes.

    Gauges with a NaN in any input are left out first.

    Parameters
    ----------
    insar_at_gauges
        ``(n,)`` InSAR displacement at the gauges, e.g. the ``value`` column
        of :func:`sample_at_points` on :func:`los_to_vertical`'s output.
    gauge_change
        ``(n,)`` change measured by each gauge over the interferogram's dates,
        in the same units.
    gauge_xy
        ``(n, 2)`` gauge coordinates in a projected CRS.
    n_calibration
        Numbers of calibration gauges; each must leave at least one for
        validation.
    replicates
        Splits per number of calibration gauges.
    seed
        Seed of the splits.
    fixed_gain
        The gain :func:`fit_gain_offset` holds when it fits the offset only
        (below three gauges, or when the fitted gain does not pay). 1 when
        InSAR and gauges measure the same quantity with the same sign; −1
        when one sign convention is the other's opposite (e.g. LOS positive
        towards the satellite against a water level that rises as the
        ground subsides).
    area_km2
        Area the gauges cover (km²). With it, the table also has
        ``area_km2`` and ``km2_per_gauge`` (area ÷ calibration gauges), the
        density that transfers between study areas.

    Returns
    -------
    pandas.DataFrame
        One row per (n_calibration, replicate, method) with columns
        ``n_calibration``, ``replicate``, ``method``, ``rmse``, ``mae``,
        ``bias``, ``r``, ``n`` (validation gauges), ``n_total`` (usable
        gauges), ``gain``, ``offset`` and ``gain_fixed`` (the calibration of
        the ``"insar"`` rows; NaN / None for ``"idw"``), and with *area_km2*
        the two area columns; for :func:`sarcube.plot.accuracy_vs_density`.

    Examples
    --------
    Twenty gauges over 10 km, InSAR seeing 0.8 of the gauges' change plus an offset:

    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 10_000, size=(20, 2))
    >>> change = 2e-6 * xy[:, 0]
    >>> insar = 0.8 * change + 0.01 + rng.normal(0, 0.001, 20)
    >>> table = gauge_density_experiment(insar, change, xy, n_calibration=(2, 5), replicates=5)
    >>> len(table), sorted(set(table["method"]))
    (20, ['idw', 'insar'])
    >>> rmse = table.groupby(["n_calibration", "method"])["rmse"].median()
    >>> bool(rmse[2, "insar"] < rmse[2, "idw"])  # with two gauges InSAR beats interpolation
    True
    """
    func = "gauge_density_experiment"
    insar = _vector(insar_at_gauges, "insar_at_gauges", func)
    gauge = _vector(gauge_change, "gauge_change", func)
    xy = _points(gauge_xy, "gauge_xy", func)
    if not insar.size == gauge.size == xy.shape[0]:
        raise ParameterError(
            f"{func}: insar_at_gauges ({insar.size}), gauge_change ({gauge.size}) and gauge_xy "
            f"({xy.shape[0]}) must describe the same gauges"
        )
    if not isinstance(fixed_gain, int | float) or not math.isfinite(fixed_gain):
        raise ParameterError(f"{func}: fixed_gain must be a finite number, got {fixed_gain!r}")
    if area_km2 is not None and (
        not isinstance(area_km2, int | float) or not math.isfinite(area_km2) or area_km2 <= 0
    ):
        raise ParameterError(f"{func}: area_km2 must be a positive number of km², got {area_km2!r}")
    ok = np.isfinite(insar) & np.isfinite(gauge) & np.isfinite(xy).all(axis=1)
    insar, gauge, xy = insar[ok], gauge[ok], xy[ok]
    sizes = [int(k) for k in n_calibration]
    if not sizes:
        raise ParameterError(f"{func}: n_calibration is empty; pass e.g. (2, 3, 5)")
    too_many = [k for k in sizes if not 1 <= k < insar.size]
    if too_many:
        raise ParameterError(
            f"{func}: n_calibration {too_many} leave no validation gauge among the "
            f"{insar.size} usable gauges; pass values in [1, {insar.size - 1}]"
        )
    rows: list[dict[str, Any]] = []
    for k in sizes:
        for rep, (cal, val) in enumerate(
            farthest_point_splits(xy, k, replicates=replicates, seed=seed)
        ):
            fit = fit_gain_offset(insar[cal], gauge[cal], fixed_gain=float(fixed_gain))
            predictions = {
                "insar": (fit(insar[val]), fit),
                "idw": (idw(xy[cal], gauge[cal], xy[val]), None),
            }
            for method, (predicted, calibration) in predictions.items():
                row: dict[str, Any] = {
                    "n_calibration": k,
                    "replicate": rep,
                    "method": method,
                    **accuracy_metrics(predicted, gauge[val]),
                    "n_total": int(insar.size),
                    "gain": math.nan if calibration is None else calibration.gain,
                    "offset": math.nan if calibration is None else calibration.offset,
                    "gain_fixed": None if calibration is None else calibration.fixed,
                }
                if area_km2 is not None:
                    row["area_km2"] = float(area_km2)
                    row["km2_per_gauge"] = float(area_km2) / k
                rows.append(row)
    columns = ["n_calibration", "replicate", "method", "rmse", "mae", "bias", "r", "n"]
    columns += ["n_total", "gain", "offset", "gain_fixed"]
    if area_km2 is not None:
        columns += ["area_km2", "km2_per_gauge"]
    return pd.DataFrame(rows, columns=columns)
