"""Tiled model inference over lazy cubes: a global window grid with blending and flips.

Windows of ``window`` pixels sit on one grid for the whole image, anchored at
its origin (starts ``k·stride − (window − stride)//2``), whatever the chunks.
Each chunk is extended by ``window − 1`` pixels from its neighbours (reflected
at the image edge, as numpy's ``symmetric`` padding), every window touching
the chunk is predicted in batches, and each pixel gets the weighted mean of the
windows covering it (separable ramp weights, or uniform). A pixel therefore
sees the same windows and weights for any chunking: only batch composition
differs, which changes results by float rounding at most. The blending runs
on the model's device (``device="auto"``: the CUDA device of the worker that
runs the task), with one copy of each block there and one back.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr

from .._checks import (
    check_dataarray,
    check_int,
    check_optional_int,
    check_real,
    check_spatial,
    check_xarray,
)
from .._deprecation import warn_renamed
from .._extras import require
from .._overlap import overlapped
from ..conventions import NODATA, SPATIAL_DIMS
from ..errors import BandNotFoundError, DimensionError, ParameterError
from ._models import Ensemble, ModelSpec, load_model
from ._preflight import blend_on_host, check_cuda, check_device, probe_models, resolve_device

__all__ = ["classify", "most_likely_class", "predict", "ramp_weights", "window_starts"]

_FLIPS: dict[str, list[tuple[int, ...]]] = {
    "none": [()],
    "flip4": [(), (-1,), (-2,), (-2, -1)],
}


def window_starts(size: int, window: int, stride: int) -> np.ndarray:
    """Start offsets of the global window grid along an axis of *size* pixels.

    Examples
    --------
    >>> from sarcube.infer import window_starts
    >>> window_starts(100, 64, 48).tolist()  # the first window starts half an overlap early
    [-8, 40]
    """
    shift = (window - stride) // 2
    last = max(0, math.ceil((size + shift - window) / stride))
    return np.arange(last + 1) * stride - shift


def ramp_weights(window: int, stride: int, blend: str) -> np.ndarray:
    """1-D blending weights of a window: a linear ramp over the overlap, or uniform.

    Examples
    --------
    >>> from sarcube.infer import ramp_weights
    >>> ramp_weights(8, 4, "ramp").tolist()
    [0.25, 0.5, 0.75, 1.0, 1.0, 0.75, 0.5, 0.25]
    >>> ramp_weights(8, 4, "uniform").tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    if blend == "uniform" or stride >= window:
        return np.ones(window, dtype=np.float64)
    ramp = window - stride
    i = np.arange(window)
    return np.minimum(np.minimum(i + 1, window - i), ramp) / ramp


def _coverage(starts: list[int], origin: int, length: int, weights: np.ndarray) -> np.ndarray:
    """Sum of the 1-D window weights over the windows covering each pixel of a span."""
    total = np.zeros(length)
    window = len(weights)
    for s in starts:
        lo, hi = max(s, origin), min(s + window, origin + length)
        total[lo - origin : hi - origin] += weights[lo - s : hi - s]
    return total


def _run(model: Any, x: Any, spec: ModelSpec, tta: str, dtype: Any, channels_last: bool) -> Any:
    """Probabilities (float32, on the model's device) of a batch of windows *x*."""
    import torch

    x = x.to(dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    total: Any = None
    for dims in _FLIPS[tta]:
        xin = x.flip(dims) if dims else x
        out = model(xin).float()
        if spec.activation == "softmax":
            out = torch.softmax(out, dim=1)
        elif spec.activation == "sigmoid":
            out = torch.sigmoid(out)
        if dims:
            out = out.flip(dims)
        total = out if total is None else total + out
    n_views = len(_FLIPS[tta])
    return total if n_views == 1 else total / n_views


def _run_all(
    members: list[tuple[Any, ModelSpec, list[int] | None, float]],
    x: Any,
    tta: str,
    dtype: Any,
    channels_last: bool,
) -> Any:
    """The weighted mean of the members' probabilities of a batch of windows."""
    total: Any = None
    for model, spec, index, weight in members:
        xin = x if index is None else x[:, index]
        probs = _run(model, xin, spec, tta, dtype, channels_last)
        if len(members) > 1:
            probs = probs * weight
        total = probs if total is None else total + probs
    return total


def _predict_block(
    ext: np.ndarray,
    *,
    spec: ModelSpec | Ensemble,
    selection: list[list[int] | None],
    n_out: int,
    window: int,
    stride: int,
    halo: int,
    size: tuple[int, int],
    origin: tuple[np.ndarray, np.ndarray],
    batch_size: int,
    tta: str,
    blend: str,
    device: str,
    compute_dtype: str,
    optimize: bool,
    threads: int | None,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """Class probabilities of one chunk from its halo-extended block (channel, y, x).

    The block is copied to the model's device once; the windows are cut,
    predicted, weighted and summed there in float32 (within about 1e-7 of a
    float64 sum: a pixel is covered by a few windows), and the blended
    probabilities come back in one copy.
    """
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    if block_info is not None:
        _, bi, bj = block_info[None]["chunk-location"]
        a, c = int(origin[0][bi]), int(origin[1][bj])
    else:
        a = c = 0
    h, w = ext.shape[1] - 2 * halo, ext.shape[2] - 2 * halo
    dev = resolve_device(device)
    specs = spec.members if isinstance(spec, Ensemble) else (spec,)
    shares = spec.weights if isinstance(spec, Ensemble) else (1.0,)
    members = [
        (load_model(m, dev, dtype=compute_dtype, optimize=optimize), m, index, float(w))
        for m, index, w in zip(specs, selection, shares or (), strict=True)
    ]
    torch_dtype = getattr(torch, compute_dtype)
    weights_1d = ramp_weights(window, stride, blend)
    ys = [int(s) for s in window_starts(size[0], window, stride) if a - window < s < a + h]
    xs = [int(s) for s in window_starts(size[1], window, stride) if c - window < s < c + w]
    positions = [(sy, sx) for sy in ys for sx in xs]
    # the windows form a product grid and the weights are separable, so the
    # weight sum at each pixel is the outer product of the two 1-D sums
    wsum_1d = [_coverage(ys, a, h, weights_1d), _coverage(xs, c, w, weights_1d)]
    if not ext.flags.writeable:  # torch.from_numpy warns on read-only arrays
        ext = ext.copy()
    with torch.inference_mode():
        block = torch.from_numpy(np.asarray(ext, dtype=np.float32)).to(dev)
        finite = torch.isfinite(block)
        valid = finite[:, halo : halo + h, halo : halo + w].all(dim=0)
        filled = torch.where(finite, block, 0.0)
        del block, finite
        weights = torch.from_numpy(np.outer(weights_1d, weights_1d).astype(np.float32)).to(dev)
        wsum_y, wsum_x = (torch.from_numpy(v.astype(np.float32)).to(dev) for v in wsum_1d)
        acc = torch.zeros((n_out, h, w), dtype=torch.float32, device=dev)
        on_host = blend_on_host(acc.device)
        source: Any = filled.numpy() if on_host else filled
        target: Any = acc.numpy() if on_host else acc
        stack: Any = np.stack if on_host else torch.stack
        for start in range(0, len(positions), batch_size):
            batch = positions[start : start + batch_size]
            patches = stack(
                [
                    source[
                        :,
                        sy - a + halo : sy - a + halo + window,
                        sx - c + halo : sx - c + halo + window,
                    ]
                    for sy, sx in batch
                ]
            )
            probs = _run_all(members, torch.as_tensor(patches), tta, torch_dtype, optimize)
            weighted = torch.mul(probs, weights)
            for (sy, sx), p in zip(batch, weighted.numpy() if on_host else weighted, strict=True):
                y0, y1 = max(sy, a), min(sy + window, a + h)
                x0, x1 = max(sx, c), min(sx + window, c + w)
                target[:, y0 - a : y1 - a, x0 - c : x1 - c] += p[
                    :, y0 - sy : y1 - sy, x0 - sx : x1 - sx
                ]
        acc /= torch.outer(wsum_y, wsum_x)
        acc.masked_fill_(~valid, math.nan)
        out: np.ndarray = acc.cpu().numpy()
    return out


def _selection(
    model: ModelSpec | Ensemble, stack: xr.DataArray, func: str
) -> list[list[int] | None]:
    """Per member, the indices of its channels in *stack* (None: all, in order)."""
    members = model.members if isinstance(model, Ensemble) else (model,)
    names = [str(c) for c in stack["channel"].values] if "channel" in stack.coords else None
    out: list[list[int] | None] = []
    for m in members:
        if m.channels is None:
            out.append(None)
            continue
        if names is not None and all(c in names for c in m.channels):
            index = [names.index(c) for c in m.channels]
            out.append(None if index == list(range(stack.sizes["channel"])) else index)
        elif names is None and len(m.channels) == stack.sizes["channel"]:
            out.append(None)
        else:
            missing = [c for c in m.channels if names is None or c not in names]
            raise BandNotFoundError(
                f"{func}: the model {m.name!r} takes the channels {list(m.channels)}; the input "
                f"has {names if names is not None else stack.sizes['channel']} "
                f"(missing {missing}); build them (e.g. sarcube.models.ombria.prepare "
                "with channels=...)"
            )
    return out


def _channels(obj: xr.DataArray | xr.Dataset, channels: list[str] | None) -> xr.DataArray:
    if isinstance(obj, xr.Dataset):
        names = [str(v) for v in obj.data_vars] if channels is None else channels
        missing = [n for n in names if n not in obj.data_vars]
        if missing or not names:
            raise BandNotFoundError(
                f"predict: channels {missing or names} not in the Dataset; available: "
                f"{sorted(map(str, obj.data_vars))}"
            )
        stacked = xr.concat(
            [obj[n].astype(np.float32) for n in names], dim="channel", coords="minimal"
        )
        return stacked.assign_coords(channel=names)
    extra = [d for d in obj.dims if d not in SPATIAL_DIMS]
    if not extra:
        return obj.astype(np.float32).expand_dims("channel")
    if len(extra) > 1:
        raise DimensionError(
            f"predict: the input has dims {obj.dims}; give one channel dim besides y and x "
            "(select a date, or build the stack with sarcube.infer.stack_channels)"
        )
    return obj.astype(np.float32).rename({extra[0]: "channel"})


def predict(
    obj: xr.DataArray | xr.Dataset,
    model: ModelSpec | Ensemble,
    *,
    n_classes: int,
    window: int = 256,
    stride: int = 192,
    batch_size: int = 16,
    tta: Literal["none", "flip4"] = "none",
    blend: Literal["ramp", "uniform"] = "ramp",
    device: str = "auto",
    dtype: Literal["float32", "float16", "bfloat16"] = "float32",
    channels: list[str] | None = None,
    threads: int | None = 1,
    optimize: bool = True,
) -> xr.DataArray:
    """Class probabilities of a model over a whole (lazy) image, identical for any chunking.

    Parameters
    ----------
    obj
        Model input on ``(channel, y, x)`` (one extra dim is the channel dim),
        a ``(y, x)`` band (one channel), or a Dataset whose variables are the
        channels (in order, or as listed in *channels*). Already normalised as
        the model expects. NaN pixels get NaN probabilities (the model sees 0).
    model
        A :class:`ModelSpec`, or an :class:`Ensemble` whose members'
        probabilities are averaged window by window; each model is loaded
        once per process. A model whose spec names its ``channels`` takes
        them by name from the input's ``channel`` coordinate.
    n_classes
        Number of output channels of the model.
    window, stride
        Window size and step of the global grid (stride <= window).
    batch_size
        Windows per forward pass.
    tta
        ``"flip4"`` averages the probabilities of the identity, horizontal,
        vertical and both flips (each un-flipped).
    blend
        ``"ramp"``: windows weigh linearly less towards their borders over
        the overlap; ``"uniform"``: plain mean.
    device
        ``"auto"``: the CUDA device of the process that runs each task, else
        the CPU — resolved on the Dask worker, not where the graph is built;
        under dask-cuda (``LocalCUDACluster``, one ``CUDA_VISIBLE_DEVICES``
        per worker) that is each worker's own GPU. Or a torch device name
        (``"cpu"``, ``"cuda:1"``…), used as given on every worker. The
        windows are blended on that device; each chunk crosses to it and back
        once.
    dtype
        Compute precision of the model (weights and inputs). ``"bfloat16"``
        roughly halves CPU time again on processors with bf16 instructions, at
        the cost of probabilities that differ by up to about 1e-2.
    threads
        torch threads per task (1 suits one task per core under Dask); None
        leaves torch's setting.
    optimize
        Fold batch norms into the preceding convolutions and run in the
        channels-last layout (the model is prepared once per process). The
        probabilities agree with the plain model to float rounding (about 1e-7);
        ``False`` runs the model exactly as given.

    Returns
    -------
    xarray.DataArray
        float32 probabilities, dims ``(class, y, x)``, lazy on dask input, with
        the input's y/x coords and CRS.

    Examples
    --------
    A stand-in "model" (the identity, with a softmax) over a two-channel input;
    the chunked and the in-memory runs agree exactly:

    >>> from sarcube.infer import ModelSpec, predict
    >>> spec = ModelSpec(factory="torch.nn:Identity", activation="softmax", name="identity")
    >>> x = xr.DataArray(np.random.default_rng(0).normal(size=(2, 64, 64)).astype("float32"),
    ...                  dims=("channel", "y", "x"))
    >>> probs = predict(x.chunk({"y": 32}), spec, n_classes=2, window=32, stride=24)
    >>> probs.dims, float(probs.sum("class").mean().round(6))
    (('class', 'y', 'x'), 1.0)
    >>> bool((probs == predict(x, spec, n_classes=2, window=32, stride=24)).all())
    True
    """
    func = "predict"
    require("torch", func)
    check_xarray(obj, func)
    check_spatial(obj, func)
    check_real(obj, func)
    if not isinstance(model, ModelSpec | Ensemble):
        raise ParameterError(
            f"{func}: model must be a sarcube.infer.ModelSpec or Ensemble, got "
            f"{type(model).__name__}"
        )
    for label, value in (
        ("window", window),
        ("stride", stride),
        ("batch_size", batch_size),
        ("n_classes", n_classes),
    ):
        check_int(value, label, func, minimum=1)
    if stride > window:
        raise ParameterError(f"{func}: stride ({stride}) must not exceed window ({window})")
    if tta not in _FLIPS:
        raise ParameterError(f"{func}: tta must be 'none' or 'flip4', got {tta!r}")
    if blend not in ("ramp", "uniform"):
        raise ParameterError(f"{func}: blend must be 'ramp' or 'uniform', got {blend!r}")
    if dtype not in ("float32", "float16", "bfloat16"):
        raise ParameterError(f"{func}: dtype must be float32, float16 or bfloat16, got {dtype!r}")
    check_device(device, func)
    check_cuda(device, func)
    check_optional_int(threads, "threads", func, minimum=1, hint="None is torch's default")
    stack = _channels(obj, channels).transpose("channel", "y", "x")
    selection = _selection(model, stack, func)
    size = (stack.sizes["y"], stack.sizes["x"])
    if min(size) < window:
        raise DimensionError(
            f"{func}: the image ({size[0]}x{size[1]}) is smaller than the window ({window}); "
            "pass a smaller window"
        )
    members = model.members if isinstance(model, Ensemble) else (model,)
    probe_models(
        members,
        [stack.sizes["channel"] if sel is None else len(sel) for sel in selection],
        window,
        n_classes,
        func,
        optimize,
    )
    halo = window - 1
    options: dict[str, Any] = dict(
        spec=model,
        selection=selection,
        n_out=n_classes,
        window=window,
        stride=stride,
        halo=halo,
        size=size,
        batch_size=batch_size,
        tta=tta,
        blend=blend,
        device=device,
        compute_dtype=dtype,
        optimize=optimize,
    )
    data = stack.data
    if isinstance(data, dsa.Array):
        # chunks narrower than the halo are merged with a neighbour first
        data, ext = overlapped(data.rechunk({0: -1}), halo, "symmetric")
        origin = tuple(np.cumsum((0, *c))[:-1] for c in data.chunks[1:])
        result: Any = dsa.map_blocks(
            _predict_block,
            ext,
            **options,
            origin=origin,
            threads=threads,
            chunks=((n_classes,), *data.chunks[1:]),
            dtype=np.float32,
            meta=np.empty((0, 0, 0), dtype=np.float32),
        )
    else:
        padded = np.pad(
            np.asarray(data, dtype=np.float32),
            ((0, 0), (halo, halo), (halo, halo)),
            mode="symmetric",
        )
        result = _predict_block(padded, **options, origin=(np.zeros(1), np.zeros(1)), threads=None)
    coords = {k: v for k, v in stack.coords.items() if "channel" not in v.dims}
    return xr.DataArray(
        result,
        dims=("class", "y", "x"),
        coords={**coords, "class": np.arange(n_classes)},
        name="probability",
        attrs={
            "long_name": f"class probabilities of {model.name}",
            "units": "1",
            "window": window,
            "stride": stride,
            "tta": tta,
            "blend": blend,
        },
    )


def most_likely_class(probs: xr.DataArray, *, nodata: int = NODATA) -> xr.DataArray:
    """The most probable class per pixel, uint8, *nodata* where probabilities are NaN.

    Examples
    --------
    >>> from sarcube.infer import most_likely_class
    >>> probs = xr.DataArray([[[0.9, 0.2, np.nan]], [[0.1, 0.8, np.nan]]], dims=("class", "y", "x"))
    >>> most_likely_class(probs).values.tolist()
    [[0, 1, 255]]
    """
    check_dataarray(probs, "most_likely_class", "the probabilities predict returns")
    if "class" not in probs.dims:
        raise DimensionError(
            f"most_likely_class: expected a 'class' dim (from predict), got {probs.dims}"
        )
    check_real(probs, "most_likely_class")
    n_classes = probs.sizes["class"]
    nodata = check_int(nodata, "nodata", "most_likely_class")
    if not n_classes <= nodata <= 255:
        raise ParameterError(
            f"most_likely_class: nodata must fit uint8 and differ from the {n_classes} class "
            "numbers; "
            f"pass a value in {n_classes}..255, e.g. nodata=255, got {nodata}"
        )
    valid = probs.notnull().all("class")
    best = probs.fillna(-1).argmax("class")
    out = best.where(valid, nodata).astype(np.uint8)
    out.name = "class"
    out.attrs = {
        "long_name": "most probable class",
        "flag_values": np.array([*range(probs.sizes["class"]), nodata], dtype=np.uint8),
        "flag_meanings": " ".join(f"class_{i}" for i in range(probs.sizes["class"])) + " nodata",
    }
    return out


def classify(probs: xr.DataArray, *, nodata: int = NODATA) -> xr.DataArray:
    """Deprecated: the old name of :func:`most_likely_class` (same arguments, same result).

    It warns with a ``DeprecationWarning`` and will be removed in the next
    release; ``sarcube.classify`` is the module of k-means and superpixels.

    Examples
    --------
    >>> import warnings
    >>> from sarcube.infer import classify
    >>> probs = xr.DataArray([[[0.9, 0.2]], [[0.1, 0.8]]], dims=("class", "y", "x"))
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     classify(probs).values.tolist()
    [[0, 1]]
    >>> str(caught[0].message)
    'sarcube.infer.classify is renamed most_likely_class; the old name will be removed'
    """
    warn_renamed("sarcube.infer.classify", "most_likely_class")
    return most_likely_class(probs, nodata=nodata)
