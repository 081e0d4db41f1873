"""A permanent-water prior: DSWE water labels and the three-class flood map."""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from .._checks import check_dataarray, check_same_grid, check_spatial
from .._geographic import accepts_geographic
from ..conventions import NODATA
from ..errors import (
    DimensionError,
    DTypeError,
    ParameterError,
)

#: Classes of the USGS Dynamic Surface Water Extent interpreted layer (Jones 2019,
#: *Remote Sensing* 11(4), 374; DSWE product guide).
DSWE_CLASSES: dict[int, str] = {
    0: "not water",
    1: "water, high confidence",
    2: "water, moderate confidence",
    3: "potential wetland",
    4: "water or wetland, low confidence",
    9: "cloud, cloud shadow or snow",
    255: "fill",
}


@accepts_geographic
def dswe_labels(
    dswe: xr.DataArray,
    *,
    water: tuple[int, ...] = (1, 2),
    dry: tuple[int, ...] = (0,),
) -> xr.DataArray:
    """Binary water labels from a DSWE class map: 1 water, 0 dry, 255 everything else.

    The classes in *water* become 1 and those in *dry* 0; the others — by
    default partial surface water (3, 4), cloud, shadow or snow (9), fill
    (255) and any value DSWE does not define — become 255 (no label), so a
    loss or a metric leaves them out instead of learning an uncertain answer.
    Lazy on dask input; the map's coordinates and CRS are kept.

    Examples
    --------
    >>> d = xr.DataArray(np.array([[0, 1, 2], [3, 4, 9]], np.uint8), dims=("y", "x"))
    >>> dswe_labels(d).values.tolist()
    [[0, 1, 1], [255, 255, 255]]
    """
    func = "dswe_labels"
    check_dataarray(dswe, func, "the DSWE layer")
    check_spatial(dswe, func)
    if not np.issubdtype(dswe.dtype, np.integer):
        raise DTypeError(
            f"{func}: the DSWE layer has dtype {dswe.dtype}; pass its integer classes "
            "(read it without scaling, e.g. rioxarray.open_rasterio(path, mask_and_scale=False))"
        )
    chosen = [int(c) for c in (*water, *dry)]
    unknown = sorted(set(chosen) - set(DSWE_CLASSES))
    if unknown or set(water) & set(dry):
        raise ParameterError(
            f"{func}: water {tuple(water)} and dry {tuple(dry)} must be distinct DSWE classes "
            f"({sorted(DSWE_CLASSES)}); got {unknown or sorted(set(water) & set(dry))}"
        )
    none = xr.full_like(dswe, NODATA, dtype=np.uint8)
    labels = none.where(~dswe.isin(list(water)), np.uint8(1))
    labels = labels.where(~dswe.isin(list(dry)), np.uint8(0)).astype(np.uint8)
    labels.name = "label"
    labels.attrs = {
        "long_name": "water label from DSWE",
        "flag_values": [0, 1, NODATA],
        "flag_meanings": "dry water no_label",
        "dswe_water": list(water),
        "dswe_dry": list(dry),
    }
    return labels


def _flood_binary(flood: xr.DataArray, threshold: float, nodata: int) -> xr.DataArray:
    """1/0 flood, NaN where unknown, from probabilities or a binary class map."""
    if "class" in flood.dims:
        if flood.sizes["class"] != 2:
            raise DimensionError(
                "apply_water_prior: probabilities need 2 classes (no-flood, flood); "
                f"got {flood.sizes['class']}"
            )
        flood = flood.isel({"class": 1}, drop=True)
    if np.issubdtype(flood.dtype, np.floating):
        return (flood >= threshold).astype(np.float32).where(flood.notnull())
    return (flood == 1).astype(np.float32).where(flood != nodata)


@accepts_geographic
def apply_water_prior(
    flood: xr.DataArray,
    prior: xr.DataArray,
    *,
    threshold: float = 0.5,
    prior_threshold: float = 50.0,
    mode: Literal["reconstruct", "suppress", "both"] = "reconstruct",
    nodata: int = NODATA,
) -> xr.DataArray:
    """Three-class flood map from a 2-class flood prediction and a permanent-water prior.

    Parameters
    ----------
    flood
        Flood probability (float ``(y, x)``, or ``predict``'s ``(class, y, x)``
        with class 1 = flood) thresholded at *threshold*; or a binary map
        (0/1, *nodata* for unknown).
    prior
        Permanent-water prior on the same grid: water occurrence in percent
        (JRC Global Surface Water style; water where ``>= prior_threshold``)
        or a boolean mask. NaN / integer nodata (255) counts as not water.
    mode
        ``"reconstruct"``: pixels predicted no-flood where the prior has water
        become **waterbody** (pred = no-flood ∧ prior = water → waterbody);
        flood predictions stay. ``"suppress"``: flood predictions on prior
        water become waterbody (permanent water is not flood). ``"both"``:
        every prior-water pixel is waterbody.

    Returns
    -------
    xarray.DataArray
        uint8 ``0`` no flood, ``1`` flood, ``2`` waterbody, *nodata* where the
        prediction is unknown; lazy, with CF ``flag_values``/``flag_meanings``.

    Examples
    --------
    >>> import xarray as xr
    >>> p = xr.DataArray([[0.9, 0.1, 0.1, 0.9]], dims=("y", "x"))
    >>> w = xr.DataArray([[0, 0, 80, 80]], dims=("y", "x"))
    >>> apply_water_prior(p, w).values.tolist()
    [[1, 0, 2, 1]]
    >>> apply_water_prior(p, w, mode="suppress").values.tolist()
    [[1, 0, 0, 2]]
    """
    func = "apply_water_prior"
    for label, obj in (("flood", flood), ("prior", prior)):
        check_dataarray(obj, func, f"the {label} as one map")
        check_spatial(obj, func)
    if mode not in ("reconstruct", "suppress", "both"):
        raise ParameterError(f"{func}: mode must be reconstruct, suppress or both, got {mode!r}")
    if not 0 < threshold < 1:
        raise ParameterError(f"{func}: threshold must be in (0, 1), got {threshold!r}")
    check_same_grid(
        prior,
        flood,
        "the prior",
        func,
        ref_name="the flood map",
        fix="put the prior on the SAR grid with sarcube.coregister",
    )
    binary = _flood_binary(flood, threshold, nodata)
    if prior.dtype == bool:
        water = prior
    else:
        water = (prior >= prior_threshold) & prior.notnull()
        if np.issubdtype(prior.dtype, np.integer):
            water = water & (prior != NODATA)
    water = water.drop_vars([c for c in water.coords if c not in ("y", "x")])
    is_flood = binary == 1
    classes = is_flood.astype(np.uint8)
    if mode in ("reconstruct", "both"):
        classes = classes.where(~(~is_flood & water), 2)
    if mode in ("suppress", "both"):
        classes = classes.where(~(is_flood & water), 2)
    out = classes.where(binary.notnull(), nodata).astype(np.uint8)
    out.name = "flood_class"
    out.attrs = {
        "long_name": "flood class with permanent water from a prior",
        "flag_values": np.array([0, 1, 2, nodata], dtype=np.uint8),
        "flag_meanings": "no_flood flood waterbody nodata",
        "prior_mode": mode,
    }
    return out
