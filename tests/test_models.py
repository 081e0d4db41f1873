"""The shipped flood model: loadable, small, and right on held-out OMBRIA chips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import sarcube
from sarcube.infer import most_likely_class, predict
from sarcube.models import UNet
from sarcube.models.ombria import (
    WEIGHTS,
    chip_numbers,
    prepare,
    prepare_chip,
    pretrained,
    read_chip,
)

from conftest import OMBRIA_DIR, missing_resource

#: measured on these 62 chips, no flips: ombria-s1-bitemporal 0.636, ombria-s1-efficientnet
#: 0.671, ombria-s1-efficientnet-256 0.691, ombria-s1-ensemble (the three EfficientNets) 0.693
#: (flood_map: 0.611)
MODEL_FLOOR = 0.62
EFFICIENT_FLOOR = 0.66
WHOLE_CHIP_FLOOR = 0.68
ENSEMBLE_FLOOR = 0.68


def test_every_shipped_model_loads_with_its_recorded_hash() -> None:
    from sarcube.infer import Ensemble, ModelSpec, file_sha256
    from sarcube.models import MODELS
    from sarcube.models.ombria import FOLDER, SHA256

    assert set(MODELS) == {
        "ombria-s1-bitemporal", "ombria-s1-efficientnet", "ombria-s1-efficientnet-dice",
        "ombria-s1-efficientnet-256", "ombria-s1-ensemble",
    }  # fmt: skip
    for name in MODELS:
        spec = pretrained(name)
        members = spec.members if isinstance(spec, Ensemble) else (spec,)
        for member in members:
            assert isinstance(member, ModelSpec) and member.sha256 == SHA256[member.name]
            assert file_sha256(FOLDER / f"{member.name}.pt") == member.sha256
            assert (FOLDER / f"{member.name}.pt").stat().st_size <= 8 * 2**20
            model = sarcube.infer.load_model(member, "cpu")
            with torch.inference_mode():
                out = model(torch.zeros(1, len(member.channels or ()), 64, 64))
            assert out.shape == (1, 2, 64, 64)
    ensemble = pretrained("ombria-s1-ensemble")
    assert isinstance(ensemble, Ensemble) and len(ensemble.members) == 3
    assert ensemble.channels == ("before", "after", "difference")


def test_pretrained_spec_and_weights() -> None:
    spec = pretrained()
    assert spec.name == "ombria-s1-bitemporal" and spec.kind == "state_dict"
    assert WEIGHTS.stat().st_size <= 20 * 2**20
    model = sarcube.infer.load_model(spec, "cpu")
    assert isinstance(model, UNet) and not model.training
    with torch.inference_mode():
        assert model(torch.zeros(1, 2, 64, 64)).shape == (1, 2, 64, 64)
    with pytest.raises(sarcube.errors.ParameterError, match="available"):
        pretrained("other")


def test_prepare_matches_the_training_preprocessing() -> None:
    rng = np.random.default_rng(0)
    before = rng.integers(0, 256, (64, 48)).astype(np.uint8)
    after = rng.integers(1, 255, (64, 48)).astype(np.uint8)
    lazy = prepare(
        xr.DataArray(before, dims=("y", "x")).chunk(20), xr.DataArray(after, dims=("y", "x"))
    )
    np.testing.assert_allclose(lazy.values, prepare_chip(before, after), atol=1e-4)


#: measured on these 62 chips (every 10th, held out), no flips: see docs/models.rst
FLOORS = {
    "ombria-s1-bitemporal": MODEL_FLOOR,
    "ombria-s1-efficientnet": EFFICIENT_FLOOR,
    "ombria-s1-efficientnet-256": WHOLE_CHIP_FLOOR,
    "ombria-s1-ensemble": ENSEMBLE_FLOOR,
}


@pytest.mark.real_data
def test_shipped_models_on_held_out_ombria_chips() -> None:
    folder = OMBRIA_DIR / "train"
    if not (folder / "AFTER").is_dir():
        missing_resource(f"OMBRIA chips not found at {folder}")
    held_out = [n for n in chip_numbers(folder) if n % 10 == 0]  # never seen in training

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        union = (a | b).sum()
        return 1.0 if union == 0 else float((a & b).sum() / union)

    scores: dict[str, list[float]] = {name: [] for name in (*FLOORS, "flood_map")}
    specs = {name: pretrained(name) for name in FLOORS}  # files read and hashed once
    for n in held_out:
        before_np, after_np, truth = read_chip(folder, n)
        before = xr.DataArray(before_np, dims=("y", "x"))
        after = xr.DataArray(after_np, dims=("y", "x"))
        maps = {"flood_map": sarcube.flood_map(before, after).values == 1}
        for name, spec in specs.items():
            image = prepare(before, after, channels=spec.channels or ("before", "after"))
            maps[name] = most_likely_class(predict(image, spec, n_classes=2)).values == 1
        for name, p in maps.items():
            scores[name].append(0.5 * (iou(p, truth) + iou(~p, ~truth)))
    means = {name: float(np.mean(v)) for name, v in scores.items()}
    print(means)
    for name, floor in FLOORS.items():
        assert means[name] > floor, (name, means[name])
        assert means[name] > means["flood_map"]
    assert means["ombria-s1-ensemble"] > means["ombria-s1-bitemporal"]


def test_resnet_unet_any_channels_checkpoint_round_trip(tmp_path: Path) -> None:
    import torch

    from sarcube.infer import ModelSpec, predict
    from sarcube.ml.train import _encoder
    from sarcube.models import ResUNet

    torch.manual_seed(0)
    net = ResUNet(in_channels=5, n_classes=3, base=4, blocks=(1, 2, 1)).eval()
    x = torch.randn(2, 5, 32, 48)
    assert net(x).shape == (2, 3, 32, 48)
    # the encoder/decoder split the training loop uses covers every parameter once
    encoder, decoder = net.encoder_parameters(), net.decoder_parameters()
    assert len(encoder) + len(decoder) == len(list(net.parameters()))
    assert {id(p) for p in _encoder(net, "train")} == {id(p) for p in encoder}
    path = tmp_path / "resnet.pt"
    torch.save(
        {
            "model_state_dict": net.state_dict(),
            "builder": "sarcube.models.resnet:ResUNet",
            "builder_kwargs": {"in_channels": 5, "n_classes": 3, "base": 4, "blocks": [1, 2, 1]},
            "name": "resnet-test",
        },
        path,
    )
    spec = ModelSpec.from_checkpoint(path, activation="none")
    image = xr.DataArray(
        np.random.default_rng(1).standard_normal((5, 32, 48)).astype(np.float32),
        dims=("channel", "y", "x"),
    )
    out = predict(image, spec, n_classes=3, window=32, stride=32, blend="uniform", optimize=False)
    with torch.inference_mode():
        direct = net(torch.from_numpy(image.values[None, :, :, :32]))[0].numpy()
    # the first 16 columns are covered by the first window alone
    np.testing.assert_allclose(out.values[:, :, :16], direct[:, :, :16], atol=1e-5)
    with pytest.raises(sarcube.errors.ParameterError, match="at least one residual block"):
        ResUNet(blocks=(2, 0))
