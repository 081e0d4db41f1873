"""Shared fixtures.

Resources the suite needs (the real data in ``../shared/data``, the STAC API
server) are *required* when the ``CI`` environment variable is set: a missing
resource then fails the test instead of skipping it, so CI never passes by
skipping. Locally they skip with a reason naming the fix.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import dask
import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SARCUBE_SHARED_DATA", ROOT.parent / "shared" / "data"))
OPERA_DIR = SHARED_DATA / "opera-rtc-s1"
OMBRIA_DIR = SHARED_DATA / "ombria-s1"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_resource(reason: str) -> NoReturn:
    """Fail in CI, skip elsewhere."""
    if in_ci():
        pytest.fail(f"required test resource missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


class _ComputeCounter:
    """A dask scheduler that counts compute calls and can refuse them."""

    def __init__(self, max_computes: int) -> None:
        self.max_computes = max_computes
        self.total = 0

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        self.total += 1
        if self.total > self.max_computes:
            raise RuntimeError(f"too many dask computes: {self.total} > {self.max_computes}")
        return dask.get(dsk, keys, **kwargs)


@contextmanager
def raise_if_dask_computes(max_computes: int = 0) -> Iterator[_ComputeCounter]:
    """Fail when code computes a dask graph (as xarray's own test helper does)."""
    counter = _ComputeCounter(max_computes)
    with dask.config.set(scheduler=counter):
        yield counter


def random_cube(
    shape: tuple[int, int, int] = (2, 23, 31), seed: int = 0, nan_block: bool = True
) -> xr.Dataset:
    """A small dual-pol cube with gamma-distributed power, NaN holes and coords."""
    rng = np.random.default_rng(seed)
    nt, ny, nx = shape
    vv = rng.gamma(4.4, 0.08 / 4.4, size=shape).astype(np.float32)
    vh = (vv * rng.gamma(4.4, 0.2 / 4.4, size=shape)).astype(np.float32)
    if nan_block:
        vv[0, :9, :13] = np.nan  # a whole chunk at chunks (1, 7, 11) and more
        vh[:, 5, 5] = np.nan
    coords = {
        "time": np.array(["2024-05-02", "2024-05-14", "2024-05-26"][:nt], dtype="datetime64[ns]")
        if nt <= 3
        else np.arange(nt),
        "y": 5_000_000.0 - 20.0 * np.arange(ny),
        "x": 500_000.0 + 20.0 * np.arange(nx),
        "spatial_ref": xr.DataArray(np.int32(32633), attrs={"crs_wkt": "EPSG:32633"}),
    }
    return xr.Dataset(
        {
            "vv": (
                ("time", "y", "x"),
                vv,
                {"units": "1", "long_name": "VV backscatter (linear power)"},
            ),
            "vh": (
                ("time", "y", "x"),
                vh,
                {"units": "1", "long_name": "VH backscatter (linear power)"},
            ),
        },
        coords=coords,
        attrs={"source": "test"},
    )


#: Chunkings every array operation is checked on: numpy, odd small chunks, one chunk.
CHUNKINGS = [None, {"time": 1, "y": 7, "x": 11}, {"time": 2, "y": 23, "x": 31}]


@pytest.fixture(params=CHUNKINGS, ids=["numpy", "odd-chunks", "one-chunk"])
def chunks(request: pytest.FixtureRequest) -> dict[str, int] | None:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def opera_dir() -> Path:
    if not any(OPERA_DIR.glob("*/*/*/*.tif")):
        missing_resource(f"OPERA RTC-S1 GeoTIFFs not found under {OPERA_DIR}")
    return OPERA_DIR


@pytest.fixture(scope="session")
def opera_catalog(opera_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static STAC collection built from the real OPERA RTC-S1 files."""
    from sarcube.catalog import build

    out = tmp_path_factory.mktemp("opera-catalog")
    build(opera_dir, out, collection_id="opera-rtc-s1")
    return out / "collection.json"


@pytest.fixture(scope="session")
def synthetic_event(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A small synthetic flood event written as COGs with a static catalog."""
    from sarcube.synthetic import write_event

    return write_event(tmp_path_factory.mktemp("synthetic"), (96, 80), seed=3)


def kill_when(
    code: str,
    ready: Callable[[], bool],
    *,
    delay: float = 0.0,
    env: dict[str, str] | None = None,
    what: str = "the child",
    timeout: float = 120.0,
) -> int:
    """Run ``python -c code``, SIGKILL it *delay* s after *ready()* holds; its return code.

    Fails the test if the child ends before it is ready or is not ready in
    *timeout* seconds; the child never outlives the call.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if child.poll() is not None:
                pytest.fail(f"{what} ended before it was killed: {child.communicate()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} was not ready to be killed in {timeout:.0f} s")
            time.sleep(0.01)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    return int(child.returncode)
