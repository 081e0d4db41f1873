"""The one lazy histogram (``_reduce.bin_counts``) against its peers and one memory pass.

Side by side in one process on the same seeded 4096² float32 gamma-speckled
image, in 1024² dask chunks held in memory (no file I/O), threaded scheduler
with 2 workers:

- ``bin_counts`` of the dB image, 1 200 bins over -80..40 dB (what
  :func:`sarcube.plot.clamp_histogram` counts);
- ``dask.array.histogram`` of the linear image on the same bins in log space
  (``numpy.geomspace``: what ``clamp_histogram`` used before);
- ``dask.array.histogram`` of the dB image on equal bins (the best dask peer);
- one memory pass: the sum of the image.

Run: ``python benchmarks/bench_histogram.py``; the output is a Markdown table
for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import dask
import dask.array as dsa
import numpy as np
import xarray as xr

from sarcube._reduce import bin_counts
from sarcube.calibration import linear_to_db_array

SIZE, CHUNK, BINS, REPEAT = 4096, 1024, 1200, 5


def best(f: Callable[[], object]) -> float:
    f()  # warm-up (numba compilation, thread pool)
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    image = rng.gamma(4.4, 0.05 / 4.4, (SIZE, SIZE)).astype(np.float32)
    da = xr.DataArray(dsa.from_array(image, chunks=CHUNK), dims=("y", "x"))
    db = linear_to_db_array(da)
    log_edges = np.geomspace(1e-8, 1e4, BINS + 1)
    cases = {
        "`bin_counts`, dB, equal bins (sarcube)": lambda: bin_counts(
            db.data, -80.0, 40.0, BINS
        ).compute(),
        "`dask.array.histogram`, linear, log bins (before)": lambda: dsa.histogram(
            dsa.ravel(da.data), bins=log_edges
        )[0].compute(),
        "`dask.array.histogram`, dB, equal bins": lambda: dsa.histogram(
            dsa.ravel(db.data), bins=BINS, range=(-80.0, 40.0)
        )[0].compute(),
        "one memory pass (sum)": lambda: da.data.sum().compute(),
    }
    with dask.config.set(scheduler="threads", num_workers=2):
        times = {name: best(f) for name, f in cases.items()}
    one_pass = times["one memory pass (sum)"]
    print(f"{SIZE}² float32, {CHUNK}² chunks, {BINS} bins, threads=2, best of {REPEAT}\n")
    print("| pass | ms | × one memory pass |")
    print("|---|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {t * 1e3:.1f} | {t / one_pass:.1f} |")


if __name__ == "__main__":
    main()
