"""Figures of backscatter: histograms with the clamps or a threshold, image panels."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from .._checks import check_xarray
from .._metadata import name_or
from .._reduce import bin_counts
from ..calibration import linear_to_db_array
from ..errors import DimensionError, ParameterError
from ._common import (
    NODATA_COLOUR,
    _finish,
    _grey,
    _legend,
    _pyplot,
)


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

    Examples
    --------
    >>> from sarcube.plot import clamp_histogram
    >>> vv = sarcube.synthetic.make_scene((64, 64), seed=1).cube["vv"].isel(time=-1)
    >>> ax = clamp_histogram(vv, clamp_stats(vv, clamps=[0.15, 0.3, 0.5]))
    >>> len(ax.lines), ax.get_xlabel()  # one line per clamp
    (3, 'vv backscatter, linear power')
    """
    plt = _pyplot()

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
    # One pass on fine log bins (-80 .. +40 dB), then the x-range from the
    # data's 0.1-99.9 percentiles (widened to show every clamp), re-binned.
    fine = np.geomspace(1e-8, 1e4, 12 * 100 + 1)  # 0.1 dB bins from -80 to +40 dB
    lazy = bin_counts(linear_to_db_array(band).data, -80.0, 40.0, fine.size - 1)
    fine_counts = np.asarray(lazy.compute() if isinstance(lazy, dsa.Array) else lazy)
    total = int(fine_counts.sum())
    if total:
        cumulative = np.cumsum(fine_counts) / total
        first = int(np.searchsorted(cumulative, 0.001))
        last = int(np.searchsorted(cumulative, 0.999)) + 1
    else:
        first, last = 0, fine.size - 1
    first = min(first, int(np.searchsorted(fine, clamps.min() / 1.5)))
    last = max(last, int(np.searchsorted(fine, clamps.max() * 1.5)))
    first, last = max(first - 2, 0), min(last + 2, fine.size - 1)
    group = max(1, -(-(last - first) // bins))
    last = min(first + group * -(-(last - first) // group), fine.size - 1)
    edges = fine[first : last + 1 : group]
    if edges[-1] != fine[last]:
        edges = np.r_[edges, fine[last]]
    counts = np.add.reduceat(fine_counts[first:last], np.arange(0, last - first, group))

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.stairs(counts, edges, fill=True, alpha=0.6, label=f"{name_or(band, 'band')}")
    ax.set_xscale("log")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(f"{name_or(band, 'band')} backscatter, linear power")
    top = ax.secondary_xaxis("top")  # the same positions, labelled in dB
    low_db, high_db = 10 * np.log10(edges[0]), 10 * np.log10(edges[-1])
    step = 5 if high_db - low_db <= 45 else 10
    ticks_db = np.arange(np.ceil(low_db / step) * step, high_db + 1e-9, step)
    top.set_xticks(10 ** (ticks_db / 10), [f"{d:g}" for d in ticks_db])
    top.minorticks_off()
    top.set_xlabel("dB")
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
    ax.set_title(f"{str(name_or(band, 'band')).upper()}: clamp cut-offs and clipped fractions")
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

    Examples
    --------
    >>> from sarcube.plot import image_panels
    >>> vv = sarcube.synthetic.make_scene((64, 64), seed=1).cube["vv"].isel(time=-1)
    >>> figure = image_panels({"raw": vv, "Lee 5x5": lee_filter(vv, size=5)})
    >>> [ax.get_title() for ax in figure.axes][:2]  # and a colourbar in dB
    ['raw', 'Lee 5x5']
    """
    plt = _pyplot()

    from ..calibration import to_db

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
        arrays[name] = np.asarray((to_db(da) if db else da).values, dtype=np.float64)
    first = next(iter(arrays.values()))
    first_units = next(iter(images.values())).attrs.get("units", "")
    lo, hi = np.nanpercentile(first, [2, 98])
    fig, axes = plt.subplots(1, len(arrays), figsize=(4 * len(arrays), 4.4), layout="constrained")
    for ax, (name, img) in zip(np.atleast_1d(axes), arrays.items(), strict=True):
        shown = ax.imshow(img, cmap=_grey(), vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    fig.colorbar(shown, ax=axes, shrink=0.8, label="dB" if db else str(first_units))
    if any(np.isnan(img).any() for img in arrays.values()):
        _legend(fig, [("nodata", NODATA_COLOUR)])
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=90)
        plt.close(fig)
    return fig


def threshold_histogram(
    result: xr.Dataset,
    *,
    image: xr.DataArray | None = None,
    ax: Any = None,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """The histogram a threshold came from, with the chosen threshold (**computes**).

    *result* is the output of :func:`sarcube.threshold` (for ``"tiled"``, its
    histogram pools the kept tiles). With *image*, the histogram of the whole
    image is drawn behind it on the same bins. Returns the ``Axes``; with
    *path* the figure is also saved.

    Examples
    --------
    >>> from sarcube.plot import threshold_histogram
    >>> vv = sarcube.synthetic.make_scene((64, 64), seed=1).cube["vv"].isel(time=-1)
    >>> ax = threshold_histogram(threshold(to_db(vv), method="otsu"))
    >>> ax.get_legend() is not None
    True
    """
    plt = _pyplot()
    from ..thresholds import histogram

    check_xarray(result, "threshold_histogram")
    if "threshold" not in result or "histogram" not in result:
        raise ParameterError("threshold_histogram: pass the Dataset returned by sarcube.threshold")
    result = result.compute()
    hist = result["histogram"]
    edges = np.r_[hist["bin_lower"].values, hist["bin_upper"].values[-1]]
    value = float(result["threshold"])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    method = result.attrs.get("method", "")
    if image is not None:
        whole = histogram(image, bins=hist.size, range=(edges[0], edges[-1])).values
        ax.stairs(whole, edges, fill=True, alpha=0.35, color="0.5", label="whole image")
    if float(hist.sum()) > 0:
        label = "kept tiles" if method == "tiled" else "histogram"
        ax.stairs(hist.values, edges, fill=True, alpha=0.6, color="C0", label=label)
    units = result["threshold"].attrs.get("units", "")
    note = " (fallback: no bimodal tile)" if bool(result.get("fallback", False)) else ""
    ax.axvline(value, color="C3", linewidth=1.5, label=f"{method} threshold {value:.4g} {units}")
    occupied = np.flatnonzero(hist.values > 0) if float(hist.sum()) > 0 else np.arange(hist.size)
    ax.set_xlim(edges[max(occupied[0] - 2, 0)], edges[min(occupied[-1] + 3, hist.size)])
    ax.set_xlabel(f"value {units}".strip())
    ax.set_ylabel("pixels")
    ax.set_title(f"{method} threshold{note}")
    ax.legend(fontsize=8)
    _finish(ax.figure, path)
    return ax
