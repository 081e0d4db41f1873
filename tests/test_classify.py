"""False-colour composites."""

from __future__ import annotations

import numpy as np
import pytest

import sarcube
from sarcube.errors import BandNotFoundError, DTypeError, ParameterError

from conftest import raise_if_dask_computes, random_cube


def test_sar_rgb_stretch_and_chunking() -> None:
    cube = sarcube.synthetic.make_scene((96, 80), seed=2).cube
    eager = sarcube.sar_rgb(cube)
    with raise_if_dask_computes():
        lazy = sarcube.sar_rgb(cube.chunk({"time": 1, "y": 13, "x": 17}))
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert eager.dims == ("rgb", "time", "y", "x") and eager.dtype == np.float32
    assert list(eager["rgb"].values) == ["r", "g", "b"]
    np.testing.assert_array_equal(np.isnan(eager.values[0]), np.isnan(cube["vv"].values))
    # the red channel is VV in dB stretched between its 2nd and 98th percentiles
    db = 10 * np.log10(cube["vv"].values)
    p2, p98 = np.nanpercentile(db, [2, 98])
    width = 70 / 1024  # histogram bin width, dB
    expected = np.clip((db - p2) / (p98 - p2), 0, 1)
    np.testing.assert_allclose(eager.values[0], expected, atol=2 * width / (p98 - p2))
    red = eager.values[0][np.isfinite(eager.values[0])]
    assert 0.015 < (red == 0).mean() < 0.025 and 0.015 < (red == 1).mean() < 0.025


def test_sar_rgb_errors() -> None:
    cube = random_cube()
    with pytest.raises(BandNotFoundError, match="VV\\+VH"):
        sarcube.sar_rgb(cube[["vv"]])
    with pytest.raises(DTypeError):
        sarcube.sar_rgb(cube["vv"])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="percentiles"):
        sarcube.sar_rgb(cube, percentiles=(90, 10))


def test_kmeans_sample_fit_lazy_predict() -> None:
    scene = sarcube.synthetic.make_scene((96, 80), seed=1, looks=float("inf"))
    cube = scene.cube
    eager = sarcube.kmeans(cube, n_clusters=4, sample=5000)
    with raise_if_dask_computes():
        lazy = sarcube.kmeans(cube.chunk({"time": 1, "y": 17, "x": 23}), n_clusters=4, sample=5000)
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert eager.dtype == np.uint8 and eager.dims == ("time", "y", "x")
    np.testing.assert_array_equal(eager.values == 255, np.isnan(cube["vv"].values))
    # without speckle, the darkest cluster is open water (permanent water and flood)
    dark = eager.values[0] == 0
    water = scene.landcover.values == 0
    assert (dark & water).sum() / water.sum() > 0.9
    assert eager.attrs["flag_values"] == [0, 1, 2, 3, 255]


def test_kmeans_errors() -> None:
    cube = random_cube()
    with pytest.raises(BandNotFoundError, match="available"):
        sarcube.kmeans(cube, n_clusters=3, features=["hh"])
    with pytest.raises(ParameterError, match="n_clusters"):
        sarcube.kmeans(cube, n_clusters=1)
    with pytest.raises(ParameterError, match="sample"):
        sarcube.kmeans(cube, n_clusters=3, sample=2)
    with pytest.raises(DTypeError):
        sarcube.kmeans(cube["vv"], n_clusters=3)  # type: ignore[arg-type]
