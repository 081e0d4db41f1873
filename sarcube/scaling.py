"""Clamping and normalising backscatter for models.

A :class:`NormConfig` records the clamp cut-off and the per-band mean and
standard deviation a model was trained with; it round-trips through JSON so
the same normalisation is applied at inference time.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from ._atomic import write_text_atomic
from ._checks import check_positive_finite, check_real, check_xarray, data_arrays, is_instance
from ._metadata import map_arrays
from .errors import BandNotFoundError, DimensionError, ParameterError

__all__ = ["NormConfig", "clamp", "normalise"]

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)


def clamp(obj: XObj, value: float, *, lower: float | None = None) -> XObj:
    """Clamp values above *value* to *value* (and below *lower* to *lower*).

    NaN stays NaN; dims, coords and attrs are kept; lazy on dask input.

    Examples
    --------
    >>> import xarray as xr
    >>> clamp(xr.DataArray([0.1, 0.7, float("nan")], dims="x"), 0.5).values.tolist()
    [0.1, 0.5, nan]
    """
    check_xarray(obj, "clamp")
    check_real(obj, "clamp")
    upper = check_positive_finite(value, "value", "clamp")
    if lower is not None and not (math.isfinite(lower) and lower < upper):
        raise ParameterError(f"clamp: lower={lower!r} must be finite and below value={upper}")

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        dtype = da.dtype.type if np.issubdtype(da.dtype, np.floating) else np.float32
        out = da.astype(dtype, copy=False).clip(
            min=None if lower is None else dtype(lower), max=dtype(upper), keep_attrs=True
        )
        out.encoding = {}
        return out

    return map_arrays(obj, apply)


@dataclass(frozen=True)
class NormConfig:
    """Clamp cut-off and per-band mean/std used to normalise model inputs.

    Parameters
    ----------
    clamp
        Upper cut-off applied before normalising, in the data's units; None
        for a plain z-score (no clamp, e.g. for dB input or a model trained
        without one).
    mean, std
        Per band (variable name, e.g. ``"vv"``) mean and standard deviation of
        the clamped data.

    Examples
    --------
    >>> cfg = NormConfig(clamp=0.3, mean={"vv": 0.05}, std={"vv": 0.02})
    >>> NormConfig.from_json(cfg.to_json()) == cfg
    True
    >>> NormConfig(clamp=None, mean={"vv": -12.0}, std={"vv": 4.0}).to_dict()["clamp"] is None
    True
    """

    clamp: float | None
    mean: Mapping[str, float] = field(default_factory=dict)
    std: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.clamp is not None:
            check_positive_finite(self.clamp, "clamp", "NormConfig")
        if set(self.mean) != set(self.std):
            raise ParameterError(
                f"NormConfig: mean has bands {sorted(self.mean)} but std has {sorted(self.std)}; "
                "give both for the same bands"
            )
        for band, s in self.std.items():
            check_positive_finite(s, f"std[{band!r}]", "NormConfig")
        for band, m in self.mean.items():
            if not math.isfinite(m):
                raise ParameterError(f"NormConfig: mean[{band!r}] must be finite, got {m!r}")
        # Plain floats and dicts so equality and JSON are exact and predictable.
        object.__setattr__(self, "clamp", None if self.clamp is None else float(self.clamp))
        object.__setattr__(self, "mean", {str(k): float(v) for k, v in self.mean.items()})
        object.__setattr__(self, "std", {str(k): float(v) for k, v in self.std.items()})

    @property
    def bands(self) -> list[str]:
        """The bands this configuration normalises."""
        return list(self.mean)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"clamp": self.clamp, "mean": dict(self.mean), "std": dict(self.std)}

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """Serialise to JSON; also write it to *path* when given."""
        # Band order is kept: it is the channel order a model was trained with.
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            write_text_atomic(Path(path), text + "\n")
        return text

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NormConfig:
        """Build from a dict as written by :meth:`to_dict`."""
        missing = {"clamp", "mean", "std"} - set(data)
        if missing:
            raise ParameterError(f"NormConfig: keys {sorted(missing)} missing from {dict(data)}")
        return cls(clamp=data["clamp"], mean=data["mean"], std=data["std"])

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike[str]) -> NormConfig:
        """Read from a JSON string or a JSON file path."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_stats(cls, stats: xr.Dataset, clamp: float = 0.3) -> NormConfig:
        """Take the mean/std at *clamp* from :func:`sarcube.clamp_stats` output.

        This **computes** *stats* if it is lazy (a handful of numbers).

        Raises
        ------
        ParameterError
            If *clamp* is not one of the clamps in *stats*.
        DimensionError
            If *stats* still has dims other than ``band``/``clamp`` (e.g. ``time``).
        """
        if not is_instance(stats, xr.Dataset) or not {"mean", "std"} <= set(stats.data_vars):
            raise ParameterError(
                "NormConfig.from_stats expects the Dataset returned by clamp_stats(...)"
            )
        available = [float(c) for c in stats["clamp"].values]
        matches = [c for c in available if math.isclose(c, clamp, rel_tol=1e-9)]
        if not matches:
            raise ParameterError(
                f"NormConfig.from_stats: clamp={clamp} not in the statistics; available: "
                f"{available} — compute clamp_stats(cube, clamps=[..., {clamp}])"
            )
        sel = stats[["mean", "std"]].sel(clamp=matches[0])
        extra = [d for d in sel.dims if d != "band"]
        if extra:
            raise DimensionError(
                f"NormConfig.from_stats: statistics still have dims {extra}; reduce over them, "
                f"e.g. clamp_stats(cube, dims=({', '.join(repr(d) for d in [*extra, 'y', 'x'])}))"
            )
        sel = sel.compute()
        if "band" in sel.dims:
            bands = [str(b) for b in sel["band"].values]
            mean = {b: float(sel["mean"].sel(band=b)) for b in bands}
            std = {b: float(sel["std"].sel(band=b)) for b in bands}
        else:
            # statistics of one DataArray: its name (scalar ``band`` coord) or "band"
            name = str(sel["band"].values) if "band" in sel.coords else "band"
            mean = {name: float(sel["mean"])}
            std = {name: float(sel["std"])}
        return cls(clamp=matches[0], mean=mean, std=std)


def normalise(obj: XObj, config: NormConfig, *, band: str | None = None) -> XObj:
    """Clamp at ``config.clamp``, then standardise: ``(min(x, clamp) - mean) / std``.

    With ``config.clamp=None`` there is no clamp: ``(x - mean) / std``.

    Each variable of a Dataset uses the statistics of its own name; a DataArray
    uses those of *band* (default: its name). ``units`` becomes ``"1"``
    (standardised) and ``long_name`` says so. Lazy on dask input.

    Raises
    ------
    BandNotFoundError
        If a band has no statistics in *config*.

    Examples
    --------
    >>> import xarray as xr
    >>> cfg = NormConfig(clamp=0.5, mean={"vv": 0.1}, std={"vv": 0.1})
    >>> da = xr.DataArray([0.1, 0.3, 0.9], dims="x", name="vv")
    >>> normalise(da, cfg).values.round(6).tolist()
    [0.0, 2.0, 4.0]
    """
    check_xarray(obj, "normalise")
    check_real(obj, "normalise")
    if not isinstance(config, NormConfig):
        raise ParameterError(
            f"normalise: config must be a NormConfig, got {type(config).__name__}; "
            "build one with NormConfig.from_stats(clamp_stats(cube))"
        )
    # A DataArray may be told which band's statistics to use; a Dataset uses its names.
    given: object = obj  # a DataArray or a Dataset, whichever the caller's type is
    override = band if isinstance(given, xr.DataArray) else None
    for name, _ in data_arrays(obj):
        key = override if override is not None else name
        if key not in config.mean:
            raise BandNotFoundError(
                f"normalise: no statistics for band {key!r}; the config has {config.bands} "
                "(for a DataArray pass band=... or set its name)"
            )
    clamped = obj if config.clamp is None else clamp(obj, config.clamp)
    how = "standardised" if config.clamp is None else f"clamped at {config.clamp} and standardised"

    def apply(name: Hashable, da: xr.DataArray) -> xr.DataArray:
        key = str(override if override is not None else name)
        dtype = da.dtype.type
        out: xr.DataArray = (da - dtype(config.mean[key])) / dtype(config.std[key])
        out.attrs = {**da.attrs, "units": "1", "long_name": f"{key} {how}"}
        return out

    return map_arrays(clamped, apply)
