"""Seeded synthetic dual-polarisation SAR scenes with a flood.

The generator draws a landscape (smooth random elevation with a meandering
river, land-cover patches), gives every land-cover class a typical C-band
VV/VH backscatter in dB, varies it a little from date to date, floods the
low ground along the river from a chosen date on, and multiplies the linear
power by gamma speckle with ``looks`` looks (mean 1, variance ``1/looks``).

Typical C-band backscatter used (dB, VV/VH; after e.g. the ESA Sentinel-1
user handbook and the Sen1Floods11 / OPERA DSWx-SAR literature):

=========== ======= =======
class        VV      VH
=========== ======= =======
open water   -22     -29
urban         -6     -13
forest        -8     -14
cropland     -11     -18
grassland    -13     -21
flood water  -21     -28
=========== ======= =======

The equivalent number of looks of Sentinel-1 IW GRD high-resolution products
is 4.4 (Sentinel-1 Product Definition, ESA), the default here.

:func:`make_scene` returns the cube in memory; :func:`write_event` writes it
as Cloud-Optimised GeoTIFFs plus a static STAC catalog that
:func:`sarcube.open_cube` reads. :func:`lazy_cube` generates a cube of any
size block by block, without files, for benchmarks and scale tests.

The modules: ``_scene`` (:func:`make_scene`, :func:`two_landscapes`),
``_event`` (:func:`write_event`), ``_lazy`` (:func:`lazy_cube`) and
``_common`` (the classes, dates and checks they share).
"""

from __future__ import annotations

from . import _common
from ._common import FLOOD_DB as FLOOD_DB  # flooded land's VV/VH dB, beside CLASSES
from ._event import SYNTHETIC_PATTERN as SYNTHETIC_PATTERN  # the file names write_event uses
from ._event import SyntheticEvent, write_event
from ._lazy import lazy_cube
from ._scene import SyntheticScene, make_scene, two_landscapes

# (assigned here, with their doc comments, so that the API page finds them)
#: Land-cover classes by code, as (name, VV dB, VH dB).
CLASSES = _common.CLASSES
#: Two pre-event dates and one post-event date, 12 days apart (one S1 repeat cycle).
DEFAULT_DATES = _common.DEFAULT_DATES

__all__ = [
    "CLASSES",
    "DEFAULT_DATES",
    "SyntheticEvent",
    "SyntheticScene",
    "lazy_cube",
    "make_scene",
    "two_landscapes",
    "write_event",
]
