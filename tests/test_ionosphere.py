"""The ionospheric correction on ISCE2-style rasters written from their documented format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rioxarray
import xarray as xr

from sarcube import insar
from sarcube.errors import DimensionError, ParameterError, UnitsError

from conftest import raise_if_dask_computes

_GDAL_TYPES = {np.dtype("<f4"): "Float32", np.dtype("<c8"): "CFloat32"}


def _write_isce(
    path: Path, bands: list[np.ndarray], west: float, north: float, step: float
) -> Path:
    """An ISCE2 product: raw little-endian bands interleaved by line, and the .vrt it writes.

    ISCE2 stores each image as a flat binary file (band-interleaved by line
    for the two-band ``.unw``: amplitude then phase) and writes a GDAL VRT of
    raw raster bands beside it, with the geotransform for geocoded products.
    """
    stack = np.stack(bands, axis=1)  # (rows, bands, cols): one line of each band in turn
    dtype = stack.dtype.newbyteorder("<")
    stack.astype(dtype).tofile(path)
    rows, n, cols = stack.shape
    item = dtype.itemsize
    band_xml = "".join(
        f'<VRTRasterBand dataType="{_GDAL_TYPES[dtype]}" band="{b + 1}" '
        'subClass="VRTRawRasterBand">'
        f'<SourceFilename relativeToVRT="1">{path.name}</SourceFilename>'
        f"<ByteOrder>LSB</ByteOrder><ImageOffset>{b * cols * item}</ImageOffset>"
        f"<PixelOffset>{item}</PixelOffset><LineOffset>{n * cols * item}</LineOffset>"
        "</VRTRasterBand>"
        for b in range(n)
    )
    vrt = path.with_name(path.name + ".vrt")
    vrt.write_text(
        f'<VRTDataset rasterXSize="{cols}" rasterYSize="{rows}"><SRS>EPSG:4326</SRS>'
        f"<GeoTransform>{west}, {step}, 0.0, {north}, 0.0, {-step}</GeoTransform>"
        f"{band_xml}</VRTDataset>"
    )
    return vrt


WEST, NORTH, STEP = 130.0, 33.0, 0.001
SHAPE = (48, 64)


def _ion_plane(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A smooth dispersive phase, linear in lon and lat (radians)."""
    return 2.0 + 40.0 * (lon - WEST) - 25.0 * (NORTH - lat)


def _products(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(5)
    rows, cols = SHAPE
    lon = WEST + (np.arange(cols) + 0.5) * STEP
    lat = NORTH - (np.arange(rows) + 0.5) * STEP
    phase = rng.uniform(-20, 20, SHAPE).astype("<f4")
    phase[:, :5] = 0.0  # ISCE2 writes 0 outside the data
    amplitude = rng.uniform(1, 2, SHAPE).astype("<f4")
    wrapped = (amplitude * np.exp(1j * phase)).astype("<c8")
    ion = _ion_plane(*np.meshgrid(lon, lat)).astype("<f4")
    # the ionosphere at 4x coarser pixels, as ISCE2 estimates it on multilooked sub-bands
    lon4 = WEST + (np.arange(cols // 4) + 0.5) * 4 * STEP
    lat4 = NORTH - (np.arange(rows // 4) + 0.5) * 4 * STEP
    ion4 = _ion_plane(*np.meshgrid(lon4, lat4)).astype("<f4")
    return {
        "unw": _write_isce(
            folder / "filt_topophase.unw.geo", [amplitude, phase], WEST, NORTH, STEP
        ),
        "int": _write_isce(folder / "filt_topophase.flat.geo", [wrapped], WEST, NORTH, STEP),
        "ion": _write_isce(folder / "filt.ion.geo", [ion], WEST, NORTH, STEP),
        "ion4": _write_isce(folder / "filt.ion.4.geo", [ion4], WEST, NORTH, 4 * STEP),
    }


def _open(path: Path, band: int = 1, chunks: int | None = None) -> xr.DataArray:
    da = rioxarray.open_rasterio(path, chunks={"x": chunks, "y": chunks} if chunks else None)
    assert isinstance(da, xr.DataArray)
    return da.sel(band=band, drop=True)


@pytest.mark.parametrize("chunks", [None, 16])
def test_unwrapped_phase_minus_the_dispersive_phase(tmp_path: Path, chunks: int | None) -> None:
    files = _products(tmp_path)
    phase = _open(files["unw"], band=2, chunks=chunks).rio.write_nodata(0.0)
    ion = _open(files["ion"], chunks=chunks)
    with raise_if_dask_computes():
        corrected = insar.ionosphere_correction(phase, ion)
    raw, screen = _open(files["unw"], band=2).values, _open(files["ion"]).values
    expected = np.where(raw == 0, np.nan, raw - screen)
    np.testing.assert_array_equal(corrected.values, expected.astype(np.float32))
    assert corrected.dtype == np.float32 and "ionosphere" in corrected.attrs
    assert "_FillValue" not in corrected.attrs and corrected.rio.crs.to_epsg() == 4326
    # and it is what phase_to_displacement then reads
    los = insar.phase_to_displacement(corrected, wavelength=0.05546576)
    assert np.isnan(los.values[:, :5]).all() and np.isfinite(los.values[:, 5:]).all()


def test_complex_and_wrapped_phase_are_rewrapped(tmp_path: Path) -> None:
    files = _products(tmp_path)
    z = _open(files["int"], chunks=16)
    ion = _open(files["ion"])
    corrected = insar.ionosphere_correction(z, ion)
    assert corrected.dtype == np.complex64
    zv, screen = _open(files["int"]).values, ion.values
    np.testing.assert_allclose(np.abs(corrected.values), np.abs(zv), rtol=1e-6)
    # the corrected angle equals the wrapped difference (compared on the circle)
    expected = np.angle(zv) - screen
    np.testing.assert_allclose(
        np.exp(1j * np.angle(corrected.values)), np.exp(1j * expected), atol=1e-5
    )
    real = insar.ionosphere_correction(
        xr.DataArray(np.angle(zv), dims=("y", "x")),
        ion.drop_vars(["x", "y", "spatial_ref"]),
        wrapped=True,
    )
    assert float(real.min()) >= -np.pi and float(real.max()) < np.pi
    np.testing.assert_allclose(np.exp(1j * real.values), np.exp(1j * expected), atol=1e-5)


def test_a_coarser_screen_is_resampled_onto_the_phase(tmp_path: Path) -> None:
    files = _products(tmp_path)
    phase = _open(files["unw"], band=2, chunks=16)
    corrected = insar.ionosphere_correction(phase, _open(files["ion4"]))
    lon, lat = np.meshgrid(phase["x"].values, phase["y"].values)
    # bilinear on a plane is exact away from the edges (2 coarse pixels in)
    inner = (slice(8, -8), slice(8, -8))
    expected = phase.values - _ion_plane(lon, lat)
    np.testing.assert_allclose(corrected.values[inner], expected[inner], atol=2e-3)


def test_the_mask_and_missing_estimates(tmp_path: Path) -> None:
    files = _products(tmp_path)
    phase = _open(files["unw"], band=2)
    ion = _open(files["ion"])
    ion = ion.where(ion["x"] < WEST + 0.05)  # not estimated east of 130.05°
    trusted = xr.zeros_like(phase, dtype=bool) | (phase["y"] < NORTH - 0.01)
    missing = np.isnan(ion.values) | ~trusted.values
    dropped = insar.ionosphere_correction(phase, ion, mask=trusted)
    kept = insar.ionosphere_correction(phase, ion, mask=trusted, invalid="keep")
    assert np.isnan(dropped.values[missing]).all()
    np.testing.assert_array_equal(kept.values[missing], phase.values[missing])
    np.testing.assert_array_equal(kept.values[~missing], dropped.values[~missing])
    z = insar.ionosphere_correction(_open(files["int"]), ion)
    assert (z.values[np.isnan(ion.values)] == 0).all()  # ISCE2's missing value


def test_bad_ionosphere_input(tmp_path: Path) -> None:
    files = _products(tmp_path)
    phase, ion = _open(files["unw"], band=2), _open(files["ion"])
    with pytest.raises(UnitsError, match="−4π/λ"):
        insar.ionosphere_correction(phase, ion.assign_attrs(units="m"))
    with pytest.raises(UnitsError, match="a length"):
        insar.ionosphere_correction(phase.assign_attrs(units="mm"), ion)
    coarse = _open(files["ion4"]).drop_vars("spatial_ref")
    with pytest.raises(DimensionError, match="write both CRSs"):
        insar.ionosphere_correction(phase, coarse)
    with pytest.raises(ParameterError, match="invalid must be one of"):
        insar.ionosphere_correction(phase, ion, invalid="zero")  # type: ignore[arg-type]
    with pytest.raises(DimensionError, match="besides"):
        insar.ionosphere_correction(phase, ion.expand_dims(band=[1, 2]))
