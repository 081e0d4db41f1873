"""Property-based tests: any shape, dtype, NaN placement and chunking give the numpy result.

Every public array operation runs in memory and on dask chunkings drawn by hypothesis
(down to a third of a side, so chunks are often smaller than the windows), and the
results are compared: **exactly** where the function promises chunk invariance (local
operators, min/max, integer counts, medians and everything built from them), within a
**stated tolerance** where it does not (float sums in another order; TV's halo). Dims,
coords (``spatial_ref`` included) and attrs must survive, NaN must stay NaN.

Example counts are modest so the file runs in under a minute on two cores; run with
``--hypothesis-show-statistics`` to see how many examples each test ran, and with
``SARCUBE_HYPOTHESIS_SCALE=10`` for ten times as many.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

import sarcube

from conftest import raise_if_dask_computes

#: Multiplies every test's example count, for deeper runs than the default one:
#: ``SARCUBE_HYPOTHESIS_SCALE=10 pytest tests/test_properties.py``.
SCALE = float(os.environ.get("SARCUBE_HYPOTHESIS_SCALE", "1"))


def examples(n: int) -> settings:
    """Settings with *n* examples (times SCALE); no deadline (dask's first graph is slow)."""
    return settings(
        max_examples=max(1, round(n * SCALE)),
        deadline=None,
        # CI runs a fixed sequence of examples, so a run is reproducible; local runs explore
        derandomize=os.environ.get("CI") == "true",
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


FLOATS = (np.float32, np.float64)
INTEGERS = (np.uint8, np.uint16, np.int16)
DIMS = ("time", "y", "x")
#: Attributes every band carries; operations keep those they do not make wrong.
BAND_ATTRS = {"units": "1", "long_name": "VV backscatter (linear power)", "platform": "S1A"}

Chunks = dict[str, int]
Case = tuple[xr.DataArray, list[Chunks]]


# --------------------------------------------------------------------------
# strategies


def _coords(shape: tuple[int, ...], dims: tuple[str, ...]) -> dict[str, Any]:
    sizes = dict(zip(dims, shape, strict=True))
    coords: dict[str, Any] = {
        "spatial_ref": xr.DataArray(np.int32(32633), attrs={"crs_wkt": "EPSG:32633"})
    }
    if "time" in sizes:
        start = np.datetime64("2024-05-02T05:17", "ns")
        coords["time"] = start + np.arange(sizes["time"]) * np.timedelta64(12, "D")
        coords["orbit"] = ("time", np.arange(sizes["time"]) % 2)  # acquisition metadata
    coords["y"] = 5_000_000.0 - 20.0 * np.arange(sizes["y"])
    coords["x"] = 500_000.0 + 20.0 * np.arange(sizes["x"])
    return coords


@st.composite
def values(
    draw: st.DrawFn,
    shape: tuple[int, ...],
    dtypes: tuple[type, ...] = FLOATS,
    low: float = 2.0**-13,
    high: float = 2.0,
    nan: bool = True,
    unique: bool = False,
) -> np.ndarray:
    """Values in [low, high] of one of *dtypes*, NaN anywhere (floats), optionally distinct."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    if np.issubdtype(dtype, np.integer):
        elements: st.SearchStrategy[Any] = st.integers(max(1, int(low)), max(2, int(high)))
        return draw(hnp.arrays(dtype, shape, elements=elements))
    width = 32 if dtype == np.float32 else 64
    # the bounds as the nearest values of the type inside [low, high]
    lo = (
        dtype.type(low)
        if dtype.type(low) >= low
        else np.nextafter(dtype.type(low), dtype.type(np.inf))
    )
    hi = (
        dtype.type(high)
        if dtype.type(high) <= high
        else np.nextafter(dtype.type(high), dtype.type(-np.inf))
    )
    elements = st.floats(float(lo), float(hi), width=width)
    out = draw(hnp.arrays(dtype, shape, elements=elements, unique=unique))
    if nan:
        out[draw(hnp.arrays(np.bool_, shape))] = np.nan
    return out


def chunkings(draw: st.DrawFn, sizes: dict[str, int], n: int) -> list[Chunks]:
    """*n* chunkings with at most three chunks per dim (a bound on the graph size)."""
    return [{d: draw(st.integers(-(-s // 3), s)) for d, s in sizes.items()} for _ in range(n)]


@st.composite
def bands(
    draw: st.DrawFn,
    *,
    spatial_only: bool = False,
    min_side: int = 1,
    max_side: int = 12,
    n_chunkings: int = 2,
    **value_options: Any,
) -> Case:
    """A band (time, y, x) or (y, x) with coords and attrs, and chunkings for it."""
    ny, nx = (draw(st.integers(min_side, max_side)) for _ in range(2))
    dims: tuple[str, ...] = ("y", "x") if spatial_only else DIMS
    shape = (ny, nx) if spatial_only else (draw(st.integers(1, 3)), ny, nx)
    da = xr.DataArray(
        draw(values(shape, **value_options)),
        dims=dims,
        coords=_coords(shape, dims),
        name="vv",
        attrs=dict(BAND_ATTRS),
    )
    return da, chunkings(draw, dict(da.sizes), n_chunkings)  # type: ignore[arg-type]


def chunked(obj: Any, chunks: Chunks) -> Any:
    return obj.chunk({d: c for d, c in chunks.items() if d in obj.dims})


def lazily(func: Callable[..., Any], *objs: Any) -> Any:
    """``func(*objs)`` built without computing, then computed."""
    with raise_if_dask_computes():
        out = func(*objs)
    return out.compute()


def assert_coords_kept(out: xr.DataArray | xr.Dataset, source: xr.DataArray) -> None:
    """The coords of *source* along dims *out* kept, and ``spatial_ref`` on maps, unchanged."""
    spatial = {"y", "x"} <= set(out.dims)
    for name, coord in source.coords.items():
        if (coord.dims and set(coord.dims) <= set(out.dims)) or (not coord.dims and spatial):
            xr.testing.assert_identical(out.coords[name].variable, coord.variable)


def quiet_nanmedian(a: np.ndarray, axis: Any) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN, as intended
        return np.asarray(np.nanmedian(a, axis=axis))


# --------------------------------------------------------------------------
# calibration and scaling


@examples(40)
@given(bands(dtypes=FLOATS + INTEGERS, high=200.0))
def test_db_round_trip_any_chunking(case: Case) -> None:
    da, chunks = case
    db = sarcube.to_db(da)
    for c in chunks:
        xr.testing.assert_identical(lazily(sarcube.to_db, chunked(da, c)), db)
    float_dtype = da.dtype if np.issubdtype(da.dtype, np.floating) else np.dtype(np.float32)
    assert db.dtype == float_dtype and db.dims == da.dims and db.name == da.name
    assert db.attrs == {**BAND_ATTRS, "units": "dB", "long_name": "VV backscatter (dB)"}
    assert_coords_kept(db, da)
    np.testing.assert_array_equal(np.isnan(db.values), np.isnan(da.values.astype(float)))
    back = sarcube.to_linear(db)
    for c in chunks:
        xr.testing.assert_identical(lazily(sarcube.to_linear, chunked(db, c)), back)
    assert back.attrs == BAND_ATTRS and back.dtype == float_dtype
    # 10^(x/10) after 10·log10(x): a few ulp of the float type
    rtol = 2e-6 if float_dtype == np.float32 else 1e-13
    np.testing.assert_allclose(back.values, da.values.astype(float_dtype), rtol=rtol)


@examples(25)
@given(bands(), st.lists(st.floats(0.01, 1.5), min_size=1, max_size=4, unique=True))
def test_clamp_stats_any_chunking(case: Case, clamps: list[float]) -> None:
    da, chunks = case
    eager = sarcube.clamp_stats(da, clamps)
    for c in chunks:
        lazy = lazily(lambda o: sarcube.clamp_stats(o, clamps), chunked(da, c))
        # sums in another order: equal to rounding (std near 0 within ~1e-8 of the data scale)
        xr.testing.assert_allclose(
            lazy.drop_vars("std"), eager.drop_vars("std"), rtol=1e-9, atol=1e-12
        )
        xr.testing.assert_allclose(lazy["std"], eager["std"], rtol=1e-6, atol=5e-8)
        xr.testing.assert_identical(lazy["count"], eager["count"])  # integer counts: exact
    assert_coords_kept(eager, da)  # time and its acquisition metadata
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


@examples(30)
@given(bands(dtypes=FLOATS + INTEGERS, high=200.0), st.floats(0.01, 150.0))
def test_clamp_and_normalise_any_chunking(case: Case, value: float) -> None:
    da, chunks = case
    cfg = sarcube.NormConfig(clamp=value, mean={"vv": 0.1}, std={"vv": 0.05})
    eager = sarcube.normalise(da, cfg)
    clamped = sarcube.clamp(da, value)
    for c in chunks:
        xr.testing.assert_identical(
            lazily(lambda o: sarcube.normalise(o, cfg), chunked(da, c)), eager
        )
        xr.testing.assert_identical(
            lazily(lambda o: sarcube.clamp(o, value), chunked(da, c)), clamped
        )
    assert clamped.attrs == BAND_ATTRS and eager.attrs["platform"] == "S1A"
    assert_coords_kept(clamped, da)
    assert np.nanmax(np.append(clamped.values, -np.inf)) <= clamped.dtype.type(value)
    np.testing.assert_array_equal(np.isnan(clamped.values), np.isnan(da.values.astype(float)))


# --------------------------------------------------------------------------
# speckle filters


FILTERS: dict[str, Callable[[Any, int], Any]] = {
    "boxcar": lambda o, s: sarcube.boxcar_filter(o, size=s),
    "median": lambda o, s: sarcube.median_filter(o, size=s),
    "lee-classic": lambda o, s: sarcube.lee_filter(o, size=s, enl=4.4),
    "lee-estimated-enl": lambda o, s: sarcube.lee_filter(o, size=s),
    "lee-enhanced": lambda o, s: sarcube.lee_filter(o, size=s, variant="enhanced", enl=4.4),
    "lee-tutorial": lambda o, s: sarcube.lee_filter(o, size=s, variant="tutorial"),
    "gamma-map": lambda o, s: sarcube.gamma_map_filter(o, size=s, enl=4.4),
    "frost": lambda o, s: sarcube.frost_filter(o, size=s),
    "refined-lee": lambda o, s: sarcube.refined_lee(o, enl=4.4),  # 7×7 by definition
    "estimate-enl": lambda o, s: sarcube.estimate_enl(o, size=s),
}


@pytest.mark.parametrize("name", list(FILTERS))
@examples(20)
@given(
    case=bands(dtypes=FLOATS + INTEGERS, high=200.0, n_chunkings=1),
    size=st.sampled_from([3, 5, 7]),
)
def test_filters_any_chunking(name: str, case: Case, size: int) -> None:
    """Every speckle filter gives the in-memory result bit for bit on any chunking."""
    da, chunks = case
    depth = 3 if name == "refined-lee" else size // 2
    assume(min(da.sizes["y"], da.sizes["x"]) >= depth)  # wider windows are refused (tested)
    func = FILTERS[name]
    eager = func(da, size)
    lazy = lazily(lambda o: func(o, size), chunked(da, chunks[0]))
    # estimate_enl too: its running window sums restart at anchors fixed in the image
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert_coords_kept(eager, da)
    if name == "estimate-enl":
        assert eager.dims == ("time",) and eager.attrs["units"] == "1"
        return
    assert eager.dtype == np.float32 and eager.dims == da.dims and eager.name == da.name
    assert eager.attrs == {**BAND_ATTRS, "speckle_filter": eager.attrs["speckle_filter"]}
    nan_in, nan_out = np.isnan(da.values.astype(float)), np.isnan(eager.values)
    if name == "lee-estimated-enl":
        assert (nan_out >= nan_in).all()  # NaN stays NaN (an image without ENL is all NaN)
    else:
        np.testing.assert_array_equal(nan_out, nan_in)


#: Halo of the chunked TV runs: images with a side up to it are solved whole (exact).
TV_HALO = 12
#: Bound on |chunked − in memory| in dB with halo 12 on images of 13–22 pixels. Measured
#: deviations stay below 1e-5 dB (float32 rounding); the bound leaves a decade of margin.
TV_TOLERANCE_DB = 1e-4


@examples(20)
@given(
    case=bands(min_side=3, max_side=22, n_chunkings=1),
    method=st.sampled_from(["chambolle", "bregman"]),
    weight=st.floats(0.5, 3.0),
)
def test_tv_denoise_any_chunking(case: Case, method: str, weight: float) -> None:
    da, chunks = case
    chunks[0]["y"] = max(chunks[0]["y"], TV_HALO // 2)  # at most a few chunks: TV is slow
    chunks[0]["x"] = max(chunks[0]["x"], TV_HALO // 2)

    def tv(o: Any) -> Any:
        return sarcube.tv_denoise(o, weight=weight, method=method, halo=TV_HALO, max_iter=40)

    eager = tv(da)
    lazy = lazily(tv, chunked(da, chunks[0]))
    assert eager.dtype == np.float32 and eager.dims == da.dims
    assert eager.attrs["platform"] == "S1A" and eager.attrs["units"] == "1"
    assert_coords_kept(eager, da)
    np.testing.assert_array_equal(np.isnan(lazy.values), np.isnan(eager.values))
    np.testing.assert_array_equal(np.isnan(eager.values), np.isnan(da.values))
    if min(da.sizes["y"], da.sizes["x"]) <= TV_HALO:
        np.testing.assert_array_equal(lazy.values, eager.values)
    else:
        db = sarcube.to_db(eager).values
        np.testing.assert_allclose(sarcube.to_db(lazy).values, db, rtol=0, atol=TV_TOLERANCE_DB)


# --------------------------------------------------------------------------
# change


@examples(30)
@given(bands(min_side=1))
def test_change_images_any_chunking(case: Case) -> None:
    da, chunks = case
    pre, post = da.isel(time=0), da.isel(time=-1)
    p, q = pre.values.astype(np.float32), post.values.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = {
            "difference": q - p,
            "log_ratio": (10 * np.log10(q / p)).astype(np.float32),
            "normalised_change": (q - p) / (q + p),
        }
    for name, want in expected.items():
        func = getattr(sarcube, name)
        eager = func(pre, post)
        for c in chunks:
            lazy = lazily(func, chunked(pre, c), chunked(post, c))
            xr.testing.assert_identical(lazy, eager)
        assert eager.dims == ("y", "x") and eager.dtype == np.float32
        assert eager.attrs["platform"] == "S1A"
        for coord in ("y", "x", "spatial_ref"):
            xr.testing.assert_identical(eager[coord].variable, da[coord].variable)
        np.testing.assert_allclose(eager.values, want, rtol=1e-6, atol=1e-6)
    for how, reducer in (("median", quiet_nanmedian), ("mean", None)):
        eager = sarcube.reduce_time(da, how=how)  # type: ignore[arg-type]
        for c in chunks:
            lazy = lazily(lambda o, h=how: sarcube.reduce_time(o, how=h), chunked(da, c))
            xr.testing.assert_identical(lazy, eager)
        assert eager.dims == ("y", "x") and eager.dtype == da.dtype and eager.attrs == BAND_ATTRS
        if reducer is not None:
            np.testing.assert_array_equal(eager.values, reducer(da.values, axis=0))


# --------------------------------------------------------------------------
# thresholds and flood maps


@examples(30)
@given(
    case=bands(spatial_only=True, min_side=2, max_side=16, low=-30.0, high=5.0),
    method=st.sampled_from(["otsu", "ki", "tiled"]),
)
def test_threshold_any_chunking(case: Case, method: str) -> None:
    da, chunks = case
    da = da.assign_attrs(units="dB")
    options: dict[str, Any] = {"method": method, "bins": 64}
    if method == "tiled":
        options["tile_sizes"] = (8, 4)
    eager = sarcube.threshold(da, **options)
    for c in chunks:
        xr.testing.assert_identical(
            lazily(lambda o: sarcube.threshold(o, **options), chunked(da, c)), eager
        )
    hist = eager["histogram"]
    if method != "tiled":  # the histogram of every valid value
        assert int(hist.sum()) == int(np.isfinite(da.values).sum())
    t = float(eager["threshold"])
    assert np.isnan(t) or -50.0 <= t <= 20.0  # inside the default dB range


@examples(15)
@given(
    case=bands(dtypes=(np.uint8,), low=1, high=254, nan=False, spatial_only=True, max_side=16),
    method=st.sampled_from(["otsu", "ki"]),
)
def test_threshold_of_integers(case: Case, method: str) -> None:
    """8-bit data need no range: the dtype's (0-256) is the default."""
    da, chunks = case
    eager = sarcube.threshold(da, method=method, bins=256)
    for c in chunks:
        xr.testing.assert_identical(
            lazily(lambda o: sarcube.threshold(o, method=method, bins=256), chunked(da, c)), eager
        )
    np.testing.assert_array_equal(
        eager["histogram"].values, np.bincount(da.values.ravel(), minlength=256)
    )


@examples(20)
@given(
    case=bands(min_side=3, max_side=14, n_chunkings=1),
    method=st.sampled_from(["otsu", "ki", "tiled"]),
    nodata_buffer=st.integers(0, 2),
)
def test_flood_map_any_chunking(case: Case, method: str, nodata_buffer: int) -> None:
    da, chunks = case
    pre, post = da, da.isel(time=-1).copy(data=np.flip(da.isel(time=-1).values, axis=1))
    options: dict[str, Any] = {
        "method": method,
        "median_size": 3,
        "boxcar_size": 3,
        "nodata_buffer": nodata_buffer,
        "tile_sizes": (8, 4),
    }
    eager = sarcube.flood_map(pre, post, **options)
    with raise_if_dask_computes():
        lazy = sarcube.flood_map(chunked(pre, chunks[0]), chunked(post, chunks[0]), **options)
    xr.testing.assert_identical(lazy.compute(), eager)
    assert eager.dtype == np.uint8 and eager.dims == ("y", "x")
    assert set(np.unique(eager.values)) <= {0, 1, 255}
    for coord in ("y", "x", "spatial_ref"):
        xr.testing.assert_identical(eager[coord].variable, da[coord].variable)
    # nodata: NaN post, or NaN on every pre-event date (their median is NaN)
    nodata = np.isnan(post.values) | np.isnan(pre.values).all(axis=0)
    np.testing.assert_array_equal(eager.values == 255, nodata)


# --------------------------------------------------------------------------
# regions and validation


@st.composite
def masks(draw: st.DrawFn, *, uint8: bool) -> Case:
    """Boolean masks, or uint8 maps with 0, 1 and 255 (nodata), (time, y, x)."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 14)), draw(st.integers(1, 14)))
    elements = st.sampled_from([0, 1, 255]) if uint8 else st.booleans()
    data = draw(hnp.arrays(np.uint8 if uint8 else np.bool_, shape, elements=elements))
    da = xr.DataArray(
        data, dims=DIMS, coords=_coords(shape, DIMS), name="water", attrs={"long_name": "water"}
    )
    return da, chunkings(draw, dict(da.sizes), 2)  # type: ignore[arg-type]


def _reference_labels(mask: np.ndarray, connectivity: int) -> list[np.ndarray]:
    structure = ndimage.generate_binary_structure(2, connectivity)
    return [ndimage.label(image, structure=structure)[0] for image in mask]


@examples(30)
@given(
    case=st.booleans().flatmap(lambda u: masks(uint8=u)),
    min_size=st.integers(1, 6),
    connectivity=st.sampled_from([1, 2]),
)
def test_regions_any_chunking(case: Case, min_size: int, connectivity: int) -> None:
    da, chunks = case
    foreground = da.values == 1 if da.dtype == np.uint8 else da.values
    labels = _reference_labels(foreground, connectivity)
    expected = np.zeros(da.shape, dtype=bool)
    sizes = []
    for t, lab in enumerate(labels):
        counts = np.bincount(lab.ravel())
        expected[t] = (counts >= min_size)[lab] & (lab > 0)
        sizes += counts[1:].tolist()

    def remove(o: Any) -> Any:
        return sarcube.remove_small_regions(o, min_size=min_size, connectivity=connectivity)  # type: ignore[arg-type]

    eager = remove(da)
    stats = sarcube.region_stats(da, connectivity=connectivity)  # type: ignore[arg-type]
    ratio = sarcube.boundary_ratio(da.astype(np.uint8))
    for c in chunks:
        xr.testing.assert_identical(lazily(remove, chunked(da, c)), eager)
        xr.testing.assert_identical(
            sarcube.region_stats(chunked(da, c), connectivity=connectivity),  # type: ignore[arg-type]
            stats,
        )
        xr.testing.assert_identical(
            lazily(sarcube.boundary_ratio, chunked(da.astype(np.uint8), c)), ratio
        )
    kept = eager.values == 1 if da.dtype == np.uint8 else eager.values
    np.testing.assert_array_equal(kept, expected)
    if da.dtype == np.uint8:  # nodata and background stay as they were
        np.testing.assert_array_equal(eager.values[da.values != 1], da.values[da.values != 1])
    assert eager.dtype == da.dtype and eager.attrs == {
        "long_name": "water",
        "min_region_size": min_size,
    }
    assert_coords_kept(eager, da)
    assert stats["size"].values.tolist() == sorted(sizes, reverse=True)
    assert int(stats["count"]) == len(sizes)


@st.composite
def class_maps(draw: st.DrawFn) -> tuple[xr.DataArray, xr.DataArray, list[Chunks], list[Chunks]]:
    """Prediction and truth (time, y, x) with classes 0-2 and 255, and chunkings for each."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 14)), draw(st.integers(1, 14)))
    dtype = draw(st.sampled_from([np.uint8, np.int64]))
    pred, truth = (
        xr.DataArray(
            draw(hnp.arrays(dtype, shape, elements=st.sampled_from([0, 1, 2, 255]))),
            dims=DIMS,
            coords=_coords(shape, DIMS),
        )
        for _ in range(2)
    )
    sizes = dict(pred.sizes)
    return pred, truth, chunkings(draw, sizes, 2), chunkings(draw, sizes, 2)  # type: ignore[arg-type]


@examples(30)
@given(maps=class_maps(), ignore=st.sampled_from([None, 255, 2]))
def test_confusion_and_metrics_any_chunking(
    maps: tuple[xr.DataArray, xr.DataArray, list[Chunks], list[Chunks]], ignore: int | None
) -> None:
    pred, truth, pred_chunks, truth_chunks = maps
    classes = [0, 1, 2]
    t, p = truth.values.ravel().astype(np.int64), pred.values.ravel().astype(np.int64)
    keep = np.isin(t, classes) & np.isin(p, classes) & (t != (-1 if ignore is None else ignore))
    expected = np.bincount(t[keep] * 3 + p[keep], minlength=9).reshape(3, 3)
    cm = sarcube.confusion_matrix(pred, truth, classes=classes, nodata=ignore)
    np.testing.assert_array_equal(cm.values, expected)

    def metrics_of(p: xr.DataArray, t: xr.DataArray) -> xr.Dataset:
        return sarcube.segmentation_metrics(p, t, classes=classes, nodata=ignore)

    metrics = metrics_of(pred, truth)
    for pc, tc in zip(pred_chunks, truth_chunks, strict=True):
        lazy = lazily(metrics_of, chunked(pred, pc), chunked(truth, tc))
        xr.testing.assert_identical(lazy, metrics)  # integer counts, then the same arithmetic
    tp = np.diag(expected).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (expected.sum(0) + expected.sum(1) - tp)
    np.testing.assert_allclose(metrics["iou"].values, iou)
    defined = iou[np.isfinite(iou)]
    assert (
        np.isnan(float(metrics["miou"]))
        if defined.size == 0
        else np.isclose(float(metrics["miou"]), defined.mean())
    )


# --------------------------------------------------------------------------
# classification, features and priors


@st.composite
def dual_pol(
    draw: st.DrawFn, *, min_side: int = 1, max_side: int = 12, unique: bool = False
) -> tuple[xr.Dataset, list[Chunks]]:
    """A (y, x) VV/VH pair (VH darker), with coords, and chunkings."""
    vv, chunks = draw(bands(spatial_only=True, min_side=min_side, max_side=max_side, unique=unique))
    ratio = draw(values(vv.shape, dtypes=(vv.dtype.type,), low=0.01, high=0.5, unique=unique))
    vh = (vv * ratio).astype(vv.dtype).assign_attrs(long_name="VH backscatter (linear power)")
    return xr.Dataset({"vv": vv, "vh": vh.rename("vh")}), chunks


@examples(15)
@given(case=dual_pol(min_side=4, unique=True), n_clusters=st.sampled_from([2, 3]))
def test_kmeans_any_chunking(case: tuple[xr.Dataset, list[Chunks]], n_clusters: int) -> None:
    """The sample, the fit and the assignment do not depend on the chunking."""
    ds, chunks = case
    valid = np.isfinite(ds["vv"].values) & np.isfinite(ds["vh"].values)
    assume(valid.sum() >= 3 * n_clusters)  # too few valid pixels: refused (documented)
    eager = sarcube.kmeans(ds, n_clusters=n_clusters, sample=300)
    for c in chunks:
        lazy = lazily(
            lambda o: sarcube.kmeans(o, n_clusters=n_clusters, sample=300), chunked(ds, c)
        )
        xr.testing.assert_identical(lazy, eager)
    nan = np.isnan(ds["vv"].values) | np.isnan(ds["vh"].values)
    np.testing.assert_array_equal(eager.values == 255, nan)
    assert eager.dtype == np.uint8 and eager.dims == ("y", "x")
    assert_coords_kept(eager, ds["vv"])


@examples(15)
@given(case=dual_pol(min_side=4, max_side=20), tile_size=st.sampled_from([8, 16]))
def test_superpixels_any_chunking(case: tuple[xr.Dataset, list[Chunks]], tile_size: int) -> None:
    ds, chunks = case
    eager = sarcube.superpixels(ds, tile_size=tile_size, min_size=2, scale=50)
    for c in chunks:
        lazy = lazily(
            lambda o: sarcube.superpixels(o, tile_size=tile_size, min_size=2, scale=50),
            chunked(ds, c),
        )
        xr.testing.assert_identical(lazy, eager)
    nan = np.isnan(ds["vv"].values) | np.isnan(ds["vh"].values)
    np.testing.assert_array_equal(eager["segment"].values == -1, nan)
    assert eager["vv_mean"].attrs["units"] == "dB"
    assert_coords_kept(eager, ds["vv"])


@examples(30)
@given(dual_pol())
def test_sar_features_any_chunking(case: tuple[xr.Dataset, list[Chunks]]) -> None:
    ds, chunks = case
    eager = sarcube.sar_features(ds)
    for c in chunks:
        xr.testing.assert_identical(lazily(sarcube.sar_features, chunked(ds, c)), eager)
    vv, vh = ds["vv"].values.astype(np.float64), ds["vh"].values.astype(np.float64)
    np.testing.assert_array_equal(
        eager["co_cross_difference_db"].values, eager["vv_db"].values - eager["vh_db"].values
    )
    rtol = 1e-5 if ds["vv"].dtype == np.float32 else 1e-12
    np.testing.assert_allclose(eager["cross_co_ratio"].values, vh / vv, rtol=rtol)
    assert eager["vv_db"].attrs["units"] == "dB" and eager["cross_co_ratio"].attrs["units"] == "1"
    for name in eager.data_vars:
        assert_coords_kept(eager[name], ds["vv"])


@examples(30)
@given(
    case=bands(spatial_only=True, low=0.0, high=1.0),
    prior=st.data(),
    mode=st.sampled_from(["reconstruct", "suppress", "both"]),
    threshold=st.floats(0.05, 0.95),
)
def test_apply_water_prior_any_chunking(
    case: Case, prior: st.DataObject, mode: str, threshold: float
) -> None:
    flood, chunks = case
    occurrence = prior.draw(
        hnp.arrays(np.uint8, flood.shape, elements=st.sampled_from([0, 10, 50, 90, 100, 255]))
    )
    water_pct = flood.copy(data=occurrence)

    def apply(o: Any) -> Any:
        return sarcube.apply_water_prior(o, water_pct, threshold=threshold, mode=mode)  # type: ignore[arg-type]

    eager = apply(flood)
    for c in chunks:
        xr.testing.assert_identical(lazily(apply, chunked(flood, c)), eager)
    f = flood.values
    is_flood = f >= threshold
    water = (occurrence >= 50) & (occurrence != 255)
    expected = is_flood.astype(np.uint8)
    if mode in ("reconstruct", "both"):
        expected[~is_flood & water] = 2
    if mode in ("suppress", "both"):
        expected[is_flood & water] = 2
    expected[np.isnan(f)] = 255
    np.testing.assert_array_equal(eager.values, expected)
    assert eager.dtype == np.uint8 and eager.dims == ("y", "x")
    assert_coords_kept(eager, flood)


# --------------------------------------------------------------------------
# run-length encoding


@examples(50)
@given(
    mask=hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=14)),
    order=st.sampled_from(["F", "C"]),
    data=st.data(),
)
def test_rle_round_trip_any_chunking(mask: np.ndarray, order: str, data: st.DataObject) -> None:
    text = sarcube.rle_encode(mask, order=order)  # type: ignore[arg-type]
    decoded = sarcube.rle_decode(text, mask.shape, order=order)  # type: ignore[arg-type]
    assert decoded.dtype == np.uint8 and decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, mask)
    numbers = [int(v) for v in text.split()]
    starts, lengths = numbers[::2], numbers[1::2]
    assert sum(lengths) == int(mask.sum()) and starts == sorted(starts)
    if mask.size:
        da = xr.DataArray(mask.astype(np.uint8), dims=("y", "x"))
        sizes = {"y": mask.shape[0], "x": mask.shape[1]}
        for c in chunkings(data.draw, sizes, 2):
            with raise_if_dask_computes(max_computes=1):  # computes, once
                assert sarcube.rle_encode(chunked(da, c), order=order) == text  # type: ignore[arg-type]
        frame = sarcube.rle_frame({"a": chunked(da, c), "b": mask.T}, order=order)  # type: ignore[arg-type]
        assert frame["rle"].tolist() == [text, sarcube.rle_encode(mask.T, order=order)]  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# InSAR


@examples(30)
@given(
    case=bands(low=-60.0, high=60.0),
    mission=st.sampled_from(sorted(sarcube.insar.RADAR_WAVELENGTHS_M)),
)
def test_phase_to_displacement_any_chunking(case: Case, mission: str) -> None:
    phase, chunks = case
    phase = phase.assign_attrs(units="rad")
    wavelength = sarcube.insar.RADAR_WAVELENGTHS_M[mission]

    def convert(o: Any) -> Any:
        return sarcube.insar.phase_to_displacement(o, wavelength=wavelength)

    eager = convert(phase)
    for c in chunks:
        xr.testing.assert_identical(lazily(convert, chunked(phase, c)), eager)
    assert eager.dtype == phase.dtype and eager.dims == phase.dims and eager.attrs["units"] == "m"
    assert eager.attrs["platform"] == "S1A" and eager.attrs["wavelength"] == wavelength
    assert_coords_kept(eager, phase)
    rtol = 1e-6 if phase.dtype == np.float32 else 1e-14
    expected = -wavelength * phase.values.astype(np.float64) / (4 * np.pi)
    np.testing.assert_allclose(eager.values, expected, rtol=rtol, atol=1e-12)


@examples(30)
@given(
    case=bands(low=-0.2, high=0.2),
    incidence=st.floats(15.0, 60.0),
    reference=st.sampled_from(["median", None, 0.01]),
    as_map=st.booleans(),
)
def test_los_to_vertical_any_chunking(
    case: Case, incidence: float, reference: Any, as_map: bool
) -> None:
    los, chunks = case
    los = los.assign_attrs(units="m")
    theta: Any = incidence
    if as_map:  # an incidence map on the (y, x) grid, e.g. ISCE2's los.rdr
        theta = los.isel(time=0, drop=True).copy(data=np.full(los.shape[1:], incidence))

    def vertical(o: Any) -> Any:
        return sarcube.insar.los_to_vertical(o, theta, reference=reference)

    eager = vertical(los)
    for c in chunks:
        xr.testing.assert_identical(lazily(vertical, chunked(los, c)), eager)
    assert eager.dims == los.dims and eager.dtype == los.dtype and eager.attrs["units"] == "m"
    assert_coords_kept(eager, los)
    d = los.values.astype(np.float64)
    if reference == "median":
        d = d - quiet_nanmedian(d, axis=(1, 2))[:, None, None]
    elif reference is not None:
        d = d - reference
    rtol = 1e-5 if los.dtype == np.float32 else 1e-12
    expected = d / np.cos(np.radians(incidence))
    np.testing.assert_allclose(eager.values, expected, rtol=rtol, atol=1e-7)
