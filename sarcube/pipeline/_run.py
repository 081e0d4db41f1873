"""Pipeline: a checked configuration that builds the lazy products and writes them."""

from __future__ import annotations

import difflib
import inspect
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from .._checks import check_optional_int
from .._overlap import tile_map
from ..conventions import NODATA
from ..errors import InputNotFoundError, OutputError, ParameterError
from ._config import (
    _OUTPUT_KEYS,
    _SECTIONS,
    FILTERS,
    _checked_predict,
    _checked_source,
    _despeckle_keys,
    _filter_funcs,
    _flood_map_keys,
    _model_spec,
    _predict_options,
    _refuse_unknown,
    _table,
    _Trust,
)
from ._scheduler import _use_scheduler

if TYPE_CHECKING:
    from ..infer import Ensemble, ModelSpec


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
        ``model`` (a :func:`sarcube.models.pretrained` name or
        ``"package.module:function"``), the model files of
        :class:`sarcube.infer.ModelSpec`, ``band`` and
        :func:`sarcube.infer.predict` options; None: no model.
    output
        ``zarr`` (required), ``resume`` (default true), ``cog`` (optional).

    Examples
    --------
    >>> plan = Pipeline.from_mapping(
    ...     {"source": {"synthetic": {"shape": [64, 64]}}, "flood_map": {},
    ...      "output": {"zarr": "flood.zarr"}}
    ... )
    >>> plan.flood_map, plan.predict, sorted(plan.output)
    ({}, None, ['zarr'])
    >>> try:
    ...     Pipeline.from_mapping({"source": {"synthetic": {"shape": [64, 64]}},
    ...                            "flood_map": {"methd": "otsu"}, "output": {"zarr": "f.zarr"}})
    ... except ValueError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    pipeline: [flood_map] unknown key 'methd' (did you mean 'method'?); valid keys: band, ...
    """

    source: dict[str, Any]
    output: dict[str, Any]
    despeckle: dict[str, Any] | None = None
    flood_map: dict[str, Any] | None = None
    predict: dict[str, Any] | None = None
    trust_modules: tuple[str, ...] = ()
    trust_model_files: bool = False

    @property
    def _trust(self) -> _Trust:
        return _Trust(tuple(self.trust_modules), bool(self.trust_model_files))

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        trust_modules: Iterable[str] = (),
        trust_model_files: bool = False,
    ) -> Pipeline:
        """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) configuration and check it.

        *trust_modules*, *trust_model_files*: see :meth:`from_mapping`.
        """
        file = Path(path)
        if not file.is_file():
            raise InputNotFoundError(f"pipeline: no configuration file at {file}")
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
        return cls.from_mapping(
            config,
            base=file.parent,
            trust_modules=trust_modules,
            trust_model_files=trust_model_files,
        )

    @classmethod
    def from_mapping(
        cls,
        config: Mapping[str, Any],
        *,
        base: Path | None = None,
        trust_modules: Iterable[str] = (),
        trust_model_files: bool = False,
    ) -> Pipeline:
        """Check a configuration given as nested mappings; paths are relative to *base*.

        A configuration may come from anyone, so what in it can run code is
        refused unless the caller trusts it: a ``[predict] model =
        "package.module:function"`` outside sarcube needs its top-level package
        in *trust_modules* (importing it runs its code), and ``exported`` /
        ``torchscript`` model files need *trust_model_files* (loading them can
        run code they embed). ``state_dict`` weights need no trust.
        """
        if isinstance(trust_modules, str):
            trust_modules = (trust_modules,)
        unknown = [str(name) for name in config if name not in _SECTIONS]
        if unknown:
            named = []
            for name in unknown:
                close = difflib.get_close_matches(name, _SECTIONS, n=1)
                named.append(f"[{name}]" + (f" (did you mean [{close[0]}]?)" if close else ""))
            raise ParameterError(
                f"pipeline: unknown section{'s' if len(unknown) > 1 else ''} {', '.join(named)}; "
                f"valid sections: {', '.join(f'[{s}]' for s in _SECTIONS)}"
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
            trust_modules=tuple(str(m) for m in trust_modules),
            trust_model_files=bool(trust_model_files),
        )
        return plan._checked(base)

    def _checked(self, base: Path) -> Pipeline:
        source = _checked_source(dict(self.source), base)
        despeckle = None if self.despeckle is None else dict(self.despeckle)
        if despeckle is not None:
            name = despeckle.get("filter")
            if name not in FILTERS:
                raise ParameterError(
                    f"pipeline: [despeckle] filter must be one of {FILTERS}, got {name!r}"
                )
            _refuse_unknown(
                "despeckle", despeckle, _despeckle_keys(name), scope=f" for filter = {name!r}"
            )
        flood_map = None if self.flood_map is None else dict(self.flood_map)
        if flood_map is not None:
            _refuse_unknown("flood_map", flood_map, _flood_map_keys())
        predict = (
            None
            if self.predict is None
            else _checked_predict(dict(self.predict), base, self._trust)
        )
        if flood_map is None and predict is None:
            raise ParameterError(
                "pipeline: nothing to compute; add a [flood_map] and/or a [predict] section"
            )
        output = dict(self.output)
        _refuse_unknown("output", output, _OUTPUT_KEYS)
        tiles = output.get("tiles")
        check_optional_int(tiles, "[output] tiles", "pipeline", minimum=1, hint="e.g. tiles = 4")
        if "zarr" not in output:
            raise ParameterError("pipeline: [output] needs zarr = '<store path>'")
        if flood_map is not None and flood_map.get("thresholds") == "regional":
            store = Path(str(output["zarr"]))
            output.setdefault("thresholds", str(store.with_name(f"{store.stem}_thresholds.zarr")))
        elif "thresholds" in output:
            raise ParameterError(
                "pipeline: [output] thresholds writes the regional threshold surface; set "
                "thresholds = 'regional' in [flood_map]"
            )
        if flood_map is not None and not isinstance(flood_map.get("thresholds", "global"), str):
            raise ParameterError("pipeline: [flood_map] thresholds must be 'global' or 'regional'")
        for key in ("zarr", "cog", "thresholds", "report"):
            if key in output:
                target = (base / str(output[key])).resolve()
                if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
                    raise OutputError(
                        f"pipeline: [output] {key}: {target.parent} is not a writable folder; "
                        "create it first"
                    )
                output[key] = str(target)
        if "cog" in output and flood_map is None:
            raise ParameterError("pipeline: [output] cog writes the [flood_map]; add that section")
        return Pipeline(
            source=source,
            output=output,
            despeckle=despeckle,
            flood_map=flood_map,
            predict=predict,
            trust_modules=self.trust_modules,
            trust_model_files=self.trust_model_files,
        )

    def model_spec(self) -> ModelSpec | Ensemble | None:
        """The :class:`~sarcube.infer.ModelSpec` of the ``[predict]`` section; None without one."""
        return None if self.predict is None else _model_spec(self.predict, self._trust)

    # ------------------------------------------------------------------

    def load(self) -> xr.Dataset:
        """The lazy SAR cube of the ``[source]`` section."""
        options = {k: v for k, v in self.source.items() if k not in ("stac", "synthetic")}
        if "synthetic" in self.source:
            from ..synthetic import lazy_cube

            settings = dict(self.source["synthetic"])
            shape = tuple(int(s) for s in settings.pop("shape"))
            chunks = options.get("chunks", {})
            size = (int(chunks.get("y", 1024)), int(chunks.get("x", 1024)))
            cube = lazy_cube((shape[0], shape[1]), chunks=size, **settings)
            bands = options.get("bands")
            return cube[list(bands)] if bands else cube
        from ..io.stac import open_cube

        chunks = dict(options.pop("chunks", {"y": 1024, "x": 1024}))
        chunks.setdefault("time", 1)
        return open_cube(self.source["stac"], chunks=chunks, **options)

    def build(self, *, thresholds: xr.Dataset | None = None) -> xr.Dataset:
        """All products as one lazy Dataset (nothing is computed).

        *thresholds*: a computed regional surface (:meth:`thresholds`) for the
        flood map; with it the map streams chunk by chunk. With ``[output]
        tiles`` and a chain of local steps (see :meth:`window_margin`), the
        flood map of each tile is built from that tile's window of the source.
        """
        cube = self.load()
        if cube.sizes.get("time", 0) < 2:
            raise ParameterError(
                f"pipeline: the source gives {cube.sizes.get('time', 0)} date(s); a flood map "
                "needs at least one pre-event and one post-event date"
            )
        products = xr.Dataset()
        if self.flood_map is not None:
            from ..flood import flood_map

            options = {"band": "vv", **self.flood_map}
            if thresholds is not None:
                options["thresholds"] = thresholds

            def mapped(window: xr.Dataset) -> xr.DataArray:
                pre, post = self._despeckled_pair(window)
                return flood_map(pre, post, **options)

            margin = self.window_margin() if thresholds is not None else None
            if margin is None:
                products["flood"] = mapped(cube)
            else:
                products["flood"] = tile_map(mapped, cube, tile=self._tile(cube), margin=margin)
        if self.predict is not None:
            # untiled, these are the flood map's despeckled images (the same dask keys)
            pre, post = self._despeckled_pair(cube)
            from ..infer import most_likely_class, predict
            from ..models.ombria import prepare

            spec = _model_spec(self.predict, self._trust)
            options = {k: v for k, v in self.predict.items() if k in _predict_options()}
            options.setdefault("batch_size", 4)
            band = self.predict.get("band", "vv")
            # every model, shipped or not, sees the shipped model's input (VV before and
            # after, z-scored dB) and gives no flood / flood
            channels = spec.channels or ("before", "after")
            probs = predict(
                prepare(pre[band].isel(time=-1), post[band], channels=channels),
                spec,
                n_classes=2,
                **options,
            )
            products["model_flood"] = most_likely_class(probs)
            products["flood_probability"] = probs.sel({"class": 1}, drop=True)
        post_date = str(cube["time"].values[-1])[:19]
        products.attrs = {"source": "sarcube run", "post_date": post_date}
        return products

    def _despeckled_pair(self, cube: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
        """The pre-event dates and the post-event date, despeckled as configured."""
        if self.despeckle is not None:
            cube = _despeckle(cube, dict(self.despeckle))
        return cube.isel(time=slice(0, -1)), cube.isel(time=-1)

    def window_margin(self) -> int | None:
        """The pixels around a tile with which it reads the source; None: whole chunks.

        With ``[output] tiles``, regional thresholds and a chain of local
        steps (a despeckle filter with a given ``enl``, or none), each tile
        of the threshold pass and of the flood map is computed from the
        source cut to the tile and this margin (the despeckle filter's halo
        and :func:`sarcube.flood.flood_halo`), cropped back: the same
        result as the whole cube, and the memory of one tile however large
        the cube. Otherwise (global thresholds, an estimated ENL) the tiles
        read the whole chunks around them.
        """
        if self.output.get("tiles") is None or "thresholds" not in self.output:
            return None
        if self.flood_map is None:
            return None
        from ..flood import flood_halo, flood_map

        despeckle = 0
        if self.despeckle is not None:
            found = _despeckle_halo(dict(self.despeckle))
            if found is None:
                return None
            despeckle = found
        defaults = inspect.signature(flood_map).parameters
        keys = ("median_size", "boxcar_size", "nodata_buffer", "min_size")
        options = {k: int(self.flood_map.get(k, defaults[k].default)) for k in keys}
        return despeckle + flood_halo(**options)

    def _tile(self, cube: xr.Dataset) -> tuple[int, int]:
        """Tile side in pixels (y, x): ``[output] tiles`` chunks of the source."""
        tiles = int(self.output["tiles"])
        first = next(iter(cube.data_vars.values()))
        if first.chunks is None:
            return first.sizes["y"], first.sizes["x"]
        chunks = dict(zip(first.dims, first.chunks, strict=True))
        return tiles * chunks["y"][0], tiles * chunks["x"][0]

    def thresholds(self, *, tiles: int | None = None) -> xr.Dataset:
        """The regional threshold surface of the flood map (see ``flood_thresholds``).

        Lazy; with *tiles* its histograms are computed now, tile by tile (from
        each tile's window of the source when :meth:`window_margin` allows).
        """
        from ..flood import flood_thresholds, surface_from_images, threshold_images

        if self.flood_map is None:
            raise ParameterError("pipeline: no [flood_map] section, hence no thresholds")
        cube = self.load()
        keys = set(inspect.signature(flood_thresholds).parameters) - {"pre", "post", "tiles"}
        options = {"band": "vv", **{k: v for k, v in self.flood_map.items() if k in keys}}
        margin = self.window_margin() if tiles is not None else None
        if margin is None:
            pre, post = self._despeckled_pair(cube)
            return flood_thresholds(pre, post, tiles=tiles, **options)
        image_keys = set(inspect.signature(threshold_images).parameters) - {"pre", "post"}
        image_options = {k: v for k, v in options.items() if k in image_keys}

        def images(window: xr.Dataset) -> xr.DataArray:
            return threshold_images(*self._despeckled_pair(window), **image_options)

        joined = tile_map(images, cube, tile=self._tile(cube), margin=margin)
        surface_options = {k: v for k, v in options.items() if k not in image_keys}
        return surface_from_images(joined, tiles=tiles, **surface_options)

    def run(
        self,
        *,
        scheduler: str | None = None,
        progress: bool = True,
        products: xr.Dataset | None = None,
    ) -> Path:
        """Build the chain and write it (**computes**); returns the Zarr store path.

        With regional flood thresholds, two passes: the threshold surface is
        computed first and written to ``[output] thresholds``, then the products
        stream chunk by chunk (memory does not grow with the cube).
        """
        from ..io.zarr import PROGRESS, to_zarr

        store = Path(self.output["zarr"])
        resume = bool(self.output.get("resume", True))
        if resume and store.exists() and not store.with_name(store.name + PROGRESS).exists():
            # refused before the threshold pass writes anything beside the store
            raise OutputError(
                f"pipeline: [output] zarr {store} is a complete store, so there is nothing to "
                "resume; set resume = false in [output] to replace it, or choose another path"
            )
        say = print if progress else (lambda *args: None)
        tiles = self.output.get("tiles")
        with _use_scheduler(scheduler):
            if products is None:  # callers that inspected build() pass it on
                surface = None
                if "thresholds" in self.output:
                    say(f"pass 1 of 2, the threshold surface: {self._how(tiles)}")
                    surface = self.thresholds(tiles=tiles).compute()
                    to_zarr(surface, self.output["thresholds"], mode="w")
                    usable = int(surface["post_usable"].sum())
                    say(
                        f"  {surface['post_usable'].size} regions of "
                        f"{surface.attrs['region_size']} px, {usable} with a bimodal post "
                        f"image (the others take their neighbours'); in {self.output['thresholds']}"
                    )
                    say(f"pass 2 of 2, the products with that surface: {self._how(tiles)}")
                products = self.build(thresholds=surface)
            names = ", ".join(map(str, products.data_vars))
            say(
                f"writing {names} to {store} chunk by chunk (a rerun resumes)"
                if resume
                else f"writing {names} to {store} chunk by chunk"
            )
            to_zarr(
                products,
                store,
                mode="w",
                resume=resume,
                progress=progress,
                tiles=self.output.get("tiles"),
            )
            if "cog" in self.output:
                from ..io.export import to_cog
                from ..io.zarr import open_zarr

                to_cog(open_zarr(store)["flood"], self.output["cog"], overwrite=True)
            if "report" in self.output:
                self.report(store)
        return store

    def _how(self, tiles: int | None) -> str:
        """How a pass computes, for the progress lines of :meth:`run`."""
        if tiles is None:
            return "one computation over the whole cube"
        margin = self.window_margin()
        if margin is None:
            return f"tiles of {tiles} x {tiles} chunks, each reading the whole chunks around it"
        return (
            f"tiles of {tiles} x {tiles} chunks, each from its window of the source "
            f"({margin} px around the tile: the filters' halo)"
        )

    def report(self, store: str | os.PathLike[str], *, side: int = 1024) -> Path:
        """Write ``[output] report``, one self-contained HTML page of a finished run.

        The class fractions of each map in *store* (one read of the maps), a
        quicklook of the maps beside the post-event VV image (every n-th pixel,
        at most *side* pixels a side; the source's post-event VV is read once
        more for it), the threshold surface's summary and the configuration.
        """
        import math

        import numpy as np
        from dask.base import compute

        from ..io.zarr import open_zarr
        from ..plot import comparison_grid
        from ..report import Table, write_report
        from ..validate import class_fractions

        target = Path(self.output.get("report", Path(store).with_suffix(".html")))
        products = open_zarr(store)
        maps = [str(n) for n in products.data_vars if products[n].dtype == np.uint8]
        # one read of the maps for both statistics
        (counted,) = compute(
            {
                name: (
                    class_fractions(products[name], classes=[0, 1]),
                    (products[name] == NODATA).mean(),
                )
                for name in maps
            }
        )
        rows = [
            [name, float(fractions[1]), float(fractions[0]), float(nodata)]
            for name, (fractions, nodata) in counted.items()
        ]
        ny, nx = products.sizes["y"], products.sizes["x"]
        step = max(1, math.ceil(max(ny, nx) / side))
        every = {"y": slice(None, None, step), "x": slice(None, None, step)}
        band = (self.predict or {}).get("band") or (self.flood_map or {}).get("band") or "vv"
        post = self.load()[band].isel(time=-1).isel(every)
        figure = target.with_name(f".{target.stem}.maps.png")
        tables = [
            Table(
                "Maps",
                ["map", "flood fraction", "no-flood fraction", "nodata fraction"],
                rows,
                note="Fractions of the valid pixels (flood, no flood) and of all pixels (nodata).",
            )
        ]
        if "thresholds" in self.output:
            surface = open_zarr(self.output["thresholds"]).compute()
            tables.append(
                Table(
                    "Regional thresholds",
                    ["image", "regions", "usable", "from neighbours", "whole image", "global"],
                    [
                        [
                            image,
                            int(surface[f"{image}_usable"].size),
                            int(surface[f"{image}_usable"].sum()),
                            int((surface[f"{image}_source"] == 1).sum()),
                            int((surface[f"{image}_source"] == 2).sum()),
                            float(surface[f"{image}_global_threshold"]),
                        ]
                        for image in ("post", "change")
                    ],
                    note=f"Regions of {surface.attrs['region_size']} px; the surface is in "
                    f"{self.output['thresholds']}.",
                )
            )
        try:
            comparison_grid(post, {name: products[name].isel(every) for name in maps}, path=figure)
            config = {
                f.name: getattr(self, f.name)
                for f in fields(self)
                if f.name not in ("trust_modules", "trust_model_files")
            }
            return write_report(
                target,
                title=f"sarcube run: {Path(store).name}",
                summary=[
                    f"{ny}x{nx} pixels, post-event date {products.attrs.get('post_date', '?')}; "
                    f"products in {store}.",
                    f"Quicklook: every {step}. pixel." if step > 1 else "Quicklook: every pixel.",
                ],
                tables=tables,
                figures={"The maps beside the post-event backscatter": figure},
                config=config,
            )
        finally:
            figure.unlink(missing_ok=True)


def _despeckle_halo(options: dict[str, Any]) -> int | None:
    """The halo of a [despeckle] filter.

    None when it needs a whole-image statistic (an estimated ENL, Lee's
    tutorial variant).
    """
    from ..filters.speckle import REFINED_LEE_HALO

    name = options["filter"]
    parameters = inspect.signature(_filter_funcs()[name]).parameters
    if "enl" in parameters and options.get("enl") is None:
        return None
    if options.get("variant") == "tutorial":
        return None
    if name == "refined_lee":
        return REFINED_LEE_HALO
    return int(options.get("size", parameters["size"].default)) // 2


def _despeckle(cube: xr.Dataset, options: dict[str, Any]) -> xr.Dataset:
    name = options.pop("filter")
    result: xr.Dataset = _filter_funcs()[name](cube, **options)
    return result
