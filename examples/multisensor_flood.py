"""Multi-sensor flood mapping: a DEM and a water prior on the SAR grid, a 3-class map.

A synthetic flood scene (UTM, 20 m) is joined by a DEM and a water-occurrence
prior delivered on a geographic grid, as they come from global products. They
are co-registered lazily onto the SAR grid, stacked with SAR features into the
channels a model would see, cut into chips, and a 2-class flood map (dark
after the event) is corrected with the prior into no-flood / flood /
waterbody and scored, with the waterbody false-positive rate.

Run: ``python examples/multisensor_flood.py [OUT_DIR]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import odc.geo.xr
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_zeros

import sarcube
import sarcube.ml
from sarcube.multisensor import (
    apply_water_prior,
    coregister,
    feature_stack,
    sar_features,
    three_class_metrics,
)

out = Path(sys.argv[1] if len(sys.argv) > 1 else "multisensor-output")
out.mkdir(parents=True, exist_ok=True)
scene = sarcube.synthetic.make_scene((256, 256), seed=7, nodata_edge=False)
sar = scene.cube.chunk({"time": 1, "y": 128, "x": 128})

# Global layers on a geographic grid: a DEM sloping to the south-east and a
# water-occurrence prior (percent of time water, JRC-style) from the land cover.
bounds = sar.odc.geobox.to_crs("EPSG:4326").extent.boundingbox.buffered(0.001)
geo = GeoBox.from_bbox(bounds, "EPSG:4326", shape=(200, 260))
lat, lon = np.meshgrid(geo.coords["latitude"].values, geo.coords["longitude"].values, indexing="ij")
dem = (xr_zeros(geo, dtype="float32") + (500 + 3000 * (lat - lon)).astype("float32")).rename(
    latitude="y", longitude="x"
)
dem.attrs = {"units": "m", "long_name": "elevation"}
permanent = (scene.landcover == 0).astype(np.uint8) * 95  # on the SAR grid: warp it out and back
prior_geo = odc.geo.xr.xr_reproject(permanent, geo, resampling="nearest", dst_nodata=255).rename(
    latitude="y", longitude="x"
)

layers = coregister({"DEM": dem, "water_occurrence": prior_geo}, sar)
print(layers)

post = sar.isel(time=-1)
features = sar_features(post)
stack = feature_stack(
    xr.merge([features, layers]),
    ["vv_db", "vh_db", "co_cross_difference_db", "DEM", "water_occurrence"],
    label=scene.flood.isel(time=-1),
)
index = sarcube.ml.to_chips(
    stack,
    out / "chips",
    bands=stack.attrs["channels"],
    size=128,
    label=stack["label"],
    overwrite=True,
)
print(f"{len(index)} chips written to {out / 'chips'}")

# A 2-class map that also marks permanent water (dark VV after the event) …
threshold = sarcube.threshold(features["vv_db"], method="otsu")["threshold"]
dark = (features["vv_db"] <= threshold).astype(np.uint8)
# … corrected with the prior, and scored against the 3-class truth.
truth = xr.where(scene.landcover == 0, 2, scene.flood.isel(time=-1)).astype(np.uint8)
for mode in ("reconstruct", "suppress", "both"):
    classes = apply_water_prior(dark, layers["water_occurrence"], mode=mode)
    scores = three_class_metrics(classes, truth).compute()
    print(
        f"{mode:>11}: mIoU {float(scores['miou']):.3f}, flood IoU "
        f"{float(scores['iou'].sel({'class': 1})):.3f}, waterbody false-positive rate "
        f"{float(scores['waterbody_fp_rate']):.3f}"
    )
