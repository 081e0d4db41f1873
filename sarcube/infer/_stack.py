"""Model inputs: the channel stack a model expects, from a cube or from co-registered layers.

:func:`stack_channels` stacks dates × bands of a cube into the ``(channel, y,
x)`` array :func:`predict` takes; :func:`feature_stack` orders co-registered
``(y, x)`` layers (SAR, optical, DEM, HAND) into a model's channels with a
label, the Dataset :func:`sarcube.ml.to_chips` cuts; :func:`sweep_norms` runs
one model under several normalisations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from .._checks import check_bands, check_real, check_same_grid, check_spatial, check_xarray
from .._deprecation import renamed_keywords
from .._geographic import accepts_geographic
from ..conventions import ALOS_CHANNELS, NODATA
from ..errors import BandNotFoundError, DimensionError, DTypeError, ParameterError
from ..scaling import NormConfig, normalise
from ._models import ModelSpec
from ._predict import most_likely_class, predict

__all__ = ["feature_stack", "stack_channels", "sweep_norms"]


def stack_channels(
    cube: xr.Dataset,
    *,
    bands: Sequence[str],
    times: Sequence[Any] | None = None,
    norm: NormConfig | None = None,
) -> xr.DataArray:
    """The ``(channel, y, x)`` stack a model expects, time-major: ``[t0 × bands, t1 × bands, …]``.

    Parameters
    ----------
    cube
        A cube with variables per band on ``(time, y, x)`` (or ``(y, x)``).
    bands
        Bands in the model's order, e.g. ``["vv", "vh"]``.
    times
        Positions (``[-3, -2, -1]`` for two pre-event dates and the post-event
        one) or labels of the ``time`` dim, in the model's order; needed when
        the cube has a ``time`` dim.
    norm
        Clamp and standardise every band with these statistics first
        (:func:`sarcube.normalise`).

    Returns
    -------
    xarray.DataArray
        float32, lazy on dask input; channel coords ``"<band>@<time index>"``
        plus ``band`` and ``time`` coords on the channel dim.

    Examples
    --------
    >>> cube = sarcube.synthetic.make_scene((16, 16)).cube
    >>> stack = stack_channels(cube, bands=["vv", "vh"], times=[-2, -1])
    >>> stack.sizes["channel"], stack["channel"].values[:2].tolist()
    (4, ['vv@1', 'vh@1'])
    """
    check_xarray(cube, "stack_channels")
    if not isinstance(cube, xr.Dataset):
        raise DTypeError("stack_channels: pass a cube (Dataset) with one variable per band")
    bands = check_bands(cube, bands, "stack_channels")
    check_spatial(cube[bands], "stack_channels")
    check_real(cube[bands], "stack_channels")
    if norm is not None:
        cube = normalise(cube[list(bands)], norm)
    layers, names, band_of, time_of = [], [], [], []
    if "time" in cube.dims:
        if times is None:
            raise DimensionError(
                "stack_channels: the cube has a time dim; pass times=, e.g. [-3, -2, -1]"
            )
        positions = []
        n = cube.sizes["time"]
        for t in times:
            if isinstance(t, int | np.integer) and not isinstance(t, bool):
                if not -n <= t < n:
                    raise ParameterError(
                        f"stack_channels: time position {t} out of range for {n} dates; pass "
                        f"positions in {-n}..{n - 1}"
                    )
                positions.append(int(t) % n)
                continue
            try:
                found = cube.indexes["time"].get_loc(t)
            except (KeyError, TypeError, ValueError):
                found = None
            if not isinstance(found, int | np.integer):  # missing, or a slice/mask of several
                raise ParameterError(
                    f"stack_channels: time {t!r} does not match one date of the cube; pass "
                    "positions or dates from the cube's time coordinate, e.g. "
                    f"{[str(v)[:19] for v in cube['time'].values[-2:]]}"
                )
            positions.append(int(found))
        for p in positions:
            for b in bands:
                layers.append(cube[b].isel(time=p, drop=True))
                names.append(f"{b}@{p}")
                band_of.append(b)
                time_of.append(cube["time"].values[p])
    else:
        if times is not None:
            raise DimensionError("stack_channels: the cube has no time dim; leave times=None")
        for b in bands:
            layers.append(cube[b])
            names.append(b)
            band_of.append(b)
    stacked = xr.concat(
        [layer.astype(np.float32) for layer in layers], dim="channel", coords="minimal"
    )
    coords: dict[str, Any] = {"channel": names, "band": ("channel", band_of)}
    if time_of:
        coords["time"] = ("channel", np.asarray(time_of))
    out = stacked.assign_coords(coords).transpose("channel", "y", "x")
    out.name = "model_input"
    clamp_attr = {"clamp": norm.clamp} if norm is not None and norm.clamp is not None else {}
    out.attrs = {"long_name": "model input channels", **clamp_attr}
    return out


def sweep_norms(
    cube: xr.Dataset,
    /,
    model: ModelSpec,
    configs: Mapping[str, NormConfig],
    *,
    bands: Sequence[str],
    times: Sequence[Any] | None = None,
    n_classes: int,
    **predict_options: Any,
) -> dict[str, dict[str, float]]:
    """Run one model under several normalisations (e.g. clamp cut-offs); class percentages.

    Returns ``{config name: {"class_0": %, "class_1": %, …, "nodata": %}}`` —
    JSON-ready. **Computes** (one pass per config).

    Examples
    --------
    >>> from sarcube.infer import ModelSpec, sweep_norms
    >>> cube = sarcube.synthetic.make_scene((64, 64), seed=1).cube
    >>> spec = ModelSpec(factory="torch.nn:Identity", activation="softmax", name="identity")
    >>> stats = {"mean": {"vv": 0.05, "vh": 0.01}, "std": {"vv": 0.03, "vh": 0.01}}
    >>> configs = {"clamp 0.3": NormConfig(clamp=0.3, **stats),
    ...            "clamp 0.15": NormConfig(clamp=0.15, **stats)}
    >>> shares = sweep_norms(cube, spec, configs, bands=["vv", "vh"], times=[-1], n_classes=2,
    ...                      window=32, stride=24)
    >>> {name: round(share["class_1"], 1) for name, share in shares.items()}
    {'clamp 0.3': 55.2, 'clamp 0.15': 57.7}
    """
    from ..validate import class_fractions

    report: dict[str, dict[str, float]] = {}
    for name, config in configs.items():
        stack = stack_channels(cube, bands=bands, times=times, norm=config)
        labels = most_likely_class(predict(stack, model, n_classes=n_classes, **predict_options))
        fractions = class_fractions(labels, classes=list(range(n_classes))).values
        nodata = float((labels == NODATA).mean())
        report[name] = {f"class_{c}": 100 * float(f) for c, f in enumerate(fractions)}
        report[name]["nodata"] = 100 * nodata
    return report


@renamed_keywords(ignore_value="nodata")
@accepts_geographic
def feature_stack(
    layers: xr.Dataset,
    channels: Sequence[str] = ALOS_CHANNELS,
    *,
    label: xr.DataArray | None = None,
    label_nodata: float | None = None,
    nodata: int = NODATA,
) -> xr.Dataset:
    """The layers a model expects, in order, with an optional label layer.

    Parameters
    ----------
    layers
        Co-registered layers (e.g. a SAR cube merged with :func:`coregister`'s
        output), one ``(y, x)`` variable per channel.
    channels
        Variable names in the model's channel order; default the ALOS-2 style
        stack ``HH, HV, Red, NIR, SWIR1, SWIR2, DEM, HAND``.
    label
        Class map on the same grid; NaN, *label_nodata* (the label's own
        nodata value) and pixels where any channel is NaN become *nodata*.
    nodata
        The output label's nodata value, which losses and metrics skip
        (``ignore_index`` in :mod:`sarcube.ml`'s losses), 255 by default.
        Formerly ``ignore_value``; the old name still works, with a
        ``DeprecationWarning``.

    Returns
    -------
    xarray.Dataset
        float32 channels in order (``attrs["channels"]`` lists them) plus
        ``label`` (uint8) when given; feed it to :func:`sarcube.ml.to_chips`
        (``bands=channels``) or :func:`sarcube.infer.predict` (``channels=``).

    Examples
    --------
    >>> scene = sarcube.synthetic.make_scene((32, 32), seed=1)
    >>> stack = feature_stack(scene.cube.isel(time=-1), ["vh", "vv"],
    ...                       label=scene.flood.isel(time=-1))
    >>> list(stack.data_vars), stack["label"].dtype
    (['vh', 'vv', 'label'], dtype('uint8'))
    """
    check_xarray(layers, "feature_stack")
    if not isinstance(layers, xr.Dataset):
        raise DTypeError("feature_stack: pass the layers as a Dataset")
    check_spatial(layers, "feature_stack")
    names = list(channels)
    missing = [c for c in names if c not in layers.data_vars]
    if missing:
        raise BandNotFoundError(
            f"feature_stack: channels {missing} not in the layers; available: "
            f"{[str(v) for v in layers.data_vars]} (rename them, or pass channels=)"
        )
    if len(set(names)) != len(names):
        raise ParameterError(f"feature_stack: channels repeat a name: {names}")
    if not 0 <= nodata <= 255:
        raise ParameterError(f"feature_stack: nodata must fit uint8, got {nodata}")
    extra = {str(d) for c in names for d in layers[c].dims} - {"y", "x"}
    if extra:
        raise DimensionError(
            f"feature_stack: channels must be (y, x); found dims {sorted(extra)} — select a "
            "date or band first"
        )
    stack = xr.Dataset({c: layers[c].astype(np.float32) for c in names})
    if label is not None:
        check_xarray(label, "feature_stack (label)")
        check_spatial(label, "feature_stack (label)")
        check_same_grid(
            label,
            layers,
            "the label",
            "feature_stack",
            ref_name="the layers",
            fix="put it there with sarcube.coregister({'label': label}, layers, "
            "resampling='nearest')",
        )
        valid = label.notnull()
        if label_nodata is not None:
            valid = valid & (label != label_nodata)
        for c in names:
            valid = valid & stack[c].notnull()
        lab = label.where(valid, nodata).astype(np.uint8)
        lab.attrs = {"long_name": "class label", "nodata": nodata}
        stack["label"] = lab
    stack.attrs["channels"] = names
    return stack.rio.write_crs(layers.rio.crs) if layers.rio.crs is not None else stack
