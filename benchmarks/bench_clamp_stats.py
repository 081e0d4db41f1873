"""clamp_stats (3 clamps x 2 bands, one pass) against one ``nanmean`` pass per band.

Both run side by side in one process on the same seeded data: a dual-pol cube
of gamma-speckled linear power with NaN holes, held in memory and wrapped in
dask chunks so only the computation is timed (no file I/O). The synchronous
scheduler keeps it to one core. For each size and chunking the script reports
graph-build time, compute time (best of ``--repeat``), the ratio
clamp_stats / nanmean, and the peak traced memory of the compute.

Run: ``python benchmarks/bench_clamp_stats.py`` (or ``nox -s bench``); the
output is a Markdown table for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr

import sarcube

CLAMPS = (0.15, 0.3, 0.5)


def make_cube(size: int, n_time: int, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    shape = (n_time, size, size)
    vv = rng.gamma(4.4, 0.08 / 4.4, size=shape).astype(np.float32)
    vh = (vv * rng.gamma(4.4, 0.2 / 4.4, size=shape)).astype(np.float32)
    for arr in (vv, vh):
        arr[:, : size // 10, : size // 10] = np.nan
    return xr.Dataset({"vv": (("time", "y", "x"), vv), "vh": (("time", "y", "x"), vh)})


def timed(func: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    """Best and median wall time over *repeat* runs, and the peak traced memory of one run."""
    func()  # warm-up: numba compilation, dask imports
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return min(times), statistics.median(times), peak


def run_case(size: int, chunk: int | None, n_time: int, repeat: int) -> dict[str, Any]:
    cube = make_cube(size, n_time)
    if chunk is not None:
        cube = cube.chunk({"time": 1, "y": chunk, "x": chunk})

    start = time.perf_counter()
    lazy = sarcube.clamp_stats(cube, CLAMPS, dims=("time", "y", "x"))
    build_s = time.perf_counter() - start
    n_tasks = len(dict(lazy.__dask_graph__())) if chunk is not None else 0

    def clamp_stats() -> Any:
        return (
            lazy.compute()
            if chunk is not None
            else sarcube.clamp_stats(cube, CLAMPS, dims=("time", "y", "x"))
        )

    if chunk is not None:
        means = [dsa.nanmean(cube[b].data) for b in ("vv", "vh")]

        def nanmean() -> Any:
            return dask.compute(*means)
    else:

        def nanmean() -> Any:
            return [np.nanmean(cube[b].values) for b in ("vv", "vh")]

    with dask.config.set(scheduler="synchronous"):
        cs_best, cs_median, cs_peak = timed(clamp_stats, repeat)
        nm_best, nm_median, nm_peak = timed(nanmean, repeat)
    return {
        "size": size,
        "n_time": n_time,
        "chunk": chunk,
        "build_ms": build_s * 1e3,
        "tasks": n_tasks,
        "clamp_stats_ms": cs_best * 1e3,
        "clamp_stats_median_ms": cs_median * 1e3,
        "nanmean_ms": nm_best * 1e3,
        "nanmean_median_ms": nm_median * 1e3,
        "ratio": cs_best / nm_best,
        "peak_mib": cs_peak / 2**20,
        "nanmean_peak_mib": nm_peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument(
        "--chunks",
        type=int,
        nargs="+",
        default=[0, 512, 1024],
        help="chunk sizes; 0 = plain numpy, no dask",
    )
    parser.add_argument("--time", type=int, default=3, help="time steps per band")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    print(
        f"# clamp_stats vs nanmean — {platform.processor() or platform.machine()}, "
        f"numpy {np.__version__}, dask {dask.__version__}, synchronous scheduler\n"
    )
    print(
        "| size | time | chunks | graph build ms | tasks | clamp_stats ms (best/median) "
        "| 2x nanmean ms (best/median) | ratio | peak MiB clamp_stats / nanmean |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for chunk in args.chunks:
            r = run_case(size, chunk or None, args.time, args.repeat)
            build = f"{r['build_ms']:.1f}" if chunk else "n/a (eager)"
            print(
                f"| {size}² | {r['n_time']} | {chunk or 'numpy'} "
                f"| {build} "
                f"| {r['tasks']} "
                f"| {r['clamp_stats_ms']:.1f} / {r['clamp_stats_median_ms']:.1f} "
                f"| {r['nanmean_ms']:.1f} / {r['nanmean_median_ms']:.1f} | **{r['ratio']:.2f}×** "
                f"| {r['peak_mib']:.1f} / {r['nanmean_peak_mib']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
