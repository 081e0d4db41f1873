"""Make docs/_static/filters_opera.png: the speckle filters on real Sentinel-1 RTC data.

Run from the repository root: ``python docs/scripts/filter_figure.py [OPERA_DIR]``
(default ``../shared/data/opera-rtc-s1``). One OPERA RTC-S1 burst crop
(100 x 100 pixels of 30 m, the one with the most contrast), VV linear power,
filtered lazily with 40-pixel chunks and shown in dB.
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
        Path(tmp) / "catalog",
        datetime="2022-11-14",
        filter="\"opera:burst_id\" = 'T137-292319-IW2'",
        bands="vv",
        chunks={"y": 40, "x": 40},
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
        "TV Chambolle in dB (weight 1.5)": sarcube.tv_denoise(vv, weight=1.5, halo=16),
        "TV split Bregman in dB (weight 0.5)": sarcube.tv_denoise(
            vv, weight=0.5, method="bregman", halo=16
        ),
    }
    images = {name: sarcube.to_db(da).values for name, da in panels.items()}

lo, hi = np.nanpercentile(images["original"], [2, 98])
fig, axes = plt.subplots(2, 4, figsize=(13, 7), layout="constrained")
for ax, (name, img) in zip(axes.ravel(), images.items(), strict=True):
    shown = ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_title(name, fontsize=10)
    ax.set_axis_off()
fig.colorbar(shown, ax=axes, shrink=0.6, label="VV backscatter (dB)")
fig.suptitle(
    f"OPERA RTC-S1 burst T137-292319-IW2 (Sentinel-1, 30 m), 2022-11-14; estimated ENL {enl:.1f}"
)
fig.savefig(out, dpi=80)
print(
    f"wrote {out} (ENL {enl:.2f}, {images['original'].shape[0]}x{images['original'].shape[1]} px)"
)
