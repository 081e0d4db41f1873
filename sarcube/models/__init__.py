"""Model architectures shipped with sarcube (need the ``torch`` extra)."""

from .unet import UNet

__all__ = ["UNet"]
