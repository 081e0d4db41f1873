"""Chips for torch, losses, and the training loop on a task it must learn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sarcube.errors import DimensionError, ParameterError
from sarcube.ml import (
    ChipDataset,
    TrainingLog,
    evaluate,
    make_loss,
    plot_training_log,
    to_chips,
    train,
)
from sarcube.ml.train import image_miou
from sarcube.models import UNet


def _task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images whose dark blobs are the class to find."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:32, :32]
    labels = np.zeros((n, 32, 32), np.uint8)
    for i in range(n):
        cy, cx, r = [*rng.integers(6, 26, 2).tolist(), int(rng.integers(4, 9))]
        labels[i] = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    inputs = (1.0 - 2.0 * labels[:, None] + rng.normal(0, 0.6, (n, 1, 32, 32))).astype(np.float32)
    return inputs, labels


def test_dataset_augments_input_and_label_alike() -> None:
    inputs, labels = _task(6, 0)
    ds = ChipDataset(
        np.concatenate([inputs, labels[:, None].astype(np.float32)], 1),
        labels,
        augment=True,
        crop=24,
    )
    for i in range(6):
        x, y = ds[i]
        assert x.shape == (2, 24, 24) and y.shape == (24, 24) and y.dtype == torch.int64
        np.testing.assert_array_equal(x[1].numpy(), y.numpy())
    with pytest.raises(DimensionError):
        ChipDataset(inputs[:, 0], labels)
    with pytest.raises(ParameterError, match="NaN"):
        ChipDataset(inputs * np.nan, labels)


def test_losses() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 8, 8)
    target = torch.randint(0, 3, (2, 8, 8))
    target[0, 0, 0] = 255
    assert torch.isclose(
        make_loss("ce")(logits, target), F.cross_entropy(logits, target, ignore_index=255)
    )
    perfect = F.one_hot(target.clamp(0, 2), 3).permute(0, 3, 1, 2).float() * 50
    assert float(make_loss("dice")(perfect, target)) < 1e-3
    assert float(make_loss("focal")(perfect, target)) < 1e-6
    both = make_loss("ce+dice")(logits, target)
    assert torch.isclose(both, make_loss("ce")(logits, target) + make_loss("dice")(logits, target))
    assert float(make_loss("tversky")(logits, target)) > 0
    with pytest.raises(ParameterError, match="unknown loss"):
        make_loss("hinge")


def test_image_miou_counts_absent_classes_as_one() -> None:
    truth = np.array([[1, 1], [0, 255]])
    assert image_miou(np.array([[1, 0], [0, 1]]), truth, 2, 255) == pytest.approx((0.5 + 0.5) / 2)
    assert image_miou(np.ones((2, 2)), np.ones((2, 2)), 2, 255) == 1.0


def test_train_learns_keeps_the_best_epoch_and_is_reproducible(tmp_path: Path) -> None:
    inputs, labels = _task(48, 1)
    val_inputs, val_labels = _task(16, 2)
    val = ChipDataset(val_inputs, val_labels)

    def run(name: str) -> tuple[TrainingLog, torch.nn.Module]:
        torch.manual_seed(0)
        model = UNet(in_channels=1, n_classes=2, base=4, depth=2)
        log = train(
            model,
            ChipDataset(inputs, labels, augment=True),
            val,
            epochs=4,
            batch_size=8,
            lr=1e-2,
            seed=3,
            checkpoint=tmp_path / f"{name}.pt",
            log_path=tmp_path / f"{name}.json",
        )
        return log, model

    before = evaluate(UNet(in_channels=1, n_classes=2, base=4, depth=2), val)["miou"]
    log, model = run("a")
    assert log.best_val_miou > 0.8 > before
    assert log.best_val_miou == max(r["val_miou"] for r in log.epochs)
    assert evaluate(model, val)["miou"] == pytest.approx(log.best_val_miou)  # best weights back
    saved = torch.load(tmp_path / "a.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert TrainingLog.from_json(tmp_path / "a.json") == log
    log_b, model_b = run("b")
    assert log_b.epochs == [
        r | {"seconds": rb["seconds"]} for r, rb in zip(log.epochs, log_b.epochs, strict=True)
    ]
    assert all(torch.equal(model_b.state_dict()[k], v) for k, v in model.state_dict().items())
    fig = plot_training_log(log, path=tmp_path / "log.png")
    assert (tmp_path / "log.png").read_bytes().startswith(b"\x89PNG")
    loss_ax, iou_ax, lr_ax = fig.axes
    assert loss_ax.get_ylabel() == "loss"
    labels = [line.get_label() for line in iou_ax.get_lines()]
    assert labels[:3] == ["mIoU", "class 0", "class 1"] and "best: epoch" in labels[-1]
    assert lr_ax.get_lines()[0].get_ydata().tolist() == [r["lr"] for r in log.epochs]


def test_to_chips_writes_georeferenced_chips_and_an_index(tmp_path: Path) -> None:
    import rasterio

    import sarcube

    scene = sarcube.synthetic.make_scene((100, 90), seed=3)
    cube = scene.cube.chunk({"time": 1, "y": 40, "x": 40})
    label = scene.flood.isel(time=-1, drop=True)
    index = to_chips(cube, tmp_path / "stack", bands=["vv", "vh"], size=32, max_nodata=0.5)
    # 4 x 3 positions (the last row/column flush with the edge), some dropped for nodata
    assert 0 < len(index) <= 12
    assert set(index["row"]) <= {0, 32, 64, 68} and set(index["col"]) <= {0, 32, 58}
    assert (index["nodata_fraction"] <= 0.5).all()
    first = index.iloc[0]
    with rasterio.open(tmp_path / "stack" / "image" / f"{first.chip_id}.tif") as src:
        assert src.count == 6 and src.crs.to_epsg() == 32633  # 3 dates x 2 bands, time-major
        data = src.read()
        assert (src.bounds.left, src.bounds.top) == (first.minx, first.maxy)
    window = {"y": slice(first.row, first.row + 32), "x": slice(first.col, first.col + 32)}
    np.testing.assert_array_equal(data[3], cube["vh"].isel(time=1, **window).values)
    assert (tmp_path / "stack" / "index.csv").read_text().startswith("chip_id,row,col")

    triplets = to_chips(
        cube,
        tmp_path / "triplets",
        bands=["vv"],
        size=32,
        stride=16,
        layout="triplets",
        times=[0, 1, 2],
        label=label,
        max_nodata=0.0,
        class_fractions={1: (0.05, 1.0)},
    )
    assert len(triplets) > 0 and (triplets["class_1_fraction"] >= 0.05).all()
    assert (triplets["nodata_fraction"] == 0).all()
    assert sorted(p.name for p in (tmp_path / "triplets").iterdir()) == [
        "index.csv",
        "label",
        "t0",
        "t1",
        "t2",
    ]
    with pytest.raises(sarcube.errors.OutputError, match="overwrite"):
        to_chips(cube, tmp_path / "stack", bands=["vv"], size=32)
    with pytest.raises(ParameterError, match="label"):
        to_chips(cube, tmp_path / "x", bands=["vv"], class_fractions={1: (0.1, 1)})
    assert not (tmp_path / "x").exists()
    with pytest.raises(ParameterError, match="needs a label map"):
        to_chips(cube, tmp_path / "x", bands=["vv"], max_label_nodata=0.5)
    with pytest.raises(ParameterError, match=r"max_label_nodata must be in \[0, 1\]"):
        to_chips(cube, tmp_path / "x", bands=["vv"], label=label, max_label_nodata=2.0)
    assert not (tmp_path / "x").exists()


def test_to_chips_drops_chips_whose_label_is_mostly_unlabelled(tmp_path: Path) -> None:
    import sarcube

    scene = sarcube.synthetic.make_scene((64, 64), seed=3, nodata_edge=False)
    label = scene.flood.isel(time=-1, drop=True).astype("uint8")
    label[:32, :48] = 255  # the top-left chip is all unlabelled, the top-right one half
    options: dict[str, Any] = {"bands": ["vv"], "size": 32, "label": label}
    kept = to_chips(scene.cube, tmp_path / "all", **options)
    by_position = kept.set_index(["row", "col"])["label_nodata_fraction"]
    assert by_position.to_dict() == {(0, 0): 1.0, (0, 32): 0.5, (32, 0): 0.0, (32, 32): 0.0}
    half = to_chips(scene.cube, tmp_path / "half", max_label_nodata=0.5, **options)
    assert sorted(zip(half["row"], half["col"], strict=True)) == [(0, 32), (32, 0), (32, 32)]
    none = to_chips(scene.cube, tmp_path / "none", max_label_nodata=0.0, **options)
    assert sorted(zip(none["row"], none["col"], strict=True)) == [(32, 0), (32, 32)]
    assert len(list((tmp_path / "none" / "label").iterdir())) == 2


def test_to_kurosiwo_writes_the_dataset_layout_and_index(tmp_path: Path) -> None:
    import json
    import pickle

    import rasterio

    import sarcube
    from sarcube.ml import to_kurosiwo

    scene = sarcube.synthetic.make_scene((100, 90), seed=3, nodata_edge=False)
    cube = scene.cube.chunk({"time": 1, "y": 40, "x": 40})
    label = scene.flood.isel(time=-1, drop=True).astype("uint8")
    label[:10, :10] = 255
    table = to_kurosiwo(
        cube, tmp_path / "ks", event=470, aoi=1, label=label, size=32, max_nodata=0.5,
        climatic_zone=2,
    )  # fmt: skip
    # 4 x 3 tiles (the last row/column flush with the edge), all kept
    assert len(table) == 12 and set(table["row"]) == {0, 32, 64, 68}
    index = json.loads((tmp_path / "ks" / "index.json").read_text())
    assert sorted(index) == sorted(table["tile"])
    first = index["470_01_000000_000000"]
    assert (first["actid"], first["aoiid"], first["clz"]) == (470, 1, 2)
    folder = tmp_path / "ks" / "data" / first["path"]
    assert first["path"] == "470/01/470_01_000000_000000"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{r}_I{b}.tif" for r in ("MS1", "SL1", "SL2") for b in ("VV", "VH")]
        + ["MK0_MLU.tif", "MK0_MNA.tif", "info.json"]
    )
    info = json.loads((folder / "info.json").read_text())
    assert info["dates"]["MS1"].startswith(str(cube["time"].values[-1])[:10])
    assert info["dates"]["SL1"].startswith(str(cube["time"].values[-2])[:10])
    assert -180 <= info["lon"] <= 180 and -90 <= info["lat"] <= 90
    with rasterio.open(folder / "MS1_IVH.tif") as src:
        np.testing.assert_array_equal(
            src.read(1), cube["vh"].isel(time=-1, y=slice(0, 32), x=slice(0, 32)).values
        )
        assert src.crs == cube.rio.crs and (src.bounds.left, src.bounds.top) == tuple(
            info["bounds"][::3]
        )
    with rasterio.open(folder / "SL2_IVV.tif") as src:
        np.testing.assert_array_equal(
            src.read(1), cube["vv"].isel(time=-3, y=slice(0, 32), x=slice(0, 32)).values
        )
    with rasterio.open(folder / "MK0_MNA.tif") as src:
        valid = src.read(1)
    assert valid[:10, :10].sum() == 0 and valid[10:, 10:].all()  # unlabelled pixels are not valid
    assert info["nodata_fraction"] == pytest.approx(100 / 32**2)
    assert not (tmp_path / "ks" / "index.pkl").exists()  # a pickle only when asked for

    again = to_kurosiwo(
        cube, tmp_path / "ks", event=470, aoi=1, size=32, overwrite=True, write_pickle=True
    )
    with open(tmp_path / "ks" / "index.pkl", "rb") as f:
        assert pickle.load(f) == json.loads((tmp_path / "ks" / "index.json").read_text())
    assert (
        len(again) == 12 and not (tmp_path / "ks" / "data" / first["path"] / "MK0_MLU.tif").exists()
    )
    with pytest.raises(sarcube.errors.OutputError, match="overwrite"):
        to_kurosiwo(cube, tmp_path / "ks", event=470, aoi=1, size=32)
    for bad, match in (
        ({"pre": (-1, -2)}, "must differ"),
        ({"post": 5}, "not one of the cube's 3 dates"),
        ({"aoi": -1}, "aoi must be"),
        ({"event": "../x"}, "path separator"),
    ):
        with pytest.raises(sarcube.errors.ParameterError, match=match):
            to_kurosiwo(cube, tmp_path / "bad", **{"event": 1, "aoi": 1, "size": 32, **bad})
    with pytest.raises(sarcube.errors.DimensionError, match="three dates"):
        to_kurosiwo(cube.isel(time=[0, 1]), tmp_path / "bad", event=1, aoi=1, size=32)
    assert not (tmp_path / "bad").exists()


def test_to_kurosiwo_appends_areas_to_one_root(tmp_path: Path) -> None:
    import json
    import pickle

    import dask.array as dsa
    import rasterio

    import sarcube
    from sarcube.ml import to_kurosiwo

    scene = sarcube.synthetic.make_scene((64, 96), seed=4, nodata_edge=False)
    cube = scene.cube.chunk({"time": 1, "y": 32, "x": 32})
    root = tmp_path / "ks"
    west, east = cube.isel(x=slice(0, 48)), cube.isel(x=slice(48, None))
    first = to_kurosiwo(west, root, event=470, aoi=1, size=32, write_pickle=True)
    second = to_kurosiwo(east, root, event=470, aoi=2, size=32, append=True)
    third = to_kurosiwo(cube, root, event="EMSR1", aoi=1, size=32, append=True)
    index = json.loads((root / "index.json").read_text())
    assert len(index) == len(first) + len(second) + len(third) == 4 + 4 + 6
    groups = {(v["actid"], v["aoiid"]) for v in index.values()}
    assert groups == {(470, 1), (470, 2), ("EMSR1", 1)}
    with open(root / "index.pkl", "rb") as f:  # the pickle the root had is kept in step
        assert pickle.load(f) == index
    tile = index["470_02_000000_000000"]
    with rasterio.open(root / "data" / tile["path"] / "MS1_IVV.tif") as src:
        np.testing.assert_array_equal(
            src.read(1), east["vv"].isel(time=-1, y=slice(0, 32), x=slice(0, 32)).values
        )
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    with pytest.raises(sarcube.errors.OutputError, match="already holds event 470 area 2"):
        to_kurosiwo(east, root, event=470, aoi=2, size=32, append=True)

    # a call that fails while computing leaves the root as it was
    def broken(block: np.ndarray) -> np.ndarray:
        raise RuntimeError("the source went away")

    failing = east.copy()
    failing["vh"] = failing["vh"].copy(
        data=dsa.map_blocks(broken, failing["vh"].data, dtype=np.float32)
    )
    with pytest.raises(RuntimeError, match="went away"):
        to_kurosiwo(failing, root, event=470, aoi=3, size=32, append=True)
    with pytest.raises(RuntimeError, match="went away"):  # a new event too
        to_kurosiwo(failing, root, event=471, aoi=1, size=32, append=True)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert json.loads((root / "index.json").read_text()) == index

    with pytest.raises(sarcube.errors.InputNotFoundError, match="create the root first"):
        to_kurosiwo(east, tmp_path / "none", event=470, aoi=2, size=32, append=True)
    with pytest.raises(sarcube.errors.ParameterError, match="not both"):
        to_kurosiwo(east, root, event=470, aoi=4, size=32, append=True, overwrite=True)
