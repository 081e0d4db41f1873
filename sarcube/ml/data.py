"""Chip datasets for torch."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..conventions import NODATA
from ..errors import DimensionError, ParameterError
from .augment import Augment

__all__ = ["ChipDataset", "augment"]


def augment(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The same random flip and rot90 of an input (C, H, W) and its label (H, W).

    Examples
    --------
    >>> from sarcube.ml import augment
    >>> x = np.arange(2 * 4 * 4, dtype="float32").reshape(2, 4, 4)
    >>> y = (x[0] > 7).astype("uint8")
    >>> x2, y2 = augment(x, y, np.random.default_rng(1))
    >>> bool(((x2[0] > 7) == y2).all())  # input and label moved together
    True
    """
    k = int(rng.integers(4))
    if k:
        x, y = np.rot90(x, k, axes=(1, 2)), np.rot90(y, k)
    if rng.integers(2):
        x, y = x[:, :, ::-1], y[:, ::-1]
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


class ChipDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """(input, label) chips held in memory: inputs (N, C, H, W), labels (N, H, W).

    Labels are class indices (int64 in the batches); *ignore_index* marks
    pixels without a label. With *augment* each access draws a random
    change: ``True`` a flip/rot90, an :class:`~sarcube.ml.Augment` its own set
    (radiometric, speckle, elastic, cutout); with *crop* a random square
    window of that size (both seeded: the sequence repeats for the same *seed*).

    Examples
    --------
    >>> ds = ChipDataset(np.zeros((4, 2, 8, 8), np.float32), np.zeros((4, 8, 8), np.uint8))
    >>> x, y = ds[0]
    >>> tuple(x.shape), y.dtype
    ((2, 8, 8), torch.int64)
    """

    def __init__(
        self,
        inputs: np.ndarray,
        labels: np.ndarray,
        *,
        augment: bool | Augment = False,
        seed: int = 0,
        ignore_index: int = NODATA,
        crop: int | None = None,
    ) -> None:
        inputs, labels = np.asarray(inputs), np.asarray(labels)
        if inputs.ndim != 4 or labels.ndim != 3:
            raise DimensionError(
                f"ChipDataset: inputs must be (N, C, H, W) and labels (N, H, W); got "
                f"{inputs.shape} and {labels.shape}"
            )
        if inputs.shape[0] != labels.shape[0] or inputs.shape[2:] != labels.shape[1:]:
            raise DimensionError(
                f"ChipDataset: inputs {inputs.shape} and labels {labels.shape} do not match"
            )
        if not np.isfinite(inputs).all():
            raise ParameterError("ChipDataset: inputs hold NaN/inf; fill nodata first")
        self.inputs = inputs.astype(np.float32, copy=False)
        self.labels = labels
        if not isinstance(augment, (bool, Augment)):
            raise ParameterError(
                f"ChipDataset: augment must be True/False or an Augment, got {augment!r}"
            )
        self.augment: Augment | None = (
            Augment() if augment is True else (augment if isinstance(augment, Augment) else None)
        )
        self.ignore_index = ignore_index
        if crop is not None and not 0 < crop <= min(inputs.shape[2:]):
            raise ParameterError(f"ChipDataset: crop must be in 1..{min(inputs.shape[2:])}")
        self.crop = crop
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.inputs[i], self.labels[i]
        if self.crop is not None:
            r = int(self._rng.integers(x.shape[1] - self.crop + 1))
            c = int(self._rng.integers(x.shape[2] - self.crop + 1))
            x, y = (
                x[:, r : r + self.crop, c : c + self.crop],
                y[r : r + self.crop, c : c + self.crop],
            )
        if self.augment is not None:
            x, y = self.augment(x, y, self._rng)
        return torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y, dtype=np.int64))
