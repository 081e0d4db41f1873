"""Gauge tables: the water-level change an interferogram can see at each gauge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._checks import is_instance
from ..errors import ParameterError

__all__ = ["density_summary", "gauge_table"]

_LEVEL_COLUMNS = ("gauge", "time", "level")


def _levels(levels: Any, func: str) -> pd.DataFrame:
    if not isinstance(levels, pd.DataFrame):
        raise ParameterError(
            f"{func}: levels must be a pandas DataFrame with columns {list(_LEVEL_COLUMNS)}, "
            f"got {type(levels).__name__}"
        )
    missing = [c for c in _LEVEL_COLUMNS if c not in levels.columns]
    if missing:
        raise ParameterError(
            f"{func}: levels lacks the columns {missing}; it needs {list(_LEVEL_COLUMNS)} "
            "(one row per gauge reading)"
        )
    frame = levels.loc[:, list(_LEVEL_COLUMNS)].copy()
    try:
        frame["time"] = pd.to_datetime(frame["time"], format="ISO8601")
    except (ValueError, TypeError) as err:
        raise ParameterError(
            f"{func}: levels['time'] must hold ISO 8601 dates or datetimes: {err}"
        ) from err
    frame["level"] = pd.to_numeric(frame["level"], errors="coerce")
    return frame.sort_values("time")


def _ground(ground: Any, gauges: Sequence[Any], func: str) -> pd.DataFrame:
    """One column per ground variant (e.g. DEM), indexed by gauge."""
    if isinstance(ground, pd.DataFrame):
        frame = ground.copy()
        if "gauge" in frame.columns:
            frame = frame.set_index("gauge")
    elif isinstance(ground, Mapping):
        frame = pd.DataFrame({"ground": pd.Series(dict(ground), dtype=float)})
    else:
        raise ParameterError(
            f"{func}: ground must be a mapping {{gauge: elevation}} or a DataFrame with one "
            f"column per ground variant (e.g. per DEM), got {type(ground).__name__}"
        )
    if frame.shape[1] == 0:
        raise ParameterError(f"{func}: ground has no elevation column")
    unknown = sorted(set(map(str, gauges)) - set(map(str, frame.index)))
    if unknown:
        raise ParameterError(
            f"{func}: no ground elevation for gauges {unknown[:5]}; give one per gauge "
            "(NaN where it is unknown)"
        )
    frame.index = frame.index.map(str)
    return frame.apply(pd.to_numeric, errors="coerce")


def _pairs(pairs: Any, func: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    out = []
    try:
        for reference, secondary in pairs:
            ref, sec = pd.Timestamp(reference), pd.Timestamp(secondary)
            if not ref < sec:
                raise ParameterError(
                    f"{func}: pair ({reference}, {secondary}): the reference date must come "
                    "before the secondary date; swap them"
                )
            out.append((ref, sec))
    except (TypeError, ValueError) as err:
        if isinstance(err, ParameterError):
            raise
        raise ParameterError(
            f"{func}: pairs must be (reference date, secondary date) tuples: {err}"
        ) from err
    if not out:
        raise ParameterError(f"{func}: give at least one (reference, secondary) pair")
    return out


def _level_at(frame: pd.DataFrame, when: pd.Timestamp, tolerance: pd.Timedelta) -> pd.Series:
    """Each gauge's reading nearest to *when*, within *tolerance* (NaN without one)."""
    out = {}
    for gauge, readings in frame.groupby("gauge", sort=False):
        gap = (readings["time"] - when).abs()
        nearest = gap.idxmin()
        out[str(gauge)] = readings.at[nearest, "level"] if gap[nearest] <= tolerance else np.nan
    return pd.Series(out, dtype=float)


def gauge_table(
    levels: pd.DataFrame,
    ground: Mapping[Any, float] | pd.DataFrame,
    pairs: Sequence[tuple[Any, Any]],
    *,
    tolerance: str | pd.Timedelta = "1D",
    common: bool = True,
) -> pd.DataFrame:
    """The change in visible water height at each gauge, per interferogram pair and ground variant.

    Radar sees the ground where it is dry and the water surface where it is
    flooded, so what an interferogram can measure at a gauge is the change in
    the height of water *above the ground*: with ``h = level − ground``,

    ``dh_vis = max(h_secondary, 0) − max(h_reference, 0)``.

    Parameters
    ----------
    levels
        Gauge readings, one row each: ``gauge``, ``time`` (datetimes or ISO
        8601 text) and ``level`` (water surface elevation, in the units of
        *ground*).
    ground
        Ground elevation at each gauge: ``{gauge: elevation}``, or a DataFrame
        (indexed by gauge, or with a ``gauge`` column) with one column per
        variant, e.g. one per DEM or per correction, to compare them.
    pairs
        ``(reference, secondary)`` dates of the interferograms.
    tolerance
        The reading used for a date is the one nearest to it within this
        time; without one the gauge has no value for that pair.
    common
        Keep only the (pair, gauge) rows with a value in every variant, so the
        variants are compared on the same gauges; ``False`` keeps all rows.

    Returns
    -------
    pandas.DataFrame
        One row per pair, variant and gauge: ``reference``, ``secondary``,
        ``variant``, ``gauge``, ``ground``, ``h_reference``, ``h_secondary``
        (water above ground, negative when dry) and ``dh_vis``.

    Examples
    --------
    >>> import pandas as pd
    >>> levels = pd.DataFrame({
    ...     "gauge": ["a", "a", "b", "b"],
    ...     "time": ["2024-05-02", "2024-05-14"] * 2,
    ...     "level": [9.0, 10.5, 12.0, 13.0],
    ... })
    >>> table = gauge_table(levels, {"a": 10.0, "b": 10.0}, [("2024-05-02", "2024-05-14")])
    >>> table[["gauge", "h_reference", "h_secondary", "dh_vis"]].values.tolist()
    [['a', -1.0, 0.5, 0.5], ['b', 2.0, 3.0, 1.0]]
    """
    func = "gauge_table"
    frame = _levels(levels, func)
    frame["gauge"] = frame["gauge"].map(str)
    gauges = sorted(frame["gauge"].unique())
    variants = _ground(ground, gauges, func)
    wanted = _pairs(pairs, func)
    try:
        window = pd.Timedelta(tolerance)
    except (TypeError, ValueError) as err:
        raise ParameterError(
            f"{func}: tolerance must be a time span such as '1D' or '6h', got {tolerance!r}"
        ) from err
    if window < pd.Timedelta(0):
        raise ParameterError(f"{func}: tolerance must be >= 0, got {tolerance!r}")
    rows = []
    for reference, secondary in wanted:
        at_ref = _level_at(frame, reference, window).reindex(gauges)
        at_sec = _level_at(frame, secondary, window).reindex(gauges)
        for variant in variants.columns:
            elevation = variants[variant].reindex(gauges)
            h_ref, h_sec = at_ref - elevation, at_sec - elevation
            rows.append(
                pd.DataFrame(
                    {
                        "reference": reference,
                        "secondary": secondary,
                        "variant": str(variant),
                        "gauge": gauges,
                        "ground": elevation.to_numpy(),
                        "h_reference": h_ref.to_numpy(),
                        "h_secondary": h_sec.to_numpy(),
                        "dh_vis": (h_sec.clip(lower=0) - h_ref.clip(lower=0)).to_numpy(),
                    }
                )
            )
    table = pd.concat(rows, ignore_index=True)
    if common:
        valid = table.groupby(["reference", "secondary", "gauge"])["dh_vis"].transform(
            lambda v: bool(np.isfinite(v).all())
        )
        table = table[valid.astype(bool)].reset_index(drop=True)
    return table


def density_summary(
    tables: Mapping[str, pd.DataFrame],
    *,
    metric: str = "rmse",
    all_areas: str = "all areas",
    by: Sequence[str] = (),
) -> pd.DataFrame:
    """Per area and over all areas: a metric of the gauge-density experiment per gauge count.

    Parameters
    ----------
    tables
        ``{area: table}``, each the output of
        :func:`~sarcube.insar.gauge_density_experiment` for one study area.
    metric
        The column summarised (``rmse``, ``mae``, ``bias``, ``r``).
    all_areas
        The ``area`` label of the rows that pool the replicates of every area.
    by
        Further columns to keep apart, e.g. the ``labels`` of the experiment
        (``("dem", "corr")``) when each table holds several DEM or correction
        variants.

    Returns
    -------
    pandas.DataFrame
        One row per area (then *all_areas*), *by* value, method and
        ``n_calibration``:
        ``median``, ``p05`` and ``p95`` of *metric* over the replicates, their
        number ``replicates``, and ``km2_per_gauge`` (mean) when the tables
        have it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> tables = {}
    >>> for area in ("north", "south"):
    ...     xy = rng.uniform(0, 10_000, size=(12, 2))
    ...     change = 2e-6 * xy[:, 0]
    ...     insar = change + 0.01 + rng.normal(0, 0.001, 12)
    ...     tables[area] = gauge_density_experiment(insar, change, xy, n_calibration=(2, 4),
    ...                                             replicates=4)
    >>> summary = density_summary(tables)
    >>> sorted(set(summary["area"])), int(summary["replicates"].max())
    (['all areas', 'north', 'south'], 8)
    """
    func = "density_summary"
    if not is_instance(tables, Mapping) or not tables:
        raise ParameterError(
            f"{func}: pass {{area: table}} with one gauge_density_experiment table per area"
        )
    if isinstance(by, str) or not all(isinstance(c, str) for c in by):
        raise ParameterError(f"{func}: by must be a sequence of column names, got {by!r}")
    keys = list(by)
    frames = []
    for area, table in tables.items():
        if not isinstance(table, pd.DataFrame):
            raise ParameterError(
                f"{func}: area {area!r}: expected a DataFrame, got {type(table).__name__}"
            )
        needed = ("n_calibration", "method", metric, *keys)
        missing = [c for c in needed if c not in table.columns]
        if missing:
            raise ParameterError(
                f"{func}: area {area!r} lacks the columns {missing}; pass the tables of "
                "gauge_density_experiment (metric= one of rmse, mae, bias, r; by= among "
                "its labels)"
            )
        frames.append(table.assign(area=str(area)))
    if all_areas in {str(a) for a in tables}:
        raise ParameterError(f"{func}: an area is named {all_areas!r}; pass another all_areas=")
    pooled = pd.concat(frames, ignore_index=True)
    both = pd.concat([pooled, pooled.assign(area=all_areas)], ignore_index=True)
    stats: dict[str, Any] = {
        "median": (metric, "median"),
        "p05": (metric, lambda v: v.quantile(0.05)),
        "p95": (metric, lambda v: v.quantile(0.95)),
        "replicates": (metric, "count"),
    }
    if "km2_per_gauge" in both.columns:
        stats["km2_per_gauge"] = ("km2_per_gauge", "mean")
    grouped = both.groupby(["area", *keys, "method", "n_calibration"], sort=False)
    return grouped.agg(**stats).reset_index()
