"""flood_map: the public entry of the flood chain."""

from __future__ import annotations

from typing import Literal

import xarray as xr

from .._deprecation import renamed_keywords
from .._geographic import accepts_geographic
from ..errors import ParameterError
from ._global import _global_map
from ._prepare import (
    CHANGE_OFFSET,
    POST_OFFSET,
    REGION_SIZE,
    _check_options,
    _check_region_size,
    _prepare,
)
from ._regional import _check_surface, _locate, _regional_map, _surface


@renamed_keywords(scale="units")
@accepts_geographic
def flood_map(
    pre: xr.DataArray | xr.Dataset,
    post: xr.DataArray | xr.Dataset,
    *,
    band: str | None = None,
    method: Literal["auto", "otsu", "ki", "tiled"] = "auto",
    units: Literal["auto", "linear", "db", "log"] = "auto",
    median_size: int = 7,
    boxcar_size: int = 5,
    post_offset: float = POST_OFFSET,
    change_offset: float = CHANGE_OFFSET,
    min_size: int = 0,
    nodata_buffer: int = 2,
    tile_sizes: tuple[int, ...] = (256, 128, 64),
    thresholds: Literal["global", "regional"] | xr.Dataset = "global",
    region_size: int = REGION_SIZE,
) -> xr.DataArray:
    """Flood map from a pre-event and a post-event image: dark after **and** darker than before.

    Parameters
    ----------
    pre, post
        Images on one grid: cubes (Datasets; *band* picks the polarisation,
        default VV or HH) or bands. Several pre-event dates (a ``time`` dim)
        are reduced to their median. Calibrated linear power (``units="1"``),
        dB, or integer chips rescaled from dB (e.g. 8-bit exports; their
        extreme values, 0 and 255 for uint8, count as fill and are left out of
        the statistics).
    method
        Threshold selection of ``thresholds="global"``: ``"otsu"``
        (``"auto"``), ``"ki"`` or ``"tiled"`` (see :func:`sarcube.threshold`;
        *tile_sizes* apply).
    units
        The images' units: ``"auto"`` reads the ``units`` attr (integers: a
        log scale already); ``"linear"`` converts to dB; ``"db"``/``"log"``
        use the values as they are. Formerly ``scale``; the old name still
        works, with a ``DeprecationWarning``.
    median_size, boxcar_size
        Speckle filter windows (median, then boxcar; 1 skips a step).
    post_offset, change_offset
        Shifts of the two thresholds in standard deviations of the filtered
        post image and of the change image. Negative is stricter.
    min_size
        Flood regions of fewer pixels (8-connected) are removed (0 keeps all).
    nodata_buffer
        Pixels within this distance of nodata or fill values are left out of
        the statistics and mapped as no flood.
    thresholds
        ``"global"``: one pair of thresholds for the image (from its exact
        value range and histogram). ``"regional"``: one pair per region of a
        fixed *region_size* grid, bimodal regions thresholded and the others
        filled from their nearest usable neighbours, interpolated smoothly
        between region centres (see :func:`flood_thresholds`, which returns the
        surface and its diagnostics), or that Dataset itself: computed on
        these images or on a larger grid that holds them (located by the
        y/x coordinates, see :func:`flood_thresholds`). On dask input,
        compute the surface first (a small result of one pass) and pass it:
        the map then streams chunk by chunk and memory does not grow with the
        image; with ``"regional"`` or ``"global"`` the filtered chunks wait in
        memory for the threshold reduction of the same graph.
    region_size
        Region side in pixels for ``thresholds="regional"``.

    Returns
    -------
    xarray.DataArray
        uint8: 0 no flood, 1 flood, 255 nodata (NaN in either input), with CF
        ``flag_values``/``flag_meanings`` and the input's coords and CRS. With
        global thresholds also the thresholds as 0-d coords ``post_threshold``
        and ``change_threshold`` (in the filtered images' units; lazy on dask
        input) and ``threshold_fallback`` (true when ``"tiled"`` found no
        bimodal tile).

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((128, 128), seed=1)
    >>> cube = scene.cube
    >>> flooded = flood_map(cube.isel(time=slice(0, -1)), cube.isel(time=-1))
    >>> flooded.dtype.name, flooded.attrs["flag_meanings"]
    ('uint8', 'no_flood flood nodata')
    >>> regional = flood_map(
    ...     cube.isel(time=slice(0, -1)), cube.isel(time=-1), thresholds="regional", region_size=64
    ... )
    >>> regional.attrs["thresholds"], regional.attrs["region_size"]
    ('regional', 64)
    """
    func = "flood_map"
    _check_options(
        method,
        units,
        median_size,
        boxcar_size,
        post_offset,
        change_offset,
        min_size,
        nodata_buffer,
        func,
    )
    if isinstance(thresholds, xr.Dataset):
        _check_surface(thresholds, func)
        region_size = int(thresholds.attrs["region_size"])
    elif thresholds == "regional":
        region_size = _check_region_size(region_size, func)
    elif thresholds != "global":
        raise ParameterError(
            f"{func}: thresholds must be 'global', 'regional' or a Dataset from "
            f"sarcube.flood_thresholds, got {thresholds!r}"
        )
    prep = _prepare(pre, post, band, units, median_size, boxcar_size, nodata_buffer, func)
    if isinstance(thresholds, str) and thresholds == "global":
        return _global_map(
            prep, method, post_offset, change_offset, min_size, tile_sizes, median_size, boxcar_size
        )
    if isinstance(thresholds, xr.Dataset):
        surface = thresholds
        origin = _locate(surface, prep.template, func)
    else:
        surface = _surface(prep, units, post_offset, change_offset, region_size, func)
        origin = (0, 0)
    return _regional_map(prep, surface, min_size, median_size, boxcar_size, origin)
