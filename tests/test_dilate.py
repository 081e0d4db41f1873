"""The square dilation of masks used by flood_map's nodata buffer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from sarcube.filters._dilate import dilate_square


@settings(max_examples=60, deadline=None)
@given(
    ny=st.integers(1, 40),
    nx=st.integers(1, 40),
    radius=st.integers(0, 12),
    density=st.floats(0.0, 0.2),
    seed=st.integers(0, 2**16),
)
def test_dilation_equals_scipy_maximum_filter(
    ny: int, nx: int, radius: int, density: float, seed: int
) -> None:
    mask = np.random.default_rng(seed).random((ny, nx)) < density
    expected = ndimage.maximum_filter(mask, size=2 * radius + 1, mode="constant", cval=0)
    got = dilate_square(mask, radius)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got.astype(bool), expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_])
def test_dilation_of_one_pixel_is_a_square(dtype: type) -> None:
    mask = np.zeros((9, 11), dtype=dtype)
    mask[4, 5] = 1
    got = dilate_square(mask, 2)
    assert got.sum() == 25 and got[2:7, 3:8].all()
