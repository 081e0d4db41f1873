"""Model architectures and shipped models (need the ``torch`` extra).

:func:`pretrained` gives the :class:`~sarcube.infer.ModelSpec` of a shipped
model by name (see :data:`MODELS`), ready for :func:`sarcube.infer.predict`.
"""

from .efficientnet import EfficientUNet
from .ombria import NAME as _OMBRIA
from .ombria import pretrained
from .unet import UNet

#: Names of the models shipped inside the package.
MODELS: tuple[str, ...] = (_OMBRIA,)

__all__ = ["MODELS", "EfficientUNet", "UNet", "pretrained"]
