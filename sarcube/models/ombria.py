"""The shipped reference flood model: a bitemporal U-Net trained on OMBRIA Sentinel-1 chips.

Input: two channels, VV before and VV after the event, each standardised per
image (z-score over the pixels that are not fill: 0 and 255 in 8-bit chips),
fill set to 0. Output: logits of no flood (0) and flood (1).

Train it again (the weights shipped in ``sarcube/models/weights/``) with::

    python -m sarcube.models.ombria --data ../shared/data/ombria-s1/train

Chips whose number is a multiple of 5 are held out (never seen in training or
model selection); numbers ending in 1 or 6 select the best epoch; the rest train.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import ParameterError
from ..infer import ModelSpec

__all__ = [
    "ARCHITECTURE",
    "chip_numbers",
    "prepare",
    "prepare_chip",
    "pretrained",
    "read_chip",
    "read_chips",
]

NAME = "ombria-s1-bitemporal"
ARCHITECTURE = {"in_channels": 2, "n_classes": 2, "base": 16, "depth": 4}
WEIGHTS = Path(__file__).with_name("weights") / f"{NAME}.pt"


def pretrained(name: str = NAME) -> ModelSpec:
    """The spec of a shipped model, for :func:`sarcube.infer.predict`.

    Examples
    --------
    >>> pretrained().name
    'ombria-s1-bitemporal'
    """
    if name != NAME:
        raise ParameterError(f"pretrained: unknown model {name!r}; available: {NAME!r}")
    if not WEIGHTS.is_file():
        raise ParameterError(
            f"pretrained: the weights {WEIGHTS} are missing; train them with "
            "python -m sarcube.models.ombria"
        )
    return ModelSpec(
        state_dict=str(WEIGHTS),
        builder="sarcube.models.unet:UNet",
        builder_kwargs=dict(ARCHITECTURE),
        name=NAME,
    )


def prepare_chip(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The model input (2, H, W) float32 of two 8-bit chips."""
    out = []
    for chip in (before, after):
        values = chip.astype(np.float32)
        fill = (chip == 0) | (chip == 255)
        usable = values[~fill] if (~fill).sum() > 16 else values.ravel()
        z = (values - usable.mean()) / max(float(usable.std()), 1e-6)
        out.append(np.where(fill, 0.0, z))
    return np.stack(out).astype(np.float32)


def prepare(before: xr.DataArray, after: xr.DataArray) -> xr.DataArray:
    """The model input as a lazy (channel, y, x) DataArray.

    Each image is z-scored over its non-fill pixels (the integer dtype's
    extremes are fill; floats: NaN). Calibrated linear power (``units="1"``) is
    converted to dB first, as the training chips were dB rescaled to 8 bits.
    """
    channels = []
    for da in (before, after):
        # per-date scalar coords (time, platform, ...) would clash between the two dates
        da = da.drop_vars([c for c in da.coords if c not in da.dims and c != "spatial_ref"])
        values = da.astype(np.float32)
        if da.attrs.get("units") == "1":  # calibrated linear power: the chips are dB
            values = 10 * xr.apply_ufunc(np.log10, values.where(values > 0), dask="allowed")
        if np.issubdtype(da.dtype, np.integer):
            info = np.iinfo(da.dtype)
            usable = values.where((da != info.min) & (da != info.max))
        else:
            usable = values
        z = (values - usable.mean()) / usable.std()
        channels.append(z.where(usable.notnull(), 0.0))
    stacked = xr.concat(channels, dim="channel", coords="minimal")
    return stacked.assign_coords(channel=["before", "after"]).astype(np.float32)


def chip_numbers(folder: Path) -> list[int]:
    """The chip numbers of an OMBRIA split folder (``BEFORE/``, ``AFTER/``, ``MASK/``)."""
    return sorted(int(re.findall(r"\d+", p.name)[-1]) for p in (folder / "AFTER").glob("*.png"))


def read_chip(folder: Path, number: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One OMBRIA triplet: 8-bit VV before and after (H, W) and the flood mask (bool)."""
    from PIL import Image

    def read(sub: str, stem: str) -> np.ndarray:
        image = np.asarray(Image.open(folder / sub / f"S1_{stem}_{number:04d}.png"))
        return image[..., 0] if image.ndim == 3 else image

    return read("BEFORE", "before"), read("AFTER", "after"), read("MASK", "mask") > 0


def read_chips(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs (N, 2, H, W), labels (N, H, W) uint8 and chip numbers of an OMBRIA split."""
    numbers = np.array(chip_numbers(folder))
    triplets = [read_chip(folder, int(n)) for n in numbers]
    inputs = np.stack([prepare_chip(before, after) for before, after, _ in triplets])
    labels = np.stack([mask.astype(np.uint8) for _, _, mask in triplets])
    return inputs, labels, numbers


def main(argv: list[str] | None = None) -> None:
    import torch

    from ..ml import ChipDataset, evaluate, plot_training_log, train
    from .unet import UNet

    parser = argparse.ArgumentParser(description="Train the OMBRIA bitemporal flood model")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ombria-s1/train"))
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    inputs, labels, numbers = read_chips(args.data)
    held = numbers % 5 == 0
    select = np.isin(numbers % 10, (1, 6))
    fit = ~held & ~select
    train_set = ChipDataset(inputs[fit], labels[fit], augment=True, crop=args.crop, seed=args.seed)
    val_set = ChipDataset(inputs[select], labels[select])
    model = UNet(**ARCHITECTURE)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_path = args.out.with_suffix(".log.json")
    log = train(
        model,
        train_set,
        val_set,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        loss="ce+dice",
        seed=args.seed,
        checkpoint=args.out,
        log_path=log_path,
        on_epoch=lambda r: print(json.dumps({k: round(v, 4) for k, v in r.items()}), flush=True),
    )
    held_out = evaluate(model, ChipDataset(inputs[held], labels[held]))
    summary = {
        "best_epoch": log.best_epoch,
        "selection_miou": log.best_val_miou,
        "held_out_miou": held_out["miou"],
        "chips": {
            "train": int(fit.sum()),
            "selection": int(select.sum()),
            "held_out": int(held.sum()),
        },
    }
    args.out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2))
    plot_training_log(log, path=args.out.with_suffix(".log.png"))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
