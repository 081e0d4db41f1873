"""The ``.sar`` accessor on ``xr.Dataset`` and ``xr.DataArray``.

It only forwards to the functions of sarcube, with the same keyword options
and docstrings, and holds no state: ``cube.sar.to_db()`` is
``sarcube.to_db(cube)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import xarray as xr

from ._deprecation import DB_FLAG, renamed_keywords
from ._lazy import LazyModule
from .conventions import SPATIAL_DIMS, TV_HALO

if TYPE_CHECKING:
    from pathlib import Path

    import geopandas as gpd

    from . import (
        calibration,
        change,
        classify,
        flood,
        insar,
        multisensor,
        regions,
        scaling,
        thresholds,
    )
    from .filters import inpaint, speckle, tv
    from .infer import _predict, _stack
    from .io import export, rle, zarr, zonal
else:  # loaded when a method is first called: registering .sar costs nothing
    calibration, change, classify, flood, insar, multisensor, regions, scaling, thresholds = (
        LazyModule(f"sarcube.{name}")
        for name in (
            "calibration",
            "change",
            "classify",
            "flood",
            "insar",
            "multisensor",
            "regions",
            "scaling",
            "thresholds",
        )
    )
    speckle, tv = LazyModule("sarcube.filters.speckle"), LazyModule("sarcube.filters.tv")
    inpaint = LazyModule("sarcube.filters.inpaint")
    export, rle, zarr, zonal = (
        LazyModule(f"sarcube.io.{name}") for name in ("export", "rle", "zarr", "zonal")
    )
    _predict, _stack = (LazyModule(f"sarcube.infer.{name}") for name in ("_predict", "_stack"))

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)

__all__ = ["SarAccessor"]


class SarAccessor(Generic[XObj]):
    """SAR operations on a cube or band: ``obj.sar.<function>(...)``."""

    def __init__(self, obj: XObj) -> None:
        self._obj: XObj = obj
        if not _documented:
            _copy_docs()

    def to_db(self) -> XObj:
        return calibration.to_db(self._obj)

    def to_linear(self) -> XObj:
        return calibration.to_linear(self._obj)

    def clamp_stats(
        self,
        clamps: Sequence[float] = (0.15, 0.3, 0.5),
        *,
        dims: Sequence[Hashable] = SPATIAL_DIMS,
        positive_only: bool = False,
    ) -> xr.Dataset:
        return calibration.clamp_stats(self._obj, clamps, dims=dims, positive_only=positive_only)

    def clamp(self, value: float, *, lower: float | None = None) -> XObj:
        return scaling.clamp(self._obj, value, lower=lower)

    def normalise(self, config: scaling.NormConfig, *, band: str | None = None) -> XObj:
        return scaling.normalise(self._obj, config, band=band)

    def lee_filter(
        self,
        *,
        size: int = 7,
        variant: speckle.LeeVariant = "classic",
        enl: float | None = None,
        damping: float = 1.0,
    ) -> XObj:
        return speckle.lee_filter(self._obj, size=size, variant=variant, enl=enl, damping=damping)

    def refined_lee(self, *, enl: float | None = None) -> XObj:
        return speckle.refined_lee(self._obj, enl=enl)

    def frost_filter(self, *, size: int = 7, damping: float = 2.0) -> XObj:
        return speckle.frost_filter(self._obj, size=size, damping=damping)

    def gamma_map_filter(self, *, size: int = 7, enl: float | None = None) -> XObj:
        return speckle.gamma_map_filter(self._obj, size=size, enl=enl)

    def boxcar_filter(self, *, size: int = 7) -> XObj:
        return speckle.boxcar_filter(self._obj, size=size)

    def median_filter(self, *, size: int = 7) -> XObj:
        return speckle.median_filter(self._obj, size=size)

    def estimate_enl(self, *, size: int = 7) -> XObj:
        return speckle.estimate_enl(self._obj, size=size)

    def inpaint_nodata(self, *, max_size: int = 32) -> XObj:
        return inpaint.inpaint_nodata(self._obj, max_size=max_size)

    @renamed_keywords(domain=("db", DB_FLAG))
    def tv_denoise(
        self,
        *,
        weight: float,
        method: Literal["chambolle", "bregman"] = "chambolle",
        db: bool = True,
        max_iter: int | None = None,
        eps: float | None = None,
        halo: int = TV_HALO,
        precision: Literal["float32", "float64"] = "float32",
    ) -> XObj:
        return tv.tv_denoise(
            self._obj,
            weight=weight,
            method=method,
            db=db,
            max_iter=max_iter,
            eps=eps,
            halo=halo,
            precision=precision,
        )

    # change detection: the object is the pre-event image, the argument the post-event one
    def difference(self, post: XObj) -> XObj:
        return change.difference(self._obj, post)

    def log_ratio(self, post: XObj) -> XObj:
        return change.log_ratio(self._obj, post)

    def normalised_change(self, post: XObj) -> XObj:
        return change.normalised_change(self._obj, post)

    def normalized_change(self, post: XObj) -> XObj:
        return change.normalized_change(self._obj, post)

    def reduce_time(self, *, how: Literal["mean", "median"] = "median", dim: str = "time") -> XObj:
        return change.reduce_time(self._obj, how=how, dim=dim)

    def flood_map(self, post: xr.DataArray | xr.Dataset, **kwargs: Any) -> xr.DataArray:
        return flood.flood_map(self._obj, post, **kwargs)

    def flood_thresholds(self, post: xr.DataArray | xr.Dataset, **kwargs: Any) -> xr.Dataset:
        return flood.flood_thresholds(self._obj, post, **kwargs)

    def to_zarr(self, store: Any, **kwargs: Any) -> Path:
        return zarr.to_zarr(self._obj, store, **kwargs)

    def stack_channels(self, *, bands: Sequence[str], **kwargs: Any) -> xr.DataArray:
        if not isinstance(self._obj, xr.Dataset):
            from .errors import ParameterError

            raise ParameterError(
                "stack_channels: needs a Dataset cube (one variable per band); use "
                "da.to_dataset(name=...) for a single band"
            )
        return _stack.stack_channels(self._obj, bands=bands, **kwargs)

    def threshold(self, **kwargs: Any) -> xr.Dataset:
        return thresholds.threshold(self._obj, **kwargs)  # type: ignore[arg-type]

    def remove_small_regions(self, *, min_size: int, connectivity: Literal[1, 2] = 2) -> XObj:
        return regions.remove_small_regions(  # type: ignore[return-value]
            self._obj,  # type: ignore[arg-type]
            min_size=min_size,
            connectivity=connectivity,
        )

    def region_stats(self, *, connectivity: Literal[1, 2] = 2) -> xr.Dataset:
        return regions.region_stats(self._obj, connectivity=connectivity)  # type: ignore[arg-type]

    def to_vector(self, path: Any = None, **kwargs: Any) -> gpd.GeoDataFrame:
        return export.to_vector(self._obj, path, **kwargs)  # type: ignore[arg-type]

    def kmeans(self, *, n_clusters: int, **kwargs: Any) -> xr.DataArray:
        return classify.kmeans(self._obj, n_clusters=n_clusters, **kwargs)  # type: ignore[arg-type]

    def superpixels(self, **kwargs: Any) -> xr.Dataset:
        return classify.superpixels(self._obj, **kwargs)

    def segment_table(self) -> xr.Dataset:
        return classify.segment_table(self._obj)  # type: ignore[arg-type]

    def segment_kmeans(self, *, n_clusters: int, **kwargs: Any) -> xr.DataArray:
        return classify.segment_kmeans(self._obj, n_clusters=n_clusters, **kwargs)  # type: ignore[arg-type]

    def predict(self, model: Any, *, n_classes: int, **kwargs: Any) -> xr.DataArray:
        return _predict.predict(self._obj, model, n_classes=n_classes, **kwargs)

    def sar_rgb(self, **kwargs: Any) -> xr.DataArray:
        return classify.sar_rgb(self._obj, **kwargs)  # type: ignore[arg-type]

    def coregister(self, layers: Any, **kwargs: Any) -> xr.Dataset:
        """Reproject *layers* onto this cube's grid: ``sarcube.coregister(layers, like=obj)``."""
        return multisensor.coregister(layers, self._obj, **kwargs)

    def sar_features(self, **kwargs: Any) -> xr.Dataset:
        return multisensor.sar_features(self._obj, **kwargs)  # type: ignore[arg-type]

    def zonal_stats(self, polygons: Any, **kwargs: Any) -> gpd.GeoDataFrame:
        return zonal.zonal_stats(self._obj, polygons, **kwargs)  # type: ignore[arg-type]

    def rle_encode(self, **kwargs: Any) -> str:
        return rle.rle_encode(self._obj, **kwargs)

    def phase_to_displacement(self, **kwargs: Any) -> xr.DataArray:
        return insar.phase_to_displacement(self._obj, **kwargs)  # type: ignore[arg-type]

    def los_to_vertical(self, incidence: Any, **kwargs: Any) -> xr.DataArray:
        return insar.los_to_vertical(self._obj, incidence, **kwargs)  # type: ignore[arg-type]


#: Each method's docstring is its function's: (method, module, function).
_DOCUMENTED = (
    ("to_db", calibration, "to_db"),
    ("to_linear", calibration, "to_linear"),
    ("clamp_stats", calibration, "clamp_stats"),
    ("clamp", scaling, "clamp"),
    ("normalise", scaling, "normalise"),
    ("lee_filter", speckle, "lee_filter"),
    ("refined_lee", speckle, "refined_lee"),
    ("frost_filter", speckle, "frost_filter"),
    ("gamma_map_filter", speckle, "gamma_map_filter"),
    ("boxcar_filter", speckle, "boxcar_filter"),
    ("median_filter", speckle, "median_filter"),
    ("estimate_enl", speckle, "estimate_enl"),
    ("inpaint_nodata", inpaint, "inpaint_nodata"),
    ("tv_denoise", tv, "tv_denoise"),
    ("difference", change, "difference"),
    ("log_ratio", change, "log_ratio"),
    ("normalised_change", change, "normalised_change"),
    ("normalized_change", change, "normalized_change"),
    ("reduce_time", change, "reduce_time"),
    ("threshold", thresholds, "threshold"),
    ("flood_map", flood, "flood_map"),
    ("flood_thresholds", flood, "flood_thresholds"),
    ("to_zarr", zarr, "to_zarr"),
    ("stack_channels", _stack, "stack_channels"),
    ("predict", _predict, "predict"),
    ("remove_small_regions", regions, "remove_small_regions"),
    ("region_stats", regions, "region_stats"),
    ("to_vector", export, "to_vector"),
    ("kmeans", classify, "kmeans"),
    ("superpixels", classify, "superpixels"),
    ("segment_table", classify, "segment_table"),
    ("segment_kmeans", classify, "segment_kmeans"),
    ("sar_rgb", classify, "sar_rgb"),
    ("sar_features", multisensor, "sar_features"),
    ("zonal_stats", zonal, "zonal_stats"),
    ("rle_encode", rle, "rle_encode"),
    ("phase_to_displacement", insar, "phase_to_displacement"),
    ("los_to_vertical", insar, "los_to_vertical"),
)
_documented = False


def _copy_docs() -> bool:
    """Give each method its function's docstring (once; importing the modules it forwards to).

    Called when the first accessor is made, and tried at import: while a
    sarcube module that imports xarray is itself being imported (xarray
    loaded first through it), its functions are not there yet, so the copy
    waits for the first accessor.
    """
    global _documented
    if not _documented:
        try:
            for method, module, function in _DOCUMENTED:
                getattr(SarAccessor, method).__doc__ = getattr(module, function).__doc__
        except (AttributeError, ImportError):
            return False
        _documented = True
    return True


@xr.register_dataset_accessor("sar")
class DatasetSarAccessor(SarAccessor[xr.Dataset]):
    """``Dataset.sar``: see :class:`SarAccessor`."""


@xr.register_dataarray_accessor("sar")
class DataArraySarAccessor(SarAccessor[xr.DataArray]):
    """``DataArray.sar``: see :class:`SarAccessor`."""


_copy_docs()
