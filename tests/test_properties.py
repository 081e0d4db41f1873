"""Property-based tests: any shape, NaN placement, dtype and chunking give the numpy result.

Run with ``--hypothesis-show-statistics`` to see how many examples ran.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sarcube

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def bands(draw: st.DrawFn) -> tuple[xr.DataArray, dict[str, int]]:
    """A (time, y, x) band of positive power with NaN holes, and a chunking for it."""
    shape = draw(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=12))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    values = draw(
        hnp.arrays(
            dtype,
            shape,
            elements=st.floats(0.0001220703125, 2.0, width=32 if dtype == np.float32 else 64),
        )
    )
    nan_mask = draw(hnp.arrays(np.bool_, shape))
    values[nan_mask] = np.nan
    chunks = {d: draw(st.integers(1, n)) for d, n in zip(("time", "y", "x"), shape, strict=True)}
    da = xr.DataArray(values, dims=("time", "y", "x"), name="vv", attrs={"units": "1"})
    return da, chunks


@SETTINGS
@given(bands())
def test_to_db_any_chunking(case: tuple[xr.DataArray, dict[str, int]]) -> None:
    da, chunks = case
    eager = sarcube.to_db(da)
    lazy = sarcube.to_db(da.chunk(chunks))
    assert lazy.dtype == da.dtype and lazy.dims == da.dims
    xr.testing.assert_identical(lazy.compute(), eager)
    np.testing.assert_array_equal(np.isnan(eager.values), np.isnan(da.values))


@SETTINGS
@given(bands(), st.lists(st.floats(0.01, 1.5), min_size=1, max_size=4, unique=True))
def test_clamp_stats_any_chunking(
    case: tuple[xr.DataArray, dict[str, int]], clamps: list[float]
) -> None:
    da, chunks = case
    eager = sarcube.clamp_stats(da, clamps)
    lazy = sarcube.clamp_stats(da.chunk(chunks), clamps).compute()
    # sums in another order: equal to rounding (std near 0 within ~1e-8 of the data scale)
    xr.testing.assert_allclose(lazy.drop_vars("std"), eager.drop_vars("std"), rtol=1e-9, atol=1e-12)
    xr.testing.assert_allclose(lazy["std"], eager["std"], rtol=1e-6, atol=5e-8)
    values = da.values.astype(np.float64)
    for c, clamp in enumerate(clamps):
        for t in range(values.shape[0]):
            valid = values[t][~np.isnan(values[t])]
            if valid.size == 0:
                assert np.isnan(eager["mean"].values[c, t])
                continue
            clipped = np.minimum(valid, clamp)
            np.testing.assert_allclose(eager["mean"].values[c, t], clipped.mean(), rtol=1e-9)
            # E[x²] - E[x]² in float64: absolute error ~1e-8 of the data scale
            np.testing.assert_allclose(
                eager["std"].values[c, t], clipped.std(), rtol=1e-6, atol=5e-8
            )
            assert eager["clipped_fraction"].values[c, t] == np.mean(valid > clamp)


@SETTINGS
@given(bands(), st.floats(0.01, 1.5))
def test_clamp_and_normalise_any_chunking(
    case: tuple[xr.DataArray, dict[str, int]], value: float
) -> None:
    da, chunks = case
    cfg = sarcube.NormConfig(clamp=value, mean={"vv": 0.1}, std={"vv": 0.05})
    eager = sarcube.normalise(da, cfg)
    xr.testing.assert_identical(sarcube.normalise(da.chunk(chunks), cfg).compute(), eager)
    clamped = sarcube.clamp(da, value)
    assert np.nanmax(np.append(clamped.values, -np.inf)) <= da.dtype.type(value)
    np.testing.assert_array_equal(np.isnan(clamped.values), np.isnan(da.values))


@SETTINGS
@given(bands(), st.sampled_from([3, 5, 7]))
def test_local_filters_any_chunking(case: tuple[xr.DataArray, dict[str, int]], size: int) -> None:
    """Window filters give the in-memory result bit for bit on any chunking."""
    da, chunks = case
    # a window wider than the image is refused (tested elsewhere)
    assume(min(da.sizes["y"], da.sizes["x"]) >= size // 2)
    for func in (
        lambda o: sarcube.boxcar_filter(o, size=size),
        lambda o: sarcube.median_filter(o, size=size),
        lambda o: sarcube.lee_filter(o, size=size, enl=4.4),
        lambda o: sarcube.lee_filter(o, size=size, variant="tutorial"),
    ):
        eager = func(da)
        lazy = func(da.chunk(chunks)).compute()
        np.testing.assert_array_equal(lazy.values, eager.values)
        np.testing.assert_array_equal(np.isnan(eager.values), np.isnan(da.values))
        assert eager.dtype == np.float32 and eager.dims == da.dims
