"""predict on one GPU: Mpixel/s in float32 and bfloat16, and agreement with the CPU on a crop.

The model is the UNet of ``bench_inference.py`` (2 channels, 2 classes, base 16,
depth 4, seeded, untrained) on a seeded random 2-channel image. The image is
predicted in memory on the device (one block: one copy to the device, one
back) in float32 and in bfloat16, after a warm-up run on a small image that
loads and prepares the model; timings are bracketed by
``torch.cuda.synchronize()``. The reference is the same ``predict`` on the CPU
in float32, computed only for one chunk-aligned crop of the image (the input
chunked so that the crop is one Dask chunk; the global window grid makes that
chunk identical to the same pixels of the whole image). float32 must agree
within ``--fp32-atol`` (TF32 is off unless ``--allow-tf32``: a float32 check
of TF32 convolutions would fail by design), bfloat16 by the share of pixels
with the same most probable class.

Without CUDA (or with ``--size small``) a 384² image with 128-pixel windows
runs on the CPU in seconds; the test suite runs that. The last output line is
``RESULT {json}``; the exit status is 0 when every check passed.

    bash benchmarks/gpu_check.sh                     # 8192² on CUDA if present, else small on CPU
    bash benchmarks/gpu_check.sh --size small --device cpu
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any, Literal

import dask
import numpy as np
import torch
import xarray as xr

from sarcube.infer import ModelSpec, most_likely_class, predict
from sarcube.models import UNet

# (size, window, stride, batch, crop) of the two presets
PRESETS = {"full": (8192, 256, 192, 16, 512), "small": (384, 128, 96, 4, 128)}


def unet() -> torch.nn.Module:
    torch.manual_seed(0)
    return UNet(in_channels=2, n_classes=2, base=16, depth=4)


def _set_tf32(allow: bool) -> None:
    """TF32 for float32 convolutions and matmuls on or off (torch's newer API if present)."""
    precision = "tf32" if allow else "ieee"
    try:
        torch.backends.cudnn.conv.fp32_precision = precision  # type: ignore[attr-defined]
        torch.backends.cuda.matmul.fp32_precision = precision
    except AttributeError:  # torch < 2.9
        torch.backends.cudnn.allow_tf32 = allow
        torch.backends.cuda.matmul.allow_tf32 = allow


def _timed(func: Callable[[], np.ndarray], sync: Callable[[], None]) -> tuple[float, np.ndarray]:
    sync()
    start = time.perf_counter()
    out = func()
    sync()
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        default=None,
        help="'full' (8192², the default on CUDA), 'small' (384², the default without CUDA) "
        "or a number of pixels (the full preset's window, stride, batch and crop)",
    )
    parser.add_argument(
        "--device", default="auto", help="'auto' (CUDA if present), 'cpu', 'cuda:N'"
    )
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--stride", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--crop", type=int, default=None, help="side of the CPU-checked crop")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs, best kept")
    parser.add_argument("--allow-tf32", action="store_true", help="TF32 convolutions for float32")
    parser.add_argument("--fp32-atol", type=float, default=None)
    parser.add_argument("--bf16-agreement", type=float, default=0.98)
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    device = ("cuda" if cuda else "cpu") if args.device == "auto" else args.device
    on_gpu = device.startswith("cuda")
    preset = args.size or ("full" if on_gpu else "small")
    if preset in PRESETS:
        size, window, stride, batch, crop = PRESETS[preset]
    else:
        size, (_, window, stride, batch, crop) = int(preset), PRESETS["full"]
    window, stride = args.window or window, args.stride or stride
    batch, crop = args.batch or batch, min(args.crop or crop, size)
    repeat = args.repeat or (2 if on_gpu else 1)
    atol = args.fp32_atol or (2e-2 if args.allow_tf32 and on_gpu else 1e-4)
    if on_gpu and not cuda:
        parser.error(f"--device {device}: torch sees no CUDA device here; pass --device cpu")
    if crop < window:
        parser.error(f"--crop ({crop}) must be at least the window ({window})")
    if on_gpu:
        _set_tf32(args.allow_tf32)
        name = torch.cuda.get_device_name(torch.device(device))

        def sync() -> None:
            torch.cuda.synchronize(device)
    else:
        name = "CPU"

        def sync() -> None:
            pass

    rng = np.random.default_rng(0)
    image = xr.DataArray(
        rng.standard_normal((2, size, size), dtype=np.float32), dims=("band", "y", "x")
    )
    spec = ModelSpec(factory=unet, name="unet")
    options: dict[str, Any] = dict(n_classes=2, window=window, stride=stride, batch_size=batch)
    warm = image[:, : min(size, 2 * window + stride), : min(size, 2 * window + stride)]
    print(
        f"predict on {device} ({name}), torch {torch.__version__}: 2×{size}² input, "
        f"{window}-px windows, stride {stride}, batch {batch}, UNet(base=16, depth=4)"
        + (f", TF32 {'on' if args.allow_tf32 else 'off'}" if on_gpu else ""),
        flush=True,
    )

    # the CPU reference for one chunk-aligned crop in the middle of the image
    y0 = x0 = (size // crop // 2) * crop
    chunked = image.chunk({"band": -1, "y": crop, "x": crop})
    with dask.config.set(scheduler="synchronous"):
        t_ref, ref = _timed(
            lambda: (
                predict(chunked, spec, **options, device="cpu", threads=None)[
                    :, y0 : y0 + crop, x0 : x0 + crop
                ].values
            ),
            lambda: None,
        )
    ref_labels = most_likely_class(xr.DataArray(ref, dims=("class", "y", "x"))).values
    print(f"CPU float32 reference, crop {crop}² at ({y0}, {x0})      {t_ref:8.2f} s", flush=True)

    result: dict[str, Any] = dict(
        device=device,
        device_name=name,
        torch=torch.__version__,
        size=size,
        window=window,
        stride=stride,
        batch=batch,
        crop=crop,
        tf32=bool(args.allow_tf32 and on_gpu),
    )
    ok = True
    runs: tuple[tuple[Literal["float32", "bfloat16"], str], ...] = (
        ("float32", "fp32"),
        ("bfloat16", "bf16"),
    )
    for dtype, label in runs:
        # load and prepare the model on the device (and let cuDNN pick its kernels)
        predict(warm, spec, **options, device=device, dtype=dtype, threads=None).compute()
        if on_gpu:
            torch.cuda.reset_peak_memory_stats(device)
        best, out = np.inf, np.empty(0)
        for _ in range(repeat):
            seconds, out = _timed(
                lambda dtype=dtype: (
                    predict(  # type: ignore[misc]
                        image, spec, **options, device=device, dtype=dtype, threads=None
                    ).values
                ),
                sync,
            )
            best = min(best, seconds)
        part = out[:, y0 : y0 + crop, x0 : x0 + crop]
        diff = float(np.abs(part - ref).max())
        labels = most_likely_class(xr.DataArray(part, dims=("class", "y", "x"))).values
        agreement = float((labels == ref_labels).mean())
        passed = diff <= atol if dtype == "float32" else agreement >= args.bf16_agreement
        ok &= passed
        mpix = size * size / best / 1e6
        memory = torch.cuda.max_memory_allocated(device) / 2**30 if on_gpu else None
        result |= {
            f"{label}_seconds": best,
            f"{label}_mpixel_per_s": mpix,
            f"{label}_max_abs_diff": diff,
            f"{label}_class_agreement": agreement,
            f"{label}_peak_gib": memory,
            f"{label}_ok": passed,
        }
        rule = f"|Δp| ≤ {atol:g}" if dtype == "float32" else f"agreement ≥ {args.bf16_agreement:g}"
        print(
            f"{dtype:<8} {best:8.2f} s  {mpix:9.2f} Mpixel/s"
            + (f"  peak {memory:6.2f} GiB" if on_gpu else "")
            + f"  vs CPU: max |Δp| {diff:.1e}, classes {agreement:.4%}"
            + f"  ({rule}: {'ok' if passed else 'FAILED'})",
            flush=True,
        )
    result["ok"] = bool(ok)
    print("RESULT " + json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
