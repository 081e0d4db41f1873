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
from dataclasses import replace
from pathlib import Path

import numpy as np
import xarray as xr

from .._atomic import write_text_atomic
from ..calibration import linear_to_db_array
from ..errors import InputNotFoundError, ParameterError
from ..infer import Ensemble, ModelSpec
from ..infer._models import _verify

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
FOLDER = Path(__file__).with_name("weights")
WEIGHTS = FOLDER / f"{NAME}.pt"
#: Shipped models stored as checkpoints that name their architecture and channels
#: (:meth:`~sarcube.infer.ModelSpec.from_checkpoint`), float16 weights.
CHECKPOINTS: tuple[str, ...] = (
    "ombria-s1-efficientnet-256",
    "ombria-s1-efficientnet",
    "ombria-s1-efficientnet-dice",
)
#: Shipped ensembles: their members, all shipped models. ``ombria-s1-ensemble``
#: holds every model that scored at least 0.64 on the selection chips (the
#: EfficientNet U-Nets; the bitemporal U-Net's 0.620 is below).
ENSEMBLES: dict[str, tuple[str, ...]] = {"ombria-s1-ensemble": CHECKPOINTS}
#: SHA-256 of the shipped weight files, checked when they are loaded
SHA256 = {
    NAME: "0e6892350f2978b728664849ed94a0323d29f79b4f0c0ed68bcdbaf5821fe4d2",
    "ombria-s1-efficientnet": "055a99bde24d90ef29b02874826d36891aa891aa87c44d452789a9298e0e784b",
    "ombria-s1-efficientnet-256": (
        "59e59a607bc9bc234a3cab08943b0e0c7378bf1b20868fef397dd8cc9ae27548"
    ),
    "ombria-s1-efficientnet-dice": (
        "f1b57daa3e07310d90c7741ef4b6d8fc2ef3f6db8704815d58c86f4f629e354d"
    ),
}


def shipped() -> tuple[str, ...]:
    """The names of the shipped models, single models first."""
    return (NAME, *CHECKPOINTS, *ENSEMBLES)


def pretrained(name: str = NAME) -> ModelSpec | Ensemble:
    """The spec of a shipped model, for :func:`sarcube.infer.predict`.

    An ensemble is given as an :class:`~sarcube.infer.Ensemble`.

    Examples
    --------
    >>> pretrained().name
    'ombria-s1-bitemporal'
    """
    if name in ENSEMBLES:
        members = []
        for member in ENSEMBLES[name]:
            spec = pretrained(member)
            assert isinstance(spec, ModelSpec)
            members.append(spec)
        return Ensemble(tuple(members), name=name)
    if name not in (NAME, *CHECKPOINTS):
        raise ParameterError(
            f"pretrained: unknown model {name!r}; available: {', '.join(map(repr, shipped()))}"
        )
    path = FOLDER / f"{name}.pt"
    if not path.is_file():
        raise InputNotFoundError(
            f"pretrained: the weights {path} are missing; train them with "
            "python -m sarcube.models.ombria"
        )
    if name == NAME:
        return ModelSpec(
            state_dict=str(path),
            builder="sarcube.models.unet:UNet",
            builder_kwargs=dict(ARCHITECTURE),
            name=NAME,
            sha256=SHA256[NAME],
            channels=("before", "after"),
        )
    _verify(str(path), SHA256[name], "pretrained")  # before torch reads the file
    return replace(ModelSpec.from_checkpoint(path), name=name, sha256=SHA256[name])


def ship(checkpoint: Path, name: str) -> Path:
    """Write *checkpoint* (from the training command) as the shipped model *name*.

    The weights are stored as float16 (half the size; the model computes in
    float32), with the checkpoint's architecture and channels. Returns the
    path; record its SHA-256 (printed by the training command's ``--ship``)
    in :data:`SHA256`.
    """
    import torch

    content = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = content["model_state_dict"]
    content["model_state_dict"] = {
        k: v.half() if v.is_floating_point() else v for k, v in state.items()
    }
    content["name"] = name
    target = FOLDER / f"{name}.pt"
    torch.save(content, target)
    return target


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


def prepare(
    before: xr.DataArray,
    after: xr.DataArray,
    *,
    channels: tuple[str, ...] | list[str] = ("before", "after"),
) -> xr.DataArray:
    """The model input as a lazy (channel, y, x) DataArray.

    Each image is z-scored over its non-fill pixels (the integer dtype's
    extremes are fill; floats: NaN). Calibrated linear power (``units="1"``) is
    converted to dB first, as the training chips were dB rescaled to 8 bits.
    *channels*: any of ``"before"``, ``"after"`` and ``"difference"`` (after
    minus before, both z-scored), in the order the model takes them (a
    :class:`~sarcube.infer.ModelSpec` names them in ``channels``).
    """
    unknown = [c for c in channels if c not in ("before", "after", "difference")]
    if unknown or not channels:
        raise ParameterError(
            f"prepare: channels must be 'before', 'after' or 'difference', got {list(channels)}"
        )
    planes = {}
    for label, da in (("before", before), ("after", after)):
        # per-date scalar coords (time, platform, ...) would clash between the two dates
        da = da.drop_vars([c for c in da.coords if c not in da.dims and c != "spatial_ref"])
        values = da.astype(np.float32)
        if da.attrs.get("units") == "1":  # calibrated linear power: the chips are dB
            values = linear_to_db_array(values)
        if np.issubdtype(da.dtype, np.integer):
            info = np.iinfo(da.dtype)
            usable = values.where((da != info.min) & (da != info.max))
        else:
            usable = values
        z = (values - usable.mean()) / usable.std()
        planes[label] = z.where(usable.notnull(), 0.0)
    planes["difference"] = planes["after"] - planes["before"]
    stacked = xr.concat([planes[c] for c in channels], dim="channel", coords="minimal")
    return stacked.assign_coords(channel=list(channels)).astype(np.float32)


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


#: Training recipes: the builder, its arguments and the input channels of each architecture.
RECIPES: dict[str, dict[str, object]] = {
    "unet": {
        "builder": "sarcube.models.unet:UNet",
        "builder_kwargs": dict(ARCHITECTURE),
        "channels": ["before", "after"],
    },
    "efficient": {
        "builder": "sarcube.models.efficientnet:EfficientUNet",
        "builder_kwargs": {"in_channels": 3, "n_classes": 2},
        "channels": ["before", "after", "difference"],
    },
    "resnet": {
        "builder": "sarcube.models.resnet:ResUNet",
        "builder_kwargs": {"in_channels": 3, "n_classes": 2, "base": 16, "blocks": [2, 2, 2, 2]},
        "channels": ["before", "after", "difference"],
    },
}

#: The radiometric/speckle augmentation of the "sar" recipe, in z-score units
#: (an 8-bit chip spans about 4 dB per standard deviation).
SAR_AUGMENT = {
    "gain": (0.9, 1.1),
    "offset": (-0.2, 0.2),
    "gamma": (0.8, 1.25),
    "speckle_looks": 4.4,
    "db_per_unit": 4.0,
}


def with_channels(inputs: np.ndarray, channels: list[str]) -> np.ndarray:
    """Model inputs (N, len(channels), H, W) from (N, 2, H, W) before/after inputs."""
    planes = {
        "before": inputs[:, 0],
        "after": inputs[:, 1],
        "difference": inputs[:, 1] - inputs[:, 0],
    }
    unknown = set(channels) - set(planes)
    if unknown:
        raise ParameterError(f"unknown channels {sorted(unknown)}; use {sorted(planes)}")
    return np.stack([planes[c] for c in channels], axis=1).astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    import time

    import torch

    from ..infer._models import _resolve
    from ..ml import Augment, ChipDataset, evaluate, plot_training_log, train

    parser = argparse.ArgumentParser(description="Train an OMBRIA bitemporal flood model")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ombria-s1/train"))
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--arch", choices=sorted(RECIPES), default="unet")
    parser.add_argument("--pretrained", action="store_true", help="ImageNet encoder weights")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--encoder-lr", type=float, default=None)
    parser.add_argument("--freeze-encoder", type=int, default=0)
    parser.add_argument("--grad-clip", type=float, default=None)
    parser.add_argument("--loss", default="ce+dice")
    parser.add_argument("--augment", choices=["flips", "sar"], default="flips")
    parser.add_argument("--mixup", type=float, default=0.0)
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from the weights of this checkpoint (a training run's --out, or a shipped "
        "model of the same architecture) instead of fresh or ImageNet weights",
    )
    parser.add_argument(
        "--ship",
        nargs=2,
        metavar=("CHECKPOINT", "NAME"),
        help="store a trained checkpoint "
        "as the shipped model NAME (float16) and print its SHA-256; no training",
    )
    args = parser.parse_args(argv)
    if args.ship:
        from ..infer import file_sha256

        target = ship(Path(args.ship[0]), args.ship[1])
        print(json.dumps({"shipped": str(target), "sha256": file_sha256(target)}))
        return

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    recipe = RECIPES[args.arch]
    channels = list(recipe["channels"])  # type: ignore[call-overload]
    inputs, labels, numbers = read_chips(args.data)
    inputs = with_channels(inputs, channels)
    held = numbers % 5 == 0
    select = np.isin(numbers % 10, (1, 6))
    fit = ~held & ~select
    augment = Augment(**SAR_AUGMENT) if args.augment == "sar" else True  # type: ignore[arg-type]
    train_set = ChipDataset(
        inputs[fit], labels[fit], augment=augment, crop=args.crop, seed=args.seed
    )
    val_set = ChipDataset(inputs[select], labels[select])
    kwargs = dict(recipe["builder_kwargs"])  # type: ignore[call-overload]
    model = _resolve(str(recipe["builder"]))(**kwargs)
    if args.pretrained:
        if not hasattr(model, "load_imagenet"):
            parser.error(f"--pretrained: the {args.arch!r} architecture has no pretrained weights")
        model.load_imagenet()
    if args.init is not None:
        content = torch.load(args.init, map_location="cpu", weights_only=True)
        state = content.get("model_state_dict", content)
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log_path = args.out.with_suffix(".log.json")
    info = None
    if args.arch != "unet":  # the shipped U-Net's file stays a plain state_dict
        info = {
            "builder": recipe["builder"],
            "builder_kwargs": kwargs,
            "channels": channels,
            "normalisation": "per-image z-score of 8-bit dB chips (fill 0 and 255: left out, 0)",
            "name": args.out.stem,
        }
    start = time.perf_counter()
    log = train(
        model,
        train_set,
        val_set,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        encoder_lr=args.encoder_lr,
        freeze_encoder=args.freeze_encoder,
        grad_clip=args.grad_clip,
        loss=args.loss,
        mixup=args.mixup,
        precision=args.precision,
        seed=args.seed,
        checkpoint=args.out,
        checkpoint_info=info,
        log_path=log_path,
        on_epoch=lambda r: print(json.dumps({k: round(v, 4) for k, v in r.items()}), flush=True),
    )
    minutes = (time.perf_counter() - start) / 60
    held_out = evaluate(model, ChipDataset(inputs[held], labels[held]))
    summary = {
        "arch": args.arch,
        "pretrained": args.pretrained,
        "recipe": {k: v for k, v in vars(args).items() if k not in ("data", "out")},
        "minutes": minutes,
        "best_epoch": log.best_epoch,
        "selection_miou": log.best_val_miou,
        "held_out_miou": held_out["miou"],
        "chips": {
            "train": int(fit.sum()),
            "selection": int(select.sum()),
            "held_out": int(held.sum()),
        },
    }
    write_text_atomic(
        args.out.with_suffix(".summary.json"), json.dumps(summary, indent=2, default=str)
    )
    plot_training_log(log, path=args.out.with_suffix(".log.png"))
    print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
