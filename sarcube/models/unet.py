"""A compact U-Net for SAR segmentation (Ronneberger et al. 2015, slimmed down).

Each level is two 3×3 convolutions with batch normalisation and ReLU; the
encoder halves the resolution with max-pooling, the decoder doubles it with a
transposed convolution and concatenates the encoder's features. With
``base=16`` and ``depth=4`` it has about 0.5 M parameters (2 MB as float32).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["UNet"]


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net with *depth* levels; input sides must be multiples of ``2**(depth-1)``.

    Examples
    --------
    >>> net = UNet(in_channels=2, n_classes=2, base=8, depth=3)
    >>> net(torch.zeros(1, 2, 32, 32)).shape
    torch.Size([1, 2, 32, 32])
    """

    def __init__(self, in_channels: int = 2, n_classes: int = 2, base: int = 16, depth: int = 4):
        super().__init__()
        widths = [base * 2**i for i in range(depth)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(_block(cin, w))
            cin = w
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, w, 2, stride=2))
            self.merge.append(_block(2 * w, w))
            cin = w
        self.head = nn.Conv2d(cin, n_classes, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, classes, y, x)`` of a ``(batch, channels, y, x)`` input."""
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = self.pool(x)
        for up, merge in zip(self.up, self.merge, strict=True):
            x = up(x)
            x = merge(torch.cat([x, skips.pop()], dim=1))
        out: torch.Tensor = self.head(x)
        return out
