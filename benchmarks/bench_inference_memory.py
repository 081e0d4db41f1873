"""Peak memory of predict → to_zarr stays bounded as the cube grows.

A lazily generated 2-channel cube (random chunks made on the fly, never held
whole) goes through :func:`sarcube.infer.predict` and :func:`sarcube.to_zarr`
with the threaded scheduler; the peak resident memory of the process is
sampled during the write, for several cube sizes with the same chunks.

    python benchmarks/bench_inference_memory.py [--sizes 1024 2048 4096] [--chunk 512]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import sys, time, threading, numpy as np, dask, dask.array as da, xarray as xr, torch
sys.path.insert(0, {root!r})
import sarcube
from sarcube.infer import ModelSpec, predict
from sarcube.models import UNet

def net():
    torch.manual_seed(0)
    return UNet(in_channels=2, n_classes=2, base=8, depth=3)

size, chunk, out = {size}, {chunk}, {out!r}
rng = da.random.default_rng(0)
data = rng.standard_normal((2, size, size), chunks=(2, chunk, chunk)).astype("float32")
image = xr.DataArray(data, dims=("band", "y", "x"))
probs = predict(image, ModelSpec(factory=net), n_classes=2, window=256, stride=192)
peak = [0]
def sample():
    while not done:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        time.sleep(0.05)
done = False
t = threading.Thread(target=sample); t.start()
start = time.perf_counter()
with dask.config.set(scheduler="threads", num_workers=2):
    sarcube.to_zarr(probs.to_dataset(name="p"), out, mode="w")
done = True; t.join()
print(f"{{size}} {{peak[0] / 1024:.0f}} {{time.perf_counter() - start:.1f}}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--chunk", type=int, default=512)
    args = parser.parse_args()
    root = str(Path(__file__).resolve().parents[1])
    print(f"chunks {args.chunk}², UNet(base=8, depth=3), window 256, stride 192, 2 threads")
    print(f"{'size':>6} {'cube MB':>8} {'output MB':>10} {'peak RSS MB':>12} {'seconds':>8}")
    for size in args.sizes:
        out = Path(tempfile.mkdtemp()) / "p.zarr"
        code = CHILD.format(root=root, size=size, chunk=args.chunk, out=str(out))
        # a fresh process per size, so that peaks do not carry over
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        _, peak, seconds = result.stdout.split()
        cube_mb = 2 * size * size * 4 / 2**20
        row = f"{size:>6} {cube_mb:>8.0f} {cube_mb:>10.0f} {float(peak):>12.0f}"
        print(f"{row} {float(seconds):>8.1f}")
        shutil.rmtree(out.parent)


if __name__ == "__main__":
    main()
