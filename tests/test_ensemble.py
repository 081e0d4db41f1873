"""Ensembles in predict, channels by name, checkpoints that name their architecture."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
import torch
import xarray as xr

import sarcube
import sarcube.models
import sarcube.models.ombria
from sarcube.errors import BandNotFoundError, InputNotFoundError, ParameterError
from sarcube.infer import Ensemble, ModelSpec, clear_model_cache, model_cache_info, predict

from conftest import raise_if_dask_computes


class _Net(torch.nn.Module):
    def __init__(self, cin: int = 2, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = torch.nn.Conv2d(cin, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 2, (5, 3), padding=(2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.tanh(self.conv1(x)))


def net_a() -> torch.nn.Module:
    return _Net(seed=0)


def net_b() -> torch.nn.Module:
    return _Net(seed=1)


def net_one_channel() -> torch.nn.Module:
    return _Net(cin=1, seed=2)


A = ModelSpec(factory=net_a, name="a")
B = ModelSpec(factory=net_b, name="b")
OPTIONS = dict(n_classes=2, window=32, stride=24)


def _image(shape: tuple[int, int] = (80, 72)) -> xr.DataArray:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2, *shape)).astype(np.float32)
    return xr.DataArray(data, dims=("channel", "y", "x"), coords={"channel": ["before", "after"]})


def test_an_ensemble_is_the_weighted_mean_of_its_members() -> None:
    image = _image()
    pa = predict(image, A, **OPTIONS, tta="flip4").values  # type: ignore[arg-type]
    pb = predict(image, B, **OPTIONS, tta="flip4").values  # type: ignore[arg-type]
    both = predict(image, Ensemble((A, B), weights=(3, 1)), **OPTIONS, tta="flip4")  # type: ignore[arg-type]
    np.testing.assert_allclose(both.values, 0.75 * pa + 0.25 * pb, atol=2e-6)
    np.testing.assert_allclose(both.sum("class"), 1, atol=1e-5)
    same = predict(image, Ensemble((A, A)), **OPTIONS).values  # type: ignore[arg-type]
    np.testing.assert_allclose(same, predict(image, A, **OPTIONS).values, atol=1e-6)  # type: ignore[arg-type]


def test_an_ensemble_is_lazy_chunk_invariant_and_loads_each_member_once() -> None:
    image = _image((96, 88))
    expected = predict(image, Ensemble((A, B)), **OPTIONS).values  # type: ignore[arg-type]
    clear_model_cache()
    with raise_if_dask_computes():
        lazy = predict(image.chunk({"y": 40, "x": 50}), Ensemble((A, B)), **OPTIONS)  # type: ignore[arg-type]
    with dask.config.set(scheduler="synchronous"):
        got = lazy.compute()
    np.testing.assert_allclose(got.values, expected, atol=1e-6)
    assert model_cache_info() == {"a": 1, "b": 1}  # 6 chunks, one load per member


def test_members_take_their_channels_by_name() -> None:
    image = _image()
    after_only = ModelSpec(factory=net_one_channel, name="one", channels=("after",))
    expected = predict(image.sel(channel=["after"]), after_only, **OPTIONS).values  # type: ignore[arg-type]
    got = predict(image, after_only, **OPTIONS).values  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, expected)
    swapped = ModelSpec(factory=net_a, name="swapped", channels=("after", "before"))
    np.testing.assert_allclose(
        predict(image, swapped, **OPTIONS).values,  # type: ignore[arg-type]
        predict(image.isel(channel=[1, 0]), A, **OPTIONS).values,  # type: ignore[arg-type]
        atol=1e-6,
    )
    mixed = Ensemble((A, after_only))
    assert mixed.channels is None  # A names none
    np.testing.assert_allclose(
        predict(image, mixed, **OPTIONS).values,  # type: ignore[arg-type]
        0.5 * predict(image, A, **OPTIONS).values + 0.5 * expected,  # type: ignore[arg-type]
        atol=2e-6,
    )
    with pytest.raises(BandNotFoundError, match="difference"):
        predict(image, ModelSpec(factory=net_a, channels=("after", "difference")), **OPTIONS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Ensemble(()), "one or more ModelSpec"),
        (lambda: Ensemble((A, "b")), "one or more ModelSpec"),  # type: ignore[arg-type]
        (lambda: Ensemble((A, B), weights=(1,)), "2 non-negative numbers"),
        (lambda: Ensemble((A, B), weights=(1, -1)), "non-negative"),
        (lambda: Ensemble((A, B), weights=(0, 0)), "positive sum"),
        (lambda: ModelSpec(factory=net_a, channels=("a", "a")), "distinct"),
    ],
)
def test_bad_ensembles_are_refused(make: object, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        make()  # type: ignore[operator]


def _trained_checkpoint(tmp_path: Path, builder: str) -> Path:
    from sarcube.ml import ChipDataset, train

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3, 32, 32)).astype(np.float32)
    y = (x[:, 1] > 0).astype(np.uint8)
    model = sarcube.models.EfficientUNet(in_channels=3, n_classes=2, decoder=(8, 8, 8, 8, 8))
    path = tmp_path / "eff.pt"
    info = {
        "builder": builder,
        "builder_kwargs": {"in_channels": 3, "n_classes": 2, "decoder": (8, 8, 8, 8, 8)},
        "channels": ["before", "after", "difference"],
        "name": "tiny-eff",
    }
    train(model, ChipDataset(x, y), ChipDataset(x, y), epochs=1, batch_size=4,
          checkpoint=path, checkpoint_info=info)  # fmt: skip
    return path


def test_a_checkpoint_with_its_architecture_rebuilds(tmp_path: Path) -> None:
    path = _trained_checkpoint(tmp_path, "sarcube.models.efficientnet:EfficientUNet")
    spec = ModelSpec.from_checkpoint(path)
    assert spec.name == "tiny-eff" and spec.channels == ("before", "after", "difference")
    before, after = (xr.DataArray(np.random.default_rng(i).normal(size=(64, 64)), dims=("y", "x"))
                     for i in range(2))  # fmt: skip
    image = sarcube.models.ombria.prepare(before, after, channels=spec.channels)
    probs = predict(image, spec, n_classes=2, window=32, stride=32)
    content = torch.load(path, weights_only=True)
    model = sarcube.models.EfficientUNet(**content["builder_kwargs"])
    model.load_state_dict(content["model_state_dict"])
    with torch.inference_mode():
        direct = torch.softmax(model.eval()(torch.from_numpy(image.values[None, :, :32, :32])), 1)
    np.testing.assert_allclose(probs.values[:, :32, :32], direct[0].numpy(), atol=1e-4)
    # the same nested file through the plain state_dict form
    plain = ModelSpec(state_dict=str(path), builder=content["builder"],
                      builder_kwargs=content["builder_kwargs"])  # fmt: skip
    np.testing.assert_allclose(
        predict(image, plain, n_classes=2, window=32, stride=32).values, probs.values, atol=1e-6
    )


def test_a_checkpoint_naming_a_foreign_builder_needs_trust(tmp_path: Path) -> None:
    path = _trained_checkpoint(tmp_path, f"{__name__}:net_a")
    with pytest.raises(ParameterError, match="trust_builder=True"):
        ModelSpec.from_checkpoint(path)
    assert ModelSpec.from_checkpoint(path, trust_builder=True).builder == f"{__name__}:net_a"
    weights_only = tmp_path / "w.pt"
    torch.save(net_a().state_dict(), weights_only)
    with pytest.raises(ParameterError, match="does not name its architecture"):
        ModelSpec.from_checkpoint(weights_only)
    with pytest.raises(InputNotFoundError, match="no checkpoint file"):
        ModelSpec.from_checkpoint(tmp_path / "missing.pt")
