"""The ``sarcube run`` chain: each stage alone, the chain, its graph, and its memory.

1. **Stages and chain, one core** (``--stages``): a lazily generated dual-pol cube
   (``sarcube.synthetic.lazy_cube``, 3 dates) → Lee 7×7 → ``flood_map`` → the
   shipped model (window 256, stride 192, no flips) → Zarr. Each stage is timed
   alone on its input held in memory (dask chunks of the chain's size, the
   synchronous scheduler, one numba and one torch thread), then the whole chain
   end to end; the chain's time is compared with the sum of the stages. Tasks per
   output chunk are counted on the chain's graph.
2. **Peak memory** (``--memory``): lazy_cube → Lee 7×7 → ``flood_map`` with
   regional thresholds → Zarr, as ``sarcube run`` does it (the threshold surface
   first, then the map streamed), at several sizes, each in a fresh process; a
   sampler thread sums the resident memory of the process tree every 20 ms.
   Synchronous, and on a ``LocalCluster`` of 2 single-threaded workers.

    python benchmarks/bench_chain.py --stages --size 4096
    python benchmarks/bench_chain.py --stages --size 4096 --dtype bfloat16
    python benchmarks/bench_chain.py --memory --sizes 2048 4096 8192
    python benchmarks/bench_chain.py --memory --sizes 2048 4096 8192 --tiles 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

CHUNK = 1024


def _config(
    size: int,
    store: Path,
    *,
    model: bool,
    thresholds: str,
    tiles: int | None = None,
    chunk: int = CHUNK,
    dtype: str = "float32",
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "source": {
            "synthetic": {"shape": [size, size], "seed": 0},
            "chunks": {"y": chunk, "x": chunk},
        },
        "despeckle": {"filter": "lee", "size": 7, "enl": 4.4},
        "flood_map": {"band": "vv", "thresholds": thresholds},
        "output": {"zarr": str(store), "resume": False},
    }
    if thresholds == "regional":
        config["flood_map"]["region_size"] = 1024
    if tiles is not None:
        config["output"]["tiles"] = tiles
    if model:
        config["predict"] = {
            "model": "ombria-s1-bitemporal",
            "window": 256,
            "stride": 192,
            "tta": "none",
            "batch_size": 4,
            "threads": 1,
            "dtype": dtype,
        }
    return config


def _timed(func: Any, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def stages(size: int, repeat: int, chunk: int = CHUNK, dtype: str = "float32") -> None:
    import dask
    import torch
    import xarray as xr

    import sarcube
    from sarcube.infer import most_likely_class, predict
    from sarcube.models import pretrained
    from sarcube.models.ombria import prepare
    from sarcube.pipeline import Pipeline

    torch.set_num_threads(1)
    dask.config.set(scheduler="synchronous")
    tmp = Path(tempfile.mkdtemp(prefix="sarcube-chain-"))
    # warm up: numba compilation, model load
    warm = Pipeline.from_mapping(
        _config(512, tmp / "warm.zarr", model=True, thresholds="global", chunk=512, dtype=dtype)
    )
    warm.run(scheduler="synchronous", progress=False)

    def held(ds: xr.Dataset) -> xr.Dataset:
        return ds.compute().chunk({"y": chunk, "x": chunk})

    cube = sarcube.synthetic.lazy_cube((size, size), chunks=chunk)
    t_source = _timed(lambda: cube.compute(), repeat)
    raw = held(cube)
    t_lee = _timed(lambda: sarcube.lee_filter(raw, size=7, enl=4.4).compute(), repeat)
    lee = held(sarcube.lee_filter(raw, size=7, enl=4.4))
    pre, post = lee.isel(time=slice(0, -1)), lee.isel(time=-1)
    t_flood = _timed(lambda: sarcube.flood_map(pre, post, band="vv").compute(), repeat)
    spec = pretrained("ombria-s1-bitemporal")
    x = prepare(pre["vv"].isel(time=-1), post["vv"]).compute().chunk({"y": chunk, "x": chunk})

    def run_model() -> xr.Dataset:
        probs = predict(
            x,
            spec,
            n_classes=2,
            window=256,
            stride=192,
            tta="none",
            batch_size=4,
            threads=1,
            dtype=dtype,
        )
        return xr.Dataset(
            {"model_flood": most_likely_class(probs), "flood_probability": probs.sel({"class": 1})}
        ).compute()

    t_model = _timed(run_model, repeat)
    products = xr.Dataset({"flood": sarcube.flood_map(pre, post, band="vv")}).compute()
    products = products.merge(run_model().drop_vars("class", errors="ignore"))
    products = products.chunk({"y": chunk, "x": chunk})
    t_zarr = _timed(
        lambda: sarcube.to_zarr(products, tmp / "products.zarr", mode="w", progress=False),
        repeat,
    )
    plan = Pipeline.from_mapping(
        _config(size, tmp / "chain.zarr", model=True, thresholds="global", chunk=chunk, dtype=dtype)
    )
    built = plan.build()
    keys = len(dict(built.__dask_graph__()))
    chunks = built["flood"].data.npartitions
    t_chain = _timed(lambda: plan.run(scheduler="synchronous", progress=False), repeat)
    mpx = size * size / 1e6
    rows = [
        ("lazy_cube (VV+VH, 3 dates)", t_source),
        ("Lee 7×7 (VV+VH, 3 dates)", t_lee),
        ("flood_map (global Otsu)", t_flood),
        ("model (window 256, stride 192)", t_model),
        ("to_zarr (3 products)", t_zarr),
    ]
    total = sum(t for _, t in rows)
    print(
        f"\n### The chain at {size}² in {chunk}² chunks, the model in {dtype}, one core "
        f"(synchronous), best of {repeat}\n"
    )
    print("| stage | seconds | Mpx/s | share of the sum |")
    print("|---|---:|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t:.2f} | {mpx / t:.2f} | {t / total:.0%} |")
    print(f"| **sum of the stages** | {total:.2f} | {mpx / total:.2f} | 100% |")
    print(
        f"| **chain (`Pipeline.run`)** | {t_chain:.2f} | {mpx / t_chain:.2f} | "
        f"{t_chain / total:.2f}× the sum |"
    )
    print(
        f"\nGraph: {keys} tasks for {chunks} output chunks of {chunk}² "
        f"({keys / chunks:.0f} tasks per output chunk, 3 products)."
    )


def one_memory(
    size: int, workers: int, thresholds: str = "regional", tiles: int | None = None
) -> dict[str, float]:
    import psutil
    from bench_scale import _tree_rss  # the same process-tree sampler

    from sarcube.pipeline import Pipeline

    out = Path(tempfile.mkdtemp(prefix="sarcube-mem-"))
    scheduler = "synchronous" if workers == 0 else f"local:{workers}"
    me = psutil.Process()
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(me))
            time.sleep(0.02)

    warm = Pipeline.from_mapping(
        _config(2 * CHUNK, out / "warm.zarr", model=False, thresholds=thresholds, tiles=tiles)
    )
    plan = Pipeline.from_mapping(
        _config(size, out / "flood.zarr", model=False, thresholds=thresholds, tiles=tiles)
    )
    if workers == 0:
        warm.run(scheduler=scheduler, progress=False)
        baseline = _tree_rss(me)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        plan.run(scheduler=scheduler, progress=False)
    else:
        from sarcube.pipeline import scheduler as use

        with use(scheduler):
            warm.run(progress=False)
            baseline = _tree_rss(me)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            start = time.perf_counter()
            plan.run(progress=False)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    return {
        "size": size,
        "workers": workers,
        "seconds": seconds,
        "peak_rss_mb": peak[0] / 2**20,
        "baseline_mb": baseline / 2**20,
    }


def memory(sizes: list[int], workers: list[int], thresholds: str, tiles: int | None) -> None:
    rows = []
    for w in workers:
        for size in sizes:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one-memory",
                    str(size),
                    str(w),
                    "--thresholds",
                    thresholds,
                    *(["--tiles", str(tiles)] if tiles else []),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
                check=True,
            )
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    how = f"{thresholds}, tiles = {tiles}" if tiles else thresholds
    print(f"\n### Peak memory, lazy_cube → Lee → flood_map ({how}) → Zarr\n")
    print("| scheduler | size | area | seconds | Mpx/s | peak RSS MB | × the smallest |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for w in workers:
        mine = [r for r in rows if r["workers"] == w]
        first = mine[0]
        for r in mine:
            label = "synchronous" if w == 0 else f"LocalCluster, {w} workers"
            area = (r["size"] / first["size"]) ** 2
            print(
                f"| {label} | {r['size']}² | {area:.0f}× | {r['seconds']:.1f} | "
                f"{r['size'] ** 2 / r['seconds'] / 1e6:.2f} | {r['peak_rss_mb']:.0f} | "
                f"{r['peak_rss_mb'] / first['peak_rss_mb']:.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", action="store_true")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=CHUNK, help="chunk side of --stages")
    parser.add_argument(
        "--dtype", choices=["float32", "bfloat16"], default="float32", help="the model's, --stages"
    )
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="0: synchronous")
    parser.add_argument("--thresholds", choices=["regional", "global"], default="regional")
    parser.add_argument(
        "--tiles", type=int, default=None, help="[output] tiles: chunks per tile side"
    )
    parser.add_argument("--one-memory", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_memory:
        print(json.dumps(one_memory(*args.one_memory, args.thresholds, args.tiles)))
        return
    if args.stages:
        stages(args.size, args.repeat, args.chunk, args.dtype)
    if args.memory:
        memory(args.sizes, args.workers, args.thresholds, args.tiles)


if __name__ == "__main__":
    main()
