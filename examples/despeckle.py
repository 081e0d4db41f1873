"""Despeckle real Sentinel-1 RTC backscatter lazily and compare the filters.

Run: ``python examples/despeckle.py [OPERA_DIR] [OUT_DIR]``
(``OPERA_DIR`` defaults to ``../shared/data/opera-rtc-s1``).

Builds a static catalog of the OPERA RTC-S1 sample, loads one burst's time
series in small chunks, estimates the equivalent number of looks, runs the
filters lazily (chunking does not change the result), and writes the filtered
cube to Zarr plus a figure of one date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sarcube
from sarcube.plot import image_panels

src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/opera-rtc-s1")
out = Path(sys.argv[2] if len(sys.argv) > 2 else "despeckle-output")
out.mkdir(parents=True, exist_ok=True)

sarcube.catalog.build(src, out / "catalog", collection_id="opera-rtc-s1", overwrite=True)
cube = sarcube.open_cube(
    out / "catalog",
    filter="\"opera:burst_id\" = 'T137-292319-IW2'",
    chunks={"time": 1, "y": 50, "x": 50},
)
enl = sarcube.estimate_enl(cube).compute()  # per band and date
print("estimated ENL (VV):", enl["vv"].values.round(2))

# Lazy: nothing is read until the Zarr write below.
filtered = cube.sar.lee_filter(size=7, variant="enhanced")  # ENL estimated per image
sarcube.to_zarr(filtered, out / "lee_enhanced.zarr", mode="w", progress=True)

date = -1
image_panels(
    {
        "original": cube["vv"].isel(time=date),
        "enhanced Lee": filtered["vv"].isel(time=date),
        "refined Lee": sarcube.refined_lee(cube["vv"].isel(time=date)),
        "TV in dB": sarcube.tv_denoise(cube["vv"].isel(time=date), weight=1.5),
    },
    title=f"OPERA RTC-S1 VV, {str(cube.time.values[date])[:10]}",
    path=out / "despeckle.png",
)
print("written:", out / "lee_enhanced.zarr", out / "despeckle.png")
