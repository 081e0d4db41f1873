"""A catalogue of bad inputs for every public function, and what each one raises.

Each :class:`Case` names a public function, builds bad arguments for it (dask-backed
wherever the function takes arrays), and states the :class:`~sarcube.SarcubeError`
subclass it must raise and a pattern its message must match: the pattern is the fix
the message names. Every case must raise before dask computes anything, and must
leave the scratch folder as it found it: no output, no temporary file.

``docs/bad-input.rst`` shows the same cases as a table; :func:`test_docs_table_matches_cases`
keeps the two in sync. After editing the cases, ``python tests/test_bad_input.py``
prints the table rows to paste into the page.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import xarray as xr
from shapely.geometry import Point, box

import sarcube
import sarcube.infer
import sarcube.ml
from sarcube.errors import (
    BandNotFoundError,
    DimensionError,
    DTypeError,
    EmptySearchError,
    GridMismatchError,
    InputNotFoundError,
    MaskError,
    OutputError,
    ParameterError,
    SarcubeError,
    UnitsError,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `python tests/test_bad_input.py`

from conftest import raise_if_dask_computes

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.rst"
CHUNKS = {"time": 1, "y": 7, "x": 9}
SPATIAL_CHUNKS = {"y": 7, "x": 9}


# --------------------------------------------------------------------------
# inputs (small, dask-backed, with coords, CRS and attrs like a real cube)


def cube(*, lazy: bool = True) -> xr.Dataset:
    """A (time, y, x) dual-pol cube in linear power with a CRS."""
    ds = sarcube.synthetic.make_scene((24, 20), seed=1).cube
    return ds.chunk(CHUNKS) if lazy else ds


def band() -> xr.DataArray:
    """VV of the cube, (time, y, x)."""
    return cube()["vv"]


def image(*, lazy: bool = True) -> xr.DataArray:
    """VV of the last date, (y, x)."""
    return cube(lazy=lazy)["vv"].isel(time=-1)


def db_image() -> xr.DataArray:
    return sarcube.to_db(image())


def complex_band() -> xr.DataArray:
    """Complex SLC-like samples on the cube's grid."""
    da = band()
    return (da * (1 + 1j)).astype(np.complex64).assign_attrs(da.attrs)


def text_image() -> xr.DataArray:
    """Strings where numbers belong."""
    da = image(lazy=False)
    return da.copy(data=np.full(da.shape, "0.1")).chunk(SPATIAL_CHUNKS)


def bool_image() -> xr.DataArray:
    return image() > 0.1


def rowcol_band() -> xr.DataArray:
    """Spatial dims named row/col: neither y/x nor a geographic pair."""
    return band().rename(y="row", x="col")


def class_map(*, lazy: bool = True) -> xr.DataArray:
    """uint8 0/1/255 flood map with a CRS."""
    scene = sarcube.synthetic.make_scene((24, 20), seed=1)
    flood = scene.flood.isel(time=-1).astype(np.uint8)
    flood = flood.where(scene.cube["vv"].isel(time=-1).notnull(), 255).astype(np.uint8)
    return flood.chunk(SPATIAL_CHUNKS) if lazy else flood


def zones(crs: Any = 32633) -> gpd.GeoDataFrame:
    """Two square zones over the synthetic scene."""
    x0, y0 = 500_000.0, 5_000_000.0
    geoms = [box(x0, y0 - 200, x0 + 200, y0), box(x0 + 100, y0 - 400, x0 + 300, y0 - 100)]
    return gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=geoms, crs=crs)


def prob_map() -> xr.DataArray:
    """Flood probabilities (y, x) in [0, 1]."""
    return (image() / (image() + 0.05)).rename("p")


def displacement_phase(**attrs: Any) -> xr.DataArray:
    da = sarcube.to_db(image()).rename("unwrapped_phase") / 10
    da.attrs = {"units": "rad", **attrs}
    return da


def los(**attrs: Any) -> xr.DataArray:
    da = image().rename("los") * 0.01
    da.attrs = {"units": "m", **attrs}
    return da


def model_spec() -> sarcube.infer.ModelSpec:
    return sarcube.infer.ModelSpec(factory="torch.nn:Identity", activation="none")


def unet_input() -> xr.DataArray:
    """Before/after channels for the shipped U-Net, lazily (24 x 20 pixels)."""
    from sarcube.models import ombria

    vv = band()
    return ombria.prepare(vv.isel(time=0), vv.isel(time=-1))


def unet_spec(**builder_kwargs: Any) -> sarcube.infer.ModelSpec:
    """The shipped U-Net's weights, with other builder arguments when given."""
    from sarcube.models import ombria

    return sarcube.infer.ModelSpec(
        state_dict=str(ombria.WEIGHTS),
        builder="sarcube.models.unet:UNet",
        builder_kwargs={**ombria.ARCHITECTURE, **builder_kwargs},
        channels=("before", "after"),
        name="unet",
    )


def geo_band() -> xr.DataArray:
    """A small band in metres on a UTM grid, with its CRS."""
    coords = {"y": 5_000_000.0 - np.arange(8) * 20.0, "x": 500_000.0 + np.arange(8) * 20.0}
    band = xr.DataArray(
        np.zeros((8, 8), np.float32), dims=("y", "x"), coords=coords, attrs={"units": "m"}
    )
    return band.rio.write_crs("EPSG:32633")


def gauge_levels() -> Any:
    """Two readings of one gauge."""
    import pandas as pd

    return pd.DataFrame(
        {"gauge": ["a", "a"], "time": ["2024-05-02", "2024-05-14"], "level": [1.0, 2.0]}
    )


def stac_items(tmp: Path) -> list[Any]:
    """Items of a small synthetic event written under *tmp*/event."""
    event = sarcube.synthetic.write_event(tmp / "event", (16, 16), seed=0)
    return list(sarcube.search(event.catalog))


# --------------------------------------------------------------------------
# the catalogue


class Scratch:
    """The case's scratch folder, and folders it cannot write to."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        self._monkeypatch = monkeypatch

    def readonly(self) -> Path:
        """A folder without write permission (also for root, whom mode bits do not stop)."""
        folder = self.path / "readonly"
        folder.mkdir(exist_ok=True)
        folder.chmod(0o555)
        if os.access(folder, os.W_OK):  # root: make os.access tell the truth of the mode bits
            real = os.access

            def access(path: Any, mode: int, **kwargs: Any) -> bool:
                if mode & os.W_OK and Path(path).resolve() == folder.resolve():
                    return False
                return real(path, mode, **kwargs)

            self._monkeypatch.setattr(os, "access", access)
        return folder

    def existing(self, name: str, text: str = "keep me\n") -> Path:
        """A file that is already there."""
        target = self.path / name
        target.write_text(text)
        return target


Args = tuple[tuple[Any, ...], dict[str, Any]]


def a(*args: Any, **kwargs: Any) -> Args:
    return args, kwargs


@dataclass(frozen=True)
class Case:
    """A bad input: ``name(*args, **kwargs)`` raises ``error``, its message matching ``fix_re``."""

    id: str
    name: str  # the public name, e.g. "sarcube.to_db"
    args: Callable[[Scratch], Args]
    error: type[SarcubeError]
    fix_re: str  # regex the message must match: the fix it names
    bad: str  # the bad input, for the docs table
    fix: str  # what the message tells the user to do, for the docs table
    output: str | None = None  # scratch-relative path that must not be created
    #: a known bug that is not fixed yet: the case is a strict
    #: xfail until it is fixed, and stays out of the docs table
    known: str | None = None

    @property
    def func(self) -> Callable[..., Any]:
        module_name, _, rest = self.name.partition(".")
        obj: Any = importlib.import_module(module_name)
        for part in rest.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                obj = importlib.import_module(f"{obj.__name__}.{part}")
        return obj  # type: ignore[no-any-return]


C = Case
S = "sarcube"

# One case per entry: id, public name, arguments, error, regex of the fix in the message,
# then the docs' "bad input" and "the message tells you to" cells.
# fmt: off
CASES: list[Case] = [
    # ---------------------------------------------------------------- calibration
    C("to_db-numpy", f"{S}.to_db", lambda s: a(np.ones((3, 3))), DTypeError,
      r"xr\.DataArray\(arr, dims=\('y', 'x'\)\)",
      "a numpy array", "wrap it: ``xr.DataArray(arr, dims=('y', 'x'))``"),
    C("to_db-complex", f"{S}.to_db", lambda s: a(complex_band()), DTypeError,
      r"abs\(obj\) \*\* 2", "complex (SLC) samples", "convert to intensity: ``abs(obj) ** 2``"),
    C("to_db-strings", f"{S}.to_db", lambda s: a(text_image()), DTypeError,
      r"pass numeric backscatter", "strings", "pass numeric backscatter (float32)"),
    C("to_db-bool", f"{S}.to_db", lambda s: a(bool_image()), DTypeError,
      r"pass numeric backscatter", "a boolean mask", "pass numeric backscatter (float32)"),
    C("to_db-already-db", f"{S}.to_db", lambda s: a(db_image()), UnitsError,
      r"call to_linear first", "``units='dB'``", "call ``to_linear`` first, or fix ``units``"),
    C("to_linear-linear", f"{S}.to_linear", lambda s: a(image()), UnitsError,
      r"set attrs\['units'\]='dB'", "``units='1'`` (linear power)",
      "set ``units='dB'`` if the values really are decibels"),
    C("to_linear-complex", f"{S}.to_linear", lambda s: a(complex_band()), DTypeError,
      r"abs\(obj\) \*\* 2", "complex samples", "convert to intensity: ``abs(obj) ** 2``"),
    C("clamp_stats-rowcol", f"{S}.clamp_stats", lambda s: a(rowcol_band()), DimensionError,
      r"rename\(\{'row': 'y', 'col': 'x'\}\)", "dims ``row``/``col``",
      "rename the spatial dims to ``y``/``x``"),
    C("clamp_stats-negative-clamp", f"{S}.clamp_stats", lambda s: a(band(), [0.3, -1.0]),
      ParameterError, r"each clamp must be finite and > 0", "a clamp <= 0",
      "pass clamps that are finite and > 0"),
    C("clamp_stats-no-clamps", f"{S}.clamp_stats", lambda s: a(band(), []), ParameterError,
      r"pass e\.g\. clamps=\(0\.15, 0\.3, 0\.5\)", "no clamp",
      "pass e.g. ``clamps=(0.15, 0.3, 0.5)``"),
    C("clamp_stats-duplicate-clamps", f"{S}.clamp_stats", lambda s: a(band(), [0.3, 0.3]),
      ParameterError, r"pass each clamp once", "a clamp twice", "pass each clamp once"),
    C("clamp_stats-positive-only-not-bool", f"{S}.clamp_stats",
      lambda s: a(band(), positive_only="yes"), ParameterError, r"must be True or False",
      "``positive_only='yes'``", "pass ``True`` or ``False``"),
    C("clamp_stats-unknown-dim", f"{S}.clamp_stats", lambda s: a(band(), dims=("time", "z")),
      DimensionError, r"pass dims= a subset of \('time', 'y', 'x'\)", "``dims`` not in the data",
      "pass ``dims=`` a subset of the data's dims"),
    C("clamp_stats-no-bands", f"{S}.clamp_stats", lambda s: a(cube()[[]]), DimensionError,
      r"pass a cube with bands", "a Dataset without variables", "pass a cube with bands"),
    # ---------------------------------------------------------------- scaling
    C("clamp-negative", f"{S}.clamp", lambda s: a(band(), -0.5), ParameterError,
      r"value must be finite and > 0", "a cut-off <= 0", "pass a cut-off > 0"),
    C("clamp-lower-above-upper", f"{S}.clamp", lambda s: a(band(), 0.3, lower=0.5),
      ParameterError, r"must be finite and below value=0\.3", "``lower`` above the cut-off",
      "pass ``lower`` below the cut-off"),
    C("clamp-complex", f"{S}.clamp", lambda s: a(complex_band(), 0.3), DTypeError,
      r"abs\(obj\) \*\* 2", "complex samples", "convert to intensity: ``abs(obj) ** 2``"),
    C("normalise-not-config", f"{S}.normalise", lambda s: a(cube(), {"clamp": 0.3}),
      ParameterError, r"NormConfig\.from_stats\(clamp_stats\(cube\)\)", "a dict as config",
      "build one with ``NormConfig.from_stats(clamp_stats(cube))``"),
    C("normalise-missing-band", f"{S}.normalise",
      lambda s: a(cube(), sarcube.NormConfig(clamp=0.3, mean={"vv": 0.1}, std={"vv": 0.1})),
      BandNotFoundError, r"no statistics for band 'vh'; the config has \['vv'\]",
      "a band the config has no statistics for", "select the configured bands (it lists them)"),
    C("NormConfig-mismatched-bands", f"{S}.NormConfig",
      lambda s: a(clamp=0.3, mean={"vv": 0.1}, std={"vh": 0.1}), ParameterError,
      r"give both for the same bands", "``mean`` and ``std`` for different bands",
      "give both for the same bands"),
    C("NormConfig-zero-std", f"{S}.NormConfig",
      lambda s: a(clamp=0.3, mean={"vv": 0.1}, std={"vv": 0.0}), ParameterError,
      r"std\['vv'\] must be finite and > 0", "a standard deviation of 0",
      "pass a standard deviation > 0"),
    C("NormConfig.from_stats-unknown-clamp", f"{S}.NormConfig.from_stats",
      lambda s: a(sarcube.clamp_stats(cube(), [0.3]), clamp=0.5), ParameterError,
      r"compute clamp_stats\(cube, clamps=\[\.\.\., 0\.5\]\)", "a clamp not in the statistics",
      "compute ``clamp_stats`` with that clamp"),
    C("NormConfig.from_stats-time-dim", f"{S}.NormConfig.from_stats",
      lambda s: a(sarcube.clamp_stats(cube(), [0.3]), clamp=0.3), DimensionError,
      r"clamp_stats\(cube, dims=\('time', 'y', 'x'\)\)", "statistics per date",
      "reduce over ``time`` too: ``dims=('time', 'y', 'x')``"),
    # ---------------------------------------------------------------- filters
    *[
        C(f"{f}-even-size", f"{S}.{f}", lambda s, f=f: a(band(), size=6), ParameterError,
          r"use size=7", "an even window ``size=6``", "use the next odd size (``size=7``)")
        for f in ("frost_filter", "median_filter")
    ],
    *[
        C(f"{f}-size-one", f"{S}.{f}", lambda s, f=f: a(band(), size=1), ParameterError,
          r"size must be an integer >= 2", "a window ``size=1``",
          "pass a size >= 2 (even sizes are windows as in ``scipy.ndimage.uniform_filter``)")
        for f in ("lee_filter", "gamma_map_filter", "boxcar_filter", "estimate_enl")
    ],
    C("boxcar_filter-float-size", f"{S}.boxcar_filter", lambda s: a(band(), size=5.0),
      ParameterError, r"size must be an integer >= 2", "``size=5.0``",
      "pass an integer >= 2"),
    C("median_filter-window-too-large", f"{S}.median_filter",
      lambda s: a(band().isel(y=slice(0, 5)), size=15), ParameterError,
      r"use a smaller size", "a window wider than the image", "use a smaller size"),
    *[
        C(f"{f}-db", f"{S}.{f}", lambda s, f=f: a(sarcube.to_db(band())), UnitsError,
          r"call sarcube\.to_linear first", "input in dB",
          "these filters model speckle on linear power: call ``to_linear`` first")
        for f in ("lee_filter", "frost_filter", "gamma_map_filter", "refined_lee", "estimate_enl")
    ],
    C("lee_filter-unknown-variant", f"{S}.lee_filter", lambda s: a(band(), variant="lopes"),
      ParameterError, r"use 'classic', 'enhanced' or 'tutorial'", "``variant='lopes'``",
      "use ``'classic'``, ``'enhanced'`` or ``'tutorial'``"),
    C("lee_filter-negative-enl", f"{S}.lee_filter", lambda s: a(band(), enl=-4.4),
      ParameterError, r"enl must be finite and > 0", "``enl=-4.4``", "pass ``enl`` > 0"),
    C("lee_filter-negative", f"{S}.lee_filter", lambda s: a(-image(lazy=False), enl=4.4),
      UnitsError, r"set attrs\['units'\]='dB' and call sarcube\.to_linear",
      "negative values (numpy; dask input raises when computed)",
      "dB without ``units``? set it and call ``to_linear``; clip noise residuals"),
    C("tv_denoise-negative", f"{S}.tv_denoise",
      lambda s: a(sarcube.to_db(image(lazy=False)).drop_attrs(), weight=1.0), UnitsError,
      r"obj\.clip\(min=0\)", "dB values without ``units`` (numpy; dask: when computed)",
      "set ``units='dB'`` and call ``to_linear``, or clip with ``obj.clip(min=0)``"),
    C("refined_lee-complex", f"{S}.refined_lee", lambda s: a(complex_band()), DTypeError,
      r"abs\(obj\) \*\* 2", "complex samples", "convert to intensity: ``abs(obj) ** 2``"),
    C("boxcar_filter-rowcol", f"{S}.boxcar_filter", lambda s: a(rowcol_band()), DimensionError,
      r"rename\(\{'row': 'y', 'col': 'x'\}\)", "dims ``row``/``col``",
      "rename the spatial dims to ``y``/``x``"),
    C("median_filter-strings", f"{S}.median_filter", lambda s: a(text_image()), DTypeError,
      r"pass numeric backscatter", "strings", "pass numeric backscatter (float32)"),
    C("frost_filter-zero-damping", f"{S}.frost_filter", lambda s: a(band(), damping=0),
      ParameterError, r"damping must be finite and > 0", "``damping=0``", "pass ``damping`` > 0"),
    C("inpaint_nodata-max-size", f"{S}.inpaint_nodata", lambda s: a(band(), max_size=0),
      ParameterError, r"max_size must be a positive integer", "``max_size=0``",
      "pass an integer >= 1"),
    C("inpaint_nodata-complex", f"{S}.inpaint_nodata", lambda s: a(complex_band()), DTypeError,
      r"abs\(obj\) \*\* 2", "complex samples", "convert to intensity: ``abs(obj) ** 2``"),
    C("inpaint_nodata-no-yx", f"{S}.inpaint_nodata", lambda s: a(band().rename(y="row")),
      DimensionError, r"'y' and 'x'", "a band without ``y``", "name the spatial dims ``y``/``x``"),
    C("tv_denoise-unknown-method", f"{S}.tv_denoise",
      lambda s: a(band(), weight=1.0, method="rof"), ParameterError,
      r"use 'chambolle' or 'bregman'", "``method='rof'``", "use ``'chambolle'`` or ``'bregman'``"),
    C("tv_denoise-negative-weight", f"{S}.tv_denoise", lambda s: a(band(), weight=-1.0),
      ParameterError, r"weight must be finite and > 0", "``weight=-1``", "pass ``weight`` > 0"),
    C("tv_denoise-db", f"{S}.tv_denoise", lambda s: a(sarcube.to_db(band()), weight=1.0),
      UnitsError, r"call sarcube\.to_linear first", "input in dB with ``db=True``",
      "call ``to_linear`` first (or pass ``db=False``)"),
    C("tv_denoise-zero-iterations", f"{S}.tv_denoise",
      lambda s: a(band(), weight=1.0, max_iter=0), ParameterError,
      r"max_iter must be a positive integer", "``max_iter=0``", "pass a positive integer"),
    C("tv_denoise-negative-halo", f"{S}.tv_denoise", lambda s: a(band(), weight=1.0, halo=-1),
      ParameterError, r"halo must be an integer >= 0", "``halo=-1``", "pass an integer >= 0"),
    # ---------------------------------------------------------------- change
    C("difference-shape-mismatch", f"{S}.difference",
      lambda s: a(image(), image().isel(x=slice(0, -1))), GridMismatchError,
      r"load both on one grid", "pre and post of different sizes",
      "load both on one grid (``load(..., like=)``, ``reindex_like``)"),
    C("difference-coords-mismatch", f"{S}.difference",
      lambda s: a(image(), image().assign_coords(x=image().x + 10)), GridMismatchError,
      r"reproject one onto the other's grid first", "pre and post shifted by half a pixel",
      "reproject one onto the other's grid"),
    C("difference-crs-mismatch", f"{S}.difference",
      lambda s: a(image(), image().rio.write_crs(32634)), GridMismatchError,
      r"reproject one onto the other", "pre and post in different CRSs",
      "reproject one onto the other"),
    C("difference-dataset-vs-array", f"{S}.difference", lambda s: a(cube(), image()),
      DTypeError, r"pass two Datasets or two DataArrays", "a Dataset and a DataArray",
      "pass two Datasets or two DataArrays"),
    C("difference-band-mismatch", f"{S}.difference", lambda s: a(cube(), cube()[["vv"]]),
      GridMismatchError, r"select the same bands", "cubes with different bands",
      "select the same bands"),
    C("log_ratio-db", f"{S}.log_ratio", lambda s: a(db_image(), db_image()), UnitsError,
      r"use sarcube\.difference on dB images", "images in dB",
      "pass linear power, or use ``difference`` on dB images"),
    C("log_ratio-numpy", f"{S}.log_ratio", lambda s: a(np.ones((3, 3)), np.ones((3, 3))),
      DTypeError, r"xr\.DataArray\(arr, dims=\('y', 'x'\)\)", "numpy arrays",
      "wrap them: ``xr.DataArray(arr, dims=('y', 'x'))``"),
    C("normalised_change-several-dates", f"{S}.normalised_change", lambda s: a(band(), image()),
      DimensionError, r"reduce several with sarcube\.reduce_time", "a pre image with a time dim",
      "select one date, or reduce several with ``reduce_time``"),
    C("reduce_time-no-time", f"{S}.reduce_time", lambda s: a(image()), DimensionError,
      r"pass dim= one of \('y', 'x'\)", "an image without ``time``",
      "pass ``dim=`` one of the image's dims"),
    C("reduce_time-unknown-how", f"{S}.reduce_time", lambda s: a(band(), how="max"),
      ParameterError, r"how must be 'mean' or 'median'", "``how='max'``",
      "use ``'mean'`` or ``'median'``"),
    C("reduce_time-complex", f"{S}.reduce_time", lambda s: a(complex_band()), DTypeError,
      r"abs\(obj\) \*\* 2", "complex samples", "convert to intensity: ``abs(obj) ** 2``"),
    # ---------------------------------------------------------------- thresholds
    C("threshold-unknown-method", f"{S}.threshold", lambda s: a(db_image(), method="li"),
      ParameterError, r"use 'otsu', 'ki' or 'tiled'", "``method='li'``",
      "use ``'otsu'``, ``'ki'`` or ``'tiled'``"),
    C("threshold-dataset", f"{S}.threshold", lambda s: a(sarcube.to_db(cube())), DTypeError,
      r"pass one band \(a DataArray\), e\.g\. cube\['vv'\]", "a whole cube",
      "pass one band, e.g. ``cube['vv']``"),
    C("threshold-linear-no-range", f"{S}.threshold", lambda s: a(image()), ParameterError,
      r"pass range=\(low, high\)", "float data not in dB, without ``range``",
      "pass ``range=(low, high)``"),
    C("threshold-reversed-range", f"{S}.threshold", lambda s: a(db_image(), range=(0, -30)),
      ParameterError, r"e\.g\. range=\(-30, 0\)", "``range=(0, -30)``",
      "pass a finite range with low < high"),
    C("threshold-one-bin", f"{S}.threshold", lambda s: a(db_image(), bins=1), ParameterError,
      r"bins must be an integer >= 2", "``bins=1``", "pass an integer >= 2"),
    C("threshold-huge-bins", f"{S}.threshold", lambda s: a(db_image(), bins=10**9),
      ParameterError, r"pass at most 1048576", "``bins=10**9`` (8 GB of counts)",
      "pass at most 2²⁰ bins, e.g. ``bins=1024``"),
    C("threshold-tiled-3d", f"{S}.threshold",
      lambda s: a(sarcube.to_db(band()), method="tiled", tile_sizes=(8, 4)), DimensionError,
      r"select one date first, e\.g\. da\.isel\(time=0\)", "``method='tiled'`` on (time, y, x)",
      "select one date first"),
    C("threshold-tiles-not-nested", f"{S}.threshold",
      lambda s: a(db_image(), method="tiled", tile_sizes=(12, 8)), ParameterError,
      r"e\.g\. use \(256, 128, 64\)", "tile sizes that do not nest (12, 8)",
      "use sizes that divide each other, e.g. ``(256, 128, 64)``"),
    C("threshold-complex", f"{S}.threshold", lambda s: a(complex_band()), DTypeError,
      r"abs\(obj\) \*\* 2", "complex samples", "convert to intensity: ``abs(obj) ** 2``"),
    # ---------------------------------------------------------------- flood
    C("flood_map-shape-mismatch", f"{S}.flood_map",
      lambda s: a(image(), image().isel(y=slice(0, -2))), GridMismatchError,
      r"load both on one grid", "pre and post of different sizes", "load both on one grid"),
    C("flood_map-even-median", f"{S}.flood_map", lambda s: a(image(), image(), median_size=4),
      ParameterError, r"e\.g\. median_size=5", "``median_size=4``",
      "pass an odd size (1 skips the step)"),
    C("flood_map-unknown-method", f"{S}.flood_map", lambda s: a(image(), image(), method="li"),
      ParameterError, r"method must be 'auto', 'otsu', 'ki' or 'tiled'", "``method='li'``",
      "use ``'auto'``, ``'otsu'``, ``'ki'`` or ``'tiled'``"),
    C("flood_map-no-units", f"{S}.flood_map",
      lambda s: a(image().drop_attrs(), image().drop_attrs()), UnitsError,
      r"set the attr \('1' or 'dB'\) or pass units='linear'", "float images without ``units``",
      "set the ``units`` attr or pass ``units=``"),
    C("flood_map-mixed-units", f"{S}.flood_map", lambda s: a(image(), db_image()), UnitsError,
      r"convert one \(sarcube\.to_db / to_linear\)", "pre linear, post in dB",
      "convert one with ``to_db``/``to_linear``"),
    C("flood_map-missing-band", f"{S}.flood_map", lambda s: a(cube(), cube(), band="hh"),
      BandNotFoundError, r"available: \['vv', 'vh'\]", "``band='hh'`` on a VV/VH cube",
      "pick one of the available bands (listed)"),
    C("flood_map-several-post-dates", f"{S}.flood_map", lambda s: a(band(), band()),
      DimensionError, r"post\.isel\(time=-1\)", "post with several dates",
      "pass one post-event date, e.g. ``post.isel(time=-1)``"),
    C("flood_map-complex", f"{S}.flood_map", lambda s: a(complex_band(), complex_band()),
      DTypeError, r"abs\(obj\) \*\* 2", "complex samples",
      "convert to intensity: ``abs(obj) ** 2``"),
    C("flood_map-unknown-thresholds", f"{S}.flood_map",
      lambda s: a(image(), image(), thresholds="local"), ParameterError,
      r"thresholds must be 'global', 'regional' or a Dataset", "``thresholds='local'``",
      "use ``'global'``, ``'regional'`` or a surface from ``flood_thresholds``"),
    C("flood_map-surface-other-grid", f"{S}.flood_map",
      lambda s: a(*[image().drop_vars(["y", "x"])] * 2, thresholds=sarcube.flood_thresholds(
          *[sarcube.synthetic.make_scene((160, 20)).cube["vv"].isel(time=-1)] * 2,
          region_size=64)),
      GridMismatchError, r"compute them with sarcube\.flood_thresholds on these images",
      "a threshold surface of another image (no coordinates to place it)",
      "compute the surface on these images"),
    C("flood_map-surface-off-grid", f"{S}.flood_map",
      lambda s: a(*[image().assign_coords(x=image().x + 0.5 * float(image().x[1] - image().x[0]))]
                  * 2, thresholds=sarcube.flood_thresholds(image(), image(), region_size=64)),
      GridMismatchError, r"not a window of the grid .* on a cube that holds them",
      "a surface whose grid the images miss (half a pixel off)",
      "compute the surface on these images or on a cube that holds them"),
    C("flood_thresholds-small-region", f"{S}.flood_thresholds",
      lambda s: a(image(), image(), region_size=16), ParameterError,
      r"e\.g\. region_size=1024", "``region_size=16``", "use regions of 64 pixels or more"),
    C("flood_thresholds-float-log", f"{S}.flood_thresholds",
      lambda s: a(image().drop_attrs(), image().drop_attrs(), units="log"), ParameterError,
      r"pass linear power or dB", "float images with ``units='log'``",
      "pass linear power or dB (``units``), or integer chips"),
    # ---------------------------------------------------------------- regions
    C("remove_small_regions-float", f"{S}.remove_small_regions",
      lambda s: a(image(), min_size=3), DTypeError, r"e\.g\. \(change < threshold\)",
      "a float image as mask", "compare first, e.g. ``(change < threshold)``"),
    C("remove_small_regions-zero-size", f"{S}.remove_small_regions",
      lambda s: a(class_map(), min_size=0), ParameterError, r"min_size must be a positive integer",
      "``min_size=0``", "pass a positive integer"),
    C("remove_small_regions-connectivity", f"{S}.remove_small_regions",
      lambda s: a(class_map(), min_size=2, connectivity=3), ParameterError,
      r"connectivity must be one of 1, 2", "``connectivity=3``", "pass 1 or 2"),
    C("remove_small_regions-dataset", f"{S}.remove_small_regions",
      lambda s: a(cube() > 0.1, min_size=2), DTypeError, r"pass one mask \(a DataArray\)",
      "a Dataset", "pass one mask (a DataArray)"),
    C("remove_small_regions-classes", f"{S}.remove_small_regions",
      lambda s: a(class_map(lazy=False) * 2, min_size=2), MaskError, r"\(classes == 2\)",
      "a class map with values 0/2 (numpy; dask input raises when computed)",
      "compare first, e.g. ``(classes == 2)``"),
    C("region_stats-float", f"{S}.region_stats", lambda s: a(image()), DTypeError,
      r"e\.g\. \(change < threshold\)", "a float image as mask",
      "compare first, e.g. ``(change < threshold)``"),
    C("region_stats-empty", f"{S}.region_stats", lambda s: a(class_map().isel(x=slice(0, 0))),
      MaskError, r"pass a non-empty mask", "an empty mask", "pass a non-empty mask"),
    C("boundary_ratio-float", f"{S}.boundary_ratio", lambda s: a(image()), DTypeError,
      r"pass a boolean mask or a uint8 map", "a float image", "pass a boolean or uint8 class map"),
    # ---------------------------------------------------------------- validate
    C("confusion_matrix-shape-mismatch", f"{S}.confusion_matrix",
      lambda s: a(class_map(), class_map().isel(x=slice(1, None)), classes=[0, 1]),
      GridMismatchError, r"compare maps on one grid", "maps of different sizes",
      "compare maps on one grid"),
    C("confusion_matrix-one-class", f"{S}.confusion_matrix",
      lambda s: a(class_map(), class_map(), classes=[1]), ParameterError,
      r"need at least two classes", "``classes=[1]``", "pass at least two classes"),
    C("confusion_matrix-text-classes", f"{S}.confusion_matrix",
      lambda s: a(class_map(), class_map(), classes=["water", "land"]), ParameterError,
      r"classes must be integers, e\.g\. classes=\[0, 1\]", "class names instead of values",
      "pass the integer class values, e.g. ``classes=[0, 1]``"),
    C("confusion_matrix-dataset", f"{S}.confusion_matrix",
      lambda s: a(cube(), class_map(), classes=[0, 1]), DTypeError,
      r"pass pred as one class map \(a DataArray\)", "a Dataset",
      "pass one class map (a DataArray)"),
    C("confusion_matrix-complex", f"{S}.confusion_matrix",
      lambda s: a(complex_band(), complex_band(), classes=[0, 1]), DTypeError,
      r"pass integer class maps", "complex samples", "pass integer class maps"),
    C("validation_report-float-map", f"{S}.validation_report", lambda s: a({"p": image()}),
      DTypeError, r"pass integer class maps", "a probability map",
      "pass class maps, e.g. ``sarcube.infer.most_likely_class(probs)``"),
    C("validation_report-not-json", f"{S}.validation_report",
      lambda s: a({"m": class_map()}, path=s.path / "report.txt"), ParameterError,
      r"write the report to a \.json path", "``path='report.txt'``", "pass a ``.json`` path",
      output="report.txt"),
    C("segmentation_metrics-shape-mismatch", f"{S}.segmentation_metrics",
      lambda s: a(class_map(), class_map().isel(y=slice(1, None)), classes=[0, 1]),
      GridMismatchError, r"compare maps on one grid", "maps of different sizes",
      "compare maps on one grid"),
    C("segmentation_metrics-mean-over", f"{S}.segmentation_metrics",
      lambda s: a(class_map(), class_map(), classes=[0, 1], mean_over="present"),
      ParameterError, r"mean_over must be 'defined' or 'truth'", "``mean_over='present'``",
      "use ``'defined'`` or ``'truth'``"),
    C("agreement_matrix-one-map", f"{S}.agreement_matrix", lambda s: a({"otsu": class_map()}),
      ParameterError, r"give at least two maps", "one map", "give at least two maps"),
    C("agreement_matrix-shape-mismatch", f"{S}.agreement_matrix",
      lambda s: a({"a": class_map(), "b": class_map().isel(x=slice(1, None))}),
      GridMismatchError, r"compare maps on one grid", "maps of different sizes",
      "compare maps on one grid"),
    C("class_fractions-no-classes", f"{S}.class_fractions",
      lambda s: a(class_map(), classes=[]), ParameterError, r"e\.g\. classes=\[0, 1\]",
      "``classes=[]``", "pass the class values, e.g. ``classes=[0, 1]``"),
    C("class_fractions-dataset", f"{S}.class_fractions",
      lambda s: a(cube(), classes=[0, 1]), DTypeError,
      r"pass class_map as one class map \(a DataArray\)", "a Dataset",
      "pass one class map (a DataArray)"),
    # ---------------------------------------------------------------- classify
    C("kmeans-dataarray", f"{S}.kmeans", lambda s: a(image(), n_clusters=3), DTypeError,
      r"pass a cube \(Dataset\)", "a DataArray", "pass a cube (Dataset)"),
    C("kmeans-one-cluster", f"{S}.kmeans", lambda s: a(cube(), n_clusters=1), ParameterError,
      r"n_clusters must be an integer in 2\.\.254", "``n_clusters=1``", "pass 2..254"),
    C("kmeans-missing-feature", f"{S}.kmeans",
      lambda s: a(cube(), n_clusters=3, features=["hh"]), BandNotFoundError,
      r"available: \['vh', 'vv'\]", "``features=['hh']``", "pick from the listed bands"),
    C("kmeans-small-sample", f"{S}.kmeans", lambda s: a(cube(), n_clusters=3, sample=2),
      ParameterError, r"sample must be an integer >= 3, got 2; at least n_clusters",
      "``sample=2`` for 3 clusters",
      "pass ``sample`` >= ``n_clusters``"),
    C("superpixels-time-dim", f"{S}.superpixels", lambda s: a(cube()), DimensionError,
      r"pass one date, e\.g\. cube\.isel\(time=0\)", "a cube with a time dim",
      "pass one date, e.g. ``cube.isel(time=0)``"),
    C("superpixels-unknown-method", f"{S}.superpixels",
      lambda s: a(cube().isel(time=0), method="slic"), ParameterError,
      r"method must be 'felzenszwalb'", "``method='slic'``", "use ``'felzenszwalb'``"),
    C("superpixels-small-tiles", f"{S}.superpixels",
      lambda s: a(cube().isel(time=0), tile_size=4), ParameterError,
      r"tile_size must be an integer >= 8", "``tile_size=4``", "pass an integer >= 8"),
    C("segment_table-not-segments", f"{S}.segment_table", lambda s: a(cube().isel(time=0)),
      DTypeError, r"pass the Dataset superpixels returns", "a cube instead of segments",
      "pass the output of ``superpixels``"),
    C("segment_kmeans-one-cluster", f"{S}.segment_kmeans",
      lambda s: a(sarcube.superpixels(cube().isel(time=0), tile_size=8), n_clusters=1),
      ParameterError, r"n_clusters must be an integer in 2\.\.254", "``n_clusters=1``",
      "pass 2..254"),
    C("segment_kmeans-missing-feature", f"{S}.segment_kmeans",
      lambda s: a(sarcube.superpixels(cube().isel(time=0), tile_size=8), n_clusters=2,
                  features=["hh_mean"]),
      BandNotFoundError, r"available: \['vv_mean'", "``features=['hh_mean']``",
      "pick from the listed features"),
    C("sar_rgb-no-cross-pol", f"{S}.sar_rgb", lambda s: a(cube()[["vv"]]), BandNotFoundError,
      r"needs HH\+HV or VV\+VH", "a cube with VV only", "pass a co- and a cross-pol band"),
    C("sar_rgb-percentiles", f"{S}.sar_rgb", lambda s: a(cube(), percentiles=(98, 2)),
      ParameterError, r"0 <= low < high <= 100", "``percentiles=(98, 2)``",
      "pass ``0 <= low < high <= 100``"),
    # ---------------------------------------------------------------- multisensor
    C("crop_to_valid-numpy", f"{S}.crop_to_valid", lambda s: a(np.zeros((4, 4))), DTypeError,
      r"wrap numpy arrays with xr.DataArray", "a numpy array",
      "wrap it in a DataArray with ``y``/``x`` dims"),
    C("crop_to_valid-all-nan", f"{S}.crop_to_valid", lambda s: a(image().compute() * np.nan),
      ParameterError, r"no pixel holds data", "an image without any valid pixel",
      "check the load (bbox, dates, bands)"),
    C("pixel_size_m-uneven", f"{S}.pixel_size_m", lambda s: a(image().isel(x=[0, 1, 3])),
      ParameterError, r"not evenly spaced", "unevenly spaced ``x`` coordinates",
      "pass a regular grid"),
    C("pixel_size_m-no-grid", f"{S}.pixel_size_m",
      lambda s: a(xr.DataArray(np.zeros(3), dims="band")), DimensionError,
      r"needs 'y' and 'x' dims with coordinates", "a DataArray without ``y``/``x``",
      "pass a grid with ``y``/``x`` (or latitude/longitude) coordinates"),
    C("pair_items-max-days", f"{S}.pair_items", lambda s: a([], [], max_days=-1), ParameterError,
      r"max_days must be a number of days >= 0", "``max_days=-1``", "pass a gap in days >= 0"),
    C("dswe_labels-float", f"{S}.dswe_labels", lambda s: a(image()), DTypeError,
      r"pass its integer classes", "a float layer (scaled DSWE)",
      "read the classes unscaled (``mask_and_scale=False``)"),
    C("dswe_labels-overlap", f"{S}.dswe_labels", lambda s: a(class_map(), water=(1,), dry=(1,)),
      ParameterError, r"must be distinct DSWE classes", "class 1 both water and dry",
      "give each class one meaning"),
    C("coregister-like-without-crs", f"{S}.coregister",
      lambda s: a({"dem": image()}, image().drop_vars("spatial_ref")), GridMismatchError,
      r"\.rio\.write_crs", "a target grid without CRS", "write one with ``.rio.write_crs``"),
    C("coregister-no-layers", f"{S}.coregister", lambda s: a({}, image()), ParameterError,
      r"give at least one layer", "no layer", "give at least one layer"),
    C("coregister-unknown-resampling", f"{S}.coregister",
      lambda s: a({"dem": image()}, image(), resampling="lanczos3"), ParameterError,
      r"resampling must be one of", "``resampling='lanczos3'``", "use one of the listed methods"),
    C("coregister-missing-file", f"{S}.coregister",
      lambda s: a({"dem": s.path / "dem.tif"}, image()), InputNotFoundError,
      r"pass the path of an existing raster",
      "a layer path that does not exist", "pass an existing raster file"),
    C("coregister-layer-without-crs", f"{S}.coregister",
      lambda s: a({"dem": image().drop_vars("spatial_ref")}, image()), GridMismatchError,
      r"\.rio\.write_crs", "a layer without CRS", "write one with ``.rio.write_crs``"),
    C("sar_features-dataarray", f"{S}.sar_features", lambda s: a(image()), DTypeError,
      r"pass a cube \(Dataset\) with both polarisations", "a DataArray",
      "pass a cube with both polarisations"),
    C("sar_features-missing-band", f"{S}.sar_features", lambda s: a(cube(), co="hh", cross="hv"),
      BandNotFoundError, r"pass co=/cross=", "``co='hh'`` on a VV/VH cube",
      "pass ``co=``/``cross=`` from the listed bands"),
    C("sar_features-mixed-units", f"{S}.sar_features",
      lambda s: a(cube().assign(vh=sarcube.to_db(cube()["vh"]))), UnitsError,
      r"convert both with to_db or to_linear first", "VV linear, VH in dB",
      "convert both with ``to_db`` or ``to_linear``"),
    C("sar_features-complex", f"{S}.sar_features",
      lambda s: a(xr.Dataset({"vv": complex_band(), "vh": complex_band()})), DTypeError,
      r"abs\(obj\) \*\* 2", "complex samples", "convert to intensity: ``abs(obj) ** 2``"),
    C("sar_features-unknown-set", f"{S}.sar_features", lambda s: a(cube(), features="ln"),
      ParameterError, r"features must be 'db' or 'linear_ln'", "``features='ln'``",
      "use ``'db'`` or ``'linear_ln'``"),
    C("feature_stack-missing-channel", f"{S}.feature_stack", lambda s: a(cube().isel(time=0)),
      BandNotFoundError, r"rename them, or pass channels=", "layers without the ALOS channels",
      "rename the layers, or pass ``channels=``"),
    C("feature_stack-time-dim", f"{S}.feature_stack", lambda s: a(cube(), ["vv", "vh"]),
      DimensionError, r"select a date or band first", "channels with a time dim",
      "select a date first"),
    C("feature_stack-label-grid", f"{S}.feature_stack",
      lambda s: a(cube().isel(time=0), ["vv"], label=class_map().isel(x=slice(1, None))),
      GridMismatchError, r"coregister", "a label on another grid",
      "put the label on the layers' grid (``coregister``)"),
    C("apply_water_prior-unknown-mode", f"{S}.apply_water_prior",
      lambda s: a(prob_map(), class_map(), mode="merge"), ParameterError,
      r"mode must be reconstruct, suppress or both", "``mode='merge'``",
      "use ``'reconstruct'``, ``'suppress'`` or ``'both'``"),
    C("apply_water_prior-grid", f"{S}.apply_water_prior",
      lambda s: a(prob_map(), class_map().isel(y=slice(2, None))), GridMismatchError,
      r"sarcube\.coregister", "a prior on another grid",
      "put the prior on the SAR grid with ``coregister``"),
    C("apply_water_prior-threshold", f"{S}.apply_water_prior",
      lambda s: a(prob_map(), class_map(), threshold=50), ParameterError,
      r"threshold must be in \(0, 1\)", "``threshold=50`` (percent)",
      "pass a probability in (0, 1)"),
    C("three_class_metrics-shape-mismatch", f"{S}.three_class_metrics",
      lambda s: a(class_map(), class_map().isel(x=slice(1, None))), GridMismatchError,
      r"compare maps on one grid", "maps of different sizes", "compare maps on one grid"),
    # ---------------------------------------------------------------- insar
    C("phase_to_displacement-wrapped", f"{S}.insar.phase_to_displacement",
      lambda s: a(complex_band().isel(time=0)), DTypeError, r"unwrap it first",
      "a complex (wrapped) interferogram", "unwrap it first (e.g. SNAPHU)"),
    C("phase_to_displacement-no-wavelength", f"{S}.insar.phase_to_displacement",
      lambda s: a(displacement_phase()), ParameterError, r"pass wavelength= in metres",
      "no wavelength, no platform attribute", "pass ``wavelength=`` in metres"),
    C("phase_to_displacement-wavelength-cm", f"{S}.insar.phase_to_displacement",
      lambda s: a(displacement_phase(), wavelength=5.55), ParameterError,
      r"pass it in metres \(e\.g\. 0\.0555 for Sentinel-1", "``wavelength=5.55`` (cm)",
      "pass it in metres"),
    C("phase_to_displacement-metres", f"{S}.insar.phase_to_displacement",
      lambda s: a(los(), wavelength=0.0555), UnitsError, r"already a displacement",
      "input with ``units='m'``", "pass unwrapped phase in radians"),
    C("phase_to_displacement-float-mask", f"{S}.insar.phase_to_displacement",
      lambda s: a(displacement_phase(platform="S1A"), mask=image()), DTypeError,
      r"pass a boolean mask, True inside the swath", "a float mask",
      "pass a boolean mask, e.g. ``(valid_data == 1)``"),
    C("phase_to_displacement-mask-grid", f"{S}.insar.phase_to_displacement",
      lambda s: a(displacement_phase(platform="S1A"), mask=bool_image().isel(x=slice(1, None))),
      GridMismatchError, r"rio\.reproject_match", "a mask on another grid",
      "resample it onto the data's grid"),
    C("phase_to_displacement-units", f"{S}.insar.phase_to_displacement",
      lambda s: a(displacement_phase(platform="S1A"), units="km"), ParameterError,
      r"units must be one of \['cm', 'm', 'mm'\]", "``units='km'``",
      "pass ``units=`` 'm', 'cm' or 'mm'"),
    C("los_to_vertical-incidence-range", f"{S}.insar.los_to_vertical",
      lambda s: a(los(), 95.0), ParameterError, r"np\.degrees\(\.\.\.\) for radians",
      "``incidence=95``", "pass degrees in (0, 90)"),
    C("los_to_vertical-incidence-radians", f"{S}.insar.los_to_vertical",
      lambda s: a(los(), (image(lazy=False) * 0 + 0.6).assign_attrs(units="rad")), UnitsError,
      r"np\.degrees\(incidence\)", "an incidence map in radians", "pass degrees"),
    C("los_to_vertical-incidence-map-range", f"{S}.insar.los_to_vertical",
      lambda s: a(los(), image(lazy=False) * 0 + 120.0), ParameterError,
      r"pass the incidence in degrees", "an incidence map beyond 90° (numpy; dask: when computed)",
      "pass degrees, not the look or elevation angle"),
    C("los_to_vertical-phase", f"{S}.insar.los_to_vertical",
      lambda s: a(displacement_phase(), 35.0), UnitsError, r"phase_to_displacement first",
      "phase in radians", "convert with ``phase_to_displacement`` first"),
    C("los_to_vertical-reference", f"{S}.insar.los_to_vertical",
      lambda s: a(los(), 35.0, reference="mean"), ParameterError,
      r"reference must be 'median', a number or None", "``reference='mean'``",
      "pass ``'median'``, a number or ``None``"),
    C("clip_to_areas-points", f"{S}.insar.clip_to_areas",
      lambda s: a(los(), gpd.GeoDataFrame(geometry=[Point(500_010, 4_999_990)], crs=32633)),
      ParameterError, r"use sample_at_points for points", "points instead of polygons",
      "use ``sample_at_points`` for points"),
    C("clip_to_areas-coverage", f"{S}.insar.clip_to_areas",
      lambda s: a(los(), zones(), min_coverage=65), ParameterError,
      r"min_coverage must be in \[0, 1\]", "``min_coverage=65`` (percent)", "pass a fraction"),
    C("sample_at_points-even-window", f"{S}.insar.sample_at_points",
      lambda s: a(los(), [(500_010.0, 4_999_990.0)], window=4), ParameterError,
      r"pass window=5 or 3", "``window=4``", "pass an odd window"),
    C("sample_at_points-stack", f"{S}.insar.sample_at_points",
      lambda s: a(band(), [(500_010.0, 4_999_990.0)]), DimensionError,
      r"raster\.isel\(time=0\)", "a (time, y, x) stack", "select one map"),
    C("fit_gain_offset-lengths", f"{S}.insar.fit_gain_offset",
      lambda s: a([0.0, 1.0, 2.0], [1.0, 2.0]), ParameterError, r"pass one y per x",
      "x and y of different lengths", "pass pairs"),
    C("idw-values", f"{S}.insar.idw", lambda s: a([[0, 0], [1, 1]], [1.0], [[0.5, 0.5]]),
      ParameterError, r"pass one value each", "fewer values than points",
      "pass one value per known point"),
    C("idw-power", f"{S}.insar.idw",
      lambda s: a([[0, 0], [1, 1]], [1.0, 2.0], [[0.5, 0.5]], power=0), ParameterError,
      r"power must be finite and > 0", "``power=0``", "pass a power > 0"),
    C("farthest_point_splits-too-many", f"{S}.insar.farthest_point_splits",
      lambda s: a([[0, 0], [1, 0], [2, 0]], 3), ParameterError,
      r"n_calibration must be in \[1, 2\]",
      "as many calibration points as points", "leave one point for validation"),
    C("accuracy_metrics-lengths", f"{S}.insar.accuracy_metrics",
      lambda s: a([1.0, 2.0], [1.0]), ParameterError, r"pass one observation per prediction",
      "arrays of different lengths", "pass pairs"),
    C("gauge_density_experiment-sizes", f"{S}.insar.gauge_density_experiment",
      lambda s: a([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [[0, 0], [1, 0], [2, 0]], n_calibration=(3,)),
      ParameterError, r"pass values in \[1, 2\]", "``n_calibration`` leaving no validation gauge",
      "pass values in [1, n - 1]"),
    C("gauge_density_experiment-area", f"{S}.insar.gauge_density_experiment",
      lambda s: a([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [[0, 0], [1, 0], [2, 0]], area_km2=-5.0),
      ParameterError, r"area_km2 must be a positive number of km²", "``area_km2=-5``",
      "pass the area the gauges cover, in km²"),
    C("gauge_table-columns", f"{S}.insar.gauge_table",
      lambda s: a(gauge_levels().drop(columns="level"), {"a": 1.0}, [("2024-05-02", "2024-05-14")]),
      ParameterError, r"lacks the columns \['level'\]", "readings without a ``level`` column",
      "give ``gauge``, ``time``, ``level`` columns"),
    C("gauge_table-reversed-pair", f"{S}.insar.gauge_table",
      lambda s: a(gauge_levels(), {"a": 1.0}, [("2024-05-14", "2024-05-02")]), ParameterError,
      r"swap them", "a pair whose reference is after its secondary", "swap the dates"),
    C("read_gacos-missing", f"{S}.insar.read_gacos", lambda s: a(s.path / "20170301.ztd"),
      InputNotFoundError, r"a GACOS date is a \.ztd and its \.rsc", "a date that is not there",
      "pass an existing ``.ztd`` next to its ``.ztd.rsc``"),
    C("troposphere_correction-units", f"{S}.insar.troposphere_correction",
      lambda s: a(geo_band().assign_attrs(units="cm"), geo_band(), geo_band(), 40.0),
      ParameterError, r"pass metres", "LOS displacement in cm", "pass metres"),
    C("ionosphere_correction-metres", f"{S}.insar.ionosphere_correction",
      lambda s: a(geo_band().assign_attrs(units="rad"), geo_band()), UnitsError,
      r"becomes radians with −4π/λ", "a phase screen in metres",
      "convert the screen to radians with ``−4π/λ``"),
    C("ionosphere_correction-other-grid", f"{S}.insar.ionosphere_correction",
      lambda s: a(geo_band().assign_attrs(units="rad"),
                  geo_band()[:4, :4].drop_vars("spatial_ref").assign_attrs(units="rad")),
      DimensionError, r"write both CRSs", "a screen on another grid without a CRS",
      "write both CRSs, or pass the screen on the phase's grid"),
    C("density_summary-empty", f"{S}.insar.density_summary", lambda s: a({}), ParameterError,
      r"one gauge_density_experiment table per area", "no tables",
      "pass ``{area: table}`` of ``gauge_density_experiment`` tables"),
    # ---------------------------------------------------------------- exports
    C("to_cog-exists", f"{S}.to_cog", lambda s: a(class_map(), s.existing("flood.tif")),
      OutputError, r"pass overwrite=True", "an existing file", "pass ``overwrite=True``"),
    C("to_cog-missing-folder", f"{S}.to_cog",
      lambda s: a(class_map(), s.path / "missing" / "flood.tif"), OutputError,
      r"create it first", "a folder that does not exist", "create it first",
      output="missing"),
    C("to_cog-readonly-folder", f"{S}.to_cog",
      lambda s: a(class_map(), s.readonly() / "flood.tif"), OutputError,
      r"choose another folder", "a folder without write permission", "choose another folder",
      output="readonly/flood.tif"),
    C("to_cog-suffix", f"{S}.to_cog", lambda s: a(class_map(), s.path / "flood.png"),
      ParameterError, r"use a \.tif path", "a ``.png`` path", "use a ``.tif`` path",
      output="flood.png"),
    C("to_cog-stack", f"{S}.to_cog",
      lambda s: a(band().expand_dims(band=["vv"]), s.path / "flood.tif"), DimensionError,
      r"pass \(y, x\) or \(band, y, x\)", "a (band, time, y, x) array",
      "pass ``(y, x)`` or ``(band, y, x)``", output="flood.tif"),
    C("to_cog-complex", f"{S}.to_cog",
      lambda s: a(complex_band().isel(time=0), s.path / "slc.tif"), DTypeError,
      r"abs\(obj\) \*\* 2", "complex samples", "convert to intensity: ``abs(obj) ** 2``",
      output="slc.tif"),
    C("to_cog-float16", f"{S}.to_cog",
      lambda s: a(image().astype(np.float16), s.path / "vv.tif"), DTypeError,
      r"e\.g\. da\.astype\('float32'\)", "float16 data", "cast first, e.g. to float32",
      output="vv.tif"),
    C("to_cog-int64", f"{S}.to_cog",
      lambda s: a(class_map().astype(np.int64), s.path / "flood.tif"), DTypeError,
      r"not a GeoTIFF sample type", "int64 data", "cast first, e.g. to int32",
      output="flood.tif"),
    C("to_cog-no-crs", f"{S}.to_cog",
      lambda s: a(class_map().drop_vars("spatial_ref"), s.path / "flood.tif"), ParameterError,
      r"da\.rio\.write_crs", "a map without a CRS", "set one with ``rio.write_crs``",
      output="flood.tif"),
    C("to_cog-compress", f"{S}.to_cog",
      lambda s: a(class_map(), s.path / "flood.tif", compress="zip"), ParameterError,
      r"unknown compress='zip'; use one of", "``compress='zip'``",
      "use one of the listed methods", output="flood.tif"),
    C("to_vector-no-crs-file", f"{S}.to_vector",
      lambda s: a(class_map().drop_vars("spatial_ref"), s.path / "flood.parquet"),
      ParameterError, r"call without a path", "a mask without a CRS, written to a file",
      "set a CRS, or call without a path (pixel coordinates)", output="flood.parquet"),
    C("to_vector-missing-folder", f"{S}.to_vector",
      lambda s: a(class_map(), s.path / "missing" / "flood.parquet"), OutputError,
      r"create it first", "a folder that does not exist", "create it first", output="missing"),
    C("to_vector-readonly-folder", f"{S}.to_vector",
      lambda s: a(class_map(), s.readonly() / "flood.parquet"), OutputError,
      r"choose another folder", "a folder without write permission", "choose another folder",
      output="readonly/flood.parquet"),
    C("to_vector-exists", f"{S}.to_vector",
      lambda s: a(class_map(), s.existing("flood.geojson")), OutputError,
      r"pass overwrite=True", "an existing file", "pass ``overwrite=True``"),
    C("to_vector-format", f"{S}.to_vector", lambda s: a(class_map(), s.path / "flood.kml"),
      ParameterError, r"use \.parquet, \.geojson or \.shp", "a ``.kml`` path",
      "use ``.parquet``, ``.geojson`` or ``.shp``", output="flood.kml"),
    C("to_vector-float", f"{S}.to_vector", lambda s: a(image(), s.path / "flood.parquet"),
      DTypeError, r"e\.g\. \(change < threshold\)", "a float image",
      "compare first, e.g. ``(change < threshold)``", output="flood.parquet"),
    C("to_vector-stack", f"{S}.to_vector",
      lambda s: a(cube()["vv"] > 0.1, s.path / "flood.parquet"), DimensionError,
      r"mask\.isel\(time=0\)", "a (time, y, x) mask", "pass one (y, x) image",
      output="flood.parquet"),
    C("rle_encode-stack", f"{S}.rle_encode", lambda s: a(band() > 0.1), DimensionError,
      r"mask\.isel\(time=0\)", "a (time, y, x) mask", "pass one 2-D mask"),
    C("rle_encode-order", f"{S}.rle_encode", lambda s: a(bool_image(), order="K"), ParameterError,
      r"'F' \(column-major, Kaggle\) or 'C' \(row-major\)", "``order='K'``",
      "use ``'F'`` or ``'C'``"),
    C("rle_encode-strings", f"{S}.rle_encode", lambda s: a(text_image()), DTypeError,
      r"e\.g\. \(class_map == 1\)", "strings", "pass a boolean mask, e.g. ``(class_map == 1)``"),
    C("rle_encode-classes", f"{S}.rle_encode", lambda s: a(class_map(lazy=False)), MaskError,
      r"which also drops nodata \(255\)", "0/1/255 values (numpy; dask input raises when computed)",
      "compare first, e.g. ``(class_map == 1)``"),
    C("rle_encode-nan", f"{S}.rle_encode", lambda s: a(image(lazy=False) * np.nan), MaskError,
      r"mask\.fillna\(0\)", "NaN (numpy; dask input raises when computed)",
      "decide what missing pixels are, e.g. ``mask.fillna(0)``"),
    C("rle_decode-odd", f"{S}.rle_decode", lambda s: a("1 2 5", (3, 3)), ParameterError,
      r"'start length' pairs", "an odd count of numbers", "pass ``start length`` pairs"),
    C("rle_decode-zero-based", f"{S}.rle_decode", lambda s: a("0 2", (3, 3)), ParameterError,
      r"add 1 to 0-based starts", "0-based starts", "add 1 to 0-based starts"),
    C("rle_decode-overlap", f"{S}.rle_decode", lambda s: a("1 3 2 2", (3, 3)), ParameterError,
      r"must be sorted and must not overlap", "overlapping runs", "sort and merge the runs"),
    C("rle_decode-past-end", f"{S}.rle_decode", lambda s: a("8 5", (3, 3)), ParameterError,
      r"check the shape \(height, width\) and the order", "a run past the last pixel",
      "check the shape and the order"),
    C("rle_decode-nan", f"{S}.rle_decode", lambda s: a(float("nan"), (3, 3)), ParameterError,
      r"keep_default_na=False", "NaN (pandas' empty cell)",
      "read CSVs with ``keep_default_na=False``"),
    C("rle_decode-shape", f"{S}.rle_decode", lambda s: a("1 2", (3.0, 3)), ParameterError,
      r"shape must be \(height, width\) with two integers >= 0", "``shape=(3.0, 3)``",
      "pass two integers"),
    C("rle_frame-not-mapping", f"{S}.rle_frame", lambda s: a([bool_image()]), ParameterError,
      r"dict\(zip\(ids, masks\)\)", "a list of masks", "pass ``dict(zip(ids, masks))``"),
    C("rle_frame-suffix", f"{S}.rle_frame", lambda s: a({"a": bool_image()}, s.path / "a.txt"),
      OutputError, r"use a \.csv path", "a ``.txt`` path", "use a ``.csv`` path", output="a.txt"),
    C("rle_frame-exists", f"{S}.rle_frame",
      lambda s: a({"a": bool_image()}, s.existing("masks.csv")), OutputError,
      r"pass overwrite=True", "an existing file", "pass ``overwrite=True``"),
    C("rle_frame-missing-folder", f"{S}.rle_frame",
      lambda s: a({"a": bool_image()}, s.path / "missing" / "masks.csv"), OutputError,
      r"create it first", "a folder that does not exist", "create it first", output="missing"),
    C("rle_frame-readonly-folder", f"{S}.rle_frame",
      lambda s: a({"a": bool_image()}, s.readonly() / "masks.csv"), OutputError,
      r"choose another folder", "a folder without write permission", "choose another folder",
      output="readonly/masks.csv"),
    C("rle_frame-stack", f"{S}.rle_frame",
      lambda s: a({"a": band() > 0.1}, s.path / "masks.csv"), DimensionError,
      r"mask\.isel\(time=0\)", "a (time, y, x) mask", "pass one 2-D mask", output="masks.csv"),
    C("zonal_stats-float", f"{S}.zonal_stats", lambda s: a(image(), zones()), DTypeError,
      r"fillna\(255\)\.astype\('uint8'\)", "a float map", "pass integer classes"),
    C("zonal_stats-no-crs", f"{S}.zonal_stats",
      lambda s: a(class_map().drop_vars("spatial_ref"), zones()), ParameterError,
      r"rio\.write_crs", "a map without CRS", "set one with ``.rio.write_crs``"),
    C("zonal_stats-not-frame", f"{S}.zonal_stats", lambda s: a(class_map(), [box(0, 0, 1, 1)]),
      DTypeError, r"gpd\.GeoDataFrame\(geometry=geoms, crs=\.\.\.\)", "a list of shapes",
      "wrap them in a GeoDataFrame with a CRS"),
    C("zonal_stats-zones-without-crs", f"{S}.zonal_stats", lambda s: a(class_map(), zones(None)),
      ParameterError, r"set_crs\('EPSG:4326'\)", "zones without CRS", "set their CRS"),
    C("zonal_stats-points", f"{S}.zonal_stats",
      lambda s: a(class_map(), gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=32633)),
      ParameterError, r"polygons\.buffer\(50\)", "points", "buffer them into areas"),
    C("zonal_stats-id-column", f"{S}.zonal_stats",
      lambda s: a(class_map(), zones(), id_column="field"), ParameterError,
      r"available: name, geometry", "an unknown ``id_column``", "pick one of the listed columns"),
    C("zonal_stats-nodata-class", f"{S}.zonal_stats",
      lambda s: a(class_map(), zones(), classes=(1, 255)), ParameterError,
      r"pass nodata=None or another value", "a class equal to the nodata value",
      "pass ``nodata=None`` or another value"),
    C("zonal_stats-stack", f"{S}.zonal_stats",
      lambda s: a(class_map().drop_vars("time").expand_dims(time=2), zones()), DimensionError,
      r"class_map\.isel\(time=0\)", "a (time, y, x) map", "pass one map"),
    C("zonal_stats-suffix", f"{S}.zonal_stats",
      lambda s: a(class_map(), zones(), path=s.path / "stats.xlsx"), OutputError,
      r"use \.csv, \.parquet \(GeoParquet\) or \.geojson", "an ``.xlsx`` path",
      "use ``.csv``, ``.parquet`` or ``.geojson``", output="stats.xlsx"),
    C("zonal_stats-exists", f"{S}.zonal_stats",
      lambda s: a(class_map(), zones(), path=s.existing("stats.csv")), OutputError,
      r"pass overwrite=True", "an existing file", "pass ``overwrite=True``"),
    C("zonal_stats-missing-folder", f"{S}.zonal_stats",
      lambda s: a(class_map(), zones(), path=s.path / "missing" / "stats.csv"), OutputError,
      r"create it first", "a folder that does not exist", "create it first", output="missing"),
    C("zonal_stats-readonly-folder", f"{S}.zonal_stats",
      lambda s: a(class_map(), zones(), path=s.readonly() / "stats.csv"), OutputError,
      r"choose another folder", "a folder without write permission", "choose another folder",
      output="readonly/stats.csv"),
    C("to_zarr-exists", f"{S}.to_zarr",
      lambda s: a(cube(), s.existing("cube.zarr")), OutputError,
      r"pass mode='w' to replace it", "an existing store",
      "pass ``mode='w'`` (or ``resume=True``)"),
    C("to_zarr-missing-folder", f"{S}.to_zarr",
      lambda s: a(cube(), s.path / "missing" / "cube.zarr"), OutputError, r"create it first",
      "a folder that does not exist", "create it first", output="missing"),
    C("to_zarr-readonly-folder", f"{S}.to_zarr",
      lambda s: a(cube(), s.readonly() / "cube.zarr"), OutputError, r"not a writable folder",
      "a folder without write permission", "choose a writable folder",
      output="readonly/cube.zarr"),
    C("to_zarr-slash-name", f"{S}.to_zarr",
      lambda s: a(cube().rename(vv="vv/db"), s.path / "cube.zarr"), ParameterError,
      r"rename it, e\.g\. obj\.rename\(\{'vv/db': 'vv_db'\}\)", "a variable named ``vv/db``",
      "rename it, e.g. ``obj.rename({'vv/db': 'vv_db'})``", output="cube.zarr"),
    C("to_zarr-empty-dim", f"{S}.to_zarr",
      lambda s: a(cube().isel(y=slice(0, 0)), s.path / "cube.zarr"), ParameterError,
      r"have size 0, so there is nothing to write", "a cube with an empty ``y`` dim",
      "select a non-empty region first", output="cube.zarr"),
    C("to_zarr-dots-name", f"{S}.to_zarr",
      lambda s: a(image().rename(".."), s.path / "cube.zarr"), ParameterError,
      r"'\.\.' cannot name a Zarr array", "a band named ``..``", "rename it",
      output="cube.zarr"),
    C("to_zarr-mode", f"{S}.to_zarr", lambda s: a(cube(), s.path / "cube.zarr", mode="a"),
      ParameterError, r"mode must be one of 'w-', 'w'", "``mode='a'``", "use ``'w-'`` or ``'w'``",
      output="cube.zarr"),
    C("open_zarr-missing", f"{S}.open_zarr", lambda s: a(s.path / "nothing.zarr"),
      InputNotFoundError,
      r"pass the path given to to_zarr", "a store that does not exist",
      "pass the path given to ``to_zarr``"),
    # ---------------------------------------------------------------- ml
    C("to_chips-exists", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.existing("chips"), bands=["vv"], size=8), OutputError,
      r"pass overwrite=True", "an existing output", "pass ``overwrite=True``"),
    C("to_chips-missing-band", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.path / "chips", bands=["hh"], size=8), BandNotFoundError,
      r"available: \['vh', 'vv'\]", "``bands=['hh']``", "pick from the listed bands",
      output="chips"),
    C("to_chips-zero-size", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.path / "chips", bands=["vv"], size=0), ParameterError,
      r"size must be a positive integer", "``size=0``", "pass a positive integer", output="chips"),
    C("to_chips-too-small", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.path / "chips", bands=["vv"], size=64), DimensionError,
      r"pass size <= 20", "a cube smaller than one chip", "pass a smaller ``size``",
      output="chips"),
    C("to_chips-too-small-overwrite", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.existing("chips"), bands=["vv"], size=64, overwrite=True),
      DimensionError, r"pass size <= 20",
      "a cube smaller than one chip, with ``overwrite=True``",
      "pass a smaller ``size``; the existing output is kept"),
    C("to_chips-times", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.path / "chips", bands=["vv"], size=8, times=[0, 5]), ParameterError,
      r"pass positions in -3\.\.2", "``times=[0, 5]`` for 3 dates", "pass positions in range",
      output="chips"),
    C("to_chips-label-nodata-no-label", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.path / "chips", bands=["vv"], size=8, max_label_nodata=0.5),
      ParameterError, r"max_label_nodata needs a label map", "``max_label_nodata`` without a label",
      "pass ``label=``", output="chips"),
    C("to_kurosiwo-exists", f"{S}.ml.to_kurosiwo",
      lambda s: a(cube(), s.existing("ks"), event=1, aoi=1, size=8), OutputError,
      r"pass overwrite=True", "an existing output", "pass ``overwrite=True``"),
    C("to_kurosiwo-append-no-root", f"{S}.ml.to_kurosiwo",
      lambda s: a(cube(), s.path / "ks", event=1, aoi=2, size=8, append=True),
      InputNotFoundError, r"create the root first", "appending to a root that is not there",
      "create the root first, without ``append=True``"),
    C("to_kurosiwo-two-dates", f"{S}.ml.to_kurosiwo",
      lambda s: a(cube().isel(time=[0, 1]), s.path / "ks", event=1, aoi=1, size=8),
      DimensionError, r"at least three dates", "a cube of two dates",
      "pass a cube with two pre-event dates and the post-event one", output="ks"),
    C("to_kurosiwo-same-dates", f"{S}.ml.to_kurosiwo",
      lambda s: a(cube(), s.path / "ks", event=1, aoi=1, size=8, pre=(-1, -2)), ParameterError,
      r"post and the two pre dates must differ", "``pre=(-1, -2)`` with ``post=-1``",
      "pass three different dates", output="ks"),
    C("to_chips-readonly-folder", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.readonly() / "chips", bands=["vv"], size=8), OutputError,
      r"choose another folder", "a folder without write permission", "choose another folder",
      output="readonly/chips"),
    C("to_chips-missing-folder", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.path / "missing" / "chips", bands=["vv"], size=8), OutputError,
      r"create it first", "a folder that does not exist", "create it first", output="missing"),
    C("to_chips-complex", f"{S}.ml.to_chips",
      lambda s: a(xr.Dataset({"vv": complex_band()}), s.path / "chips", bands=["vv"], size=8),
      DTypeError, r"abs\(obj\) \*\* 2", "complex samples",
      "convert to intensity: ``abs(obj) ** 2``", output="chips"),
    C("to_chips-label-grid", f"{S}.ml.to_chips",
      lambda s: a(cube(), s.path / "chips", bands=["vv"], size=8,
                  label=class_map().isel(x=slice(1, None))),
      GridMismatchError, r"coregister", "a label on another grid",
      "put the label on the cube's grid (``coregister``)", output="chips"),
    # ---------------------------------------------------------------- infer
    C("predict-not-spec", f"{S}.infer.predict",
      lambda s: a(image(), "model.pt", n_classes=2, window=8, stride=4), ParameterError,
      r"sarcube\.infer\.ModelSpec", "a path instead of a ModelSpec",
      "describe the model with ``ModelSpec``"),
    C("predict-window", f"{S}.infer.predict",
      lambda s: a(image(), model_spec(), n_classes=2, window=64, stride=32), DimensionError,
      r"pass a smaller window", "a window larger than the image", "pass a smaller window"),
    C("predict-stride", f"{S}.infer.predict",
      lambda s: a(image(), model_spec(), n_classes=2, window=8, stride=16), ParameterError,
      r"must not exceed window", "``stride`` > ``window``", "pass ``stride <= window``"),
    C("predict-tta", f"{S}.infer.predict",
      lambda s: a(image(), model_spec(), n_classes=2, window=8, stride=4, tta="flip8"),
      ParameterError, r"tta must be 'none' or 'flip4'", "``tta='flip8'``",
      "use ``'none'`` or ``'flip4'``"),
    C("predict-two-extra-dims", f"{S}.infer.predict",
      lambda s: a(band().expand_dims(band=1), model_spec(), n_classes=2, window=8, stride=4),
      DimensionError, r"sarcube\.infer\.stack_channels", "a (band, time, y, x) array",
      "build the input with ``stack_channels``"),
    C("predict-missing-channel", f"{S}.infer.predict",
      lambda s: a(cube().isel(time=0), model_spec(), n_classes=2, window=8, stride=4,
                  channels=["hh"]),
      BandNotFoundError, r"available: \['vh', 'vv'\]", "``channels=['hh']``",
      "pick from the listed variables"),
    C("predict-complex", f"{S}.infer.predict",
      lambda s: a(complex_band().isel(time=0), model_spec(), n_classes=2, window=8, stride=4),
      DTypeError, r"abs\(obj\) \*\* 2", "complex samples",
      "convert to intensity: ``abs(obj) ** 2``"),
    C("modelspec-torchscript-untrusted", f"{S}.infer.ModelSpec",
      lambda s: a(torchscript=str(s.existing("model.pt"))), ParameterError,
      r"can run code embedded in it; pass trusted=True",
      "a TorchScript (or ``torch.export``) file without ``trusted=True``",
      "pass ``trusted=True`` if its source is trusted, or use a ``state_dict``"),
    C("modelspec-sha256-mismatch", f"{S}.infer.ModelSpec",
      lambda s: a(state_dict=str(s.existing("w.pt")), builder="torch.nn:Identity",
                  sha256="0" * 64), ParameterError, r"not the expected",
      "a weights file whose SHA-256 is not ``sha256=``", "fetch the file again or correct it"),
    C("modelspec-from-checkpoint-no-builder", f"{S}.infer.ModelSpec.from_checkpoint",
      lambda s: a(str(s.existing("w.pt"))), ParameterError, r"is not a torch checkpoint",
      "a file that is not a torch checkpoint", "pass a checkpoint ``sarcube.ml.train`` wrote"),
    C("ensemble-weights", f"{S}.infer.Ensemble",
      lambda s: a((model_spec(), model_spec()), weights=(1,)), ParameterError,
      r"2 non-negative numbers", "one weight for two members", "give one weight per member"),
    C("predict-model-channels", f"{S}.infer.predict",
      lambda s: a(image().expand_dims(channel=["vv"]),
                  sarcube.infer.ModelSpec(factory="torch.nn:Identity", activation="none",
                                          channels=("before", "after")),
                  n_classes=2, window=8, stride=4),
      BandNotFoundError, r"takes the channels \['before', 'after'\]",
      "an input without the channels the model names", "build them (``prepare(channels=...)``)"),
    C("predict-n-classes", f"{S}.infer.predict",
      lambda s: a(image(), model_spec(), n_classes=2, window=8, stride=4), ParameterError,
      r"gives 1 classes; pass n_classes=1", "``n_classes`` other than the model's output",
      "pass the ``n_classes`` the model gives"),
    C("predict-window-not-multiple", f"{S}.infer.predict",
      lambda s: a(unet_input(), unet_spec(), n_classes=2, window=12, stride=12),
      ParameterError, r"pass a window it accepts \(a U-Net needs a multiple of 2\*\*depth",
      "a window the network cannot take (12 for a U-Net that halves three times)",
      "pass a window it accepts (a multiple of ``2**depth``)"),
    C("predict-builder-kwargs", f"{S}.infer.predict",
      lambda s: a(unet_input(), unet_spec(base=8), n_classes=2, window=16, stride=16),
      ParameterError, r"check the builder and builder_kwargs against the weights",
      "``builder_kwargs`` that do not match the weights",
      "check the builder and its arguments against the weights file"),
    C("predict-threads", f"{S}.infer.predict",
      lambda s: a(image(), model_spec(), n_classes=1, window=8, stride=4, threads=0),
      ParameterError, r"threads must be a positive integer or None", "``threads=0``",
      "pass a positive ``threads`` or ``None``"),
    C("pipeline-untrusted-builder", f"{S}.pipeline.Pipeline.from_mapping",
      lambda s: a({"source": {"synthetic": {"shape": [64, 64]}},
                   "predict": {"model": "os:getcwd"}, "output": {"zarr": str(s.path / "o.zarr")}}),
      ParameterError, r"--trust-module os",
      "``[predict] model`` from a module outside sarcube, not trusted",
      "``trust_modules=[...]`` / ``sarcube run --trust-module``", output="o.zarr"),
    C("most_likely_class-no-class-dim", f"{S}.infer.most_likely_class", lambda s: a(image()),
      DimensionError,
      r"expected a 'class' dim \(from predict\)", "an image without ``class``",
      "pass ``predict``'s output"),
    C("most_likely_class-nodata", f"{S}.infer.most_likely_class",
      lambda s: a(prob_map().expand_dims({"class": 2}), nodata=300), ParameterError,
      r"nodata must fit uint8", "``nodata=300``", "pass a value in 0..255 not used by a class"),
    C("flood_from_probability-threshold", f"{S}.infer.flood_from_probability",
      lambda s: a(prob_map(), threshold=1.5), ParameterError, r"threshold must be in \(0, 1\)",
      "``threshold=1.5``", "pass a threshold in (0, 1), e.g. 0.5"),
    C("flood_from_probability-class-dim", f"{S}.infer.flood_from_probability",
      lambda s: a(prob_map().expand_dims({"class": 2})), DimensionError,
      r"pick the flood class first", "probabilities with a ``class`` dim",
      "pick the flood class: ``probs.sel({'class': 1})``"),
    C("stack_channels-dataarray", f"{S}.infer.stack_channels",
      lambda s: a(band(), bands=["vv"]), DTypeError, r"pass a cube \(Dataset\)", "a DataArray",
      "pass a cube (Dataset)"),
    C("stack_channels-missing-band", f"{S}.infer.stack_channels",
      lambda s: a(cube(), bands=["hh"], times=[-1]), BandNotFoundError,
      r"available: \['vh', 'vv'\]", "``bands=['hh']``", "pick from the listed bands"),
    C("stack_channels-no-times", f"{S}.infer.stack_channels",
      lambda s: a(cube(), bands=["vv"]), DimensionError, r"pass times=, e\.g\. \[-3, -2, -1\]",
      "a cube with ``time`` and no ``times``", "pass ``times=``"),
    C("stack_channels-time-position", f"{S}.infer.stack_channels",
      lambda s: a(cube(), bands=["vv"], times=[0, 3]), ParameterError, r"pass positions in -3\.\.2",
      "``times=[0, 3]`` for 3 dates", "pass positions in range"),
    C("stack_channels-time-label", f"{S}.infer.stack_channels",
      lambda s: a(cube(), bands=["vv"], times=["1999-01-01"]), ParameterError,
      r"pass positions or dates from the cube's time coordinate",
      "a date not in the cube", "pass positions or dates of the cube"),
    # ---------------------------------------------------------------- stac, catalogs
    C("search-bbox", f"{S}.search", lambda s: a(stac_items(s.path), bbox=(10, 50, 11)),
      ParameterError, r"bbox must be \(west, south, east, north\) in degrees",
      "a bbox of 3 numbers", "pass ``(west, south, east, north)``"),
    C("search-reversed-dates", f"{S}.search",
      lambda s: a(stac_items(s.path), datetime="2024-06-01/2024-05-01"), ParameterError,
      r"the start is after the end", "an interval that ends before it starts",
      "swap start and end"),
    C("search-impossible-date", f"{S}.search",
      lambda s: a(stac_items(s.path), datetime="2021-13-45"), ParameterError,
      r"use a real date in ISO 8601", "a date that does not exist (month 13)",
      "give a real ISO 8601 date"),
    C("search-nothing", f"{S}.search",
      lambda s: a(stac_items(s.path), datetime="1999-01-01"), EmptySearchError, r"widen the search",
      "a search that matches nothing", "widen the search"),
    C("search-missing-catalog", f"{S}.search", lambda s: a(s.path / "none.json"),
      InputNotFoundError,
      r"pass a catalog/collection path", "a catalog path that does not exist",
      "pass a catalog or collection path"),
    C("load-no-items", f"{S}.load", lambda s: a([]), EmptySearchError, r"search returned nothing",
      "no items", "search again with wider criteria"),
    C("load-missing-band", f"{S}.load", lambda s: a(stac_items(s.path), bands=["hh"]),
      BandNotFoundError, r"pass bands=\['vv', 'vh'\]", "``bands=['hh']`` on VV/VH items",
      "pick from the listed bands"),
    C("load-chunks", f"{S}.load", lambda s: a(stac_items(s.path), chunks={"band": 1}),
      ParameterError, r"chunks=\{'time': 1, 'y': 1024, 'x': 1024\}", "``chunks={'band': 1}``",
      "give chunks for ``time``, ``y``, ``x``"),
    C("plan_load-resampling", f"{S}.plan_load",
      lambda s: a(stac_items(s.path), resampling="lanczos9"), ParameterError,
      r"use 'nearest', 'bilinear', 'average'", "``resampling='lanczos9'``",
      "use one of the listed methods"),
    C("open_cube-missing", f"{S}.open_cube", lambda s: a(s.path / "none.json"),
      InputNotFoundError,
      r"pass a catalog/collection path", "a catalog path that does not exist",
      "pass a catalog or collection path"),
    C("catalog.build-pattern", f"{S}.catalog.build",
      lambda s: a(s.path, s.path / "catalog", collection_id="x", pattern="sentinel"),
      ParameterError, r"use one of \[", "an unknown file-name pattern",
      "use one of the listed patterns", output="catalog"),
    C("synthetic.make_scene-tiny", f"{S}.synthetic.make_scene", lambda s: a((4, 4)),
      ParameterError, r"use at least \(8, 8\)", "a 4 × 4 scene", "use at least (8, 8)"),
    # ------------------------------------------------- Zarr, STAC and synthetic input
    C("to_zarr-unknown-encoding", f"{S}.to_zarr",
      lambda s: a(cube(), s.path / "cube.zarr", encoding={"hh": {"compressors": None}}),
      ParameterError, r"available", "``encoding`` for a variable not in the cube",
      "encode the cube's variables", output="cube.zarr"),
    C("to_zarr-bad-encoding", f"{S}.to_zarr",
      lambda s: a(cube(), s.path / "cube.zarr", encoding={"vv": {"bogus": 1}}),
      ParameterError, r"bogus", "an unknown encoding key", "pass Zarr encoding keys",
      output="cube.zarr"),
    C("open_zarr-not-a-store", f"{S}.open_zarr", lambda s: a(s.existing("cube.zarr")),
      OutputError, r"to_zarr", "a path that is not a Zarr store", "pass a store"),
    C("failed_assets-not-a-cube", f"{S}.failed_assets", lambda s: a(np.ones(3)), DTypeError,
      r"Dataset", "a numpy array", "pass the cube ``load`` returned"),
    C("search-not-a-source", f"{S}.search", lambda s: a(123), ParameterError, r"catalog",
      "a number as source", "pass a URL, a catalog path or items"),
    C("load-one-item", f"{S}.load", lambda s: a(stac_items(s.path)[0]), ParameterError,
      r"\[item\]", "one Item instead of a list", "pass ``[item]``"),
    C("load-text-chunks", f"{S}.load", lambda s: a(stac_items(s.path), chunks={"y": "a"}),
      ParameterError, r"chunks=", "``chunks={'y': 'a'}``", "pass integer chunk sizes"),
    C("load-unknown-crs", f"{S}.load",
      lambda s: a(stac_items(s.path), crs="EPSG:bogus", resolution=20, chunks={"y": 8}),
      ParameterError, r"crs", "an unknown CRS", "pass a valid CRS, e.g. ``'EPSG:32633'``"),
    C("load-text-resolution", f"{S}.load", lambda s: a(stac_items(s.path), resolution="20"),
      ParameterError, r"resolution", "``resolution='20'``", "pass a number"),
    C("search-bool-max-items", f"{S}.search", lambda s: a(stac_items(s.path), max_items=True),
      ParameterError, r"max_items must be a positive integer", "``max_items=True``",
      "pass a positive integer"),
    C("load-huge-retries", f"{S}.load", lambda s: a(stac_items(s.path), retries=10**6),
      ParameterError, r"retries must be an integer in 0\.\.100", "``retries=10**6``",
      "pass at most 100 retries"),
    C("synthetic.make_scene-int-shape", f"{S}.synthetic.make_scene", lambda s: a(16),
      ParameterError, r"\(ny, nx\)", "``shape=16``", "pass ``(ny, nx)``"),
]
# fmt: on


# --------------------------------------------------------------------------
# defined outcomes: inputs that look bad but are valid, or only checkable when computed


@dataclass(frozen=True)
class Behaviour:
    """An input that looks bad but is valid or only checkable on the values: its outcome."""

    id: str
    name: str
    given: str  # the input, for the docs table
    outcome: str  # what happens, for the docs table
    check: Callable[[], None]  # runs it (computing) and asserts the outcome


def _all_nan(obj: Any) -> bool:
    return bool(np.isnan(np.asarray(obj)).all())


def _nan_cube() -> xr.Dataset:
    return cube() * np.nan


def _in_scratch(check: Callable[[Path], None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check(Path(tmp))


def _raises_when_computed(error: type[SarcubeError], build: Callable[[], Any]) -> None:
    with raise_if_dask_computes():
        lazy = build()  # building the graph is fine: the values are not known yet
    with pytest.raises(error):
        lazy.compute()


def _check_to_db_non_positive() -> None:
    out = sarcube.to_db(xr.DataArray([[0.0, -0.1, 0.1]], dims=("y", "x")).chunk())
    np.testing.assert_array_equal(out.values, [[np.nan, np.nan, -10.0]])


def _check_log_ratio_non_positive() -> None:
    pre = xr.DataArray([[0.0, 0.1, 0.1]], dims=("y", "x")).chunk()
    post = xr.DataArray([[0.1, -0.1, 0.1]], dims=("y", "x")).chunk()
    np.testing.assert_array_equal(sarcube.log_ratio(pre, post).values, [[np.nan, np.nan, 0.0]])


def _check_normalised_change_zero() -> None:
    zero = xr.DataArray([[0.0, 0.1]], dims=("y", "x")).chunk()
    np.testing.assert_array_equal(sarcube.normalised_change(zero, zero).values, [[np.nan, 0.0]])


def _check_filters_all_nan() -> None:
    nan = _nan_cube()
    for out in (
        sarcube.lee_filter(nan, size=3),  # ENL estimated: NaN too
        sarcube.lee_filter(nan, size=3, variant="tutorial"),
        sarcube.frost_filter(nan, size=3),
        sarcube.gamma_map_filter(nan, size=3, enl=4.4),
        sarcube.refined_lee(nan, enl=4.4),
        sarcube.boxcar_filter(nan, size=3),
        sarcube.median_filter(nan, size=3),
        sarcube.tv_denoise(nan, weight=1.0),
    ):
        assert _all_nan(out["vv"]) and _all_nan(out["vh"])
    assert _all_nan(sarcube.estimate_enl(nan)["vv"])


def _check_filters_negative_dask() -> None:
    _raises_when_computed(UnitsError, lambda: sarcube.lee_filter(-band(), enl=4.4))
    _raises_when_computed(UnitsError, lambda: sarcube.frost_filter(-band()))


def _check_tv_small_image() -> None:
    small = band()  # 24 × 20 pixels, less than the default halo of 32
    lazy = sarcube.tv_denoise(small, weight=1.0, max_iter=20).compute()
    eager = sarcube.tv_denoise(small.compute(), weight=1.0, max_iter=20)
    np.testing.assert_array_equal(lazy.values, eager.values)


def _check_to_cog_bool(tmp: Path) -> None:
    import rasterio

    mask = image() > 0.1
    with rasterio.open(sarcube.to_cog(mask, tmp / "mask.tif")) as src:
        assert src.dtypes == ("uint8",)
        np.testing.assert_array_equal(src.read(1), mask.values.astype(np.uint8))


def _check_clamp_stats_all_nan() -> None:
    stats = sarcube.clamp_stats(_nan_cube(), [0.3]).compute()
    assert (stats["count"] == 0).all() and _all_nan(stats["mean"]) and _all_nan(stats["std"])


def _check_threshold_all_nan() -> None:
    nan = sarcube.to_db(_nan_cube()["vv"].isel(time=0))
    assert _all_nan(sarcube.threshold(nan)["threshold"])
    assert _all_nan(sarcube.threshold(nan, method="ki")["threshold"])
    tiled = sarcube.threshold(nan, method="tiled", tile_sizes=(8, 4)).compute()
    assert _all_nan(tiled["threshold"]) and bool(tiled["fallback"])


def _check_flood_map_all_nan() -> None:
    ds = cube()
    flooded = sarcube.flood_map(ds.isel(time=0), _nan_cube().isel(time=-1)).compute()
    assert (flooded == 255).all()
    assert _all_nan(flooded["post_threshold"]) and _all_nan(flooded["change_threshold"])


def _check_flood_map_non_positive() -> None:
    ds = cube()
    pre = ds.isel(time=0)
    pre["vv"] = pre["vv"].where(pre["x"] > pre["x"][9], -pre["vv"])  # left half negative
    flooded = sarcube.flood_map(pre, ds.isel(time=-1), nodata_buffer=0).compute()
    assert (flooded.isel(x=slice(0, 10)) == 255).all()
    assert (flooded.isel(x=slice(12, None)) != 255).any()


def _check_kmeans_all_nan() -> None:
    _raises_when_computed(
        ParameterError, lambda: sarcube.kmeans(_nan_cube().isel(time=0), n_clusters=2, sample=50)
    )
    constant = cube().isel(time=0) * 0 + 0.1
    _raises_when_computed(ParameterError, lambda: sarcube.kmeans(constant, n_clusters=2))


def _check_superpixels_all_nan() -> None:
    sp = sarcube.superpixels(_nan_cube().isel(time=0), tile_size=8).compute()
    assert (sp["segment"] == -1).all() and _all_nan(sp["vv_mean"])


def _check_reduce_time_all_nan() -> None:
    for how in ("mean", "median"):
        assert _all_nan(sarcube.reduce_time(_nan_cube(), how=how)["vv"])


def _check_sar_rgb_all_nan() -> None:
    assert _all_nan(sarcube.sar_rgb(_nan_cube().isel(time=0)))


def _check_antimeridian_bbox() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        items = stac_items(Path(tmp))  # around 15°E
        crossing = sarcube.search(items, bbox=(170, -90, 20, 90))  # 170°E → 180° → 20°E
        assert len(crossing) == len(items)
        with pytest.raises(EmptySearchError):
            sarcube.search(items, bbox=(170, -90, 10, 90))  # 170°E → 10°E misses 15°E


def _check_filters_xy_order() -> None:
    band = sarcube.synthetic.make_scene((24, 30), seed=4).cube["vv"].isel(time=0)
    for f in (sarcube.lee_filter, sarcube.median_filter, sarcube.frost_filter):
        swapped = f(band.transpose("x", "y"))
        assert swapped.dims == ("x", "y")
        np.testing.assert_allclose(swapped.transpose("y", "x").values, f(band).values, rtol=1e-6)


def _check_clamp_stats_unsorted() -> None:
    band = sarcube.synthetic.make_scene((24, 30), seed=4).cube["vv"].isel(time=0)
    given = sarcube.clamp_stats(band, clamps=(0.5, 0.15))
    assert given["clamp"].values.tolist() == [0.5, 0.15]
    xr.testing.assert_identical(
        given, sarcube.clamp_stats(band, clamps=(0.15, 0.5)).sel(clamp=[0.5, 0.15])
    )


def _check_load_oversized_chunks() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cube = sarcube.load(stac_items(Path(tmp)), chunks={"y": 10**9, "x": 10**9})
        assert cube["vv"].chunks[1:] == ((cube.sizes["y"],), (cube.sizes["x"],))


def _check_empty_masks() -> None:
    empty = image() > 1e9
    assert int(sarcube.region_stats(empty)["count"]) == 0
    assert sarcube.rle_encode(empty) == ""
    assert int(sarcube.remove_small_regions(empty, min_size=3).sum()) == 0


def _check_mask_values_dask() -> None:
    classes = class_map() * 2  # 0/2 (and 254): not binary
    _raises_when_computed(MaskError, lambda: sarcube.remove_small_regions(classes, min_size=2))
    with raise_if_dask_computes(max_computes=1), pytest.raises(MaskError):
        sarcube.rle_encode(class_map())  # computes (documented), then checks


def _check_absent_class() -> None:
    truth = pred = xr.DataArray([[0, 0, 1, 1]], dims=("y", "x")).chunk()
    metrics = sarcube.segmentation_metrics(pred, truth, classes=[0, 1, 2]).compute()
    assert np.isnan(metrics["iou"].sel({"class": 2})) and float(metrics["miou"]) == 1.0


def _check_all_nodata_fractions() -> None:
    nodata = xr.full_like(class_map(), 255)
    assert _all_nan(sarcube.class_fractions(nodata, classes=[0, 1]))
    assert _all_nan(sarcube.agreement_matrix({"a": nodata, "b": nodata}))


def _check_incidence_dask() -> None:
    incidence = (image() * 0 + 120.0).fillna(120.0)
    _raises_when_computed(ParameterError, lambda: sarcube.insar.los_to_vertical(los(), incidence))


def _check_water_prior_all_nan() -> None:
    out = sarcube.apply_water_prior(prob_map() * np.nan, class_map())
    assert (out == 255).all()


def _check_zones_outside() -> None:
    far = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100)], crs=32633)
    out = sarcube.zonal_stats(class_map(), far)
    assert int(out["n_pixels"].iloc[0]) == 0 and np.isnan(out["class1_fraction"].iloc[0])


B = Behaviour
# fmt: off
BEHAVIOURS: list[Behaviour] = [
    B("search-antimeridian-bbox", f"{S}.search", "a bbox with west > east",
      "crosses the antimeridian (as in STAC): west → 180° and −180° → east",
      _check_antimeridian_bbox),
    B("filters-xy-order", f"{S}.lee_filter", "a band with dims ``(x, y)``",
      "the same filter as on ``(y, x)``, dims kept in the given order", _check_filters_xy_order),
    B("clamp_stats-unsorted", f"{S}.clamp_stats", "``clamps=(0.5, 0.15)``",
      "each clamp computed on its own, listed in the order given", _check_clamp_stats_unsorted),
    B("load-oversized-chunks", f"{S}.load", "``chunks={'y': 10**9}``",
      "one chunk along that axis (as dask clips a chunk to the array)",
      _check_load_oversized_chunks),
    B("to_db-non-positive", f"{S}.to_db", "zero or negative power",
      "NaN (no decibel value; no warning)", _check_to_db_non_positive),
    B("log_ratio-non-positive", f"{S}.log_ratio", "zero or negative power in pre or post",
      "NaN there", _check_log_ratio_non_positive),
    B("normalised_change-zero", f"{S}.normalised_change", "pre + post = 0", "NaN there",
      _check_normalised_change_zero),
    B("filters-all-nan", f"{S}.lee_filter", "all-NaN images (every filter, ``estimate_enl``)",
      "all NaN: nodata stays nodata, windows ignore it", _check_filters_all_nan),
    B("filters-negative-dask", f"{S}.lee_filter",
      "negative values on dask (Lee, Frost, Gamma-MAP, refined Lee, ENL, TV in dB)",
      ":class:`~sarcube.errors.UnitsError` when computed (values are unknown before)",
      _check_filters_negative_dask),
    B("tv_denoise-small-image", f"{S}.tv_denoise", "a dask image smaller than ``halo``",
      "solved in one chunk: equal to the in-memory result", _check_tv_small_image),
    B("to_cog-bool", f"{S}.to_cog", "a boolean mask", "written as uint8 0/1",
      lambda: _in_scratch(_check_to_cog_bool)),
    B("clamp_stats-all-nan", f"{S}.clamp_stats", "all-NaN bands",
      "``count`` 0, NaN ``mean``/``std``", _check_clamp_stats_all_nan),
    B("threshold-all-nan", f"{S}.threshold", "an all-NaN image",
      "NaN threshold (``tiled``: ``fallback`` true)", _check_threshold_all_nan),
    B("flood_map-all-nan", f"{S}.flood_map", "an all-NaN post image",
      "255 (nodata) everywhere, NaN thresholds", _check_flood_map_all_nan),
    B("flood_map-non-positive", f"{S}.flood_map", "non-positive linear power",
      "nodata (255) there: no decibel value", _check_flood_map_non_positive),
    B("kmeans-all-nan", f"{S}.kmeans", "all-NaN or constant features on dask",
      ":class:`~sarcube.errors.ParameterError` when computed (numpy: at once)",
      _check_kmeans_all_nan),
    B("superpixels-all-nan", f"{S}.superpixels", "all-NaN bands",
      "segment −1 and NaN features everywhere", _check_superpixels_all_nan),
    B("reduce_time-all-nan", f"{S}.reduce_time", "pixels NaN on every date",
      "NaN there (no warning)", _check_reduce_time_all_nan),
    B("sar_rgb-all-nan", f"{S}.sar_rgb", "all-NaN bands", "all NaN", _check_sar_rgb_all_nan),
    B("masks-empty", f"{S}.region_stats", "masks without any region",
      "``count`` 0; ``rle_encode`` gives ``''``; ``remove_small_regions`` keeps it empty",
      _check_empty_masks),
    B("masks-values-dask", f"{S}.remove_small_regions", "non-binary values on dask",
      ":class:`~sarcube.errors.MaskError` when computed (``rle_encode`` computes first)",
      _check_mask_values_dask),
    B("segmentation_metrics-absent-class", f"{S}.segmentation_metrics",
      "a class in neither map", "NaN scores for it, left out of the means", _check_absent_class),
    B("class_fractions-all-nodata", f"{S}.class_fractions", "maps that are all nodata (255)",
      "NaN fractions and agreements", _check_all_nodata_fractions),
    B("los_to_vertical-incidence-dask", f"{S}.insar.los_to_vertical",
      "incidence angles beyond 90° on dask",
      ":class:`~sarcube.errors.ParameterError` when computed", _check_incidence_dask),
    B("apply_water_prior-all-nan", f"{S}.apply_water_prior", "all-NaN probabilities",
      "nodata (255) everywhere", _check_water_prior_all_nan),
    B("zonal_stats-outside", f"{S}.zonal_stats", "a zone outside the map",
      "0 pixels and NaN fractions", _check_zones_outside),
]
# fmt: on


# --------------------------------------------------------------------------
# tests


def _tree(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under *folder* with (size, mtime) for files, None for folders."""
    out: dict[str, tuple[int, int] | None] = {}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(folder))] = None if p.is_dir() else (st.st_size, st.st_mtime_ns)
    return out


DOCUMENTED = [c for c in CASES if c.known is None]


def _param(case: Case) -> Any:
    marks = [] if case.known is None else [pytest.mark.xfail(reason=case.known, strict=True)]
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_raises_before_computing(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each bad input raises the documented error, naming the fix, and writes nothing."""
    scratch = Scratch(tmp_path, monkeypatch)
    args, kwargs = case.args(scratch)
    before = _tree(tmp_path)
    with raise_if_dask_computes(), pytest.raises(SarcubeError) as info:
        case.func(*args, **kwargs)
    assert type(info.value) is case.error, f"{type(info.value).__name__}: {info.value}"
    assert re.search(case.fix_re, str(info.value)), str(info.value)
    # the built-in base a user may catch instead
    assert isinstance(info.value, ValueError | TypeError | OSError | LookupError)
    assert _tree(tmp_path) == before  # nothing written, nothing removed, no temporary file
    if case.output is not None:
        assert not (tmp_path / case.output).exists()


@pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=[b.id for b in BEHAVIOURS])
def test_documented_behaviour(behaviour: Behaviour) -> None:
    """Inputs that are not errors (or only checkable on the values) do what the docs say."""
    behaviour.check()


# --------------------------------------------------------------------------
# the docs page


def _cell(text: str) -> str:
    return " ".join(text.split())


def _role(name: str) -> str:
    """A Sphinx cross-reference to the public object *name*."""
    parts = name.split(".")
    role = "class" if parts[-1][0].isupper() else "meth" if parts[-2][0].isupper() else "func"
    return f":{role}:`{name}`"


def case_row(case: Case) -> list[str]:
    """The row of *case* in the "Bad inputs" table of docs/bad-input.rst."""
    error = f":class:`~sarcube.errors.{case.error.__name__}`"
    return [f"``{case.id}``", _role(case.name), case.bad, error, case.fix]


def behaviour_row(behaviour: Behaviour) -> list[str]:
    """The row of *behaviour* in the "Defined outcomes" table of docs/bad-input.rst."""
    return [f"``{behaviour.id}``", _role(behaviour.name), behaviour.given, behaviour.outcome]


def _doc_rows(text: str, title: str) -> list[list[str]]:
    """Rows of the ``list-table`` called *title*, header included, cells normalised."""
    table = text.split(f".. list-table:: {title}\n", 1)[1]
    rows: list[list[str]] = []
    for line in table.splitlines():
        if line.startswith("   * - "):
            rows.append([line[len("   * - ") :]])
        elif line.startswith("     - ") and rows:
            rows[-1].append(line[len("     - ") :])
        elif line.startswith("       ") and rows:
            rows[-1][-1] += " " + line.strip()
        elif line.strip() and not line.startswith("   :"):
            break  # the text after the table
    return [[_cell(c) for c in row] for row in rows]


def test_docs_tables_match_the_catalogue() -> None:
    """docs/bad-input.rst shows exactly the documented cases and behaviours, in order."""
    text = DOC.read_text(encoding="utf-8")
    hint = "docs/bad-input.rst is out of date: run `python tests/test_bad_input.py` and paste"
    cases = _doc_rows(text, "Bad inputs")
    assert cases[0] == ["Case", "Function", "Bad input", "Raises", "The message tells you to"]
    assert cases[1:] == [[_cell(c) for c in case_row(case)] for case in DOCUMENTED], hint
    behaviours = _doc_rows(text, "Defined outcomes")
    assert behaviours[0] == ["Case", "Function", "Input", "What happens"]
    assert behaviours[1:] == [[_cell(c) for c in behaviour_row(b)] for b in BEHAVIOURS], hint
    assert f"{len(DOCUMENTED)} bad inputs" in _cell(text), "update the count in the intro"


def test_every_public_function_has_a_case() -> None:
    """Every public function and class is in the catalogue (under its top-level name)."""
    public = {f"{S}.{n}" for n in sarcube.__all__ if callable(getattr(sarcube, n))}
    public -= {f"{S}.SarcubeError"}
    public -= {f"{S}.normalized_change"}  # deprecated: normalised_change's old spelling
    public |= {
        f"{S}.insar.{n}" for n in sarcube.insar.__all__ if callable(getattr(sarcube.insar, n))
    } - {f"{S}.insar.GainOffset"}  # a result, built by fit_gain_offset
    # sarcube.multisensor's functions are the top-level ones, checked above
    for n in sarcube.multisensor.__all__:
        if callable(getattr(sarcube.multisensor, n)):
            assert getattr(sarcube.multisensor, n) is getattr(sarcube, n)
    public |= {f"{S}.infer.{n}" for n in ("predict", "most_likely_class", "stack_channels")}
    public |= {f"{S}.ml.to_chips"}
    names = {c.name for c in CASES}
    assert sorted(public - names) == []
    ids = [c.id for c in CASES] + [b.id for b in BEHAVIOURS]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def _print_tables() -> None:
    """The rows of both tables, to paste into docs/bad-input.rst."""
    for title, rows in (
        ("Bad inputs", [case_row(c) for c in DOCUMENTED]),
        ("Defined outcomes", [behaviour_row(b) for b in BEHAVIOURS]),
    ):
        print(f"\n{title} ({len(rows)} rows):\n")
        for cells in rows:
            print(f"   * - {cells[0]}")
            for cell in cells[1:]:
                print(f"     - {cell}")


if __name__ == "__main__":
    _print_tables()
