"""Segmentation metrics: exact against scikit-learn, chunk-invariant, lazy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from sklearn.metrics import confusion_matrix, jaccard_score, precision_recall_fscore_support

import sarcube
from sarcube.errors import GridMismatchError, ParameterError

from conftest import raise_if_dask_computes


def _maps(seed: int = 0) -> tuple[xr.DataArray, xr.DataArray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, (40, 50)).astype(np.uint8)
    pred = np.where(rng.random((40, 50)) < 0.7, truth, rng.integers(0, 3, (40, 50))).astype(
        np.uint8
    )
    truth[0, :5] = 255  # ignored reference pixels
    pred[1, :3] = 255  # nodata in the prediction: not counted
    return (
        xr.DataArray(pred, dims=("y", "x")),
        xr.DataArray(truth, dims=("y", "x")),
        pred,
        truth,
    )


@pytest.mark.parametrize("chunks", [None, {"y": 7, "x": 9}])
def test_metrics_equal_sklearn(chunks: dict[str, int] | None) -> None:
    pred, truth, p, t = _maps()
    if chunks is not None:
        pred, truth = pred.chunk(chunks), truth.chunk({"y": 13})
    with raise_if_dask_computes():
        m = sarcube.segmentation_metrics(pred, truth, classes=[0, 1, 2], nodata=255)
    m = m.compute()
    keep = (t != 255) & (p != 255)
    labels = [0, 1, 2]
    np.testing.assert_array_equal(
        m["confusion"].values, confusion_matrix(t[keep], p[keep], labels=labels)
    )
    iou = jaccard_score(t[keep], p[keep], labels=labels, average=None)
    np.testing.assert_allclose(m["iou"].values, iou)
    assert float(m["miou"]) == pytest.approx(iou.mean())
    precision, recall, f1, _ = precision_recall_fscore_support(t[keep], p[keep], labels=labels)
    np.testing.assert_allclose(m["precision"].values, precision)
    np.testing.assert_allclose(m["recall"].values, recall)
    np.testing.assert_allclose(m["f1"].values, f1)
    assert float(m["pixel_accuracy"]) == pytest.approx((t[keep] == p[keep]).mean())


def test_absent_class_and_errors() -> None:
    truth = xr.DataArray(np.array([[0, 0, 1, 1]]), dims=("y", "x"))
    pred = xr.DataArray(np.array([[0, 1, 1, 1]]), dims=("y", "x"))
    m = sarcube.segmentation_metrics(pred, truth, classes=[0, 1, 2])
    assert np.isnan(m["iou"].sel({"class": 2}))
    assert float(m["miou"]) == pytest.approx((0.5 + 2 / 3) / 2)
    with pytest.raises(GridMismatchError):
        sarcube.segmentation_metrics(pred, truth.isel(x=slice(0, 3)), classes=[0, 1])
    with pytest.raises(ParameterError, match="two classes"):
        sarcube.segmentation_metrics(pred, truth, classes=[1])


def test_agreement_and_class_fractions() -> None:
    a = xr.DataArray(np.array([[0, 1, 1, 255], [1, 1, 0, 0]], dtype=np.uint8), dims=("y", "x"))
    b = xr.DataArray(np.array([[0, 1, 0, 1], [1, 255, 0, 1]], dtype=np.uint8), dims=("y", "x"))
    agree = sarcube.agreement_matrix({"a": a, "b": b.chunk({"x": 3})})
    # valid in both: 6 pixels, equal in 4
    assert float(agree.sel(map_a="a", map_b="b")) == pytest.approx(4 / 6)
    assert float(agree.sel(map_a="b", map_b="b")) == 1.0
    fractions = sarcube.class_fractions(a, classes=[0, 1])
    np.testing.assert_allclose(fractions.values, [3 / 7, 4 / 7])
    with pytest.raises(ParameterError, match="two maps"):
        sarcube.agreement_matrix({"a": a})
    with pytest.raises(GridMismatchError):
        sarcube.agreement_matrix({"a": a, "b": b.isel(x=slice(0, 2))})


def test_agreement_matrix_ignores_differing_coords() -> None:
    a = xr.DataArray([[0, 1, 1]], dims=("y", "x"), coords={"spatial_ref": 0, "t": 1})
    b = xr.DataArray([[0, 1, 0]], dims=("y", "x"))
    out = sarcube.agreement_matrix({"a": a, "b": b})
    assert out.values.round(3).tolist() == [[1.0, 0.667], [0.667, 1.0]]
    assert set(out.coords) == {"map_a", "map_b"}


def test_miou_over_the_classes_present_in_the_truth() -> None:
    truth = xr.DataArray(np.array([[0, 0, 1, 1], [0, 0, 1, 1]]), dims=("y", "x"))
    pred = xr.DataArray(np.array([[0, 2, 1, 1], [0, 0, 1, 2]]), dims=("y", "x"))
    defined = sarcube.segmentation_metrics(pred, truth, classes=[0, 1, 2])
    present = sarcube.segmentation_metrics(pred, truth, classes=[0, 1, 2], mean_over="truth")
    iou = defined["iou"].values  # class 2 is predicted twice but absent from the truth: IoU 0
    np.testing.assert_allclose(iou, [3 / 4, 3 / 4, 0.0])
    assert float(defined["miou"]) == pytest.approx(iou.mean())
    assert float(present["miou"]) == pytest.approx(3 / 4)
    assert float(present["mean_f1"]) == pytest.approx(defined["f1"].values[:2].mean())
    xr.testing.assert_identical(present["iou"], defined["iou"])  # per-class scores unchanged
    with pytest.raises(ParameterError, match="'defined' or 'truth'"):
        sarcube.segmentation_metrics(pred, truth, classes=[0, 1], mean_over="present")  # type: ignore[arg-type]


def test_validation_report_numbers_and_json(tmp_path: Path) -> None:
    import json

    rng = np.random.default_rng(0)
    truth = (rng.random((40, 50)) < 0.3).astype(np.uint8)
    truth[:2] = 255
    noisy = truth.copy()
    flip = rng.random(truth.shape) < 0.1
    noisy[flip & (truth != 255)] = 1 - noisy[flip & (truth != 255)]
    maps = {
        "same": xr.DataArray(truth.copy(), dims=("y", "x")).chunk({"y": 13}),
        "noisy": xr.DataArray(noisy, dims=("y", "x")).chunk({"y": 13}),
    }
    truth_da = xr.DataArray(truth, dims=("y", "x"))
    # per map: its regions (region_stats labels them in a pass of its own) and its scores;
    # then the rest together
    with raise_if_dask_computes(max_computes=5):
        report = sarcube.validation_report(maps, truth=truth_da, path=tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == report
    same = report["maps"]["same"]
    assert same["miou"] == 1.0 and same["iou"] == {"0": 1.0, "1": 1.0}
    assert same["nodata_fraction"] == pytest.approx(2 / 40)
    valid = truth[truth != 255]
    assert same["class_fractions"]["1"] == pytest.approx((valid == 1).mean())
    stats = sarcube.region_stats(maps["noisy"] == 1).compute()
    assert report["maps"]["noisy"]["regions"]["count"] == int(stats["count"])
    ratio = float(sarcube.boundary_ratio(maps["noisy"]))
    assert report["maps"]["noisy"]["boundary_ratio"] == pytest.approx(ratio)
    agree = float(sarcube.agreement_matrix(maps).sel(map_a="same", map_b="noisy"))
    assert report["agreement"]["same"]["noisy"] == pytest.approx(agree)
    assert report["agreement"]["noisy"]["noisy"] == 1.0
    assert report["maps"]["noisy"]["miou"] < 1.0
    with pytest.raises(sarcube.errors.OutputError, match="overwrite"):
        sarcube.validation_report(maps, path=tmp_path / "r.json")
    with pytest.raises(ParameterError, match="region_class"):
        sarcube.validation_report(maps, region_class=2)


def test_old_keyword_names_still_work_with_a_deprecation_warning() -> None:
    truth = xr.DataArray(np.array([[0, 1, 255, 1]], np.uint8), dims=("y", "x"))
    pred = xr.DataArray(np.array([[0, 1, 1, 0]], np.uint8), dims=("y", "x"))
    new = sarcube.segmentation_metrics(pred, truth, classes=[0, 1, 255], nodata=255)
    with pytest.warns(DeprecationWarning, match=r"ignore_index= is renamed nodata="):
        old = sarcube.segmentation_metrics(pred, truth, classes=[0, 1, 255], ignore_index=255)
    xr.testing.assert_identical(old, new)
    with pytest.warns(DeprecationWarning, match=r"confusion_matrix: ignore_index= is renamed"):
        cm = sarcube.confusion_matrix(pred, truth, classes=[0, 1, 255], ignore_index=255)
    assert int(cm.sum()) == 3  # the truth's nodata pixel is not counted
    with pytest.raises(ParameterError, match=r"pass nodata= only"):
        sarcube.confusion_matrix(pred, truth, classes=[0, 1], nodata=255, ignore_index=255)
    layers = xr.Dataset({"vv": (("y", "x"), np.ones((1, 4), np.float32))})
    with pytest.warns(DeprecationWarning, match=r"feature_stack: ignore_value= is renamed"):
        stack = sarcube.feature_stack(layers, ["vv"], label=truth.astype(float), ignore_value=9)
    assert stack["label"].attrs["nodata"] == 9
