"""The training recipe: losses against hand-computed values, augmentations by their properties,
and the training options (freezing, differential learning rates, MixUp, precision, early stop)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sarcube.models
from sarcube.errors import ParameterError
from sarcube.ml import Augment, ChipDataset, gamma_speckle_db, make_loss, train
from sarcube.ml.losses import focal, lovasz_softmax, tversky


def _logits(probs: list[float]) -> torch.Tensor:
    """Two-class logits (1, 2, 1, n) whose softmax gives class-1 probabilities *probs*."""
    p = torch.tensor(probs, dtype=torch.float64)
    return torch.stack([torch.log(1 - p), torch.log(p)])[None, :, None, :]


TARGET = torch.tensor([[[1, 1, 0, 0]]])
PROBS = [0.9, 0.6, 0.3, 0.2]  # class-1 probabilities of the four pixels


def test_tversky_weights_false_negatives_by_alpha() -> None:
    # class 1: TP = 0.9 + 0.6, FN = 0.1 + 0.4, FP = 0.3 + 0.2
    # class 0: TP = 0.7 + 0.8, FN = 0.3 + 0.2, FP = 0.1 + 0.4
    tp, fn, fp = 1.5, 0.5, 0.5
    for alpha, beta in ((0.9, 0.1), (0.5, 0.5), (0.2, 0.8)):
        index = (tp + 1) / (tp + alpha * fn + beta * fp + 1)
        got = float(tversky(alpha, beta)(_logits(PROBS), TARGET))
        assert got == pytest.approx(1 - index, abs=1e-6)
    # asymmetric case: only false negatives on class 1
    target = torch.tensor([[[1, 1, 1, 1]]])
    logits = _logits([1 - 1e-9, 1 - 1e-9, 0.5, 0.5])
    # class 1: TP = 3, FN = 1, FP = 0; class 0: TP = 0, FN = 0, FP = 1
    expected = 1 - 0.5 * ((3 + 1) / (3 + 0.9 * 1 + 1) + 1 / (0.1 * 1 + 1))
    assert float(tversky(0.9, 0.1)(logits, target)) == pytest.approx(expected, abs=1e-6)
    weighted = tversky(0.9, 0.1, class_weights=[0.0, 1.0])(logits, target)
    assert float(weighted) == pytest.approx(1 - 4 / 4.9, abs=1e-6)


def test_focal_is_cross_entropy_weighted_by_the_miss() -> None:
    logits = _logits(PROBS)
    p_true = np.array([0.9, 0.6, 0.7, 0.8])
    for gamma in (0.0, 2.0, 5.0):
        expected = np.mean((1 - p_true) ** gamma * -np.log(p_true))
        assert float(focal(gamma)(logits, TARGET)) == pytest.approx(expected, rel=1e-6)
    assert float(focal(0.0)(logits, TARGET)) == pytest.approx(
        float(F.cross_entropy(logits, TARGET)), rel=1e-6
    )


def test_class_weighted_cross_entropy_is_torchs() -> None:
    logits = _logits(PROBS)
    got = make_loss("ce", class_weights=[1.0, 3.0])(logits, TARGET)
    expected = F.cross_entropy(logits, TARGET, weight=torch.tensor([0.5, 1.5], dtype=torch.float64))
    assert float(got) == pytest.approx(float(expected), rel=1e-6)


def test_lovasz_is_one_minus_iou_at_hard_predictions() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        truth = rng.integers(0, 3, (2, 9, 7))
        pred = rng.integers(0, 3, (2, 9, 7))
        logits = F.one_hot(torch.from_numpy(pred), 3).permute(0, 3, 1, 2).double() * 60
        ious = [((pred == c) & (truth == c)).sum() / ((pred == c) | (truth == c)).sum()
                for c in range(3) if (truth == c).any()]  # fmt: skip
        got = float(lovasz_softmax()(logits, torch.from_numpy(truth)))
        assert got == pytest.approx(1 - np.mean(ious), abs=1e-6)
    # per image: the mean of each image's value
    per_image = lovasz_softmax(per_image=True)(logits, torch.from_numpy(truth))
    each = [float(lovasz_softmax()(logits[i : i + 1], torch.from_numpy(truth[i : i + 1])))
            for i in range(2)]  # fmt: skip
    assert float(per_image) == pytest.approx(np.mean(each), abs=1e-9)


def test_lovasz_ignores_pixels_and_has_gradients() -> None:
    logits = _logits(PROBS).float().requires_grad_(True)
    target = torch.tensor([[[1, 255, 0, 255]]])
    value = lovasz_softmax()(logits, target)
    value.backward()  # type: ignore[no-untyped-call]
    assert logits.grad is not None and float(logits.grad[..., 1].abs().sum()) == 0
    both = lovasz_softmax()(_logits([0.9, 0.3]), torch.tensor([[[1, 0]]]))
    assert float(value.detach()) == pytest.approx(float(both), abs=1e-6)


def test_weighted_sums_of_losses() -> None:
    logits = _logits(PROBS)
    formula = "0.15*ce+0.25*dice+0.60*tversky+0.20*focal"
    parts = {n: float(make_loss(n)(logits, TARGET)) for n in ("ce", "dice", "tversky", "focal")}
    expected = (
        0.15 * parts["ce"] + 0.25 * parts["dice"] + 0.6 * parts["tversky"] + 0.2 * parts["focal"]
    )
    assert float(make_loss(formula)(logits, TARGET)) == pytest.approx(expected, rel=1e-6)
    assert float(make_loss("ce + .5*lovasz")(logits, TARGET)) == pytest.approx(
        parts["ce"] + 0.5 * float(make_loss("lovasz")(logits, TARGET)), rel=1e-6
    )
    for bad in ("", "ce+", "2**ce", "ce*0.5", "dice+hinge"):
        with pytest.raises(ParameterError):
            make_loss(bad)
    with pytest.raises(ParameterError, match="3 values for 2 classes"):
        make_loss("ce", class_weights=[1, 2, 3])(logits, TARGET)


# --------------------------------------------------------------------------
# augmentations


def _chip(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((16, 12)) > 0.5).astype(np.uint8)
    x = np.stack([y * 2.0 - 1, rng.normal(size=(16, 12))]).astype(np.float32)
    return x, y


def test_flips_move_input_and_label_together() -> None:
    x, y = _chip()
    rng = np.random.default_rng(1)
    for _ in range(12):
        xa, ya = Augment()(x, y, rng)
        np.testing.assert_array_equal(xa[0], ya * 2.0 - 1)
        assert sorted(xa[1].ravel()) == pytest.approx(sorted(x[1].ravel()))


def test_radiometric_changes_stay_in_their_ranges() -> None:
    x = np.ones((3, 8, 8), np.float32)
    y = np.zeros((8, 8), np.uint8)
    rng = np.random.default_rng(2)
    for _ in range(20):
        xa, ya = Augment(flips=False, gain=(0.5, 2.0), probability=1)(x, y, rng)
        assert np.all((xa >= 0.5) & (xa <= 2.0)) and np.all(xa == xa[:, :1, :1])
        xb, _ = Augment(flips=False, offset=(-0.3, 0.1), probability=1)(x, y, rng)
        assert np.all((xb >= 0.7) & (xb <= 1.1))
        np.testing.assert_array_equal(ya, y)


def test_gamma_keeps_the_range_and_the_order() -> None:
    x, y = _chip()
    rng = np.random.default_rng(3)
    xa, _ = Augment(flips=False, gamma=(0.5, 2.0), probability=1)(x, y, rng)
    for c in range(2):
        assert xa[c].min() == pytest.approx(x[c].min(), abs=1e-5)
        assert xa[c].max() == pytest.approx(x[c].max(), abs=1e-5)
        order = np.argsort(x[c].ravel(), kind="stable")
        assert np.all(np.diff(xa[c].ravel()[order]) >= -1e-6)


def test_gamma_speckle_has_unit_mean_and_variance_one_over_looks() -> None:
    rng = np.random.default_rng(4)
    for looks in (1.0, 4.4):
        linear = 10 ** (gamma_speckle_db((400_000,), looks, rng) / 10)
        assert linear.mean() == pytest.approx(1, abs=0.01)
        assert linear.var() == pytest.approx(1 / looks, rel=0.03)
    x = np.zeros((2, 64, 64), np.float32)
    xa, _ = Augment(flips=False, speckle_looks=4.4, db_per_unit=4.0, probability=1)(
        x, np.zeros((64, 64), np.uint8), rng
    )
    # the dB standard deviation of 4.4-look speckle is about 2.2 dB, here over 4 dB per unit
    assert xa.std() == pytest.approx(np.std(gamma_speckle_db((100_000,), 4.4, rng)) / 4, rel=0.05)


def test_elastic_and_cutout() -> None:
    x, y = _chip()
    rng = np.random.default_rng(5)
    same, same_y = Augment(flips=False, elastic=(0.0, 3.0), probability=1)(x, y, rng)
    np.testing.assert_allclose(same, x, atol=1e-6)
    np.testing.assert_array_equal(same_y, y)
    moved, moved_y = Augment(flips=False, elastic=(4.0, 3.0), probability=1)(x, y, rng)
    assert set(np.unique(moved_y)) <= {0, 1} and not np.array_equal(moved_y, y)
    # the input moves with the label: channel 0 was the label's image
    assert np.mean(np.sign(moved[0]) == np.where(moved_y == 1, 1, -1)) > 0.9
    holed, holed_y = Augment(flips=False, cutout=(2, 4), fill=-7.0, probability=1)(x, y, rng)
    holes = holed == -7.0
    assert holes[0].sum() <= 2 * 16 and holes[0].sum() >= 16 and np.array_equal(holes[0], holes[1])
    np.testing.assert_array_equal(holed_y, y)


def test_a_seeded_dataset_repeats_its_augmentations() -> None:
    x, y = _chip()
    inputs, labels = np.stack([x, x]), np.stack([y, y])
    aug = Augment(gain=(0.8, 1.2), speckle_looks=4.0, elastic=(2.0, 3.0), cutout=(1, 3))
    first = [ChipDataset(inputs, labels, augment=aug, seed=7)[i] for i in (0, 1)]
    again = [ChipDataset(inputs, labels, augment=aug, seed=7)[i] for i in (0, 1)]
    for (xa, ya), (xb, yb) in zip(first, again, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


@pytest.mark.parametrize(
    "kwargs",
    [{"gain": (1.2, 0.8)}, {"gain": (0.0, 1.0)}, {"speckle_looks": 0}, {"elastic": (1.0, 0.0)},
     {"cutout": (1, 0)}, {"probability": 1.5}, {"db_per_unit": 0}],
)  # fmt: skip
def test_bad_augmentations_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ParameterError, match="Augment"):
        Augment(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# training options


def _data(n: int = 8, seed: int = 0) -> tuple[ChipDataset, ChipDataset]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3, 32, 32)).astype(np.float32)
    y = (x[:, 1] > 0.2).astype(np.uint8)
    return ChipDataset(x, y, augment=True), ChipDataset(x, y)


def _tiny_eff() -> sarcube.models.EfficientUNet:
    torch.manual_seed(0)
    return sarcube.models.EfficientUNet(3, 2, decoder=(8, 8, 8, 8, 8))


def test_a_frozen_encoder_keeps_its_weights_and_statistics() -> None:
    model = _tiny_eff()
    before = {
        k: v.clone()
        for k, v in model.state_dict().items()
        if k.startswith(("_conv_stem", "_bn0", "_blocks"))
    }
    snapshots: list[dict[str, torch.Tensor]] = []

    def snap(_: dict[str, float]) -> None:
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})

    log = train(model, *_data(), epochs=2, batch_size=4, freeze_encoder=1, encoder_lr=1e-3,
                on_epoch=snap, monitor="loss")  # fmt: skip
    after_frozen = snapshots[0]
    for key, value in before.items():
        assert torch.equal(after_frozen[key], value), key
    assert any(not torch.equal(snapshots[1][k], v) for k, v in before.items() if "weight" in k)
    decoder_key = "head.weight"
    assert not torch.equal(after_frozen[decoder_key], _tiny_eff().state_dict()[decoder_key])
    assert "encoder_lr" in log.epochs[0] and "val_iou_1" in log.epochs[0]
    assert all(p.requires_grad for p in model.parameters())


def test_encoder_options_need_an_encoder() -> None:
    net = sarcube.models.UNet(3, 2, base=4, depth=2)
    with pytest.raises(ParameterError, match="encoder_parameters"):
        train(net, *_data(), epochs=2, encoder_lr=1e-3)


def test_early_stopping_mixup_clipping_and_bf16() -> None:
    train_set, val_set = _data()
    # a learning rate too small to change any prediction: no epoch beats the first
    log = train(_tiny_eff(), train_set, val_set, epochs=6, batch_size=4, lr=1e-12, patience=2)
    assert [r["epoch"] for r in log.epochs] == [1, 2, 3] and log.best_epoch == 1
    log = train(_tiny_eff(), train_set, val_set, epochs=2, batch_size=4, mixup=0.4,
                grad_clip=0.5, precision="bf16", loss="0.5*ce+0.5*lovasz")  # fmt: skip
    assert all(math.isfinite(r["train_loss"]) for r in log.epochs)
    assert log.settings["precision"] == "bf16" and log.settings["mixup"] == 0.4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"precision": "fp8"}, "precision"), ({"mixup": -1}, "mixup"), ({"monitor": "acc"}, "monitor"),
     ({"patience": 0}, "patience"), ({"grad_clip": 0}, "grad_clip"),
     ({"freeze_encoder": 3}, "freeze_encoder"), ({"precision": "fp16", "device": "cpu"}, "CUDA"),
     ({"monitor": "iou_7"}, "not in the log")],
)  # fmt: skip
def test_bad_training_options_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        train(_tiny_eff(), *_data(), epochs=3, batch_size=4, **kwargs)  # type: ignore[arg-type]


def test_the_imagenet_weights_fill_the_encoder() -> None:
    from sarcube.models.efficientnet import imagenet_weights

    state = torch.load(imagenet_weights(), weights_only=True)
    net = sarcube.models.EfficientUNet(in_channels=3, pretrained=True)
    np.testing.assert_array_equal(
        net._blocks[5]._depthwise_conv.weight.detach(), state["_blocks.5._depthwise_conv.weight"]
    )
    assert net._bn0.eps == 1e-3
    two = sarcube.models.EfficientUNet(in_channels=2, pretrained=True)
    stem = state["_conv_stem.weight"]
    np.testing.assert_allclose(
        two._conv_stem.weight.detach(),
        stem.mean(1, keepdim=True).repeat(1, 2, 1, 1) * 1.5,
        rtol=1e-6,
    )
    # features of a pretrained encoder: an ImageNet-like image gives non-trivial activations
    with torch.inference_mode():
        out = net.eval()(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 2, 64, 64) and torch.isfinite(out).all()
