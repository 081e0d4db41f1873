"""The ``.sar`` accessor on ``xr.Dataset`` and ``xr.DataArray``.

It only forwards to the functions of sarcube, with the same keyword options
and docstrings, and holds no state: ``cube.sar.to_db()`` is
``sarcube.to_db(cube)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, Literal, TypeVar

import xarray as xr

from . import calibration, scaling
from .conventions import SPATIAL_DIMS
from .filters import speckle, tv

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)

__all__ = ["SarAccessor"]


class SarAccessor(Generic[XObj]):
    """SAR operations on a cube or band: ``obj.sar.<function>(...)``."""

    def __init__(self, obj: XObj) -> None:
        self._obj: XObj = obj

    def to_db(self) -> XObj:
        return calibration.to_db(self._obj)

    def to_linear(self) -> XObj:
        return calibration.to_linear(self._obj)

    def clamp_stats(
        self,
        clamps: Sequence[float] = (0.15, 0.3, 0.5),
        *,
        dims: Sequence[Hashable] = SPATIAL_DIMS,
    ) -> xr.Dataset:
        return calibration.clamp_stats(self._obj, clamps, dims=dims)

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

    def tv_denoise(
        self,
        *,
        weight: float,
        method: Literal["chambolle", "bregman"] = "chambolle",
        domain: Literal["db", "linear"] = "db",
        max_iter: int | None = None,
        eps: float | None = None,
        halo: int = tv.DEFAULT_HALO,
        precision: Literal["float32", "float64"] = "float32",
    ) -> XObj:
        return tv.tv_denoise(
            self._obj,
            weight=weight,
            method=method,
            domain=domain,
            max_iter=max_iter,
            eps=eps,
            halo=halo,
            precision=precision,
        )

    to_db.__doc__ = calibration.to_db.__doc__
    to_linear.__doc__ = calibration.to_linear.__doc__
    clamp_stats.__doc__ = calibration.clamp_stats.__doc__
    clamp.__doc__ = scaling.clamp.__doc__
    normalise.__doc__ = scaling.normalise.__doc__
    lee_filter.__doc__ = speckle.lee_filter.__doc__
    refined_lee.__doc__ = speckle.refined_lee.__doc__
    frost_filter.__doc__ = speckle.frost_filter.__doc__
    gamma_map_filter.__doc__ = speckle.gamma_map_filter.__doc__
    boxcar_filter.__doc__ = speckle.boxcar_filter.__doc__
    median_filter.__doc__ = speckle.median_filter.__doc__
    estimate_enl.__doc__ = speckle.estimate_enl.__doc__
    tv_denoise.__doc__ = tv.tv_denoise.__doc__


@xr.register_dataset_accessor("sar")
class DatasetSarAccessor(SarAccessor[xr.Dataset]):
    """``Dataset.sar``: see :class:`SarAccessor`."""


@xr.register_dataarray_accessor("sar")
class DataArraySarAccessor(SarAccessor[xr.DataArray]):
    """``DataArray.sar``: see :class:`SarAccessor`."""
