"""InSAR subsidence checked against gauges: how many gauges does a calibration need?

A synthetic Sentinel-1 interferogram (HyP3-like GeoTIFF: unwrapped phase in
radians, 0 outside the swath) of two subsidence bowls, with atmospheric noise
and an unknown reference offset, goes through the whole chain:

phase → LOS displacement → vertical (median-referenced) → areas and gauges →
gauge-density experiment (calibrated InSAR vs interpolating the gauges alone).

Run: ``python examples/insar_gauges.py [OUT_DIR]`` (a temporary folder by default).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import rioxarray
import xarray as xr
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
atmosphere = ndimage.gaussian_filter(rng.normal(size=SHAPE), sigma=25)
atmosphere *= 0.003 / atmosphere.std()  # 3 mm of smooth tropospheric delay
los = vertical_true * np.cos(np.radians(incidence)) + atmosphere + 0.02  # + reference offset
wavelength = insar.RADAR_WAVELENGTHS_M["Sentinel-1"]
phase = (-4 * np.pi / wavelength * los).astype(np.float32)
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

# --------------------------------------------------------------------------
# 2. phase -> LOS displacement -> vertical, lazily on chunks

unw = rioxarray.open_rasterio(out / "unw_phase.tif", chunks={"x": 256, "y": 256})
unw = unw.squeeze("band", drop=True).assign_attrs(platform="Sentinel-1A")  # from the metadata
theta = rioxarray.open_rasterio(out / "inc_deg.tif", chunks={"x": 256, "y": 256})
theta = theta.squeeze("band", drop=True)

los_m = insar.phase_to_displacement(unw)  # nodata 0 from the file, λ from the platform
vertical = insar.los_to_vertical(los_m, theta, reference="median")
vertical.rio.to_raster(out / "vertical_m.tif")
error = (vertical - vertical_true).values
print(f"wavelength {los_m.attrs['wavelength']:.8f} m; vertical written to {out / 'vertical_m.tif'}")
print(
    f"vertical minus truth over the swath: median {1000 * np.nanmedian(error):+.1f} mm, "
    f"spread (std) {1000 * np.nanstd(error):.1f} mm (atmosphere and the reference offset)"
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
# 4. how many calibration gauges?

table = insar.gauge_density_experiment(
    sampled["value"].to_numpy(),
    sampled["change_m"].to_numpy(),
    np.column_stack([gx, gy]),  # projected coordinates for the distances
    n_calibration=(2, 3, 5, 8, 13, 21),
    replicates=20,
    seed=0,
)
table.to_csv(out / "experiment.csv", index=False)
summary = table.groupby(["n_calibration", "method"])["rmse"].median().unstack() * 1000
print("\nmedian RMSE at validation gauges (mm):\n", summary.round(1).to_string())
plot.accuracy_vs_density(table, metric="rmse", path=out / "accuracy_vs_density.png")
print(f"\nfigure: {out / 'accuracy_vs_density.png'}")
