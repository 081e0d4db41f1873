"""Make docs/_static/filters_opera.png: the speckle filters on real Sentinel-1 RTC data.

Run from the repository root: ``python docs/scripts/filter_figure.py [OPERA_DIR]``
(default ``../shared/data/opera-rtc-s1``). The 15 OPERA RTC-S1 bursts of one
acquisition are mosaicked on their common UTM grid (VV, linear power), filtered
lazily and shown in dB.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import sarcube

src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/opera-rtc-s1")
out = Path(__file__).resolve().parents[1] / "_static" / "filters_opera.png"

with tempfile.TemporaryDirectory() as tmp:
    sarcube.catalog.build(src, Path(tmp) / "catalog", collection_id="opera-rtc-s1")
    cube = sarcube.open_cube(
        Path(tmp) / "catalog", datetime="2022-11-14", bands="vv", chunks={"y": 128, "x": 128}
    )
    vv = cube["vv"].isel(time=0)
    enl = float(sarcube.estimate_enl(vv))
    panels = {
        "original": vv,
        "Lee (classic, 7×7)": sarcube.lee_filter(vv, enl=enl),
        "refined Lee": sarcube.refined_lee(vv, enl=enl),
        "Gamma-MAP (7×7)": sarcube.gamma_map_filter(vv, enl=enl),
        "Frost (7×7)": sarcube.frost_filter(vv),
        "median (5×5)": sarcube.median_filter(vv, size=5),
        "TV Chambolle in dB (weight 1.5)": sarcube.tv_denoise(vv, weight=1.5),
        "TV split Bregman in dB (weight 0.5)": sarcube.tv_denoise(vv, weight=0.5, method="bregman"),
    }
    images = {name: sarcube.to_db(da).values for name, da in panels.items()}

lo, hi = np.nanpercentile(images["original"], [2, 98])
fig, axes = plt.subplots(2, 4, figsize=(14, 7.2), layout="constrained")
for ax, (name, img) in zip(axes.ravel(), images.items(), strict=True):
    shown = ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_title(name, fontsize=10)
    ax.set_axis_off()
fig.colorbar(shown, ax=axes, shrink=0.6, label="VV backscatter (dB)")
fig.suptitle(
    f"OPERA RTC-S1 (Sentinel-1, 30 m), 2022-11-14, 15 bursts mosaicked; estimated ENL {enl:.1f}"
)
fig.savefig(out, dpi=80)
print(f"wrote {out} (ENL {enl:.2f}, {images['original'].shape[0]}x{images['original'].shape[1]} px)")
