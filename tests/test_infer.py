"""Tiled inference: the blended map of a reference loop, for any chunking; one load per worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import sarcube
import sarcube.infer._predict as _predict
import sarcube.infer._preflight as _preflight
import sarcube.models
from sarcube.errors import DimensionError, InputNotFoundError, ParameterError
from sarcube.infer import (
    ModelSpec,
    most_likely_class,
    predict,
    ramp_weights,
    stack_channels,
    sweep_norms,
    window_starts,
)

from conftest import raise_if_dask_computes


class _TinyNet(torch.nn.Module):
    """Two channels in, three classes out; asymmetric kernels, so flips matter."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 3, (5, 3), padding=(2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.tanh(self.conv1(x)))


def tiny_net() -> torch.nn.Module:
    return _TinyNet()


def _save_torchscript(path: Path) -> None:
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; files still load
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(tiny_net()), path)


def _image(shape: tuple[int, int] = (150, 130)) -> xr.DataArray:
    cube = sarcube.synthetic.make_scene(shape, seed=2, nodata_edge=False).cube.isel(time=-1)
    db = sarcube.to_db(cube)
    stack = xr.concat([(db["vv"] + 12) / 5, (db["vh"] + 20) / 5], dim="band")
    return stack.assign_coords(band=["vv", "vh"])


def _reference(image: np.ndarray, window: int, stride: int, blend: str, tta: str) -> np.ndarray:
    """The definition: pad symmetrically, predict every window of the grid, weighted mean."""
    model = tiny_net().eval()
    h, w = image.shape[1:]
    pad = window
    padded = np.pad(image, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")
    weight = np.outer(*(2 * [ramp_weights(window, stride, blend)]))
    acc = np.zeros((3, h + 2 * pad, w + 2 * pad))
    wsum = np.zeros((h + 2 * pad, w + 2 * pad))
    flips = [()] if tta == "none" else [(), (-1,), (-2,), (-2, -1)]
    for sy in window_starts(h, window, stride):
        for sx in window_starts(w, window, stride):
            patch = torch.from_numpy(
                padded[:, sy + pad : sy + pad + window, sx + pad : sx + pad + window].copy()
            )[None].float()
            probs = 0
            with torch.no_grad():
                for dims in flips:
                    x = patch.flip(dims) if dims else patch
                    p = torch.softmax(model(x), 1)
                    probs = probs + (p.flip(dims) if dims else p)
            probs = (probs / len(flips))[0].numpy()
            acc[:, sy + pad : sy + pad + window, sx + pad : sx + pad + window] += probs * weight
            wsum[sy + pad : sy + pad + window, sx + pad : sx + pad + window] += weight
    return acc[:, pad : pad + h, pad : pad + w] / wsum[pad : pad + h, pad : pad + w]


SPEC = ModelSpec(factory=tiny_net, name="tiny")


def test_window_grid_covers_the_image() -> None:
    starts = window_starts(130, 64, 48)
    assert starts[0] == -8 and np.all(np.diff(starts) == 48)
    assert starts[-1] + 64 >= 130 > starts[-1] + 64 - 48
    w = ramp_weights(64, 48, "ramp")
    assert w.min() == pytest.approx(1 / 16) and w.max() == 1 and np.allclose(w, w[::-1])


@pytest.mark.parametrize(("blend", "tta"), [("ramp", "none"), ("uniform", "flip4")])
def test_predict_equals_the_reference(blend: str, tta: str) -> None:
    image = _image()
    probs = predict(image, SPEC, n_classes=3, window=64, stride=48, blend=blend, tta=tta)  # type: ignore[arg-type]
    expected = _reference(image.values.astype(np.float32), 64, 48, blend, tta)
    np.testing.assert_allclose(probs.values, expected, atol=2e-6)
    assert probs.dims == ("class", "y", "x") and probs.dtype == np.float32
    assert probs.rio.crs == image.rio.crs
    np.testing.assert_allclose(probs.sum("class"), 1, atol=1e-5)


def _bn_unet() -> torch.nn.Module:
    torch.manual_seed(1)
    model = sarcube.models.UNet(in_channels=2, n_classes=3, base=4, depth=2)
    for module in model.modules():  # batch norms with non-trivial statistics to fold
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model


def test_optimized_model_gives_the_plain_models_probabilities() -> None:
    image = _image((96, 80))
    spec = ModelSpec(factory=_bn_unet, name="bn-unet")
    options = dict(n_classes=3, window=32, stride=24, tta="flip4")
    plain = predict(image, spec, **options, optimize=False).values  # type: ignore[arg-type]
    fast = predict(image, spec, **options).values  # type: ignore[arg-type]
    np.testing.assert_allclose(fast, plain, atol=1e-5)
    folded = sarcube.infer.load_model(spec, "cpu", optimize=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    low = predict(image, spec, **options, dtype="bfloat16").values  # type: ignore[arg-type]
    assert low.dtype == np.float32 and np.abs(low - plain).max() < 0.05
    assert (low.argmax(0) == plain.argmax(0)).mean() > 0.95


@pytest.mark.parametrize("chunks", [{"y": 100, "x": 90}, {"y": 37, "x": 41}, {"y": 150, "x": 65}])
def test_predict_is_lazy_and_chunk_invariant(chunks: dict[str, int]) -> None:
    image = _image()
    image[0, 5:9, 7:12] = np.nan
    eager = predict(image, SPEC, n_classes=3, window=64, stride=48, tta="flip4", batch_size=5)
    with raise_if_dask_computes():
        lazy = predict(
            image.chunk({"band": 1, **chunks}),
            SPEC,
            n_classes=3,
            window=64,
            stride=48,
            tta="flip4",
            batch_size=3,
        )
    assert np.nanmax(np.abs(lazy.values - eager.values)) <= 1e-5
    assert np.isnan(eager.values[:, 5:9, 7:12]).all()
    assert np.isnan(lazy.values[:, 5:9, 7:12]).all()
    assert np.isfinite(eager.values[:, 10:, :]).all()
    labels = most_likely_class(lazy)
    assert labels.dtype == np.uint8 and (labels.values[5:9, 7:12] == 255).all()
    np.testing.assert_array_equal(labels.values[10:], np.nanargmax(eager.values[:, 10:], axis=0))


def test_classify_is_a_deprecated_alias_of_most_likely_class() -> None:
    probs = xr.DataArray(
        np.array([[[0.9, 0.2, np.nan]], [[0.1, 0.8, np.nan]]]), dims=("class", "y", "x")
    )
    with pytest.warns(DeprecationWarning, match="renamed most_likely_class"):
        old = sarcube.infer.classify(probs, nodata=9)
    xr.testing.assert_identical(old, most_likely_class(probs, nodata=9))


def test_state_dict_torchscript_and_export_specs(tmp_path: Path) -> None:
    image = _image((80, 70))
    torch.save(tiny_net().state_dict(), tmp_path / "tiny.pth")
    _save_torchscript(tmp_path / "tiny.pt")
    auto = torch.export.Dim.AUTO
    program = torch.export.export(
        tiny_net().eval(),
        (torch.zeros(2, 2, 32, 32),),
        dynamic_shapes=({0: auto, 2: auto, 3: auto},),
    )
    torch.export.save(program, tmp_path / "tiny.pt2")
    by_factory = predict(image, SPEC, n_classes=3, window=64, stride=32, batch_size=3)
    for spec in (
        ModelSpec(state_dict=str(tmp_path / "tiny.pth"), builder=f"{__name__}:tiny_net"),
        ModelSpec(torchscript=str(tmp_path / "tiny.pt"), trusted=True),
        ModelSpec(exported=str(tmp_path / "tiny.pt2"), name="exported", trusted=True),
    ):
        out = predict(image, spec, n_classes=3, window=64, stride=32, batch_size=3)
        np.testing.assert_allclose(out.values, by_factory.values, atol=1e-6)
    (tmp_path / "junk.pt2").write_bytes(b"not a program")
    with pytest.raises(ParameterError, match=r"torch\.export program"):
        predict(
            image,
            ModelSpec(exported=str(tmp_path / "junk.pt2"), trusted=True),
            n_classes=3,
            window=64,
            stride=32,
        )


def test_files_that_can_run_code_need_trust_and_hashes_are_checked(tmp_path: Path) -> None:
    from sarcube.infer import file_sha256

    script, weights = tmp_path / "tiny.pt", tmp_path / "tiny.pth"
    _save_torchscript(script)
    torch.save(tiny_net().state_dict(), weights)
    with pytest.raises(ParameterError, match="can run code embedded in it; pass trusted=True"):
        ModelSpec(torchscript=str(script))
    digest = file_sha256(weights)
    spec = ModelSpec(state_dict=str(weights), builder=tiny_net, sha256=digest.upper())
    assert spec.sha256 == digest  # no trust needed for weights; the hash is kept lower-case
    with pytest.raises(ParameterError, match="not the expected"):
        ModelSpec(state_dict=str(weights), builder=tiny_net, sha256="0" * 64)
    with pytest.raises(ParameterError, match="64 hex digits"):
        ModelSpec(state_dict=str(weights), builder=tiny_net, sha256="abc")
    with pytest.raises(ParameterError, match="has none"):
        ModelSpec(factory=tiny_net, sha256=digest)
    # the file changes after the spec was made: the process that loads it refuses it
    sarcube.infer.clear_model_cache()
    torch.save(_TinyNet().state_dict() | {"conv1.bias": torch.ones(4)}, weights)
    with pytest.raises(ParameterError, match="not the expected"):
        sarcube.infer.load_model(spec, "cpu")


def test_predict_bad_input(tmp_path: Path) -> None:
    image = _image((80, 70))
    with pytest.raises(ParameterError, match="exactly one"):
        ModelSpec()
    with pytest.raises(InputNotFoundError, match="no model file"):
        ModelSpec(torchscript=str(tmp_path / "missing.pt"))
    with pytest.raises(ParameterError, match="stride"):
        predict(image, SPEC, n_classes=3, window=32, stride=48)
    with pytest.raises(DimensionError, match="smaller than the window"):
        predict(image, SPEC, n_classes=3, window=96, stride=48)
    with pytest.raises(DimensionError, match="channel dim"):
        predict(image.expand_dims(time=1), SPEC, n_classes=3, window=32, stride=16)
    with pytest.raises(ParameterError, match="tta"):
        predict(image, SPEC, n_classes=3, window=32, stride=16, tta="rot8")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="torch device name"):
        predict(image, SPEC, n_classes=3, window=32, stride=16, device="gpu")
    # the model is probed once, on a zero window, before any graph is built
    with raise_if_dask_computes(), pytest.raises(ParameterError, match="pass n_classes=3"):
        predict(image.chunk(40), SPEC, n_classes=2, window=32, stride=16)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this process has a CUDA device")
def test_cuda_without_a_gpu_is_refused_at_call_and_in_the_task() -> None:
    image = _image((80, 70))
    with pytest.raises(ParameterError, match=r"no CUDA device.*device='auto'"):
        predict(image, SPEC, n_classes=3, window=32, stride=16, device="cuda")
    with pytest.raises(ParameterError, match="this worker has no CUDA device"):
        _preflight.resolve_device("cuda:0")  # what a worker without a GPU raises


@pytest.mark.cluster
def test_model_loads_once_per_worker_process(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    path = tmp_path / "tiny.pt"
    _save_torchscript(path)
    spec = ModelSpec(torchscript=str(path), name="tiny-script", trusted=True)
    image = _image().chunk({"band": 1, "y": 64, "x": 65})  # 3 × 2 = 6 chunks
    eager = predict(_image(), spec, n_classes=3, window=64, stride=48)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as client,
    ):
        lazy = predict(image, spec, n_classes=3, window=64, stride=48)
        result = client.compute(lazy).result()
        loads = client.run(lambda: sarcube.infer.model_cache_info().get("tiny-script", 0))
        devices = client.run(lambda: _preflight.resolve_device("auto"))
    assert sum(loads.values()) >= 1 and all(n <= 1 for n in loads.values())
    assert set(devices.values()) == {"cpu"}  # no CUDA in these workers
    assert np.nanmax(np.abs(result.values - eager.values)) <= 1e-5


def test_auto_device_is_resolved_in_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    image = _image((80, 70))
    options = dict(n_classes=3, window=64, stride=32, batch_size=3)
    on_cpu = predict(image, SPEC, **options, device="cpu").values  # type: ignore[arg-type]
    # a client that sees CUDA builds the graph; the process that runs it has none
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with raise_if_dask_computes():
        lazy = predict(image.chunk({"band": 1, "y": 40, "x": 35}), SPEC, **options)  # type: ignore[arg-type]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _preflight.resolve_device("auto") == "cpu"
    np.testing.assert_allclose(lazy.values, on_cpu, atol=1e-6)
    # with CUDA, "auto" is the process's current device: cuda:0 under dask-cuda,
    # which gives each worker its own GPU through CUDA_VISIBLE_DEVICES
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert _preflight.resolve_device("auto") == "cuda:0"
    assert _preflight.resolve_device("cuda:1") == "cuda:1"


@pytest.mark.parametrize("chunks", [None, {"band": 1, "y": 37, "x": 41}])
def test_blending_with_device_tensors_equals_the_host_views(
    monkeypatch: pytest.MonkeyPatch, chunks: dict[str, int] | None
) -> None:
    """The torch slicing that runs on a GPU, checked on the CPU against the numpy views."""
    image = _image()
    image[1, 20:24, 30:33] = np.nan
    data = image if chunks is None else image.chunk(chunks)
    options = dict(n_classes=3, window=64, stride=40, tta="flip4", batch_size=4)
    on_host = predict(data, SPEC, **options).values  # type: ignore[arg-type]
    monkeypatch.setattr(_predict, "blend_on_host", lambda device: False)
    on_device = predict(data, SPEC, **options).values  # type: ignore[arg-type]
    np.testing.assert_array_equal(np.isnan(on_device), np.isnan(on_host))
    assert np.isnan(on_device[:, 20:24, 30:33]).all()
    np.testing.assert_allclose(on_device, on_host, atol=1e-6, equal_nan=True)


def test_gpu_check_script_runs_on_the_cpu() -> None:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_TIMEOUT": "240"}
    done = subprocess.run(
        ["bash", str(script), "--size", "small", "--device", "cpu"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("RESULT ")
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["ok"] and result["device"] == "cpu" and result["size"] == 384
    assert result["fp32_mpixel_per_s"] > 0 and result["bf16_mpixel_per_s"] > 0
    assert result["fp32_max_abs_diff"] <= 1e-5 and result["fp32_class_agreement"] == 1
    assert result["bf16_class_agreement"] >= 0.98
    assert any(line.startswith("float32") and "Mpixel/s" in line for line in lines)
    assert any(line.startswith("bfloat16") and "Mpixel/s" in line for line in lines)


def test_accessor_predict() -> None:
    image = _image((80, 70))
    xr.testing.assert_identical(
        image.sar.predict(SPEC, n_classes=3, window=64, stride=32),
        predict(image, SPEC, n_classes=3, window=64, stride=32),
    )


def test_stack_channels_order_and_normalisation() -> None:
    cube = sarcube.synthetic.make_scene((40, 30), seed=1).cube.chunk({"time": 1, "y": 20})
    config = sarcube.NormConfig(
        clamp=0.3, mean={"vv": 0.05, "vh": 0.01}, std={"vv": 0.02, "vh": 0.005}
    )
    with raise_if_dask_computes():
        stack = stack_channels(cube, bands=["vv", "vh"], times=[-3, -2, -1], norm=config)
    assert stack.dims == ("channel", "y", "x") and stack.sizes["channel"] == 6
    assert stack["channel"].values.tolist() == ["vv@0", "vh@0", "vv@1", "vh@1", "vv@2", "vh@2"]
    expected = sarcube.normalise(cube["vh"].isel(time=1), config, band="vh")
    np.testing.assert_allclose(stack.sel(channel="vh@1").values, expected.values, rtol=1e-6)
    by_label = stack_channels(cube, bands=["vh"], times=[cube["time"].values[0]])
    np.testing.assert_array_equal(by_label.values[0], cube["vh"].isel(time=0).values)
    with pytest.raises(DimensionError, match="times="):
        stack_channels(cube, bands=["vv"])
    with pytest.raises(sarcube.errors.BandNotFoundError):
        stack_channels(cube, bands=["hh"], times=[0])


def test_sweep_norms_reports_class_percentages() -> None:
    cube = sarcube.synthetic.make_scene((70, 64), seed=1, nodata_edge=False).cube
    configs = {
        f"clamp {c}": sarcube.NormConfig.from_stats(
            sarcube.clamp_stats(cube, (c,), dims=("time", "y", "x")).compute(), clamp=c
        )
        for c in (0.15, 0.5)
    }
    spec = ModelSpec(factory=tiny_net, name="tiny")
    report = sweep_norms(
        cube, spec, configs, bands=["vv", "vh"], times=[-1], n_classes=3, window=64, stride=32
    )
    assert list(report) == ["clamp 0.15", "clamp 0.5"]
    for row in report.values():
        assert sum(v for k, v in row.items() if k != "nodata") == pytest.approx(100)
    assert report["clamp 0.15"] != report["clamp 0.5"]
