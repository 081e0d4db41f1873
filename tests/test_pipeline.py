"""sarcube run / sarcube.pipeline: the whole chain from a config, on any scheduler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube.cli import main
from sarcube.errors import OutputError, ParameterError
from sarcube.pipeline import Pipeline

from conftest import raise_if_dask_computes

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
            ParameterError,
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
            "unknown sections",
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
