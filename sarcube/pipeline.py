"""The end-to-end chain from a configuration file: load → despeckle → flood map → model → Zarr.

``sarcube run CONFIG`` reads a TOML or YAML file, checks all of it (sources,
steps, parameters, output paths) before anything is built, builds the lazy
chain, and writes it with :func:`sarcube.to_zarr` on the scheduler asked for:
dask's threads or processes, a new ``LocalCluster``, or an existing
dask.distributed cluster given by its address. The same plan runs in Python::

    plan = sarcube.pipeline.Pipeline.from_file("flood.toml")
    products = plan.build()          # lazy Dataset: flood, model_flood, ...
    plan.run(scheduler="tcp://scheduler:8786")

A configuration (paths are relative to the file)::

    [source]
    stac = "catalog/collection.json"   # static catalog, or a STAC API URL
    datetime = "2024-05"
    bands = ["vv", "vh"]
    chunks = {y = 1024, x = 1024}
    # synthetic = {shape = [4096, 4096], seed = 0}   # instead of stac: no files

    [despeckle]
    filter = "lee"                     # lee, refined_lee, frost, gamma_map, boxcar, median
    size = 7

    [flood_map]
    band = "vv"
    method = "otsu"

    [predict]
    model = "ombria-s1-bitemporal"
    tta = "flip4"

    [output]
    zarr = "flood.zarr"
    resume = true
    cog = "flood.tif"                  # optional: the flood map as a COG
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from .errors import OutputError, ParameterError

__all__ = ["FILTERS", "Pipeline", "scheduler"]

#: Despeckling filters a configuration can name, mapped to sarcube functions.
FILTERS: tuple[str, ...] = ("lee", "refined_lee", "frost", "gamma_map", "boxcar", "median")

_SECTIONS = {"source", "despeckle", "flood_map", "predict", "output"}
_SOURCE_KEYS = {
    "stac",
    "synthetic",
    "collections",
    "bbox",
    "datetime",
    "ids",
    "bands",
    "chunks",
    "crs",
    "resolution",
    "on_error",
}


def _table(config: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The settings of a section; None when the section is absent (empty: defaults)."""
    if name not in config:
        return None
    value = config[name]
    if value is None:  # an empty YAML section
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(f"pipeline: [{name}] must be a table of settings, got {value!r}")
    return dict(value)


@dataclass(frozen=True)
class Pipeline:
    """A checked chain configuration; :meth:`build` makes the lazy products, :meth:`run` writes.

    Parameters
    ----------
    source
        ``stac`` (catalog path or API URL) with :func:`sarcube.open_cube`
        options, or ``synthetic`` (:func:`sarcube.synthetic.lazy_cube` options).
    despeckle
        ``filter`` plus the filter's options; None: no despeckling.
    flood_map
        :func:`sarcube.flood_map` options (``band`` defaults to ``"vv"``); None:
        no threshold map, ``{}``: the defaults.
    predict
        ``model`` (a :func:`sarcube.models.pretrained` name), ``band`` and
        :func:`sarcube.infer.predict` options; None: no model.
    output
        ``zarr`` (required), ``resume`` (default true), ``cog`` (optional).
    """

    source: dict[str, Any]
    output: dict[str, Any]
    despeckle: dict[str, Any] | None = None
    flood_map: dict[str, Any] | None = None
    predict: dict[str, Any] | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Pipeline:
        """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) configuration and check it."""
        file = Path(path)
        if not file.is_file():
            raise ParameterError(f"pipeline: no configuration file at {file}")
        text = file.read_text()
        suffix = file.suffix.lower()
        try:
            if suffix == ".toml":
                config: Any = tomllib.loads(text)
            elif suffix in (".yaml", ".yml"):
                import yaml

                config = yaml.safe_load(text)
            else:
                raise ParameterError(
                    f"pipeline: {file.name}: use a .toml, .yaml or .yml configuration file"
                )
        except (tomllib.TOMLDecodeError, ValueError) as e:
            if isinstance(e, ParameterError):
                raise
            raise ParameterError(f"pipeline: {file} is not valid {suffix[1:].upper()}: {e}") from e
        except Exception as e:  # yaml.YAMLError
            raise ParameterError(f"pipeline: {file} is not valid YAML: {e}") from e
        if not isinstance(config, Mapping):
            raise ParameterError(f"pipeline: {file} must hold a table of sections")
        return cls.from_mapping(config, base=file.parent)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any], *, base: Path | None = None) -> Pipeline:
        """Check a configuration given as nested mappings; paths are relative to *base*."""
        unknown = set(config) - _SECTIONS
        if unknown:
            raise ParameterError(
                f"pipeline: unknown sections {sorted(unknown)}; use {sorted(_SECTIONS)}"
            )
        base = base or Path.cwd()
        source = _table(config, "source") or {}
        output = _table(config, "output") or {}
        plan = cls(
            source=source,
            output=output,
            despeckle=_table(config, "despeckle"),
            flood_map=_table(config, "flood_map"),
            predict=_table(config, "predict"),
        )
        return plan._checked(base)

    def _checked(self, base: Path) -> Pipeline:
        source = dict(self.source)
        extra = set(source) - _SOURCE_KEYS
        if extra:
            raise ParameterError(
                f"pipeline: unknown [source] keys {sorted(extra)}; use {sorted(_SOURCE_KEYS)}"
            )
        if ("stac" in source) == ("synthetic" in source):
            raise ParameterError(
                "pipeline: [source] needs exactly one of stac = '<catalog or API URL>' or "
                "synthetic = {shape = [ny, nx]}"
            )
        if "stac" in source:
            href = str(source["stac"])
            if "://" not in href:
                local = (base / href).resolve()
                if not local.exists():
                    raise ParameterError(f"pipeline: [source] stac: no catalog at {local}")
                source["stac"] = str(local)
        else:
            synthetic = source["synthetic"]
            if not isinstance(synthetic, Mapping) or "shape" not in synthetic:
                raise ParameterError(
                    "pipeline: [source] synthetic needs a shape, e.g. {shape = [2048, 2048]}"
                )
        despeckle = None if self.despeckle is None else dict(self.despeckle)
        if despeckle is not None and despeckle.get("filter") not in FILTERS:
            raise ParameterError(
                f"pipeline: [despeckle] filter must be one of {FILTERS}, "
                f"got {despeckle.get('filter')!r}"
            )
        predict = None if self.predict is None else dict(self.predict)
        if predict is not None:
            from .models import MODELS

            if predict.get("model") not in MODELS:
                raise ParameterError(
                    f"pipeline: [predict] model must be one of {sorted(MODELS)}, "
                    f"got {predict.get('model')!r}"
                )
        if self.flood_map is None and predict is None:
            raise ParameterError(
                "pipeline: nothing to compute; add a [flood_map] and/or a [predict] section"
            )
        output = dict(self.output)
        if "zarr" not in output:
            raise ParameterError("pipeline: [output] needs zarr = '<store path>'")
        for key in ("zarr", "cog"):
            if key in output:
                target = (base / str(output[key])).resolve()
                if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
                    raise OutputError(
                        f"pipeline: [output] {key}: {target.parent} is not a writable folder; "
                        "create it first"
                    )
                output[key] = str(target)
        if "cog" in output and self.flood_map is None:
            raise ParameterError("pipeline: [output] cog writes the [flood_map]; add that section")
        return Pipeline(
            source=source,
            output=output,
            despeckle=despeckle,
            flood_map=None if self.flood_map is None else dict(self.flood_map),
            predict=predict,
        )

    # ------------------------------------------------------------------

    def load(self) -> xr.Dataset:
        """The lazy SAR cube of the ``[source]`` section."""
        options = {k: v for k, v in self.source.items() if k not in ("stac", "synthetic")}
        if "synthetic" in self.source:
            from .synthetic import lazy_cube

            settings = dict(self.source["synthetic"])
            shape = tuple(int(s) for s in settings.pop("shape"))
            chunks = options.get("chunks", {})
            size = (int(chunks.get("y", 1024)), int(chunks.get("x", 1024)))
            cube = lazy_cube((shape[0], shape[1]), chunks=size, **settings)
            bands = options.get("bands")
            return cube[list(bands)] if bands else cube
        from .io.stac import open_cube

        chunks = dict(options.pop("chunks", {"y": 1024, "x": 1024}))
        chunks.setdefault("time", 1)
        return open_cube(self.source["stac"], chunks=chunks, **options)

    def build(self) -> xr.Dataset:
        """All products as one lazy Dataset (nothing is computed)."""
        cube = self.load()
        if cube.sizes.get("time", 0) < 2:
            raise ParameterError(
                f"pipeline: the source gives {cube.sizes.get('time', 0)} date(s); a flood map "
                "needs at least one pre-event and one post-event date"
            )
        if self.despeckle is not None:
            cube = _despeckle(cube, dict(self.despeckle))
        pre, post = cube.isel(time=slice(0, -1)), cube.isel(time=-1)
        products = xr.Dataset()
        if self.flood_map is not None:
            from .flood import flood_map

            options = {"band": "vv", **self.flood_map}
            products["flood"] = flood_map(pre, post, **options)
        if self.predict is not None:
            from .infer import classify, predict
            from .models import pretrained
            from .models.ombria import prepare

            options = dict(self.predict)
            name = options.pop("model")
            band = options.pop("band", "vv")
            options.setdefault("batch_size", 4)
            probs = predict(
                prepare(pre[band].isel(time=-1), post[band]),
                pretrained(name),
                n_classes=2,
                **options,
            )
            products["model_flood"] = classify(probs)
            products["flood_probability"] = probs.sel({"class": 1}, drop=True)
        products.attrs = {"source": "sarcube run", "post_date": str(post["time"].values)[:19]}
        return products

    def run(
        self,
        *,
        scheduler: str | None = None,
        progress: bool = True,
        products: xr.Dataset | None = None,
    ) -> Path:
        """Build the chain and write it (**computes**); returns the Zarr store path."""
        from .io.zarr import to_zarr

        if products is None:  # callers that inspected build() pass it on
            products = self.build()
        store = Path(self.output["zarr"])
        with _use_scheduler(scheduler):
            to_zarr(
                products,
                store,
                mode="w",
                resume=bool(self.output.get("resume", True)),
                progress=progress,
            )
            if "cog" in self.output:
                from .io.export import to_cog
                from .io.zarr import open_zarr

                to_cog(open_zarr(store)["flood"], self.output["cog"], overwrite=True)
        return store


def _despeckle(cube: xr.Dataset, options: dict[str, Any]) -> xr.Dataset:
    from .filters import speckle

    name = options.pop("filter")
    funcs: dict[str, Callable[..., Any]] = {
        "lee": speckle.lee_filter,
        "refined_lee": speckle.refined_lee,
        "frost": speckle.frost_filter,
        "gamma_map": speckle.gamma_map_filter,
        "boxcar": speckle.boxcar_filter,
        "median": speckle.median_filter,
    }
    result: xr.Dataset = funcs[name](cube, **options)
    return result


@contextmanager
def scheduler(spec: str | None) -> Iterator[None]:
    """A context manager that makes *spec* the Dask scheduler for its block.

    ``None`` or ``"threads"``: dask's threads; ``"processes"``,
    ``"synchronous"``; ``"local:N"``: a new ``LocalCluster`` of N single-threaded
    worker processes (closed afterwards); anything with ``://`` (e.g.
    ``tcp://10.0.0.5:8786``): an existing dask.distributed scheduler.
    """
    import dask

    if spec in (None, "threads", "processes", "synchronous"):
        with dask.config.set(scheduler=spec or "threads") if spec else nullcontext():
            yield
        return
    assert spec is not None
    from distributed import Client, LocalCluster

    if spec.startswith("local:"):
        try:
            workers = int(spec.split(":", 1)[1])
        except ValueError:
            workers = 0
        if workers < 1:
            raise ParameterError(f"scheduler {spec!r}: use local:N with N >= 1 workers")
        with (
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
            ) as cluster,
            Client(cluster),  # type: ignore[no-untyped-call]
        ):
            yield
        return
    if "://" not in spec:
        raise ParameterError(
            f"unknown scheduler {spec!r}; use threads, processes, synchronous, local:N or a "
            "dask.distributed address such as tcp://host:8786"
        )
    with Client(spec):  # type: ignore[no-untyped-call]
        yield


_use_scheduler = scheduler  # Pipeline.run has a parameter of the same name
