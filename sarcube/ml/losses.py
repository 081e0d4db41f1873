"""Segmentation losses: cross-entropy, Dice, focal, Tversky, and sums of them."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..errors import ParameterError

__all__ = ["LOSSES", "make_loss"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _probs_onehot(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    valid = (target != ignore_index).unsqueeze(1)
    probs = torch.softmax(logits, dim=1)
    onehot = F.one_hot(target.clamp(0, logits.shape[1] - 1), logits.shape[1])
    return probs, onehot.permute(0, 3, 1, 2).to(probs.dtype), valid


def tversky(alpha: float, beta: float, ignore_index: int) -> Loss:
    """1 − Tversky index averaged over classes (alpha = beta = 0.5 is the Dice loss)."""

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs, onehot, valid = _probs_onehot(logits, target, ignore_index)
        probs, onehot = probs * valid, onehot * valid
        tp = (probs * onehot).sum((0, 2, 3))
        fp = (probs * (1 - onehot)).sum((0, 2, 3))
        fn = ((1 - probs) * onehot).sum((0, 2, 3))
        index = (tp + 1.0) / (tp + alpha * fp + beta * fn + 1.0)
        return 1 - index.mean()

    return loss


def focal(gamma: float, ignore_index: int) -> Loss:
    """Focal loss (Lin et al. 2017): cross-entropy weighted by (1 − p_true)^gamma."""

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
        valid = target != ignore_index
        p = torch.exp(-ce)
        return ((1 - p) ** gamma * ce)[valid].mean()

    return loss


def cross_entropy(ignore_index: int) -> Loss:
    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, ignore_index=ignore_index)

    return loss


LOSSES = ("ce", "dice", "focal", "tversky")


def make_loss(name: str, *, ignore_index: int = 255) -> Loss:
    """A loss by name: ``"ce"``, ``"dice"``, ``"focal"``, ``"tversky"`` or a sum, ``"ce+dice"``.

    Examples
    --------
    >>> loss = make_loss("ce+dice")
    >>> logits = torch.zeros(1, 2, 4, 4); target = torch.zeros(1, 4, 4, dtype=torch.long)
    >>> round(float(loss(logits, target)), 3)
    1.247
    """
    parts: list[Loss] = []
    for part in name.split("+"):
        if part == "ce":
            parts.append(cross_entropy(ignore_index))
        elif part == "dice":
            parts.append(tversky(0.5, 0.5, ignore_index))
        elif part == "focal":
            parts.append(focal(2.0, ignore_index))
        elif part == "tversky":
            parts.append(tversky(0.3, 0.7, ignore_index))
        else:
            raise ParameterError(
                f"unknown loss {part!r}; use {', '.join(LOSSES)} or sums like ce+dice"
            )

    def total(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = parts[0](logits, target)
        for p in parts[1:]:
            out = out + p(logits, target)
        return out

    return total
