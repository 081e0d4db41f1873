"""InSAR post-processing on a synthetic interferogram with a known deformation field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import dask.array as dsa
import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from PIL import Image
from shapely.geometry import Point, box

from sarcube import insar, plot
from sarcube.errors import (
    DimensionError,
    DTypeError,
    GridMismatchError,
    ParameterError,
    UnitsError,
)

from conftest import raise_if_dask_computes

matplotlib.use("Agg")

S1 = insar.RADAR_WAVELENGTHS_M["Sentinel-1"]
CRS = "EPSG:32611"
PIXEL = 100.0
X0, Y0 = 500_000.0, 3_800_000.0  # outer top-left corner
#: A constant LOS offset: an interferogram is relative to an unknown reference.
LOS_OFFSET = 0.012
CHUNKS = [None, {"y": 7, "x": 9}, {"y": 16, "x": -1}, {"y": -1, "x": 5}]


def _grid(ny: int, nx: int) -> tuple[np.ndarray, np.ndarray]:
    y = Y0 - PIXEL * (np.arange(ny) + 0.5)
    x = X0 + PIXEL * (np.arange(nx) + 0.5)
    return y, x


def _vertical(x: Any, y: Any) -> Any:
    """Two subsidence bowls (m, positive up), nearly zero over most of the scene."""
    bowls = ((X0 + 2_500, Y0 - 2_000, -0.06, 500.0), (X0 + 6_000, Y0 - 4_000, -0.04, 400.0))
    out = 0.0 * x
    for xc, yc, amplitude, sigma in bowls:
        out = out + amplitude * np.exp(-((x - xc) ** 2 + (y - yc) ** 2) / (2 * sigma**2))
    return out


def _scene(ny: int = 60, nx: int = 80) -> dict[str, Any]:
    """Unwrapped phase (float32, radians) of the bowls, the incidence and the truth."""
    y, x = _grid(ny, nx)
    xx, yy = np.meshgrid(x, y)
    vertical = _vertical(xx, yy)
    incidence = np.broadcast_to(np.linspace(30.0, 45.0, nx), (ny, nx))  # across range
    los = vertical * np.cos(np.radians(incidence))
    phase = (-4 * np.pi / S1 * (los + LOS_OFFSET)).astype(np.float32)
    coords = {"y": y, "x": x}
    phase_da = xr.DataArray(
        phase, dims=("y", "x"), coords=coords, name="unw_phase", attrs={"units": "radians"}
    ).rio.write_crs(CRS)
    inc_da = xr.DataArray(incidence.astype(np.float32), dims=("y", "x"), coords=coords)
    return {"phase": phase_da, "incidence": inc_da.rio.write_crs(CRS), "vertical": vertical}


# --------------------------------------------------------------------------
# phase to displacement


def test_sign_convention() -> None:
    """Positive LOS displacement = towards the satellite = negative phase (ISCE2/MintPy)."""
    towards = 0.01  # m of range shortening
    phase = xr.DataArray([[-4 * np.pi / S1 * towards, 4 * np.pi / S1 * towards]], dims=("y", "x"))
    los = insar.phase_to_displacement(phase, wavelength=S1)
    np.testing.assert_allclose(los.values, [[towards, -towards]], rtol=1e-12)
    # pure uplift of 1 cm seen at 40 degrees: LOS = 1 cm * cos(40) -> vertical back to +1 cm
    vertical = insar.los_to_vertical(los.isel(x=[0]), 40.0, reference=None)
    np.testing.assert_allclose(vertical.values, [[towards / math.cos(math.radians(40))]])
    # one radian of phase is λ/(4π) metres
    one = insar.phase_to_displacement(xr.DataArray([[1.0]], dims=("y", "x")), wavelength=0.2)
    assert float(one[0, 0]) == pytest.approx(-0.2 / (4 * np.pi), rel=1e-12)


def test_wavelength_sources() -> None:
    phase = xr.DataArray(np.full((2, 3), -np.pi, np.float32), dims=("y", "x"))

    def quarter(**attrs: Any) -> float:
        return float(insar.phase_to_displacement(phase.assign_attrs(**attrs))[0, 0])

    assert quarter(wavelength=0.2) == pytest.approx(0.05, rel=1e-6)
    assert quarter(WAVELENGTH=0.2) == pytest.approx(0.05, rel=1e-6)  # MintPy spelling
    assert quarter(radar_wavelength=0.1) == pytest.approx(0.025, rel=1e-6)
    assert quarter(platform="Sentinel-1A") == pytest.approx(S1 / 4, rel=1e-6)
    assert quarter(mission="S1B") == pytest.approx(S1 / 4, rel=1e-6)
    assert quarter(sensor="ALOS-2") == pytest.approx(0.2384035 / 4, rel=1e-6)
    assert quarter(platform="ALOS") == pytest.approx(0.2362 / 4, rel=1e-6)
    assert quarter(platform="NISAR") == pytest.approx(0.2384035 / 4, rel=1e-6)
    assert quarter(center_frequency=5.405) == pytest.approx(S1 / 4, rel=1e-6)  # STAC GHz
    assert abs(S1 - 0.05546576) < 1e-8  # 5.405 GHz
    # the argument wins over the attrs
    with_attr = phase.assign_attrs(platform="ALOS")
    assert float(insar.phase_to_displacement(with_attr, wavelength=0.1)[0, 0]) == pytest.approx(
        0.025, rel=1e-6
    )
    # a scalar platform coordinate (as sarcube.load keeps STAC metadata) is read too
    coord = phase.assign_coords(platform="sentinel-1a")
    assert float(insar.phase_to_displacement(coord)[0, 0]) == pytest.approx(S1 / 4, rel=1e-6)

    with pytest.raises(ParameterError, match="pass wavelength="):
        insar.phase_to_displacement(phase)
    with pytest.raises(ParameterError, match="no wavelength known for platform='TerraSAR-X'"):
        insar.phase_to_displacement(phase.assign_attrs(platform="TerraSAR-X"))
    with pytest.raises(ParameterError, match="in metres"):
        insar.phase_to_displacement(phase, wavelength=5.55)  # centimetres
    with pytest.raises(ParameterError, match="> 0"):
        insar.phase_to_displacement(phase, wavelength=-0.05)


def test_nodata_mask_and_metadata() -> None:
    scene = _scene(12, 16)
    phase = scene["phase"].copy()
    phase.values[0, :4] = 0.0  # HyP3 writes 0 outside the swath
    swath = xr.ones_like(phase, dtype=bool)
    swath.values[-1, :] = False

    los = insar.phase_to_displacement(phase, wavelength=S1, nodata=0, mask=swath)
    assert np.isnan(los.values[0, :4]).all() and np.isnan(los.values[-1]).all()
    assert np.isfinite(los.values[1:-1]).all()
    assert los.dtype == np.float32
    assert los.attrs["units"] == "m" and "towards the satellite" in los.attrs["long_name"]
    assert los.attrs["wavelength"] == S1
    assert los.rio.crs == phase.rio.crs
    np.testing.assert_array_equal(los["x"].values, phase["x"].values)

    # nodata from the attrs, and it is not carried to the output
    from_attr = insar.phase_to_displacement(phase.assign_attrs(_FillValue=0.0), wavelength=S1)
    assert np.isnan(from_attr.values[0, :4]).all() and "_FillValue" not in from_attr.attrs
    # both declared: _FillValue wins, as in rioxarray (and in coregister)
    both = insar.phase_to_displacement(
        phase.assign_attrs(_FillValue=0.0, nodata=9.0), wavelength=S1
    )
    assert np.isnan(both.values[0, :4]).all() and np.isfinite(both.values[1:]).all()
    assert not {"_FillValue", "nodata"} & set(both.attrs)
    kept = insar.phase_to_displacement(phase, wavelength=S1)  # no nodata: 0 is a phase
    assert np.isfinite(kept.values).all()

    with pytest.raises(GridMismatchError, match="reproject_match"):
        insar.phase_to_displacement(phase, wavelength=S1, mask=swath.isel(x=slice(1, None)))
    with pytest.raises(DTypeError, match="boolean"):
        insar.phase_to_displacement(phase, wavelength=S1, mask=swath.astype(np.uint8))
    with pytest.raises(UnitsError, match="already a displacement"):
        insar.phase_to_displacement(los)
    with pytest.raises(DTypeError, match="Dataset"):
        insar.phase_to_displacement(phase.to_dataset(), wavelength=S1)
    with pytest.raises(DimensionError):
        insar.phase_to_displacement(phase.rename(x="lon"), wavelength=S1)
    with pytest.raises(DTypeError, match="unwrap it first"):
        insar.phase_to_displacement(np.exp(1j * phase), wavelength=S1)


# --------------------------------------------------------------------------
# LOS to vertical


@pytest.mark.parametrize("chunks", CHUNKS)
def test_recovers_vertical(chunks: dict[str, int] | None) -> None:
    """The bowls come back within 0.1 mm, lazily, identically for every chunking."""
    scene = _scene()
    phase, incidence = scene["phase"], scene["incidence"]
    if chunks is not None:
        phase, incidence = phase.chunk(chunks), incidence.chunk({"y": 11, "x": 13})
    with raise_if_dask_computes():
        los = insar.phase_to_displacement(phase.assign_attrs(platform="Sentinel-1A"))
        vertical = insar.los_to_vertical(los, incidence)
    assert isinstance(vertical.data, dsa.Array) == (chunks is not None)
    assert vertical.dims == ("y", "x") and vertical.rio.crs == scene["phase"].rio.crs
    assert vertical.attrs["units"] == "m" and "positive up" in vertical.attrs["long_name"]
    # the truth is ~0 over most of the scene, so the median reference removes the offset
    np.testing.assert_allclose(vertical.values, scene["vertical"], rtol=0, atol=1e-4)
    reference = insar.los_to_vertical(
        insar.phase_to_displacement(scene["phase"], wavelength=S1), scene["incidence"]
    )
    np.testing.assert_array_equal(vertical.values, reference.values)


@pytest.mark.parametrize("chunks", CHUNKS)
def test_median_reference(chunks: dict[str, int] | None) -> None:
    """The median is exact (np.nanmedian of the plane), per plane, for every chunking."""
    rng = np.random.default_rng(3)
    values = rng.normal(0.01, 0.02, size=(3, 30, 41)).astype(np.float32)
    values[0, :10, :] = np.nan  # a swath edge: more than a chunk
    values[1, 5, 5] = np.nan
    values[2] = np.nan  # a plane without data stays NaN, without a warning
    los = xr.DataArray(values, dims=("pair", "y", "x"), attrs={"units": "m"})
    data = los if chunks is None else los.chunk({"pair": 2, **chunks})
    with raise_if_dask_computes():
        out = insar.los_to_vertical(data, 30.0)
    medians = np.array([np.nanmedian(values[0]), np.nanmedian(values[1])])
    expected = (values[:2] - medians[:, None, None].astype(np.float32)) / np.float32(
        math.cos(math.radians(30))
    )
    np.testing.assert_allclose(out.values[:2], expected, rtol=1e-6)
    assert np.isnan(out.values[2]).all()
    plain = insar.los_to_vertical(los, 30.0)
    np.testing.assert_array_equal(out.values, plain.values)  # bit-identical for any chunking

    shifted = insar.los_to_vertical(data, 30.0, reference=0.01)
    np.testing.assert_allclose(
        shifted.values, (values - 0.01) / math.cos(math.radians(30)), rtol=1e-5, atol=1e-9
    )
    assert shifted.attrs["reference"] == "LOS value 0.01"
    none = insar.los_to_vertical(data, 30.0, reference=None)
    np.testing.assert_allclose(none.values, values / math.cos(math.radians(30)), rtol=1e-6)


def test_incidence_checks() -> None:
    scene = _scene(10, 12)
    los = insar.phase_to_displacement(scene["phase"], wavelength=S1)
    for bad in (0.0, 90.0, 95.0, -10.0):
        with pytest.raises(ParameterError, match=r"\(0, 90\) degrees"):
            insar.los_to_vertical(los, bad)
    steep = scene["incidence"].copy()
    steep.values[3, 3] = 91.0
    with pytest.raises(ParameterError, match="91"):
        insar.los_to_vertical(los, steep)
    lazy = insar.los_to_vertical(los.chunk({"y": 5}), steep.chunk({"y": 5}))  # no compute yet
    with pytest.raises(ParameterError, match="91"):
        lazy.compute()
    with pytest.raises(UnitsError, match=r"np\.degrees"):
        insar.los_to_vertical(los, np.radians(scene["incidence"]).assign_attrs(units="rad"))
    with pytest.raises(GridMismatchError):
        insar.los_to_vertical(los, scene["incidence"].isel(y=slice(2, None)))
    with pytest.raises(UnitsError, match="phase_to_displacement"):
        insar.los_to_vertical(scene["phase"], 35.0)
    with pytest.raises(ParameterError, match="reference"):
        insar.los_to_vertical(los, 35.0, reference="mean")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# areas and points


def _pixel_box(col0: int, row0: int, ncols: int, nrows: int) -> Any:
    """A box whose edges sit a quarter pixel off the pixel edges: no centre on an edge."""
    xmin = X0 + PIXEL * (col0 + 0.25)
    ymax = Y0 - PIXEL * (row0 + 0.25)
    return box(xmin, ymax - PIXEL * nrows, xmin + PIXEL * ncols, ymax)


@pytest.mark.parametrize("chunks", [None, {"y": 7, "x": 9}])
def test_clip_to_areas(chunks: dict[str, int] | None) -> None:
    values = np.arange(40 * 50, dtype=np.float64).reshape(40, 50)
    values[:, :20] = np.nan  # an invalid strip on the left
    y, x = _grid(40, 50)
    raster = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x}).rio.write_crs(CRS)
    if chunks is not None:
        raster = raster.chunk(chunks)
    polygons = gpd.GeoDataFrame(
        {"name": ["inside", "half-invalid", "half-outside", "away"]},
        geometry=[
            _pixel_box(25, 5, 10, 8),  # 80 valid pixels
            _pixel_box(15, 20, 10, 6),  # columns 15-24: half in the NaN strip
            _pixel_box(45, 30, 10, 4),  # columns 45-54: half beyond the raster
            _pixel_box(200, 200, 3, 3),
        ],
        crs=CRS,
    ).to_crs("EPSG:4326")  # any CRS: reprojected to the raster's

    with raise_if_dask_computes(max_computes=1):
        areas, report = insar.clip_to_areas(raster, polygons, id_column="name")
    assert list(report.columns) == ["id", "n_pixels", "n_valid", "coverage", "kept"]
    assert report["n_pixels"].tolist() == [80, 60, 40, 9]
    assert report["n_valid"].tolist() == [80, 30, 20, 0]
    np.testing.assert_allclose(report["coverage"], [1.0, 0.5, 0.5, 0.0])
    assert report["kept"].tolist() == [True, False, False, False]
    assert list(areas) == ["inside"]
    inside = areas["inside"]
    assert isinstance(inside.data, dsa.Array) == (chunks is not None)
    assert inside.sizes == {"y": 9, "x": 11}  # the bounding box, one ring of outside pixels
    got = inside.values
    assert np.isfinite(got).sum() == 80
    np.testing.assert_array_equal(got[np.isfinite(got)], values[5:13, 25:35].ravel())
    assert inside.rio.crs == raster.rio.crs

    # a lower threshold keeps the half-covered areas
    areas, report = insar.clip_to_areas(raster, polygons, min_coverage=0.5)
    assert set(areas) == {0, 1, 2}  # the index is the id by default
    with pytest.raises(ParameterError, match="not unique"):
        insar.clip_to_areas(raster, polygons.assign(name="a"), id_column="name")
    with pytest.raises(ParameterError, match="set_crs"):
        insar.clip_to_areas(raster, polygons.set_crs(None, allow_override=True))
    with pytest.raises(ParameterError, match="write_crs"):
        insar.clip_to_areas(raster.drop_vars("spatial_ref"), polygons)
    with pytest.raises(ParameterError, match="min_coverage"):
        insar.clip_to_areas(raster, polygons, min_coverage=65)
    with pytest.raises(ParameterError, match="polygons"):
        insar.clip_to_areas(
            raster, polygons.to_crs(CRS).set_geometry(polygons.to_crs(CRS).centroid)
        )


@pytest.mark.parametrize("chunks", [None, {"y": 4, "x": 3}])
def test_sample_at_points(chunks: dict[str, int] | None) -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(12, 15))
    values[4, 6] = np.nan  # inside the first point's window
    values[0:3, 0:3] = np.nan  # a window without data
    y, x = _grid(12, 15)
    raster = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x}).rio.write_crs(CRS)
    if chunks is not None:
        raster = raster.chunk(chunks)

    def at(col: float, row: float) -> tuple[float, float]:
        return X0 + PIXEL * col, Y0 - PIXEL * row

    points = [at(5.3, 3.8), at(14.9, 11.2), at(1.5, 1.5), at(-0.2, 4.0), at(7.0, 13.0)]
    with raise_if_dask_computes(max_computes=1):
        table = insar.sample_at_points(raster, points, window=3)
    assert list(table.columns) == ["x", "y", "value", "n_valid"]
    expected: list[float] = [
        float(np.nanmean(values[2:5, 4:7])),  # NaN at (4, 6) skipped
        float(np.nanmean(values[10:12, 13:15])),  # a corner: the window is cut to 2 x 2
        np.nan,  # every pixel NaN
        np.nan,  # left of the raster
        np.nan,  # below the raster
    ]
    np.testing.assert_allclose(table["value"], expected, rtol=1e-12)
    assert table["n_valid"].tolist() == [8, 4, 0, 0, 0]

    single = insar.sample_at_points(raster, points[:2], window=1)
    np.testing.assert_allclose(single["value"], [values[3, 5], values[11, 14]])

    frame = gpd.GeoDataFrame(
        {"gauge": ["a", "b"]}, geometry=[Point(p) for p in points[:2]], crs=CRS
    ).to_crs("EPSG:4326")
    sampled = insar.sample_at_points(raster, frame)
    assert isinstance(sampled, gpd.GeoDataFrame) and sampled.crs == frame.crs
    assert sampled["gauge"].tolist() == ["a", "b"]
    np.testing.assert_allclose(sampled["value"], expected[:2], rtol=1e-12)

    with pytest.raises(ParameterError, match="odd"):
        insar.sample_at_points(raster, points, window=4)
    with pytest.raises(ParameterError, match="positive integer"):
        insar.sample_at_points(raster, points, window=0)
    with pytest.raises(DimensionError, match="isel"):
        insar.sample_at_points(raster.expand_dims(time=2), points)
    with pytest.raises(ParameterError, match="Points"):
        insar.sample_at_points(raster, frame.to_crs(CRS).set_geometry(frame.to_crs(CRS).buffer(5)))
    with pytest.raises(ParameterError, match=r"\(x, y\) pairs"):
        insar.sample_at_points(raster, [1.0, 2.0, 3.0])


# --------------------------------------------------------------------------
# gauge calibration


def test_fit_gain_offset() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 0.03, 12)
    y = 1.3 * x - 0.004
    fit = insar.fit_gain_offset(x, y)
    assert fit.gain == pytest.approx(1.3, abs=1e-12) and fit.offset == pytest.approx(-0.004)
    assert fit.n == 12 and not fit.fixed
    np.testing.assert_allclose(fit(x), y, atol=1e-15)

    x_nan, y_nan = np.r_[x, np.nan, 1.0], np.r_[y, 5.0, np.nan]
    assert insar.fit_gain_offset(x_nan, y_nan) == fit  # NaN pairs skipped

    two = insar.fit_gain_offset(x[:2], y[:2])  # too few for a gain: offset only
    assert two.fixed and two.gain == 1.0 and two.n == 2
    assert two.offset == pytest.approx(np.mean(y[:2] - x[:2]), abs=1e-15)
    fixed = insar.fit_gain_offset(x[:3], y[:3], fixed_gain=0.5, min_points_for_gain=4)
    assert fixed.fixed and fixed.gain == 0.5
    assert fixed.offset == pytest.approx(np.mean(y[:3] - 0.5 * x[:3]), abs=1e-15)
    flat = insar.fit_gain_offset([1.0, 1.0, 1.0], [2.0, 2.5, 3.0])  # no spread: no gain
    assert flat.fixed and flat.offset == pytest.approx(1.5)

    # gauges on stable ground: x spans nothing but y's noise; a fitted gain would explode
    stable_x = np.array([1e-4, -2e-4, 0.5e-4, 1.5e-4])
    stable_y = np.array([0.002, -0.001, 0.0015, -0.002]) + 0.01
    plain = insar.fit_gain_offset(stable_x, stable_y, cross_validate=False)
    assert not plain.fixed and abs(plain.gain - 1) > 1
    guarded = insar.fit_gain_offset(stable_x, stable_y)
    assert guarded.fixed and guarded.gain == 1.0
    assert guarded.offset == pytest.approx(np.mean(stable_y - stable_x), abs=1e-15)
    # with a real displacement range and small noise the gain is kept
    noisy = insar.fit_gain_offset(x, y + rng.normal(0, 0.001, x.size))
    assert not noisy.fixed and noisy.gain == pytest.approx(1.3, abs=0.05)

    field = xr.DataArray(np.ones((2, 3)), dims=("y", "x"), attrs={"units": "m"})
    applied = fit(field)
    assert isinstance(applied, xr.DataArray) and applied.attrs == {"units": "m"}
    np.testing.assert_allclose(applied.values, 1.3 - 0.004)

    with pytest.raises(ParameterError, match=">= 2"):
        insar.fit_gain_offset(x, y, min_points_for_gain=1)
    with pytest.raises(ParameterError, match="no pair"):
        insar.fit_gain_offset([np.nan], [1.0])
    with pytest.raises(ParameterError, match="length"):
        insar.fit_gain_offset(x, y[:-1])


def test_idw() -> None:
    known = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
    values = np.array([1.0, 3.0, -2.0, np.nan])  # the NaN value is skipped
    np.testing.assert_allclose(insar.idw(known, values, known[:3]), values[:3])  # exact
    query = np.array([[4.0, 1.0], [100.0, 100.0]])
    got = insar.idw(known, values, query, power=2)
    d = np.hypot(*(query[0] - known[:3]).T)
    w = d**-2.0
    assert got[0] == pytest.approx((w * values[:3]).sum() / w.sum(), rel=1e-12)
    assert values[2] < got[1] < values[1]  # far away: a weighted mean of all
    mid = insar.idw([[0, 0], [2, 0]], [1.0, 3.0], [[1, 0]], power=3)
    assert mid.tolist() == [2.0]
    assert np.isnan(insar.idw(known[:1], [np.nan], query)).all()
    with pytest.raises(ParameterError, match="power"):
        insar.idw(known, values, query, power=0)
    with pytest.raises(ParameterError, match="values"):
        insar.idw(known, values[:2], query)


def test_farthest_point_splits() -> None:
    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 1000, size=(30, 2))
    splits = insar.farthest_point_splits(xy, 5, replicates=8, seed=7)
    again = insar.farthest_point_splits(xy, 5, replicates=8, seed=7)
    other = insar.farthest_point_splits(xy, 5, replicates=8, seed=8)
    assert len(splits) == 8
    for (cal, val), (cal2, val2) in zip(splits, again, strict=True):
        np.testing.assert_array_equal(cal, cal2)
        np.testing.assert_array_equal(val, val2)
        assert cal.size == 5 and val.size == 25
        assert not set(cal) & set(val) and set(cal) | set(val) == set(range(30))
        # each new point is the farthest from those chosen before it
        for k in range(1, 5):
            nearest = np.min(np.hypot(*(xy[:, None, :] - xy[cal[:k]][None]).transpose(2, 0, 1)), 1)
            assert nearest[cal[k]] == pytest.approx(nearest.max())
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(splits, other, strict=True))
    line = [[0, 0], [1, 0], [10, 0], [4, 0]]
    (cal, _), *_ = insar.farthest_point_splits(line, 3, replicates=1, seed=0)
    assert set(cal) >= {0, 2}  # the two ends of the line
    # one calibration point: the one nearest the centroid, in every replicate
    centre = int(np.argmin(np.hypot(*(xy - xy.mean(axis=0)).T)))
    for cal, val in insar.farthest_point_splits(xy, 1, replicates=4, seed=3):
        assert cal.tolist() == [centre] and val.size == 29
    with pytest.raises(ParameterError, match=r"\[1, 29\]"):
        insar.farthest_point_splits(xy, 30)
    with pytest.raises(ParameterError, match="NaN"):
        insar.farthest_point_splits(np.r_[xy, [[np.nan, 0]]], 3)


def test_accuracy_metrics() -> None:
    rng = np.random.default_rng(5)
    observed = rng.normal(size=50)
    predicted = observed + rng.normal(0.1, 0.3, size=50)
    predicted[3] = np.nan
    observed[7] = np.nan
    m = insar.accuracy_metrics(predicted, observed)
    ok = np.isfinite(predicted) & np.isfinite(observed)
    err = predicted[ok] - observed[ok]
    assert m["n"] == 48
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-12)
    assert m["mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
    assert m["bias"] == pytest.approx(np.mean(err), rel=1e-12)
    assert m["r"] == pytest.approx(np.corrcoef(predicted[ok], observed[ok])[0, 1], rel=1e-12)
    empty = insar.accuracy_metrics([np.nan], [1.0])
    assert empty["n"] == 0 and all(np.isnan(empty[k]) for k in ("rmse", "mae", "bias", "r"))
    assert np.isnan(insar.accuracy_metrics([1.0, 1.0], [0.0, 2.0])["r"])  # no spread


def _gauge_setup(n_gauges: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """InSAR (through the whole chain) and noisy gauges (1.5 mm) at random gauge sites."""
    scene = _scene()
    los = insar.phase_to_displacement(scene["phase"].chunk({"y": 20, "x": 20}), wavelength=S1)
    vertical = insar.los_to_vertical(los, scene["incidence"])
    rng = np.random.default_rng(6)
    xy = np.column_stack(
        [X0 + rng.uniform(300, 7_700, n_gauges), Y0 - rng.uniform(300, 5_700, n_gauges)]
    )
    at_gauges = insar.sample_at_points(vertical, xy, window=3)["value"].to_numpy()
    gauges = _vertical(xy[:, 0], xy[:, 1]) + rng.normal(0, 0.0015, n_gauges)
    return at_gauges, gauges, xy


def test_gauge_density_experiment(tmp_path: Path) -> None:
    at_gauges, gauges, xy = _gauge_setup()
    at_gauges = at_gauges + 0.005  # an unknown reference offset the gauges must remove
    sizes = (2, 3, 5, 8)
    table = insar.gauge_density_experiment(
        at_gauges, gauges, xy, n_calibration=sizes, replicates=6, seed=1
    )
    assert table.shape == (len(sizes) * 6 * 2, 12)
    assert list(table.columns) == [
        "n_calibration", "replicate", "method", "rmse", "mae", "bias", "r", "n",
        "n_total", "gain", "offset", "gain_fixed",
    ]  # fmt: skip
    assert (table["n_total"] == 40).all()
    rows = table[table["method"] == "insar"]
    # below three gauges the gain is held and the offset removes the +5 mm reference error
    two = rows[rows["n_calibration"] == 2]
    assert (two["gain"] == 1.0).all() and two["gain_fixed"].all()
    assert np.allclose(two["offset"], -0.005, atol=0.003)
    assert table.loc[table["method"] == "idw", "gain"].isna().all()
    assert set(table["method"]) == {"insar", "idw"}
    assert (table["n"] == 40 - table["n_calibration"]).all()
    median = table.groupby(["n_calibration", "method"])["rmse"].median().unstack()
    # calibrated InSAR sees the bowls between the gauges; interpolating gauges does not
    assert (median["insar"] < 0.5 * median["idw"]).all()
    assert (median["insar"] < 0.004).all()  # near the gauge noise (1.5 mm)
    again = insar.gauge_density_experiment(
        at_gauges, gauges, xy, n_calibration=sizes, replicates=6, seed=1
    )
    pd.testing.assert_frame_equal(table, again)
    # a NaN gauge is left out
    with_nan = insar.gauge_density_experiment(
        np.r_[at_gauges, np.nan], np.r_[gauges, 0.0], np.r_[xy, [[X0, Y0]]], n_calibration=(2,)
    )
    assert (with_nan["n"] == 38).all()
    with pytest.raises(ParameterError, match=r"\[1, 39\]"):
        insar.gauge_density_experiment(at_gauges, gauges, xy, n_calibration=(2, 40))
    with pytest.raises(ParameterError, match="same gauges"):
        insar.gauge_density_experiment(at_gauges[:-1], gauges, xy)

    fig = plot.accuracy_vs_density(table, metric="rmse", path=tmp_path / "density.png")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 and "rmse" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "3", "5", "8"]
    image = np.asarray(Image.open(tmp_path / "density.png"))
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    with pytest.raises(ParameterError, match="no metric"):
        plot.accuracy_vs_density(table, metric="nse")
    with pytest.raises(ParameterError, match="gauge_density_experiment"):
        plot.accuracy_vs_density(pd.DataFrame({"a": [1]}))
    with pytest.raises(ParameterError, match="area_km2"):
        plot.accuracy_vs_density(table, x="km2_per_gauge")


def test_gauge_density_experiment_fixed_gain_and_area(tmp_path: Path) -> None:
    """With InSAR of the opposite sign, a held gain of −1 calibrates two gauges; +1 cannot."""
    at_gauges, gauges, xy = _gauge_setup()
    flipped = -at_gauges
    kwargs: dict[str, Any] = {"n_calibration": (2,), "replicates": 6, "seed": 1}
    plain = insar.gauge_density_experiment(flipped, gauges, xy, **kwargs)
    held = insar.gauge_density_experiment(flipped, gauges, xy, fixed_gain=-1.0, **kwargs)
    rmse = {
        name: t.loc[t["method"] == "insar", "rmse"].median()
        for name, t in (("plain", plain), ("held", held))
    }
    assert rmse["held"] < 0.004 < rmse["plain"]
    assert (held.loc[held["method"] == "insar", "gain"] == -1.0).all()
    table = insar.gauge_density_experiment(
        at_gauges, gauges, xy, n_calibration=(2, 4, 8), replicates=3, area_km2=48.0
    )
    assert np.allclose(table["km2_per_gauge"], 48.0 / table["n_calibration"])
    assert (table["area_km2"] == 48.0).all()
    fig = plot.accuracy_vs_density(table, x="km2_per_gauge", path=tmp_path / "area.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "km²" in ax.get_xlabel()
    assert ax.get_xlim()[0] > ax.get_xlim()[1]  # densest on the right
    for bad in ({"fixed_gain": math.nan}, {"area_km2": 0.0}, {"area_km2": "48"}):
        with pytest.raises(ParameterError):
            insar.gauge_density_experiment(at_gauges, gauges, xy, **kwargs, **bad)


def test_phase_to_displacement_in_cm_and_mm() -> None:
    phase = xr.DataArray([[-np.pi, 2 * np.pi, np.nan]], dims=("y", "x"), attrs={"platform": "S1A"})
    metres = insar.phase_to_displacement(phase)
    for units, factor in (("cm", 100.0), ("mm", 1000.0)):
        out = insar.phase_to_displacement(phase, units=units)
        assert out.attrs["units"] == units
        assert out.attrs["wavelength"] == metres.attrs["wavelength"]  # still metres
        np.testing.assert_allclose(out.values, metres.values * factor, rtol=1e-6)
    # the vertical component keeps the unit
    vertical = insar.los_to_vertical(insar.phase_to_displacement(phase, units="cm"), 30.0)
    assert vertical.attrs["units"] == "cm"
    with pytest.raises(ParameterError, match="units must be one of"):
        insar.phase_to_displacement(phase, units="km")  # type: ignore[arg-type]
