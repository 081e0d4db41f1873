"""Validation of class maps against a reference: a lazy confusion matrix and its scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr

from ._checks import check_xarray
from ._geographic import accepts_geographic
from .errors import DTypeError, GridMismatchError, ParameterError

__all__ = ["agreement_matrix", "class_fractions", "confusion_matrix", "segmentation_metrics"]

#: Class-map value for nodata in sarcube's uint8 maps.
NODATA = 255


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


def _check_class_map(obj: Any, name: str, func: str) -> xr.DataArray:
    """*obj* as a class map: a DataArray of integers, booleans or (integral) floats."""
    check_xarray(obj, f"{func} ({name})")
    if not isinstance(obj, xr.DataArray):
        raise DTypeError(f"{func}: {name} must be a DataArray (a class map), not a Dataset")
    kinds = (np.bool_, np.integer, np.floating)
    if not any(np.issubdtype(obj.dtype, kind) for kind in kinds):
        raise DTypeError(
            f"{func}: {name} has dtype {obj.dtype}; pass integer class maps, e.g. "
            "flood_map(...) or (probability > 0.5).astype('uint8')"
        )
    return obj


def _class_values(classes: Sequence[int], func: str) -> np.ndarray:
    """The sorted, unique integer class values, or ParameterError naming the fix."""
    if isinstance(classes, str | bytes) or not isinstance(classes, Sequence | np.ndarray):
        raise ParameterError(
            f"{func}: classes must be a sequence of class values, got {classes!r}; "
            "e.g. classes=[0, 1]"
        )
    values = list(classes)
    if not all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in values):
        raise ParameterError(
            f"{func}: classes must be integers, e.g. classes=[0, 1], got {classes!r} "
            "(the values in the maps, not class names)"
        )
    return np.asarray(sorted({int(c) for c in values}), dtype=np.int64)


@accepts_geographic
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
    func = "confusion_matrix"
    for name, obj in (("pred", pred), ("truth", truth)):
        _check_class_map(obj, name, func)
    if pred.shape != truth.shape or pred.dims != truth.dims:
        raise GridMismatchError(
            f"confusion_matrix: pred {dict(pred.sizes)} and truth {dict(truth.sizes)} differ; "
            "compare maps on one grid"
        )
    values = _class_values(classes, func)
    if values.size < 2:
        raise ParameterError(
            f"confusion_matrix: need at least two classes, got {classes!r}; e.g. classes=[0, 1]"
        )
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer)
    ):
        raise ParameterError(
            f"confusion_matrix: ignore_index must be an integer or None, got {ignore_index!r}; "
            "e.g. ignore_index=255"
        )
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


@accepts_geographic
def segmentation_metrics(
    pred: xr.DataArray,
    truth: xr.DataArray,
    *,
    classes: Sequence[int],
    ignore_index: int | None = None,
    mean_over: Literal["defined", "truth"] = "defined",
) -> xr.Dataset:
    """Per-class IoU, precision, recall and F1, their means, and pixel accuracy.

    Computed from :func:`confusion_matrix` (lazy until computed). A class that
    appears in neither map gets NaN scores and is left out of the means.
    *mean_over* chooses the classes of ``miou`` and ``mean_f1``:
    ``"defined"`` (default) every class with a defined score, so a class
    predicted but absent from the truth counts with IoU 0; ``"truth"`` only
    the classes present in the truth (the definition of many model cards and
    benchmarks, e.g. the per-image mIoU of flood-mapping papers).

    Examples
    --------
    >>> import xarray as xr
    >>> truth = xr.DataArray([[0, 0, 1, 1]], dims=("y", "x"))
    >>> pred = xr.DataArray([[0, 1, 1, 1]], dims=("y", "x"))
    >>> m = segmentation_metrics(pred, truth, classes=[0, 1])
    >>> m["iou"].values.round(3).tolist(), round(float(m["miou"]), 3)
    ([0.5, 0.667], 0.583)
    >>> dry = xr.DataArray([[0, 0, 0, 0]], dims=("y", "x"))  # no flood in the truth
    >>> [float(segmentation_metrics(pred, dry, classes=[0, 1], mean_over=m)["miou"])
    ...  for m in ("defined", "truth")]
    [0.125, 0.25]
    """
    if mean_over not in ("defined", "truth"):
        raise ParameterError(
            f"segmentation_metrics: mean_over must be 'defined' or 'truth', got {mean_over!r}"
        )
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
    averaged = (
        (iou, f1)
        if mean_over == "defined"
        else (iou.where(truth_total > 0), f1.where(truth_total > 0))
    )
    return xr.Dataset(
        {
            "confusion": cm,
            "iou": iou,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "miou": averaged[0].mean("class", skipna=True),
            "mean_f1": averaged[1].mean("class", skipna=True),
            "pixel_accuracy": ratio(tp.sum("class"), c.sum(("truth", "pred"))),
        }
    )


@accepts_geographic
def agreement_matrix(maps: Mapping[str, xr.DataArray], *, nodata: int = NODATA) -> xr.DataArray:
    """Pairwise pixel agreement of class maps (lazy): the fraction of pixels,
    valid in both maps, where the two give the same class.

    Returns dims ``(map_a, map_b)``, 1 on the diagonal.

    Examples
    --------
    >>> import xarray as xr
    >>> a = xr.DataArray([[0, 1, 1, 255]], dims=("y", "x"))
    >>> b = xr.DataArray([[0, 1, 0, 1]], dims=("y", "x"))
    >>> agreement_matrix({"a": a, "b": b}).values.round(3).tolist()
    [[1.0, 0.667], [0.667, 1.0]]
    """
    names = list(maps)
    if len(names) < 2:
        raise ParameterError(
            "agreement_matrix: give at least two maps, e.g. {'otsu': m1, 'ki': m2}"
        )
    first = maps[names[0]]
    for name in names:
        check_xarray(maps[name], f"agreement_matrix ({name})")
        if maps[name].shape != first.shape or maps[name].dims != first.dims:
            raise GridMismatchError(
                f"agreement_matrix: map {name!r} has {dict(maps[name].sizes)}, "
                f"{names[0]!r} has {dict(first.sizes)}; compare maps on one grid"
            )
    rows = []
    for a in names:
        row = []
        for b in names:
            da_a, da_b = maps[a], maps[b]
            valid = (da_a != nodata) & (da_b != nodata)
            same = ((da_a == da_b) & valid).sum()
            row.append((same / valid.sum().where(valid.sum() > 0)).reset_coords(drop=True))
        rows.append(xr.concat(row, dim="map_b"))
    out = xr.concat(rows, dim="map_a").assign_coords(map_a=names, map_b=names)
    out.name = "agreement"
    out.attrs = {"long_name": "fraction of commonly valid pixels with the same class", "units": "1"}
    return out


@accepts_geographic
def class_fractions(
    class_map: xr.DataArray, *, classes: Sequence[int], nodata: int = NODATA
) -> xr.DataArray:
    """Fraction of the valid pixels in each class (lazy), dims ``class``.

    Examples
    --------
    >>> import xarray as xr
    >>> m = xr.DataArray([[0, 1, 1, 255]], dims=("y", "x"))
    >>> class_fractions(m, classes=[0, 1]).values.round(3).tolist()
    [0.333, 0.667]
    """
    func = "class_fractions"
    _check_class_map(class_map, "class_map", func)
    values = _class_values(classes, func)
    if values.size == 0:
        raise ParameterError(
            f"{func}: classes is empty; pass the class values, e.g. classes=[0, 1]"
        )
    valid = (class_map != nodata).sum()
    fractions = [(class_map == c).sum() / valid.where(valid > 0) for c in classes]
    out = xr.concat(fractions, dim="class").assign_coords({"class": list(classes)})
    out.name = "class_fraction"
    out.attrs = {"long_name": "fraction of valid pixels", "units": "1"}
    return out
