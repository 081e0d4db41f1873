"""The ``sarcube`` command line: ``sarcube demo`` and ``sarcube catalog build``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from ._atomic import write_text_atomic  # light: only sarcube.errors
from .conventions import NODATA
from .errors import ParameterError, SarcubeError

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    import numpy as np
    from dask.diagnostics.progress import ProgressBar

    from .calibration import clamp_stats
    from .filters import estimate_enl, lee_filter, refined_lee, tv_denoise
    from .io.stac import open_cube
    from .io.zarr import open_zarr, to_zarr
    from .plot import clamp_histogram, image_panels
    from .scaling import NormConfig
    from .synthetic import write_event

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if args.quiet else print
    progress = nullcontext if args.quiet else ProgressBar
    clamps = (0.15, 0.3, 0.5)
    start = time.perf_counter()

    say(f"[1/8] synthetic flood event {args.size}x{args.size}, seed {args.seed} -> {out / 'event'}")
    event_looks = 4.4
    event = write_event(
        out / "event", (args.size, args.size), seed=args.seed, looks=event_looks, overwrite=True
    )

    say(f"[2/8] opening {event.catalog} lazily")
    cube = open_cube(event.catalog, chunks={"time": 1, "y": 256, "x": 256})

    say(f"[3/8] clamp statistics at {clamps} (one pass)")
    stats = clamp_stats(cube, clamps, dims=("time", "y", "x"))
    with progress():
        stats = stats.compute()
    config = NormConfig.from_stats(stats, clamp=0.3)
    config.to_json(out / "norm_config.json")

    say("[4/8] histograms")
    for band in cube.data_vars:
        clamp_histogram(cube[band], stats, path=out / f"histogram_{band}.png")

    say("[5/8] despeckling the post-event VV image (Lee, refined Lee, TV in dB)")
    post = cube["vv"].isel(time=-1)
    with progress():
        enl = float(estimate_enl(post))
    image_panels(
        {
            "post-event VV": post,
            f"Lee 7x7 (ENL {enl:.1f})": lee_filter(post, enl=enl),
            "refined Lee": refined_lee(post, enl=enl),
            "TV Chambolle, dB (weight 1.5)": tv_denoise(post, weight=1.5),
        },
        title=f"Synthetic event, {str(cube['time'].values[-1])[:10]}, {event_looks}-look speckle",
        path=out / "despeckle_vv.png",
    )

    say(f"[6/8] writing {out / 'cube.zarr'}")
    with progress():
        to_zarr(cube, out / "cube.zarr", mode="w")
    reopened = open_zarr(out / "cube.zarr")

    say("[7/8] flood maps (three threshold methods, k-means), validation and figures")
    flood_outputs = _flood_step(cube, event.truth / "flood.tif", out, progress)

    say("[8/8] the shipped flood model (bitemporal U-Net) through dask, written to resumable Zarr")
    model_outputs = _model_step(cube, out, progress)

    times = ", ".join(str(t)[:10] for t in cube["time"].values)
    crs = reopened.odc.crs
    print(
        f"\nsarcube demo: {len(cube.time)} dates ({times}), {cube.sizes['y']}x{cube.sizes['x']} "
        f"pixels, CRS {f'EPSG:{crs.epsg}' if crs.epsg else crs.wkt[:60]} (Zarr round trip)"
    )
    print(f"{'band':<5} {'clamp':>6} {'mean':>10} {'std':>10} {'clipped %':>10}")
    for band in stats["band"].values:
        for c in stats["clamp"].values:
            s = stats.sel(band=band, clamp=c)
            print(
                f"{band:<5} {c:>6.2f} {float(s['mean']):>10.5f} {float(s['std']):>10.5f} "
                f"{100 * float(s['clipped_fraction']):>10.3f}"
            )
    import rasterio

    with rasterio.open(event.truth / "flood.tif") as src:
        flooded = float(np.mean(src.read(1)))
    print(f"flood from {event.flood_date:%Y-%m-%d}, {flooded:.1%} of the scene; outputs in {out}:")
    summary = [
        f"{len(cube.time)} dates ({times}) of a synthetic {args.size}x{args.size} dual-pol event "
        f"(seed {args.seed}, {event_looks}-look speckle), CRS "
        f"{f'EPSG:{crs.epsg}' if crs.epsg else crs.wkt[:60]}.",
        f"Flood from {event.flood_date:%Y-%m-%d}: {flooded:.1%} of the scene is flooded in the "
        "truth the maps are scored against.",
        f"Computed in {time.perf_counter() - start:.1f} s; outputs in {out}.",
    ]
    _demo_report(out, args, stats, summary)
    outputs = ("norm_config.json", "histogram_vv.png", "histogram_vh.png", "despeckle_vv.png")
    for name in (*outputs, "cube.zarr", *flood_outputs, *model_outputs, "report.html"):
        print(f"  {out / name}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


#: The demo's figures and what each shows, in the report's order.
_DEMO_FIGURES = {
    "histogram_vv.png": "VV backscatter histogram (dB) with the clamp cut-offs and the "
    "fraction of pixels each clips",
    "histogram_vh.png": "VH backscatter histogram (dB) with the clamp cut-offs",
    "despeckle_vv.png": "Post-event VV before and after the speckle filters (dB)",
    "flood_maps.png": "Flood maps of three threshold methods and k-means next to the truth",
    "flood_differences.png": "Where the maps disagree (only A / only B / both)",
    "flood_agreement.png": "Pairwise agreement of the maps and the truth",
    "flood_threshold.png": "The tiled threshold on the post-event VV histogram",
}


def _demo_report(out: Path, args: argparse.Namespace, stats: Any, summary: list[str]) -> None:
    """``report.html``: the summary, the scores, every figure and the configuration."""
    import json

    from .report import Table, write_report

    clamp_rows = [
        [
            str(band),
            float(c),
            float(stats["mean"].sel(band=band, clamp=c)),
            float(stats["std"].sel(band=band, clamp=c)),
            100 * float(stats["clipped_fraction"].sel(band=band, clamp=c)),
        ]
        for band in stats["band"].values
        for c in stats["clamp"].values
    ]
    scores = json.loads((out / "flood_report.json").read_text())["maps"]
    keys = ("miou", "iou_flood", "f1_flood", "pixel_accuracy", "flood_fraction", "regions")
    score_rows = [[name, *[m.get(k, "") for k in keys]] for name, m in scores.items()]
    tables = [
        Table(
            "Calibration statistics",
            ["band", "clamp", "mean", "std", "clipped %"],
            clamp_rows,
            note="Linear power clamped at each cut-off (one pass over the cube).",
        ),
        Table(
            "Flood maps against the truth",
            ["map", "mIoU", "IoU flood", "F1 flood", "pixel accuracy", "flood fraction", "regions"],
            score_rows,
            note="Scored with nodata left out; mIoU is the mean of the flood and no-flood IoU.",
        ),
    ]
    figures = {caption: out / name for name, caption in _DEMO_FIGURES.items()}
    config = {
        "command": "sarcube demo",
        "size": args.size,
        "seed": args.seed,
        "out": str(out),
        "normalisation": json.loads((out / "norm_config.json").read_text()),
    }
    write_report(
        out / "report.html",
        title="sarcube demo: a synthetic flood event",
        summary=summary,
        tables=tables,
        figures=figures,
        config=config,
    )


def _truth(path: Path, like: Any) -> Any:
    """The synthetic truth raster on *like*'s grid, 255 where *like* is NaN."""
    import rioxarray
    import xarray as xr

    opened = rioxarray.open_rasterio(path)
    assert isinstance(opened, xr.DataArray)
    truth = opened.squeeze("band", drop=True).astype("uint8")
    truth = truth.where(like.notnull().values, NODATA).astype("uint8")
    return truth.assign_coords(y=like.y, x=like.x)


def _model_step(cube: Any, out: Path, progress: Any) -> tuple[str, ...]:
    """Predict the flood with the shipped model, write it to Zarr, add its scores to the report."""
    import json

    from .infer import most_likely_class, predict
    from .io.zarr import open_zarr, to_zarr
    from .models.ombria import prepare, pretrained
    from .validate import segmentation_metrics

    pre, post = cube["vv"].isel(time=0), cube["vv"].isel(time=-1)
    size = min(cube.sizes["y"], cube.sizes["x"])
    window = min(256, size - size % 8)
    probs = predict(
        prepare(pre, post),
        pretrained(),
        n_classes=2,
        window=window,
        stride=window * 3 // 4,
        tta="flip4",
    )
    labels = most_likely_class(probs)
    result = labels.to_dataset(name="flood")
    result["flood_probability"] = probs.sel({"class": 1}, drop=True)
    with progress():
        to_zarr(result, out / "model_flood.zarr", mode="w", resume=False)
    written = open_zarr(out / "model_flood.zarr")
    report_path = out / "flood_report.json"
    report = json.loads(report_path.read_text())
    reference = _truth(out / "event" / "truth" / "flood.tif", post)
    flood = written["flood"].compute()
    metrics = segmentation_metrics(flood, reference, classes=[0, 1], nodata=NODATA)
    report["maps"]["shipped model"] = {
        "iou_flood": float(metrics["iou"].sel({"class": 1})),
        "iou_no_flood": float(metrics["iou"].sel({"class": 0})),
        "miou": float(metrics["miou"]),
        "f1_flood": float(metrics["f1"].sel({"class": 1})),
        "pixel_accuracy": float(metrics["pixel_accuracy"]),
    }
    write_text_atomic(report_path, json.dumps(report, indent=2))
    m = report["maps"]["shipped model"]
    print(f"shipped model: mIoU {m['miou']:.3f}, IoU flood {m['iou_flood']:.3f}")
    return ("model_flood.zarr",)


def _flood_step(cube: Any, truth_path: Path, out: Path, progress: Any) -> tuple[str, ...]:
    """Flood maps of the demo event, their scores against the truth, figures and vectors."""
    import json

    from dask.base import compute

    from .classify import kmeans
    from .flood import flood_map
    from .io.export import to_vector
    from .plot import agreement_heatmap, comparison_grid, difference_maps, threshold_histogram
    from .regions import boundary_ratio, region_stats
    from .thresholds import threshold
    from .validate import agreement_matrix, class_fractions, segmentation_metrics

    pre, post = cube.isel(time=slice(0, -1)), cube.isel(time=-1)
    truth = _truth(truth_path, post["vv"])
    maps = {
        "otsu": flood_map(pre, post, method="otsu", min_size=10),
        "ki": flood_map(pre, post, method="ki", min_size=10),
        "tiled": flood_map(pre, post, method="tiled", min_size=10),
    }
    # k-means on post VV/VH (dB): the darkest of three clusters as water
    classes = kmeans(post, n_clusters=3, sample=20_000)
    maps["kmeans"] = (classes == 0).astype("uint8").where(classes != NODATA, NODATA).astype("uint8")
    extra = ["post_threshold", "change_threshold", "threshold_fallback", "time"]
    maps = {k: v.drop_vars([c for c in extra if c in v.coords]) for k, v in maps.items()}
    with progress():
        (computed,) = compute(maps)
    report: dict[str, Any] = {"maps": {}}
    for name, m in computed.items():
        metrics = segmentation_metrics(m, truth, classes=[0, 1], nodata=NODATA)
        regions = region_stats(m)
        report["maps"][name] = {
            "iou_flood": float(metrics["iou"].sel({"class": 1})),
            "iou_no_flood": float(metrics["iou"].sel({"class": 0})),
            "miou": float(metrics["miou"]),
            "f1_flood": float(metrics["f1"].sel({"class": 1})),
            "pixel_accuracy": float(metrics["pixel_accuracy"]),
            "flood_fraction": float(class_fractions(m, classes=[1])[0]),
            "regions": int(regions["count"]),
            "boundary_ratio": float(boundary_ratio(m)),
        }
    agreement = agreement_matrix({**computed, "truth": truth}).compute()
    report["agreement"] = {
        str(a): {str(b): float(agreement.sel(map_a=a, map_b=b)) for b in agreement["map_b"].values}
        for a in agreement["map_a"].values
    }
    write_text_atomic(out / "flood_report.json", json.dumps(report, indent=2))
    titles = {k: f"mIoU {v['miou']:.3f}" for k, v in report["maps"].items()}
    comparison_grid(
        post["vv"], {**computed, "truth": truth}, titles=titles, path=out / "flood_maps.png"
    )
    agreement_heatmap(agreement, path=out / "flood_agreement.png")
    difference_maps(
        computed,
        pairs=[("otsu", "ki"), ("otsu", "tiled"), ("otsu", "kmeans")],
        path=out / "flood_differences.png",
    )
    from .calibration import to_db

    post_db = to_db(post["vv"])
    threshold_histogram(
        threshold(post_db, method="tiled", tile_sizes=(128, 64, 32)),
        image=post_db,
        path=out / "flood_threshold.png",
    )
    vectors = to_vector(computed["otsu"], out / "flood_otsu.geojson", overwrite=True)
    print(f"{'map':<8} {'mIoU':>6} {'IoU flood':>10} {'flood %':>8} {'regions':>8}")
    for name, r in report["maps"].items():
        print(
            f"{name:<8} {r['miou']:>6.3f} {r['iou_flood']:>10.3f} "
            f"{100 * r['flood_fraction']:>8.2f} {r['regions']:>8d}"
        )
    print(f"otsu flood map: {len(vectors)} polygons")
    return (
        "flood_report.json",
        "flood_maps.png",
        "flood_agreement.png",
        "flood_differences.png",
        "flood_threshold.png",
        "flood_otsu.geojson",
    )


def _catalog_build(args: argparse.Namespace) -> int:
    from .io.catalog import build

    collection = build(
        args.source,
        args.out,
        collection_id=args.collection_id,
        pattern=args.pattern,
        overwrite=args.overwrite,
    )
    n = len(list(collection.get_items()))
    print(f"wrote {Path(args.out) / 'collection.json'}: {n} items")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.example:
        from importlib.resources import files

        print(files("sarcube").joinpath("example_run.toml").read_text(encoding="utf-8"), end="")
        return 0
    if args.config is None:
        raise ParameterError(
            "sarcube run: give a configuration file, or --example to print a commented one"
        )
    from .pipeline import Pipeline

    say = (lambda *a: None) if args.quiet else print
    start = time.perf_counter()
    plan = Pipeline.from_file(
        args.config, trust_modules=args.trust_module, trust_model_files=args.trust_model_files
    )
    products = plan.build()
    tasks = sum(len(v.data.__dask_graph__()) for v in products.data_vars.values() if v.chunks)
    say(
        f"sarcube run: {', '.join(map(str, products.data_vars))} on a "
        f"{products.sizes['y']}x{products.sizes['x']} grid, {tasks} tasks before optimisation"
    )
    spec = plan.model_spec()
    if spec is not None:
        say(f"model: {spec.name} ({spec.kind})")
    if args.dry_run:
        say("dry run: configuration checked and graph built; nothing computed")
        return 0
    # with regional thresholds, run computes the surface first and builds the
    # products with it (tile windows included), so the graph built above is not reused
    reuse = None if "thresholds" in plan.output else products
    store = plan.run(scheduler=args.scheduler, progress=not args.quiet, products=reuse)
    say(f"wrote {store}" + (f" and {plan.output['cog']}" if "cog" in plan.output else ""))
    say(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _wrapped(text: str) -> str:
    """A command's description wrapped for the terminal (its examples keep their lines)."""
    import shutil
    import textwrap

    return textwrap.fill(text, min(shutil.get_terminal_size().columns, 100) - 2)


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    from .io.catalog import PATTERNS

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="sarcube",
        description="SAR datacubes from STAC.",
        formatter_class=raw,
        epilog="examples:\n"
        "  sarcube demo                                  # synthetic flood event, no server\n"
        "  sarcube run examples/flood_synthetic.toml --dry-run\n"
        "  sarcube catalog build data/rtc cat --collection-id opera-rtc\n"
        "\n'sarcube COMMAND --help' describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"sarcube {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="run the demo on a synthetic flood event (no server needed)",
        description=_wrapped(
            "Write a synthetic flood event as GeoTIFFs with a STAC catalog, open it "
            "as a lazy cube and run the chain on it: clamp statistics and histograms, speckle "
            "filters and TV in dB, a Zarr round trip, flood maps (three threshold methods, "
            "k-means) scored against the event's truth, and the shipped model. Everything goes "
            "to --out."
        ),
        formatter_class=raw,
        epilog="examples:\n"
        "  sarcube demo\n"
        "  sarcube demo --out /tmp/demo --size 256 --seed 3 --quiet",
    )
    demo.add_argument("--out", default="sarcube-demo", help="output folder (default: sarcube-demo)")
    demo.add_argument("--size", type=int, default=512, help="scene size in pixels (default 512)")
    demo.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the synthetic scene and its speckle (default 0)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(func=_demo)

    run = sub.add_parser(
        "run",
        help="run the chain (load, despeckle, flood map, model, Zarr) from a TOML/YAML config",
        description=_wrapped(
            "Run the chain of a config file: a STAC search or synthetic source, a speckle "
            "filter, flood_map, a model, and the products written to Zarr (resumable: run it "
            "again to finish an interrupted write). Every section refuses keys it does not take."
        ),
        formatter_class=raw,
        epilog="examples:\n"
        "  sarcube run --example > flood.toml                     # a commented config\n"
        "  sarcube run examples/flood_synthetic.toml --dry-run   # check and build the graph\n"
        "  sarcube run examples/flood_synthetic.toml --scheduler local:2\n"
        "  sarcube run examples/flood_stac.yaml --scheduler tcp://scheduler:8786\n"
        "\nThe examples/ folder of the repository has commented configs.",
    )
    run.add_argument(
        "config",
        nargs="?",
        help="configuration file (.toml, .yaml); keys in sarcube.pipeline, examples in examples/",
    )
    run.add_argument(
        "--example",
        action="store_true",
        help="print a commented configuration to start from, and exit",
    )
    run.add_argument(
        "--scheduler",
        default=None,
        help="threads (default), processes, synchronous, local:N (a LocalCluster of N "
        "workers) or the address of a dask.distributed scheduler (tcp://host:8786)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument(
        "--dry-run", action="store_true", help="check the config and build the graph only"
    )
    run.add_argument(
        "--trust-module",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="allow [predict] model = 'PACKAGE.module:function' (importing it runs its code); "
        "repeatable. Builders from sarcube need no flag",
    )
    run.add_argument(
        "--trust-model-files",
        action="store_true",
        help="allow [predict] exported/torchscript files (loading them can run code they embed)",
    )
    run.set_defaults(func=_run)

    cat = sub.add_parser(
        "catalog",
        help="STAC catalog tools",
        formatter_class=raw,
        epilog="example:\n  sarcube catalog build data/rtc cat --collection-id opera-rtc",
    )
    cat_sub = cat.add_subparsers(dest="catalog_command", required=True)
    build = cat_sub.add_parser(
        "build",
        help="static STAC collection from per-polarisation GeoTIFFs",
        description=_wrapped(
            "Group per-polarisation GeoTIFFs into one STAC item per acquisition (read "
            "from the file names) and write a self-contained static collection that "
            "sarcube.open_cube and odc-stac load."
        ),
        formatter_class=raw,
        epilog="examples:\n"
        "  sarcube catalog build ../shared/data/opera-rtc-s1 cat --collection-id opera-rtc\n"
        "  sarcube catalog build scenes/ cat --collection-id s1-grd --pattern generic "
        "--overwrite",
    )
    build.add_argument("source", help="folder of GeoTIFFs (searched recursively)")
    build.add_argument("out", help="output folder for collection.json and items")
    build.add_argument("--collection-id", required=True, help="id of the STAC collection")
    build.add_argument(
        "--pattern",
        default="opera-rtc-s1",
        choices=sorted(PATTERNS),
        help="how file names give acquisition time, polarisation and scene: opera-rtc-s1 "
        "(OPERA_L2_RTC-S1_…_VV.tif, default) or generic (<scene>_<YYYYMMDD[THHMMSS]>_<pol>.tif)",
    )
    build.add_argument(
        "--overwrite", action="store_true", help="replace a collection already in OUT"
    )
    build.set_defaults(func=_catalog_build)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sarcube`` command."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SarcubeError as e:
        print(f"sarcube: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
