"""Writers killed with SIGKILL at several points: the old output stays whole, or the new one is.

Each writer replaces an older output of other data in a child process that
is killed after a random delay (seeded: the same points every run) while it
computes and writes. Afterwards the target is byte for byte the old output or
the complete new one, nothing else beside it looks like an output, and
writing again gives exactly what an uninterrupted run gives. ``to_zarr`` has
its own, finer test in ``test_faults.py`` (resume chunk by chunk).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube.pipeline import Pipeline

from conftest import kill_when

TESTS = Path(__file__).resolve().parent
WRITERS = ("cog", "vector", "chips", "run")
#: kill points per writer, seconds after the child is ready (it then computes and writes)
KILLS = 3


def _paced(block: np.ndarray) -> np.ndarray:
    time.sleep(float(os.environ.get("SARCUBE_TEST_PACE", "0")))
    return block


def _scene(seed: int) -> xr.Dataset:
    cube = sarcube.synthetic.make_scene((96, 96), seed=seed).cube.chunk({"y": 32, "x": 32})
    meta = np.empty((0, 0, 0), dtype=np.float32)
    return cube.map(lambda da: da.copy(data=da.data.map_blocks(_paced, dtype=da.dtype, meta=meta)))


def _config(out: Path, seed: int) -> dict[str, Any]:
    return {
        "source": {"synthetic": {"shape": [128, 128], "seed": seed}, "chunks": {"y": 32, "x": 32}},
        "flood_map": {"band": "vv"},
        # resume = false: the new run replaces the store of the older one
        "output": {"zarr": str(out / "flood.zarr"), "cog": str(out / "flood.tif"), "resume": False},
    }


def write(kind: str, out: Path, seed: int) -> None:
    """Write output *kind* of the scene of *seed* into the folder *out*, replacing what is there."""
    with dask.config.set(scheduler="synchronous"):
        if kind == "run":
            Pipeline.from_mapping(_config(out, seed)).run(progress=False, scheduler="synchronous")
            return
        cube = _scene(seed)
        flood = sarcube.flood_map(cube.isel(time=slice(0, -1)), cube.isel(time=-1))
        flood = flood.drop_vars([c for c in flood.coords if c not in ("y", "x", "spatial_ref")])
        if kind == "cog":
            sarcube.to_cog(flood, out / "flood.tif", overwrite=True)
        elif kind == "vector":
            sarcube.to_vector(flood == 1, out / "flood.geojson", overwrite=True)
        elif kind == "chips":
            sarcube.ml.to_chips(cube, out / "chips", bands=["vv", "vh"], size=32, overwrite=True)


def _child_main(kind: str, out: str, seed: int, ready: str) -> None:
    """In the child: import, touch *ready*, then write slowly until killed."""
    Path(ready).touch()
    write(kind, Path(out), seed)


def files(folder: Path) -> dict[str, bytes]:
    """Every file below *folder* (a store, a chip folder or a single output's folder)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def outputs(folder: Path, kind: str) -> dict[str, bytes]:
    """The files of the output itself, without anything a writer keeps beside it."""
    if kind == "run":
        found = files(folder / "flood.zarr") if (folder / "flood.zarr").exists() else {}
        cog = folder / "flood.tif"
        return {
            **{f"zarr/{k}": v for k, v in found.items()},
            **({"cog": cog.read_bytes()} if cog.exists() else {}),
        }
    return {k: v for k, v in files(folder).items() if not Path(k).parts[0].startswith(".")}


def _kill_at(kind: str, out: Path, seed: int, delay: float, tmp: Path) -> int:
    ready = tmp / f"ready-{kind}-{delay:.3f}"
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_kill; "
    code += f"test_kill._child_main({kind!r}, {str(out)!r}, {seed}, {str(ready)!r})"
    env = {**os.environ, "SARCUBE_TEST_PACE": "0.05"}
    return kill_when(code, ready.exists, delay=delay, env=env, what=f"the {kind} writer")


@pytest.mark.parametrize("kind", WRITERS)
def test_a_killed_writer_leaves_the_old_output_or_the_new_one(kind: str, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    write(kind, reference, seed=2)
    new = outputs(reference, kind)
    assert new
    rng = random.Random(f"{kind}-kills")
    killed = 0
    for trial in range(KILLS):
        out = tmp_path / f"out{trial}"
        out.mkdir()
        write(kind, out, seed=1)  # the older output, of other data
        old = outputs(out, kind)
        assert old and old != new
        code = _kill_at(kind, out, 2, rng.uniform(0.0, 1.5), tmp_path)
        killed += code == -signal.SIGKILL
        after = outputs(out, kind)
        if kind == "run":
            if after.get("cog") not in (old["cog"], new["cog"]):
                pytest.fail("the COG beside the store is neither the old one nor the new one")
            store = {k: v for k, v in after.items() if k.startswith("zarr/")}
            if store not in (
                {k: v for k, v in d.items() if k.startswith("zarr/")} for d in (old, new)
            ):
                # partly rewritten (or removed): then it must not open as if complete
                with pytest.raises(sarcube.errors.OutputError):
                    sarcube.open_zarr(out / "flood.zarr")
        else:
            assert after in (old, new), (
                f"{kind}: a half-written output after a kill at trial {trial}"
            )
        write(kind, out, seed=2)  # again, to the end: what an uninterrupted run writes
        assert outputs(out, kind) == new
        leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
        assert leftovers == [], f"{kind}: temporary files left after a complete write: {leftovers}"
    assert killed >= 1  # at least one kill landed while the writer was still running
