"""False-colour composites, k-means and superpixels."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube.errors import BandNotFoundError, DimensionError, DTypeError, ParameterError

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


def test_sar_rgb_full_range_stretches_from_the_data_minimum() -> None:
    cube = sarcube.synthetic.make_scene((96, 80), seed=2).cube
    rgb = sarcube.sar_rgb(cube, percentiles=(0, 100))
    db = 10 * np.log10(cube["vv"].values)
    lo, hi = np.nanmin(db), np.nanmax(db)
    width = 70 / 1024  # histogram bin width, dB: the data's extremes within one bin
    expected = np.clip((db - lo) / (hi - lo), 0, 1)
    np.testing.assert_allclose(rgb.values[0], expected, atol=2 * width / (hi - lo))
    assert np.nanmin(rgb.values[0]) < 0.01 and np.nanmax(rgb.values[0]) > 0.99


def test_sar_rgb_linear_minmax_like_the_alos_tutorial() -> None:
    cube = sarcube.synthetic.make_scene((96, 80), seed=2).cube.isel(time=0)
    eager = sarcube.sar_rgb(cube, db=False, stretch="minmax")
    with raise_if_dask_computes():
        lazy = sarcube.sar_rgb(cube.chunk({"y": 13, "x": 17}), db=False, stretch="minmax")
    np.testing.assert_array_equal(lazy.values, eager.values)
    co, cross = cube["vv"].values, cube["vh"].values
    for channel, values in zip(eager.values, (co, cross, co / cross), strict=True):
        lo, hi = np.nanmin(values), np.nanmax(values)
        np.testing.assert_allclose(channel, (values - lo) / (hi - lo), atol=1e-6)
    assert eager.attrs["long_name"] == "VV, VH, VV/VH" and eager.attrs["stretch"] == "minmax"
    db = sarcube.sar_rgb(cube, stretch="minmax")  # dB channels, exact extremes
    assert np.nanmin(db.values[0]) == 0 and np.nanmax(db.values[0]) == 1
    with pytest.raises(ParameterError, match="stretch='minmax' with db=False"):
        sarcube.sar_rgb(cube, db=False)
    with pytest.raises(sarcube.errors.UnitsError, match="to_linear"):
        sarcube.sar_rgb(sarcube.to_db(cube), db=False, stretch="minmax")


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


def _superpixel_scene() -> xr.Dataset:
    cube = sarcube.synthetic.make_scene((150, 130), seed=4).cube.isel(time=0)
    cube["vv"][0, :7] = np.nan
    return cube


@pytest.mark.parametrize("chunks", [{"y": 29, "x": 41}, {"y": 150, "x": 13}])
def test_superpixels_chunk_invariant_and_exact(chunks: dict[str, int]) -> None:
    from skimage.segmentation import felzenszwalb

    cube = _superpixel_scene()
    eager = sarcube.superpixels(cube, scale=150, tile_size=64)
    with raise_if_dask_computes():
        lazy = sarcube.superpixels(cube.chunk(chunks), scale=150, tile_size=64)
    xr.testing.assert_identical(lazy.compute(), eager)
    seg = eager["segment"].values
    assert (seg[0, :7] == -1).all() and np.isnan(eager["vh_mean"].values[0, :7]).all()
    # segments never cross the 64-pixel tile borders and ids are unique per tile
    for axis in (0, 1):
        a = np.take(seg, np.arange(63, seg.shape[axis] - 1, 64), axis=axis)
        b = np.take(seg, np.arange(64, seg.shape[axis], 64), axis=axis)
        assert not ((a == b) & (a >= 0)).any()
    # one tile equals scikit-image's segmentation of that tile (ids up to a relabelling)
    db = np.stack([10 * np.log10(cube[b].values[64:128, 64:128]) for b in ("vv", "vh")], -1)
    reference = felzenszwalb(
        db.astype(np.float64), scale=150, sigma=0.8, min_size=20, channel_axis=-1
    )
    ours = seg[64:128, 64:128]
    pairs = set(zip(ours.ravel().tolist(), reference.ravel().tolist(), strict=True))
    assert len(pairs) == len(np.unique(ours)) == len(np.unique(reference))
    # features: mean and std of each band (dB) over the pixel's segment
    vh = 10 * np.log10(cube["vh"].values.astype(np.float64))
    for label in np.unique(seg)[1:40]:
        where = seg == label
        np.testing.assert_allclose(eager["vh_mean"].values[where], vh[where].mean(), rtol=1e-5)
        np.testing.assert_allclose(
            eager["vh_std"].values[where], vh[where].std(), rtol=1e-4, atol=1e-5
        )
    assert eager["vh_mean"].attrs["units"] == "dB" and "spatial_ref" in eager.coords


def test_superpixels_errors() -> None:
    cube = _superpixel_scene()
    with pytest.raises(DimensionError, match="isel"):
        sarcube.superpixels(sarcube.synthetic.make_scene((32, 32)).cube)
    with pytest.raises(ParameterError, match="method"):
        sarcube.superpixels(cube, method="slic")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="tile_size"):
        sarcube.superpixels(cube, tile_size=4)
    with pytest.raises(ParameterError, match="scale"):
        sarcube.superpixels(cube, scale=-1)
    with pytest.raises(ParameterError, match="min_size"):
        sarcube.superpixels(cube, min_size=0)
    single = sarcube.superpixels(cube["vv"], tile_size=64)
    assert sorted(single.data_vars) == ["segment", "vv_mean", "vv_std"]


def test_the_old_scale_keyword_of_sar_rgb_still_works_with_a_deprecation_warning() -> None:
    cube = sarcube.synthetic.make_scene((32, 32), seed=3).cube.isel(time=0)
    expected = sarcube.sar_rgb(cube, db=False, stretch="minmax")
    with pytest.warns(DeprecationWarning, match=r"sar_rgb: scale= is renamed db=.*db=False"):
        old = sarcube.sar_rgb(cube, scale="linear", stretch="minmax")
    xr.testing.assert_identical(old, expected)


def test_segment_table_matches_a_pandas_groupby() -> None:
    cube = _superpixel_scene()
    sp = sarcube.superpixels(cube, scale=150, tile_size=64)
    table = sarcube.segment_table(sp)
    frame = sp.to_dataframe().reset_index()
    frame = frame[frame["segment"] >= 0]
    grouped = frame.groupby("segment")
    np.testing.assert_array_equal(table["segment"].values, np.array(sorted(grouped.groups)))
    np.testing.assert_array_equal(table["n_pixels"].values, grouped.size().values)
    np.testing.assert_allclose(table["centroid_y"].values, grouped["y"].mean().values)
    np.testing.assert_allclose(table["centroid_x"].values, grouped["x"].mean().values)
    for name in ("vv_mean", "vh_mean", "vv_std", "vh_std"):
        np.testing.assert_array_equal(table[name].values, grouped[name].first().values)
        assert (grouped[name].nunique() == 1).all()  # constant over each segment
    assert int(table["n_pixels"].sum()) == int((sp["segment"] >= 0).sum())
    assert table["vv_mean"].attrs["units"] == "dB" and "spatial_ref" in table.coords


@pytest.mark.parametrize("chunks", [None, {"y": 29, "x": 41}])
def test_segment_kmeans_clusters_the_segments(chunks: dict[str, int] | None) -> None:
    from sklearn.cluster import KMeans

    cube = _superpixel_scene()
    sp = sarcube.superpixels(
        cube if chunks is None else cube.chunk(chunks), scale=150, tile_size=64
    )
    classes = sarcube.segment_kmeans(sp, n_clusters=3, seed=1).compute()
    seg = sp["segment"].values
    assert classes.dtype == np.uint8 and (classes.values[seg == -1] == 255).all()
    # one class per segment, as scikit-learn assigns the table's rows (ordered by centre)
    table = sarcube.segment_table(sp)
    rows = np.stack([table["vv_mean"].values, table["vh_mean"].values], 1).astype(np.float64)
    model = KMeans(n_clusters=3, n_init=4, random_state=1).fit(rows)
    order = np.argsort(np.argsort(model.cluster_centers_[:, 0]))
    expected = order[model.labels_]
    for i, label in enumerate(table["segment"].values):
        assert (classes.values[seg == label] == expected[i]).all()
    eager = sarcube.segment_kmeans(
        sarcube.superpixels(cube, scale=150, tile_size=64), n_clusters=3, seed=1
    )
    xr.testing.assert_identical(classes, eager)


def test_segment_functions_refuse_other_input() -> None:
    cube = _superpixel_scene()
    sp = sarcube.superpixels(cube, scale=150, tile_size=64)
    with pytest.raises(sarcube.errors.DTypeError, match="superpixels returns"):
        sarcube.segment_table(cube)
    with pytest.raises(ParameterError, match=r"n_clusters must be an integer in 2\.\.254"):
        sarcube.segment_kmeans(sp, n_clusters=1)
    with pytest.raises(sarcube.errors.BandNotFoundError, match="available"):
        sarcube.segment_kmeans(sp, n_clusters=2, features=["hh_mean"])


def test_segment_functions_through_the_accessor() -> None:
    sp = sarcube.superpixels(_superpixel_scene(), scale=150, tile_size=64)
    xr.testing.assert_identical(sp.sar.segment_table(), sarcube.segment_table(sp))
    xr.testing.assert_identical(
        sp.sar.segment_kmeans(n_clusters=3), sarcube.segment_kmeans(sp, n_clusters=3)
    )
