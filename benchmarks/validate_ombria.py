"""How right are sarcube's flood maps? Validation on the OMBRIA Sentinel-1 chips.

OMBRIA (Drakonakis et al. 2022) pairs 8-bit VV chips (256 × 256, dB rescaled to
0-255) before and after a flood with Copernicus EMS flood masks. The chips are
split by number: every fifth chip (number % 5 == 0) is held out, the others
were used to choose the constants of :func:`sarcube.flood_map`.

Score, per chip: the mean of the IoU of the flood class and of the no-flood
class; then the mean over chips (a class absent from both maps counts 1).

    python benchmarks/validate_ombria.py [--data ../shared/data/ombria-s1/train]
        [--variants] [--oracle] [--model] [--checkpoint a.pt ...] [--ensemble]
        [--held-out-only] [--json out.json]

``--model`` adds the shipped models (``sarcube.models.MODELS``), run through
:func:`sarcube.infer.predict` without and with flip test-time augmentation;
they were trained on chips that are not held out. ``--checkpoint`` adds
checkpoints written by ``python -m sarcube.models.ombria`` (architecture
inside) or shipped model names, ``--ensemble`` the equal-weight ensemble of all
the checkpoints given
(flip TTA). ``--held-out-only`` scores the held-out chips only. Scores are
also reported per group of the chips' flood fraction (< 10 %, 10–30 %,
30–60 %, ≥ 60 % of the chip flooded in the EMS mask).

``--oracle`` adds two upper bounds that use the labels: the best threshold per
chip on the filtered post image, and the best pair of thresholds (filtered
post, change) per chip — the ceiling of any automatic rule of that form.
"""

from __future__ import annotations

import argparse
import functools
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


GROUPS = (
    (0.0, 0.1, "< 10 %"),
    (0.1, 0.3, "10-30 %"),
    (0.3, 0.6, "30-60 %"),
    (0.6, 1.01, ">= 60 %"),
)


@functools.cache  # once per worker process: reading and hashing the files is not per chip
def _models(model: bool, checkpoints: tuple[str, ...], ensemble: str | None) -> dict[str, Any]:
    from sarcube.infer import Ensemble, ModelSpec
    from sarcube.models import MODELS, pretrained

    specs: dict[str, Any] = {}
    if model:
        for name in MODELS:
            specs[name] = pretrained(name)
    members = [pretrained(c) if c in MODELS else ModelSpec.from_checkpoint(c) for c in checkpoints]
    if ensemble != "only":
        for path, spec in zip(checkpoints, members, strict=True):
            specs[Path(path).stem] = spec
    if ensemble and len(members) > 1:
        specs["ensemble of " + "+".join(Path(c).stem for c in checkpoints)] = Ensemble(
            tuple(members)
        )
    return specs


def score_chip(
    args: tuple[Path, int, dict[str, dict[str, Any]], bool, bool, list[str], str | None],
) -> dict[str, float]:
    data, number, configs, oracle, model, checkpoints, ensemble = args
    before, after, truth = read_chip(data, number)
    scores = {"flood fraction": float(truth.mean())}
    t = float(sarcube.threshold(after, method="otsu")["threshold"])
    scores["otsu on post"] = mean_iou(after.values <= t, truth)
    for name, kwargs in configs.items():
        pred = sarcube.flood_map(before, after, **kwargs).values == 1
        scores[name] = mean_iou(pred, truth)
    from sarcube.infer import Ensemble, most_likely_class, predict
    from sarcube.models.ombria import prepare

    for name, spec in _models(model, tuple(checkpoints), ensemble).items():
        channels = spec.channels or ("before", "after")
        image = prepare(before, after, channels=channels)
        for tta in ("flip4",) if isinstance(spec, Ensemble) else ("none", "flip4"):
            probs = predict(image, spec, n_classes=2, window=256, tta=tta)  # type: ignore[arg-type]
            scores[f"{name}, tta={tta}"] = mean_iou(most_likely_class(probs).values == 1, truth)
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
    parser.add_argument("--model", action="store_true", help="add the shipped flood models")
    parser.add_argument("--checkpoint", nargs="+", default=[], help="add these checkpoints")
    parser.add_argument(
        "--ensemble",
        nargs="?",
        const="add",
        choices=["add", "only"],
        help="add their ensemble ('only': score the ensemble, not each checkpoint)",
    )
    parser.add_argument("--held-out-only", action="store_true")
    parser.add_argument("--limit", type=int, help="score only the first N chips (a quick check)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args()

    numbers = ombria.chip_numbers(args.data)
    if args.held_out_only:
        numbers = [n for n in numbers if n % 5 == 0]
    numbers = numbers[: args.limit]
    configs = {**CONFIGS, **(VARIANTS if args.variants else {})}
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(
            pool.map(
                score_chip,
                [
                    (args.data, n, configs, args.oracle, args.model, args.checkpoint, args.ensemble)
                    for n in numbers
                ],
                chunksize=8,
            )
        )
    elapsed = time.perf_counter() - start
    held = np.array([n % 5 == 0 for n in numbers])
    report: dict[str, Any] = {"chips": len(numbers), "held_out": int(held.sum()), "scores": {}}
    print(f"{len(numbers)} chips ({held.sum()} held out), {elapsed:.0f} s")
    print(f"{'method':40s} {'held-out':>9s} {'tuning':>9s} {'all':>9s}")
    names = [name for name in rows[0] if name != "flood fraction"]
    for name in names:
        values = np.array([r[name] for r in rows])
        entry = {
            "held_out": float(values[held].mean()),
            "tuning": float(values[~held].mean()) if (~held).any() else float("nan"),
            "all": float(values.mean()),
        }
        report["scores"][name] = entry
        print(f"{name:40s} {entry['held_out']:9.4f} {entry['tuning']:9.4f} {entry['all']:9.4f}")

    fraction = np.array([r["flood fraction"] for r in rows])
    groups = [(label, held & (lo <= fraction) & (fraction < hi)) for lo, hi, label in GROUPS]
    print("\nheld-out chips by flood fraction (chips):")
    print(f"{'method':40s} " + " ".join(f"{label:>9s}" for label, _ in groups))
    print(f"{'':40s} " + " ".join(f"{int(g.sum()):9d}" for _, g in groups))
    report["groups"] = {label: int(g.sum()) for label, g in groups}
    for name in names:
        values = np.array([r[name] for r in rows])
        per = {label: float(values[g].mean()) if g.any() else float("nan") for label, g in groups}
        report["scores"][name]["held_out_by_flood_fraction"] = per
        print(f"{name:40s} " + " ".join(f"{v:9.4f}" for v in per.values()))

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
