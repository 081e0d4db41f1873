"""What every figure shares: pyplot on a file backend, class colours, legends."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_xarray
from ..conventions import NODATA
from ..errors import DimensionError


def _pyplot() -> Any:
    from .._extras import require

    matplotlib = require("matplotlib", "sarcube's figures")

    if "matplotlib.pyplot" not in sys.modules and "MPLBACKEND" not in os.environ:
        # scripts and servers draw to files; a notebook (its kernel sets
        # MPLBACKEND to the inline backend) or a user who chose a backend keeps it
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: Any, path: str | os.PathLike[str] | None, dpi: int = 100) -> None:
    if path is not None:
        fig.savefig(path, dpi=dpi)
        _pyplot().close(fig)


def _class_image(da: xr.DataArray, name: str, func: str) -> np.ndarray:
    check_xarray(da, func)
    if da.ndim != 2:
        raise DimensionError(
            f"{func}: map {name!r} has dims {da.dims}; select one 2-D map, e.g. m.isel(time=-1)"
        )
    return np.asarray(da.values)


#: Colours of flood-map classes: 0 no flood, 1 flood, 255 nodata.
_MAP_COLOURS = {0: (0.93, 0.91, 0.85), 1: (0.12, 0.39, 0.78), NODATA: (0.55, 0.55, 0.55)}


#: Colour of nodata (NaN) in grey-scale images: distinct from dark and bright backscatter.
NODATA_COLOUR = (0.85, 0.45, 0.75)
_MAP_LABELS = {0: "no flood", 1: "flood", NODATA: "nodata"}


def _legend(fig: Any, entries: Sequence[tuple[str, Any]], ncols: int | None = None) -> Any:
    """A figure legend of colour patches (label, colour) below the panels."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colour, edgecolor="0.3", label=label) for label, colour in entries]
    return fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=ncols or len(handles),
        fontsize=8,
        frameon=False,
    )


def _grey(nodata: bool = True) -> Any:
    """The grey colour map of backscatter images, NaN (nodata) in :data:`NODATA_COLOUR`."""
    from matplotlib import colormaps

    return colormaps["gray"].with_extremes(bad=NODATA_COLOUR if nodata else "white")


def _map_rgb(values: np.ndarray) -> np.ndarray:
    """RGB image of a 0/1/255 map; other classes in a qualitative colour each."""
    rgb = np.zeros((*values.shape, 3))
    for v in np.unique(values):
        rgb[values == v] = _class_colour(int(v))
    return rgb


def _class_colour(value: int) -> Any:
    """The colour of a map class: fixed for flood/no flood/nodata, else one of tab10."""
    from matplotlib import colormaps

    return _MAP_COLOURS.get(value, colormaps["tab10"](value % 10)[:3])
