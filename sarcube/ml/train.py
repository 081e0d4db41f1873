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

from ..errors import ParameterError
from .data import ChipDataset
from .losses import make_loss

__all__ = ["TrainingLog", "evaluate", "plot_training_log", "train"]


@dataclass
class TrainingLog:
    """The training record: per epoch ``epoch``, ``train_loss``, ``val_loss``,
    ``val_miou``, ``seconds`` and ``lr``; the best epoch; the settings."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val_miou: float = float("-inf")
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> TrainingLog:
        return cls(**json.loads(Path(path).read_text()))


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def image_miou(pred: np.ndarray, truth: np.ndarray, n_classes: int, ignore_index: int) -> float:
    """Mean over classes of the IoU of one image; a class absent from both counts 1."""
    valid = truth != ignore_index
    scores = []
    for c in range(n_classes):
        p, t = (pred == c) & valid, (truth == c) & valid
        union = (p | t).sum()
        scores.append(1.0 if union == 0 else float((p & t).sum() / union))
    return float(np.mean(scores))


def evaluate(
    model: torch.nn.Module,
    dataset: ChipDataset,
    *,
    batch_size: int = 8,
    device: str = "auto",
    loss: str = "ce+dice",
) -> dict[str, float]:
    """Mean loss and per-image mIoU (averaged over images) of *model* on *dataset*."""
    dev = _device(device)
    criterion = make_loss(loss, ignore_index=dataset.ignore_index)
    model.eval()
    losses, scores = [], []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    with torch.inference_mode():
        for x, y in loader:
            logits = model(x.to(dev))
            losses.append(float(criterion(logits, y.to(dev))) * len(x))
            pred = logits.argmax(1).cpu().numpy()
            n_classes = logits.shape[1]
            for p, t in zip(pred, y.numpy(), strict=True):
                scores.append(image_miou(p, t, n_classes, dataset.ignore_index))
    return {"loss": float(np.sum(losses) / len(dataset)), "miou": float(np.mean(scores))}


def train(
    model: torch.nn.Module,
    train_set: ChipDataset,
    val_set: ChipDataset,
    *,
    epochs: int = 20,
    batch_size: int = 8,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    loss: str = "ce+dice",
    device: str = "auto",
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainingLog:
    """Train *model* with AdamW and a cosine learning-rate schedule; keep the best epoch.

    After each epoch the model is evaluated on *val_set* (per-image mIoU, the
    mean over images of the mean class IoU). The weights of the best epoch are
    loaded back into *model* at the end and, with *checkpoint*, saved there as
    a ``state_dict``. The log is returned and, with *log_path*, written as JSON.
    Seeded: the same call gives the same weights on the same machine.
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ParameterError("train: epochs and batch_size must be >= 1 and lr > 0")
    make_loss(loss)  # validates the name before any work
    torch.manual_seed(seed)
    dev = _device(device)
    model.to(dev)
    criterion = make_loss(loss, ignore_index=train_set.ignore_index)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(train_set) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=generator)
    log = TrainingLog(
        settings={
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "loss": loss,
            "seed": seed,
            "train_chips": len(train_set),
            "val_chips": len(val_set),
        }
    )
    best_state: dict[str, torch.Tensor] | None = None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        total = 0.0
        for x, y in loader:
            optimiser.zero_grad(set_to_none=True)
            value = criterion(model(x.to(dev)), y.to(dev))
            value.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            total += float(value.detach()) * len(x)
        val = evaluate(model, val_set, batch_size=batch_size, device=str(dev), loss=loss)
        record = {
            "epoch": epoch,
            "train_loss": total / len(train_set),
            "val_loss": val["loss"],
            "val_miou": val["miou"],
            "seconds": time.perf_counter() - start,
            "lr": float(schedule.get_last_lr()[0]),
        }
        log.epochs.append(record)
        if val["miou"] > log.best_val_miou:
            log.best_val_miou, log.best_epoch = val["miou"], epoch
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if checkpoint is not None:
                torch.save(best_state, checkpoint)
        if log_path is not None:
            log.to_json(log_path)
        if on_epoch is not None:
            on_epoch(record)
    assert best_state is not None
    model.load_state_dict(best_state)
    return log


def plot_training_log(log: TrainingLog, *, path: str | os.PathLike[str] | None = None) -> Any:
    """Loss curves and validation mIoU per epoch, the best epoch marked."""
    from ..plot import _finish, _pyplot

    plt = _pyplot()
    epochs = [r["epoch"] for r in log.epochs]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    left.plot(epochs, [r["train_loss"] for r in log.epochs], label="train")
    left.plot(epochs, [r["val_loss"] for r in log.epochs], label="validation")
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    left.legend()
    right.plot(epochs, [r["val_miou"] for r in log.epochs], color="C2")
    right.axvline(log.best_epoch, color="C3", linestyle="--", label=f"best: epoch {log.best_epoch}")
    right.set_xlabel("epoch")
    right.set_ylabel("validation mIoU (per image)")
    right.legend()
    _finish(fig, path)
    return fig
