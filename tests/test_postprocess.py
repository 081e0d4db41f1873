"""flood_from_probability: the threshold, nodata, small regions, laziness and chunking."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube.errors import DimensionError, ParameterError
from sarcube.infer import flood_from_probability, most_likely_class

from conftest import raise_if_dask_computes


def _probability(seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    smooth = rng.random((60, 70)).cumsum(0).cumsum(1)
    p = (smooth - smooth.min()) / np.ptp(smooth)
    p = np.where(rng.random(p.shape) < 0.02, rng.random(p.shape), p)  # isolated flips
    p[5:9, 10:20] = np.nan
    return xr.DataArray(p.astype(np.float32), dims=("y", "x"), coords={"y": np.arange(60.0)})


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_the_map_is_the_threshold_with_nodata(threshold: float) -> None:
    p = _probability()
    got = flood_from_probability(p, threshold=threshold)
    values = p.values
    expected = np.where(np.isnan(values), 255, (values >= threshold).astype(np.uint8))
    np.testing.assert_array_equal(got.values, expected)
    assert got.dtype == np.uint8 and got.attrs["flag_meanings"] == "no_flood flood nodata"
    np.testing.assert_array_equal(got["y"].values, p["y"].values)


def test_at_one_half_it_is_most_likely_class_of_two_classes() -> None:
    p = _probability(1)
    probs = xr.concat([1 - p, p], dim="class").assign_coords({"class": [0, 1]})
    both = flood_from_probability(p).values
    assert ((both == most_likely_class(probs).values) | (p.values == 0.5)).all()


def test_small_regions_go_and_the_result_is_chunk_invariant() -> None:
    p = _probability(2)
    whole = flood_from_probability(p, min_size=6)
    expected = sarcube.remove_small_regions(flood_from_probability(p), min_size=6)
    np.testing.assert_array_equal(whole.values, expected.values)
    assert (whole.values == 1).sum() < (flood_from_probability(p).values == 1).sum()
    for chunks in ({"y": 17, "x": 23}, {"y": 60, "x": 9}):
        with raise_if_dask_computes():
            lazy = flood_from_probability(p.chunk(chunks), min_size=6)
        np.testing.assert_array_equal(lazy.values, whole.values)


def test_bad_input_is_refused() -> None:
    p = _probability()
    with pytest.raises(ParameterError, match=r"in \(0, 1\)"):
        flood_from_probability(p, threshold=1.5)
    with pytest.raises(ParameterError, match="min_size"):
        flood_from_probability(p, min_size=-1)
    probs = xr.concat([1 - p, p], dim="class")
    with pytest.raises(DimensionError, match=r"probs\.sel"):
        flood_from_probability(probs)
