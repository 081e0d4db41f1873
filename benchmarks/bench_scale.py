"""The whole chain at two sizes and with 1 or 2 workers: peak memory and throughput.

The chain is what ``sarcube run`` executes: a lazily generated dual-pol cube
(``sarcube.synthetic.lazy_cube``, 3 dates, no files) → Lee filter 7×7 →
``flood_map`` (Otsu) → the shipped model (window 256, stride 192) → Zarr,
on a ``LocalCluster`` of single-threaded worker processes. Each run is a fresh
process; a sampler thread sums the resident memory of the whole process tree
(client, nannies, workers) every 50 ms during the measured write. The
cluster first runs the chain on a small cube, so numba compilation and the
model load are not timed.

    python benchmarks/bench_scale.py --sizes 2048 4096 --workers 1 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _tree_rss(proc: object) -> int:
    import psutil

    assert isinstance(proc, psutil.Process)
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def _plan(size: int, chunk: int, store: Path) -> object:
    from sarcube.pipeline import Pipeline

    return Pipeline.from_mapping(
        {
            "source": {
                "synthetic": {"shape": [size, size], "seed": 0},
                "chunks": {"y": chunk, "x": chunk},
            },
            "despeckle": {"filter": "lee", "size": 7},
            "flood_map": {"band": "vv", "method": "otsu"},
            "predict": {"model": "ombria-s1-bitemporal", "batch_size": 4},
            "output": {"zarr": str(store), "resume": False},
        }
    )


def one(size: int, workers: int, chunk: int) -> dict[str, float]:
    """One measured run in a cluster already warmed up (numba compiled, model loaded)."""
    import psutil

    from sarcube.io.zarr import to_zarr
    from sarcube.pipeline import scheduler

    out = Path(tempfile.mkdtemp(prefix="sarcube-scale-"))
    me = psutil.Process()
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(me))
            time.sleep(0.05)

    with scheduler(f"local:{workers}"):
        warm = _plan(2 * chunk, chunk, out / "warm.zarr")
        to_zarr(warm.build(), out / "warm.zarr", progress=False)  # type: ignore[attr-defined]
        plan = _plan(size, chunk, out / "flood.zarr")
        products = plan.build()  # type: ignore[attr-defined]
        tasks = sum(len(v.data.__dask_graph__()) for v in products.data_vars.values())
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        to_zarr(products, out / "flood.zarr", progress=False)
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
    stored = sum(f.stat().st_size for f in (out / "flood.zarr").rglob("*") if f.is_file())
    return {
        "store_bytes_per_px": stored / size / size,
        "size": size,
        "workers": workers,
        "seconds": seconds,
        "mpix_per_s": size * size / seconds / 1e6,
        "peak_rss_mb": peak[0] / 2**20,
        "tasks": tasks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk", type=int, default=512)
    parser.add_argument("--one", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], args.chunk)))
        return
    rows = []
    for size in args.sizes:
        for workers in args.workers:
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    str(size),
                    str(workers),
                    "--chunk",
                    str(args.chunk),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(
                f"{r['size']:>6}² {r['workers']} worker(s): {r['seconds']:7.1f} s "
                f"{r['mpix_per_s']:6.3f} Mpx/s  peak RSS (tree) {r['peak_rss_mb']:7.0f} MB  "
                f"{r['tasks']} tasks, Zarr {r['store_bytes_per_px']:.2f} B/px",
                flush=True,
            )
    by = {(r["size"], r["workers"]): r for r in rows}
    sizes, workers = sorted(args.sizes), sorted(args.workers)
    if len(sizes) > 1:
        for w in workers:
            small, large = by[(sizes[0], w)], by[(sizes[-1], w)]
            area = (sizes[-1] / sizes[0]) ** 2
            print(
                f"{w} worker(s): {area:.0f}× the area → peak memory ×"
                f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}"
            )
    if len(workers) > 1:
        for s in sizes:
            one_w, many = by[(s, workers[0])], by[(s, workers[-1])]
            print(
                f"{s}²: {workers[-1]} workers vs {workers[0]}: throughput ×"
                f"{many['mpix_per_s'] / one_w['mpix_per_s']:.2f}"
            )


if __name__ == "__main__":
    main()
