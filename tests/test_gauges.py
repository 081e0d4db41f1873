"""gauge_table: the visible water-height change at gauges, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sarcube import insar
from sarcube.errors import ParameterError


def _levels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gauge": ["a", "a", "a", "b", "b", "c"],
            "time": pd.to_datetime(
                [
                    "2024-05-02 06:00",
                    "2024-05-14 05:00",
                    "2024-05-26",
                    "2024-05-02",
                    "2024-05-14",
                    "2024-05-02",
                ],
                format="ISO8601",
            ),
            "level": [9.0, 10.5, 11.0, 12.0, 13.0, 5.0],
        }
    )


def test_visible_change_is_the_change_of_water_above_ground() -> None:
    ground = pd.DataFrame(
        {"dem_a": [10.0, 10.0, 4.0], "dem_b": [9.5, 12.5, np.nan]}, index=["a", "b", "c"]
    )
    pairs = [("2024-05-02", "2024-05-14"), ("2024-05-14", "2024-05-26")]
    table = insar.gauge_table(_levels(), ground, pairs, tolerance="12h", common=False)
    first = table[(table["reference"] == "2024-05-02") & (table["variant"] == "dem_a")]
    # a: -1 m (dry) -> +0.5 m: only the 0.5 m above ground is visible
    # b: +2 m -> +3 m: 1 m; c: no reading on 05-14 -> NaN
    assert first["dh_vis"].tolist()[:2] == [0.5, 1.0] and np.isnan(first["dh_vis"].iloc[2])
    dem_b = table[(table["reference"] == "2024-05-02") & (table["variant"] == "dem_b")]
    # a: 9.5 -> 1.0 m visible; b: 12.5 -> dry (-0.5) then +0.5: 0.5
    assert dem_b["dh_vis"].tolist()[:2] == [1.0, 0.5]
    second = table[(table["reference"] == "2024-05-14") & (table["variant"] == "dem_a")]
    assert second["dh_vis"].iloc[0] == pytest.approx(0.5)  # a: 0.5 -> 1.0
    assert np.isnan(second["dh_vis"].iloc[1])  # b: no reading within 12 h of 05-26
    # the common set: the gauges with a value in every variant, per pair
    common = insar.gauge_table(_levels(), ground, pairs, tolerance="12h")
    assert sorted(common[common["reference"] == "2024-05-02"]["gauge"].unique()) == ["a", "b"]
    assert common[common["reference"] == "2024-05-14"]["gauge"].unique().tolist() == ["a"]
    assert list(common.columns) == [
        "reference",
        "secondary",
        "variant",
        "gauge",
        "ground",
        "h_reference",
        "h_secondary",
        "dh_vis",
    ]


def test_tolerance_and_a_mapping_of_ground() -> None:
    pairs = [("2024-05-02", "2024-05-14")]
    tight = insar.gauge_table(
        _levels(), {"a": 10, "b": 10, "c": 4}, pairs, tolerance="1h", common=False
    )
    assert np.isnan(tight["dh_vis"].iloc[0])  # a's readings are 5-6 h off the dates
    assert tight["dh_vis"].iloc[1] == 1.0


def test_bad_tables_are_refused() -> None:
    pairs = [("2024-05-02", "2024-05-14")]
    with pytest.raises(ParameterError, match=r"lacks the columns \['level'\]"):
        insar.gauge_table(_levels().drop(columns="level"), {"a": 1.0}, pairs)
    with pytest.raises(ParameterError, match=r"no ground elevation for gauges \['b', 'c'\]"):
        insar.gauge_table(_levels(), {"a": 1.0}, pairs)
    with pytest.raises(ParameterError, match="swap them"):
        insar.gauge_table(_levels(), {"a": 1, "b": 1, "c": 1}, [("2024-05-14", "2024-05-02")])
    with pytest.raises(ParameterError, match="tolerance must be a time span"):
        insar.gauge_table(_levels(), {"a": 1, "b": 1, "c": 1}, pairs, tolerance="soon")


def _experiment(seed: int, area_km2: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10_000, size=(14, 2))
    change = 2e-6 * xy[:, 0]
    observed = change + 0.01 + rng.normal(0, 0.002, 14)
    return insar.gauge_density_experiment(
        observed, change, xy, n_calibration=(2, 5), replicates=6, area_km2=area_km2
    )


def test_density_summary_per_area_and_over_all_areas() -> None:
    tables = {"north": _experiment(0, 100.0), "south": _experiment(1, 400.0)}
    summary = insar.density_summary(tables, metric="mae")
    assert list(summary.columns) == [
        "area", "method", "n_calibration", "median", "p05", "p95", "replicates", "km2_per_gauge"
    ]  # fmt: skip
    north = tables["north"]
    rows = north[(north["method"] == "insar") & (north["n_calibration"] == 5)]["mae"]
    got = summary[
        (summary["area"] == "north")
        & (summary["method"] == "insar")
        & (summary["n_calibration"] == 5)
    ].iloc[0]
    assert got["median"] == rows.median() and got["replicates"] == 6
    assert got["p05"] == rows.quantile(0.05) and got["km2_per_gauge"] == 20.0
    pooled = pd.concat(
        [t[(t["method"] == "idw") & (t["n_calibration"] == 2)]["mae"] for t in tables.values()]
    )
    every = summary[
        (summary["area"] == "all areas")
        & (summary["method"] == "idw")
        & (summary["n_calibration"] == 2)
    ].iloc[0]
    assert every["median"] == pooled.median() and every["replicates"] == 12
    assert every["km2_per_gauge"] == pytest.approx((50.0 + 200.0) / 2)
    with pytest.raises(ParameterError, match=r"lacks the columns \['mse'\]"):
        insar.density_summary(tables, metric="mse")
    with pytest.raises(ParameterError, match="pass another all_areas"):
        insar.density_summary({"all areas": tables["north"]})


def test_labelled_variants_concatenate_and_summarise_apart() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 10_000, size=(16, 2))
    change = 2e-6 * xy[:, 0]
    runs = []
    for corr, noise in (("none", 0.006), ("GACOS", 0.001)):
        observed = change + 0.01 + rng.normal(0, noise, 16)
        runs.append(
            insar.gauge_density_experiment(
                observed, change, xy, n_calibration=(2, 4), replicates=5, area_km2=100.0,
                labels={"dem": "COP30", "corr": corr, "pair": "20230105_20230117"},
            )
        )  # fmt: skip
    table = pd.concat(runs, ignore_index=True)
    assert list(table.columns[:4]) == ["dem", "corr", "pair", "n_calibration"]
    assert set(table["corr"]) == {"none", "GACOS"} and len(table) == 2 * 2 * 5 * 2
    summary = insar.density_summary({"north": table}, by=("corr",))
    expected = table.groupby(["corr", "method", "n_calibration"])["rmse"].median()
    got = summary[summary["area"] == "north"].set_index(["corr", "method", "n_calibration"])
    pd.testing.assert_series_equal(
        got["median"].sort_index(), expected.sort_index(), check_names=False
    )
    gacos = got.loc[("GACOS", "insar", 4), "median"]
    assert gacos < got.loc[("none", "insar", 4), "median"]  # less noise, smaller error
    with pytest.raises(ParameterError, match="not one of the table's columns"):
        insar.gauge_density_experiment(
            change, change, xy, n_calibration=(2,), replicates=1, labels={"rmse": "x"}
        )
    with pytest.raises(ParameterError, match="one string or number"):
        insar.gauge_density_experiment(
            change, change, xy, n_calibration=(2,), replicates=1, labels={"dem": ["a"]}
        )
    with pytest.raises(ParameterError, match=r"lacks the columns \['dem2'\]"):
        insar.density_summary({"north": table}, by=("dem2",))
    with pytest.raises(ParameterError, match="sequence of column names"):
        insar.density_summary({"north": table}, by="corr")
