"""Build (never compute) the flood chain over a continent-sized lazy cube: tasks and graph size.

The cube is ``sarcube.synthetic.lazy_cube`` (3 dates, VV+VH) of the given
side in pixels (158 114² ≈ 10 million km² at 20 m, about Europe) in square
chunks; the chain is the one ``sarcube run`` executes (Lee 7×7, flood_map
with Otsu, the shipped model with window 256/stride 192). Prints the number
of chunks and tasks, the time to build the graph, the size of the pickled
(low-level) graph, and the memory the client process used to hold it.

    python benchmarks/continental_graph.py --side 158114 --chunk 4096
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from sarcube.pipeline import Pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=158_114)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--no-model", action="store_true", help="flood_map only")
    parser.add_argument("--pickle", action="store_true", help="also measure the pickled graph")
    args = parser.parse_args()
    config = {
        "source": {
            "synthetic": {"shape": [args.side, args.side]},
            "chunks": {"y": args.chunk, "x": args.chunk},
        },
        "despeckle": {"filter": "lee", "size": 7},
        "flood_map": {"band": "vv", "method": "otsu"},
        "output": {"zarr": str(Path(tempfile.mkdtemp()) / "never-written.zarr")},
    }
    if not args.no_model:
        config["predict"] = {"model": "ombria-s1-bitemporal"}
    start = time.perf_counter()
    products = Pipeline.from_mapping(config).build()
    built = time.perf_counter() - start
    start = time.perf_counter()
    graphs = {name: var.data.__dask_graph__() for name, var in products.data_vars.items()}
    merged: dict[object, object] = {}
    for g in graphs.values():
        merged.update(dict(g))
    materialised = time.perf_counter() - start
    chunks = len(products["flood"].data.chunks[0]) * len(products["flood"].data.chunks[1])
    pixels = args.side**2
    print(
        f"cube {args.side}² px ({pixels * 400 / 1e12:.2f} million km² at 20 m), "
        f"chunks {args.chunk}²"
    )
    print(f"output chunks per product: {chunks}")
    for name, g in graphs.items():
        print(f"  {name}: {len(g)} tasks, {len(g.layers)} layers")
    print(f"distinct tasks (all products): {len(merged)} ({len(merged) / chunks:.0f} per chunk)")
    print(f"lazy build {built:.1f} s, materialising the graph {materialised:.1f} s")
    if args.pickle:
        start = time.perf_counter()
        import cloudpickle  # what dask.distributed ships graphs with

        size = len(cloudpickle.dumps(merged, protocol=5))
        print(
            f"pickled low-level graph {size / 2**20:.0f} MB ({time.perf_counter() - start:.1f} s)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"client peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
