"""The configuration of ``sarcube run``: its tables and keys, checked; the model it names."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputNotFoundError, ParameterError

if TYPE_CHECKING:
    from ..infer import Ensemble, ModelSpec

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
    from ..filters import speckle

    return {
        "lee": speckle.lee_filter,
        "refined_lee": speckle.refined_lee,
        "frost": speckle.frost_filter,
        "gamma_map": speckle.gamma_map_filter,
        "boxcar": speckle.boxcar_filter,
        "median": speckle.median_filter,
    }


def _stac_source_keys() -> tuple[str, ...]:
    from ..io.stac import load, search

    keys = ("stac", *_parameters(search, exclude=["source"]), *_parameters(load, exclude=["items"]))
    return tuple(dict.fromkeys(keys))  # bbox is in both


def _synthetic_keys() -> tuple[str, ...]:
    from ..synthetic import lazy_cube

    return _parameters(lazy_cube, exclude=["chunks"])  # chunks come from [source] chunks


def _despeckle_keys(name: str) -> tuple[str, ...]:
    return ("filter", *_parameters(_filter_funcs()[name], exclude=["obj"]))


def _flood_map_keys() -> tuple[str, ...]:
    from ..flood import flood_map

    return _parameters(flood_map, exclude=["pre", "post"])


def _model_keys() -> tuple[str, ...]:
    from ..infer import ModelSpec

    return tuple(f.name for f in fields(ModelSpec) if f.name not in _MODEL_SET)


def _predict_options() -> tuple[str, ...]:
    from ..infer import predict

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
    from ..infer import ModelSpec
    from ..infer._models import _resolve
    from ..models import MODELS, pretrained

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
    from ..infer import Ensemble, ModelSpec

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
