"""InSAR subsidence checked against gauges: how many gauges does a calibration need?

A synthetic Sentinel-1 interferogram (HyP3-like GeoTIFF: unwrapped phase in
radians, 0 outside the swath) of two subsidence bowls, with atmospheric noise
and an unknown reference offset, goes through the whole chain:

phase → ionospheric correction (a split-spectrum estimate) → LOS displacement
→ tropospheric correction (GACOS zenith delays, written in their own format) →
vertical (median-referenced) → areas and gauges → gauge-density experiment
(calibrated InSAR vs interpolating the gauges alone), per area and in km² per
gauge, with and without the corrections.

Run: ``python examples/insar_gauges.py [OUT_DIR]`` (a temporary folder by default).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray
import xarray as xr
from pyproj import Transformer
from scipy import ndimage
from shapely.geometry import Point, box

from sarcube import insar, plot

CRS = "EPSG:32611"
PIXEL = 40.0  # m
SHAPE = (400, 500)  # 16 km x 20 km
X0, Y0 = 420_000.0, 3_900_000.0  # top-left corner
rng = np.random.default_rng(42)

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="insar-gauges-"))
out.mkdir(parents=True, exist_ok=True)

# --------------------------------------------------------------------------
# 1. a synthetic product: truth, incidence, phase with noise, nodata outside the swath

y = Y0 - PIXEL * (np.arange(SHAPE[0]) + 0.5)
x = X0 + PIXEL * (np.arange(SHAPE[1]) + 0.5)
xx, yy = np.meshgrid(x, y)


def true_vertical(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Two subsidence bowls (groundwater pumping), in metres, positive up."""
    bowls = [(X0 + 6_000, Y0 - 5_000, -0.09, 1_500.0), (X0 + 14_000, Y0 - 11_000, -0.05, 1_000.0)]
    total = np.zeros(np.shape(px))
    for xc, yc, amplitude, sigma in bowls:
        total += amplitude * np.exp(-((px - xc) ** 2 + (py - yc) ** 2) / (2 * sigma**2))
    return total


vertical_true = true_vertical(xx, yy)
incidence = np.broadcast_to(np.linspace(31.0, 46.0, SHAPE[1]), SHAPE).astype(np.float32)
cos_theta = np.cos(np.radians(incidence))
wavelength = insar.RADAR_WAVELENGTHS_M["Sentinel-1"]

# The troposphere: zenith total delays of both dates on a 0.005° lon/lat grid, as
# GACOS delivers them (.ztd raw little-endian float32 from the north-west, .rsc header).
to_geo = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
lon_min, lat_min, lon_max, lat_max = to_geo.transform_bounds(
    X0, Y0 - PIXEL * SHAPE[0], X0 + PIXEL * SHAPE[1], Y0
)
STEP = 0.005
west, north = np.floor(lon_min / STEP) * STEP - STEP, np.ceil(lat_max / STEP) * STEP + STEP
width = int(np.ceil((lon_max - west) / STEP)) + 2
length = int(np.ceil((north - lat_min) / STEP)) + 2
gacos_rng = np.random.default_rng(7)
for date, wet in (("20230105", 0.0), ("20230117", 1.0)):
    lon = west + (np.arange(width) + 0.5) * STEP
    ztd = 2.35 + 0.004 * wet * np.sin(lon * 40.0)[None, :]  # a wet front across the scene
    ztd = (
        ztd
        + 0.003
        * wet
        * ndimage.gaussian_filter(gacos_rng.normal(size=(length, width)), sigma=6)
        / 0.05
    )  # and kilometre-scale water vapour
    ztd.astype("<f4").tofile(out / f"{date}.ztd")
    (out / f"{date}.ztd.rsc").write_text(
        f"WIDTH {width}\nFILE_LENGTH {length}\nX_FIRST {west}\nY_FIRST {north}\n"
        f"X_STEP {STEP}\nY_STEP {-STEP}\nX_UNIT degrees\nY_UNIT degrees\n"
    )
ztd_ref = insar.read_gacos(out / "20230105.ztd")
ztd_sec = insar.read_gacos(out / "20230117.ztd")
truth_grid = xr.DataArray(np.zeros(SHAPE, np.float32), dims=("y", "x"), coords={"y": y, "x": x})
truth_grid = truth_grid.rio.write_crs(CRS).assign_attrs(units="m")
# the slant delay the interferogram carries: a longer path reads as motion away
slant = insar.troposphere_correction(
    truth_grid, ztd_ref, ztd_sec, incidence=truth_grid.copy(data=incidence)
).values
residual = ndimage.gaussian_filter(rng.normal(size=SHAPE), sigma=25)
residual *= 0.001 / residual.std()  # 1 mm of delay that GACOS does not model

# The ionosphere: a long-wavelength dispersive phase; its split-spectrum estimate has noise.
ionosphere = 1.2 * (xx - X0) / 20_000 - 0.8 * (Y0 - yy) / 16_000  # radians, ~5 mm at C band
ion_estimate = ionosphere + ndimage.gaussian_filter(rng.normal(0, 4.0, SHAPE), sigma=8)

los = vertical_true * cos_theta - slant + residual + 0.02  # + reference offset
phase = (-4 * np.pi / wavelength * los + ionosphere).astype(np.float32)
phase[xx - X0 < 1_500 + 0.15 * (Y0 - yy)] = 0.0  # the swath edge: HyP3 writes 0

coords = {"y": y, "x": x}
(
    xr.DataArray(phase, dims=("y", "x"), coords=coords)
    .rio.write_crs(CRS)
    .rio.write_nodata(0.0)
    .rio.to_raster(out / "unw_phase.tif")
)
xr.DataArray(incidence, dims=("y", "x"), coords=coords).rio.write_crs(CRS).rio.to_raster(
    out / "inc_deg.tif"
)
xr.DataArray(ion_estimate.astype(np.float32), dims=("y", "x"), coords=coords).rio.write_crs(
    CRS
).rio.to_raster(out / "ionosphere_rad.tif")

# --------------------------------------------------------------------------
# 2. phase -> LOS displacement -> vertical, lazily on chunks

unw = rioxarray.open_rasterio(out / "unw_phase.tif", chunks={"x": 256, "y": 256})
unw = unw.squeeze("band", drop=True).assign_attrs(platform="Sentinel-1A")  # from the metadata
theta = rioxarray.open_rasterio(out / "inc_deg.tif", chunks={"x": 256, "y": 256})
theta = theta.squeeze("band", drop=True)

ion = rioxarray.open_rasterio(out / "ionosphere_rad.tif").squeeze("band", drop=True)

# uncorrected, for comparison
los_raw = insar.phase_to_displacement(unw)  # nodata 0 from the file, λ from the platform
vertical_raw = insar.los_to_vertical(los_raw, theta, reference="median")
# corrected: the ionosphere on the phase, the troposphere on the displacement
los_m = insar.phase_to_displacement(insar.ionosphere_correction(unw, ion))
los_m = insar.troposphere_correction(los_m, ztd_ref, ztd_sec, incidence=theta)
vertical = insar.los_to_vertical(los_m, theta, reference="median")
vertical.rio.to_raster(out / "vertical_m.tif")
print(f"wavelength {los_m.attrs['wavelength']:.8f} m; vertical written to {out / 'vertical_m.tif'}")
for label, field in (("uncorrected", vertical_raw), ("corrected", vertical)):
    error = (field - vertical_true).values
    print(
        f"vertical minus truth, {label:>11}: median {1000 * np.nanmedian(error):+.1f} mm, "
        f"spread (std) {1000 * np.nanstd(error):.1f} mm"
    )

# --------------------------------------------------------------------------
# 3. areas of interest (in lon/lat) and gauges

areas_utm = [
    box(X0 + 4_000, Y0 - 7_000, X0 + 8_000, Y0 - 3_000),  # over the first bowl
    box(X0 + 12_000, Y0 - 13_000, X0 + 16_000, Y0 - 9_000),  # over the second
    box(X0 + 1_500, Y0 - 15_000, X0 + 5_500, Y0 - 11_000),  # across the swath edge
]
areas = gpd.GeoDataFrame({"area": ["north bowl", "south bowl", "swath edge"]}, geometry=areas_utm)
areas = areas.set_crs(CRS).to_crs("EPSG:4326")
clipped, coverage = insar.clip_to_areas(vertical, areas, id_column="area", min_coverage=0.65)
print("\ncoverage of the areas:\n", coverage.to_string(index=False))
for name, field in clipped.items():
    print(f"  {name}: lowest vertical {1000 * float(field.min()):.1f} mm")
coverage.to_csv(out / "coverage.csv", index=False)

n_gauges = 60
gx = X0 + rng.uniform(3_000, 19_500, n_gauges)
gy = Y0 - rng.uniform(500, 15_500, n_gauges)
gauges = gpd.GeoDataFrame(
    {"gauge": [f"G{i:02d}" for i in range(n_gauges)]},
    geometry=[Point(p) for p in zip(gx, gy, strict=True)],
    crs=CRS,
).to_crs("EPSG:4326")
gauges["change_m"] = true_vertical(gx, gy) + rng.normal(0, 0.002, n_gauges)  # 2 mm noise
sampled = insar.sample_at_points(vertical, gauges, window=3)
sampled.drop(columns="geometry").to_csv(out / "gauges.csv", index=False)
print(f"\nInSAR sampled at {int((sampled['n_valid'] > 0).sum())} of {n_gauges} gauges")

# --------------------------------------------------------------------------
# 4. how many calibration gauges? per area, in km² per gauge, with and without corrections

sampled_raw = insar.sample_at_points(vertical_raw, gauges, window=3)
west_half = gx < X0 + 11_250  # two study areas of the gauge network, 8.25 km x 15 km each
tables: dict[str, pd.DataFrame] = {}
for area, inside in (("west", west_half), ("east", ~west_half)):
    tables[area] = pd.concat(
        [
            insar.gauge_density_experiment(
                at_gauges["value"].to_numpy()[inside],
                gauges["change_m"].to_numpy()[inside],
                np.column_stack([gx, gy])[inside],  # projected coordinates for the distances
                n_calibration=(2, 3, 5, 8, 13),
                replicates=20,
                seed=0,
                area_km2=8.25 * 15.0,
                labels={"corr": corr, "pair": "20230105_20230117"},
            )
            for corr, at_gauges in (("ion+GACOS", sampled), ("none", sampled_raw))
        ],
        ignore_index=True,
    )
experiment = pd.concat(tables, names=["area"]).reset_index(level=0)
experiment.to_csv(out / "experiment.csv", index=False)

summary = insar.density_summary(tables, metric="rmse", by=("corr",))
summary.to_csv(out / "density_summary.csv", index=False)
pooled = summary.query("area == 'all areas'").assign(
    km2_per_gauge=lambda t: t["km2_per_gauge"].round(1)
)
pooled = pooled.pivot_table(
    index=["n_calibration", "km2_per_gauge"], columns=["corr", "method"], values="median"
)
print("\nmedian RMSE at validation gauges (mm), both areas' replicates pooled:")
print((1000 * pooled).round(1).to_string())
calibrations = experiment.query("method == 'insar' and corr == 'ion+GACOS'")
fits = calibrations.groupby("n_calibration")[["gain", "offset", "n_total"]].median()
print("\ncorrected InSAR's calibration (median over areas and replicates):")
print(fits.assign(offset_mm=1000 * fits.pop("offset")).round(3).to_string())
plot.accuracy_vs_density(
    experiment.query("corr == 'ion+GACOS'"),
    metric="rmse",
    x="km2_per_gauge",
    path=out / "accuracy_vs_density.png",
)
print(f"\nfigure: {out / 'accuracy_vs_density.png'}")
