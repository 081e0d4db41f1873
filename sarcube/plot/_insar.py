"""Figures of InSAR results: displacement panels, fringes, periods, gauge density."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from .._checks import check_int, check_xarray
from .._metadata import name_or
from ..errors import DimensionError, ParameterError
from ._common import (
    NODATA_COLOUR,
    _finish,
    _pyplot,
)


def accuracy_vs_density(
    table: Any,
    *,
    metric: str = "rmse",
    x: Literal["gauges", "km2_per_gauge"] = "gauges",
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """Accuracy at validation gauges against the number of calibration gauges.

    *table* is the output of :func:`sarcube.insar.gauge_density_experiment`.
    For each method the median of *metric* over the replicates is drawn as a
    line, with the 5–95 % range of the replicates shaded. *x*: ``"gauges"``
    (calibration gauges) or ``"km2_per_gauge"`` (area per calibration gauge,
    on a log axis, densest on the right; needs the experiment's
    ``area_km2``). Returns the figure; with *path* it is also saved.

    Examples
    --------
    >>> from sarcube.plot import accuracy_vs_density
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 10_000, size=(20, 2))
    >>> change = 2e-6 * xy[:, 0]
    >>> insar = 0.8 * change + 0.01 + rng.normal(0, 0.001, 20)
    >>> table = gauge_density_experiment(insar, change, xy, n_calibration=(2, 5), replicates=5)
    >>> figure = accuracy_vs_density(table)
    >>> [line.get_label() for line in figure.axes[0].lines]
    ['idw (median, 5–95 %)', 'insar (median, 5–95 %)']
    """
    plt = _pyplot()
    func = "accuracy_vs_density"
    columns = getattr(table, "columns", None)
    if columns is None or not {"n_calibration", "method"} <= set(columns):
        raise ParameterError(
            f"{func}: pass the table returned by sarcube.insar.gauge_density_experiment"
        )
    keys = {"n_calibration", "replicate", "method", "n_total", "gain_fixed", "area_km2"}
    keys |= {"km2_per_gauge"}
    metrics = [c for c in columns if c not in keys]
    if x not in ("gauges", "km2_per_gauge"):
        raise ParameterError(f"{func}: x must be 'gauges' or 'km2_per_gauge', got {x!r}")
    if x == "km2_per_gauge" and "km2_per_gauge" not in columns:
        raise ParameterError(
            f"{func}: the table has no km2_per_gauge column; run "
            "gauge_density_experiment(..., area_km2=...) first"
        )
    if metric not in metrics:
        raise ParameterError(f"{func}: no metric {metric!r} in the table; have {metrics}")
    if len(table) == 0:
        raise ParameterError(f"{func}: the table is empty; run the experiment first")
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    for k, (method, rows) in enumerate(table.groupby("method", sort=True)):
        by_size = rows.groupby("n_calibration", sort=True)[metric]
        medians = by_size.median()
        sizes = medians.index.to_numpy(dtype=float)
        if x == "km2_per_gauge":
            sizes = float(table["area_km2"].iloc[0]) / sizes
        median = medians.to_numpy(dtype=float)
        low = by_size.quantile(0.05).to_numpy(dtype=float)
        high = by_size.quantile(0.95).to_numpy(dtype=float)
        colour = f"C{k % 10}"
        ax.fill_between(sizes, low, high, color=colour, alpha=0.2, linewidth=0)
        ax.plot(sizes, median, "o-", color=colour, label=f"{method} (median, 5–95 %)")
    if metric == "bias":
        ax.axhline(0.0, color="0.4", linewidth=0.8)
    sizes_all = np.unique(np.asarray(table["n_calibration"], dtype=int))
    if x == "km2_per_gauge":
        ax.set_xscale("log")
        ax.invert_xaxis()  # densest on the right, as with the gauge count
        ticks = float(table["area_km2"].iloc[0]) / sizes_all
        ax.set_xticks(ticks, [f"{t:.3g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("km² per calibration gauge")
    else:
        ax.set_xticks(sizes_all, [str(s) for s in sizes_all])
        ax.set_xlabel("calibration gauges")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} at validation gauges")
    ax.legend(fontsize=8)
    _finish(fig, path)
    return fig


# --------------------------------------------------------------------------
# InSAR maps


def _decimated(da: xr.DataArray, max_pixels: int, func: str) -> xr.DataArray:
    """A 2-D map read with a stride so that neither side exceeds *max_pixels*."""
    check_xarray(da, func)
    if da.ndim != 2:
        raise DimensionError(
            f"{func}: map {da.name!r} has dims {da.dims}; select one 2-D map, e.g. m.isel(time=0)"
        )
    step = max(1, -(-max(da.shape) // max_pixels))
    return da[::step, ::step]


def displacement_panels(
    maps: Mapping[str, xr.DataArray],
    *,
    limit: float | None = None,
    ncols: int = 3,
    max_pixels: int = 1024,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """One panel per interferogram pair on one diverging colour scale, zero in white.

    *maps* are displacement fields (e.g. :func:`sarcube.insar.los_to_vertical`
    per pair), shown with a colourbar in their ``units``. The scale is
    ``±limit``, by default the 98th percentile of ``|values|`` over all
    panels. Large maps are read with a stride so that no side exceeds
    *max_pixels* (**computes** that many pixels). Returns the figure; with
    *path* it is also saved.

    Examples
    --------
    >>> from sarcube.plot import displacement_panels
    >>> y, x = np.mgrid[0:32, 0:32]
    >>> bowl = xr.DataArray(-0.01 * np.exp(-((y - 16) ** 2 + (x - 16) ** 2) / 50), dims=("y", "x"),
    ...                     attrs={"units": "m"})
    >>> figure = displacement_panels({"2017-03-01/03-13": bowl, "2017-03-13/03-25": 2 * bowl})
    >>> [ax.get_title() for ax in figure.axes[:2]], figure.axes[-1].get_ylabel()
    (['2017-03-01/03-13', '2017-03-13/03-25'], 'displacement (m)')
    """
    func = "displacement_panels"
    if not maps:
        raise ParameterError(f"{func}: no maps given")
    ncols = check_int(ncols, "ncols", func, minimum=1)
    if limit is not None and not (np.isfinite(limit) and limit > 0):
        raise ParameterError(f"{func}: limit must be a positive number, got {limit!r}")
    shown = {name: _decimated(da, max_pixels, func) for name, da in maps.items()}
    units = {str(da.attrs.get("units", "")) for da in shown.values()}
    if len(units) > 1:
        raise ParameterError(
            f"{func}: the maps have different units {sorted(units)}; convert them to one first"
        )
    values = {name: np.asarray(da.values, dtype=np.float64) for name, da in shown.items()}
    if limit is None:
        pooled = np.concatenate([np.abs(v[np.isfinite(v)]) for v in values.values()])
        limit = float(np.percentile(pooled, 98)) if pooled.size and pooled.max() > 0 else 1.0
    plt = _pyplot()
    cmap = plt.get_cmap("RdBu").with_extremes(bad=NODATA_COLOUR)  # zero is white
    n = len(values)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 3.4 * rows), layout="constrained", squeeze=False
    )
    image = None
    for ax, (name, v) in zip(axes.ravel(), values.items(), strict=False):
        image = ax.imshow(v, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    unit = units.pop()
    fig.colorbar(
        image, ax=axes, shrink=0.8, label=f"displacement ({unit})" if unit else "displacement"
    )
    _finish(fig, path)
    return fig


def fringes(
    interferogram: xr.DataArray,
    *,
    max_pixels: int = 1024,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """The wrapped phase of an interferogram on a cyclic colour scale (a fringe quicklook).

    *interferogram* is complex (its angle is drawn) or a real phase in
    radians (wrapped to [−π, π) first, so an unwrapped phase shows its
    fringes too). Large maps are read with a stride (*max_pixels*). Returns
    the figure; with *path* it is also saved.

    Examples
    --------
    >>> from sarcube.plot import fringes
    >>> y, x = np.mgrid[0:64, 0:64]
    >>> ifg = xr.DataArray(np.exp(1j * 0.3 * x), dims=("y", "x"))  # a phase ramp
    >>> figure = fringes(ifg)
    >>> figure.axes[-1].get_ylabel()
    'wrapped phase (rad)'
    """
    func = "fringes"
    da = _decimated(interferogram, max_pixels, func)
    values = np.asarray(da.values)
    if np.iscomplexobj(values):
        phase = np.angle(values)
    elif np.issubdtype(values.dtype, np.number):
        phase = np.mod(values.astype(np.float64) + np.pi, 2 * np.pi) - np.pi
    else:
        raise ParameterError(f"{func}: expected complex samples or phase, got {values.dtype}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.4), layout="constrained")
    image = ax.imshow(phase, cmap="twilight", vmin=-np.pi, vmax=np.pi, interpolation="nearest")
    ax.set_title(str(name_or(interferogram, "interferogram")), fontsize=10)
    ax.set_axis_off()
    bar = fig.colorbar(
        image, ax=ax, shrink=0.85, label="wrapped phase (rad)", ticks=[-np.pi, 0, np.pi]
    )
    bar.ax.set_yticklabels(["−π", "0", "π"])
    _finish(fig, path)
    return fig


def period_boxplot(
    table: Any,
    *,
    value: str = "dh_vis",
    by: Sequence[str] = ("reference", "secondary"),
    hue: str | None = "variant",
    units: str = "m",
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """Box plots of a gauge value per period (interferogram pair), one box per variant.

    *table* is tidy, e.g. :func:`sarcube.insar.gauge_table` (``dh_vis`` per
    gauge, pair and DEM variant) or a table of residuals at the gauges with
    the same columns. Periods are ordered by *by*; with *hue* each period has
    one box per value of that column, side by side. Returns the figure; with
    *path* it is also saved.

    Examples
    --------
    >>> import pandas as pd
    >>> from sarcube.plot import period_boxplot
    >>> table = pd.DataFrame({
    ...     "reference": ["2017-03-01"] * 4 + ["2017-03-13"] * 4,
    ...     "secondary": ["2017-03-13"] * 4 + ["2017-03-25"] * 4,
    ...     "variant": ["dem_a", "dem_b"] * 4,
    ...     "dh_vis": [0.1, 0.12, 0.2, 0.18, -0.05, -0.04, 0.0, 0.01],
    ... })
    >>> figure = period_boxplot(table)
    >>> [t.get_text() for t in figure.axes[0].get_xticklabels()]
    ['2017-03-01 → 2017-03-13', '2017-03-13 → 2017-03-25']
    """
    import pandas as pd

    func = "period_boxplot"
    if not isinstance(table, pd.DataFrame):
        raise ParameterError(
            f"{func}: table must be a pandas DataFrame, got {type(table).__name__}"
        )
    needed = [value, *by, *([hue] if hue else [])]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ParameterError(
            f"{func}: table lacks the columns {missing}; it has {list(table.columns)}"
        )
    frame = table[np.isfinite(pd.to_numeric(table[value], errors="coerce"))]
    periods = sorted({tuple(str(v)[:10] for v in row) for row in frame[list(by)].to_numpy()})
    groups = sorted(map(str, frame[hue].unique())) if hue else [""]
    plt = _pyplot()
    fig, ax = plt.subplots(
        figsize=(max(5.0, 1.6 * len(periods) * max(1, len(groups))), 4.2), layout="constrained"
    )
    width = 0.8 / len(groups)
    colours = plt.get_cmap("tab10")
    keys = frame[list(by)].astype(str).map(lambda v: v[:10]).apply(tuple, axis=1)
    for g, group in enumerate(groups):
        data = []
        for period in periods:
            rows = keys == period
            if hue:
                rows &= frame[hue].astype(str) == group
            data.append(frame.loc[rows, value].to_numpy(dtype=float))
        positions = np.arange(len(periods)) + (g - (len(groups) - 1) / 2) * width
        boxes = ax.boxplot(
            data, positions=positions, widths=width * 0.9, patch_artist=True, manage_ticks=False
        )
        for patch in boxes["boxes"]:
            patch.set_facecolor(colours(g % 10))
            patch.set_alpha(0.7)
        if hue:
            boxes["boxes"][0].set_label(group)
    ax.set_xticks(np.arange(len(periods)), [" → ".join(p) for p in periods], rotation=20)
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_ylabel(f"{value} ({units})" if units else value)
    if hue:
        ax.legend(title=hue, fontsize=8)
    _finish(fig, path)
    return fig
