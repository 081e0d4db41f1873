"""The notebooks under examples/notebooks run top to bottom, and are stored without outputs.

Each is executed in a fresh kernel (nbclient, the engine behind ``jupyter
nbconvert --execute``) in a temporary folder, with ``SARCUBE_DATA`` pointing at
the real data; a cell that raises fails the test with the cell's traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, SHARED_DATA, missing_resource

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))
#: The data each notebook reads under ../shared/data.
NEEDS = {
    "clamp_matters.ipynb": (),
    "continental_cube.ipynb": (),
    "flood_mapping.ipynb": ("ombria-s1",),
    "insar_gauges.ipynb": (),
    "sar_basics.ipynb": ("opera-rtc-s1",),
}


def test_every_notebook_is_listed() -> None:
    assert NOTEBOOKS, "no notebooks found"
    assert {p.name for p in NOTEBOOKS} == set(NEEDS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name}: clear the outputs before committing"
            )
    prose = sum(len(c.source) for c in notebook.cells if c.cell_type == "markdown")
    code = sum(len(c.source) for c in notebook.cells if c.cell_type == "code")
    assert prose > 0.5 * code, f"{path.name}: a walkthrough explains its steps"


@pytest.mark.real_data
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for folder in NEEDS[path.name]:
        if not (SHARED_DATA / folder).is_dir():
            missing_resource(f"{SHARED_DATA / folder} (real data) is missing")
    monkeypatch.setenv("SARCUBE_DATA", str(SHARED_DATA))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    figures = sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert figures >= 1, f"{path.name}: the figures are shown inline ({figures})"
