"""Batched tiled inference (sarcube.infer.predict) vs a patch-by-patch loop, on CPU.

The loop is the common hand-written one: cut 256-pixel patches without
overlap, run the model on one patch at a time under ``torch.no_grad()``, paste
the probabilities back. ``predict`` runs the same windows (stride = window,
uniform blend, so both give the same output) in batches, under
``torch.inference_mode()``, with batch norms folded into the convolutions and
the channels-last layout (``optimize=True``, the default), in memory and
through Dask with one torch thread per task; and once more in bfloat16.

    OMP_NUM_THREADS=2 python benchmarks/bench_inference.py [--size 1536] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time

import dask
import numpy as np
import torch
import xarray as xr

from sarcube.infer import ModelSpec, predict
from sarcube.models import UNet


def unet() -> torch.nn.Module:
    torch.manual_seed(0)
    return UNet(in_channels=2, n_classes=2, base=16, depth=4)


def naive(image: np.ndarray, model: torch.nn.Module, window: int) -> np.ndarray:
    _, h, w = image.shape
    out = np.zeros((2, h, w), dtype=np.float32)
    with torch.no_grad():
        for y in range(0, h, window):
            for x in range(0, w, window):
                patch = torch.from_numpy(image[:, y : y + window, x : x + window].copy())
                probs = torch.softmax(model(patch[None]), dim=1)[0].numpy()
                out[:, y : y + window, x : x + window] = probs
    return out


def best_of(repeat: int, func: object) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1536)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-bf16", action="store_true", help="skip the bfloat16 run")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, args.size, args.size)).astype(np.float32)
    da = xr.DataArray(image, dims=("band", "y", "x"))
    model = unet().eval()
    spec = ModelSpec(factory=unet, name="unet")
    w = args.window
    options = dict(n_classes=2, window=w, stride=w, blend="uniform", batch_size=args.batch)

    t_naive, ref = best_of(args.repeat, lambda: naive(image, model, w))
    t_eager, eager = best_of(
        args.repeat,
        lambda: predict(da, spec, **options, threads=None).values,  # type: ignore[arg-type]
    )
    chunked = da.chunk({"band": -1, "y": args.size // 2, "x": args.size // 2})
    with dask.config.set(scheduler="threads", num_workers=2):
        t_dask, lazy = best_of(
            args.repeat,
            lambda: predict(chunked, spec, **options).values,  # type: ignore[arg-type]
        )
    t_plain, plain = best_of(
        args.repeat,
        lambda: predict(da, spec, **options, threads=None, optimize=False).values,  # type: ignore[arg-type]
    )
    diff = max(
        float(np.abs(eager - ref).max()),  # type: ignore[operator]
        float(np.abs(lazy - ref).max()),  # type: ignore[operator]
        float(np.abs(plain - ref).max()),  # type: ignore[operator]
    )
    bf16_line = ""
    if not args.no_bf16:
        with dask.config.set(scheduler="threads", num_workers=2):
            t_bf16, low = best_of(
                args.repeat,
                lambda: predict(chunked, spec, **options, dtype="bfloat16").values,  # type: ignore[arg-type]
            )
        agree = float((low.argmax(0) == ref.argmax(0)).mean())  # type: ignore[union-attr,attr-defined]
        bf16_line = (
            f"predict bfloat16, dask threads ×2       {t_bf16:7.2f} s   {t_naive / t_bf16:5.2f}×"
            f"   (max |Δp| {float(np.abs(low - ref).max()):.1e}, "  # type: ignore[operator]
            f"class map agreement {agree:.4%})"
        )
    print(
        f"image 2×{args.size}², {w}-px windows, UNet(base=16, depth=4), torch {torch.__version__}"
    )
    print(f"patch loop (batch 1, no_grad)           {t_naive:7.2f} s")
    print(f"predict optimize=False, in memory       {t_plain:7.2f} s   {t_naive / t_plain:5.2f}×")
    label = f"predict in memory (batch {args.batch})"
    print(f"{label:<40}{t_eager:7.2f} s   {t_naive / t_eager:5.2f}×")
    label = f"predict, dask threads ×2 (batch {args.batch})"
    print(f"{label:<40}{t_dask:7.2f} s   {t_naive / t_dask:5.2f}×")
    if bf16_line:
        print(bf16_line)
    print(f"float32 runs: max |difference| to the loop {diff:.2e}")


if __name__ == "__main__":
    main()
