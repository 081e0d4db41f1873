"""Training segmentation models on chips (needs the ``torch`` extra).

:class:`ChipDataset` serves (input, label) chips with flip/rot90 augmentation;
:func:`train` is a small, complete training loop: losses (cross-entropy, Dice,
focal, Tversky), per-epoch validation with per-image IoU, best-checkpoint
selection and a JSON training log (:func:`plot_training_log` draws it).
"""

from .chips import to_chips
from .data import ChipDataset, augment
from .losses import LOSSES, make_loss
from .train import TrainingLog, evaluate, plot_training_log, train

__all__ = [
    "LOSSES",
    "ChipDataset",
    "TrainingLog",
    "augment",
    "evaluate",
    "make_loss",
    "plot_training_log",
    "to_chips",
    "train",
]
