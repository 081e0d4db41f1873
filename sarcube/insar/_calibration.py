"""Calibrating InSAR with gauges, and how many gauges it takes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from .._checks import check_int, is_real
from ..errors import ParameterError

__all__ = [
    "GainOffset",
    "accuracy_metrics",
    "farthest_point_splits",
    "fit_gain_offset",
    "gauge_density_experiment",
    "idw",
]

# --------------------------------------------------------------------------
# gauge calibration


def _vector(values: ArrayLike, name: str, func: str) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{func}: {name} must be numbers, got {type(values).__name__}"
        ) from None
    if out.ndim != 1:
        raise ParameterError(f"{func}: {name} must be 1-D, got shape {out.shape}")
    return out


def _points(values: ArrayLike, name: str, func: str) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"{func}: {name} must be (x, y) pairs") from None
    if out.size == 0:
        out = out.reshape(0, 2)
    if out.ndim != 2 or out.shape[1] != 2:
        raise ParameterError(f"{func}: {name} must have shape (n, 2), got {out.shape}")
    return out


@dataclass(frozen=True)
class GainOffset:
    """A linear calibration ``y = gain · x + offset``, from :func:`fit_gain_offset`.

    Calling it applies it: ``fit(insar)`` works on numbers, numpy arrays and
    (lazily) on DataArrays.

    Attributes
    ----------
    gain, offset
        The slope and intercept (offset in the units of ``y``).
    n
        Number of finite pairs it was fitted on.
    fixed
        ``True`` when the gain was held fixed (too few points) and only the
        offset fitted.

    Examples
    --------
    >>> fit = fit_gain_offset([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])
    >>> fit.gain, fit.offset, fit.fixed
    (2.0, 1.0, False)
    >>> fit(np.array([3.0, 4.0])).tolist()  # applies y = 2 x + 1
    [7.0, 9.0]
    """

    gain: float
    offset: float
    n: int
    fixed: bool

    @overload
    def __call__(self, x: xr.DataArray) -> xr.DataArray: ...

    @overload
    def __call__(self, x: float | np.ndarray | Sequence[float]) -> np.ndarray: ...

    def __call__(self, x: Any) -> Any:
        """``gain · x + offset``; DataArrays keep their coords and attrs."""
        if isinstance(x, xr.DataArray):
            out = x * self.gain + self.offset
            out.attrs = dict(x.attrs)
            return out
        return np.asarray(x, dtype=float) * self.gain + self.offset


def _press_line(x: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out squared prediction error of the least-squares line (PRESS)."""
    x_mean = x.mean()
    spread = float(((x - x_mean) ** 2).sum())
    gain = float(((x - x_mean) * (y - y.mean())).sum()) / spread
    residual = y - (y.mean() + gain * (x - x_mean))
    leverage = 1 / x.size + (x - x_mean) ** 2 / spread
    if np.any(leverage >= 1 - 1e-12):  # a point the others cannot predict at all
        return math.inf
    return float(((residual / (1 - leverage)) ** 2).sum())


def fit_gain_offset(
    x: ArrayLike,
    y: ArrayLike,
    *,
    fixed_gain: float = 1.0,
    min_points_for_gain: int = 3,
    cross_validate: bool = True,
) -> GainOffset:
    """Least-squares fit of ``y = a·x + b`` (pairs with a NaN are skipped).

    With fewer than *min_points_for_gain* finite pairs (or no spread in *x*)
    the gain is held at *fixed_gain* and only the offset is fitted,
    ``b = mean(y − a·x)``: two gauges cannot tell a gain error from noise,
    but they do fix the InSAR reference offset.

    With more points the gain is fitted too, unless *cross_validate* finds
    that it does not pay: a few gauges on stable ground span almost no
    displacement, and a gain fitted to them amplifies their noise without
    bound. The gain is then kept only if the line predicts each point from
    the others better than the offset-only model does (leave-one-out
    prediction error, PRESS; Allen 1974, Stone 1974).

    Parameters
    ----------
    x, y
        1-D arrays of equal length, e.g. InSAR at the gauges and the gauge
        changes (same units).
    fixed_gain
        The gain used when it is not fitted.
    min_points_for_gain
        Fewest points (≥ 2) with which the gain is fitted.
    cross_validate
        Choose between the line and the offset-only model by leave-one-out
        error; ``False`` always fits the line from *min_points_for_gain* on.

    Returns
    -------
    GainOffset
        ``fixed`` tells whether the gain was held at *fixed_gain*.

    References
    ----------
    Allen, D. M. (1974). The relationship between variable selection and data
    augmentation and a method for prediction. *Technometrics* 16, 125–127.
    Stone, M. (1974). Cross-validatory choice and assessment of statistical
    predictions. *J. R. Stat. Soc. B* 36, 111–147.

    Examples
    --------
    >>> fit_gain_offset([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])
    GainOffset(gain=2.0, offset=1.0, n=3, fixed=False)
    >>> fit_gain_offset([0.0, 1.0], [1.0, 3.0])
    GainOffset(gain=1.0, offset=1.5, n=2, fixed=True)
    """
    func = "fit_gain_offset"
    xv, yv = _vector(x, "x", func), _vector(y, "y", func)
    if xv.shape != yv.shape:
        raise ParameterError(
            f"{func}: x and y differ in length ({xv.size} vs {yv.size}); pass one y per x"
        )
    check_int(
        min_points_for_gain, "min_points_for_gain", func, minimum=2, hint="a slope needs two points"
    )
    gain0 = float(fixed_gain)
    if not math.isfinite(gain0):
        raise ParameterError(f"{func}: fixed_gain must be finite, got {fixed_gain!r}")
    ok = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[ok], yv[ok]
    n = int(xv.size)
    if n == 0:
        raise ParameterError(f"{func}: no pair of finite x and y values; check the inputs")
    x_mean, y_mean = float(xv.mean()), float(yv.mean())
    spread = float(((xv - x_mean) ** 2).sum())
    offset0 = float((yv - gain0 * xv).mean())
    fit_line = n >= min_points_for_gain and spread > 0
    if fit_line and cross_validate:
        # offset only: each point left out moves the mean offset by e_i / (n - 1)
        press_fixed = float((((yv - gain0 * xv - offset0) * n / (n - 1)) ** 2).sum())
        fit_line = _press_line(xv, yv) < press_fixed
    if fit_line:
        gain = float(((xv - x_mean) * (yv - y_mean)).sum()) / spread
        return GainOffset(gain=gain, offset=y_mean - gain * x_mean, n=n, fixed=False)
    return GainOffset(gain=gain0, offset=offset0, n=n, fixed=True)


def idw(
    xy_known: ArrayLike,
    values: ArrayLike,
    xy_query: ArrayLike,
    *,
    power: float = 2.0,
) -> np.ndarray:
    """Inverse-distance-weighted interpolation (Shepard 1968), exact at the known points.

    ``v(q) = Σ wᵢ vᵢ / Σ wᵢ`` with ``wᵢ = 1 / dist(q, pᵢ)^power`` over all known
    points with a finite value; a query on a known point gets its value (the
    mean where several coincide). Memory grows as queries × known points,
    processed in blocks of 4096 queries.

    Parameters
    ----------
    xy_known
        ``(n, 2)`` coordinates of the known points.
    values
        ``(n,)`` values there; NaN values are skipped.
    xy_query
        ``(m, 2)`` coordinates to interpolate at (same CRS).
    power
        Distance exponent, > 0.

    Returns
    -------
    numpy.ndarray
        ``(m,)`` interpolated values (all NaN when no known value is finite).

    References
    ----------
    Shepard, D. (1968). A two-dimensional interpolation function for
    irregularly-spaced data. *Proc. 23rd ACM National Conference*, 517–524.

    Examples
    --------
    >>> idw([[0, 0], [2, 0]], [1.0, 3.0], [[1, 0], [2, 0]]).tolist()
    [2.0, 3.0]
    """
    func = "idw"
    known = _points(xy_known, "xy_known", func)
    vals = _vector(values, "values", func)
    query = _points(xy_query, "xy_query", func)
    if vals.size != known.shape[0]:
        raise ParameterError(
            f"{func}: {known.shape[0]} known points but {vals.size} values; pass one value each"
        )
    try:
        p = float(power)
    except (TypeError, ValueError):
        p = math.nan
    if not math.isfinite(p) or p <= 0:
        raise ParameterError(f"{func}: power must be finite and > 0, got {power!r}")
    ok = np.isfinite(vals) & np.isfinite(known).all(axis=1)
    known, vals = known[ok], vals[ok]
    out = np.full(query.shape[0], np.nan)
    if known.shape[0] == 0:
        return out
    for start in range(0, query.shape[0], 4096):
        q = query[start : start + 4096]
        dist = np.hypot(q[:, None, 0] - known[None, :, 0], q[:, None, 1] - known[None, :, 1])
        exact = dist == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(exact, 0.0, dist**-p)
            estimate = (weights * vals).sum(axis=1) / weights.sum(axis=1)
            hits = exact.sum(axis=1)
            at_known = (exact * vals).sum(axis=1) / np.maximum(hits, 1)
        out[start : start + 4096] = np.where(hits > 0, at_known, estimate)
    return out


def farthest_point_splits(
    xy: ArrayLike,
    n_calibration: int,
    *,
    replicates: int = 10,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Calibration/validation splits that spread the calibration points out.

    Farthest-point sampling (Gonzalez 1985): start from a random point, then
    repeatedly add the point farthest from those already chosen (ties: the
    lowest index). The other points are the validation set. Replicates
    differ in their random start, drawn from ``numpy.random.default_rng(seed)``,
    so the splits are reproducible. With one calibration point there is no
    spread to seek: it is the **centre point**, the one nearest the centroid
    of all points (ties: the lowest index), the same in every replicate.

    Parameters
    ----------
    xy
        ``(n, 2)`` finite point coordinates.
    n_calibration
        Calibration points per split, ``1 ≤ n_calibration < n``.
    replicates
        Number of splits.
    seed
        Seed of the random starts.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        One ``(calibration indices, validation indices)`` pair per replicate;
        the calibration indices in the order chosen, the validation ones
        sorted.

    References
    ----------
    Gonzalez, T. F. (1985). Clustering to minimize the maximum intercluster
    distance. *Theoretical Computer Science* 38, 293–306.

    Examples
    --------
    >>> xy = [[0, 0], [1, 0], [10, 0], [5, 0]]
    >>> [(c.tolist(), v.tolist()) for c, v in farthest_point_splits(xy, 2, replicates=1)]
    [([3, 0], [1, 2])]
    >>> [c.tolist() for c, _ in farthest_point_splits(xy, 1, replicates=2)]  # the centre point
    [[3], [3]]
    """
    func = "farthest_point_splits"
    pts = _points(xy, "xy", func)
    n = pts.shape[0]
    if not np.isfinite(pts).all():
        raise ParameterError(f"{func}: xy holds NaN or infinite coordinates; drop those points")
    n_calibration = check_int(n_calibration, "n_calibration", func)
    if not 1 <= n_calibration < n:
        raise ParameterError(
            f"{func}: n_calibration must be in [1, {n - 1}] for {n} points (one at least is "
            f"left for validation), got {n_calibration}"
        )
    replicates = check_int(replicates, "replicates", func, minimum=1)
    rng = np.random.default_rng(seed)
    splits = []
    centre = int(np.argmin(np.hypot(*(pts - pts.mean(axis=0)).T)))
    for _ in range(replicates):
        chosen = [centre if n_calibration == 1 else int(rng.integers(n))]
        nearest = np.hypot(*(pts - pts[chosen[0]]).T)
        for _ in range(int(n_calibration) - 1):
            nxt = int(np.argmax(nearest))
            chosen.append(nxt)
            nearest = np.minimum(nearest, np.hypot(*(pts - pts[nxt]).T))
        cal = np.asarray(chosen, dtype=np.int64)
        val = np.setdiff1d(np.arange(n, dtype=np.int64), cal)
        splits.append((cal, val))
    return splits


def accuracy_metrics(predicted: ArrayLike, observed: ArrayLike) -> dict[str, float]:
    """RMSE, MAE, bias, Pearson r and n over the pairs where both are finite.

    ``bias = mean(predicted − observed)``. With no pair every metric is NaN;
    ``r`` is NaN with fewer than two pairs or no spread in either.

    Examples
    --------
    >>> m = accuracy_metrics([1.0, 2.0, 4.0, np.nan], [1.0, 3.0, 3.0, 0.0])
    >>> {k: round(v, 4) for k, v in m.items()}
    {'rmse': 0.8165, 'mae': 0.6667, 'bias': 0.0, 'r': 0.7559, 'n': 3}
    """
    func = "accuracy_metrics"
    p, o = _vector(predicted, "predicted", func), _vector(observed, "observed", func)
    if p.shape != o.shape:
        raise ParameterError(
            f"{func}: predicted and observed differ in length ({p.size}, {o.size}); pass one "
            "observation per prediction"
        )
    ok = np.isfinite(p) & np.isfinite(o)
    p, o = p[ok], o[ok]
    n = int(p.size)
    if n == 0:
        return {"rmse": math.nan, "mae": math.nan, "bias": math.nan, "r": math.nan, "n": 0}
    err = p - o
    r = math.nan
    if n >= 2:
        dp, do = p - p.mean(), o - o.mean()
        denominator = math.sqrt(float((dp**2).sum()) * float((do**2).sum()))
        if denominator > 0:
            r = float((dp * do).sum()) / denominator
    return {
        "rmse": math.sqrt(float((err**2).mean())),
        "mae": float(np.abs(err).mean()),
        "bias": float(err.mean()),
        "r": r,
        "n": n,
    }


def _labels(labels: Any, columns: list[str], func: str) -> dict[str, str | int | float]:
    """The *labels* of a table: string names, one scalar each, no clash with its columns."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise ParameterError(
            f"{func}: labels must be a mapping such as {{'dem': 'COP30'}}, got {labels!r}"
        )
    for key, value in labels.items():
        if not isinstance(key, str) or key in columns:
            raise ParameterError(
                f"{func}: label {key!r} must be a name that is not one of the table's columns "
                f"{columns}"
            )
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ParameterError(
                f"{func}: label {key!r} must be one string or number, got {value!r}"
            )
    return dict(labels)


def gauge_density_experiment(
    insar_at_gauges: ArrayLike,
    gauge_change: ArrayLike,
    gauge_xy: ArrayLike,
    *,
    n_calibration: Sequence[int] = (2, 3, 5, 8, 13),
    replicates: int = 20,
    seed: int = 0,
    fixed_gain: float = 1.0,
    area_km2: float | None = None,
    labels: Mapping[str, str | int | float] | None = None,
) -> pd.DataFrame:
    """How accuracy at independent gauges grows with the number of calibration gauges.

    For each number of calibration gauges *k* and each replicate, a
    farthest-point split (:func:`farthest_point_splits`, the same random
    starts for every *k*) picks *k* calibration gauges; the others validate.
    Two predictions of the validation gauges are scored with
    :func:`accuracy_metrics`:

    ``"insar"``
        InSAR calibrated on the calibration gauges with
        :func:`fit_gain_offset` (offset only below three gauges, and where a
        gain does not pass its cross-validation).
    ``"idw"``
        The gauge-only baseline: :func:`idw` of the calibration gauges' changes.

    Gauges with a NaN in any input are left out first.

    Parameters
    ----------
    insar_at_gauges
        ``(n,)`` InSAR displacement at the gauges, e.g. the ``value`` column
        of :func:`sample_at_points` on :func:`los_to_vertical`'s output.
    gauge_change
        ``(n,)`` change measured by each gauge over the interferogram's dates,
        in the same units.
    gauge_xy
        ``(n, 2)`` gauge coordinates in a projected CRS.
    n_calibration
        Numbers of calibration gauges; each must leave at least one for
        validation.
    replicates
        Splits per number of calibration gauges.
    seed
        Seed of the splits.
    fixed_gain
        The gain :func:`fit_gain_offset` holds when it fits the offset only
        (below three gauges, or when the fitted gain does not pay). 1 when
        InSAR and gauges measure the same quantity with the same sign; −1
        when one sign convention is the other's opposite (e.g. LOS positive
        towards the satellite against a water level that rises as the
        ground subsides).
    area_km2
        Area the gauges cover (km²). With it, the table also has
        ``area_km2`` and ``km2_per_gauge`` (area ÷ calibration gauges), the
        density that transfers between study areas.
    labels
        Columns of one value each that say which run the table is, e.g.
        ``{"dem": "COP30", "corr": "GACOS", "pair": "20230105_20230117"}``;
        they come first, so that the tables of several DEMs, corrections and
        pairs concatenate into one (and :func:`density_summary` can group by
        them).

    Returns
    -------
    pandas.DataFrame
        One row per (n_calibration, replicate, method) with columns
        ``n_calibration``, ``replicate``, ``method``, ``rmse``, ``mae``,
        ``bias``, ``r``, ``n`` (validation gauges), ``n_total`` (usable
        gauges), ``gain``, ``offset`` and ``gain_fixed`` (the calibration of
        the ``"insar"`` rows; NaN / None for ``"idw"``), and with *area_km2*
        the two area columns, after the *labels* columns; for
        :func:`sarcube.plot.accuracy_vs_density`.

    Examples
    --------
    Twenty gauges over 10 km, InSAR seeing 0.8 of the gauges' change plus an offset:

    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 10_000, size=(20, 2))
    >>> change = 2e-6 * xy[:, 0]
    >>> insar = 0.8 * change + 0.01 + rng.normal(0, 0.001, 20)
    >>> table = gauge_density_experiment(insar, change, xy, n_calibration=(2, 5), replicates=5)
    >>> len(table), sorted(set(table["method"]))
    (20, ['idw', 'insar'])
    >>> rmse = table.groupby(["n_calibration", "method"])["rmse"].median()
    >>> bool(rmse[2, "insar"] < rmse[2, "idw"])  # with two gauges InSAR beats interpolation
    True
    >>> labelled = gauge_density_experiment(insar, change, xy, n_calibration=(2,), replicates=2,
    ...                                     labels={"dem": "COP30", "corr": "none"})
    >>> list(labelled.columns[:4])
    ['dem', 'corr', 'n_calibration', 'replicate']
    """
    func = "gauge_density_experiment"
    insar = _vector(insar_at_gauges, "insar_at_gauges", func)
    gauge = _vector(gauge_change, "gauge_change", func)
    xy = _points(gauge_xy, "gauge_xy", func)
    if not insar.size == gauge.size == xy.shape[0]:
        raise ParameterError(
            f"{func}: insar_at_gauges ({insar.size}), gauge_change ({gauge.size}) and gauge_xy "
            f"({xy.shape[0]}) must describe the same gauges"
        )
    if not is_real(fixed_gain):
        raise ParameterError(f"{func}: fixed_gain must be a finite number, got {fixed_gain!r}")
    if area_km2 is not None and (not is_real(area_km2) or area_km2 <= 0):
        raise ParameterError(f"{func}: area_km2 must be a positive number of km², got {area_km2!r}")
    columns = ["n_calibration", "replicate", "method", "rmse", "mae", "bias", "r", "n"]
    columns += ["n_total", "gain", "offset", "gain_fixed"]
    if area_km2 is not None:
        columns += ["area_km2", "km2_per_gauge"]
    tags = _labels(labels, columns, func)
    ok = np.isfinite(insar) & np.isfinite(gauge) & np.isfinite(xy).all(axis=1)
    insar, gauge, xy = insar[ok], gauge[ok], xy[ok]
    sizes = [int(k) for k in n_calibration]
    if not sizes:
        raise ParameterError(f"{func}: n_calibration is empty; pass e.g. (2, 3, 5)")
    too_many = [k for k in sizes if not 1 <= k < insar.size]
    if too_many:
        raise ParameterError(
            f"{func}: n_calibration {too_many} leave no validation gauge among the "
            f"{insar.size} usable gauges; pass values in [1, {insar.size - 1}]"
        )
    rows: list[dict[str, Any]] = []
    for k in sizes:
        for rep, (cal, val) in enumerate(
            farthest_point_splits(xy, k, replicates=replicates, seed=seed)
        ):
            fit = fit_gain_offset(insar[cal], gauge[cal], fixed_gain=float(fixed_gain))
            predictions = {
                "insar": (fit(insar[val]), fit),
                "idw": (idw(xy[cal], gauge[cal], xy[val]), None),
            }
            for method, (predicted, calibration) in predictions.items():
                row: dict[str, Any] = {
                    **tags,
                    "n_calibration": k,
                    "replicate": rep,
                    "method": method,
                    **accuracy_metrics(predicted, gauge[val]),
                    "n_total": int(insar.size),
                    "gain": math.nan if calibration is None else calibration.gain,
                    "offset": math.nan if calibration is None else calibration.offset,
                    "gain_fixed": None if calibration is None else calibration.fixed,
                }
                if area_km2 is not None:
                    row["area_km2"] = float(area_km2)
                    row["km2_per_gauge"] = float(area_km2) / k
                rows.append(row)
    return pd.DataFrame(rows, columns=[*tags, *columns])
