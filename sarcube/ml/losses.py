"""Segmentation losses: cross-entropy, Dice, focal, Tversky, Lovász, and weighted sums.

A loss takes logits ``(N, C, H, W)`` and class indices ``(N, H, W)``; pixels equal
to *ignore_index* count nowhere. :func:`make_loss` builds one from a short
formula such as ``"ce+dice"`` or ``"0.15*ce+0.25*dice+0.6*tversky+0.2*focal"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .._checks import is_instance
from ..conventions import NODATA
from ..errors import ParameterError

__all__ = ["LOSSES", "focal", "lovasz_softmax", "make_loss", "tversky"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _probs_onehot(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    valid = (target != ignore_index).unsqueeze(1)
    probs = torch.softmax(logits.float(), dim=1)
    onehot = F.one_hot(target.clamp(0, logits.shape[1] - 1), logits.shape[1])
    return probs, onehot.permute(0, 3, 1, 2).to(probs.dtype), valid


def _weights(class_weights: Sequence[float] | None, n: int, like: torch.Tensor) -> torch.Tensor:
    if class_weights is None:
        return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device)
    w = torch.as_tensor(class_weights, dtype=like.dtype, device=like.device)
    if w.numel() != n:
        raise ParameterError(f"class_weights has {w.numel()} values for {n} classes")
    return w / w.sum()


def tversky(
    alpha: float = 0.9,
    beta: float = 0.1,
    ignore_index: int = NODATA,
    class_weights: Sequence[float] | None = None,
) -> Loss:
    """1 − the Tversky index, averaged over classes (weighted by *class_weights*).

    Tversky index of class c: TP / (TP + α·FN + β·FP) over soft counts (Abraham &
    Khan 2019 weight false negatives by α). α = β = 0.5 is the Dice loss; α > β
    penalises missed pixels more than false alarms. Smoothed by 1 in numerator
    and denominator.
    """

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs, onehot, valid = _probs_onehot(logits, target, ignore_index)
        probs, onehot = probs * valid, onehot * valid
        tp = (probs * onehot).sum((0, 2, 3))
        fp = (probs * (1 - onehot)).sum((0, 2, 3))
        fn = ((1 - probs) * onehot).sum((0, 2, 3))
        index = (tp + 1.0) / (tp + alpha * fn + beta * fp + 1.0)
        return 1 - (index * _weights(class_weights, index.numel(), index)).sum()

    return loss


def focal(
    gamma: float = 2.0, ignore_index: int = NODATA, class_weights: Sequence[float] | None = None
) -> Loss:
    """Focal loss (Lin et al. 2017): cross-entropy weighted by (1 − p_true)^γ.

    With *class_weights* each pixel's term is also weighted by its class's
    weight (normalised to sum to 1 over the classes, times the class count), and
    the mean is over the valid pixels. γ = 0 is the cross-entropy.
    """

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        ce = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
        valid = target != ignore_index
        term = (1 - torch.exp(-ce)) ** gamma * ce
        if class_weights is not None:
            w = _weights(class_weights, logits.shape[1], logits) * logits.shape[1]
            term = term * w[target.clamp(0, logits.shape[1] - 1)]
        return term[valid].mean() if valid.any() else term.sum() * 0

    return loss


def cross_entropy(ignore_index: int = NODATA, class_weights: Sequence[float] | None = None) -> Loss:
    """Cross-entropy over the valid pixels, optionally class-weighted (as torch weights it)."""

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        weight = None
        if class_weights is not None:
            weight = _weights(class_weights, logits.shape[1], logits) * logits.shape[1]
        return F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index)

    return loss


def _lovasz_gradient(sorted_truth: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovász extension of the Jaccard loss at the sorted errors."""
    total = sorted_truth.sum()
    intersection = total - sorted_truth.cumsum(0)
    union = total + (1 - sorted_truth).cumsum(0)
    jaccard = 1 - intersection / union
    jaccard[1:] = jaccard[1:] - jaccard[:-1].clone()
    return jaccard


def lovasz_softmax(ignore_index: int = NODATA, per_image: bool = False) -> Loss:
    """The Lovász-softmax loss (Berman, Rannen Triki & Blaschko 2018).

    A convex surrogate of 1 − IoU: per class present in the truth, the errors
    |truth − p| sorted in decreasing order, dotted with the gradient of the
    Lovász extension of the Jaccard loss; the mean over those classes. With
    *per_image*, computed per image and averaged (the per-image IoU the OMBRIA
    scores use); otherwise over the whole batch.
    """

    def flat(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        valid = target != ignore_index
        probs, target = probs[:, valid], target[valid]
        losses = []
        for c in range(probs.shape[0]):
            truth = (target == c).to(probs.dtype)
            if truth.sum() == 0:
                continue
            errors = (truth - probs[c]).abs()
            order = torch.argsort(errors, descending=True)
            losses.append(torch.dot(errors[order], _lovasz_gradient(truth[order])))
        if not losses:
            return probs.sum() * 0
        return torch.stack(losses).mean()

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits.float(), dim=1)
        if per_image:
            return torch.stack([flat(probs[i], target[i]) for i in range(len(target))]).mean()
        return flat(probs.permute(1, 0, 2, 3).reshape(probs.shape[1], -1), target.reshape(-1))

    return loss


LOSSES = ("ce", "dice", "focal", "tversky", "lovasz", "lovasz_image")

_TERM = re.compile(r"^\s*(?:(\d+(?:\.\d*)?|\.\d+)\s*\*\s*)?([a-z_]+)\s*$")


def make_loss(
    name: str,
    *,
    ignore_index: int = NODATA,
    class_weights: Sequence[float] | None = None,
    tversky_alpha: float = 0.9,
    tversky_beta: float = 0.1,
    focal_gamma: float = 2.0,
) -> Loss:
    """A loss from a formula: names, optionally weighted, joined by ``+``.

    Names: ``ce`` (cross-entropy), ``dice`` (Tversky with α = β = 0.5),
    ``focal`` (γ = *focal_gamma*), ``tversky`` (α = *tversky_alpha* on false
    negatives, β = *tversky_beta* on false positives), ``lovasz`` (Lovász-softmax
    over the batch), ``lovasz_image`` (per image). A weight multiplies a term:
    ``"0.15*ce+0.25*dice+0.6*tversky+0.2*focal"``. *class_weights* weight the
    classes in ``ce``, ``focal``, ``dice`` and ``tversky``.

    Examples
    --------
    >>> loss = make_loss("ce+dice")
    >>> logits = torch.zeros(1, 2, 4, 4); target = torch.zeros(1, 4, 4, dtype=torch.long)
    >>> round(float(loss(logits, target)), 3)
    1.247
    >>> round(float(make_loss("0.5*ce")(logits, target)), 4)
    0.3466
    """
    if not is_instance(name, str) or not name.strip():
        raise ParameterError(f"loss must be a formula such as 'ce+dice', got {name!r}")
    parts: list[tuple[float, Loss]] = []
    for part in name.split("+"):
        match = _TERM.match(part)
        if match is None:
            raise ParameterError(
                f"loss {name!r}: cannot read the term {part!r}; write terms as 'name' or "
                "'weight*name', e.g. '0.5*ce+0.5*lovasz'"
            )
        weight, term = float(match.group(1) or 1.0), match.group(2)
        if term == "ce":
            parts.append((weight, cross_entropy(ignore_index, class_weights)))
        elif term == "dice":
            parts.append((weight, tversky(0.5, 0.5, ignore_index, class_weights)))
        elif term == "focal":
            parts.append((weight, focal(focal_gamma, ignore_index, class_weights)))
        elif term == "tversky":
            parts.append(
                (weight, tversky(tversky_alpha, tversky_beta, ignore_index, class_weights))
            )
        elif term == "lovasz":
            parts.append((weight, lovasz_softmax(ignore_index)))
        elif term == "lovasz_image":
            parts.append((weight, lovasz_softmax(ignore_index, per_image=True)))
        else:
            raise ParameterError(
                f"unknown loss {term!r}; use {', '.join(LOSSES)}, weighted sums like "
                "0.5*ce+0.5*lovasz"
            )

    def total(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        out = parts[0][0] * parts[0][1](logits, target)
        for weight, loss in parts[1:]:
            out = out + weight * loss(logits, target)
        return out

    return total
