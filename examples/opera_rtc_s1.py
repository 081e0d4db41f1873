"""Real Sentinel-1 RTC backscatter: catalog the OPERA RTC-S1 GeoTIFFs, search, load, calibrate.

Run: ``python examples/opera_rtc_s1.py [OPERA_DIR] [OUT_DIR]``
(``OPERA_DIR`` defaults to ``../shared/data/opera-rtc-s1``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import sarcube

src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/opera-rtc-s1")
out = Path(sys.argv[2] if len(sys.argv) > 2 else "opera-output")

sarcube.catalog.build(src, out / "catalog", collection_id="opera-rtc-s1", overwrite=True)

# One burst, the winter 2021 acquisitions; a CQL2 filter on an item property.
items = sarcube.search(
    out / "catalog",
    datetime="2021-11/2021-12",
    filter="\"opera:burst_id\" = 'T137-292318-IW1'",
)
plan = sarcube.plan_load(items, chunks={"time": 1, "y": 64, "x": 64})
print(plan)  # what will be read, before any pixel is

cube = sarcube.load(items, chunks={"time": 1, "y": 64, "x": 64})
print(cube[["vv", "vh"]].sar.to_db().mean(("y", "x")).compute().to_dataframe()[["vv", "vh"]])

stats = sarcube.clamp_stats(cube, (0.15, 0.3, 0.5)).compute()
print(stats[["mean", "clipped_fraction"]].sel(band="vv").to_dataframe())
