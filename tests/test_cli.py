"""The sarcube command line: demo, catalog build and run (with the shipped example configs)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import yaml

import sarcube
from sarcube.cli import main

from conftest import raise_if_dask_computes
from test_report import tags

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: every configuration shipped in examples/, with the products it makes
EXAMPLE_CONFIGS = {
    "flood_synthetic.toml": (
        ["flood", "model_flood", "flood_probability"],
        "model: ombria-s1-bitemporal (state_dict)",
    ),
    "flood_stac.yaml": (["flood"], None),
    "flood_custom_model.toml": (
        ["model_flood", "flood_probability"],
        "model: sarcube.models.unet:UNet (state_dict)",
    ),
}


def test_demo_writes_its_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--size", "96", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3 dates (2024-05-02, 2024-05-14, 2024-05-26)" in out
    assert "EPSG:32633" in out
    cfg = sarcube.NormConfig.from_json(tmp_path / "norm_config.json")
    assert cfg.clamp == 0.3 and cfg.bands == ["vv", "vh"]
    for name in ("histogram_vv.png", "histogram_vh.png", "despeckle_vv.png"):
        png = (tmp_path / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    for name in ("flood_maps.png", "flood_agreement.png", "flood_differences.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
    report = json.loads((tmp_path / "flood_report.json").read_text())
    assert set(report["maps"]) == {"otsu", "ki", "tiled", "kmeans", "shipped model"}
    page = tmp_path / "report.html"  # one self-contained page of all of it
    images = [a for tag, a in tags(page) if tag == "img"]
    assert len(images) == 7 and all(str(a["src"]).startswith("data:image/png") for a in images)
    text = page.read_text(encoding="utf-8")
    for name in report["maps"]:
        assert f"<td>{name}</td>" in text
    assert f"{report['maps']['otsu']['miou']:.4g}" in text and "clipped %" in text
    model_map = sarcube.open_zarr(tmp_path / "model_flood.zarr")
    assert set(model_map.data_vars) == {"flood", "flood_probability"}
    assert model_map.odc.crs.epsg == 32633 and model_map["flood"].dtype == np.uint8
    assert report["maps"]["shipped model"]["miou"] > 0.5
    # the synthetic flood is found (measured mIoU 0.97 at 256 px; the test image is small)
    assert report["maps"]["otsu"]["miou"] > 0.8
    assert report["agreement"]["otsu"]["otsu"] == 1.0
    vectors = gpd.read_file(tmp_path / "flood_otsu.geojson")
    assert len(vectors) == report["maps"]["otsu"]["regions"] and vectors.crs.to_epsg() == 32633
    cube = sarcube.open_zarr(tmp_path / "cube.zarr")
    assert cube.odc.crs.epsg == 32633 and cube.sizes == {"time": 3, "y": 96, "x": 96}
    # the statistics in the config are those of the cube
    stats = sarcube.clamp_stats(cube, (0.3,), dims=("time", "y", "x")).compute()
    assert cfg.mean["vv"] == pytest.approx(
        float(stats["mean"].sel(band="vv", clamp=0.3)), rel=1e-12
    )


def test_run_example_prints_a_config_that_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--example"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# A commented sarcube run configuration")
    config = tomllib.loads(text)
    assert config["output"]["tiles"] == 2 and config["flood_map"]["thresholds"] == "regional"
    path = tmp_path / "flood.toml"
    path.write_text(text.replace("[2048, 2048]", "[512, 512]").replace("= 1024", "= 256"))
    assert main(["run", str(path), "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert main(["run", str(path), "--quiet", "--scheduler", "synchronous"]) == 0
    assert sarcube.open_zarr(tmp_path / "flood.zarr")["flood"].shape == (512, 512)
    assert (tmp_path / "flood.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["run"]) == 2
    assert "--example to print a commented one" in capsys.readouterr().err


def test_catalog_build_cli(
    synthetic_event: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "catalog",
            "build",
            str(synthetic_event.root / "data"),
            str(tmp_path / "cat"),
            "--collection-id",
            "cli",
            "--pattern",
            "generic",
        ]
    )
    assert code == 0
    assert "3 items" in capsys.readouterr().out
    data = json.loads((tmp_path / "cat" / "collection.json").read_text())
    assert data["id"] == "cli"
    # errors are reported as one line naming the fix, exit code 2
    assert (
        main(
            [
                "catalog",
                "build",
                str(tmp_path / "nothing"),
                str(tmp_path / "c2"),
                "--collection-id",
                "x",
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_console_script_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sarcube.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("sarcube ")


def test_every_example_config_is_tested() -> None:
    shipped = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".toml", ".yaml", ".yml")}
    assert shipped == set(EXAMPLE_CONFIGS)


@pytest.mark.parametrize("name", sorted(EXAMPLE_CONFIGS))
def test_example_config_dry_run(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = EXAMPLES / name
    text = config.read_text()
    settings = tomllib.loads(text) if config.suffix == ".toml" else yaml.safe_load(text)
    if "stac" in settings["source"]:
        # the catalog the example's comment tells you to write first, where it expects it
        config = tmp_path / name
        config.write_text(text)
        catalog = Path(settings["source"]["stac"])
        assert catalog.parts[-2:] == ("catalog", "collection.json")
        sarcube.synthetic.write_event(tmp_path / catalog.parent.parent, (256, 256))
    before = set(config.parent.iterdir())
    with raise_if_dask_computes():
        assert main(["run", str(config), "--dry-run"]) == 0
    captured = capsys.readouterr()
    products, model = EXAMPLE_CONFIGS[name]
    assert captured.err == ""
    assert captured.out.startswith(f"sarcube run: {', '.join(products)} on a ")
    assert (model in captured.out) if model else ("model:" not in captured.out)
    assert "dry run: configuration checked and graph built; nothing computed" in captured.out
    assert set(config.parent.iterdir()) == before  # nothing written


def _subparsers(parser: Any) -> dict[str, Any]:
    import argparse

    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return found


def test_every_option_has_help_and_every_command_an_example() -> None:
    from sarcube.cli import _parser

    parser = _parser()
    commands = {"": parser, **_subparsers(parser)}
    assert set(commands) == {"", "demo", "run", "catalog", "catalog build"}
    for name, command in commands.items():
        for action in command._actions:
            if action.option_strings or action.dest not in ("command", "catalog_command"):
                assert action.help, f"sarcube {name}: {action.dest} has no help"
        text = command.format_help()
        assert "example" in text, f"sarcube {name} --help shows no example"
        for line in text.splitlines():
            if line.strip().startswith("sarcube "):
                assert line.strip().split()[1] in ("demo", "run", "catalog"), line
