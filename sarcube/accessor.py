"""The ``.sar`` accessor on ``xr.DataArray`` and ``xr.Dataset``.

Each method is generated from a sarcube function whose first parameter is
the object: ``da.sar.to_db()`` is ``sarcube.to_db(da)``, with the function's
signature (less that parameter), docstring and types. Methods that need a
Dataset (a cube of bands) are only on ``Dataset.sar``, those that need one
band or map only on ``DataArray.sar``; asking the other accessor for one says
which to use. The accessor holds no state.

The functions' modules are imported when a method is first used, so that
registering ``.sar`` (as soon as xarray loads) costs nothing.
"""

from __future__ import annotations

import importlib
import inspect
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import xarray as xr

if TYPE_CHECKING:
    from . import (
        calibration,
        change,
        classify,
        flood,
        grid,
        insar,
        multisensor,
        regions,
        scaling,
        thresholds,
        validate,
        zonal,
    )
    from .filters import inpaint, speckle, tv
    from .infer import _postprocess, _predict, _stack
    from .io import export, rle, stac, zarr

__all__ = ["DataArraySar", "DatasetSar"]

P = ParamSpec("P")
R = TypeVar("R")
XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)


class _Target:
    """``module.name``, imported when first called for."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def resolve(self) -> Callable[..., Any]:
        function: Callable[..., Any] = getattr(importlib.import_module(self.module), self.name)
        return function


class _Functions:
    r"""A module's functions as :class:`_Target`\ s, without importing the module."""

    __slots__ = ("_module",)

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> _Target:
        return _Target(self._module, name)


if not TYPE_CHECKING:
    calibration, change, classify, flood, grid, insar, multisensor = (
        _Functions(f"sarcube.{name}")
        for name in ("calibration", "change", "classify", "flood", "grid", "insar", "multisensor")
    )
    regions, scaling, thresholds, validate, zonal = (
        _Functions(f"sarcube.{name}")
        for name in ("regions", "scaling", "thresholds", "validate", "zonal")
    )
    inpaint, speckle, tv = (
        _Functions(f"sarcube.filters.{n}") for n in ("inpaint", "speckle", "tv")
    )
    _postprocess, _predict, _stack = (
        _Functions(f"sarcube.infer.{n}") for n in ("_postprocess", "_predict", "_stack")
    )
    export, rle, stac, zarr = (
        _Functions(f"sarcube.io.{n}") for n in ("export", "rle", "stac", "zarr")
    )


class _Method(Generic[P, R]):
    """A ``.sar`` method made from a function: ``obj.sar.f(*a, **k)`` is ``f(obj, *a, **k)``.

    Read from the accessor class it is a plain function with the function's
    docstring and signature (``self`` in place of the object), which is what
    ``help()`` and the API pages show.
    """

    __slots__ = ("_function", "_name", "_owner", "_target")

    def __init__(self, target: Callable[..., R] | _Target) -> None:
        self._target = target
        self._function: Callable[..., R] | None = None
        self._name = self._owner = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._owner, self._name = owner.__name__, name

    def _method(self) -> Callable[..., R]:
        if self._function is None:
            target = self._target
            function = target.resolve() if isinstance(target, _Target) else target

            def method(accessor: _Sar[Any], /, *args: Any, **kwargs: Any) -> Any:
                return function(accessor._obj, *args, **kwargs)

            signature = inspect.signature(function)
            rest = list(signature.parameters.values())[1:]
            this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
            method.__dict__["__signature__"] = signature.replace(parameters=[this, *rest])
            method.__doc__ = function.__doc__
            method.__name__ = self._name
            method.__qualname__ = f"{self._owner}.{self._name}"
            method.__module__ = __name__
            self._function = method
        return self._function

    @overload
    def __get__(self, accessor: None, owner: type) -> Callable[..., R]: ...
    @overload
    def __get__(self, accessor: _Sar[Any], owner: type) -> Callable[P, R]: ...
    def __get__(self, accessor: _Sar[Any] | None, owner: type) -> Callable[..., R]:
        method = self._method()
        if accessor is None:
            return method
        bound: Callable[P, R] = types.MethodType(method, accessor)
        return bound


def _on_dataarray(function: Callable[Concatenate[xr.DataArray, P], R]) -> _Method[P, R]:
    """A ``DataArray.sar`` method forwarding to *function*."""
    return _Method(function)


def _on_dataset(function: Callable[Concatenate[xr.Dataset, P], R]) -> _Method[P, R]:
    """A ``Dataset.sar`` method forwarding to *function*."""
    return _Method(function)


class _Sar(Generic[XObj]):
    """What both accessors share: the object, and a helpful miss."""

    __slots__ = ("_obj",)
    #: methods of the other accessor, to name it when one is asked for here
    _elsewhere: Mapping[str, str] = {}

    def __init__(self, obj: XObj) -> None:
        self._obj: XObj = obj

    def __getattr__(self, name: str) -> Any:
        if name in self._elsewhere:
            raise AttributeError(f"{type(self).__name__} has no {name!r}: {self._elsewhere[name]}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class DataArraySar(_Sar[xr.DataArray]):
    """``DataArray.sar``: SAR operations on one band, map or phase field."""

    __slots__ = ()

    # calibration and scaling
    to_db = _on_dataarray(calibration.to_db)
    to_linear = _on_dataarray(calibration.to_linear)
    clamp_stats = _on_dataarray(calibration.clamp_stats)
    clamp = _on_dataarray(scaling.clamp)
    normalise = _on_dataarray(scaling.normalise)
    # speckle filters and restoration
    lee_filter = _on_dataarray(speckle.lee_filter)
    refined_lee = _on_dataarray(speckle.refined_lee)
    frost_filter = _on_dataarray(speckle.frost_filter)
    gamma_map_filter = _on_dataarray(speckle.gamma_map_filter)
    boxcar_filter = _on_dataarray(speckle.boxcar_filter)
    median_filter = _on_dataarray(speckle.median_filter)
    estimate_enl = _on_dataarray(speckle.estimate_enl)
    tv_denoise = _on_dataarray(tv.tv_denoise)
    inpaint_nodata = _on_dataarray(inpaint.inpaint_nodata)
    # change detection: the object is the pre-event image, the argument the post-event one
    difference = _on_dataarray(change.difference)
    log_ratio = _on_dataarray(change.log_ratio)
    normalised_change = _on_dataarray(change.normalised_change)
    normalized_change = _on_dataarray(change.normalized_change)
    reduce_time = _on_dataarray(change.reduce_time)
    threshold = _on_dataarray(thresholds.threshold)
    flood_map = _on_dataarray(flood.flood_map)
    flood_thresholds = _on_dataarray(flood.flood_thresholds)
    # regions, segments and maps
    remove_small_regions = _on_dataarray(regions.remove_small_regions)
    region_stats = _on_dataarray(regions.region_stats)
    boundary_ratio = _on_dataarray(regions.boundary_ratio)
    superpixels = _on_dataarray(classify.superpixels)
    class_fractions = _on_dataarray(validate.class_fractions)
    confusion_matrix = _on_dataarray(validate.confusion_matrix)
    segmentation_metrics = _on_dataarray(validate.segmentation_metrics)
    three_class_metrics = _on_dataarray(validate.three_class_metrics)
    apply_water_prior = _on_dataarray(multisensor.apply_water_prior)
    dswe_labels = _on_dataarray(multisensor.dswe_labels)
    # model inference
    predict = _on_dataarray(_predict.predict)
    most_likely_class = _on_dataarray(_predict.most_likely_class)
    flood_from_probability = _on_dataarray(_postprocess.flood_from_probability)
    # grid and exports
    crop_to_valid = _on_dataarray(grid.crop_to_valid)
    pixel_size_m = _on_dataarray(grid.pixel_size_m)
    to_zarr = _on_dataarray(zarr.to_zarr)
    to_cog = _on_dataarray(export.to_cog)
    to_vector = _on_dataarray(export.to_vector)
    zonal_stats = _on_dataarray(zonal.zonal_stats)
    rle_encode = _on_dataarray(rle.rle_encode)
    # InSAR
    ionosphere_correction = _on_dataarray(insar.ionosphere_correction)
    phase_to_displacement = _on_dataarray(insar.phase_to_displacement)
    troposphere_correction = _on_dataarray(insar.troposphere_correction)
    los_to_vertical = _on_dataarray(insar.los_to_vertical)
    clip_to_areas = _on_dataarray(insar.clip_to_areas)
    sample_at_points = _on_dataarray(insar.sample_at_points)

    def coregister(self, layers: Any, **kwargs: Any) -> xr.Dataset:
        """Reproject *layers* onto this raster's grid: ``sarcube.coregister(layers, like=obj)``."""
        from .multisensor import coregister

        return coregister(layers, self._obj, **kwargs)


class DatasetSar(_Sar[xr.Dataset]):
    """``Dataset.sar``: SAR operations on a cube with one variable per band."""

    __slots__ = ()

    # calibration and scaling
    to_db = _on_dataset(calibration.to_db)
    to_linear = _on_dataset(calibration.to_linear)
    clamp_stats = _on_dataset(calibration.clamp_stats)
    clamp = _on_dataset(scaling.clamp)
    normalise = _on_dataset(scaling.normalise)
    # speckle filters and restoration
    lee_filter = _on_dataset(speckle.lee_filter)
    refined_lee = _on_dataset(speckle.refined_lee)
    frost_filter = _on_dataset(speckle.frost_filter)
    gamma_map_filter = _on_dataset(speckle.gamma_map_filter)
    boxcar_filter = _on_dataset(speckle.boxcar_filter)
    median_filter = _on_dataset(speckle.median_filter)
    estimate_enl = _on_dataset(speckle.estimate_enl)
    tv_denoise = _on_dataset(tv.tv_denoise)
    inpaint_nodata = _on_dataset(inpaint.inpaint_nodata)
    # change detection: the object is the pre-event cube, the argument the post-event one
    difference = _on_dataset(change.difference)
    log_ratio = _on_dataset(change.log_ratio)
    normalised_change = _on_dataset(change.normalised_change)
    normalized_change = _on_dataset(change.normalized_change)
    reduce_time = _on_dataset(change.reduce_time)
    flood_map = _on_dataset(flood.flood_map)
    flood_thresholds = _on_dataset(flood.flood_thresholds)
    # features, classes and segments
    sar_rgb = _on_dataset(classify.sar_rgb)
    sar_features = _on_dataset(multisensor.sar_features)
    feature_stack = _on_dataset(_stack.feature_stack)
    kmeans = _on_dataset(classify.kmeans)
    superpixels = _on_dataset(classify.superpixels)
    segment_table = _on_dataset(classify.segment_table)
    segment_kmeans = _on_dataset(classify.segment_kmeans)
    # model inference
    stack_channels = _on_dataset(_stack.stack_channels)
    sweep_norms = _on_dataset(_stack.sweep_norms)
    predict = _on_dataset(_predict.predict)
    # grid, loading and exports
    crop_to_valid = _on_dataset(grid.crop_to_valid)
    pixel_size_m = _on_dataset(grid.pixel_size_m)
    failed_assets = _on_dataset(stac.failed_assets)
    to_zarr = _on_dataset(zarr.to_zarr)

    def coregister(self, layers: Any, **kwargs: Any) -> xr.Dataset:
        """Reproject *layers* onto this cube's grid: ``sarcube.coregister(layers, like=obj)``."""
        from .multisensor import coregister

        return coregister(layers, self._obj, **kwargs)


def _methods(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if isinstance(v, _Method) or n == "coregister"}


DataArraySar._elsewhere = {
    name: "it needs a Dataset cube (one variable per band): da.to_dataset(name=...).sar." + name
    for name in _methods(DatasetSar) - _methods(DataArraySar)
}
DatasetSar._elsewhere = {
    name: f"it works on one band or map: cube['vv'].sar.{name}(...)"
    for name in _methods(DataArraySar) - _methods(DatasetSar)
}

xr.register_dataarray_accessor("sar")(DataArraySar)
xr.register_dataset_accessor("sar")(DatasetSar)
