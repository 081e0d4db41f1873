"""Figures. Needs matplotlib (``pip install sarcube[plot]``).

Plot functions **compute** what they draw (a histogram, a few numbers); they
never load a whole cube: histograms come from one lazy pass with fixed bins.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr

from ._checks import check_int, check_xarray
from ._metadata import name_or
from .conventions import NODATA
from .errors import DimensionError, GridMismatchError, ParameterError

__all__ = [
    "accuracy_vs_density",
    "agreement_heatmap",
    "clamp_histogram",
    "comparison_grid",
    "difference_maps",
    "displacement_panels",
    "fringes",
    "image_panels",
    "period_boxplot",
    "threshold_histogram",
]


def _pyplot() -> Any:
    from ._extras import require

    matplotlib = require("matplotlib", "sarcube's figures")

    if "matplotlib.pyplot" not in sys.modules and "MPLBACKEND" not in os.environ:
        # scripts and servers draw to files; a notebook (its kernel sets
        # MPLBACKEND to the inline backend) or a user who chose a backend keeps it
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: Any, path: str | os.PathLike[str] | None, dpi: int = 100) -> None:
    if path is not None:
        fig.savefig(path, dpi=dpi)
        _pyplot().close(fig)


def _class_image(da: xr.DataArray, name: str, func: str) -> np.ndarray:
    check_xarray(da, func)
    if da.ndim != 2:
        raise DimensionError(
            f"{func}: map {name!r} has dims {da.dims}; select one 2-D map, e.g. m.isel(time=-1)"
        )
    return np.asarray(da.values)


#: Colours of flood-map classes: 0 no flood, 1 flood, 255 nodata.
_MAP_COLOURS = {0: (0.93, 0.91, 0.85), 1: (0.12, 0.39, 0.78), NODATA: (0.55, 0.55, 0.55)}


#: Colour of nodata (NaN) in grey-scale images: distinct from dark and bright backscatter.
NODATA_COLOUR = (0.85, 0.45, 0.75)
_MAP_LABELS = {0: "no flood", 1: "flood", NODATA: "nodata"}


def _legend(fig: Any, entries: Sequence[tuple[str, Any]], ncols: int | None = None) -> Any:
    """A figure legend of colour patches (label, colour) below the panels."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colour, edgecolor="0.3", label=label) for label, colour in entries]
    return fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=ncols or len(handles),
        fontsize=8,
        frameon=False,
    )


def _grey(nodata: bool = True) -> Any:
    """The grey colour map of backscatter images, NaN (nodata) in :data:`NODATA_COLOUR`."""
    from matplotlib import colormaps

    return colormaps["gray"].with_extremes(bad=NODATA_COLOUR if nodata else "white")


def _map_rgb(values: np.ndarray) -> np.ndarray:
    """RGB image of a 0/1/255 map; other classes in a qualitative colour each."""
    rgb = np.zeros((*values.shape, 3))
    for v in np.unique(values):
        rgb[values == v] = _class_colour(int(v))
    return rgb


def _class_colour(value: int) -> Any:
    """The colour of a map class: fixed for flood/no flood/nodata, else one of tab10."""
    from matplotlib import colormaps

    return _MAP_COLOURS.get(value, colormaps["tab10"](value % 10)[:3])


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
    fine = np.geomspace(1e-8, 1e4, 12 * 100 + 1)
    fine_counts = _histogram(band, fine)
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
    from .thresholds import histogram

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


def comparison_grid(
    reference: xr.DataArray,
    maps: Mapping[str, xr.DataArray],
    *,
    db: bool = True,
    titles: Mapping[str, str] | None = None,
    ncols: int = 4,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """A reference image (grey) next to N class maps (**computes**; meant for small maps).

    Maps use fixed colours: 0 (no flood) sand, 1 (flood) blue, 255 (nodata)
    grey. *titles* adds a line under a map's name, e.g. its IoU. Returns the
    figure; with *path* it is also saved.

    Examples
    --------
    >>> from sarcube.plot import comparison_grid
    >>> scene = sarcube.synthetic.make_scene((64, 64), seed=1)
    >>> pre, post = scene.cube["vv"].isel(time=0), scene.cube["vv"].isel(time=-1)
    >>> maps = {"flood_map": flood_map(pre, post), "truth": scene.flood.isel(time=-1)}
    >>> figure = comparison_grid(post, maps)
    >>> [ax.get_title() for ax in figure.axes], len(figure.legends)
    (['vv (dB)', 'flood_map', 'truth'], 1)
    """
    plt = _pyplot()
    from .calibration import to_db

    if not maps:
        raise ParameterError("comparison_grid: no maps given")
    ref = _class_image(to_db(reference) if db else reference, "reference", "comparison_grid")
    images = {name: _class_image(m, name, "comparison_grid") for name, m in maps.items()}
    for name, img in images.items():
        if img.shape != ref.shape:
            raise GridMismatchError(
                f"comparison_grid: map {name!r} has shape {img.shape}, the reference "
                f"{ref.shape}; compare maps on the reference grid"
            )
    n = 1 + len(images)
    cols = min(ncols, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 3.4 * rows), layout="constrained", squeeze=False
    )
    flat = axes.ravel()
    lo, hi = np.nanpercentile(ref, [2, 98]) if np.isfinite(ref).any() else (0, 1)
    flat[0].imshow(ref, cmap=_grey(), vmin=lo, vmax=hi, interpolation="nearest")
    flat[0].set_title(f"{name_or(reference, 'reference')}" + (" (dB)" if db else ""), fontsize=9)
    for ax, (name, img) in zip(flat[1:], images.items(), strict=False):
        ax.imshow(_map_rgb(img), interpolation="nearest")
        extra = (titles or {}).get(name)
        ax.set_title(name if extra is None else f"{name}\n{extra}", fontsize=9)
    for ax in flat:
        ax.set_axis_off()
    present = set(np.unique(np.concatenate([img.ravel() for img in images.values()])).tolist())
    entries = [(label, _MAP_COLOURS[v]) for v, label in _MAP_LABELS.items()]
    entries += [(f"class {v}", _class_colour(v)) for v in sorted(present - set(_MAP_LABELS))]
    if np.isnan(ref).any():
        entries.append(("nodata (image)", NODATA_COLOUR))
    _legend(fig, entries)
    _finish(fig, path)
    return fig


def agreement_heatmap(
    agreement: xr.DataArray,
    *,
    ax: Any = None,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """Heatmap of :func:`sarcube.agreement_matrix` with the values written in the cells.

    Examples
    --------
    >>> from sarcube.plot import agreement_heatmap
    >>> scene = sarcube.synthetic.make_scene((64, 64), seed=1)
    >>> pre, post = scene.cube["vv"].isel(time=0), scene.cube["vv"].isel(time=-1)
    >>> maps = {"flood_map": flood_map(pre, post), "truth": scene.flood.isel(time=-1)}
    >>> ax = agreement_heatmap(agreement_matrix(maps))
    >>> len(ax.texts)  # the value of each cell
    4
    """
    plt = _pyplot()
    check_xarray(agreement, "agreement_heatmap")
    if set(agreement.dims) != {"map_a", "map_b"}:
        raise DimensionError(
            f"agreement_heatmap: expected dims (map_a, map_b) from sarcube.agreement_matrix, "
            f"got {agreement.dims}"
        )
    values = np.asarray(agreement.transpose("map_a", "map_b").values, dtype=float)
    names = [str(v) for v in agreement["map_a"].values]
    if ax is None:
        size = 1.2 + 0.9 * len(names)
        _, ax = plt.subplots(figsize=(size + 1.2, size), layout="constrained")
    shown = ax.imshow(values, cmap="viridis", vmin=min(0.5, np.nanmin(values)), vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i, j in np.ndindex(values.shape):
        ax.text(j, i, f"{values[i, j]:.3f}", ha="center", va="center", fontsize=8, color="w")
    ax.figure.colorbar(shown, ax=ax, label="pixel agreement")
    ax.set_title("pairwise agreement")
    _finish(ax.figure, path)
    return ax


#: Colours of the difference categories: neither, only the first, only the second, both.
_DIFF_COLOURS = np.array(
    [(0.93, 0.91, 0.85), (0.85, 0.33, 0.1), (0.47, 0.67, 0.19), (0.12, 0.39, 0.78), (0.55,) * 3]
)


def difference_maps(
    maps: Mapping[str, xr.DataArray],
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    flood_class: int = 1,
    ncols: int = 3,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """Where pairs of flood maps disagree (**computes**; meant for small maps).

    Each panel colours the pixels flooded in both maps (blue), only in the
    first (orange), only in the second (green), in neither (sand) and nodata in
    either (grey); the title gives the share of valid pixels in each
    disagreement. *pairs* defaults to every pair. *flood_class* is the value
    that means flood: 1 in sarcube's maps, e.g. 2 in three-class maps (no
    water, permanent water, flood).

    Examples
    --------
    >>> from sarcube.plot import difference_maps
    >>> scene = sarcube.synthetic.make_scene((64, 64), seed=1)
    >>> pre, post = scene.cube["vv"].isel(time=0), scene.cube["vv"].isel(time=-1)
    >>> maps = {"flood_map": flood_map(pre, post), "truth": scene.flood.isel(time=-1)}
    >>> figure = difference_maps(maps)
    >>> print(figure.axes[0].get_title())
    flood_map vs truth
    only flood_map: 4.6%  only truth: 0.9%
    """
    flood_class = check_int(flood_class, "flood_class", "difference_maps", hint="the class value")
    if flood_class == NODATA:
        raise ParameterError(f"difference_maps: flood_class {NODATA} is the nodata value")
    plt = _pyplot()
    names = list(maps)
    if len(names) < 2:
        raise ParameterError("difference_maps: give at least two maps")
    chosen = list(pairs) if pairs is not None else list(itertools.combinations(names, 2))
    for a, b in chosen:
        for name in (a, b):
            if name not in maps:
                raise ParameterError(f"difference_maps: no map named {name!r}; have {names}")
    images = {name: _class_image(m, name, "difference_maps") for name, m in maps.items()}
    cols = min(ncols, len(chosen))
    rows = -(-len(chosen) // cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(max(3.4 * cols, 5.0), 3.6 * rows + 0.5),
        layout="constrained",
        squeeze=False,
    )
    for ax, (a, b) in zip(axes.ravel(), chosen, strict=False):
        if images[a].shape != images[b].shape:
            raise GridMismatchError(f"difference_maps: {a!r} and {b!r} differ in shape")
        ia, ib = images[a] == flood_class, images[b] == flood_class
        nodata = (images[a] == NODATA) | (images[b] == NODATA)
        category = np.where(nodata, 4, ia.astype(int) + 2 * ib.astype(int))
        ax.imshow(_DIFF_COLOURS[category], interpolation="nearest")
        valid = max(int((~nodata).sum()), 1)
        only_a = 100 * int((category == 1).sum()) / valid
        only_b = 100 * int((category == 2).sum()) / valid
        ax.set_title(f"{a} vs {b}\nonly {a}: {only_a:.1f}%  only {b}: {only_b:.1f}%", fontsize=8)
    for ax in axes.ravel():
        ax.set_axis_off()
    first, second = chosen[0] if len(chosen) == 1 else ("the first", "the second")
    labels = ["flood in neither", f"flood only in {first}", f"flood only in {second}"]
    labels += ["flood in both", "nodata in either"]
    _legend(fig, list(zip(labels, _DIFF_COLOURS, strict=True)), ncols={1: 2, 2: 3}.get(cols, 5))
    _finish(fig, path)
    return fig


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
