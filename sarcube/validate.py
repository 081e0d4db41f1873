"""Validation of class maps against a reference: a lazy confusion matrix and its scores."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr

from ._checks import as_int, check_dataarray, check_optional_int, check_xarray, is_instance
from ._deprecation import renamed_keywords
from ._geographic import accepts_geographic
from ._reduce import sum_of_blocks
from .conventions import (
    FLOOD_CLASSES,
)
from .conventions import (
    NODATA as NODATA,  # re-exported: sarcube.validate.NODATA predates conventions
)
from .errors import DTypeError, GridMismatchError, ParameterError

__all__ = [
    "agreement_matrix",
    "class_fractions",
    "confusion_matrix",
    "segmentation_metrics",
    "three_class_metrics",
    "validation_report",
]


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


def _check_class_map(given: object, name: str, func: str) -> xr.DataArray:
    """*obj* as a class map: a DataArray of integers, booleans or (integral) floats."""
    obj = check_dataarray(given, func, f"{name} as one class map")
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
    if not all(as_int(c) is not None for c in values):
        raise ParameterError(
            f"{func}: classes must be integers, e.g. classes=[0, 1], got {classes!r} "
            "(the values in the maps, not class names)"
        )
    return np.asarray(sorted({int(c) for c in values}), dtype=np.int64)


@renamed_keywords(ignore_index="nodata")
@accepts_geographic
def confusion_matrix(
    pred: xr.DataArray,
    truth: xr.DataArray,
    *,
    classes: Sequence[int],
    nodata: int | None = None,
) -> xr.DataArray:
    """Lazy confusion matrix, dims ``(truth, pred)`` over *classes* (one pass).

    Pixels whose truth equals *nodata*, or whose truth or prediction is not
    one of *classes* (e.g. a 255 nodata flag), are not counted — as
    ``sklearn.metrics.confusion_matrix(labels=classes)`` does. (*nodata* was
    called ``ignore_index`` before; the old name still works, with a
    ``DeprecationWarning``.)

    Examples
    --------
    >>> truth = xr.DataArray(np.array([[0, 0, 1, 1], [0, 1, 1, 255]], np.uint8), dims=("y", "x"))
    >>> pred = xr.DataArray(np.array([[0, 1, 1, 1], [0, 0, 1, 1]], np.uint8), dims=("y", "x"))
    >>> confusion_matrix(pred, truth, classes=[0, 1]).values.tolist()  # rows: truth
    [[2, 1], [1, 3]]
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
    nodata = check_optional_int(nodata, "nodata", "confusion_matrix", hint="e.g. nodata=255")
    k = values.size
    tdata, pdata = truth.data, pred.data
    if isinstance(tdata, dsa.Array) or isinstance(pdata, dsa.Array):
        tdata = dsa.asarray(tdata)
        pdata = dsa.asarray(pdata).rechunk(tdata.chunks)
        counts: Any = sum_of_blocks(
            _block_confusion, tdata, pdata, values, nodata, out_shape=(k, k), dtype=np.int64
        )
    else:
        counts = _block_confusion(np.asarray(tdata), np.asarray(pdata), values, nodata)
        counts = counts.reshape(k, k)
    return xr.DataArray(
        counts,
        dims=("truth", "pred"),
        coords={"truth": values, "pred": values},
        name="confusion",
        attrs={"long_name": "pixel counts (rows: reference class, columns: predicted class)"},
    )


@renamed_keywords(ignore_index="nodata")
@accepts_geographic
def segmentation_metrics(
    pred: xr.DataArray,
    truth: xr.DataArray,
    *,
    classes: Sequence[int],
    nodata: int | None = None,
    mean_over: Literal["defined", "truth"] = "defined",
) -> xr.Dataset:
    """Per-class IoU, precision, recall and F1, their means, and pixel accuracy.

    Computed from :func:`confusion_matrix` (lazy until computed; truth pixels
    equal to *nodata*, formerly ``ignore_index``, are not counted). A class that
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
    cm = confusion_matrix(pred, truth, classes=classes, nodata=nodata)
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
    """Pairwise pixel agreement of class maps (lazy).

    The fraction of pixels, valid in both maps, where the two give the same
    class.

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


def validation_report(
    maps: Mapping[str, xr.DataArray],
    *,
    classes: Sequence[int] = (0, 1),
    region_class: int = 1,
    truth: xr.DataArray | None = None,
    path: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    nodata: int = NODATA,
) -> dict[str, Any]:
    """A comparison of class maps as plain numbers, optionally written as JSON (**computes**).

    For each map (e.g. one per normalisation config of a model): the share of
    each class among its valid pixels and of nodata, the connected regions of
    *region_class* (:func:`sarcube.region_stats`: count, mean and largest
    size), the boundary ratio (:func:`sarcube.boundary_ratio`) and, with
    *truth*, :func:`segmentation_metrics` (``miou`` and per-class IoU); then
    the pairwise :func:`agreement_matrix`. The region labelling computes its
    own pass per map (as :func:`sarcube.region_stats` does), and so do the
    scores against *truth*; everything else is computed together in one more
    pass. With *path* the report is also written as JSON, to a
    temporary name first and renamed; the path is checked before computing.

    Returns
    -------
    dict
        ``{"classes", "maps": {name: {...}}, "agreement": {a: {b: ...}}}``
        with plain floats and ints (JSON-ready).

    Examples
    --------
    >>> a = xr.DataArray(np.array([[0, 1, 1], [0, 0, 255]], np.uint8), dims=("y", "x"))
    >>> b = xr.DataArray(np.array([[0, 1, 0], [0, 0, 255]], np.uint8), dims=("y", "x"))
    >>> report = validation_report({"a": a, "b": b})
    >>> report["maps"]["a"]["class_fractions"], report["agreement"]["a"]["b"]
    ({'0': 0.6, '1': 0.4}, 0.8)
    """
    import json
    from pathlib import Path

    from dask.base import compute

    from ._atomic import atomic_target, check_writable
    from .regions import boundary_ratio, region_stats

    func = "validation_report"
    if not is_instance(maps, Mapping) or not maps:
        raise ParameterError(f"{func}: pass a non-empty dict of class maps, {{name: map}}")
    first = next(iter(maps.values()))
    for name, m in maps.items():
        check_xarray(m, f"{func} ({name!r})")
        if not np.issubdtype(m.dtype, np.integer):
            raise DTypeError(
                f"{func}: map {name!r} has dtype {m.dtype}; pass integer class maps "
                f"({nodata} for nodata), e.g. sarcube.infer.most_likely_class(probs)"
            )
        if m.shape != first.shape:
            raise GridMismatchError(
                f"{func}: map {name!r} has shape {m.shape}, the first {first.shape}; compare "
                "maps on one grid"
            )
    if truth is not None and truth.shape != first.shape:
        raise GridMismatchError(
            f"{func}: truth has shape {truth.shape}, the maps {first.shape}; compare maps on "
            "one grid"
        )
    keys = [int(c) for c in classes]
    if int(region_class) not in keys:
        raise ParameterError(f"{func}: region_class {region_class} is not one of classes {keys}")
    target = None if path is None else Path(path)
    if target is not None:
        if target.suffix.lower() != ".json":
            raise ParameterError(f"{func}: write the report to a .json path, got {target.name!r}")
        check_writable(target, overwrite, func)
    lazy: dict[str, Any] = {}
    for name, m in maps.items():
        valid = m != nodata
        lazy[name] = {
            "class_fractions": class_fractions(m, classes=keys, nodata=nodata),
            "nodata_fraction": 1.0 - valid.mean(),
            "regions": region_stats(m == region_class),
            "boundary_ratio": boundary_ratio(m),
        }
        if truth is not None:
            # computed on its own: handed to dask.compute together with the other
            # collections, its graph loses a key (dask 2026.8; Dataset.compute is fine)
            scores = segmentation_metrics(m, truth, classes=keys, nodata=nodata)
            lazy[name]["scores"] = scores[["miou", "iou"]].compute()
    lazy_agreement = agreement_matrix(maps, nodata=nodata) if len(maps) > 1 else None
    (done, agreement) = compute(lazy, lazy_agreement)
    report: dict[str, Any] = {"classes": keys, "region_class": int(region_class), "maps": {}}
    for name, parts in done.items():
        regions = parts["regions"]
        entry: dict[str, Any] = {
            "class_fractions": {
                str(int(c)): float(v)
                for c, v in zip(
                    parts["class_fractions"]["class"].values,
                    parts["class_fractions"].values,
                    strict=True,
                )
            },
            "nodata_fraction": float(parts["nodata_fraction"]),
            "regions": {
                "count": int(regions["count"]),
                "mean_size": float(regions["mean_size"]),
                "max_size": float(regions["max_size"]),
            },
            "boundary_ratio": float(parts["boundary_ratio"]),
        }
        if "scores" in parts:
            scores = parts["scores"]
            entry["miou"] = float(scores["miou"])
            entry["iou"] = {
                str(int(c)): float(v)
                for c, v in zip(scores["class"].values, scores["iou"].values, strict=True)
            }
        report["maps"][name] = entry
    if agreement is not None:
        names = [str(n) for n in agreement["map_a"].values]
        report["agreement"] = {
            a: {b: float(agreement.values[i, j]) for j, b in enumerate(names)}
            for i, a in enumerate(names)
        }
    if target is not None:
        with atomic_target(target) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


@accepts_geographic
def three_class_metrics(
    pred: xr.DataArray, truth: xr.DataArray, *, nodata: int = NODATA
) -> xr.Dataset:
    """Scores of a no-flood/flood/waterbody map, with the waterbody false-positive rate.

    Per-class IoU, precision, recall, F1, their means and pixel accuracy
    (:func:`sarcube.validate.segmentation_metrics` over classes 0, 1, 2), plus
    ``waterbody_fp_rate``: the fraction of waterbody truth pixels predicted as
    flood — how often permanent water is reported as flooding. Pixels with
    *nodata* in either map are not counted. Lazy until computed.

    Examples
    --------
    >>> import xarray as xr
    >>> truth = xr.DataArray([[0, 1, 2, 2]], dims=("y", "x"))
    >>> pred = xr.DataArray([[0, 1, 1, 2]], dims=("y", "x"))
    >>> float(three_class_metrics(pred, truth)["waterbody_fp_rate"])
    0.5
    """
    metrics = segmentation_metrics(pred, truth, classes=[0, 1, 2], nodata=nodata)
    cm = metrics["confusion"]
    water_truth = cm.sel(truth=2).sum("pred")
    rate = cm.sel(truth=2, pred=1) / water_truth.where(water_truth > 0)
    metrics["waterbody_fp_rate"] = rate.drop_vars(["truth", "pred"]).assign_attrs(
        long_name="fraction of waterbody truth predicted as flood", units="1"
    )
    return metrics.assign_coords(class_name=("class", list(FLOOD_CLASSES.values())))
