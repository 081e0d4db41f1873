"""Training augmentations for SAR chips: geometric, radiometric and SAR speckle.

An :class:`Augment` draws, for each chip, the same geometric change for the
input ``(C, H, W)`` and its label ``(H, W)`` (flip/rot90, elastic), and
radiometric changes of the input only (per-channel gain, offset and gamma,
multiplicative gamma-distributed speckle, cutout). MixUp mixes two chips and
is applied per batch by :func:`sarcube.ml.train` (``mixup=``). Everything is
drawn from the generator it is given, so a seeded dataset repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import items_of
from ..errors import ParameterError

__all__ = ["Augment", "gamma_speckle_db"]


def gamma_speckle_db(shape: tuple[int, ...], looks: float, rng: np.random.Generator) -> np.ndarray:
    """Speckle of an *looks*-look intensity image in dB: 10·log10 of Gamma(L, 1/L) draws.

    Fully developed speckle of an L-look intensity image is gamma distributed
    with mean 1 and variance 1/L (Goodman 1976); in dB it is additive.

    Examples
    --------
    >>> from sarcube.ml import gamma_speckle_db
    >>> speckle = gamma_speckle_db((100_000,), 4.4, np.random.default_rng(0))
    >>> round(float((10 ** (speckle / 10)).mean()), 2)  # mean 1 in linear power
    1.0
    """
    return (10 * np.log10(rng.gamma(looks, 1 / looks, shape))).astype(np.float32)


def _range(value: tuple[float, float] | None, name: str, positive: bool = False) -> None:
    if value is None:
        return
    if items_of(value, 2) is None or not value[0] <= value[1] or (positive and value[0] <= 0):
        raise ParameterError(
            f"Augment: {name} must be a (low, high) pair with low <= high"
            + (" and low > 0" if positive else "")
            + f", got {value!r}"
        )


@dataclass(frozen=True)
class Augment:
    """Random changes of a training chip.

    Parameters
    ----------
    flips
        One of the 8 flips/rotations by 90°, the same for input and label.
    gain
        Per-channel multiplicative factor drawn uniformly from ``(low, high)``.
    offset
        Per-channel additive shift drawn uniformly from ``(low, high)``, in input units.
    gamma
        Per-channel exponent drawn log-uniformly from ``(low, high)``, applied to
        the channel rescaled to its own [min, max] (so the range is kept and the
        order of values too).
    speckle_looks
        Add gamma speckle of that many looks (in dB, divided by *db_per_unit*
        to input units: 1 for inputs in dB, about the dB standard deviation of
        a chip for z-scored inputs).
    elastic
        ``(alpha, sigma)``: a random displacement field, Gaussian-smoothed with
        *sigma* pixels and scaled to *alpha* pixels (Simard et al. 2003); the
        input is resampled bilinearly, the label by nearest neighbour.
    cutout
        ``(holes, size)``: that many square holes of *size* pixels set to
        *fill* in the input (labels kept).
    probability
        The chance that each radiometric/elastic/cutout change is applied to a
        chip (flips are always drawn).

    Examples
    --------
    >>> from sarcube.ml import Augment
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2, 8, 8)).astype("float32")
    >>> y = (x[0] > 0).astype("uint8")
    >>> change = Augment(gain=(0.9, 1.1), speckle_looks=4.4, probability=1.0)
    >>> x2, y2 = change(x, y, rng)
    >>> x2.shape, y2.shape, int(y2.sum()) == int(y.sum())  # the label is only flipped
    ((2, 8, 8), (8, 8), True)
    """

    flips: bool = True
    gain: tuple[float, float] | None = None
    offset: tuple[float, float] | None = None
    gamma: tuple[float, float] | None = None
    speckle_looks: float | None = None
    db_per_unit: float = 1.0
    elastic: tuple[float, float] | None = None
    cutout: tuple[int, int] | None = None
    fill: float = 0.0
    probability: float = 0.5

    def __post_init__(self) -> None:
        _range(self.gain, "gain", positive=True)
        _range(self.offset, "offset")
        _range(self.gamma, "gamma", positive=True)
        if self.speckle_looks is not None and not self.speckle_looks > 0:
            raise ParameterError(f"Augment: speckle_looks must be > 0, got {self.speckle_looks}")
        if not self.db_per_unit > 0:
            raise ParameterError(f"Augment: db_per_unit must be > 0, got {self.db_per_unit}")
        if self.elastic is not None and not (self.elastic[0] >= 0 and self.elastic[1] > 0):
            raise ParameterError(f"Augment: elastic is (alpha >= 0, sigma > 0), got {self.elastic}")
        if self.cutout is not None and not (self.cutout[0] >= 0 and self.cutout[1] >= 1):
            raise ParameterError(f"Augment: cutout is (holes >= 0, size >= 1), got {self.cutout}")
        if not 0 <= self.probability <= 1:
            raise ParameterError(f"Augment: probability must be in [0, 1], got {self.probability}")

    def __call__(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The changed copies of an input ``(C, H, W)`` and its label ``(H, W)``."""
        x = np.array(x, dtype=np.float32)
        y = np.array(y)
        if self.flips:
            k = int(rng.integers(4))
            if k:
                x, y = np.rot90(x, k, axes=(1, 2)), np.rot90(y, k)
            if rng.integers(2):
                x, y = x[:, :, ::-1], y[:, ::-1]
        if self.elastic is not None and rng.random() < self.probability:
            x, y = _elastic(x, y, *self.elastic, rng)
        c = x.shape[0]
        if self.gamma is not None and rng.random() < self.probability:
            exponents = np.exp(rng.uniform(np.log(self.gamma[0]), np.log(self.gamma[1]), c))
            lo = x.min(axis=(1, 2), keepdims=True)
            span = np.maximum(x.max(axis=(1, 2), keepdims=True) - lo, 1e-12)
            x = lo + span * ((x - lo) / span) ** exponents[:, None, None].astype(np.float32)
        if self.gain is not None and rng.random() < self.probability:
            x = x * rng.uniform(self.gain[0], self.gain[1], size=(c,))[:, None, None].astype(
                np.float32
            )
        if self.offset is not None and rng.random() < self.probability:
            x = x + rng.uniform(self.offset[0], self.offset[1], size=(c,))[:, None, None].astype(
                np.float32
            )
        if self.speckle_looks is not None and rng.random() < self.probability:
            x = x + gamma_speckle_db(x.shape, self.speckle_looks, rng) / self.db_per_unit
        if self.cutout is not None and rng.random() < self.probability:
            holes, size = self.cutout
            for _ in range(holes):
                r = int(rng.integers(max(1, x.shape[1] - size + 1)))
                s = int(rng.integers(max(1, x.shape[2] - size + 1)))
                x[:, r : r + size, s : s + size] = self.fill
        return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y)


def _elastic(
    x: np.ndarray, y: np.ndarray, alpha: float, sigma: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage

    h, w = y.shape
    dy = ndimage.gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma)
    dx = ndimage.gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma)
    norm = max(float(np.abs(dy).max()), float(np.abs(dx).max()), 1e-12)
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([rows + alpha * dy / norm, cols + alpha * dx / norm])
    moved = np.stack([ndimage.map_coordinates(band, coords, order=1, mode="reflect") for band in x])
    label = ndimage.map_coordinates(y, coords, order=0, mode="reflect")
    return moved.astype(np.float32), label.astype(y.dtype)
