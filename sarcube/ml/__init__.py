"""Training segmentation models on chips (needs the ``torch`` extra).

:class:`ChipDataset` serves (input, label) chips with augmentation (flip/rot90,
or an :class:`Augment`: radiometric, SAR speckle, elastic, cutout); :func:`train`
is a small, complete training loop: losses and weighted sums of them
(cross-entropy, Dice, focal, Tversky, Lovász), MixUp, mixed precision,
differential learning rates and encoder freezing, gradient clipping, early
stopping, per-epoch validation with per-image and per-class IoU,
best-checkpoint selection and a JSON training log (:func:`plot_training_log`
draws it).
"""

from .._extras import require

require("torch", "sarcube.ml")  # before the modules that import it

from .augment import Augment, gamma_speckle_db  # noqa: E402
from .chips import to_chips  # noqa: E402
from .data import ChipDataset, augment  # noqa: E402
from .kurosiwo import to_kurosiwo  # noqa: E402
from .losses import LOSSES, make_loss  # noqa: E402
from .train import TrainingLog, evaluate, plot_training_log, train  # noqa: E402

__all__ = [
    "LOSSES",
    "Augment",
    "ChipDataset",
    "TrainingLog",
    "augment",
    "evaluate",
    "gamma_speckle_db",
    "make_loss",
    "plot_training_log",
    "to_chips",
    "to_kurosiwo",
    "train",
]
