"""SAR features of a dual-polarisation cube: each polarisation, their difference and ratio."""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from .._checks import check_real, check_xarray
from .._geographic import accepts_geographic
from ..calibration import to_db, to_linear
from ..conventions import DB_UNITS
from ..errors import (
    BandNotFoundError,
    DTypeError,
    ParameterError,
    UnitsError,
)


@accepts_geographic
def sar_features(
    cube: xr.Dataset,
    *,
    co: str = "vv",
    cross: str = "vh",
    features: Literal["db", "linear_ln"] = "db",
) -> xr.Dataset:
    """Dual-polarisation features: each polarisation, their difference and ratio.

    Parameters
    ----------
    cube
        Backscatter with a co-polarised (*co*: ``vv``/``hh``) and a
        cross-polarised (*cross*: ``vh``/``hv``) variable, linear (``units="1"``)
        or in dB.
    features
        ``"db"`` (default): the features in dB, below. ``"linear_ln"``: the
        five input channels of ALOS-2 flood-segmentation model cards — co and
        cross in linear power, their linear difference and their natural
        logarithms.

    Returns
    -------
    xarray.Dataset
        Lazy. With ``"db"``: ``{co}_db``, ``{cross}_db`` (10·log10 of each,
        i.e. the log features), ``co_cross_difference_db`` = co_dB − cross_dB,
        and ``cross_co_ratio`` = cross / co in linear power (the
        depolarisation ratio). With ``"linear_ln"``: ``{co}``, ``{cross}``
        (linear power), ``co_minus_cross`` (co − cross, linear) and
        ``ln_{co}``, ``ln_{cross}`` (natural logarithms; NaN where the power
        is not positive).

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"vv": ("x", [0.1]), "vh": ("x", [0.01])})
    >>> f = sar_features(ds)
    >>> float(f["co_cross_difference_db"][0]), float(f["cross_co_ratio"][0])
    (10.0, 0.1)
    >>> card = sar_features(ds.rename(vv="hh", vh="hv"), co="hh", cross="hv", features="linear_ln")
    >>> list(card.data_vars), round(float(card["co_minus_cross"][0]), 6)
    (['hh', 'hv', 'co_minus_cross', 'ln_hh', 'ln_hv'], 0.09)
    """
    check_xarray(cube, "sar_features")
    if features not in ("db", "linear_ln"):
        raise ParameterError(
            f"sar_features: features must be 'db' or 'linear_ln', got {features!r}"
        )
    if not isinstance(cube, xr.Dataset):
        raise DTypeError("sar_features: pass a cube (Dataset) with both polarisations")
    missing = [b for b in (co, cross) if b not in cube.data_vars]
    if missing:
        raise BandNotFoundError(
            f"sar_features: bands {missing} not in the cube; available: "
            f"{[str(v) for v in cube.data_vars]} — pass co=/cross="
        )
    check_real(cube[[co, cross]], "sar_features")
    units = {cube[b].attrs.get("units", "1") for b in (co, cross)}
    if len(units) > 1:
        raise UnitsError(
            f"sar_features: {co!r} and {cross!r} have different units {sorted(units)}; "
            "convert both with to_db or to_linear first"
        )
    pair = cube[[co, cross]]
    if features == "linear_ln":
        linear = to_linear(pair) if units == {DB_UNITS} else pair
        positive = linear.where(linear > 0)
        return xr.Dataset(
            {
                co: linear[co],
                cross: linear[cross],
                "co_minus_cross": (linear[co] - linear[cross]).assign_attrs(
                    units="1", long_name=f"{co.upper()} − {cross.upper()} (linear power)"
                ),
                f"ln_{co}": xr.apply_ufunc(np.log, positive[co], dask="allowed").assign_attrs(
                    units="1", long_name=f"ln {co.upper()} (natural log of linear power)"
                ),
                f"ln_{cross}": xr.apply_ufunc(np.log, positive[cross], dask="allowed").assign_attrs(
                    units="1", long_name=f"ln {cross.upper()} (natural log of linear power)"
                ),
            }
        )
    db = pair if units == {DB_UNITS} else to_db(pair)
    out = xr.Dataset(
        {
            f"{co}_db": db[co],
            f"{cross}_db": db[cross],
            "co_cross_difference_db": (db[co] - db[cross]).assign_attrs(
                units=DB_UNITS, long_name=f"{co.upper()} − {cross.upper()} (dB)"
            ),
            "cross_co_ratio": (10 ** ((db[cross] - db[co]) / 10)).assign_attrs(
                units="1", long_name=f"{cross.upper()} / {co.upper()} (linear power)"
            ),
        }
    )
    return out
