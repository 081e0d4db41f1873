"""SAR features and the channel stack of a multi-sensor model, with its label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import xarray as xr

from .._checks import check_real, check_same_grid, check_spatial, check_xarray
from .._deprecation import renamed_keywords
from .._geographic import accepts_geographic
from ..calibration import to_db, to_linear
from ..conventions import DB_UNITS, NODATA
from ..errors import (
    BandNotFoundError,
    DimensionError,
    DTypeError,
    ParameterError,
    UnitsError,
)

#: Channel order of an ALOS-2 style flood stack: L-band SAR, the four optical
#: bands of Landsat/Sentinel-2 used for water, elevation and HAND.
ALOS_CHANNELS: tuple[str, ...] = ("HH", "HV", "Red", "NIR", "SWIR1", "SWIR2", "DEM", "HAND")


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


@renamed_keywords(ignore_value="nodata")
@accepts_geographic
def feature_stack(
    layers: xr.Dataset,
    channels: Sequence[str] = ALOS_CHANNELS,
    *,
    label: xr.DataArray | None = None,
    label_nodata: float | None = None,
    nodata: int = NODATA,
) -> xr.Dataset:
    """The layers a model expects, in order, with an optional label layer.

    Parameters
    ----------
    layers
        Co-registered layers (e.g. a SAR cube merged with :func:`coregister`'s
        output), one ``(y, x)`` variable per channel.
    channels
        Variable names in the model's channel order; default the ALOS-2 style
        stack ``HH, HV, Red, NIR, SWIR1, SWIR2, DEM, HAND``.
    label
        Class map on the same grid; NaN, *label_nodata* (the label's own
        nodata value) and pixels where any channel is NaN become *nodata*.
    nodata
        The output label's nodata value, which losses and metrics skip
        (``ignore_index`` in :mod:`sarcube.ml`'s losses), 255 by default.
        Formerly ``ignore_value``; the old name still works, with a
        ``DeprecationWarning``.

    Returns
    -------
    xarray.Dataset
        float32 channels in order (``attrs["channels"]`` lists them) plus
        ``label`` (uint8) when given; feed it to :func:`sarcube.ml.to_chips`
        (``bands=channels``) or :func:`sarcube.infer.predict` (``channels=``).

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((32, 32), seed=1)
    >>> stack = feature_stack(scene.cube.isel(time=-1), ["vh", "vv"],
    ...                       label=scene.flood.isel(time=-1))
    >>> list(stack.data_vars), stack["label"].dtype
    (['vh', 'vv', 'label'], dtype('uint8'))
    """
    check_xarray(layers, "feature_stack")
    if not isinstance(layers, xr.Dataset):
        raise DTypeError("feature_stack: pass the layers as a Dataset")
    check_spatial(layers, "feature_stack")
    names = list(channels)
    missing = [c for c in names if c not in layers.data_vars]
    if missing:
        raise BandNotFoundError(
            f"feature_stack: channels {missing} not in the layers; available: "
            f"{[str(v) for v in layers.data_vars]} (rename them, or pass channels=)"
        )
    if len(set(names)) != len(names):
        raise ParameterError(f"feature_stack: channels repeat a name: {names}")
    if not 0 <= nodata <= 255:
        raise ParameterError(f"feature_stack: nodata must fit uint8, got {nodata}")
    extra = {str(d) for c in names for d in layers[c].dims} - {"y", "x"}
    if extra:
        raise DimensionError(
            f"feature_stack: channels must be (y, x); found dims {sorted(extra)} — select a "
            "date or band first"
        )
    stack = xr.Dataset({c: layers[c].astype(np.float32) for c in names})
    if label is not None:
        check_xarray(label, "feature_stack (label)")
        check_spatial(label, "feature_stack (label)")
        check_same_grid(
            label,
            layers,
            "the label",
            "feature_stack",
            ref_name="the layers",
            fix="put it there with sarcube.coregister({'label': label}, layers, "
            "resampling='nearest')",
        )
        valid = label.notnull()
        if label_nodata is not None:
            valid = valid & (label != label_nodata)
        for c in names:
            valid = valid & stack[c].notnull()
        lab = label.where(valid, nodata).astype(np.uint8)
        lab.attrs = {"long_name": "class label", "nodata": nodata}
        stack["label"] = lab
    stack.attrs["channels"] = names
    return stack.rio.write_crs(layers.rio.crs) if layers.rio.crs is not None else stack
