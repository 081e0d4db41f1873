"""Faults: a killed Zarr write and its resume, interrupted stores, a lost worker, bad assets."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dask
import numpy as np
import pystac
import pytest
import xarray as xr

import sarcube
from sarcube.errors import AssetReadError, OutputError

from conftest import kill_when, random_cube

TESTS = Path(__file__).resolve().parent

# --------------------------------------------------------------------------
# a write killed with SIGKILL, then resumed

SHAPE = (2, 64, 60)
CHUNKS = {"time": 1, "y": 16, "x": 15}  # 2 x 4 x 4 = 32 regions, each holding vv and vh
N_REGIONS = 32
STALL_AFTER = 5  # the child stops making progress once this many regions are recorded

_SEEN: list[tuple[int, ...]] = []  # chunk locations computed in this process


def _traced(
    block: np.ndarray,
    *,
    progress: str | None = None,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """The block unchanged; records its location. In the child, stalls to be killed mid-write."""
    assert block_info is not None
    _SEEN.append(tuple(block_info[0]["chunk-location"]))
    if progress is not None:
        time.sleep(0.02)
        if len(list(Path(progress).glob("*.done"))) >= STALL_AFTER:
            time.sleep(60)  # the test kills the process long before this ends
    return block


def _slow_cube(progress: str | None = None) -> xr.Dataset:
    cube = random_cube(SHAPE, seed=5).chunk(CHUNKS)
    meta = np.empty((0, 0, 0), dtype=np.float32)
    return cube.map(
        lambda da: da.copy(
            data=da.data.map_blocks(_traced, progress=progress, dtype=da.dtype, meta=meta)
        )
    )


def _child_main(store: str) -> None:
    """Run in a separate process by the test: writes the cube until it is killed."""
    sarcube.to_zarr(_slow_cube(progress=store + ".sarcube-progress"), store)


def _files(store: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()
    }


def _location(marker: str) -> tuple[int, ...]:
    """``time-y-x_0.2.1.done`` -> (0, 2, 1)."""
    return tuple(int(i) for i in marker.removesuffix(".done").split("_")[-1].split("."))


def _region(location: tuple[int, ...]) -> dict[str, slice]:
    return {
        dim: slice(i * CHUNKS[dim], (i + 1) * CHUNKS[dim])
        for dim, i in zip(("time", "y", "x"), location, strict=True)
    }


def test_sigkill_mid_write_then_resume(tmp_path: Path) -> None:
    store = tmp_path / "out.zarr"
    progress = tmp_path / "out.zarr.sarcube-progress"
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_faults; "
    code += f"test_faults._child_main({str(store)!r})"
    returncode = kill_when(
        code,
        lambda: len(list(progress.glob("*.done"))) >= STALL_AFTER,
        what="the writer",
        timeout=90,
    )
    assert returncode == -signal.SIGKILL

    markers = {p.name for p in progress.glob("*.done")}
    done = {_location(m) for m in markers}
    assert STALL_AFTER <= len(done) < N_REGIONS
    with dask.config.set(scheduler="synchronous"):
        reference = sarcube.to_zarr(_slow_cube(), tmp_path / "ref.zarr")
    expected = sarcube.open_zarr(reference).compute()

    # the interrupted store is refused, naming the fix
    with pytest.raises(OutputError, match=r"interrupted write.*resume=True"):
        sarcube.open_zarr(store)

    # a chunk cut short by the kill (garbage where a chunk belongs, a writer's
    # temporary file) must never read as data
    undone = sorted(set(np.ndindex(2, 4, 4)) - done)
    torn = store / "vv" / "c" / "/".join(map(str, undone[0]))
    torn.parent.mkdir(parents=True, exist_ok=True)
    torn.write_bytes(b"half a chunk")
    (torn.parent / f"{torn.name}.{uuid.uuid4().hex}.partial").write_bytes(b"half")

    masked = sarcube.open_zarr(store, incomplete="mask")
    assert masked["vv"].chunks == expected["vv"].chunk(CHUNKS).chunks
    masked = masked.compute()  # reading the torn chunk would fail to decode
    for location in np.ndindex(2, 4, 4):
        region = _region(location)
        for band in ("vv", "vh"):
            got = masked[band].isel(region).values
            if location in done:
                np.testing.assert_array_equal(got, expected[band].isel(region).values)
            else:
                assert np.isnan(got).all()
    xr.testing.assert_identical(masked["spatial_ref"], expected["spatial_ref"])

    _SEEN.clear()
    with dask.config.set(scheduler="synchronous"):
        sarcube.to_zarr(_slow_cube(), store, resume=True)
    # chunks recorded as done were not computed again; each other one once per band
    assert sorted(_SEEN) == sorted(undone * 2)
    assert not progress.exists()
    assert _files(store) == _files(reference)  # byte for byte, temporary file gone
    xr.testing.assert_identical(sarcube.open_zarr(store).compute(), expected)
    xr.testing.assert_identical(sarcube.open_zarr(store, incomplete="mask").compute(), expected)


# --------------------------------------------------------------------------
# a Dask worker process killed mid-compute


def _filtered_scene(markers: str | None) -> xr.Dataset:
    """Lee-filtered synthetic scene; with *markers*, each first-pass task is slow and leaves one.

    The first pass is defined in here so that workers receive it by value:
    importing this module in a worker could pick up the wrong ``conftest``.
    """

    def paced(block: np.ndarray) -> np.ndarray:
        if markers is not None:
            time.sleep(0.4)
            (Path(markers) / f"{os.getpid()}-{uuid.uuid4().hex}.done").touch()
        return block

    cube = sarcube.synthetic.make_scene((96, 96), seed=4).cube.chunk({"y": 48, "x": 48})
    meta = np.empty((0, 0, 0), dtype=np.float32)
    slow = cube.map(lambda da: da.copy(data=da.data.map_blocks(paced, dtype=da.dtype, meta=meta)))
    return sarcube.lee_filter(slow, size=5)  # a global ENL estimate, then a windowed pass


@pytest.mark.cluster
def test_worker_killed_mid_compute(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    with dask.config.set(scheduler="synchronous"):
        expected = sarcube.to_zarr(_filtered_scene(None), tmp_path / "expected.zarr")
    markers = tmp_path / "markers"
    markers.mkdir()
    killed: list[int] = []

    def kill_after_first_task(pids: set[int], stop: threading.Event) -> None:
        # a worker that has finished a task holds its result and is running the next one
        while not stop.is_set():
            for marker in markers.glob("*.done"):
                pid = int(marker.name.split("-")[0])
                if pid in pids:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.01)

    with (
        LocalCluster(  # a free loopback port: 8787 may be taken, and a failed bind leaks a socket
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = set(client.run(os.getpid).values())
        stop = threading.Event()
        killer = threading.Thread(target=kill_after_first_task, args=(pids, stop))
        killer.start()
        try:  # to_zarr computes on the client's cluster
            store = sarcube.to_zarr(_filtered_scene(str(markers)), tmp_path / "cluster.zarr")
        finally:
            stop.set()
            killer.join()
        client.wait_for_workers(2, timeout=60)  # the nanny started a new worker process
        after = set(client.run(os.getpid).values())
    assert len(killed) == 1 and killed[0] not in after and len(after) == 2
    assert _files(store) == _files(expected)  # the lost tasks were recomputed, nothing else
    xr.testing.assert_identical(
        sarcube.open_zarr(store).compute(), sarcube.open_zarr(expected).compute()
    )


# --------------------------------------------------------------------------
# STAC assets that cannot be read


# The server runs in its own process: rasterio opening files from several
# threads at once can stall a server that shares their interpreter.
_SERVER = r"""
import collections, functools, http.server, json, os, sys, time

root, config = sys.argv[1], json.loads(sys.argv[2])
requests, failures = collections.Counter(), collections.Counter()


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def translate_path(self, path):
        # /{prefix}/{name}: one file under several URLs, cached apart by GDAL
        return super().translate_path("/" + path.lstrip("/").partition("/")[2])

    def answer(self, body):
        if self.path == "/_stats":
            data = json.dumps({"requests": requests, "failures": failures}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        requests[self.path] += 1
        prefix, _, rest = self.path.lstrip("/").partition("/")
        name = self.path.partition("?")[0].rsplit("/", 1)[-1]
        if prefix in config["redirect"]:  # a hop to the same file under another prefix
            self.send_response(302)
            self.send_header("Location", "/moved/" + rest)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if config["delay"]:
            time.sleep(config["delay"])
        if name in config["always_fail"] or requests[self.path] <= config["fail_first"]:
            failures[self.path] += 1
            self.send_error(503, "Service Unavailable")
        elif name in config["truncated"] and body:
            # the full length announced, half the bytes sent, then the connection closed
            data = open(self.translate_path(self.path.partition("?")[0]), "rb").read()
            failures[self.path] += 1
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif name in config["garbage"]:
            junk = b"this is not a GeoTIFF" * 100
            self.send_response(200)
            self.send_header("Content-Length", str(len(junk)))
            self.end_headers()
            if body:
                self.wfile.write(junk)
        elif body:
            super().do_GET()
        else:
            super().do_HEAD()

    def do_GET(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)


handler = functools.partial(Handler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class _AssetServer:
    """A folder served over HTTP on 127.0.0.1 by a child process, failing requests on demand.

    A URL is ``{url}/{prefix}/{file name}``; the prefix is ignored when serving.
    *fail_first*: every URL answers 503 to its first requests; *always_fail*,
    *garbage* and *truncated*: file names that always answer 503, garbage
    bytes, or half their bytes under the full ``Content-Length``;
    *redirect*: prefixes answered with a 302 to ``/moved/...`` (the same
    file); *delay*: seconds every answer waits.
    """

    def __init__(
        self,
        root: Path,
        *,
        fail_first: int = 0,
        always_fail: tuple[str, ...] = (),
        garbage: tuple[str, ...] = (),
        truncated: tuple[str, ...] = (),
        redirect: tuple[str, ...] = (),
        delay: float = 0.0,
    ) -> None:
        config = {
            "fail_first": fail_first,
            "always_fail": always_fail,
            "garbage": garbage,
            "truncated": truncated,
            "redirect": redirect,
            "delay": delay,
        }
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(root), json.dumps(config)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self._process.stdout.readline())}"

    def failures(self) -> dict[str, int]:
        """Requests answered with 503 or a truncated body, by URL path."""
        with urllib.request.urlopen(self.url + "/_stats", timeout=10) as response:
            return dict(json.load(response)["failures"])

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
        assert self._process.stdout is not None
        self._process.stdout.close()


@pytest.fixture
def serve(synthetic_event: Any) -> Iterator[Callable[..., _AssetServer]]:
    """Start asset servers for the event's files; they are stopped after the test."""
    servers: list[_AssetServer] = []

    def start(**kwargs: Any) -> _AssetServer:
        servers.append(_AssetServer(synthetic_event.root / "data", **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _served(items: list[pystac.Item], base: str) -> list[pystac.Item]:
    """Copies of *items* whose assets point at *base* (the same file names)."""
    out = []
    for item in items:
        clone = item.clone()
        for asset in clone.assets.values():
            asset.href = f"{base}/{urlsplit(asset.href).path.rsplit('/', 1)[-1]}"
        out.append(clone)
    return out


LOAD = {"chunks": {"y": 48, "x": 40}, "retry_backoff_s": 0.01}


def _retried(caplog: pytest.LogCaptureFixture) -> set[str]:
    """Hrefs sarcube logged a retry for."""
    return {
        str(r.args[1])
        for r in caplog.records
        if r.name == "sarcube.io.stac" and "retry" in r.getMessage() and r.args
    }


def test_transient_http_errors_are_retried(
    serve: Callable[..., _AssetServer], synthetic_event: Any, caplog: pytest.LogCaptureFixture
) -> None:
    items = list(sarcube.search(synthetic_event.catalog))
    direct = sarcube.load(items, **LOAD).compute()  # from the files on disk
    asset_server = serve(fail_first=1)
    caplog.set_level(logging.WARNING, logger="sarcube.io.stac")

    # reads at compute time
    served = _served(items, asset_server.url + "/read")
    hrefs = {a.href for i in served for a in i.assets.values()}
    xr.testing.assert_identical(sarcube.load(served, **LOAD).compute(), direct)
    assert _retried(caplog) == hrefs
    assert {urlsplit(h).path for h in hrefs} <= set(asset_server.failures())

    # the probe of on_error="skip", before load builds the cube
    caplog.clear()
    served = _served(items, asset_server.url + "/probe")
    tolerant = sarcube.load(served, on_error="skip", **LOAD)
    assert sarcube.failed_assets(tolerant) == []
    assert _retried(caplog) == {a.href for i in served for a in i.assets.values()}
    xr.testing.assert_identical(tolerant.compute(), direct)


def test_persistent_http_error_raises_after_the_retries(
    serve: Callable[..., _AssetServer], synthetic_event: Any
) -> None:
    items = list(sarcube.search(synthetic_event.catalog))
    victim = urlsplit(items[1].assets["vh"].href).path.rsplit("/", 1)[-1]
    asset_server = serve(always_fail=(victim,))
    served = _served(items, asset_server.url + "/raise")
    href = served[1].assets["vh"].href
    start = time.monotonic()
    cube = sarcube.load(served, retries=2, **LOAD)
    with pytest.raises(AssetReadError, match=re.escape(href) + ".*after 3 attempts"):
        cube.compute()
    assert asset_server.failures()[urlsplit(href).path] >= 3  # each attempt asked the server

    served = _served(items, asset_server.url + "/skip")
    tolerant = sarcube.load(served, on_error="skip", retries=2, **LOAD)
    (failed,) = sarcube.failed_assets(tolerant)
    assert (failed.item, failed.band, failed.href) == (
        items[1].id,
        "vh",
        served[1].assets["vh"].href,
    )
    assert "after 3 attempts" in failed.error
    assert tolerant.sizes["time"] == 2
    assert time.monotonic() - start < 30  # bounded: no retries beyond the policy


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_redirects_and_slow_answers_are_followed(
    serve: Callable[..., _AssetServer], synthetic_event: Any
) -> None:
    items = list(sarcube.search(synthetic_event.catalog))
    direct = sarcube.load(items, **LOAD).compute()
    asset_server = serve(redirect=("hop",), delay=0.05)
    served = _served(items, asset_server.url + "/hop")
    xr.testing.assert_identical(sarcube.load(served, **LOAD).compute(), direct)
    tolerant = sarcube.load(served, on_error="skip", **LOAD)
    assert sarcube.failed_assets(tolerant) == []
    xr.testing.assert_identical(tolerant.compute(), direct)


@pytest.mark.parametrize(
    "fault", ["missing-file", "refused", "garbage-over-http", "truncated-over-http"]
)
def test_unreadable_asset_raises_or_is_skipped(
    fault: str, serve: Callable[..., _AssetServer], synthetic_event: Any, tmp_path: Path
) -> None:
    items = [i.clone() for i in sarcube.search(synthetic_event.catalog)]
    asset = items[1].assets["vh"]
    if fault == "missing-file":
        asset.href = (tmp_path / "gone.tif").as_uri()
    elif fault == "refused":
        asset.href = f"http://127.0.0.1:{_closed_port()}/x/gone.tif"
    elif fault == "garbage-over-http":
        name = urlsplit(asset.href).path.rsplit("/", 1)[-1]
        asset.href = f"{serve(garbage=(name,)).url}/x/{name}"
    else:
        name = urlsplit(asset.href).path.rsplit("/", 1)[-1]
        asset.href = f"{serve(truncated=(name,)).url}/x/{name}"
    href = asset.href

    # on_error="raise": planning does no I/O; the lazy cube raises when computed
    plan = sarcube.plan_load(items, retries=1, **LOAD)
    assert len(plan.items) == 3 and plan.retries == 1
    cube = sarcube.load(items, retries=1, **LOAD)
    with pytest.raises(AssetReadError, match=re.escape(href)):
        cube.compute()
    if fault == "missing-file":  # an eager load raises in load itself
        with pytest.raises(AssetReadError, match=re.escape(href)):
            sarcube.load(items, retries=1)

    # on_error="skip": load opens every asset and leaves the item out
    tolerant = sarcube.load(items, on_error="skip", retries=1, **LOAD)
    (failed,) = sarcube.failed_assets(tolerant)
    assert (failed.item, failed.band, failed.href) == (items[1].id, "vh", href)
    assert tolerant.sizes["time"] == 2
    assert not np.isnan(tolerant["vh"].values).all(axis=(1, 2)).any()


# --------------------------------------------------------------------------
# signed URLs: the secret never reaches a log, an error, attrs or a store

SECRET = "s3cr3tSIGvalue42"
PASSWORD = "hunter2pw"


def _signed(items: list[pystac.Item], base: str) -> list[pystac.Item]:
    """Copies of *items* with SAS-style signed hrefs; the vh assets also carry user:password@."""
    out = []
    host = urlsplit(base)
    for item in items:
        clone = item.clone()
        for band, asset in clone.assets.items():
            name = urlsplit(asset.href).path.rsplit("/", 1)[-1]
            netloc = f"reader:{PASSWORD}@{host.netloc}" if band == "vh" else host.netloc
            asset.href = (
                f"{host.scheme}://{netloc}{host.path}/{name}"
                f"?sv=2022-11-02&se=2030-01-01T00%3A00%3A00Z&sp=r&sig={SECRET}"
            )
        out.append(clone)
    return out


def _leaks(text: str) -> list[str]:
    return [s for s in (SECRET, PASSWORD) if s in text]


def test_credentials_in_hrefs_never_leak(
    serve: Callable[..., _AssetServer],
    synthetic_event: Any,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    import traceback

    items = list(sarcube.search(synthetic_event.catalog))
    victim = urlsplit(items[1].assets["vh"].href).path.rsplit("/", 1)[-1]
    asset_server = serve(always_fail=(victim,))
    caplog.set_level(logging.WARNING, logger="sarcube.io.stac")
    served = _signed(items, asset_server.url + "/signed")

    # on_error="skip": the failed asset is listed, redacted, and the store holds no secret
    tolerant = sarcube.load(served, on_error="skip", retries=1, **LOAD)
    (failed,) = sarcube.failed_assets(tolerant)
    assert failed.band == "vh" and "sig=REDACTED" in failed.href and "REDACTED@" in failed.href
    assert not _leaks(repr(failed)) and not _leaks(repr(tolerant.attrs))
    store = sarcube.to_zarr(tolerant, tmp_path / "cube.zarr")
    for path in store.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and PASSWORD.encode() not in data, path
    assert caplog.records and not _leaks("\n".join(r.getMessage() for r in caplog.records))

    # on_error="raise": the error names the asset without its secret, traceback included
    caplog.clear()
    cube = sarcube.load(served, retries=1, **LOAD)
    with pytest.raises(AssetReadError) as info:
        cube.compute()
    message = "".join(traceback.format_exception(info.value))
    assert "sig=REDACTED" in str(info.value) and not _leaks(message)
    assert not _leaks("\n".join(r.getMessage() for r in caplog.records))


# --------------------------------------------------------------------------
# a bounded soak: the same job many times in one process does not grow


def test_repeated_load_filter_flood_map_does_not_grow_memory(synthetic_event: Any) -> None:
    """200 runs of search → load → Lee → flood_map → compute in one process: after a
    warm-up of 40 runs (caches filled, kernels compiled) the resident memory grows by
    less than 20 MB over the next 160."""
    import gc

    import psutil

    process = psutil.Process()

    def run() -> None:
        items = list(sarcube.search(synthetic_event.catalog))
        cube = sarcube.lee_filter(sarcube.load(items, **LOAD), size=5, enl=4.4)
        flood = sarcube.flood_map(cube.isel(time=slice(0, -1)), cube.isel(time=-1), band="vv")
        assert int(flood.compute().max()) <= 255

    rss = []
    for i in range(200):
        run()
        if i in (39, 199):
            gc.collect()
            rss.append(process.memory_info().rss)
    assert rss[1] - rss[0] < 20e6, f"grew by {(rss[1] - rss[0]) / 1e6:.1f} MB"
