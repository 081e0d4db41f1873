"""Speckle filter benchmarks, side by side in one run.

1. Lee 7x7 on a 2048² float32 band, one core: sarcube's tutorial-variant Lee
   against the same filter written with ``scipy.ndimage.uniform_filter`` and with
   ``scipy.signal.convolve2d`` (local mean/variance, global image variance).
2. TV Chambolle on the same band in dB: sarcube against
   ``skimage.restoration.denoise_tv_chambolle`` with the same parameters.
3. Chunked TV against in-memory TV: deviation in dB for several halos.
4. Throughput of a chunked Lee filter on an 8192² cube with a dask
   ``LocalCluster`` of 2 single-threaded workers against 1.

Every pair is checked for equal output before it is timed. Run:
``python benchmarks/bench_filters.py`` (or ``nox -s bench``); prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

# one core per process, for the single-core comparisons and for the workers
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import dask  # after the thread settings above
import dask.array as dsa
import numpy as np
import xarray as xr
from scipy.ndimage import uniform_filter
from scipy.signal import convolve2d
from skimage.restoration import denoise_tv_bregman, denoise_tv_chambolle

import sarcube


def best(func: Callable[[], Any], repeat: int) -> tuple[float, float]:
    func()  # warm-up (numba compilation, caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def lee_uniform_filter(img: np.ndarray, size: int = 7) -> np.ndarray:
    mean = uniform_filter(img, size, mode="reflect")
    mean_sq = uniform_filter(img * img, size, mode="reflect")
    var = mean_sq - mean * mean
    sigma2 = np.var(img)
    weight = var**2 / (var**2 + sigma2**2)
    return mean + weight * (img - mean)


def lee_convolve2d(img: np.ndarray, size: int = 7) -> np.ndarray:
    # as in the teaching notebooks: a float64 averaging kernel, symmetric boundary
    kernel = np.ones((size, size)) / size**2
    mean = convolve2d(img, kernel, mode="same", boundary="symm")
    mean_sq = convolve2d(img * img, kernel, mode="same", boundary="symm")
    var = mean_sq - mean * mean
    sigma2 = np.var(img)
    weight = var**2 / (var**2 + sigma2**2)
    return mean + weight * (img - mean)


def band(size: int, seed: int = 0) -> np.ndarray:
    scene = sarcube.synthetic.make_scene((size, size), seed=seed, nodata_edge=False)
    return scene.cube["vv"].values[-1]


def lee_section(img: np.ndarray, repeat: int) -> None:
    da = xr.DataArray(img, dims=("y", "x"))
    ours = lee_filter_values(da)
    for name, ref in (("uniform_filter", lee_uniform_filter), ("convolve2d", lee_convolve2d)):
        diff = np.max(np.abs(ours - ref(img.astype(np.float64))) / np.abs(ours))
        print(f"- output vs `{name}` version (float64): max relative difference {diff:.1e}")
    t_ours, m_ours = best(lambda: lee_filter_values(da), repeat)
    t_classic, _ = best(lambda: sarcube.lee_filter(da, enl=4.4).values, repeat)
    t_uf, m_uf = best(lambda: lee_uniform_filter(img), repeat)
    t_cv, m_cv = best(lambda: lee_convolve2d(img), max(1, repeat // 3))
    rows = [
        ("sarcube `lee_filter(variant='tutorial')`", t_ours, m_ours, "—"),
        ("scipy `uniform_filter` Lee", t_uf, m_uf, f"**{t_uf / t_ours:.1f}×**"),
        ("scipy `convolve2d` Lee", t_cv, m_cv, f"**{t_cv / t_ours:.1f}×**"),
        ("sarcube `lee_filter(variant='classic', enl=4.4)`", t_classic, t_classic, ""),
    ]
    print("\n| implementation | best ms | median ms | speed-up of sarcube's tutorial Lee |")
    print("|---|---|---|---|")
    for name, t, m, ratio in rows:
        print(f"| {name} | {1e3 * t:.1f} | {1e3 * m:.1f} | {ratio} |")


def lee_filter_values(da: xr.DataArray) -> np.ndarray:
    return np.asarray(sarcube.lee_filter(da, variant="tutorial").values)


def tv_section(img: np.ndarray, repeat: int, weights: list[float]) -> None:
    db = (10 * np.log10(img)).astype(np.float32)
    da = xr.DataArray(db, dims=("y", "x"))
    print("\n| solver | weight | sarcube ms | scikit-image ms | speed-up | max abs diff (dB) |")
    print("|---|---|---|---|---|---|")
    for w in weights:
        ours = sarcube.tv_denoise(da, weight=w, db=False).values
        diff = float(np.max(np.abs(ours - denoise_tv_chambolle(db, weight=w))))
        t_ours, _ = best(lambda w=w: sarcube.tv_denoise(da, weight=w, db=False).values, repeat)
        t_sk, _ = best(lambda w=w: denoise_tv_chambolle(db, weight=w), repeat)
        cells = [f"{1e3 * t_ours:.1f}", f"{1e3 * t_sk:.1f}", f"**{t_sk / t_ours:.1f}×**"]
        print(f"| Chambolle | {w} | {' | '.join(cells)} | {diff:.1e} |")
    w = 0.5
    ours = sarcube.tv_denoise(da, weight=w, method="bregman", db=False).values
    diff = float(np.max(np.abs(ours - denoise_tv_bregman(db, weight=w))))
    t_ours, _ = best(lambda: sarcube.tv_denoise(da, weight=w, method="bregman", db=False).values, 1)
    t_sk, _ = best(lambda: denoise_tv_bregman(db, weight=w), 1)
    cells = [f"{1e3 * t_ours:.1f}", f"{1e3 * t_sk:.1f}", f"{t_sk / t_ours:.1f}×"]
    print(f"| Bregman | {w} | {' | '.join(cells)} | {diff:.1e} |")


def tv_chunk_section(size: int, chunk: int) -> None:
    scene = sarcube.synthetic.make_scene((size, size), seed=4)
    vv = scene.cube["vv"].isel(time=[0, 2])
    halos = [0, 8, 16, 32]
    print(f"\nScene {size}², 2 dates, chunks {chunk}², deviation |chunked − in-memory| in dB:\n")
    print("| solver | weight | " + " | ".join(f"halo {h}: max / p99.9" for h in halos) + " |")
    print("|---|---|" + "---|" * len(halos))
    for method, weights in (("chambolle", (1.0, 3.0)), ("bregman", (0.5, 2.0))):
        for w in weights:
            ref = sarcube.to_db(sarcube.tv_denoise(vv, weight=w, method=method)).values
            cells = []
            for halo in halos:
                lazy = sarcube.tv_denoise(
                    vv.chunk({"time": 1, "y": chunk, "x": chunk}),
                    weight=w,
                    method=method,
                    halo=halo,
                )
                d = np.abs(sarcube.to_db(lazy).values - ref)
                cells.append(f"{np.nanmax(d):.1e} / {np.nanpercentile(d, 99.9):.1e}")
            print(f"| {method} | {w} | " + " | ".join(cells) + " |", flush=True)


def throughput_section(size: int, chunk: int, repeat: int = 3) -> None:
    from distributed import Client, LocalCluster

    def cube() -> xr.DataArray:
        # uniform noise is cheap to generate, so the timing is the filter's
        rng = dsa.random.default_rng(0)
        data = rng.random(size=(size, size), chunks=chunk, dtype=np.float32) * 0.1
        return xr.DataArray(data, dims=("y", "x"), attrs={"units": "1"})

    def warm_up() -> None:  # compile the kernels in each worker process
        small = cube().isel(y=slice(0, 64), x=slice(0, 64)).compute()
        sarcube.lee_filter(small, enl=4.4).compute()

    n_chunks = (size // chunk) ** 2
    print(
        f"\n{size}² float32 ({size * size * 4 / 2**30:.2f} GiB) in {n_chunks} chunks of {chunk}², "
        "generated blockwise on the workers (uniform noise); Lee classic 7×7 (enl=4.4) reduced "
        f"to a mean; best of {repeat}. 'generation only' is the same graph without the filter.\n"
    )
    print("| workers | Lee: seconds | Mpixel/s | speed-up | generation only: seconds |")
    print("|---|---|---|---|---|")
    base = None
    for n in (1, 2):
        with (
            LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(warm_up)
            seconds, _ = best(lambda: sarcube.lee_filter(cube(), enl=4.4).mean().compute(), repeat)
            gen, _ = best(lambda: cube().mean().compute(), repeat)
        base = base or seconds
        rate = size * size / seconds / 1e6
        print(
            f"| {n} | {seconds:.2f} | {rate:.0f} | {base / seconds:.2f}× | {gen:.2f} |", flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cube", type=int, default=8192)
    parser.add_argument("--chunk", type=int, default=2048, help="chunk size of the dask cube")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["lee", "tv", "tv-chunks", "workers"]
    )
    args = parser.parse_args()
    img = band(args.size)
    with dask.config.set(scheduler="synchronous"):
        if "lee" not in args.skip:
            print(f"## Lee 7×7, {args.size}² float32, one core\n")
            lee_section(img, args.repeat)
        if "tv" not in args.skip:
            print(f"\n## TV Chambolle in dB, {args.size}², one core")
            tv_section(img, max(3, args.repeat // 2), [0.1, 1.0])
        if "tv-chunks" not in args.skip:
            print("\n## Chunked TV vs in-memory")
            tv_chunk_section(1024, 256)
    if "workers" not in args.skip:
        print("\n## Dask throughput, 2 workers vs 1")
        throughput_section(args.cube, args.chunk)


if __name__ == "__main__":
    main()
