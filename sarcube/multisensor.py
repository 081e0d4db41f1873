"""Multi-sensor stacks on the SAR grid: co-registration, SAR features, water priors.

Flood models rarely see SAR alone: optical bands, elevation (DEM), height above
nearest drainage (HAND) and a permanent-water prior join the backscatter.
:func:`coregister` puts such rasters lazily on the SAR cube's grid with
odc-geo (GDAL's warper, chunk by chunk); :func:`sar_features` derives the
usual polarimetric features; :func:`feature_stack` orders layers into a model's
channel stack with a label layer; :func:`apply_water_prior` and
:func:`three_class_metrics` post-process and score 2-class flood maps against a
permanent-water prior.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr

from ._checks import NODATA_ATTRS, check_real, check_spatial, check_xarray, nodata_of
from ._deprecation import renamed_keywords
from ._geographic import accepts_geographic
from .calibration import to_db, to_linear
from .conventions import DB_UNITS, NODATA
from .errors import (
    BandNotFoundError,
    DimensionError,
    DTypeError,
    GridMismatchError,
    InputNotFoundError,
    ParameterError,
    UnitsError,
)
from .validate import segmentation_metrics

__all__ = [
    "ALOS_CHANNELS",
    "DSWE_CLASSES",
    "FLOOD_CLASSES",
    "apply_water_prior",
    "coregister",
    "dswe_labels",
    "feature_stack",
    "sar_features",
    "three_class_metrics",
]

#: Channel order of an ALOS-2 style flood stack: L-band SAR, the four optical
#: bands of Landsat/Sentinel-2 used for water, elevation and HAND.
ALOS_CHANNELS: tuple[str, ...] = ("HH", "HV", "Red", "NIR", "SWIR1", "SWIR2", "DEM", "HAND")

#: Classes of a prior-corrected flood map (:func:`apply_water_prior`).
FLOOD_CLASSES: dict[int, str] = {0: "no_flood", 1: "flood", 2: "waterbody"}

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

Layer = xr.DataArray | xr.Dataset | str | os.PathLike[str]
Resampling = Literal["nearest", "bilinear", "cubic", "average", "mode", "min", "max", "med"]
_RESAMPLINGS = ("nearest", "bilinear", "cubic", "average", "mode", "min", "max", "med")


# --------------------------------------------------------------------------
# co-registration


def _open(name: str, layer: Layer, chunks: Mapping[str, int]) -> xr.DataArray | xr.Dataset:
    if isinstance(layer, (xr.DataArray, xr.Dataset)):
        return layer
    if isinstance(layer, (str, os.PathLike)):
        import rioxarray

        path = Path(layer)
        if not path.is_file():
            raise InputNotFoundError(
                f"coregister: layer {name!r}: no raster file at {path}; pass the path of an "
                "existing raster (e.g. a GeoTIFF) or a georeferenced DataArray"
            )
        opened = rioxarray.open_rasterio(path, chunks=dict(chunks), masked=False)
        if isinstance(opened, list):
            raise ParameterError(f"coregister: layer {name!r}: {path} holds several grids")
        da = opened if isinstance(opened, xr.DataArray) else opened.to_dataarray()
        if da.sizes.get("band") == 1:
            da = da.isel(band=0, drop=True)
        return da.rename(name)
    raise DTypeError(
        f"coregister: layer {name!r} is a {type(layer).__name__}; pass a DataArray, "
        "a Dataset or a raster file path"
    )


def _layer_arrays(name: str, obj: xr.DataArray | xr.Dataset) -> list[tuple[str, xr.DataArray]]:
    if isinstance(obj, xr.Dataset):
        return [(str(v), obj[v]) for v in obj.data_vars]
    return [(name, obj)]


@accepts_geographic
def coregister(
    layers: Mapping[str, Layer],
    like: xr.DataArray | xr.Dataset,
    *,
    resampling: Resampling | Mapping[str, Resampling] | None = None,
) -> xr.Dataset:
    """Reproject rasters lazily onto the grid of a SAR cube (CRS, transform, shape).

    Parameters
    ----------
    layers
        ``{name: layer}``. A layer is a georeferenced DataArray (``(y, x)`` or
        with extra leading dims such as ``band`` or ``time``), a Dataset (each
        variable becomes a layer of its own name, e.g. optical bands loaded
        from STAC with :func:`sarcube.load` or ``odc.stac.load``) or the path
        of a raster file (opened lazily with rioxarray; a single band drops
        its ``band`` dim).
    like
        The SAR cube or band whose grid and ``y``/``x`` chunks the output gets.
    resampling
        One method for all layers or ``{name: method}``. Default: ``"bilinear"``
        for float layers, ``"nearest"`` for integer layers (classes, masks,
        water occurrence), which keep their dtype.

    Returns
    -------
    xarray.Dataset
        The layers on *like*'s grid, lazy. Float layers carry NaN where the
        source has nodata (its ``_FillValue``, ..., ``nodata``, read in
        rioxarray's order) or does not cover the
        grid; integer layers carry their nodata value there (255 when they
        have none) in ``attrs["nodata"]``.

    Notes
    -----
    Warping is GDAL's, run by odc-geo per output chunk: nearest-neighbour
    results do not depend on the chunking; bilinear/cubic results agree
    across chunkings up to GDAL's per-chunk approximation (within 1 % of the
    local step between source pixels in the tests).

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((32, 32), seed=1)
    >>> other = scene.cube["vv"].isel(time=0).rio.reproject("EPSG:4326")  # another CRS
    >>> out = coregister({"dem": other}, scene.cube)
    >>> out["dem"].shape, out.rio.crs.to_epsg(), out["dem"].chunks is not None
    ((32, 32), 32633, True)
    """
    import odc.geo.xr

    check_xarray(like, "coregister")
    check_spatial(like, "coregister")
    if like.rio.crs is None:
        raise GridMismatchError(
            "coregister: the target cube has no CRS; load it with sarcube.load or write one "
            "with .rio.write_crs(...)"
        )
    if not layers:
        raise ParameterError("coregister: give at least one layer, e.g. {'dem': dem}")
    if isinstance(resampling, str) or resampling is None:
        methods: Mapping[str, Resampling | None] = {}
        default: Resampling | None = resampling
    else:
        methods, default = resampling, None
        unknown = [k for k in methods if k not in layers]
        if unknown:
            raise ParameterError(f"coregister: resampling names {unknown} that are not layers")
    for m in (default, *methods.values()):
        if m is not None and m not in _RESAMPLINGS:
            raise ParameterError(f"coregister: resampling must be one of {_RESAMPLINGS}, got {m!r}")
    geobox = like.odc.geobox
    ref = like if isinstance(like, xr.DataArray) else next(iter(like.data_vars.values()))
    sizes = ref.chunksizes  # empty for numpy-backed input: one chunk
    chunks = {d: int(sizes[d][0]) if d in sizes else like.sizes[d] for d in ("y", "x")}
    out: dict[str, xr.DataArray] = {}
    for key, layer in layers.items():
        opened = _open(key, layer, chunks)
        for name, da in _layer_arrays(key, opened):
            if name in out:
                raise ParameterError(f"coregister: two layers are called {name!r}; rename one")
            if da.rio.crs is None:
                raise GridMismatchError(
                    f"coregister: layer {name!r} has no CRS; write it with .rio.write_crs(...)"
                )
            if not {"y", "x"} <= set(da.dims) and not {"latitude", "longitude"} <= set(da.dims):
                raise DimensionError(f"coregister: layer {name!r} has no y/x dims: {da.dims}")
            method = methods.get(key, default)
            nodata = nodata_of(da)
            if np.issubdtype(da.dtype, np.floating):
                method = method or "bilinear"
                if nodata is not None and not np.isnan(nodata):
                    da = da.where(da != nodata)
                fill: Any = np.nan
            elif np.issubdtype(da.dtype, np.integer) or da.dtype == bool:
                method = method or "nearest"
                if da.dtype == bool:
                    da = da.astype(np.uint8)
                fill = NODATA if nodata is None else nodata
                info = np.iinfo(da.dtype)
                if not info.min <= fill <= info.max:
                    raise ParameterError(
                        f"coregister: layer {name!r} has nodata {fill} outside its dtype "
                        f"{da.dtype}; fix attrs['nodata'] (or .rio.write_nodata)"
                    )
            else:
                raise DTypeError(f"coregister: layer {name!r} has dtype {da.dtype}; need numbers")
            if not isinstance(da.data, dsa.Array):
                da = da.chunk()
            warped = odc.geo.xr.xr_reproject(
                da, geobox, resampling=method, dst_nodata=fill, chunks=(chunks["y"], chunks["x"])
            )
            # odc-geo names a geographic grid's dims latitude/longitude; the target's are y/x
            warped = warped.rename(dict(zip(warped.dims[-2:], ("y", "x"), strict=True)))
            warped = warped.drop_vars(
                [c for c in warped.coords if c not in warped.dims]
            ).assign_coords(y=like["y"], x=like["x"])
            attrs = {k: v for k, v in da.attrs.items() if k not in NODATA_ATTRS}
            if not np.issubdtype(warped.dtype, np.floating):
                attrs["nodata"] = fill
            warped.attrs = {**attrs, "resampling": method}
            out[name] = warped.rename(name)
    result = xr.Dataset(out)
    if "spatial_ref" in like.coords:  # the same grid-mapping coord, so merging just works
        return result.assign_coords(spatial_ref=like["spatial_ref"])
    written: xr.Dataset = result.rio.write_crs(like.rio.crs)
    return written


# --------------------------------------------------------------------------
# features and stacks


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
        if (label.sizes.get("y"), label.sizes.get("x")) != (layers.sizes["y"], layers.sizes["x"]):
            raise GridMismatchError(
                f"feature_stack: the label ({dict(label.sizes)}) is not on the layers' grid "
                f"(y: {layers.sizes['y']}, x: {layers.sizes['x']}); put it there with "
                "sarcube.coregister({'label': label}, layers, resampling='nearest')"
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


# --------------------------------------------------------------------------
# permanent-water prior


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
    check_xarray(dswe, func)
    if not isinstance(dswe, xr.DataArray):
        raise DTypeError(f"{func}: pass the DSWE layer as one DataArray")
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
        check_xarray(obj, f"{func} ({label})")
        if not isinstance(obj, xr.DataArray):
            raise DTypeError(f"{func}: {label} must be a DataArray")
    if mode not in ("reconstruct", "suppress", "both"):
        raise ParameterError(f"{func}: mode must be reconstruct, suppress or both, got {mode!r}")
    if not 0 < threshold < 1:
        raise ParameterError(f"{func}: threshold must be in (0, 1), got {threshold!r}")
    spatial = (flood.sizes.get("y"), flood.sizes.get("x"))
    if spatial != (prior.sizes.get("y"), prior.sizes.get("x")) or None in spatial:
        raise GridMismatchError(
            f"{func}: flood {dict(flood.sizes)} and prior {dict(prior.sizes)} are not on one "
            "grid; put the prior on the SAR grid with sarcube.coregister"
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


@accepts_geographic
def three_class_metrics(
    pred: xr.DataArray, truth: xr.DataArray, *, nodata: int = NODATA
) -> xr.Dataset:
    """Scores of a no-flood/flood/waterbody map, with the waterbody false-positive rate.

    Per-class IoU, precision, recall, F1, their means and pixel accuracy
    (:func:`sarcube.validate.segmentation_metrics` over classes 0, 1, 2), plus
    ``waterbody_fp_rate``: the fraction of waterbody truth pixels predicted as
    flood — how often permanent water is reported as flooding. Pixels with
    *nodata* in either map are not counted. Lazy until computed.

    Examples
    --------
    >>> import xarray as xr
    >>> truth = xr.DataArray([[0, 1, 2, 2]], dims=("y", "x"))
    >>> pred = xr.DataArray([[0, 1, 1, 2]], dims=("y", "x"))
    >>> float(three_class_metrics(pred, truth)["waterbody_fp_rate"])
    0.5
    """
    metrics = segmentation_metrics(pred, truth, classes=[0, 1, 2], nodata=nodata)
    cm = metrics["confusion"]
    water_truth = cm.sel(truth=2).sum("pred")
    rate = cm.sel(truth=2, pred=1) / water_truth.where(water_truth > 0)
    metrics["waterbody_fp_rate"] = rate.drop_vars(["truth", "pred"]).assign_attrs(
        long_name="fraction of waterbody truth predicted as flood", units="1"
    )
    return metrics.assign_coords(class_name=("class", list(FLOOD_CLASSES.values())))
