"""Make docs/_static/regional_thresholds.png: global against regional flood thresholds.

Run from the repository root: ``python docs/scripts/regional_figure.py``. The
scene is :func:`sarcube.synthetic.two_landscapes` (1024 x 2048 pixels): water
at −22 dB among land at −10 dB on the left, water at −2 dB among land at +6 dB
on the right. Panels: the post-event image, the regional threshold surface of
the post image (usable regions outlined), and the maps with one global
threshold and with regional thresholds (region_size 256).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch, Rectangle

import sarcube
from sarcube.regional import interpolate

REGION = 256
out = Path(__file__).resolve().parents[1] / "_static" / "regional_thresholds.png"

pre, post, truth = sarcube.synthetic.two_landscapes((1024, 2048), seed=0)
surface = sarcube.flood_thresholds(pre, post, region_size=REGION).compute()
maps = {
    "one global threshold": sarcube.flood_map(pre, post).values,
    f"regional thresholds ({REGION} px regions)": sarcube.flood_map(
        pre, post, thresholds=surface
    ).values,
}
grid = surface["post_threshold"].values
threshold = interpolate(grid, 0, 0, *post.shape, REGION)

fig, axes = plt.subplots(2, 2, figsize=(11, 6.2), constrained_layout=True)
image = axes[0, 0].imshow(10 * np.log10(post.values), cmap="gray", vmin=-30, vmax=10)
axes[0, 0].set_title("post-event VV (dB)")
fig.colorbar(image, ax=axes[0, 0], shrink=0.8, label="dB")
shown = axes[0, 1].imshow(threshold, cmap="viridis")
axes[0, 1].set_title("post threshold surface (dB); usable regions outlined")
fig.colorbar(shown, ax=axes[0, 1], shrink=0.8, label="dB")
usable = surface["post_usable"].values
for i, j in zip(*np.nonzero(usable), strict=True):
    axes[0, 1].add_patch(
        Rectangle((j * REGION, i * REGION), REGION, REGION, fill=False, ec="white", lw=0.8)
    )
colours = ListedColormap(["#d9d9d9", "#1f4e9c", "#d62728"])  # dry, flood, missed
for ax, (title, flooded) in zip(axes[1], maps.items(), strict=True):
    flood = flooded == 1
    iou = (flood & truth.values).sum() / (flood | truth.values).sum()
    shown_map = np.where(flood, 1, np.where(truth.values, 2, 0))
    ax.imshow(shown_map, cmap=colours, vmin=0, vmax=2, interpolation="nearest")
    ax.set_title(f"{title}: flood IoU {iou:.2f}")
legend = [
    Patch(color="#d9d9d9", label="dry"),
    Patch(color="#1f4e9c", label="mapped flood"),
    Patch(color="#d62728", label="missed flood"),
]
axes[1, 1].legend(handles=legend, loc="lower right", fontsize=8, framealpha=0.9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.savefig(out, dpi=90)
print(f"wrote {out}")
