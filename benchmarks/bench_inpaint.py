"""inpaint_nodata against scikit-image's inpaint_biharmonic, side by side in one run.

A 2048² float32 smooth scene with ``--holes`` random square holes of 1–8 pixels
(about 1 % of the pixels): sarcube in memory and on 512² dask chunks (the
synchronous scheduler, one core), scikit-image with ``split_into_regions=True``
(its fast mode) and with one global solve, and one memory pass (``np.copyto``)
over the same array. The outputs are compared before timing. Run:
``python benchmarks/bench_inpaint.py``; prints Markdown.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import dask
import numpy as np
import xarray as xr
from bench_speckle import best  # best of N after a warm-up call
from skimage.restoration import inpaint_biharmonic

import sarcube


def scene(size: int, holes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    image = (0.3 * np.sin(y / 37.0) * np.cos(x / 23.0) + 0.001 * y + 2).astype(np.float32)
    mask = np.zeros(image.shape, dtype=bool)
    for cy, cx, r in zip(
        rng.integers(0, size, holes),
        rng.integers(0, size, holes),
        rng.integers(1, 5, holes),
        strict=True,
    ):
        mask[max(cy - r, 0) : cy + r, max(cx - r, 0) : cx + r] = True
    return image, mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--holes", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    image, mask = scene(args.size, args.holes)
    holey = np.where(mask, np.nan, image)
    da = xr.DataArray(holey, dims=("y", "x"))
    lazy = da.chunk({"y": 512, "x": 512})
    ours = sarcube.inpaint_nodata(da, max_size=16).values
    with dask.config.set(scheduler="synchronous"):
        chunked = sarcube.inpaint_nodata(lazy, max_size=16).values
    assert np.array_equal(ours, chunked, equal_nan=True)
    reference = inpaint_biharmonic(np.where(mask, 0, image), mask, split_into_regions=True)
    filled = ~np.isnan(ours)
    deviation = float(np.abs(ours[filled & mask] - reference[filled & mask]).max())
    buffer = np.empty_like(holey)
    rows = [
        ("one memory pass (np.copyto)", best(lambda: np.copyto(buffer, holey), args.repeat)),
        (
            "sarcube, in memory",
            best(lambda: sarcube.inpaint_nodata(da, max_size=16).values, args.repeat),
        ),
        ("sarcube, 512² dask chunks, synchronous", 0.0),
        (
            "scikit-image, split_into_regions=True",
            best(
                lambda: inpaint_biharmonic(np.where(mask, 0, image), mask, split_into_regions=True),
                args.repeat,
            ),
        ),
    ]
    with dask.config.set(scheduler="synchronous"):
        rows[2] = (
            rows[2][0],
            best(lambda: sarcube.inpaint_nodata(lazy, max_size=16).values, args.repeat),
        )
    peer = rows[3][1]
    print(
        f"{args.size}² float32, {args.holes} holes ({mask.mean():.2%} of the pixels), "
        f"max_size=16; filled {int((filled & mask).sum())} of {int(mask.sum())} hole pixels; "
        f"max |sarcube − scikit-image| on them: {deviation:.1e}\n"
    )
    print("| method | ms | × scikit-image | × memory pass |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(
            f"| {name} | {seconds * 1e3:.1f} | {seconds / peer:.2f} | {seconds / rows[0][1]:.0f} |"
        )


if __name__ == "__main__":
    main()
