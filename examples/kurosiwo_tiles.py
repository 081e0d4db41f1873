"""An event as Kuro Siwo tiles, for models and loaders trained on that dataset.

Kuro Siwo (Bountos et al. 2023) keeps each 224 × 224 tile of a flood event in
its own folder: the post-event image (``MS1``) and two pre-event images
(``SL1``, ``SL2``), one GeoTIFF per polarisation, the class map
``MK0_MLU.tif`` (0 no water, 1 flood, 2 permanent water) and the valid mask
``MK0_MNA.tif``, with an ``info.json``. An index maps each tile to its folder,
event (``actid``) and area (``aoiid``); the loaders select a split's tiles by
``"{actid}_{aoiid:02}"``.

This script writes a synthetic three-date event in that layout, reads it back
the way a Kuro Siwo loader does (index → records of the wanted event and area
→ the six images and the mask of a tile), checks that every tile holds the
cube's pixels, and draws one tile.

Run: ``python examples/kurosiwo_tiles.py [OUT_DIR]``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rasterio

import sarcube
from sarcube.ml import to_kurosiwo

out = Path(sys.argv[1] if len(sys.argv) > 1 else "kurosiwo-output")
out.mkdir(parents=True, exist_ok=True)

# --------------------------------------------------------------------------
# 1. an event: three dates (two before the flood, one after) and its labels

scene = sarcube.synthetic.make_scene((448, 896), seed=21)  # a swath edge at one corner
cube = scene.cube.chunk({"time": 1, "y": 224, "x": 224})
permanent = scene.landcover == 0  # open water in the synthetic land cover
flooded = scene.flood.isel(time=-1, drop=True) == 1
label = (flooded.astype("uint8") * 1 + permanent.astype("uint8") * 2).astype("uint8")
outside = cube["vv"].isel(time=-1, drop=True).isnull()
label = label.where(~outside, 255).astype("uint8")  # 255: no label where there is no image

# --------------------------------------------------------------------------
# 2. the tiles: 224², tiles with more than 20 % nodata left out; the event's two
#    areas of interest (west and east) go into one root and one index

root = out / "kurosiwo"
halves = {1: slice(0, 448), 2: slice(448, 896)}
tables = []
for aoi, columns in halves.items():
    tables.append(
        to_kurosiwo(
            cube.isel(x=columns),
            root,
            event=470,
            aoi=aoi,
            label=label.isel(x=columns),
            climatic_zone=2,
            max_nodata=0.2,
            overwrite=aoi == 1,  # the first area makes the root,
            append=aoi > 1,  # the others join it
        )
    )
index = pd.concat(tables, ignore_index=True)
print(f"{len(index)} tiles written under {root / 'data'}")
print(
    index[["tile", "row", "col", "lon", "lat", "nodata_fraction"]].round(4).to_string(index=False)
)

# --------------------------------------------------------------------------
# 3. read it back as a loader does: the index, the records of one event and area

records = json.loads((root / "index.json").read_text())
wanted = {"470_02"}  # e.g. the test split of a "Climatic" track
selected = [
    {"id": key, **value}
    for key, value in records.items()
    if f"{value['info']['actid']}_{value['info']['aoiid']:02}" in wanted
]
per_area = pd.DataFrame([r["info"] for r in records.values()]).groupby(["actid", "aoiid"]).size()
print("\ntiles per (event, area):\n", per_area.to_string())
print(f"tiles selected for {sorted(wanted)}: {len(selected)}")


def read(folder: Path, name: str) -> np.ndarray:
    with rasterio.open(folder / f"{name}.tif") as src:
        return src.read(1)


rows = []
for record in selected:
    folder = root / "data" / record["path"]
    info = json.loads((folder / "info.json").read_text())
    x0 = halves[info["aoiid"]].start + info["col"]  # rows and columns are the area's own
    window = {"y": slice(info["row"], info["row"] + 224), "x": slice(x0, x0 + 224)}
    for role, t in (("MS1", -1), ("SL1", -2), ("SL2", -3)):
        for band in ("vv", "vh"):
            expected = cube[band].isel({"time": t, **window}).values
            np.testing.assert_array_equal(read(folder, f"{role}_I{band.upper()}"), expected)
    classes, valid = read(folder, "MK0_MLU"), read(folder, "MK0_MNA").astype(bool)
    np.testing.assert_array_equal(classes[valid], label.isel(window).values[valid])
    rows.append(
        {
            "tile": record["id"],
            "flood": float((classes[valid] == 1).mean()),
            "permanent water": float((classes[valid] == 2).mean()),
            "valid": float(valid.mean()),
        }
    )
summary = pd.DataFrame(rows)
summary.to_csv(out / "tile_classes.csv", index=False)
print("\nclass fractions per tile (of its valid pixels):")
print(summary.round(3).to_string(index=False))
print("every tile holds the cube's pixels and labels")

# --------------------------------------------------------------------------
# 4. one tile, as a person checks it: pre and post VV in dB, and the labels

best = summary.sort_values("flood").iloc[-1]["tile"]
folder = root / "data" / records[best]["path"]
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), layout="constrained")
for ax, name, title in (
    (axes[0], "SL1_IVV", "pre-event VV (SL1)"),
    (axes[1], "MS1_IVV", "post-event VV (MS1)"),
):
    image = ax.imshow(10 * np.log10(read(folder, name)), cmap="gray", vmin=-25, vmax=-5)
    ax.set_title(title)
fig.colorbar(image, ax=axes[:2], label="dB", shrink=0.8)
colours = matplotlib.colors.ListedColormap(["#bdbdbd", "#d7301f", "#2171b5"])
classes = np.ma.masked_where(read(folder, "MK0_MNA") == 0, read(folder, "MK0_MLU"))
axes[2].imshow(classes, cmap=colours, vmin=-0.5, vmax=2.5, interpolation="nearest")
axes[2].set_title("MK0_MLU (white: no label)")
handles = [
    matplotlib.patches.Patch(color=c, label=n)
    for c, n in zip(colours.colors, ["no water", "flood", "permanent water"], strict=True)
]
axes[2].legend(handles=handles, loc="lower right", fontsize=7)
for ax in axes:
    ax.set_axis_off()
fig.suptitle(f"tile {best}")
fig.savefig(out / "kurosiwo_tile.png", dpi=110)
print(f"\nfigure: {out / 'kurosiwo_tile.png'}")
