"""Every speckle filter against classic Lee, one memory pass and the best peer, one core.

On a 2048² float32 VV band (``make_scene((2048, 2048), seed=0, nodata_edge=False)``,
last date), numpy input, one numba/OpenMP thread, best of ``--repeat`` timed round-robin:
each filter's time, its ratio to classic Lee with the same window, and its
ratio to one memory pass (``np.copyto`` of the same array). The median is also
timed against ``scipy.ndimage.median_filter`` (same mirrored edge), after
checking that both give the same image; ``estimate_enl`` against a Lee pass.
Then ``flood_map`` on a 2048² pair, in memory and on dask (one core), against
the same Lee pass.

    python benchmarks/bench_speckle.py
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import dask  # after the thread settings above
import numpy as np
import xarray as xr
from scipy import ndimage

import sarcube


def best(func: Callable[[], Any], repeat: int) -> float:
    func()  # warm-up: numba compilation, caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved(funcs: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Best of *repeat* for each function, timed in rounds of one call each.

    Round-robin timing keeps the ratios side by side: a slow spell of the
    machine hits every function of a round alike.
    """
    for func in funcs:
        func()  # warm-up: numba compilation, caches
    times = [float("inf")] * len(funcs)
    for _ in range(repeat):
        for i, func in enumerate(funcs):
            start = time.perf_counter()
            func()
            times[i] = min(times[i], time.perf_counter() - start)
    return times


def filters_section(size: int, window: int, repeat: int) -> None:
    scene = sarcube.synthetic.make_scene((size, size), seed=0, nodata_edge=False)
    img = scene.cube["vv"].values[-1]
    da = xr.DataArray(img, dims=("y", "x"))
    dst = np.empty_like(img)
    copy = best(lambda: np.copyto(dst, img), repeat * 5)
    w = f"{window}×{window}"
    named: list[tuple[str, Callable[[], Any]]] = [
        (f"classic Lee {w}", lambda: sarcube.lee_filter(da, size=window, enl=4.4)),
        (
            f"enhanced Lee {w}",
            lambda: sarcube.lee_filter(da, size=window, enl=4.4, variant="enhanced"),
        ),
        (f"Gamma-MAP {w}", lambda: sarcube.gamma_map_filter(da, size=window, enl=4.4)),
        (f"Frost {w}", lambda: sarcube.frost_filter(da, size=window)),
        ("refined Lee 7×7", lambda: sarcube.refined_lee(da, enl=4.4)),
        (f"boxcar {w}", lambda: sarcube.boxcar_filter(da, size=window)),
        (f"median {w}", lambda: sarcube.median_filter(da, size=window)),
        (f"estimate_enl {w}", lambda: sarcube.estimate_enl(da, size=window)),
    ]
    times = interleaved([func for _, func in named], repeat)
    rows = [(name, t) for (name, _), t in zip(named, times, strict=True)]
    lee = rows[0][1]
    ours = sarcube.median_filter(da, size=window).values
    theirs = ndimage.median_filter(img, size=window, mode="reflect")
    same = np.array_equal(ours, theirs)
    scipy_median = best(lambda: ndimage.median_filter(img, size=window, mode="reflect"), 1)
    print(f"\n### Speckle filters, {size}² float32, one core, best of {repeat} (interleaved)\n")
    print(f"One memory pass (`np.copyto`): {copy * 1e3:.2f} ms.\n")
    print("| filter | ms | × classic Lee | × one memory pass |")
    print("|---|---:|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t * 1e3:.1f} | {t / lee:.2f} | {t / copy:.0f} |")
    print(
        f"\nMedian {window}×{window}: sarcube {rows[6][1] * 1e3:.0f} ms, "
        f"`scipy.ndimage.median_filter` {scipy_median * 1e3:.0f} ms: "
        f"**{scipy_median / rows[6][1]:.1f}× faster**; outputs identical: {same}."
    )


def flood_section(size: int, repeat: int) -> None:
    scene = sarcube.synthetic.make_scene((size, size), seed=0)
    cube = scene.cube.compute()
    pre, post = cube.isel(time=slice(0, -1)), cube.isel(time=-1)
    chunks = {"y": 1024, "x": 1024}
    lazy_pre, lazy_post = pre.chunk(chunks), post.chunk(chunks)
    with dask.config.set(scheduler="synchronous"):
        surface = sarcube.flood_thresholds(lazy_pre, lazy_post).compute()
        lee, numpy_time, dask_time, regional_time, streamed = interleaved(
            [
                lambda: sarcube.lee_filter(post["vv"], size=7, enl=4.4),
                lambda: sarcube.flood_map(pre, post).values,
                lambda: sarcube.flood_map(lazy_pre, lazy_post).compute(),
                lambda: sarcube.flood_map(lazy_pre, lazy_post, thresholds="regional").compute(),
                lambda: sarcube.flood_map(lazy_pre, lazy_post, thresholds=surface).compute(),
            ],
            repeat,
        )
    mpx = size * size / 1e6
    print(f"\n### flood_map on a {size}² pair, one core, best of {repeat} (interleaved)\n")
    print("| run | seconds | Mpx/s | × one classic-Lee pass |")
    print("|---|---:|---:|---:|")
    for name, t in (
        ("numpy, global Otsu", numpy_time),
        ("dask 1024² chunks, global Otsu", dask_time),
        ("dask, regional (one graph)", regional_time),
        ("dask, with a computed regional surface (streamed map)", streamed),
    ):
        print(f"| {name} | {t:.2f} | {mpx / t:.2f} | {t / lee:.0f} |")
    print(f"\nClassic Lee 7×7 on the post image: {lee * 1e3:.1f} ms.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--window", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--section", choices=("all", "filters", "flood"), default="all")
    args = parser.parse_args()
    if args.section in ("all", "filters"):
        filters_section(args.size, args.window, args.repeat)
    if args.section in ("all", "flood"):
        flood_section(args.size, max(1, args.repeat // 2))


if __name__ == "__main__":
    main()
