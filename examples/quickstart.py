"""Quick start: a synthetic flood event through the whole foundation chain.

Run: ``python examples/quickstart.py [OUT_DIR]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import sarcube

out = Path(sys.argv[1] if len(sys.argv) > 1 else "quickstart-output")
event = sarcube.synthetic.write_event(out / "event", (512, 512), overwrite=True)
cube = sarcube.open_cube(event.catalog, datetime="2024-05", chunks={"time": 1, "y": 256, "x": 256})
print(cube)

db = cube.sar.to_db()  # lazy, units="dB"
print("mean VV per date (dB):", db["vv"].mean(("y", "x")).values.round(2))

stats = cube.sar.clamp_stats((0.15, 0.3, 0.5), dims=("time", "y", "x")).compute()
print(stats["clipped_fraction"].to_pandas())

config = sarcube.NormConfig.from_stats(stats, clamp=0.3)
config.to_json(out / "norm.json")
normalised = cube.sar.normalise(config)  # clamp, then (x - mean) / std
sarcube.to_zarr(normalised, out / "normalised.zarr", mode="w")
print("written:", out / "norm.json", out / "normalised.zarr")
