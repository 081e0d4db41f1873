"""Figures: each one is drawn from the data it is given and saved as a PNG."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import xarray as xr
from PIL import Image

import sarcube
from sarcube import plot
from sarcube.errors import DimensionError, GridMismatchError, ParameterError

matplotlib.use("Agg")


def _maps() -> tuple[xr.DataArray, dict[str, xr.DataArray]]:
    scene = sarcube.synthetic.make_scene((60, 50), seed=1)
    post = scene.cube["vv"].isel(time=-1)
    db = sarcube.to_db(post)
    a = xr.where(db < -15, 1, 0).where(db.notnull(), 255).astype(np.uint8)
    b = xr.where(db < -17, 1, 0).where(db.notnull(), 255).astype(np.uint8)
    return post, {"dark < -15 dB": a, "dark < -17 dB": b}


def _png(path: Path) -> np.ndarray:
    image = np.asarray(Image.open(path))
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return image


def test_threshold_histogram(tmp_path: Path) -> None:
    post, _ = _maps()
    db = sarcube.to_db(post).chunk({"y": 20})
    result = sarcube.threshold(db, method="tiled", tile_sizes=(32, 16))
    ax = plot.threshold_histogram(result, image=db, path=tmp_path / "h.png")
    value = float(result["threshold"])
    assert any(np.allclose(line.get_xdata(), value) for line in ax.get_lines())
    assert "tiled" in ax.get_title()
    _png(tmp_path / "h.png")
    with pytest.raises(ParameterError, match=r"sarcube\.threshold"):
        plot.threshold_histogram(xr.Dataset({"a": 1}))


def test_comparison_grid_and_difference_maps(tmp_path: Path) -> None:
    post, maps = _maps()
    fig = plot.comparison_grid(
        post, maps, titles={"dark < -15 dB": "IoU 0.5"}, path=tmp_path / "g.png"
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["vv (dB)", "dark < -15 dB\nIoU 0.5", "dark < -17 dB"]
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[:3] == ["no flood", "flood", "nodata"]
    grid = _png(tmp_path / "g.png")
    # the flood colour is present in the saved figure
    assert (np.abs(grid[..., :3].astype(int) - (31, 99, 199)).sum(-1) < 30).any()
    fig = plot.difference_maps(maps, path=tmp_path / "d.png")
    a, b = (m.values for m in maps.values())
    only_a = 100 * ((a == 1) & (b == 0)).sum() / ((a != 255) & (b != 255)).sum()
    assert f"{only_a:.1f}%" in fig.axes[0].get_title()
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert "flood only in dark < -15 dB" in labels and "nodata in either" in labels
    _png(tmp_path / "d.png")
    # three-class maps (0 no water, 1 permanent water, 2 flood): the flood class is chosen
    three = {name: m.where(m != 1, 2).where(m != 0, 1) for name, m in maps.items()}
    fig = plot.difference_maps(three, flood_class=2)
    assert f"{only_a:.1f}%" in fig.axes[0].get_title()  # the same disagreement as above
    with pytest.raises(ParameterError, match="nodata value"):
        plot.difference_maps(three, flood_class=255)
    with pytest.raises(GridMismatchError):
        plot.comparison_grid(post, {"x": maps["dark < -15 dB"].isel(x=slice(0, 10))})
    with pytest.raises(DimensionError, match="isel"):
        plot.comparison_grid(post, {"x": maps["dark < -15 dB"].expand_dims(band=2)})
    with pytest.raises(ParameterError, match="no map named"):
        plot.difference_maps(maps, pairs=[("dark < -15 dB", "nope")])


def test_agreement_heatmap(tmp_path: Path) -> None:
    _, maps = _maps()
    agreement = sarcube.agreement_matrix(maps)
    ax = plot.agreement_heatmap(agreement, path=tmp_path / "a.png")
    texts = sorted(t.get_text() for t in ax.texts)
    off = float(agreement.values[0, 1])
    assert texts == sorted(["1.000", "1.000", f"{off:.3f}", f"{off:.3f}"])
    _png(tmp_path / "a.png")
    with pytest.raises(DimensionError):
        plot.agreement_heatmap(agreement.rename(map_a="x"))


def test_clamp_histogram_and_image_panels(tmp_path: Path) -> None:
    post, _ = _maps()
    stats = sarcube.clamp_stats(post.to_dataset(), clamps=[0.1, 0.5], dims=("y", "x"))
    ax = plot.clamp_histogram(post, stats, path=tmp_path / "c.png")
    assert len([t for t in ax.texts if "clipped" in t.get_text()]) == 2
    # the x-range follows the data (0.1-99.9 percentiles, every clamp shown), with a dB axis
    valid = post.values[np.isfinite(post.values)]
    lo, hi = ax.get_xlim()
    assert np.quantile(valid, 0.001) / 1.3 < lo <= np.quantile(valid, 0.001)
    assert max(np.quantile(valid, 0.999), 0.5) <= hi < 0.5 * 1.6 * 1.3
    (top,) = ax.child_axes
    assert top.get_xlabel() == "dB" and all(t.get_text() for t in top.get_xticklabels())
    fig = plot.image_panels({"a": post, "b": post}, path=tmp_path / "p.png")
    assert [a.get_title() for a in fig.axes[:2]] == ["a", "b"]
    assert fig.axes[-1].get_ylabel() == "dB"  # the colour bar says its units
    # nodata has its own colour (not white like bright backscatter) and a legend entry
    assert post.isnull().any()
    assert fig.axes[0].images[0].get_cmap().get_bad()[:3] == pytest.approx(plot.NODATA_COLOUR)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["nodata"]
    _png(tmp_path / "c.png")
    _png(tmp_path / "p.png")


def test_figures_keep_a_chosen_backend() -> None:
    # scripts get the file backend (Agg); a notebook's inline backend (its kernel
    # sets MPLBACKEND) or a backend the user chose is kept
    import os
    import subprocess
    import sys

    code = (
        "import sarcube, matplotlib; from sarcube.plot import _common; _common._pyplot(); "
        "print(matplotlib.get_backend().lower())"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.stdout.strip() == "agg", run.stderr
    svg = {**env, "MPLBACKEND": "svg"}
    run = subprocess.run([sys.executable, "-c", code], env=svg, capture_output=True, text=True)
    assert run.stdout.strip() == "svg", run.stderr


def test_displacement_panels_share_one_scale_centred_on_zero(tmp_path: Path) -> None:
    y, x = np.mgrid[0:300, 0:200]
    bowl = -0.02 * np.exp(-((y - 150) ** 2 + (x - 100) ** 2) / 2000.0)
    first = xr.DataArray(bowl, dims=("y", "x"), attrs={"units": "m"})
    second = (2 * first).where(x < 150).assign_attrs(units="m")  # nodata on the right
    fig = plot.displacement_panels(
        {"pair 1": first, "pair 2": second}, max_pixels=100, path=tmp_path / "d.png"
    )
    images = [ax.images[0] for ax in fig.axes[:2]]
    limits = {im.get_clim() for im in images}
    assert len(limits) == 1  # one colour scale for every pair
    lo, hi = limits.pop()
    assert lo == -hi and hi == pytest.approx(
        np.percentile(np.abs(np.r_[bowl, 2 * bowl][::3, ::3]), 98), rel=0.05
    )
    assert images[0].get_array().shape == (100, 67)  # read with a stride of 3
    assert images[1].get_cmap().get_bad()[:3] == pytest.approx(plot.NODATA_COLOUR)
    assert fig.axes[-1].get_ylabel() == "displacement (m)"
    _png(tmp_path / "d.png")
    with pytest.raises(ParameterError, match="different units"):
        plot.displacement_panels({"a": first, "b": first.assign_attrs(units="cm")})
    with pytest.raises(DimensionError, match="2-D map"):
        plot.displacement_panels({"a": first.expand_dims(time=2)})


def test_fringes_wrap_the_phase(tmp_path: Path) -> None:
    x = np.arange(64.0)[None, :].repeat(16, axis=0)
    unwrapped = xr.DataArray(0.5 * x, dims=("y", "x"), name="ramp")
    fig = plot.fringes(unwrapped, path=tmp_path / "f.png")
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(np.exp(1j * shown), np.exp(1j * 0.5 * x), atol=1e-12)
    assert shown.min() >= -np.pi and shown.max() < np.pi
    complex_fig = plot.fringes(np.exp(1j * unwrapped))
    np.testing.assert_allclose(complex_fig.axes[0].images[0].get_array(), shown, atol=1e-12)
    assert fig.axes[-1].get_ylabel() == "wrapped phase (rad)"
    _png(tmp_path / "f.png")


def test_period_boxplot_draws_one_box_per_period_and_variant(tmp_path: Path) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    gauges = [f"g{i}" for i in range(8)]
    dates = pd.to_datetime(["2017-03-01", "2017-03-13", "2017-03-25"])
    levels = pd.DataFrame(
        [(g, d, 10 + rng.normal()) for g in gauges for d in dates],
        columns=["gauge", "time", "level"],
    )
    ground = pd.DataFrame(
        {"dem_a": rng.uniform(9, 11, 8), "dem_b": rng.uniform(9, 11, 8)}, index=gauges
    )
    table = sarcube.insar.gauge_table(levels, ground, list(itertools.pairwise(dates)))
    fig = plot.period_boxplot(table, path=tmp_path / "b.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "2017-03-01 → 2017-03-13",
        "2017-03-13 → 2017-03-25",
    ]
    assert len(ax.patches) == 4  # 2 periods × 2 variants
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dem_a", "dem_b"]
    assert ax.get_ylabel() == "dh_vis (m)"
    _png(tmp_path / "b.png")
    with pytest.raises(ParameterError, match=r"lacks the columns \['residual'\]"):
        plot.period_boxplot(table, value="residual")
