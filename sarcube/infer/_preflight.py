"""What predict settles before it builds a graph, and the device each task runs on.

A device name torch cannot parse, a CUDA device this process lacks, and a
model that cannot take the window, the channels or the class count are refused
here, before any task runs (:func:`probe_models` runs each model once on a
zero window, on the CPU). :func:`resolve_device` is called inside the task,
in the process that runs it.
"""

from __future__ import annotations

from typing import Any

from ..errors import ParameterError, SarcubeError
from ._models import ModelSpec, load_model


def resolve_device(device: str) -> str:
    """The torch device a task runs on, resolved in the process that runs it.

    ``"auto"`` is the CUDA device the process is given: under dask-cuda each
    worker sees only its own GPU (``CUDA_VISIBLE_DEVICES``), which is then
    ``cuda:0`` there; without CUDA it is the CPU. Other names pass unchanged.
    """
    import torch

    if device != "auto":
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ParameterError(
                f"predict: device={device!r} but this worker has no CUDA device "
                "(torch.cuda.is_available() is False); pass device='auto' or 'cpu'"
            )
        return device
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()}"
    return "cpu"


def check_device(device: object, func: str) -> None:
    """Refuse a device name torch cannot parse (its availability is the worker's business)."""
    import torch

    if device == "auto":
        return
    if isinstance(device, str):
        try:
            torch.device(device)
            return
        except (RuntimeError, ValueError):
            pass
    raise ParameterError(
        f"{func}: device must be 'auto' or a torch device name such as 'cpu', 'cuda' or "
        f"'cuda:0', got {device!r}"
    )


#: (model key, channels, window, classes) already checked in this process.
_PROBED: set[tuple[Any, ...]] = set()


def probe_models(
    members: tuple[ModelSpec, ...],
    n_channels: list[int],
    window: int,
    n_classes: int,
    func: str,
    optimize: bool,
) -> None:
    """Run each member once on a zero window, on the CPU, before any graph is built.

    Catches what would otherwise fail inside every task after compute starts:
    weights that do not fit the builder, a window the network cannot take
    (a U-Net needs a multiple of 2**depth), the wrong number of input
    channels, and a class count that differs from *n_classes*. Once per
    model, channels, window and class count in a process.
    """
    import torch

    for spec, channels in zip(members, n_channels, strict=True):
        key = (spec.key(), channels, window, n_classes)
        if key in _PROBED:
            continue
        try:
            # the variant a CPU run loads, so a local run reuses it from the cache
            model = load_model(spec, "cpu", optimize=optimize)
        except SarcubeError:
            raise
        except Exception as err:
            raise ParameterError(
                f"{func}: the model {spec.name!r} cannot be built: {_first_line(err)}; check "
                "the builder and builder_kwargs against the weights file"
            ) from err
        probe = torch.zeros((1, channels, window, window))
        try:
            with torch.inference_mode():
                out = model(probe)
        except Exception as err:
            raise ParameterError(
                f"{func}: the model {spec.name!r} fails on a {window}x{window} window of "
                f"{channels} channels ({_first_line(err)}); pass a window it accepts (a U-Net "
                "needs a multiple of 2**depth, e.g. window=256) and the channels it was "
                "trained on"
            ) from err
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
        if shape is None or len(shape) != 4:
            raise ParameterError(
                f"{func}: the model {spec.name!r} returns {shape or type(out).__name__} for a "
                "(1, channels, window, window) input; predict needs (1, classes, window, window)"
            )
        if shape[1] != n_classes:
            raise ParameterError(
                f"{func}: the model {spec.name!r} gives {shape[1]} classes; pass "
                f"n_classes={shape[1]}"
            )
        if shape[2:] != (window, window):
            raise ParameterError(
                f"{func}: the model {spec.name!r} turns a {window}x{window} window into "
                f"{shape[2]}x{shape[3]}; pass a window it keeps (e.g. a multiple of 32)"
            )
        _PROBED.add(key)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def check_cuda(device: str, func: str) -> None:
    """Refuse a CUDA device this process lacks when this process will run the tasks."""
    import torch

    if not device.startswith("cuda") or torch.cuda.is_available():
        return
    try:
        from distributed import get_client

        get_client()
        return  # the workers of a cluster may have the GPU the client lacks
    except (ImportError, ValueError):
        pass
    raise ParameterError(
        f"{func}: device={device!r} but this process has no CUDA device "
        "(torch.cuda.is_available() is False); pass device='auto' (a GPU when there is "
        "one) or device='cpu'"
    )


def blend_on_host(device: Any) -> bool:
    """Whether windows are cut and summed through numpy views of the device's tensors.

    True on the CPU: the same memory, and numpy's single-threaded slice copies
    are as fast there as torch's, without torch's intra-op threads waiting for
    busy cores on each of these small operations (measured: 250 ms instead of
    8 ms for 16 windows when another process holds one of two cores). Elsewhere
    the tensors stay on the device.
    """
    return bool(device.type == "cpu")
