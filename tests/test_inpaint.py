"""inpaint_nodata: scikit-image's biharmonic inpainting, hole by hole, on any chunking."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from skimage.restoration import inpaint_biharmonic

import sarcube
from sarcube.errors import DTypeError, ParameterError

from conftest import raise_if_dask_computes


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth image, its holes (small ones and a 50-pixel one) and the small ones alone."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:120, 0:100]
    image = (0.02 * y + 0.01 * x + 0.3 * np.sin(y / 9.0) * np.cos(x / 7.0) + 2).astype(np.float32)
    mask = np.zeros(image.shape, dtype=bool)
    for _ in range(40):
        cy, cx, r = rng.integers(0, 120), rng.integers(0, 100), rng.integers(1, 5)
        mask[max(cy - r, 0) : cy + r, max(cx - r, 0) : cx + r] = True
    small = mask.copy()
    mask[50:100, 10:60] = True
    return image, mask, small


@pytest.mark.parametrize(
    "chunks", [None, {"y": 17, "x": 23}, {"y": 40, "x": 100}, {"y": 64, "x": 9}]
)
def test_holes_are_filled_as_scikit_image_does_on_any_chunking(
    chunks: dict[str, int] | None,
) -> None:
    image, mask, small = _scene()
    da = xr.DataArray(np.where(mask, np.nan, image), dims=("y", "x"), attrs={"units": "1"})
    eager = sarcube.inpaint_nodata(da, max_size=12)
    if chunks is None:
        out = eager
    else:
        with raise_if_dask_computes():
            lazy = sarcube.inpaint_nodata(da.chunk(chunks), max_size=12)
        out = lazy.compute()
        np.testing.assert_array_equal(out.values, eager.values)  # bit-identical
    values = out.values
    assert out.dtype == np.float32 and out.attrs["units"] == "1" and "inpainted" in out.attrs
    np.testing.assert_array_equal(values[~mask], image[~mask])  # known pixels untouched
    assert np.isnan(values[60:90, 20:50]).all()  # the 50-pixel hole is left alone
    # small holes not grouped with the big one: scikit-image's split-region result
    reference = inpaint_biharmonic(np.where(mask, 0, image), small, split_into_regions=True)
    filled = small & ~np.isnan(values)
    assert filled.sum() > 0.4 * small.sum()  # the rest: groups of holes wider than 12 pixels
    np.testing.assert_allclose(values[filled], reference[filled], rtol=1e-5, atol=1e-6)


def test_a_plane_is_restored_exactly_and_each_image_of_a_cube_on_its_own() -> None:
    y, x = np.mgrid[0:32, 0:40]
    plane = (0.5 * y - 0.25 * x + 3).astype(np.float32)
    hole = (y - 16) ** 2 + (x - 20) ** 2 <= 9
    stack = np.stack([np.where(hole, np.nan, plane), np.where(hole, np.nan, 2 * plane)])
    cube = xr.Dataset({"vv": (("time", "y", "x"), stack)})
    out = sarcube.inpaint_nodata(cube.chunk({"y": 13}))["vv"].values
    np.testing.assert_allclose(out[0], plane, atol=1e-4)  # a plane is biharmonic
    np.testing.assert_allclose(out[1], 2 * plane, atol=2e-4)


def test_all_nan_and_no_nan_images_are_returned_as_they_are() -> None:
    empty = xr.DataArray(np.full((12, 12), np.nan, np.float32), dims=("y", "x"))
    assert np.isnan(sarcube.inpaint_nodata(empty).values).all()
    full = xr.DataArray(np.arange(144, dtype=np.float32).reshape(12, 12), dims=("y", "x"))
    np.testing.assert_array_equal(sarcube.inpaint_nodata(full.chunk({"x": 5})).values, full.values)
    via_accessor = full.sar.inpaint_nodata(max_size=4)
    xr.testing.assert_identical(via_accessor, sarcube.inpaint_nodata(full, max_size=4))


def test_bad_input_is_refused() -> None:
    da = xr.DataArray(np.ones((8, 8), np.float32), dims=("y", "x"))
    with pytest.raises(ParameterError, match=r"max_size must be a positive integer"):
        sarcube.inpaint_nodata(da, max_size=0)
    with pytest.raises(DTypeError):
        sarcube.inpaint_nodata(da.astype(np.complex64))
