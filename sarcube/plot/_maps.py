"""Figures comparing class maps: side by side, agreement, differences."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_int, check_xarray
from .._metadata import name_or
from ..conventions import NODATA
from ..errors import DimensionError, GridMismatchError, ParameterError
from ._common import (
    _MAP_COLOURS,
    _MAP_LABELS,
    NODATA_COLOUR,
    _class_colour,
    _class_image,
    _finish,
    _grey,
    _legend,
    _map_rgb,
    _pyplot,
)


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
    from ..calibration import to_db

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
