"""Model architectures and shipped models (need the ``torch`` extra).

:func:`pretrained` gives the :class:`~sarcube.infer.ModelSpec` of a shipped
model by name (see :data:`MODELS`), ready for :func:`sarcube.infer.predict`.
"""

from .._extras import require

require("torch", "sarcube.models")  # before the modules that import it

from .efficientnet import EfficientUNet  # noqa: E402
from .ombria import pretrained, shipped  # noqa: E402
from .resnet import ResUNet  # noqa: E402
from .unet import UNet  # noqa: E402

#: Names of the models shipped inside the package.
MODELS: tuple[str, ...] = shipped()

__all__ = ["MODELS", "EfficientUNet", "ResUNet", "UNet", "pretrained"]
