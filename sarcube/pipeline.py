"""The end-to-end chain from a configuration file: load → despeckle → flood map → model → Zarr.

``sarcube run CONFIG`` reads a TOML or YAML file, checks all of it (sources,
steps, parameters, model files, output paths) before anything is built, builds
the lazy chain, and writes it with :func:`sarcube.to_zarr` on the scheduler
asked for: dask's threads or processes, a new ``LocalCluster``, or an existing
dask.distributed cluster given by its address. The same plan runs in Python::

    plan = sarcube.pipeline.Pipeline.from_file("flood.toml")
    products = plan.build()          # lazy Dataset: flood, model_flood, ...
    plan.run(scheduler="tcp://scheduler:8786")

A configuration (paths are relative to the file; ``examples/*.toml`` and
``examples/*.yaml`` in the repository are complete, commented ones)::

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
    model = "ombria-s1-bitemporal"     # or "package.module:function" (see below)
    tta = "flip4"

    [output]
    zarr = "flood.zarr"
    resume = true
    cog = "flood.tif"                  # optional: the flood map as a COG

The keys each section takes come from the function it calls, so they follow
that function's signature:

``[source]``
    ``stac`` and the keyword options of :func:`sarcube.search` and
    :func:`sarcube.load`; or ``synthetic`` (the options of
    :func:`sarcube.synthetic.lazy_cube`, ``shape`` required) with ``bands`` and
    ``chunks``.
``[despeckle]``
    ``filter`` and the options of that filter (e.g. :func:`sarcube.lee_filter`).
``[flood_map]``
    the options of :func:`sarcube.flood_map`.
``[predict]``
    ``model``, ``band`` (default ``"vv"``), the model-file options of
    :class:`sarcube.infer.ModelSpec` and the options of
    :func:`sarcube.infer.predict` (``n_classes`` is the pipeline's: the output
    is no flood/flood). ``channels`` is the model's input, built by
    :func:`sarcube.models.ombria.prepare` from VV before and after (any of
    ``"before"``, ``"after"``, ``"difference"``; default the first two, or
    what the shipped model names).
``[output]``
    ``zarr``, ``resume``, ``cog``, ``thresholds`` (with ``[flood_map]
    thresholds = "regional"``: where the threshold surface is written, by
    default ``<zarr name>_thresholds.zarr`` beside the store; ``run`` computes
    that surface first, then streams the products), ``tiles`` (compute the
    threshold surface and write the products in tiles of that many chunks per
    side, see :func:`sarcube.to_zarr`: the peak memory is then that of a tile;
    with regional thresholds and a despeckle filter that needs no whole-image
    statistic, e.g. ``enl`` given, each tile's flood map and histograms are
    computed from the source cut to the tile and the chain's halo in pixels,
    :meth:`Pipeline.window_margin`, with the same result), ``report`` (a
    self-contained HTML page of the finished run, :meth:`Pipeline.report`:
    the maps' class fractions, a quicklook, the thresholds and this
    configuration).

A key a section does not take is refused with the section, the key, the
closest valid key and the list of valid ones.

``[predict] model`` is a shipped model name (:data:`sarcube.models.MODELS`),
or a model of your own as :class:`~sarcube.infer.ModelSpec` describes it:
``model = "package.module:function"`` with ``state_dict = "weights.pt"`` and
``builder_kwargs = {...}`` (the function builds the empty model, the weights
are loaded into it), ``model = "package.module:function"`` alone (the function
returns the ready model), or no ``model`` and ``exported = "model.pt2"`` (a
``torch.export`` program) or ``torchscript = "model.pt"``. Models trained
with :func:`sarcube.ml.train` (their checkpoints name their architecture and
channels) go in as ``checkpoints = ["run_a.pt", "run_b.pt"]``: one file is that
model, several an :class:`~sarcube.infer.Ensemble` of them (probabilities
averaged), each rebuilt with :meth:`~sarcube.infer.ModelSpec.from_checkpoint`
(a builder outside ``sarcube.models`` must be in the trusted modules).
"""

from __future__ import annotations

import difflib
import inspect
import os
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from ._checks import check_optional_int
from ._overlap import tile_map
from .errors import InputNotFoundError, OutputError, ParameterError

if TYPE_CHECKING:
    from .infer import Ensemble, ModelSpec

__all__ = ["FILTERS", "Pipeline", "scheduler"]

#: Despeckling filters a configuration can name, mapped to sarcube functions.
FILTERS: tuple[str, ...] = ("lee", "refined_lee", "frost", "gamma_map", "boxcar", "median")

_SECTIONS = ("source", "despeckle", "flood_map", "predict", "output")
_OUTPUT_KEYS = ("zarr", "resume", "cog", "thresholds", "tiles", "report")
#: [source] keys of a synthetic source (``synthetic`` holds the lazy_cube options)
_SYNTHETIC_SOURCE_KEYS = ("synthetic", "bands", "chunks")
#: ModelSpec fields holding a file path (resolved against the configuration's folder)
_MODEL_FILES = ("exported", "torchscript", "state_dict")
#: ModelSpec fields the [predict] section sets itself (``trusted`` comes from the
#: caller, never from the configuration)
_MODEL_SET = ("builder", "factory", "name", "trusted")
#: predict() parameters the pipeline sets: the input stack and its two classes
_PREDICT_SET = ("obj", "model", "n_classes", "channels")


def _parameters(func: Callable[..., Any], *, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """The parameters of *func* a configuration can give by keyword, less *exclude*."""
    skip = set(exclude)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(
        name
        for name, p in inspect.signature(func).parameters.items()
        if p.kind in kinds and name not in skip
    )


def _filter_funcs() -> dict[str, Callable[..., Any]]:
    from .filters import speckle

    return {
        "lee": speckle.lee_filter,
        "refined_lee": speckle.refined_lee,
        "frost": speckle.frost_filter,
        "gamma_map": speckle.gamma_map_filter,
        "boxcar": speckle.boxcar_filter,
        "median": speckle.median_filter,
    }


def _stac_source_keys() -> tuple[str, ...]:
    from .io.stac import load, search

    keys = ("stac", *_parameters(search, exclude=["source"]), *_parameters(load, exclude=["items"]))
    return tuple(dict.fromkeys(keys))  # bbox is in both


def _synthetic_keys() -> tuple[str, ...]:
    from .synthetic import lazy_cube

    return _parameters(lazy_cube, exclude=["chunks"])  # chunks come from [source] chunks


def _despeckle_keys(name: str) -> tuple[str, ...]:
    return ("filter", *_parameters(_filter_funcs()[name], exclude=["obj"]))


def _flood_map_keys() -> tuple[str, ...]:
    from .flood import flood_map

    return _parameters(flood_map, exclude=["pre", "post"])


def _model_keys() -> tuple[str, ...]:
    from .infer import ModelSpec

    return tuple(f.name for f in fields(ModelSpec) if f.name not in _MODEL_SET)


def _predict_options() -> tuple[str, ...]:
    from .infer import predict

    return _parameters(predict, exclude=_PREDICT_SET)


def _predict_keys() -> tuple[str, ...]:
    return ("model", "checkpoints", "band", *_model_keys(), *_predict_options())


def _refuse_unknown(
    section: str, given: Iterable[Any], valid: Iterable[str], *, scope: str = ""
) -> None:
    """Raise naming the keys of *given* not in *valid*, each with its closest valid key."""
    choices = sorted(valid)
    unknown = [str(key) for key in given if key not in choices]
    if not unknown:
        return
    named = []
    for key in unknown:
        close = difflib.get_close_matches(key, choices, n=1)
        named.append(repr(key) + (f" (did you mean {close[0]!r}?)" if close else ""))
    noun = "key" if len(unknown) == 1 else "keys"
    raise ParameterError(
        f"pipeline: [{section}] unknown {noun} {', '.join(named)}; "
        f"valid keys{scope}: {', '.join(choices)}"
    )


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


def _checked_source(source: dict[str, Any], base: Path) -> dict[str, Any]:
    stac_keys = _stac_source_keys()
    if ("stac" in source) == ("synthetic" in source):
        # a misspelt 'stac' or 'synthetic' is named as such
        _refuse_unknown("source", source, {*stac_keys, *_SYNTHETIC_SOURCE_KEYS})
        raise ParameterError(
            "pipeline: [source] needs exactly one of stac = '<catalog or API URL>' or "
            "synthetic = {shape = [ny, nx]}"
        )
    if "stac" in source:
        _refuse_unknown("source", source, stac_keys, scope=" for a stac source")
        href = str(source["stac"])
        if "://" not in href:
            local = (base / href).resolve()
            if not local.exists():
                raise InputNotFoundError(f"pipeline: [source] stac: no catalog at {local}")
            source["stac"] = str(local)
        return source
    _refuse_unknown(
        "source", source, _SYNTHETIC_SOURCE_KEYS, scope=" for a synthetic source (no search)"
    )
    synthetic = source["synthetic"]
    if not isinstance(synthetic, Mapping) or "shape" not in synthetic:
        raise ParameterError(
            "pipeline: [source] synthetic needs a shape, e.g. {shape = [2048, 2048]}"
        )
    _refuse_unknown("source", synthetic, _synthetic_keys(), scope=" of synthetic = {...}")
    return source


def _model_file(base: Path, entry: object, key: str, noun: str) -> str:
    """*entry* resolved against the configuration's folder; it must be a file."""
    path = (base / str(entry)).resolve()
    if not path.is_file():
        raise InputNotFoundError(
            f"pipeline: [predict] {key}: no {noun} file at {path} "
            "(paths are relative to the configuration file)"
        )
    return str(path)


def _checked_predict(predict: dict[str, Any], base: Path, trust: _Trust) -> dict[str, Any]:
    _refuse_unknown("predict", predict, _predict_keys())
    if "checkpoints" in predict:
        listed = predict["checkpoints"]
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, list) or not listed:
            raise ParameterError(
                "pipeline: [predict] checkpoints must be a list of checkpoint files, e.g. "
                f"checkpoints = ['run_a.pt', 'run_b.pt'], got {predict['checkpoints']!r}"
            )
        predict["checkpoints"] = [_model_file(base, e, "checkpoints", "checkpoint") for e in listed]
    for key in _MODEL_FILES:
        if key in predict:
            predict[key] = _model_file(base, predict[key], key, "model")
    _model_spec(predict, trust)  # every other model error, now rather than at build
    return predict


@dataclass(frozen=True)
class _Trust:
    """What the caller trusts in a configuration: builder modules, model files."""

    modules: tuple[str, ...] = ()
    model_files: bool = False

    def module(self, target: str) -> bool:
        name = target.partition(":")[0]
        return any(name == m or name.startswith(m + ".") for m in ("sarcube", *self.modules))


def _model_spec(predict: Mapping[str, Any], trust: _Trust) -> ModelSpec | Ensemble:
    """The :class:`~sarcube.infer.ModelSpec` a checked ``[predict]`` section names."""
    from .infer import ModelSpec
    from .infer._models import _resolve
    from .models import MODELS, pretrained

    model = predict.get("model")
    spec_options = {k: predict[k] for k in _model_keys() if k in predict}
    if "checkpoints" in predict:
        return _checkpoint_spec(predict, spec_options, trust)
    if isinstance(model, str) and model in MODELS:
        if spec_options:
            raise ParameterError(
                f"pipeline: [predict] {', '.join(spec_options)} "
                f"{'is' if len(spec_options) == 1 else 'are'} for a model of your own "
                "(model = 'package.module:function' or exported = 'model.pt2'); the shipped "
                f"{model!r} comes with its weights: drop {', '.join(spec_options)}"
            )
        return pretrained(model)
    files = [k for k in ("exported", "torchscript") if k in predict]
    form: dict[str, Any] = {}
    if isinstance(model, str) and ":" in model:
        if files:
            raise ParameterError(
                f"pipeline: [predict] {files[0]} is a whole model; drop model = {model!r} "
                "(model names a shipped model or the 'package.module:function' that builds one)"
            )
        if not trust.module(model):
            module = model.partition(":")[0]
            top = module.split(".")[0]
            raise ParameterError(
                f"pipeline: [predict] model {model!r}: building it imports {module!r}, which "
                "runs that module's code; a configuration names builders from sarcube, or from "
                f"modules you trust: Pipeline.from_file(path, trust_modules=[{top!r}]) "
                f"or sarcube run --trust-module {top}"
            )
        try:
            _resolve(model)
        except (ImportError, AttributeError) as err:
            raise ParameterError(
                f"pipeline: [predict] model {model!r}: cannot import it ({err}); install the "
                "package that defines it where sarcube runs (also on the Dask workers)"
            ) from err
        except ParameterError as err:
            raise ParameterError(f"pipeline: [predict] {err}") from err
        if "state_dict" in predict:
            form["builder"] = model
        elif "builder_kwargs" in predict:
            raise ParameterError(
                "pipeline: [predict] builder_kwargs go to the builder of a state_dict; add "
                f"state_dict = '<weights file>', or make {model!r} a function that needs no "
                "arguments and returns the ready model"
            )
        else:
            form["factory"] = model
    elif model is not None or not files:
        if "state_dict" in predict and model is None:
            raise ParameterError(
                "pipeline: [predict] state_dict needs model = 'package.module:function', the "
                "function that builds the empty model its weights are loaded into"
            )
        raise ParameterError(
            f"pipeline: [predict] model must be one of the shipped models {sorted(MODELS)} or "
            "'package.module:function' (with state_dict = '<weights file>' for its weights), "
            f"or give exported = '<torch.export program>' instead, got {model!r}"
        )
    if "builder_kwargs" in spec_options and not isinstance(spec_options["builder_kwargs"], Mapping):
        raise ParameterError(
            "pipeline: [predict] builder_kwargs must be a table, e.g. {in_channels = 2}, "
            f"got {spec_options['builder_kwargs']!r}"
        )
    if "builder_kwargs" in spec_options:
        spec_options["builder_kwargs"] = dict(spec_options["builder_kwargs"])
    name = str(model) if model is not None else Path(str(predict[files[0]])).name
    if files and not trust.model_files:
        raise ParameterError(
            f"pipeline: [predict] {files[0]}: loading a {files[0]} file can run code embedded "
            "in it; if you trust its source say so: Pipeline.from_file(path, "
            "trust_model_files=True) or sarcube run --trust-model-files. Or save the weights "
            "as a state_dict (state_dict = '<file>' with model = 'package.module:function')"
        )
    try:
        return ModelSpec(**spec_options, **form, name=name, trusted=bool(files))
    except ParameterError as err:  # e.g. exported and state_dict together
        raise ParameterError(f"pipeline: [predict] {err}") from err


def _checkpoint_spec(
    predict: Mapping[str, Any], spec_options: Mapping[str, Any], trust: _Trust
) -> ModelSpec | Ensemble:
    """The model (one file) or ensemble (several) of ``[predict] checkpoints``."""
    from .infer import Ensemble, ModelSpec

    others = [k for k in ("model", *spec_options) if k in predict and k != "activation"]
    if others:
        raise ParameterError(
            f"pipeline: [predict] checkpoints name their own architecture and weights; drop "
            f"{', '.join(others)} (or drop checkpoints and describe the model with them)"
        )
    activation = predict.get("activation", "softmax")
    members = []
    for path in predict["checkpoints"]:
        try:
            # one read per file: the builder is trusted by the same rule as [predict] model
            members.append(
                ModelSpec.from_checkpoint(path, activation=activation, trust_builder=trust.module)
            )
        except ParameterError as err:
            raise ParameterError(f"pipeline: [predict] checkpoints: {err}") from err
    if len(members) == 1:
        return members[0]
    return Ensemble(tuple(members), name="+".join(m.name for m in members))


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
            from .flood import flood_map

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
            from .infer import most_likely_class, predict
            from .models.ombria import prepare

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
        from .flood import flood_halo, flood_map

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
        from .flood import flood_thresholds, surface_from_images, threshold_images

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
        from .io.zarr import PROGRESS, to_zarr

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
                from .io.export import to_cog
                from .io.zarr import open_zarr

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

        from .io.zarr import open_zarr
        from .plot import comparison_grid
        from .report import Table, write_report
        from .validate import class_fractions

        target = Path(self.output.get("report", Path(store).with_suffix(".html")))
        products = open_zarr(store)
        maps = [str(n) for n in products.data_vars if products[n].dtype == np.uint8]
        # one read of the maps for both statistics
        (counted,) = compute(
            {
                name: (
                    class_fractions(products[name], classes=[0, 1]),
                    (products[name] == 255).mean(),
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
    """The halo of a [despeckle] filter; None when it needs a whole-image statistic
    (an estimated ENL, Lee's tutorial variant)."""
    from .filters.speckle import REFINED_LEE_HALO

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


@contextmanager
def scheduler(spec: str | None) -> Iterator[None]:
    """A context manager that makes *spec* the Dask scheduler for its block.

    ``None`` or ``"threads"``: dask's threads; ``"processes"``,
    ``"synchronous"``; ``"local:N"``: a new ``LocalCluster`` of N single-threaded
    worker processes (closed afterwards); anything with ``://`` (e.g.
    ``tcp://10.0.0.5:8786``): an existing dask.distributed scheduler.

    Examples
    --------
    >>> import dask
    >>> from sarcube.pipeline import scheduler
    >>> with scheduler("synchronous"):
    ...     dask.config.get("scheduler")
    'synchronous'

    ``scheduler("local:2")`` starts a two-worker ``LocalCluster`` on 127.0.0.1 for
    the block and closes it afterwards.
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
