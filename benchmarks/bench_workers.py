"""The flood chain on worker processes: cold and warm LocalCluster against one core.

One region of ``synthetic.lazy_cube`` (3072 × 4096 of a 100 000² cube, 1024²
chunks): Lee 7×7 on three dates and two bands, ``flood_map`` with regional
thresholds, both products written to Zarr with :func:`sarcube.to_zarr`. Each
row is a fresh process; "cold" is the first write of a new cluster (its
workers import the libraries and load the numba kernels), "warm" a second
write on the same cluster. The products are built (lazily) before the clock
starts. ``--by-value`` ships the kernels as pickled numba
dispatchers, as dask does by default, instead of by import path: each worker
then compiles every kernel again on first use.

    python benchmarks/bench_workers.py [--by-value]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask

import sarcube


def products(ny: int = 3072, nx: int = 4096) -> object:
    cube = sarcube.synthetic.lazy_cube((100_000, 100_000), chunks=1024)
    region = cube.isel(y=slice(40_960, 40_960 + ny), x=slice(61_440, 61_440 + nx))
    lee = sarcube.lee_filter(region, size=7, enl=4.4)
    pre, post = lee.isel(time=slice(0, -1)), lee.isel(time=-1)
    flood = sarcube.flood_map(pre, post, thresholds="regional")
    return flood.to_dataset(name="flood").assign(vv_lee=post["vv"])


def warm_up() -> None:
    """Compile or load the kernels in this process (a small region)."""
    dask.compute(products(1024, 1024)["flood"].data)  # type: ignore[index]


def write(folder: Path) -> float:
    """Seconds to write the products (built lazily beforehand, not timed)."""
    store = folder / "out.zarr"
    shutil.rmtree(store, ignore_errors=True)
    lazy = products()
    start = time.perf_counter()
    sarcube.to_zarr(lazy, store, mode="w")  # type: ignore[arg-type]
    return time.perf_counter() - start


def row(mode: str, by_value: bool) -> None:
    if by_value:
        from sarcube import _overlap

        _overlap.KernelByName.wrap = staticmethod(lambda func: func)  # type: ignore[method-assign]
    pixels = 3072 * 4096
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if mode == "synchronous":
            with dask.config.set(scheduler="synchronous"):
                warm_up()
                seconds = write(folder)
            print(f"| synchronous, 1 core | {seconds:.1f} | {pixels / seconds / 1e6:.2f} | – |")
            return
        from dask.distributed import Client, LocalCluster

        workers = int(mode)
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster),
        ):
            cold = write(folder)
            warm = write(folder)
        label = "kernels pickled by value" if by_value else "kernels by import path"
        for name, seconds in (("cold", cold), ("warm", warm)):
            rate = pixels / seconds / 1e6
            print(
                f"| LocalCluster, {workers} worker processes, {name} ({label}) | "
                f"{seconds:.1f} | {rate:.2f} | {rate / workers:.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--by-value", action="store_true", help="also the rows by value")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--value", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        row(args.row, args.value)
        return
    print("| run | seconds | Mpx/s | Mpx/s per core |")
    print("|---|---:|---:|---:|")
    runs = [("synchronous", False), ("2", False)] + ([("2", True)] if args.by_value else [])
    for mode, by_value in runs:
        command = [sys.executable, __file__, "--row", mode] + (["--value"] if by_value else [])
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        print(result.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
