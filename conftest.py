"""Doctest namespace: docstring examples may use numpy, xarray and sarcube's public names.

The ``.sar`` accessor methods carry the docstrings of the functions they
forward to, so their examples run with those names in scope too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr

import sarcube


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict[str, Any]) -> None:
    doctest_namespace.update({"np": np, "xr": xr, "sarcube": sarcube})
    doctest_namespace.update({name: getattr(sarcube, name) for name in sarcube.__all__})
    # the accessor's InSAR methods carry sarcube.insar's docstrings and examples
    doctest_namespace.update({name: getattr(sarcube.insar, name) for name in sarcube.insar.__all__})
    # and stack_channels sarcube.infer's
    doctest_namespace["stack_channels"] = sarcube.infer.stack_channels
