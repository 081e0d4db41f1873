"""A small, complete training loop with validation and best-checkpoint selection."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from .._atomic import atomic_target, write_text_atomic
from ..errors import ParameterError
from .data import ChipDataset
from .losses import Loss, make_loss

__all__ = ["TrainingLog", "evaluate", "plot_training_log", "train"]


@dataclass
class TrainingLog:
    """The training record.

    Per epoch ``epoch``, ``train_loss``, ``val_loss``,
    ``val_miou``, ``val_iou_<class>`` (per class, mean over images),
    ``seconds``, ``lr`` (and ``encoder_lr``); the best epoch by the monitored
    metric and its validation mIoU; the settings.

    Examples
    --------
    >>> from sarcube.ml import TrainingLog
    >>> log = TrainingLog()
    >>> log.best_epoch, log.epochs
    (-1, [])

    :func:`train` fills it; :func:`plot_training_log` draws it.
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val_miou: float = float("-inf")
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the record to *path* as JSON (atomically)."""
        write_text_atomic(Path(path), json.dumps(asdict(self), indent=2))

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> TrainingLog:
        """The record :meth:`to_json` wrote to *path*."""
        return cls(**json.loads(Path(path).read_text()))


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def image_miou(pred: np.ndarray, truth: np.ndarray, n_classes: int, ignore_index: int) -> float:
    """Mean over classes of the IoU of one image; a class absent from both counts 1."""
    return float(np.mean(image_ious(pred, truth, n_classes, ignore_index)))


def image_ious(
    pred: np.ndarray, truth: np.ndarray, n_classes: int, ignore_index: int
) -> list[float]:
    """The IoU of each class in one image; a class absent from both counts 1."""
    valid = truth != ignore_index
    scores = []
    for c in range(n_classes):
        p, t = (pred == c) & valid, (truth == c) & valid
        union = (p | t).sum()
        scores.append(1.0 if union == 0 else float((p & t).sum() / union))
    return scores


def evaluate(
    model: torch.nn.Module,
    dataset: ChipDataset,
    *,
    batch_size: int = 8,
    device: str = "auto",
    loss: str | Loss = "ce+dice",
) -> dict[str, float]:
    """Mean loss, per-image mIoU and per-class IoU (means over images) of *model*.

    Returns ``loss``, ``miou`` and ``iou_<c>`` for each class *c*.

    Examples
    --------
    >>> from sarcube.ml import ChipDataset, evaluate
    >>> from sarcube.models import UNet
    >>> x = np.random.default_rng(0).normal(size=(4, 2, 32, 32)).astype("float32")
    >>> chips = ChipDataset(x, (x[:, 0] > 0).astype("uint8"))
    >>> scores = evaluate(UNet(in_channels=2, n_classes=2, base=8, depth=2), chips, device="cpu")
    >>> sorted(scores)
    ['iou_0', 'iou_1', 'loss', 'miou']
    """
    dev = _device(device)
    criterion = (
        make_loss(loss, ignore_index=dataset.ignore_index) if isinstance(loss, str) else loss
    )
    model.eval()
    losses, scores = [], []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    with torch.inference_mode():
        for x, y in loader:
            logits = model(x.to(dev)).float()
            losses.append(float(criterion(logits, y.to(dev))) * len(x))
            pred = logits.argmax(1).cpu().numpy()
            n_classes = logits.shape[1]
            for p, t in zip(pred, y.numpy(), strict=True):
                scores.append(image_ious(p, t, n_classes, dataset.ignore_index))
    per_class = np.mean(scores, axis=0)
    out = {"loss": float(np.sum(losses) / len(dataset)), "miou": float(per_class.mean())}
    out.update({f"iou_{c}": float(v) for c, v in enumerate(per_class)})
    return out


_PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _encoder(model: torch.nn.Module, func: str) -> list[torch.nn.Parameter]:
    get = getattr(model, "encoder_parameters", None)
    if get is None:
        raise ParameterError(
            f"{func}: encoder_lr and freeze_encoder need a model with an encoder_parameters() "
            f"method (e.g. sarcube.models.EfficientUNet); {type(model).__name__} has none"
        )
    params: list[torch.nn.Parameter] = list(get())
    return params


def _check_train(
    epochs: int,
    batch_size: int,
    lr: float,
    encoder_lr: float | None,
    freeze_encoder: int,
    grad_clip: float | None,
    precision: str,
    mixup: float,
    monitor: str,
    patience: int | None,
) -> None:
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ParameterError("train: epochs and batch_size must be >= 1 and lr > 0")
    if encoder_lr is not None and not encoder_lr > 0:
        raise ParameterError(f"train: encoder_lr must be > 0, got {encoder_lr}")
    if not 0 <= freeze_encoder < epochs:
        raise ParameterError(f"train: freeze_encoder must be in 0..epochs-1, got {freeze_encoder}")
    if grad_clip is not None and not grad_clip > 0:
        raise ParameterError(f"train: grad_clip must be > 0 or None, got {grad_clip}")
    if precision not in _PRECISIONS:
        raise ParameterError(
            f"train: precision must be one of {list(_PRECISIONS)}, got {precision!r}"
        )
    if not mixup >= 0:
        raise ParameterError(
            f"train: mixup (the Beta distribution's alpha) must be >= 0, got {mixup}"
        )
    if monitor not in ("miou", "loss") and not monitor.startswith("iou_"):
        raise ParameterError(
            f"train: monitor must be 'miou', 'loss' or 'iou_<class>', got {monitor!r}"
        )
    if patience is not None and patience < 1:
        raise ParameterError(f"train: patience must be >= 1 or None, got {patience}")


def train(
    model: torch.nn.Module,
    train_set: ChipDataset,
    val_set: ChipDataset,
    *,
    epochs: int = 20,
    batch_size: int = 8,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    loss: str | Loss = "ce+dice",
    class_weights: list[float] | None = None,
    encoder_lr: float | None = None,
    freeze_encoder: int = 0,
    grad_clip: float | None = None,
    precision: str = "fp32",
    mixup: float = 0.0,
    monitor: str = "miou",
    patience: int | None = None,
    device: str = "auto",
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_info: dict[str, Any] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainingLog:
    """Train *model* with AdamW and a one-cycle learning-rate schedule; keep the best epoch.

    After each epoch the model is evaluated on *val_set* (per-image mIoU, the
    mean over images of the mean class IoU, and each class's IoU). The epoch
    that is best by *monitor* (``"miou"``, ``"iou_<class>"``, higher is better;
    ``"loss"``, lower is better) is kept: its weights are loaded back into
    *model* at the end and, with *checkpoint*, saved there (a ``state_dict``;
    with *checkpoint_info*, a dict ``{"model_state_dict": ..., **checkpoint_info}``
    that :meth:`sarcube.infer.ModelSpec.from_checkpoint` reads). The log is
    returned and, with *log_path*, written as JSON after every epoch. Seeded:
    the same call gives the same weights on the same machine.

    Parameters
    ----------
    loss, class_weights
        A formula for :func:`~sarcube.ml.make_loss` (e.g.
        ``"0.15*ce+0.25*dice+0.6*tversky+0.2*focal"``) and its class weights, or
        a callable ``loss(logits, target)``.
    encoder_lr, freeze_encoder
        The encoder's own peak learning rate, and the number of first epochs
        in which the encoder is frozen (its weights and batch-norm statistics
        kept); both need a model with ``encoder_parameters()``.
    grad_clip
        Clip the gradients' global norm to this value.
    precision
        ``"bf16"``/``"fp16"``: the forward pass under ``torch.autocast`` (on
        the CPU only bf16 is supported); ``"fp32"``: full precision.
    mixup
        MixUp (Zhang et al. 2018) with λ ~ Beta(mixup, mixup): each batch is
        mixed with a shuffled copy and the loss is the same mix of the two
        labels' losses. 0 turns it off.
    patience
        Stop when *monitor* has not improved for that many epochs.

    Examples
    --------
    A small U-Net for three epochs on random chips whose label is "channel 0 > 0":

    >>> import torch
    >>> from sarcube.ml import ChipDataset, train
    >>> from sarcube.models import UNet
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(8, 2, 32, 32)).astype("float32")
    >>> chips = ChipDataset(x, (x[:, 0] > 0).astype("uint8"))
    >>> _ = torch.manual_seed(0)
    >>> net = UNet(in_channels=2, n_classes=2, base=8, depth=2)
    >>> log = train(net, chips, chips, epochs=3, batch_size=4, lr=1e-2, device="cpu")
    >>> len(log.epochs), sorted(log.epochs[0])[:4]
    (3, ['epoch', 'lr', 'seconds', 'train_loss'])
    >>> log.best_val_miou == max(epoch["val_miou"] for epoch in log.epochs)
    True
    """
    _check_train(
        epochs, batch_size, lr, encoder_lr, freeze_encoder, grad_clip, precision, mixup,
        monitor, patience,
    )  # fmt: skip
    criterion = (
        make_loss(loss, ignore_index=train_set.ignore_index, class_weights=class_weights)
        if isinstance(loss, str)
        else loss
    )
    encoder = _encoder(model, "train") if encoder_lr is not None or freeze_encoder else []
    torch.manual_seed(seed)
    dev = _device(device)
    if precision == "fp16" and dev.type == "cpu":
        raise ParameterError("train: precision='fp16' needs a CUDA device; use 'bf16' on the CPU")
    model.to(dev)
    enc_ids = {id(p) for p in encoder}
    rest = [p for p in model.parameters() if id(p) not in enc_ids]
    groups: list[dict[str, Any]] = [{"params": rest, "lr": lr}]
    peaks = [lr]
    if encoder:
        groups.append({"params": encoder, "lr": encoder_lr or lr})
        peaks.append(encoder_lr or lr)
    optimiser = torch.optim.AdamW(groups, weight_decay=weight_decay)
    steps = epochs * -(-len(train_set) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=peaks, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    mix_rng = np.random.default_rng(seed)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=generator)
    autocast = _PRECISIONS[precision]
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    log = TrainingLog(
        settings={
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "encoder_lr": encoder_lr,
            "freeze_encoder": freeze_encoder,
            "weight_decay": weight_decay,
            "loss": loss if isinstance(loss, str) else getattr(loss, "__name__", "callable"),
            "class_weights": class_weights,
            "grad_clip": grad_clip,
            "precision": precision,
            "mixup": mixup,
            "monitor": monitor,
            "patience": patience,
            "seed": seed,
            "train_chips": len(train_set),
            "val_chips": len(val_set),
        }
    )
    sign = -1.0 if monitor == "loss" else 1.0
    best_state: dict[str, torch.Tensor] | None = None
    best_score, since_best = float("-inf"), 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        frozen = epoch <= freeze_encoder
        for p in encoder:
            p.requires_grad_(not frozen)
        if frozen:  # keep the pretrained batch-norm statistics too
            for module in model.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and any(
                    id(p) in enc_ids for p in module.parameters()
                ):
                    module.eval()
        total = 0.0
        for x, y in loader:
            x, y = x.to(dev), y.to(dev)
            optimiser.zero_grad(set_to_none=True)
            lam, perm = 1.0, None
            if mixup > 0:
                lam = float(mix_rng.beta(mixup, mixup))
                perm = torch.from_numpy(mix_rng.permutation(len(x))).to(dev)
                x = lam * x + (1 - lam) * x[perm]
            with torch.autocast(dev.type, dtype=autocast, enabled=autocast is not None):
                logits = model(x)
            value = criterion(logits, y)
            if perm is not None:
                value = lam * value + (1 - lam) * criterion(logits, y[perm])
            if scaler is not None:
                scaler.scale(value).backward()  # type: ignore[no-untyped-call]
                scaler.unscale_(optimiser)
            else:
                value.backward()  # type: ignore[no-untyped-call]
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            if scaler is not None:
                scaler.step(optimiser)
                scaler.update()
            else:
                optimiser.step()
            schedule.step()
            total += float(value.detach()) * len(x)
        val = evaluate(model, val_set, batch_size=batch_size, device=str(dev), loss=criterion)
        record = {
            "epoch": epoch,
            "train_loss": total / len(train_set),
            "val_loss": val["loss"],
            "val_miou": val["miou"],
            **{f"val_{k}": v for k, v in val.items() if k.startswith("iou_")},
            "seconds": time.perf_counter() - start,
            "lr": float(schedule.get_last_lr()[0]),
        }
        if encoder:
            record["encoder_lr"] = float(schedule.get_last_lr()[1])
        log.epochs.append(record)
        key = "val_loss" if monitor == "loss" else f"val_{monitor}"
        if key not in record:
            raise ParameterError(f"train: monitor {monitor!r} is not in the log ({sorted(record)})")
        score = sign * record[key]
        if best_state is None or score > best_score:
            best_score, log.best_epoch = score, epoch
            log.best_val_miou = record["val_miou"]
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            since_best = 0
            if checkpoint is not None:
                _save(best_state, checkpoint, checkpoint_info)
        else:
            since_best += 1
        if log_path is not None:
            log.to_json(log_path)
        if on_epoch is not None:
            on_epoch(record)
        if patience is not None and since_best >= patience:
            break
    for p in encoder:
        p.requires_grad_(True)
    assert best_state is not None
    model.load_state_dict(best_state)
    return log


def _save(
    state: dict[str, torch.Tensor], path: str | os.PathLike[str], info: dict[str, Any] | None
) -> None:
    """Write a checkpoint atomically (a temporary file renamed into place)."""
    with atomic_target(Path(path)) as tmp:
        torch.save(state if info is None else {"model_state_dict": state, **info}, tmp)


def plot_training_log(log: TrainingLog, *, path: str | os.PathLike[str] | None = None) -> Any:
    """Loss curves, validation IoU per class and mIoU, and the learning rates, per epoch.

    The best epoch (the one kept) is marked on every panel.

    Examples
    --------
    >>> from sarcube.ml import TrainingLog, plot_training_log
    >>> epochs = [{"epoch": e, "train_loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1),
    ...            "val_miou": 0.5 + 0.1 * e, "val_iou_0": 0.6, "val_iou_1": 0.4 + 0.2 * e,
    ...            "seconds": 1.0, "lr": 1e-3} for e in range(3)]
    >>> figure = plot_training_log(TrainingLog(epochs=epochs, best_epoch=2, best_val_miou=0.7))
    >>> len(figure.axes)
    3
    """
    from ..plot._common import _finish, _pyplot

    plt = _pyplot()
    epochs = [r["epoch"] for r in log.epochs]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
    left.plot(epochs, [r["train_loss"] for r in log.epochs], label="train")
    left.plot(epochs, [r["val_loss"] for r in log.epochs], label="validation")
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    middle.plot(epochs, [r["val_miou"] for r in log.epochs], color="k", label="mIoU")
    classes = sorted({k for r in log.epochs for k in r if k.startswith("val_iou_")})
    for key in classes:
        middle.plot(epochs, [r.get(key, float("nan")) for r in log.epochs], linestyle=":",
                    label=f"class {key.removeprefix('val_iou_')}")  # fmt: skip
    middle.set_xlabel("epoch")
    middle.set_ylabel("validation IoU (mean over images)")
    right.plot(epochs, [r["lr"] for r in log.epochs], label="learning rate")
    if any("encoder_lr" in r for r in log.epochs):
        right.plot(epochs, [r.get("encoder_lr", float("nan")) for r in log.epochs],
                   label="encoder learning rate")  # fmt: skip
    right.set_xlabel("epoch")
    right.set_ylabel("learning rate (end of epoch)")
    for ax in (left, middle, right):
        ax.axvline(
            log.best_epoch, color="C3", linestyle="--", label=f"best: epoch {log.best_epoch}"
        )
        ax.legend(fontsize="small")
    _finish(fig, path)
    return fig
