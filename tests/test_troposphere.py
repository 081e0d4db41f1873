"""GACOS delays: read from their documented format, mapped to the LOS and removed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from pyproj import Transformer

from sarcube import insar
from sarcube.errors import DimensionError, InputNotFoundError, ParameterError

from conftest import raise_if_dask_computes


def _write_gacos(
    folder: Path, date: str, values: np.ndarray, x0: float, y0: float, step: float
) -> Path:
    """A GACOS date: raw little-endian float32 rows from the north-west, and its .rsc."""
    path = folder / f"{date}.ztd"
    values.astype("<f4").tofile(path)
    length, width = values.shape
    header = {
        "WIDTH": width,
        "FILE_LENGTH": length,
        "XMIN": 0,
        "XMAX": width,
        "YMIN": 0,
        "YMAX": length,
        "X_FIRST": x0,
        "Y_FIRST": y0,
        "X_STEP": step,
        "Y_STEP": -step,
        "X_UNIT": "degrees",
        "Y_UNIT": "degrees",
        "Z_OFFSET": 0,
        "Z_SCALE": 1,
        "PROJECTION": "LATLON",
    }
    (folder / f"{date}.ztd.rsc").write_text("".join(f"{k:<14}{v}\n" for k, v in header.items()))
    return path


def _grids(folder: Path) -> tuple[xr.DataArray, xr.DataArray]:
    lon = 14.5 + (np.arange(40) + 0.5) * 0.025
    lat = 45.5 - (np.arange(40) + 0.5) * 0.025
    lon2d, lat2d = np.meshgrid(lon, lat)
    ref = 2.40 + 0.0 * lon2d
    sec = 2.40 + 0.02 * (lon2d - 14.5) + 0.01 * (45.5 - lat2d)  # linear in lon and lat
    a = insar.read_gacos(_write_gacos(folder, "20170301", ref, 14.5, 45.5, 0.025))
    b = insar.read_gacos(_write_gacos(folder, "20170313", sec, 14.5, 45.5, 0.025))
    return a, b


def _los(chunks: int | None = None) -> xr.DataArray:
    x = 500_000.0 + (np.arange(60) + 0.5) * 200.0  # UTM 33N, inside the GACOS grid
    y = 5_010_000.0 - (np.arange(50) + 0.5) * 200.0
    rng = np.random.default_rng(0)
    los = xr.DataArray(
        rng.normal(0, 0.01, (50, 60)).astype(np.float32),
        dims=("y", "x"),
        coords={"y": y, "x": x},
        attrs={"units": "m"},
    ).rio.write_crs("EPSG:32633")
    return los.chunk({"y": chunks, "x": chunks}) if chunks else los


def test_read_gacos_from_its_format(tmp_path: Path) -> None:
    ref, sec = _grids(tmp_path)
    assert ref.shape == (40, 40) and ref.rio.crs.to_epsg() == 4326
    assert ref["x"].values[0] == pytest.approx(14.5125) and ref["y"].values[0] == pytest.approx(
        45.4875
    )
    assert float(sec[0, 0]) == pytest.approx(2.40 + 0.02 * 0.0125 + 0.01 * 0.0125, abs=1e-6)
    assert ref.attrs["units"] == "m"


@pytest.mark.parametrize("chunks", [None, 16])
def test_the_differential_slant_delay_is_removed(tmp_path: Path, chunks: int | None) -> None:
    ref, sec = _grids(tmp_path)
    los = _los(chunks)
    with raise_if_dask_computes():
        corrected = insar.troposphere_correction(los, ref, sec, incidence=40.0)
    out = corrected.values
    # expected: the delay difference at each UTM pixel centre's lon/lat, over cos 40°
    to_geo = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    xx, yy = np.meshgrid(los["x"].values, los["y"].values)
    lon, lat = to_geo.transform(xx, yy)
    delay = (0.02 * (lon - 14.5) + 0.01 * (45.5 - lat)) / np.cos(np.deg2rad(40.0))
    np.testing.assert_allclose(out, _los().values + delay, atol=2e-5)
    assert corrected.attrs["units"] == "m" and "troposphere" in corrected.attrs
    assert corrected.rio.crs.to_epsg() == 32633


def test_bad_gacos_input(tmp_path: Path) -> None:
    ref, sec = _grids(tmp_path)
    (tmp_path / "20170301.ztd.rsc").unlink()
    with pytest.raises(InputNotFoundError, match=r"\.ztd\.rsc"):
        insar.read_gacos(tmp_path / "20170301.ztd")
    np.zeros(5, "<f4").tofile(tmp_path / "20170313.ztd")
    with pytest.raises(ParameterError, match="holds 5 values"):
        insar.read_gacos(tmp_path / "20170313.ztd")
    with pytest.raises(ParameterError, match="pass metres"):
        insar.troposphere_correction(_los().assign_attrs(units="cm"), ref, sec, incidence=40.0)
    with pytest.raises(DimensionError, match="no CRS"):
        insar.troposphere_correction(_los(), ref.drop_vars("spatial_ref"), sec, incidence=40.0)
