"""The ``.sar`` accessor on ``xr.Dataset`` and ``xr.DataArray``.

It only forwards to the functions of sarcube, with the same keyword options
and docstrings, and holds no state: ``cube.sar.to_db()`` is
``sarcube.to_db(cube)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

import xarray as xr

from . import calibration, scaling
from .conventions import SPATIAL_DIMS

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

    to_db.__doc__ = calibration.to_db.__doc__
    to_linear.__doc__ = calibration.to_linear.__doc__
    clamp_stats.__doc__ = calibration.clamp_stats.__doc__
    clamp.__doc__ = scaling.clamp.__doc__
    normalise.__doc__ = scaling.normalise.__doc__


@xr.register_dataset_accessor("sar")
class DatasetSarAccessor(SarAccessor[xr.Dataset]):
    """``Dataset.sar``: see :class:`SarAccessor`."""


@xr.register_dataarray_accessor("sar")
class DataArraySarAccessor(SarAccessor[xr.DataArray]):
    """``DataArray.sar``: see :class:`SarAccessor`."""
