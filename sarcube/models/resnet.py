"""A U-Net on a ResNet-style encoder (He et al. 2016), for any number of input channels.

The encoder is a ResNet-18/34 layout at a chosen width: a 3×3 stem, then
stages of basic residual blocks (two 3×3 convolutions with batch norm, the
input added back; a 1×1 projection where the width or stride changes), each
stage after the first halving the resolution with a stride-2 block. The
decoder upsamples one stage at a time and concatenates the encoder's features
of that resolution, as a U-Net does; no pretrained weights (SAR chips are not
ImageNet photographs, and the block layout is small enough to train from
scratch on a few hundred chips).

References
----------
He, K., Zhang, X., Ren, S., Sun, J. (2016). Deep residual learning for image
recognition. *CVPR*, 770–778. Ronneberger, O., Fischer, P., Brox, T. (2015).
U-Net: convolutional networks for biomedical image segmentation. *MICCAI*.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ParameterError
from .unet import _block as _decoder_block  # two 3×3 conv + BN + ReLU, as the U-Net's

__all__ = ["ResUNet"]


class _Basic(nn.Module):
    """The basic residual block: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, classes, y, x)`` of a ``(batch, channels, y, x)`` input."""
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class ResUNet(nn.Module):
    """U-Net with a ResNet-style encoder; input sides must be multiples of ``2**(len(blocks)-1)``.

    Parameters
    ----------
    in_channels, n_classes
        Input channels (any number) and output classes (logits).
    base
        Channels of the first stage; each later stage doubles them.
    blocks
        Residual blocks per stage: ``(2, 2, 2, 2)`` is ResNet-18's layout,
        ``(3, 4, 6, 3)`` ResNet-34's.

    Notes
    -----
    :meth:`encoder_parameters` and :meth:`decoder_parameters` split the
    parameters for :func:`sarcube.ml.train`'s differential learning rates and
    encoder freezing. With ``base=16`` the model has 0.89 M parameters in
    ResNet-18's layout and 1.5 M in ResNet-34's.

    Examples
    --------
    >>> net = ResUNet(in_channels=5, n_classes=2, base=8, blocks=(1, 1, 1))
    >>> net(torch.zeros(1, 5, 32, 32)).shape
    torch.Size([1, 2, 32, 32])
    """

    def __init__(
        self,
        in_channels: int = 3,
        n_classes: int = 2,
        base: int = 16,
        blocks: tuple[int, ...] | list[int] = (2, 2, 2, 2),
    ) -> None:
        super().__init__()
        layout = tuple(int(b) for b in blocks)
        if not layout or min(layout) < 1:
            raise ParameterError(
                f"ResUNet: blocks must list at least one residual block per stage, got {blocks!r}"
            )
        if in_channels < 1 or n_classes < 1 or base < 1:
            raise ParameterError(
                "ResUNet: in_channels, n_classes and base must be positive, got "
                f"{in_channels}, {n_classes}, {base}"
            )
        widths = [base * 2**i for i in range(len(layout))]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, base, 3, padding=1, bias=False),
            nn.BatchNorm2d(base),
            nn.ReLU(inplace=True),
        )
        self.stages = nn.ModuleList()
        cin = base
        for i, (width, count) in enumerate(zip(widths, layout, strict=True)):
            stage = [_Basic(cin, width, 1 if i == 0 else 2)]
            stage += [_Basic(width, width, 1) for _ in range(count - 1)]
            self.stages.append(nn.Sequential(*stage))
            cin = width
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, width, 2, stride=2))
            self.merge.append(_decoder_block(2 * width, width))
            cin = width
        self.head = nn.Conv2d(cin, n_classes, 1)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The pretrained encoder's parameters (trained at their own learning rate)."""
        return [*self.stem.parameters(), *self.stages.parameters()]

    def decoder_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not the encoder's."""
        encoder = {id(p) for p in self.encoder_parameters()}
        return [p for p in self.parameters() if id(p) not in encoder]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, classes, y, x)`` of a ``(batch, channels, y, x)`` input."""
        x = self.stem(x)
        skips = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.stages) - 1:
                skips.append(x)
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        out: torch.Tensor = self.head(x)
        return out
