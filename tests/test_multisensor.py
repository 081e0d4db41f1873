"""Multi-sensor stacks: co-registration onto the SAR grid, features, priors, 3-class scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import odc.geo.xr  # noqa: F401 - .odc accessor
import pytest
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_zeros
from pyproj import Transformer

import sarcube
import sarcube.ml
from sarcube._checks import nodata_of
from sarcube.errors import (
    BandNotFoundError,
    DimensionError,
    GridMismatchError,
    InputNotFoundError,
    ParameterError,
    UnitsError,
)
from sarcube.infer import feature_stack
from sarcube.multisensor import (
    ALOS_CHANNELS,
    apply_water_prior,
    coregister,
    sar_features,
    three_class_metrics,
)

from conftest import raise_if_dask_computes

SHAPE = (96, 80)  # SAR grid: 20 m pixels in UTM 33N
SRC = (70, 90)  # source grid in EPSG:4326


def _sar(chunks: int | None = 32) -> xr.Dataset:
    cube = sarcube.synthetic.make_scene(SHAPE, seed=3, nodata_edge=False).cube
    return cube.chunk({"time": 1, "y": chunks, "x": chunks}) if chunks else cube


def _dem(like: xr.Dataset) -> xr.DataArray:
    """A geographic raster with value = 100·row + col (exact under bilinear), nodata -9999."""
    bounds = like.odc.geobox.to_crs("EPSG:4326").extent.boundingbox.buffered(0.002)
    src = GeoBox.from_bbox(bounds, "EPSG:4326", shape=SRC)
    field = np.add.outer(100.0 * np.arange(SRC[0]), np.arange(SRC[1])).astype(np.float32)
    field[:10, :12] = -9999
    dem = (xr_zeros(src, dtype="float32") + field).rename(latitude="y", longitude="x")
    dem.attrs = {"nodata": -9999.0, "units": "m"}
    return dem


def _expected(like: xr.Dataset, dem: xr.DataArray) -> np.ndarray:
    """The bilinear value of the linear field at every SAR pixel centre (no nodata)."""
    yy, xx = np.meshgrid(like["y"].values, like["x"].values, indexing="ij")
    to_geo = Transformer.from_crs(like.rio.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_geo.transform(xx, yy)
    col, row = ~dem.odc.geobox.affine * (lon, lat)
    return np.asarray(100.0 * (row - 0.5) + (col - 0.5))


def test_coregister_puts_a_dem_on_the_sar_grid_lazily() -> None:
    sar = _sar()
    dem = _dem(sar)
    water = (dem.fillna(0) % 101).astype(np.uint8)  # integer layer: nearest, dtype kept
    with pytest.raises(ParameterError, match="outside its dtype"):
        coregister({"water": water}, sar)  # nodata -9999 inherited from the DEM
    water.attrs = {}
    with raise_if_dask_computes():
        out = coregister({"dem": dem, "water": water}, sar)
    assert out.rio.crs == sar.rio.crs
    assert out["dem"].shape == SHAPE and out["dem"].chunks == ((32, 32, 32), (32, 32, 16))
    np.testing.assert_array_equal(out["x"], sar["x"])
    got = out["dem"].values
    truth = _expected(sar, dem)
    inside = np.isfinite(got)
    # the nodata corner of the source (rows < 10, cols < 12) maps to NaN, nowhere else
    assert (~inside).sum() > 0 and np.all(truth[~inside] < 10 * 100 + 13)
    assert np.abs(got[inside] - truth[inside]).max() < 0.5  # of a 100-per-row field
    assert out["water"].dtype == np.uint8 and out["water"].attrs["resampling"] == "nearest"
    assert out["dem"].attrs["units"] == "m" and out["dem"].attrs["resampling"] == "bilinear"


@pytest.mark.parametrize(
    "attrs",
    [{}, {"nodata": -1}, {"_FillValue": -9999, "nodata": -1}, {"missing_value": 7, "nodata": -1}],
)
@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_one_nodata_convention_the_one_rioxarray_reads(attrs: dict[str, int], dtype: type) -> None:
    da = xr.DataArray(np.zeros((2, 2), dtype), dims=("y", "x"), attrs=attrs)
    assert nodata_of(da) == da.rio.nodata
    decoded = da.astype(np.float32)
    decoded.encoding["_FillValue"] = -9999  # xarray has turned it into NaN
    assert np.isnan(nodata_of(decoded)) and np.isnan(decoded.rio.nodata)


def test_coregister_does_not_depend_much_on_the_chunking() -> None:
    dem = _dem(_sar())
    water = (dem.fillna(0) % 101).astype(np.uint8).assign_attrs(nodata=255)
    results = [
        coregister({"dem": dem.chunk(c), "water": water.chunk(c)}, _sar(k)).compute()
        for c, k in ((64, 32), (23, 41), (100, None))
    ]
    for other in results[1:]:
        np.testing.assert_array_equal(other["water"].values, results[0]["water"].values)
        np.testing.assert_array_equal(np.isnan(other["dem"]), np.isnan(results[0]["dem"]))
        # GDAL approximates the transform per chunk: within 1 % of a 100-per-row step
        assert float(np.nanmax(np.abs(other["dem"] - results[0]["dem"]))) < 1.0


def test_coregister_reads_files_and_datasets(tmp_path: Path) -> None:
    sar = _sar()
    dem = _dem(sar)
    dem.rio.write_nodata(-9999.0).rio.to_raster(tmp_path / "dem.tif")
    optical = xr.Dataset({"Red": dem * 0 + 0.1, "NIR": dem * 0 + 0.3})
    out = coregister(
        {"dem": tmp_path / "dem.tif", "optical": optical},
        sar,
        resampling={"dem": "nearest", "optical": "bilinear"},
    )
    assert set(out.data_vars) == {"dem", "Red", "NIR"}
    assert out["dem"].attrs["resampling"] == "nearest"
    assert np.isnan(out["dem"].values).any()  # file nodata became NaN
    assert float(out["NIR"].max()) == pytest.approx(0.3)


def test_coregister_bad_input(tmp_path: Path) -> None:
    sar = _sar()
    dem = _dem(sar)
    with pytest.raises(GridMismatchError, match="write_crs"):
        coregister({"dem": dem.drop_vars("spatial_ref")}, sar)
    with pytest.raises(ParameterError, match="resampling must be"):
        coregister({"dem": dem}, sar, resampling="lanczos3")  # type: ignore[arg-type]
    with pytest.raises(InputNotFoundError, match="no raster file"):
        coregister({"dem": tmp_path / "missing.tif"}, sar)
    with pytest.raises(ParameterError, match="at least one"):
        coregister({}, sar)
    with pytest.raises(ParameterError, match="not layers"):
        coregister({"dem": dem}, sar, resampling={"hand": "nearest"})


@pytest.mark.parametrize("chunks", [None, 17])
def test_sar_features_linear_and_db_agree(chunks: int | None) -> None:
    cube = _sar(chunks).isel(time=0)
    lin = sar_features(cube)
    db = sar_features(sarcube.to_db(cube))
    for name in ("vv_db", "vh_db", "co_cross_difference_db", "cross_co_ratio"):
        np.testing.assert_allclose(lin[name], db[name], rtol=1e-5, atol=1e-6)
    expected = 10 * np.log10(cube["vv"].values) - 10 * np.log10(cube["vh"].values)
    np.testing.assert_allclose(lin["co_cross_difference_db"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(lin["cross_co_ratio"], cube["vh"] / cube["vv"], rtol=1e-4, atol=1e-7)
    with pytest.raises(BandNotFoundError, match="cross="):
        sar_features(cube, co="hh", cross="hv")
    with pytest.raises(UnitsError):
        sar_features(xr.merge([sarcube.to_db(cube[["vv"]]), cube[["vh"]]]))


def _layers() -> xr.Dataset:
    rng = np.random.default_rng(0)
    data = {c: (("y", "x"), rng.normal(size=(6, 5)).astype(np.float64)) for c in ALOS_CHANNELS}
    layers = xr.Dataset(data, coords={"y": np.arange(6.0), "x": np.arange(5.0)})
    layers["HAND"][0, 0] = np.nan
    return layers


def test_feature_stack_moved_with_the_model_inputs() -> None:
    with pytest.warns(DeprecationWarning, match=r"sarcube\.infer\.feature_stack"):
        old = sarcube.multisensor.feature_stack
    assert old is feature_stack is sarcube.feature_stack
    assert "feature_stack" not in sarcube.multisensor.__all__


def test_feature_stack_orders_channels_and_masks_the_label() -> None:
    layers = _layers()
    label = xr.DataArray(np.full((6, 5), 1.0), dims=("y", "x"))
    label[1, 1] = np.nan
    label[2, 2] = -1
    stack = feature_stack(layers, label=label, label_nodata=-1)
    assert list(stack.data_vars) == [*ALOS_CHANNELS, "label"]
    assert stack.attrs["channels"] == list(ALOS_CHANNELS)
    assert stack["HH"].dtype == np.float32 and stack["label"].dtype == np.uint8
    lab = stack["label"].values
    assert lab[0, 0] == lab[1, 1] == lab[2, 2] == 255 and (lab == 1).sum() == 27
    stacked = feature_stack(layers, ["DEM", "HH"])
    assert list(stacked.data_vars) == ["DEM", "HH"]
    with pytest.raises(BandNotFoundError, match="SWIR3"):
        feature_stack(layers, ["HH", "SWIR3"])
    with pytest.raises(DimensionError, match="select a date"):
        feature_stack(layers.expand_dims(time=2), ["HH"])


@pytest.mark.parametrize("chunks", [None, 3])
def test_water_prior_modes(chunks: int | None) -> None:
    probs = xr.DataArray(
        [[[0.2, 0.8, 0.2, 0.8, np.nan]], [[0.8, 0.2, 0.8, 0.2, np.nan]]], dims=("class", "y", "x")
    )
    prior = xr.DataArray([[0, 0, 90, 90, 90]], dims=("y", "x"), coords={"x": np.arange(5)})
    if chunks:
        probs, prior = probs.chunk({"x": chunks}), prior.chunk({"x": chunks})
    with raise_if_dask_computes():
        maps = {
            m: apply_water_prior(probs, prior, mode=m) for m in ("reconstruct", "suppress", "both")
        }  # type: ignore[arg-type]
    assert maps["reconstruct"].values.tolist() == [[1, 0, 1, 2, 255]]
    assert maps["suppress"].values.tolist() == [[1, 0, 2, 0, 255]]
    assert maps["both"].values.tolist() == [[1, 0, 2, 2, 255]]
    binary = xr.DataArray([[1, 0, 1, 0, 255]], dims=("y", "x"))
    assert apply_water_prior(binary, prior > 50).values.tolist() == [[1, 0, 1, 2, 255]]
    with pytest.raises(GridMismatchError, match="coregister"):
        apply_water_prior(binary, prior.isel(x=slice(0, 3)))
    with pytest.raises(ParameterError, match="mode"):
        apply_water_prior(binary, prior, mode="erase")  # type: ignore[arg-type]


def test_three_class_metrics_and_waterbody_false_positives() -> None:
    truth = xr.DataArray([[0, 0, 1, 1, 2, 2, 2, 2, 255]], dims=("y", "x"))
    pred = xr.DataArray([[0, 1, 1, 1, 1, 1, 2, 0, 0]], dims=("y", "x"))
    m = three_class_metrics(pred.chunk({"x": 4}), truth)
    assert float(m["waterbody_fp_rate"]) == pytest.approx(2 / 4)
    # class 1: tp 2, fp 3 (one no-flood, two waterbody), fn 0
    assert float(m["iou"].sel({"class": 1})) == pytest.approx(2 / 5)
    assert float(m["iou"].sel({"class": 2})) == pytest.approx(1 / 4)
    assert m["class_name"].values.tolist() == ["no_flood", "flood", "waterbody"]
    assert int(m["confusion"].sum()) == 8


def test_stack_to_chips_with_cloud_and_water_filters(tmp_path: Path) -> None:
    scene = sarcube.synthetic.make_scene((64, 64), seed=4, nodata_edge=False)
    sar = scene.cube.isel(time=-1)
    layers = xr.merge([sar_features(sar), xr.Dataset({"DEM": sar["vv"] * 0 + 12.0})])
    channels = ["vv_db", "vh_db", "co_cross_difference_db", "DEM"]
    stack = feature_stack(layers, channels, label=scene.flood.isel(time=-1))
    cloud = xr.zeros_like(stack["DEM"], dtype=np.uint8)
    cloud[:32, :32] = 1  # the top-left chip is all cloud
    index = sarcube.ml.to_chips(
        stack,
        tmp_path / "chips",
        bands=channels,
        size=32,
        label=stack["label"],
        cloud=cloud,
        max_cloud=0.5,
    )
    assert "chip_000000_000000" not in set(index["chip_id"]) and len(index) == 3
    assert (index["cloud_fraction"] == 0).all()
    water = [c for c in index.columns if c == "class_1_fraction"]
    wet = sarcube.ml.to_chips(
        stack,
        tmp_path / "wet",
        bands=channels,
        size=32,
        label=stack["label"],
        class_fractions={1: (0.05, 1.0)},
    )
    assert water and len(wet) >= 1 and (wet["class_1_fraction"] >= 0.05).all()
    assert len(wet) < 4  # some chip has less than 5 % flood
    with pytest.raises(ParameterError, match="max_cloud"):
        sarcube.ml.to_chips(stack, tmp_path / "x", bands=channels, cloud=cloud, max_cloud=2)


def test_dswe_labels_water_dry_and_no_label() -> None:
    from sarcube.multisensor import DSWE_CLASSES, dswe_labels

    classes = np.array([[0, 1, 2, 3], [4, 9, 255, 7]], np.uint8)
    dswe = xr.DataArray(classes, dims=("y", "x"), coords={"y": [1.0, 0.0], "x": np.arange(4.0)})
    dswe = dswe.rio.write_crs("EPSG:32633")
    for data in (dswe, dswe.chunk({"x": 2})):
        labels = dswe_labels(data)
        assert labels.dtype == np.uint8
        assert labels.values.tolist() == [[0, 1, 1, 255], [255, 255, 255, 255]]
        assert labels.rio.crs == dswe.rio.crs
    aggressive = dswe_labels(dswe, water=(1, 2, 3, 4))
    assert aggressive.values.tolist() == [[0, 1, 1, 1], [1, 255, 255, 255]]
    assert set(DSWE_CLASSES) == {0, 1, 2, 3, 4, 9, 255}
    with pytest.raises(sarcube.errors.ParameterError, match="distinct DSWE classes"):
        dswe_labels(dswe, water=(1, 0))
    with pytest.raises(sarcube.errors.ParameterError, match="distinct DSWE classes"):
        dswe_labels(dswe, water=(5,))
    with pytest.raises(sarcube.errors.DTypeError, match="integer classes"):
        dswe_labels(dswe.astype(np.float32))


@pytest.mark.parametrize("chunks", [None, 5])
def test_sar_features_linear_ln_is_the_model_card_set(chunks: int | None) -> None:
    cube = _sar(chunks).isel(time=0).rename(vv="hh", vh="hv")
    cube["hh"][0, 0] = 0.0  # no logarithm of zero power
    card = sar_features(cube, co="hh", cross="hv", features="linear_ln")
    assert list(card.data_vars) == ["hh", "hv", "co_minus_cross", "ln_hh", "ln_hv"]
    hh, hv = cube["hh"].values, cube["hv"].values
    np.testing.assert_array_equal(card["hh"], hh)
    np.testing.assert_allclose(card["co_minus_cross"], hh - hv, rtol=1e-6)
    with np.errstate(divide="ignore"):
        expected = np.where(hh > 0, np.log(hh), np.nan)
    np.testing.assert_allclose(card["ln_hh"], expected, rtol=1e-6)
    np.testing.assert_allclose(card["ln_hv"], np.log(hv), rtol=1e-6)
    from_db = sar_features(sarcube.to_db(cube), co="hh", cross="hv", features="linear_ln")
    np.testing.assert_allclose(from_db["ln_hv"], card["ln_hv"], rtol=1e-5, atol=1e-6)
    with pytest.raises(ParameterError, match="'db' or 'linear_ln'"):
        sar_features(cube, co="hh", cross="hv", features="ln")  # type: ignore[arg-type]


def test_coregister_onto_a_geographic_grid_with_y_x_dims() -> None:
    """A lat/lon grid as rioxarray opens it (dims y/x), not odc-geo's latitude/longitude."""
    coords = {"y": 45.2 - np.arange(10) * 0.01, "x": 15.0 + np.arange(12) * 0.01}
    like = xr.DataArray(np.zeros((10, 12), np.float32), dims=("y", "x"), coords=coords)
    like = like.rio.write_crs("EPSG:4326")
    layer = like + 1.0  # the same grid, values 1
    out = coregister({"one": layer}, like)
    assert out["one"].dims == ("y", "x")
    np.testing.assert_array_equal(out["y"].values, like["y"].values)
    np.testing.assert_allclose(out["one"].values, 1.0)
