"""How right are sarcube's flood maps? Validation on the OMBRIA Sentinel-1 chips.

OMBRIA (Drakonakis et al. 2022) pairs 8-bit VV chips (256 × 256, dB rescaled to
0-255) before and after a flood with Copernicus EMS flood masks. The chips are
split by number: every fifth chip (number % 5 == 0) is held out, the others
were used to choose the constants of :func:`sarcube.flood_map`.

Score, per chip: the mean of the IoU of the flood class and of the no-flood
class; then the mean over chips (a class absent from both maps counts 1).

    python benchmarks/validate_ombria.py [--data ../shared/data/ombria-s1/train]
        [--variants] [--oracle] [--model] [--json out.json]

``--model`` adds the shipped bitemporal U-Net (``sarcube.models.ombria``), run
through :func:`sarcube.infer.predict` without and with flip test-time
augmentation; it was trained on the chips that are not held out.

``--oracle`` adds two upper bounds that use the labels: the best threshold per
chip on the filtered post image, and the best pair of thresholds (filtered
post, change) per chip — the ceiling of any automatic rule of that form.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

import sarcube
from sarcube.models import ombria

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ombria-s1" / "train"
)

CONFIGS: dict[str, dict[str, Any]] = {"flood_map": {}}
VARIANTS: dict[str, dict[str, Any]] = {
    "flood_map ki": {"method": "ki"},
    "flood_map tiled": {"method": "tiled", "tile_sizes": (128, 64, 32)},
    "flood_map min_size=50": {"min_size": 50},
    "flood_map no offsets": {"post_offset": 0.0, "change_offset": 0.0},
}


def read_chip(data: Path, number: int) -> tuple[xr.DataArray, xr.DataArray, np.ndarray]:
    before, after, truth = ombria.read_chip(data, number)
    return (
        xr.DataArray(before, dims=("y", "x"), name="vv"),
        xr.DataArray(after, dims=("y", "x"), name="vv"),
        truth,
    )


def mean_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    def iou(a: np.ndarray, b: np.ndarray) -> float:
        union = (a | b).sum()
        return 1.0 if union == 0 else float((a & b).sum() / union)

    return 0.5 * (iou(pred, truth) + iou(~pred, ~truth))


def _best_split(values: list[np.ndarray], truth: np.ndarray, levels: int = 64) -> float:
    """Best mean IoU of ``flood = all(v <= t_v)`` over a quantile grid of thresholds."""
    edges = [np.unique(np.quantile(v, np.linspace(0, 1, levels + 1))) for v in values]
    index = [np.searchsorted(e[1:-1], v, side="left") for e, v in zip(edges, values, strict=True)]
    shape = tuple(e.size - 1 for e in edges)
    counts = [
        np.bincount(
            np.ravel_multi_index([i[truth == c] for i in index], shape),
            minlength=int(np.prod(shape)),
        )
        .reshape(shape)
        .astype(np.float64)
        for c in (True, False)
    ]
    for axis in range(len(values)):  # flood = every value in a bin at or below the cut
        counts = [np.cumsum(c, axis=axis) for c in counts]
    tp, fp = counts
    positives, negatives = float(truth.sum()), float((~truth).sum())
    fn, tn = positives - tp, negatives - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        flood = np.where(tp + fp + fn > 0, tp / (tp + fp + fn), 1.0)
        dry = np.where(tn + fn + fp > 0, tn / (tn + fn + fp), 1.0)
    best = 0.5 * (flood + dry)
    empty = 0.5 * (0.0 if positives else 1.0) + 0.5 * (1.0 if negatives else 0.0)
    return float(max(best.max(), empty))


def score_chip(args: tuple[Path, int, dict[str, dict[str, Any]], bool, bool]) -> dict[str, float]:
    data, number, configs, oracle, model = args
    before, after, truth = read_chip(data, number)
    scores = {}
    t = float(sarcube.threshold(after, method="otsu")["threshold"])
    scores["otsu on post"] = mean_iou(after.values <= t, truth)
    for name, kwargs in configs.items():
        pred = sarcube.flood_map(before, after, **kwargs).values == 1
        scores[name] = mean_iou(pred, truth)
    if model:
        from sarcube.infer import classify, predict
        from sarcube.models.ombria import prepare, pretrained

        for tta in ("none", "flip4"):
            probs = predict(
                prepare(before, after),
                pretrained(),
                n_classes=2,
                window=256,
                tta=tta,  # type: ignore[arg-type]
            )
            scores[f"shipped model, tta={tta}"] = mean_iou(classify(probs).values == 1, truth)
    if oracle:  # the same filtering as flood_map's defaults
        post_f = sarcube.boxcar_filter(sarcube.median_filter(after, size=7), size=5).values
        pre_f = sarcube.boxcar_filter(sarcube.median_filter(before, size=7), size=5).values
        flat = truth.ravel()
        scores["oracle: best post threshold"] = _best_split([post_f.ravel()], flat)
        scores["oracle: best threshold pair"] = _best_split(
            [post_f.ravel(), (post_f - pre_f).ravel()], flat
        )
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--variants", action="store_true", help="also score other settings")
    parser.add_argument("--oracle", action="store_true", help="add the label-based upper bounds")
    parser.add_argument("--model", action="store_true", help="add the shipped flood model")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args()

    numbers = ombria.chip_numbers(args.data)
    configs = {**CONFIGS, **(VARIANTS if args.variants else {})}
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(
            pool.map(
                score_chip,
                [(args.data, n, configs, args.oracle, args.model) for n in numbers],
                chunksize=8,
            )
        )
    elapsed = time.perf_counter() - start
    held = np.array([n % 5 == 0 for n in numbers])
    report: dict[str, Any] = {"chips": len(numbers), "held_out": int(held.sum()), "scores": {}}
    print(f"{len(numbers)} chips ({held.sum()} held out), {elapsed:.0f} s")
    print(f"{'method':28s} {'held-out':>9s} {'tuning':>9s} {'all':>9s}")
    for name in rows[0]:
        values = np.array([r[name] for r in rows])
        entry = {
            "held_out": float(values[held].mean()),
            "tuning": float(values[~held].mean()),
            "all": float(values.mean()),
        }
        report["scores"][name] = entry
        print(f"{name:28s} {entry['held_out']:9.4f} {entry['tuning']:9.4f} {entry['all']:9.4f}")

    # the same maps from 128-pixel dask chunks
    before, after, _ = read_chip(args.data, numbers[0])
    eager = sarcube.flood_map(before, after)
    lazy = sarcube.flood_map(before.chunk(128), after.chunk(128)).compute()
    same = bool((eager.values == lazy.values).all())
    report["chunk_invariant_128"] = same
    print(f"chip {numbers[0]}: 128-pixel chunks give the in-memory map: {same}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
