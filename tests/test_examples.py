"""The examples run end to end (each is a script a user copies first)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("script", "outputs"),
    [
        ("multisensor_flood.py", ["chips/index.csv"]),
        ("flood_exports.py", ["flood.tif", "flood_rle.csv", "villages.csv", "villages.parquet"]),
        (
            "insar_gauges.py",
            ["vertical_m.tif", "experiment.csv", "density_summary.csv"],
        ),
        (
            "kurosiwo_tiles.py",
            ["kurosiwo/index.json", "tile_classes.csv", "kurosiwo_tile.png"],
        ),
    ],
)
def test_example_runs(script: str, outputs: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::DeprecationWarning:sarcube",
            str(EXAMPLES / script),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in outputs:
        assert (tmp_path / name).is_file(), name
    assert any(tmp_path.iterdir())
