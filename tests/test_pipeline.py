"""sarcube run / sarcube.pipeline: the whole chain from a config, on any scheduler."""

from __future__ import annotations

import inspect
import shutil
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube.cli import main
from sarcube.errors import InputNotFoundError, OutputError, ParameterError, SarcubeError
from sarcube.pipeline import Pipeline

from conftest import raise_if_dask_computes
from test_report import tags

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WEIGHTS = Path(sarcube.__file__).parent / "models" / "weights" / "ombria-s1-bitemporal.pt"

TOML = """
[source]
synthetic = {shape = [192, 160], seed = 3}
chunks = {y = 96, x = 80}

[despeckle]
filter = "lee"
size = 5

[flood_map]
band = "vv"
method = "otsu"

[predict]
model = "ombria-s1-bitemporal"
window = 64
stride = 48

[output]
zarr = "out/flood.zarr"
cog = "out/flood.tif"
"""

YAML = """
source:
  synthetic: {shape: [192, 160], seed: 3}
  chunks: {y: 96, x: 80}
despeckle: {filter: lee, size: 5}
flood_map: {band: vv, method: otsu}
predict: {model: ombria-s1-bitemporal, window: 64, stride: 48}
output: {zarr: out/flood.zarr}
"""


def _config(tmp_path: Path, text: str = TOML, name: str = "flood.toml") -> Path:
    (tmp_path / "out").mkdir(exist_ok=True)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_build_is_lazy_and_toml_equals_yaml(tmp_path: Path) -> None:
    toml_plan = Pipeline.from_file(_config(tmp_path))
    yaml_plan = Pipeline.from_file(_config(tmp_path, YAML, "flood.yaml"))
    assert toml_plan.predict == yaml_plan.predict and toml_plan.source == yaml_plan.source
    with raise_if_dask_computes():
        products = toml_plan.build()
    assert set(products.data_vars) == {"flood", "model_flood", "flood_probability"}
    assert products["flood"].dtype == np.uint8 and products.rio.crs is not None


def test_run_writes_zarr_and_cog_and_the_cli_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    assert main(["run", str(config), "--dry-run"]) == 0
    assert "tasks" in capsys.readouterr().out and not (tmp_path / "out" / "flood.zarr").exists()
    assert main(["run", str(config), "--quiet", "--scheduler", "synchronous"]) == 0
    assert capsys.readouterr().out == ""
    written = sarcube.open_zarr(tmp_path / "out" / "flood.zarr")
    expected = Pipeline.from_file(config).build().compute(scheduler="synchronous")
    xr.testing.assert_equal(written[list(expected.data_vars)].compute(), expected)
    assert (tmp_path / "out" / "flood.tif").is_file()
    assert written.rio.crs == expected.rio.crs


@pytest.mark.cluster
def test_chain_on_a_local_cluster_equals_the_single_threaded_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = Pipeline.from_file(_config(tmp_path))
    expected = plan.build().compute(scheduler="synchronous")
    store = plan.run(scheduler="local:2", progress=True)
    assert "100% Completed" in capsys.readouterr().out  # distributed's progress bar
    got = sarcube.open_zarr(store)[list(expected.data_vars)].compute()
    xr.testing.assert_identical(got.drop_attrs(), expected.drop_attrs())


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("[source]\nsynthetic = {shape = [64, 64]}\n[flood_map]\n", ParameterError, "zarr"),
        ("[output]\nzarr = 'x.zarr'\n[flood_map]\n", ParameterError, "exactly one of stac"),
        (
            "[source]\nstac = 'missing.json'\n[flood_map]\n[output]\nzarr = 'a.zarr'\n",
            InputNotFoundError,
            "no catalog",
        ),
        (
            "[source]\nsynthetic = {shape = [64, 64]}\n[output]\nzarr = 'a.zarr'\n",
            ParameterError,
            "nothing to compute",
        ),
        (
            "[source]\nsynthetic = {shape = [64, 64]}\n[despeckle]\nfilter = 'wiener'\n"
            "[flood_map]\n[output]\nzarr = 'a.zarr'\n",
            ParameterError,
            "filter must be one of",
        ),
        (
            "[source]\nsynthetic = {shape = [64, 64]}\n[predict]\nmodel = 'sam'\n"
            "[output]\nzarr = 'a.zarr'\n",
            ParameterError,
            "model must be one of",
        ),
        (
            "[source]\nsynthetic = {shape = [64, 64]}\n[flood_map]\n"
            "[output]\nzarr = 'nowhere/a.zarr'\n",
            OutputError,
            "writable folder",
        ),
        (
            "[source]\nsynthetic = {shape = [64, 64]}\n[flood_map]\n[outputs]\n",
            ParameterError,
            r"unknown section \[outputs\] \(did you mean \[output\]\?\); valid sections: "
            r"\[source\], \[despeckle\], \[flood_map\], \[predict\], \[output\]",
        ),
        ("[source\n", ParameterError, "not valid TOML"),
    ],
)
def test_bad_configurations_are_refused_before_anything_runs(
    tmp_path: Path, text: str, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Pipeline.from_file(_config(tmp_path, text))
    assert not any(p.suffix == ".zarr" for p in tmp_path.rglob("*"))


def test_unknown_scheduler_and_cli_error_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = Pipeline.from_file(_config(tmp_path))
    with pytest.raises(ParameterError, match="unknown scheduler"):
        plan.run(scheduler="gpu-farm")
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "no configuration file" in capsys.readouterr().err


# --- every section refuses keys it does not take, naming the valid ones -------------


def _kwargs(func: Callable[..., Any], *data: str) -> set[str]:
    """The parameters of *func* besides its data arguments: the keys its section takes."""
    return set(inspect.signature(func).parameters) - set(data)


def _stac_keys() -> set[str]:
    from sarcube.io.stac import load, search

    return {"stac"} | _kwargs(search, "source") | _kwargs(load, "items")


def _predict_keys() -> set[str]:
    from sarcube.infer import predict

    own = {
        "model",
        "checkpoints",
        "band",
        "exported",
        "torchscript",
        "state_dict",
        "builder_kwargs",
        "channels",
        "sha256",
    }
    return own | {"activation"} | _kwargs(predict, "obj", "model", "n_classes", "channels")


SYNTHETIC = {"synthetic": {"shape": [64, 64]}}


@pytest.mark.parametrize(
    ("section", "config", "typo", "close", "valid"),
    [
        (
            "source",
            {"source": {**SYNTHETIC, "chunk": {"y": 32}}},
            "chunk",
            "chunks",
            lambda: {"synthetic", "bands", "chunks"},
        ),
        (
            "source",
            {"source": {"stac": "https://stac.example/v1", "datetme": "2024-05"}},
            "datetme",
            "datetime",
            _stac_keys,
        ),
        (
            "source",  # a misspelt source kind: named, not 'needs exactly one of'
            {"source": {"stca": "catalog.json"}},
            "stca",
            "stac",
            lambda: _stac_keys() | {"synthetic"},
        ),
        (
            "source",  # the synthetic = {...} table: sarcube.synthetic.lazy_cube's options
            {"source": {"synthetic": {"shape": [64, 64], "sead": 1}}},
            "sead",
            "seed",
            lambda: _kwargs(sarcube.synthetic.lazy_cube, "chunks"),
        ),
        (
            "despeckle",
            {"despeckle": {"filter": "lee", "sise": 5}},
            "sise",
            "size",
            lambda: {"filter"} | _kwargs(sarcube.lee_filter, "obj"),
        ),
        (
            "despeckle",  # the keys follow the filter named
            {"despeckle": {"filter": "refined_lee", "size": 5}},
            "size",
            None,
            lambda: {"filter", "enl"},
        ),
        (
            "flood_map",
            {"flood_map": {"methd": "otsu"}},
            "methd",
            "method",
            lambda: _kwargs(sarcube.flood_map, "pre", "post"),
        ),
        (
            "predict",
            {"predict": {"model": "ombria-s1-bitemporal", "windw": 64}},
            "windw",
            "window",
            _predict_keys,
        ),
        (
            "predict",
            {"predict": {"model": "sarcube.models.unet:UNet", "state_dic": str(WEIGHTS)}},
            "state_dic",
            "state_dict",
            _predict_keys,
        ),
        (
            "output",
            {"output": {"zarr": "a.zarr", "resum": False}},
            "resum",
            "resume",
            lambda: {"zarr", "resume", "cog", "thresholds", "tiles", "report"},
        ),
    ],
)
def test_a_misspelt_key_in_any_section_names_the_valid_keys(
    tmp_path: Path,
    section: str,
    config: dict[str, Any],
    typo: str,
    close: str | None,
    valid: Callable[[], set[str]],
) -> None:
    base: dict[str, Any] = {"source": SYNTHETIC, "flood_map": {}, "output": {"zarr": "a.zarr"}}
    with pytest.raises(ParameterError) as info:
        Pipeline.from_mapping({**base, **config}, base=tmp_path)
    message = str(info.value)
    assert isinstance(info.value, SarcubeError) and isinstance(info.value, ValueError)
    assert message.startswith(f"pipeline: [{section}] unknown key {typo!r}")
    if close is None:
        assert "did you mean" not in message
    else:
        assert f"(did you mean {close!r}?)" in message
    listed = message.rsplit(": ", 1)[1].split(", ")
    assert listed == sorted(listed) and set(listed) == valid()


def test_a_misspelt_key_in_a_config_file_is_refused_by_sarcube_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = TOML.replace("size = 5", "sise = 5")
    assert main(["run", str(_config(tmp_path, text)), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sarcube: error: pipeline: [despeckle] unknown key 'sise'")
    assert "did you mean 'size'?" in err and "enl" in err
    assert not any(p.suffix == ".zarr" for p in tmp_path.rglob("*"))


def test_the_new_stac_options_reach_open_cube(
    synthetic_event: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # keys taken from search/load's signatures go through (not only a hand-kept few)
    seen: dict[str, Any] = {}
    import sarcube.io.stac as stac

    real = stac.open_cube

    def spy(source: Any, **kwargs: Any) -> xr.Dataset:
        seen.update(kwargs)
        return real(source, **kwargs)

    monkeypatch.setattr(stac, "open_cube", spy)
    plan = Pipeline.from_mapping(
        {
            "source": {
                "stac": str(synthetic_event.catalog),
                "max_items": 10,
                "groupby": "time",
                "retries": 1,
                "chunks": {"y": 64, "x": 64},
            },
            "flood_map": {},
            "output": {"zarr": "a.zarr"},
        },
        base=tmp_path,
    )
    with raise_if_dask_computes():
        products = plan.build()
    assert {"max_items": 10, "groupby": "time", "retries": 1}.items() <= seen.items()
    assert set(products.data_vars) == {"flood"}


# --- [predict] takes any model ModelSpec describes -------------------------------------


def _model_plan(
    tmp_path: Path, predict: dict[str, Any], base: Path | None = None, **trust: Any
) -> Pipeline:
    return Pipeline.from_mapping(
        {
            "source": {"synthetic": {"shape": [128, 112], "seed": 5}, "chunks": {"y": 64, "x": 56}},
            "predict": {"window": 64, "stride": 48, **predict},
            "output": {"zarr": str(tmp_path / "model.zarr")},
        },
        base=base or tmp_path,
        **trust,
    )


def test_a_custom_builder_and_state_dict_equal_the_shipped_model(tmp_path: Path) -> None:
    # the [predict] table of the shipped example, as written there (paths relative to it)
    example = tomllib.loads((EXAMPLES / "flood_custom_model.toml").read_text())["predict"]
    options = {k: v for k, v in example.items() if k in ("model", "builder_kwargs", "state_dict")}
    custom = _model_plan(tmp_path, options, base=EXAMPLES)
    spec = custom.model_spec()
    assert spec is not None and spec.kind == "state_dict"
    assert spec.builder == "sarcube.models.unet:UNet" and Path(str(spec.state_dict)) == WEIGHTS
    shipped = _model_plan(tmp_path, {"model": "ombria-s1-bitemporal"})
    with raise_if_dask_computes():
        lazy = custom.build()
    got = lazy.compute(scheduler="synchronous")
    expected = shipped.build().compute(scheduler="synchronous")
    xr.testing.assert_equal(got, expected)
    assert 0 < float(got["model_flood"].mean()) < 1  # some flood, some dry land


def test_checkpoints_of_trained_models_run_alone_or_as_an_ensemble(tmp_path: Path) -> None:
    """[predict] checkpoints: the shipped checkpoints, named by file, equal the shipped
    models; two of them are the ensemble of both."""
    from sarcube.infer import Ensemble, ModelSpec
    from sarcube.models.ombria import FOLDER

    names = ("ombria-s1-efficientnet", "ombria-s1-efficientnet-dice")
    for name in names:
        shutil.copy(FOLDER / f"{name}.pt", tmp_path / f"{name}.pt")
    one = _model_plan(tmp_path, {"checkpoints": [f"{names[0]}.pt"], "window": 64, "stride": 64})
    spec = one.model_spec()
    assert isinstance(spec, ModelSpec) and spec.builder.startswith("sarcube.models.")
    shipped = _model_plan(tmp_path, {"model": names[0], "window": 64, "stride": 64})
    xr.testing.assert_equal(
        one.build().compute(scheduler="synchronous"),
        shipped.build().compute(scheduler="synchronous"),
    )
    both = _model_plan(tmp_path, {"checkpoints": [f"{n}.pt" for n in names]})
    ensemble = both.model_spec()
    assert isinstance(ensemble, Ensemble) and len(ensemble.members) == 2
    with pytest.raises(InputNotFoundError, match="no checkpoint file at"):
        _model_plan(tmp_path, {"checkpoints": ["missing.pt"]})
    with pytest.raises(ParameterError, match="must be a list of checkpoint files"):
        _model_plan(tmp_path, {"checkpoints": []})
    with pytest.raises(ParameterError, match="drop model"):
        _model_plan(tmp_path, {"checkpoints": [f"{names[0]}.pt"], "model": "x:y"})
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ParameterError, match=r"junk\.pt"):
        _model_plan(tmp_path, {"checkpoints": ["junk.pt"]})


def test_an_exported_program_relative_to_the_config_runs(tmp_path: Path) -> None:
    import torch

    from sarcube.models.ombria import ARCHITECTURE
    from sarcube.models.unet import UNet

    model = UNet(**ARCHITECTURE)
    model.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    auto = torch.export.Dim.AUTO
    program = torch.export.export(
        model.eval(), (torch.zeros(2, 2, 64, 64),), dynamic_shapes=({0: auto, 2: auto, 3: auto},)
    )
    (tmp_path / "models").mkdir()
    torch.export.save(program, tmp_path / "models" / "flood.pt2")
    text = (
        "[source]\nsynthetic = {shape = [128, 112], seed = 5}\nchunks = {y = 64, x = 56}\n"
        "[predict]\nexported = 'models/flood.pt2'\nwindow = 64\nstride = 48\n"
        "[output]\nzarr = 'out/model.zarr'\n"
    )
    with pytest.raises(ParameterError, match="can run code embedded in it; if you trust"):
        Pipeline.from_file(_config(tmp_path, text))
    plan = Pipeline.from_file(_config(tmp_path, text), trust_model_files=True)
    spec = plan.model_spec()
    assert spec is not None and spec.kind == "exported" and spec.name == "flood.pt2"
    assert spec.trusted
    got = plan.build().compute(scheduler="synchronous")
    expected = _model_plan(tmp_path, {"model": "ombria-s1-bitemporal"}).build()
    expected = expected.compute(scheduler="synchronous")
    np.testing.assert_allclose(
        got["flood_probability"].values, expected["flood_probability"].values, atol=1e-5
    )


def test_a_factory_alone_is_the_factory_form(tmp_path: Path) -> None:
    plan = _model_plan(tmp_path, {"model": "sarcube.models.unet:UNet", "activation": "sigmoid"})
    spec = plan.model_spec()
    assert (
        spec is not None and spec.kind == "factory" and spec.factory == "sarcube.models.unet:UNet"
    )
    assert spec.activation == "sigmoid"
    with raise_if_dask_computes():
        products = plan.build()
    assert set(products.data_vars) == {"model_flood", "flood_probability"}


@pytest.mark.parametrize(
    ("predict", "match"),
    [
        (
            {"model": "sarcube.models.unet:UNet", "state_dict": "weights/missing.pt"},
            r"\[predict\] state_dict: no model file at .*weights/missing\.pt \(paths are "
            "relative to the configuration file",
        ),
        ({"exported": "missing.pt2"}, r"\[predict\] exported: no model file at .*missing\.pt2"),
    ],
)
def test_missing_model_files_are_refused_at_check_time(
    tmp_path: Path, predict: dict[str, Any], match: str
) -> None:
    with pytest.raises(InputNotFoundError, match=match):
        Pipeline.from_mapping(
            {"source": SYNTHETIC, "predict": predict, "output": {"zarr": "a.zarr"}}, base=tmp_path
        )


@pytest.mark.parametrize(
    ("predict", "match"),
    [
        (
            {"model": "ombria-s1-bitemporal", "state_dict": str(WEIGHTS)},
            r"state_dict is for a model of your own .* 'ombria-s1-bitemporal' comes with its "
            "weights: drop state_dict",
        ),
        (
            {"model": "no_such_package.models:build"},
            r"imports 'no_such_package.models', which runs that module's code; .* "
            r"trust_modules=\['no_such_package'\]\) or sarcube run --trust-module no_such_package",
        ),
        ({"model": "sarcube.models.unet:Unet"}, r"has no attribute 'Unet'"),
        ({"model": "sarcube.models.unet:"}, r"must be a callable or 'package.module:function'"),
        ({"model": "sarcube.models.unet"}, r"model must be one of .*got 'sarcube.models.unet'"),
        (
            {"model": "sarcube.models.unet:UNet", "builder_kwargs": {"base": 8}},
            r"builder_kwargs go to the builder of a state_dict; add state_dict",
        ),
        (
            {"model": "sarcube.models.unet:UNet", "state_dict": str(WEIGHTS), "builder_kwargs": 8},
            r"builder_kwargs must be a table",
        ),
        ({"state_dict": str(WEIGHTS)}, r"state_dict needs model = 'package.module:function'"),
        (
            {"model": "sam"},
            r"model must be one of the shipped models "
            r"\['ombria-s1-bitemporal', .*'ombria-s1-ensemble'\]",
        ),
        ({}, r"model must be one of .*got None"),
        (
            {"model": "sarcube.models.unet:UNet", "activation": "relu"},
            r"\[predict\] ModelSpec: activation must be",
        ),
    ],
)
def test_bad_model_configurations_are_refused_at_check_time(
    tmp_path: Path, predict: dict[str, Any], match: str
) -> None:
    with pytest.raises(ParameterError, match=match):
        Pipeline.from_mapping(
            {"source": SYNTHETIC, "predict": predict, "output": {"zarr": "a.zarr"}}, base=tmp_path
        )


def test_model_and_exported_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "m.pt2").write_bytes(b"")
    with pytest.raises(ParameterError, match=r"exported is a whole model; drop model ="):
        _model_plan(tmp_path, {"model": "sarcube.models.unet:UNet", "exported": "m.pt2"})
    with pytest.raises(ParameterError, match=r"give exactly one of"):  # ModelSpec's own check
        _model_plan(tmp_path, {"exported": "m.pt2", "torchscript": "m.pt2"}, trust_model_files=True)


def test_builders_outside_sarcube_need_trust(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    package = tmp_path / "pkg_untrusted"
    package.mkdir()
    (package / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "def build():\n    import torch\n    return torch.nn.Identity()\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ParameterError, match="--trust-module pkg_untrusted"):
            _model_plan(tmp_path, {"model": "pkg_untrusted:build", "activation": "none"})
        assert not marker.exists()  # refused before anything was imported
        plan = _model_plan(
            tmp_path,
            {"model": "pkg_untrusted:build", "activation": "none"},
            trust_modules=["pkg_untrusted"],
        )
        assert marker.exists() and plan.model_spec() is not None
        with pytest.raises(ParameterError, match="unknown key 'trusted'"):
            _model_plan(tmp_path, {"model": "ombria-s1-bitemporal", "trusted": True})
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pkg_untrusted", None)


REGIONAL = """
[source]
synthetic = {shape = [256, 192], seed = 4}
chunks = {y = 64, x = 96}

[flood_map]
band = "vv"
thresholds = "regional"
region_size = 64

[output]
zarr = "out/flood.zarr"
"""


def test_regional_thresholds_run_in_two_passes_and_are_written(tmp_path: Path) -> None:
    plan = Pipeline.from_file(_config(tmp_path, REGIONAL))
    assert plan.output["thresholds"].endswith("flood_thresholds.zarr")
    with raise_if_dask_computes():
        lazy = plan.build()  # one graph: the surface's reduction and the map
    store = plan.run(scheduler="synchronous", progress=False)
    surface = sarcube.open_zarr(plan.output["thresholds"]).compute()
    assert dict(surface.sizes) == {"region_y": 4, "region_x": 3}
    xr.testing.assert_equal(surface, plan.thresholds().compute(scheduler="synchronous"))
    written = sarcube.open_zarr(store)["flood"].compute()
    expected = lazy["flood"].compute(scheduler="synchronous")
    np.testing.assert_array_equal(written.values, expected.values)
    assert written.attrs["thresholds"] == "regional"


WINDOWED = """
[source]
synthetic = {shape = [300, 260], seed = 6}
chunks = {y = 64, x = 64}

[despeckle]
DESPECKLE

[flood_map]
thresholds = "regional"
region_size = 100
min_size = 3
nodata_buffer = 4

[output]
zarr = "out/STORE.zarr"
"""


@pytest.mark.parametrize(
    ("despeckle", "margin"),
    [
        ('filter = "lee"\nsize = 5\nenl = 4.4', 2 + 9),
        ('filter = "refined_lee"\nenl = 4.4', 3 + 9),
        ('filter = "frost"\nsize = 9', 4 + 9),
    ],
)
def test_tiles_read_their_window_of_the_source_and_write_the_same_store(
    tmp_path: Path, despeckle: str, margin: int
) -> None:
    text = WINDOWED.replace("DESPECKLE", despeckle)
    whole = Pipeline.from_file(_config(tmp_path, text.replace("STORE", "whole")))
    tiled_text = text.replace("STORE", "tiled").replace('.zarr"', '.zarr"\ntiles = 2')
    tiled = Pipeline.from_file(_config(tmp_path, tiled_text))
    assert whole.window_margin() is None
    assert tiled.window_margin() == margin  # the despeckle halo, max(3 + 2, 4), min_size 3 + 1
    stores = [plan.run(scheduler="synchronous", progress=False) for plan in (whole, tiled)]
    xr.testing.assert_identical(*(sarcube.open_zarr(s).compute() for s in stores))
    surfaces = [sarcube.open_zarr(p.output["thresholds"]).compute() for p in (whole, tiled)]
    xr.testing.assert_identical(*surfaces)
    with raise_if_dask_computes():
        flood = tiled.build(thresholds=surfaces[1])["flood"]
    assert flood.chunks == ((64, 64, 64, 64, 44), (64, 64, 64, 64, 4))  # the store's chunks


@pytest.mark.cluster
def test_tiles_on_a_local_cluster_write_the_single_threaded_store(tmp_path: Path) -> None:
    # 3 × 3 tiles: consecutive computations share source chunks between tiles
    text = WINDOWED.replace("DESPECKLE", 'filter = "lee"\nsize = 7\nenl = 4.4')
    text = text.replace("[300, 260]", "[768, 768]").replace("= 64", "= 128")
    text = text.replace('.zarr"', '.zarr"\ntiles = 2')
    plan = Pipeline.from_file(_config(tmp_path, text.replace("STORE", "cluster")))
    assert plan.window_margin() is not None
    store = plan.run(scheduler="local:2", progress=False)
    surface = sarcube.open_zarr(plan.output["thresholds"]).compute()
    expected = plan.build(thresholds=surface).compute(scheduler="synchronous")
    xr.testing.assert_identical(sarcube.open_zarr(store).compute(), expected)
    xr.testing.assert_identical(surface, plan.thresholds().compute(scheduler="synchronous"))


def test_a_run_says_what_each_pass_computes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = WINDOWED.replace("DESPECKLE", 'filter = "lee"\nsize = 5\nenl = 4.4')
    text = text.replace("STORE", "said").replace('.zarr"', '.zarr"\ntiles = 2')
    plan = Pipeline.from_file(_config(tmp_path, text))
    plan.run(scheduler="synchronous", progress=True)
    out = capsys.readouterr().out
    how = "tiles of 2 x 2 chunks, each from its window of the source (11 px around the tile"
    assert f"pass 1 of 2, the threshold surface: {how}" in out
    assert "9 regions of 100 px" in out and "with a bimodal post image" in out
    assert f"pass 2 of 2, the products with that surface: {how}" in out
    assert "writing flood to" in out and "100% Completed" in out  # and dask's progress bar
    quiet = Pipeline.from_file(_config(tmp_path, text.replace("said", "quiet")))
    quiet.run(scheduler="synchronous", progress=False)
    assert capsys.readouterr().out == ""


def test_a_whole_image_statistic_makes_tiles_read_whole_chunks(tmp_path: Path) -> None:
    text = WINDOWED.replace("STORE", "flood").replace('.zarr"', '.zarr"\ntiles = 2')
    estimated = text.replace("DESPECKLE", 'filter = "lee"')  # ENL estimated from the image
    assert Pipeline.from_file(_config(tmp_path, estimated)).window_margin() is None
    tutorial = text.replace("DESPECKLE", 'filter = "lee"\nvariant = "tutorial"')
    assert Pipeline.from_file(_config(tmp_path, tutorial)).window_margin() is None
    local = text.replace("DESPECKLE", 'filter = "median"\nsize = 3')
    assert Pipeline.from_file(_config(tmp_path, local)).window_margin() == 1 + 9
    global_thresholds = local.replace('thresholds = "regional"\nregion_size = 100\n', "")
    assert Pipeline.from_file(_config(tmp_path, global_thresholds)).window_margin() is None


def test_a_run_writes_its_report(tmp_path: Path) -> None:
    text = REGIONAL.replace(
        'zarr = "out/flood.zarr"', 'zarr = "out/flood.zarr"\nreport = "out/run.html"'
    )
    plan = Pipeline.from_file(_config(tmp_path, text))
    store = plan.run(scheduler="synchronous", progress=False)
    page = tmp_path / "out" / "run.html"
    images = [a for tag, a in tags(page) if tag == "img"]
    assert len(images) == 1 and str(images[0]["src"]).startswith("data:image/png;base64,")
    content = page.read_text(encoding="utf-8")
    flood = sarcube.open_zarr(store)["flood"].compute()
    share = float((flood == 1).sum() / (flood != 255).sum())
    assert f"<td>flood</td><td>{share:.4g}</td>" in content
    assert "Regional thresholds" in content and "&quot;region_size&quot;: 64" in content
    assert [p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".png"] == []


def test_a_complete_store_is_refused_before_anything_is_computed(tmp_path: Path) -> None:
    plan = Pipeline.from_file(_config(tmp_path, REGIONAL))
    plan.run(scheduler="synchronous", progress=False)
    surface = Path(plan.output["thresholds"])
    before = {p: p.read_bytes() for p in surface.rglob("*") if p.is_file()}
    with raise_if_dask_computes(), pytest.raises(OutputError, match="set resume = false"):
        plan.run(progress=False)
    assert {p: p.read_bytes() for p in surface.rglob("*") if p.is_file()} == before
    again = Pipeline.from_file(
        _config(tmp_path, REGIONAL.replace("[output]", "[output]\nresume = false"))
    )
    again.run(scheduler="synchronous", progress=False)  # replaces it


def test_an_output_thresholds_store_needs_regional_thresholds(tmp_path: Path) -> None:
    text = REGIONAL.replace('thresholds = "regional"\n', "").replace(
        'zarr = "out/flood.zarr"', 'zarr = "out/flood.zarr"\nthresholds = "out/t.zarr"'
    )
    with pytest.raises(ParameterError, match="regional"):
        Pipeline.from_file(_config(tmp_path, text))


def test_tiled_writes_equal_one_computation(tmp_path: Path) -> None:
    text = REGIONAL.replace('zarr = "out/flood.zarr"', 'zarr = "out/flood.zarr"\ntiles = 2')
    plan = Pipeline.from_file(_config(tmp_path, text))
    store = plan.run(scheduler="synchronous", progress=False)
    written = sarcube.open_zarr(store)["flood"].compute()
    expected = plan.build()["flood"].compute(scheduler="synchronous")
    np.testing.assert_array_equal(written.values, expected.values)
    surface = sarcube.open_zarr(plan.output["thresholds"]).compute()  # also computed in tiles
    xr.testing.assert_equal(surface, plan.thresholds().compute(scheduler="synchronous"))
    with pytest.raises(ParameterError, match="tiles must be a positive integer"):
        Pipeline.from_file(_config(tmp_path, text.replace("tiles = 2", "tiles = 0")))
