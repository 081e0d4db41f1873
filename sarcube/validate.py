"""Validation of class maps against a reference: a lazy confusion matrix and its scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from ._checks import check_xarray
from .errors import DTypeError, GridMismatchError, ParameterError

__all__ = ["confusion_matrix", "segmentation_metrics"]


def _block_confusion(
    truth: np.ndarray, pred: np.ndarray, classes: np.ndarray, ignore: float | None
) -> np.ndarray:
    """Counts (k, k) of (truth class, predicted class) pairs in one block."""
    k = classes.size
    t = np.asarray(truth).reshape(-1)
    p = np.asarray(pred).reshape(-1)
    keep = np.ones(t.shape, dtype=bool) if ignore is None else t != ignore
    ti = np.searchsorted(classes, t).clip(0, k - 1)
    pi = np.searchsorted(classes, p).clip(0, k - 1)
    # pixels whose truth or prediction is not one of the classes are not counted
    keep &= (classes[ti] == t) & (classes[pi] == p)
    counts = np.bincount(ti[keep] * k + pi[keep], minlength=k * k).astype(np.int64)
    return counts.reshape((1,) * truth.ndim + (k, k))


def confusion_matrix(
    pred: xr.DataArray,
    truth: xr.DataArray,
    *,
    classes: Sequence[int],
    ignore_index: int | None = None,
) -> xr.DataArray:
    """Lazy confusion matrix, dims ``(truth, pred)`` over *classes* (one pass).

    Pixels whose truth equals *ignore_index*, or whose truth or prediction is
    not one of *classes* (e.g. a 255 nodata flag), are not counted — as
    ``sklearn.metrics.confusion_matrix(labels=classes)`` does.
    """
    for name, obj in (("pred", pred), ("truth", truth)):
        check_xarray(obj, f"confusion_matrix ({name})")
        if not isinstance(obj, xr.DataArray):
            raise DTypeError(f"confusion_matrix: {name} must be a DataArray (a class map)")
    if pred.shape != truth.shape or pred.dims != truth.dims:
        raise GridMismatchError(
            f"confusion_matrix: pred {dict(pred.sizes)} and truth {dict(truth.sizes)} differ; "
            "compare maps on one grid"
        )
    values = np.asarray(sorted(set(int(c) for c in classes)))
    if values.size < 2:
        raise ParameterError(f"confusion_matrix: need at least two classes, got {classes!r}")
    k = values.size
    tdata, pdata = truth.data, pred.data
    if isinstance(tdata, dsa.Array) or isinstance(pdata, dsa.Array):
        tdata = dsa.asarray(tdata)
        pdata = dsa.asarray(pdata).rechunk(tdata.chunks)
        nd = tdata.ndim
        parts = dsa.map_blocks(
            _block_confusion,
            tdata,
            pdata,
            values,
            ignore_index,
            chunks=(*((1,) * len(c) for c in tdata.chunks), (k,), (k,)),
            new_axis=[nd, nd + 1],
            dtype=np.int64,
            meta=np.empty((0,) * (nd + 2), dtype=np.int64),
        )
        counts: Any = parts.sum(axis=tuple(range(nd)))
    else:
        counts = _block_confusion(np.asarray(tdata), np.asarray(pdata), values, ignore_index)
        counts = counts.reshape(k, k)
    return xr.DataArray(
        counts,
        dims=("truth", "pred"),
        coords={"truth": values, "pred": values},
        name="confusion",
        attrs={"long_name": "pixel counts (rows: reference class, columns: predicted class)"},
    )


def segmentation_metrics(
    pred: xr.DataArray,
    truth: xr.DataArray,
    *,
    classes: Sequence[int],
    ignore_index: int | None = None,
) -> xr.Dataset:
    """Per-class IoU, precision, recall and F1, their means, and pixel accuracy.

    Computed from :func:`confusion_matrix` (lazy until computed). A class that
    appears in neither map gets NaN scores and is left out of the means
    (``miou`` is the mean of the defined per-class IoUs).

    Examples
    --------
    >>> import xarray as xr
    >>> truth = xr.DataArray([[0, 0, 1, 1]], dims=("y", "x"))
    >>> pred = xr.DataArray([[0, 1, 1, 1]], dims=("y", "x"))
    >>> m = segmentation_metrics(pred, truth, classes=[0, 1])
    >>> m["iou"].values.round(3).tolist(), round(float(m["miou"]), 3)
    ([0.5, 0.667], 0.583)
    """
    cm = confusion_matrix(pred, truth, classes=classes, ignore_index=ignore_index)
    c = cm.astype(np.float64)
    tp = xr.DataArray(np.diagonal(c.data), dims="class", coords={"class": cm["truth"].values})
    truth_total = c.sum("pred").rename(truth="class")
    pred_total = c.sum("truth").rename(pred="class")
    fp = pred_total - tp
    fn = truth_total - tp

    def ratio(num: xr.DataArray, den: xr.DataArray) -> xr.DataArray:
        return num / den.where(den > 0)

    iou = ratio(tp, tp + fp + fn)
    precision = ratio(tp, tp + fp)
    recall = ratio(tp, tp + fn)
    f1 = ratio(2 * precision * recall, precision + recall)
    return xr.Dataset(
        {
            "confusion": cm,
            "iou": iou,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "miou": iou.mean("class", skipna=True),
            "mean_f1": f1.mean("class", skipna=True),
            "pixel_accuracy": ratio(tp.sum("class"), c.sum(("truth", "pred"))),
        }
    )
