"""Figures. Needs matplotlib (``pip install sarcube[plot]``).

Plot functions **compute** what they draw (a histogram, a few numbers); they
never load a whole cube: histograms come from one lazy pass with fixed bins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from ._checks import check_xarray
from .errors import DimensionError, ParameterError

__all__ = ["clamp_histogram", "image_panels"]


def _histogram(values: xr.DataArray, edges: np.ndarray) -> np.ndarray:
    data = values.data
    if isinstance(data, dsa.Array):
        counts, _ = dsa.histogram(dsa.ravel(data), bins=edges)
        return np.asarray(counts.compute())
    counts, _ = np.histogram(np.asarray(data).ravel(), bins=edges)
    return counts


def clamp_histogram(
    band: xr.DataArray,
    stats: xr.Dataset,
    *,
    bins: int = 120,
    ax: Any = None,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """Histogram of a linear-power band on a log axis, with the clamp cut-offs.

    Each clamp from *stats* (the output of :func:`sarcube.clamp_stats`, reduced
    to ``band``/``clamp`` only) is drawn as a vertical line labelled with the
    fraction of valid pixels it clips. Computes the histogram (one pass).

    Returns the matplotlib ``Axes``; with *path* the figure is also saved.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    check_xarray(band, "clamp_histogram")
    if bins < 2:
        raise ParameterError(f"clamp_histogram: bins must be >= 2, got {bins}")
    sel = stats
    if "band" in stats.dims:
        if band.name not in stats["band"].values:
            raise ParameterError(
                f"clamp_histogram: band {band.name!r} not in the statistics "
                f"({list(stats['band'].values)}); pass the matching band"
            )
        sel = stats.sel(band=band.name)
    extra = [d for d in sel["clipped_fraction"].dims if d != "clamp"]
    if extra:
        raise DimensionError(
            f"clamp_histogram: statistics still have dims {extra}; compute them with "
            "clamp_stats(cube, dims=('time', 'y', 'x'))"
        )
    clamps = np.asarray(sel["clamp"].values, dtype=float)
    clipped = np.asarray(sel["clipped_fraction"].values, dtype=float)
    lo, hi = 1e-5, max(10.0, float(clamps.max()) * 4)
    edges = np.geomspace(lo, hi, bins + 1)
    counts = _histogram(band, edges)

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.stairs(counts, edges, fill=True, alpha=0.6, label=f"{band.name or 'band'}")
    ax.set_xscale("log")
    ax.set_xlabel(f"{band.name or 'band'} backscatter, linear power")
    ax.set_ylabel("pixels")
    for c, f in zip(clamps, clipped, strict=True):
        ax.axvline(c, color="C3", linestyle="--", linewidth=1)
        ax.annotate(
            f"{c:g}: {100 * f:.2f}% clipped",
            (c, 0.95),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=8,
        )
    ax.set_title(f"{str(band.name or 'band').upper()}: clamp cut-offs and clipped fractions")
    if path is not None:
        ax.figure.savefig(path, dpi=110)
        plt.close(ax.figure)
    return ax


def image_panels(
    images: Mapping[str, xr.DataArray],
    *,
    db: bool = True,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """Show 2-D images side by side on one grey scale (e.g. before/after despeckling).

    Each image is computed (they are meant to be small, or subsets). With
    ``db=True`` linear power is shown in dB. The grey scale spans the 2nd–98th
    percentiles of the first image. Returns the figure; with *path* it is also
    saved.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .calibration import to_db

    if not images:
        raise ParameterError("image_panels: no images given")
    arrays = {}
    for name, da in images.items():
        check_xarray(da, "image_panels")
        if da.ndim != 2:
            raise DimensionError(
                f"image_panels: image {name!r} has dims {da.dims}; select one 2-D image, "
                "e.g. da.isel(time=-1)"
            )
        arrays[name] = np.asarray((to_db(da) if db else da).values)
    first = next(iter(arrays.values()))
    lo, hi = np.nanpercentile(first, [2, 98])
    fig, axes = plt.subplots(1, len(arrays), figsize=(4 * len(arrays), 4.4), layout="constrained")
    for ax, (name, img) in zip(np.atleast_1d(axes), arrays.items(), strict=True):
        shown = ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    fig.colorbar(shown, ax=axes, shrink=0.8, label="dB" if db else "")
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=90)
        plt.close(fig)
    return fig
