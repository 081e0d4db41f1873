"""Speckle filters: numpy references, chunk invariance, NaN, laziness, metadata, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube.errors import ParameterError, SarcubeError, UnitsError
from sarcube.filters import (
    boxcar_filter,
    estimate_enl,
    frost_filter,
    gamma_map_filter,
    lee_filter,
    median_filter,
    refined_lee,
)

import filter_reference as ref
from conftest import raise_if_dask_computes, random_cube

# name -> (sarcube call, reference on one 2-D image)
FILTERS: dict[str, tuple[Callable[..., Any], Callable[[np.ndarray], np.ndarray]]] = {
    "boxcar": (lambda o: boxcar_filter(o, size=5), lambda a: ref.boxcar(a, 5)),
    "median": (lambda o: median_filter(o, size=5), lambda a: ref.median(a, 5)),
    "lee-tutorial": (
        lambda o: lee_filter(o, size=7, variant="tutorial"),
        lambda a: ref.lee_tutorial(a, 7),
    ),
    "lee-classic": (
        lambda o: lee_filter(o, size=5, enl=4.4),
        lambda a: ref.lee_classic(a, 5, 4.4),
    ),
    "lee-enhanced": (
        lambda o: lee_filter(o, size=7, variant="enhanced", enl=3.0, damping=1.5),
        lambda a: ref.lee_enhanced(a, 7, 3.0, 1.5),
    ),
    "gamma-map": (
        lambda o: gamma_map_filter(o, size=5, enl=4.4),
        lambda a: ref.gamma_map(a, 5, 4.4),
    ),
    "frost": (lambda o: frost_filter(o, size=5, damping=2.0), lambda a: ref.frost(a, 5, 2.0)),
    "refined-lee": (lambda o: refined_lee(o, enl=4.4), lambda a: ref.refined_lee(a, 4.4)),
}


def _speckled(shape: tuple[int, ...], seed: int = 0, looks: float = 4.4) -> np.ndarray:
    """Gamma speckle over a scene with an edge and a bright target (realistic statistics)."""
    rng = np.random.default_rng(seed)
    truth = np.full(shape, 0.05)
    truth[..., :, shape[-1] // 2 :] = 0.01  # an edge between land and water
    truth[..., shape[-2] // 3, shape[-1] // 4] = 2.0  # a point target
    return (truth * rng.gamma(looks, 1 / looks, size=shape)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(FILTERS))
@pytest.mark.parametrize("data", ["random", "speckled"])
def test_matches_numpy_reference(name: str, data: str) -> None:
    func, reference = FILTERS[name]
    if data == "random":
        img = np.random.default_rng(1).uniform(0.001, 0.3, size=(17, 19)).astype(np.float32)
    else:
        img = _speckled((17, 19))
    img[4, 6] = np.nan
    img[10:13, 0:2] = np.nan
    out = func(xr.DataArray(img, dims=("y", "x"))).values
    expected = reference(img)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(img))
    np.testing.assert_allclose(out, expected, rtol=2e-5, atol=1e-8)


def test_tutorial_lee_equals_scipy_uniform_filter_version() -> None:
    img = sarcube.synthetic.make_scene((96, 80), nodata_edge=False).cube["vv"].values[0]
    out = lee_filter(xr.DataArray(img, dims=("y", "x")), variant="tutorial").values
    np.testing.assert_allclose(out, ref.lee_tutorial_scipy(img, 7), rtol=1e-5)


@pytest.mark.parametrize("size", [2, 4, 6, 10, 12, 20])
def test_even_windows_are_scipy_uniform_filter_windows(size: int) -> None:
    # the tutorial's window sweep (6, 10, 12, 20): a window of n pixels covers n // 2
    # before and n // 2 - 1 after each pixel, as scipy.ndimage.uniform_filter
    from scipy.ndimage import uniform_filter

    img = sarcube.synthetic.make_scene((64, 72), nodata_edge=False).cube["vv"].values[0]
    da = xr.DataArray(img, dims=("y", "x"))
    x = img.astype(np.float64)
    mean = uniform_filter(x, size, mode="reflect")
    var = uniform_filter(x * x, size, mode="reflect") - mean * mean
    np.testing.assert_allclose(boxcar_filter(da, size=size).values, mean, rtol=1e-5)
    tutorial = lee_filter(da, size=size, variant="tutorial").values
    np.testing.assert_allclose(tutorial, ref.lee_tutorial_scipy(img, size), rtol=1e-5)
    cu2 = 1 / 4.4
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant window: the mean
        weight = np.where(var > 0, np.clip((var - mean**2 * cu2) / ((1 + cu2) * var), 0, 1), 0)
    classic = lee_filter(da, size=size, enl=4.4).values
    np.testing.assert_allclose(classic, mean + weight * (x - mean), rtol=1e-4, atol=1e-7)
    # chunk-invariant like the odd windows, and the ENL estimate takes the same windows
    lazy = da.chunk({"y": 9, "x": 7})
    for func in (boxcar_filter, gamma_map_filter, lee_filter):
        np.testing.assert_array_equal(func(lazy, size=size).values, func(da, size=size).values)
    assert float(estimate_enl(lazy, size=size)) == float(estimate_enl(da, size=size)) > 0


@pytest.mark.parametrize("name", sorted(FILTERS))
@pytest.mark.parametrize("chunks", [{"time": 1, "y": 2, "x": 3}, {"time": 2, "y": 7, "x": 11}])
def test_chunk_invariant_and_lazy(name: str, chunks: dict[str, int]) -> None:
    """Any chunking, chunks smaller than the window included, gives the in-memory result."""
    func, _ = FILTERS[name]
    cube = random_cube((2, 23, 31))
    cube["vh"][1] = np.nan  # an all-NaN image
    eager = func(cube)
    with raise_if_dask_computes():
        lazy = func(cube.chunk(chunks))
    for band in ("vv", "vh"):
        np.testing.assert_array_equal(lazy[band].values, eager[band].values)
    assert np.isnan(eager["vh"].values[1]).all()
    # metadata
    assert eager["vv"].dtype == np.float32
    assert eager["vv"].dims == cube["vv"].dims
    xr.testing.assert_identical(eager.coords.to_dataset(), cube.coords.to_dataset())
    assert eager["vv"].attrs["units"] == "1"
    assert "speckle_filter" in eager["vv"].attrs
    assert eager.attrs == cube.attrs


def test_estimated_enl_is_lazy_and_chunk_invariant() -> None:
    cube = random_cube((2, 23, 31))
    with raise_if_dask_computes():
        lazy = lee_filter(cube.chunk({"y": 5, "x": 6}), variant="enhanced")
        enl = estimate_enl(cube.chunk({"y": 5, "x": 6}))
    eager_enl = estimate_enl(cube)
    np.testing.assert_array_equal(enl["vv"].values, eager_enl["vv"].values)
    np.testing.assert_array_equal(
        lazy["vv"].values, lee_filter(cube, variant="enhanced")["vv"].values
    )
    # a Dataset filters each band with its own estimate, as the band alone would
    np.testing.assert_array_equal(
        lee_filter(cube, variant="classic")["vv"].values,
        lee_filter(cube["vv"], variant="classic").values,
    )


def test_enl_estimate_on_pure_speckle() -> None:
    looks = 4.4
    rng = np.random.default_rng(5)
    img = (0.05 * rng.gamma(looks, 1 / looks, size=(3, 200, 200))).astype(np.float32)
    enl = estimate_enl(xr.DataArray(img, dims=("time", "y", "x")))
    # the median of the window CV² sits below its mean: the estimate runs a little high
    assert np.all(np.abs(enl.values / looks - 1) < 0.25)
    assert enl.dims == ("time",)


def test_filters_reduce_speckle_and_keep_edges() -> None:
    """On gamma speckle, a homogeneous area gains looks; the land/water edge stays sharp."""
    img = _speckled((1, 120, 120), seed=3)
    da = xr.DataArray(img, dims=("time", "y", "x"), attrs={"units": "1"})
    flat = (slice(None), slice(60, 110), slice(5, 50))  # homogeneous land
    enl_in = img[flat].mean() ** 2 / img[flat].var()
    for name in ("lee-classic", "lee-enhanced", "gamma-map", "frost", "refined-lee", "boxcar"):
        out = FILTERS[name][0](da).values
        enl_out = out[flat].mean() ** 2 / out[flat].var()
        assert enl_out > 3 * enl_in, name
        # the mean of a homogeneous area is preserved (radiometry)
        assert out[flat].mean() == pytest.approx(img[flat].mean(), rel=0.03), name
    edge = FILTERS["refined-lee"][0](da).values[0, 60:110, 55:65].mean(axis=0)
    assert edge[0] > 3 * edge[-1]  # still land on the left, water on the right


def test_all_nan_and_tiny_images() -> None:
    nan = xr.DataArray(np.full((9, 9), np.nan, dtype=np.float32), dims=("y", "x"))
    for name, (func, _) in FILTERS.items():
        if name != "refined-lee":
            assert np.isnan(func(nan).values).all(), name
    tiny = xr.DataArray(np.ones((3, 3), dtype=np.float32), dims=("y", "x"))
    np.testing.assert_array_equal(boxcar_filter(tiny, size=5).values, tiny.values)
    with pytest.raises(ParameterError, match="smaller size"):
        boxcar_filter(tiny, size=9)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda o: lee_filter(o, size=1), ParameterError, "integer >= 2"),
        (lambda o: lee_filter(o, size=-3), ParameterError, "integer >= 2"),
        (lambda o: lee_filter(o, size=2.5), ParameterError, "integer >= 2"),
        (lambda o: frost_filter(o, size=6), ParameterError, "odd"),
        (lambda o: lee_filter(o, variant="fancy"), ParameterError, "unknown variant"),
        (lambda o: lee_filter(o, enl=0), ParameterError, "enl"),
        (lambda o: lee_filter(o, variant="enhanced", damping=-1), ParameterError, "damping"),
        (lambda o: frost_filter(o, damping=0), ParameterError, "damping"),
        (lambda o: gamma_map_filter(o, enl=float("nan")), ParameterError, "enl"),
        (lambda o: median_filter(o, size=4), ParameterError, "odd"),
        (lambda o: refined_lee(sarcube.to_db(o)), UnitsError, "to_linear"),
        (lambda o: lee_filter(sarcube.to_db(o)), UnitsError, "to_linear"),
        (lambda o: boxcar_filter(o.rename(y="row")), SarcubeError, "'y' and 'x'"),
        (lambda o: median_filter(o.astype(np.complex64)), SarcubeError, "complex"),
    ],
)
def test_bad_input_raises_before_any_graph(call: Any, error: type[Exception], match: str) -> None:
    cube = random_cube().chunk({"y": 7})
    with raise_if_dask_computes(), pytest.raises(error, match=match):
        call(cube["vv"])


def test_tutorial_and_unitless_filters_work_in_db() -> None:
    db = sarcube.to_db(random_cube())
    for func in (
        lambda o: lee_filter(o, variant="tutorial"),
        lambda o: boxcar_filter(o),
        lambda o: median_filter(o),
    ):
        out = func(db)
        assert out["vv"].attrs["units"] == "dB"


@pytest.mark.real_data
def test_filters_on_real_opera_bursts(opera_catalog: Any) -> None:
    """Real Sentinel-1 RTC backscatter: chunked equals in-memory, plausible ENL, less speckle."""
    items = sarcube.search(
        opera_catalog, filter="\"opera:burst_id\" = 'T137-292319-IW2'", datetime="2021-11"
    )
    lazy = sarcube.load(items, chunks={"time": 1, "y": 30, "x": 40})
    eager = lazy.compute()
    enl = estimate_enl(lazy).compute()
    assert ((enl["vv"] > 1.5) & (enl["vv"] < 10)).all()
    for name in ("lee-classic", "lee-enhanced", "refined-lee", "gamma-map", "median"):
        func = FILTERS[name][0]
        out = func(lazy)
        np.testing.assert_array_equal(out["vv"].values, func(eager)["vv"].values)
        assert out["vv"].values.std() < eager["vv"].values.std(), name  # speckle reduced
    tv_lazy = sarcube.to_db(sarcube.tv_denoise(lazy, weight=1.0, halo=16))["vh"].values
    tv_eager = sarcube.to_db(sarcube.tv_denoise(eager, weight=1.0))["vh"].values
    assert np.nanmax(np.abs(tv_lazy - tv_eager)) <= 1e-3


# --------------------------------------------------------------------------
# the fast kernels: ring sums (Frost), gathered half windows (refined Lee),
# strips, NaN and NaN-free rows in one image, ENL without a CV² image


def _with_nodata(img: np.ndarray, seed: int, fraction: float) -> np.ndarray:
    img = img.copy()
    img[np.random.default_rng(seed).random(img.shape) < fraction] = np.nan
    return img


@pytest.mark.parametrize("size", [3, 7, 9, 11])
def test_frost_any_window_size(size: int) -> None:
    """Every window's plan of rings (from 9×9: powers beyond the third and several
    passes of rings at d = √q) gives the reference, NaN-heavy windows included."""
    img = _with_nodata(_speckled((13, 17), seed=size), seed=size, fraction=0.3)
    out = frost_filter(xr.DataArray(img, dims=("y", "x")), size=size, damping=1.7).values
    np.testing.assert_array_equal(np.isnan(out), np.isnan(img))
    np.testing.assert_allclose(out, ref.frost(img, size, 1.7), rtol=2e-5, atol=1e-8)


@pytest.mark.parametrize("name", ["frost", "refined-lee", "lee-enhanced", "gamma-map"])
def test_wide_image_with_nodata_in_some_rows(name: str) -> None:
    """Wider than a strip of the Frost and refined-Lee sweeps (256 columns), nodata in a
    few rows of one strip only (the NaN and the NaN-free code in one image, which must
    agree), a NaN-heavy corner at the edge: the reference, and exactly the same on
    chunks smaller than the window."""
    img = _speckled((19, 300), seed=4)
    img[3, 10:12] = np.nan
    img[12, 290] = np.nan
    img[13:, 270:] = _with_nodata(img[13:, 270:], seed=5, fraction=0.6)
    func, reference = FILTERS[name]
    da = xr.DataArray(img, dims=("y", "x"))
    out = func(da).values
    np.testing.assert_array_equal(np.isnan(out), np.isnan(img))
    np.testing.assert_allclose(out, reference(img), rtol=2e-5, atol=1e-8)
    np.testing.assert_array_equal(func(da.chunk({"y": 4, "x": 5})).values, out)


def test_refined_lee_ties_resolve_as_the_direct_loops() -> None:
    """Few distinct values make equal gradients and equal distances to the centre
    sub-window common: the first largest gradient and the first side win, as in the
    reference. (Multiples of 9/16: the means of nine are exact, so are the gradients,
    whatever the order of their sums.)"""
    rng = np.random.default_rng(6)
    img = (rng.integers(1, 4, size=(15, 16)) * (9 / 16)).astype(np.float32)
    out = refined_lee(xr.DataArray(img, dims=("y", "x")), enl=4.4).values
    np.testing.assert_allclose(out, ref.refined_lee(img, 4.4), rtol=2e-5, atol=1e-8)


@pytest.mark.parametrize("variant", ["enhanced", "gamma-map"])
def test_cv_rules_in_every_regime(variant: str) -> None:
    """Zero windows (m = 0), constant ones (Ci = 0 <= Cu), speckle (Cu < Ci < Cmax),
    bright targets (Ci >= Cmax): the branch-free rows give the reference. Zero pixels
    beside speckle (Gamma-MAP's root then cancels b·m) stay exactly 0 on any chunking."""
    img = _speckled((40, 60), seed=2)
    img[:6, :6] = 0.0
    img[:6, 12:20] = 0.05
    img[18, 4] = img[20, 18] = 5.0
    img[:, 50:] = 0.0
    calls: dict[str, tuple[Callable[..., Any], np.ndarray]] = {
        "enhanced": (
            lambda o: lee_filter(o, variant="enhanced", enl=3.0),
            ref.lee_enhanced(img, 7, 3.0),
        ),
        "gamma-map": (lambda o: gamma_map_filter(o, size=5, enl=3.0), ref.gamma_map(img, 5, 3.0)),
    }
    func, expected = calls[variant]
    da = xr.DataArray(img, dims=("y", "x"))
    out = func(da).values
    np.testing.assert_allclose(out, expected, rtol=2e-5, atol=1e-8)
    if variant == "gamma-map":
        assert (out[:, 50:] == 0).all()
    for chunks in ({"y": 5, "x": 7}, {"y": 40, "x": 11}):
        np.testing.assert_array_equal(func(da.chunk(chunks)).values, out)


def test_vector_exp_matches_libm() -> None:
    """The branch-free exp of the kernels: within 1e-12 of numpy's on [-708, 0], 0 below."""
    from numba import njit

    from sarcube.filters._moments import _exp_neg

    @njit
    def exp_all(x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = _exp_neg(x[i])
        return out

    x = np.concatenate([np.linspace(-708, 0, 200_001), -np.logspace(-300, 2.85, 10_000), [0.0]])
    np.testing.assert_allclose(exp_all(x), np.exp(x), rtol=1e-12, atol=0)
    assert exp_all(np.array([0.0]))[0] == 1.0
    np.testing.assert_array_equal(exp_all(np.array([-708.5, -800.0, -np.inf])), 0.0)


def test_log_bins_without_logarithm() -> None:
    """The table binning of the ENL histogram gives every float32 the bin of
    int((log10 v - lo) · scale) (numba's log10): at every bin boundary ± 2 ulp and on
    random values; 0, NaN, negatives and +inf are not counted."""
    from sarcube.filters import _enl
    from sarcube.filters.speckle import _LOG_CV2_RANGE, _N_BINS, _bin_table

    lo, hi = _LOG_CV2_RANGE
    scale = _N_BINS / (hi - lo)
    edges = (10.0 ** (lo + np.arange(_N_BINS + 1) / scale)).astype(np.float32)
    up = np.nextafter(edges, np.float32(np.inf))
    down = np.nextafter(edges, np.float32(0))
    near = [
        edges,
        up,
        np.nextafter(up, np.float32(np.inf)),
        down,
        np.nextafter(down, np.float32(0)),
    ]
    rng = np.random.default_rng(8)
    values = np.concatenate(
        [*near, (10.0 ** rng.uniform(-7, 5, 20_000)).astype(np.float32)]
    ).astype(np.float32)
    table = _bin_table()
    one = np.zeros(_N_BINS + 1, dtype=np.int64)
    for v in values:
        one[:] = 0
        _enl._bin_row(np.array([v], dtype=np.float32).view(np.uint32), table, one)
        assert one[_enl._log_bin(np.float32(v), lo, scale, _N_BINS) + 1] == 1, v
    special = np.array([0.0, np.nan, -0.5, -np.inf, np.inf], dtype=np.float32)
    one[:] = 0
    _enl._bin_row(special.view(np.uint32), table, one)
    assert one[0] == special.size and one[1:].sum() == 0


@pytest.mark.parametrize("fraction", [0.0, 0.2])
def test_estimate_enl_matches_reference(fraction: float) -> None:
    img = _with_nodata(_speckled((40, 45), seed=9), seed=9, fraction=fraction)
    enl = estimate_enl(xr.DataArray(img, dims=("y", "x")), size=5)
    # the reference takes each window's CV² directly, the kernel from running sums: a
    # value on a bin boundary may move one bin, the interpolated median hardly
    assert float(enl) == pytest.approx(ref.enl(img, 5), rel=1e-3)


def test_enl_estimate_ignores_constant_windows_whatever_the_chunking() -> None:
    # a constant image with two bright pixels: the running sums of the in-memory
    # pass carry rounding residue from the outlier into the constant windows
    # (CV² ~ 1e-11), the chunks at the far side do not; both leave them out now
    values = np.full((3, 2, 6), 0.5, np.float32)
    values[2, 1, :2] = (91.0, 1.1753821)
    da = xr.DataArray(values, dims=("time", "y", "x"), attrs={"units": "1"})
    lazy = da.chunk({"time": 1, "y": 1, "x": 2})
    eager_enl = sarcube.estimate_enl(da, size=3).values
    np.testing.assert_array_equal(sarcube.estimate_enl(lazy, size=3).values, eager_enl)
    assert np.isnan(eager_enl[:2]).all()  # constant images: no window to estimate from
    np.testing.assert_array_equal(
        sarcube.lee_filter(lazy, size=3).values, sarcube.lee_filter(da, size=3).values
    )


#: Image seeds on which the running window sums, started at each block's edge,
#: gave another ENL than the in-memory pass (found by a search over 3000 seeds).
_ENL_ROUNDING_SEEDS = [30, 598, 630, 669, 947, 1165, 1232, 1524]
_PALETTE = np.array([0.0, 1e-45, 1e-38, 1e-3, 0.5, 1.0, 3.0, 200.0, 199.99998, 0.1], np.float32)


@pytest.mark.parametrize("seed", _ENL_ROUNDING_SEEDS)
def test_enl_estimate_is_the_same_on_any_chunking_to_the_last_bit(seed: int) -> None:
    # small images mixing 0, subnormals, 1e-3 … 200: a window's CV² in its last
    # bit decides its histogram bin, and the sums of the window must not depend
    # on where its block starts
    rng = np.random.default_rng(seed)
    ny, nx = (int(v) for v in rng.integers(3, 14, 2))
    values = _PALETTE[rng.integers(0, len(_PALETTE), (ny, nx))]
    size = int(rng.choice([3, 5]))
    chunks = {"y": int(rng.integers(2, ny + 1)), "x": int(rng.integers(2, nx + 1))}
    da = xr.DataArray(values, dims=("y", "x"), attrs={"units": "1"})
    eager = sarcube.estimate_enl(da, size=size).values
    lazy = sarcube.estimate_enl(da.chunk(chunks), size=size).values
    np.testing.assert_array_equal(lazy, eager)


def test_enl_estimate_is_chunk_invariant_across_row_anchors() -> None:
    # several row chunks: each block reaches back to the row where the running
    # column sums restart (every ANCHOR rows of the padded image)
    rng = np.random.default_rng(7)
    values = rng.gamma(1.0, 1.0, (300, 23)).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = 200.0
    values[rng.random(values.shape) < 0.02] = np.nan
    da = xr.DataArray(values, dims=("y", "x"), attrs={"units": "1"})
    eager = sarcube.estimate_enl(da, size=7).values
    for chunks in ({"y": 70, "x": 5}, {"y": 149, "x": 23}, {"y": 100, "x": 11}):
        np.testing.assert_array_equal(sarcube.estimate_enl(da.chunk(chunks), size=7).values, eager)
