"""Names, units and CF attributes shared by every sarcube module."""

from __future__ import annotations

from typing import Final

__all__ = [
    "DB_UNITS",
    "LINEAR_UNITS",
    "NODATA",
    "POLARISATIONS",
    "SPATIAL_DIMS",
    "TIME_METADATA",
    "long_name",
]

#: Polarisation variable names of a cube, in their canonical order.
POLARISATIONS: Final = ("vv", "vh", "hh", "hv")

#: The two spatial dimensions every array operation works on.
SPATIAL_DIMS: Final = ("y", "x")

#: ``units`` attribute of backscatter in linear power (dimensionless, CF style).
LINEAR_UNITS: Final = "1"
#: ``units`` attribute of backscatter in decibels.
DB_UNITS: Final = "dB"

#: Value of nodata in every uint8 class map (flood maps, labels, k-means classes).
NODATA: Final = 255

#: Channel order of an ALOS-2 style flood stack: L-band SAR, the four optical
#: bands of Landsat/Sentinel-2 used for water, elevation and HAND.
ALOS_CHANNELS: Final[tuple[str, ...]] = ("HH", "HV", "Red", "NIR", "SWIR1", "SWIR2", "DEM", "HAND")

#: Classes of a prior-corrected flood map (:func:`sarcube.apply_water_prior`).
FLOOD_CLASSES: Final[dict[int, str]] = {0: "no_flood", 1: "flood", 2: "waterbody"}

#: STAC item properties kept as non-dimension coordinates on ``time`` by
#: :func:`sarcube.load`, mapped to their coordinate name.
TIME_METADATA: Final = {
    "platform": "platform",
    "constellation": "constellation",
    "sat:orbit_state": "orbit_state",
    "sat:relative_orbit": "relative_orbit",
    "sat:absolute_orbit": "absolute_orbit",
    "sar:product_type": "product_type",
    "sar:instrument_mode": "instrument_mode",
    "sar:frequency_band": "frequency_band",
    "sar:center_frequency": "center_frequency",
}


#: Halo (pixels) each chunk borrows from its neighbours in ``tv_denoise`` on dask input.
TV_HALO: Final = 32


def long_name(band: str, units: str) -> str:
    """Human-readable ``long_name`` for a polarisation in the given units.

    Examples
    --------
    >>> long_name("vv", "dB")
    'VV backscatter (dB)'
    >>> long_name("vh", "1")
    'VH backscatter (linear power)'
    """
    what = "dB" if units == DB_UNITS else "linear power"
    return f"{band.upper()} backscatter ({what})"
