"""clamp, normalise and NormConfig."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube import NormConfig
from sarcube.errors import BandNotFoundError, DimensionError, ParameterError

from conftest import raise_if_dask_computes, random_cube


def _chunked(ds: xr.Dataset, chunks: dict[str, int] | None) -> xr.Dataset:
    return ds if chunks is None else ds.chunk(chunks)


def test_clamp(chunks: dict[str, int] | None) -> None:
    cube = random_cube()
    with raise_if_dask_computes():
        out = sarcube.clamp(_chunked(cube, chunks), 0.1)
    np.testing.assert_array_equal(out["vv"].values, np.minimum(cube["vv"].values, np.float32(0.1)))
    assert out["vv"].dtype == np.float32
    assert out["vv"].attrs == cube["vv"].attrs
    assert np.isnan(out["vv"].values[0, 0, 0])
    low = sarcube.clamp(cube["vh"], 0.1, lower=0.001)
    assert float(low.min()) >= np.float32(0.001)


def test_clamp_bad_values() -> None:
    cube = random_cube()
    for bad in (0.0, -1.0, float("inf"), "x"):
        with pytest.raises(ParameterError):
            sarcube.clamp(cube, bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="lower"):
        sarcube.clamp(cube, 0.1, lower=0.2)


def test_normalise_matches_formula(chunks: dict[str, int] | None) -> None:
    cube = random_cube()
    cfg = NormConfig(clamp=0.3, mean={"vv": 0.08, "vh": 0.015}, std={"vv": 0.05, "vh": 0.01})
    with raise_if_dask_computes():
        out = sarcube.normalise(_chunked(cube, chunks), cfg)
    for band in ("vv", "vh"):
        x = np.minimum(cube[band].values, np.float32(0.3))
        expected = (x - np.float32(cfg.mean[band])) / np.float32(cfg.std[band])
        np.testing.assert_allclose(out[band].values, expected, rtol=1e-6)
        assert out[band].dtype == np.float32
        assert out[band].attrs["units"] == "1"
    xr.testing.assert_identical(out.coords.to_dataset(), cube.coords.to_dataset())


def test_normalise_without_a_clamp_is_a_plain_z_score(chunks: dict[str, int] | None) -> None:
    cube = random_cube()
    cfg = NormConfig(clamp=None, mean={"vv": 0.08, "vh": 0.015}, std={"vv": 0.05, "vh": 0.01})
    with raise_if_dask_computes():
        out = sarcube.normalise(_chunked(cube, chunks), cfg)
    for band in ("vv", "vh"):
        x = cube[band].values  # large values are not cut
        expected = (x - np.float32(cfg.mean[band])) / np.float32(cfg.std[band])
        np.testing.assert_allclose(out[band].values, expected, rtol=1e-6)
        assert out[band].attrs["long_name"] == f"{band} standardised"
    top = float(cube["vv"].max())
    assert float(out["vv"].max()) == pytest.approx((top - 0.08) / 0.05, rel=1e-5)  # not cut
    assert NormConfig.from_json(cfg.to_json()) == cfg
    stack = sarcube.infer.stack_channels(cube, bands=["vv"], times=[0], norm=cfg)
    assert "clamp" not in stack.attrs


def test_normalise_dataarray_and_missing_band() -> None:
    cube = random_cube()
    cfg = NormConfig(clamp=0.3, mean={"vv": 0.08}, std={"vv": 0.05})
    unnamed = cube["vv"].rename(None)
    with pytest.raises(BandNotFoundError, match=r"config has \['vv'\]"):
        sarcube.normalise(unnamed, cfg)
    out = sarcube.normalise(unnamed, cfg, band="vv")
    assert out.shape == unnamed.shape
    with pytest.raises(BandNotFoundError, match="'vh'"):
        sarcube.normalise(cube, cfg)
    with pytest.raises(ParameterError, match="NormConfig"):
        sarcube.normalise(cube, {"clamp": 0.3})  # type: ignore[arg-type]


def test_normconfig_json_round_trip(tmp_path: Path) -> None:
    cfg = NormConfig(clamp=0.5, mean={"vv": 0.0812, "vh": 0.0123}, std={"vv": 0.051, "vh": 0.011})
    assert NormConfig.from_json(cfg.to_json()) == cfg
    cfg.to_json(tmp_path / "norm.json")
    assert NormConfig.from_json(tmp_path / "norm.json") == cfg
    assert NormConfig.from_json(str(tmp_path / "norm.json")) == cfg


@pytest.mark.parametrize(
    "kwargs",
    [
        {"clamp": 0.0, "mean": {}, "std": {}},
        {"clamp": 0.3, "mean": {"vv": 0.1}, "std": {}},
        {"clamp": 0.3, "mean": {"vv": 0.1}, "std": {"vv": 0.0}},
        {"clamp": 0.3, "mean": {"vv": float("nan")}, "std": {"vv": 0.1}},
    ],
)
def test_normconfig_validates(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ParameterError):
        NormConfig(**kwargs)


def test_normconfig_from_stats(chunks: dict[str, int] | None) -> None:
    cube = _chunked(random_cube(), chunks)
    stats = sarcube.clamp_stats(cube, (0.15, 0.3), dims=("time", "y", "x"))
    cfg = NormConfig.from_stats(stats, clamp=0.3)
    assert cfg.clamp == 0.3
    assert cfg.bands == ["vv", "vh"]
    expected = np.nanmean(np.minimum(cube["vh"].values.astype(np.float64), 0.3))
    assert cfg.mean["vh"] == pytest.approx(expected, rel=1e-9)
    # normalising with its own statistics gives mean 0, std 1
    z = sarcube.normalise(cube, cfg).compute()
    assert float(z["vv"].mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(z["vv"].std()) == pytest.approx(1.0, rel=1e-4)

    with pytest.raises(ParameterError, match=r"available: \[0.15, 0.3\]"):
        NormConfig.from_stats(stats, clamp=0.5)
    with pytest.raises(DimensionError, match="time"):
        NormConfig.from_stats(sarcube.clamp_stats(cube, (0.3,)), clamp=0.3)


def test_normconfig_from_dataarray_stats_uses_its_name() -> None:
    cube = random_cube()
    cfg = NormConfig.from_stats(sarcube.clamp_stats(cube["vh"], (0.3,), dims=("time", "y", "x")))
    assert cfg.bands == ["vh"]
    out = sarcube.normalise(cube["vh"], cfg)
    assert float(out.mean()) == pytest.approx(0.0, abs=1e-5)
