"""Connected regions across chunk borders; region statistics; boundary ratio."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

import sarcube
from sarcube.errors import DTypeError, MaskError, ParameterError

from conftest import raise_if_dask_computes


def _reference(mask: np.ndarray, min_size: int, connectivity: int) -> np.ndarray:
    out = np.zeros_like(mask)
    structure = ndimage.generate_binary_structure(2, connectivity)
    for t in range(mask.shape[0]):
        labels, _ = ndimage.label(mask[t], structure=structure)
        sizes = np.bincount(labels.ravel())
        keep = sizes >= min_size
        keep[0] = False
        out[t] = keep[labels]
    return out


@pytest.mark.parametrize("connectivity", [1, 2])
@pytest.mark.parametrize("chunks", [None, {"time": 1, "y": 7, "x": 9}, {"y": 3, "x": 4}])
def test_remove_small_regions_across_chunks(connectivity: int, chunks: dict | None) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(2)
    mask = rng.random((2, 40, 45)) < 0.42
    da = xr.DataArray(mask, dims=("time", "y", "x"), attrs={"long_name": "water"})
    expected = _reference(mask, 6, connectivity)
    if chunks is None:
        out = sarcube.remove_small_regions(da, min_size=6, connectivity=connectivity)  # type: ignore[arg-type]
    else:
        with raise_if_dask_computes():
            out = sarcube.remove_small_regions(
                da.chunk(chunks),
                min_size=6,
                connectivity=connectivity,  # type: ignore[arg-type]
            )
    np.testing.assert_array_equal(out.values, expected)
    assert out.attrs["long_name"] == "water" and out.attrs["min_region_size"] == 6


def test_region_spanning_chunks_is_one_region() -> None:
    mask = np.zeros((20, 20), dtype=bool)
    mask[10, 2:18] = True  # a 16-pixel line crossing four 5-pixel chunks
    da = xr.DataArray(mask, dims=("y", "x")).chunk({"y": 5, "x": 5})
    kept = sarcube.remove_small_regions(da, min_size=10).values
    np.testing.assert_array_equal(kept, mask)
    stats = sarcube.region_stats(da)
    assert int(stats["count"]) == 1 and int(stats["max_size"]) == 16


def test_uint8_map_keeps_nodata() -> None:
    values = np.array([[1, 1, 0, 255], [0, 0, 0, 1], [1, 1, 1, 0]], dtype=np.uint8)
    out = sarcube.remove_small_regions(
        xr.DataArray(values, dims=("y", "x")), min_size=3, connectivity=1
    )
    np.testing.assert_array_equal(
        out.values, np.array([[0, 0, 0, 255], [0, 0, 0, 0], [1, 1, 1, 0]], dtype=np.uint8)
    )
    assert out.dtype == np.uint8


def test_region_stats_and_boundary_ratio() -> None:
    mask = np.zeros((10, 12), dtype=np.uint8)
    mask[:, 6:] = 1  # two halves: one region, one straight boundary of 10 edges
    da = xr.DataArray(mask, dims=("y", "x"))
    stats = sarcube.region_stats(da)
    assert int(stats["count"]) == 1
    assert stats["size"].values.tolist() == [60]
    assert float(sarcube.boundary_ratio(da)) == pytest.approx(10 / (2 * 22))
    assert float(sarcube.boundary_ratio(da.chunk({"y": 3, "x": 5}))) == pytest.approx(10 / 44)


def test_region_errors() -> None:
    da = xr.DataArray(np.ones((4, 4), dtype=bool), dims=("y", "x"))
    with pytest.raises(ParameterError, match="min_size"):
        sarcube.remove_small_regions(da, min_size=0)
    with pytest.raises(ParameterError, match="connectivity"):
        sarcube.remove_small_regions(da, min_size=2, connectivity=3)  # type: ignore[arg-type]
    with pytest.raises(DTypeError, match="boolean mask"):
        sarcube.remove_small_regions(da.astype(np.float32), min_size=2)


def test_masks_must_be_binary_and_not_empty() -> None:
    classes = xr.DataArray(np.array([[0, 1, 2], [255, 1, 0]], dtype=np.uint8), dims=("y", "x"))
    with pytest.raises(MaskError, match=r"other than 0, 1 and 255.*\(classes == 2\)"):
        sarcube.remove_small_regions(classes, min_size=2)
    # lazy masks check their values when computed, chunk by chunk
    with pytest.raises(MaskError, match=r"e\.g\. 2"):
        sarcube.region_stats(classes.chunk({"x": 1}))  # computes
    out = sarcube.remove_small_regions(classes.chunk({"x": 1}), min_size=2)
    with pytest.raises(MaskError):
        out.compute()
    with pytest.raises(MaskError, match="empty"):
        sarcube.region_stats(classes.isel(x=slice(0, 0)))
    # class maps are fine for boundary_ratio
    assert float(sarcube.boundary_ratio(classes)) > 0
