"""dB conversion and clamp statistics: numpy reference, chunk invariance, laziness, errors."""

from __future__ import annotations

import threading

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube.errors import DimensionError, DTypeError, ParameterError, SarcubeError, UnitsError

from conftest import raise_if_dask_computes, random_cube


def _chunked(ds: xr.Dataset, chunks: dict[str, int] | None) -> xr.Dataset:
    return ds if chunks is None else ds.chunk(chunks)


# --------------------------------------------------------------------------
# to_db / to_linear


def test_to_db_matches_numpy_and_keeps_metadata(chunks: dict[str, int] | None) -> None:
    cube = random_cube()
    cube["vv"][1, 0, 0] = 0.0
    cube["vh"][1, 0, 1] = -1e-3
    with raise_if_dask_computes():
        out = sarcube.to_db(_chunked(cube, chunks))
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = 10 * np.log10(np.where(cube["vv"].values > 0, cube["vv"].values, np.nan))
    np.testing.assert_allclose(out["vv"].values, expected, rtol=1e-6)
    assert np.isnan(out["vv"].values[1, 0, 0]) and np.isnan(out["vh"].values[1, 0, 1])
    assert out["vv"].dtype == np.float32
    assert out["vv"].attrs["units"] == "dB"
    assert out["vv"].attrs["long_name"] == "VV backscatter (dB)"
    assert out.attrs == cube.attrs
    xr.testing.assert_identical(out.coords.to_dataset(), cube.coords.to_dataset())
    assert (out["vv"].chunks is None) == (chunks is None)


def test_db_round_trip(chunks: dict[str, int] | None) -> None:
    cube = random_cube()
    back = sarcube.to_linear(sarcube.to_db(_chunked(cube, chunks))).compute()
    np.testing.assert_allclose(back["vv"].values, cube["vv"].values, rtol=2e-6)
    assert back["vh"].attrs["units"] == "1"


def test_to_db_on_integer_chip_and_dataarray() -> None:
    chip = xr.DataArray(np.array([[0, 1, 10, 255]], dtype=np.uint8), dims=("y", "x"))
    out = sarcube.to_db(chip)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.values, [[np.nan, 0.0, 10.0, 10 * np.log10(255)]], rtol=1e-6)


def test_to_db_refuses_db_input() -> None:
    cube = sarcube.to_db(random_cube())
    with pytest.raises(UnitsError, match="already"):
        sarcube.to_db(cube)
    with pytest.raises(UnitsError, match="expected 'dB'"):
        sarcube.to_linear(random_cube())


@pytest.mark.parametrize(
    ("obj", "error"),
    [
        (np.ones((3, 3)), DTypeError),
        (xr.DataArray(np.ones((2, 2), dtype=np.complex64), dims=("y", "x")), DTypeError),
        (xr.DataArray(np.array([["a"]]), dims=("y", "x")), DTypeError),
    ],
)
def test_to_db_bad_input(obj: object, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        sarcube.to_db(obj)  # type: ignore[type-var]
    assert isinstance(info.value, SarcubeError)


# --------------------------------------------------------------------------
# clamp_stats


def _reference_stats(values: np.ndarray, clamps: tuple[float, ...]) -> dict[str, np.ndarray]:
    """NaN-aware numpy reference over the last two axes."""
    out: dict[str, list[np.ndarray]] = {"mean": [], "std": [], "clipped_fraction": []}
    valid = ~np.isnan(values)
    count = valid.sum(axis=(-2, -1))
    for c in clamps:
        clamped = np.minimum(values, c)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(clamped, axis=(-2, -1)) / np.where(count > 0, count, np.nan)
            var = np.nansum((clamped - mean[..., None, None]) ** 2, axis=(-2, -1)) / np.where(
                count > 0, count, np.nan
            )
        out["mean"].append(mean)
        out["std"].append(np.sqrt(var))
        out["clipped_fraction"].append(
            np.where(count > 0, (values > c).sum(axis=(-2, -1)) / np.maximum(count, 1), np.nan)
        )
    return {k: np.stack(v) for k, v in out.items()}


def test_clamp_stats_matches_numpy_reference(chunks: dict[str, int] | None) -> None:
    cube = random_cube((3, 23, 31))
    cube["vh"][2] = np.nan  # an all-NaN time step
    clamps = (0.05, 0.1, 0.3)
    with raise_if_dask_computes():
        stats = sarcube.clamp_stats(_chunked(cube, chunks), clamps)
    assert stats["mean"].dims == ("band", "clamp", "time")
    assert list(stats["band"].values) == ["vv", "vh"]
    np.testing.assert_array_equal(stats["clamp"].values, clamps)
    np.testing.assert_array_equal(stats["time"].values, cube["time"].values)
    stats = stats.compute()
    for b, band in enumerate(["vv", "vh"]):
        ref = _reference_stats(cube[band].values.astype(np.float64), clamps)
        for var in ("mean", "std", "clipped_fraction"):
            np.testing.assert_allclose(stats[var].values[b], ref[var], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(
            stats["count"].values[b], (~np.isnan(cube[band].values)).sum(axis=(1, 2))
        )
    assert np.isnan(stats["mean"].sel(band="vh").values[:, 2]).all()
    assert stats["mean"].attrs["units"] == "1"
    assert stats["clipped_fraction"].attrs["units"] == "1"


def test_clamp_stats_positive_only_leaves_zeros_out(chunks: dict[str, int] | None) -> None:
    cube = random_cube((3, 23, 31))
    cube["vv"][:, :4] = 0.0  # a zero-filled border
    clamps = (0.05, 0.3)
    with raise_if_dask_computes():
        stats = sarcube.clamp_stats(_chunked(cube, chunks), clamps, positive_only=True)
    stats = stats.compute()
    for b, band in enumerate(["vv", "vh"]):
        values = cube[band].values.astype(np.float64)
        ref = _reference_stats(np.where(values > 0, values, np.nan), clamps)
        for var in ("mean", "std", "clipped_fraction"):
            np.testing.assert_allclose(stats[var].values[b], ref[var], rtol=1e-9, atol=1e-12)
    assert (stats["count"].sel(band="vv") == ((cube["vv"] > 0).sum(("y", "x")))).all()
    zeros_as_data = sarcube.clamp_stats(cube, clamps)
    assert (zeros_as_data["count"].sel(band="vv") > stats["count"].sel(band="vv")).all()
    with pytest.raises(ParameterError, match="True or False"):
        sarcube.clamp_stats(cube, clamps, positive_only="yes")  # type: ignore[arg-type]


def test_clamp_stats_over_time_and_dataarray(chunks: dict[str, int] | None) -> None:
    cube = _chunked(random_cube((3, 23, 31)), chunks)
    stats = sarcube.clamp_stats(cube["vv"], (0.1,), dims=("time", "y", "x")).compute()
    assert stats["mean"].dims == ("clamp",)
    values = cube["vv"].values.astype(np.float64)
    np.testing.assert_allclose(
        stats["mean"].values[0], np.nanmean(np.minimum(values, 0.1), dtype=np.float64), rtol=1e-9
    )
    np.testing.assert_allclose(
        stats["std"].values[0], np.nanstd(np.minimum(values, 0.1), dtype=np.float64), rtol=1e-9
    )


def test_clamp_stats_reads_each_chunk_once() -> None:
    """All bands, clamps and statistics in one compute read every chunk exactly once."""
    reads: list[tuple[int, ...]] = []
    lock = threading.Lock()
    rng = np.random.default_rng(1)
    base = rng.gamma(2.0, 0.05, size=(2, 40, 36)).astype(np.float32)

    def source(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:  # type: ignore[type-arg]
        assert block_info is not None
        with lock:
            reads.append(tuple(block_info[0]["chunk-location"]))
        return block

    bands = {}
    for name in ("vv", "vh"):
        arr = dsa.from_array(base, chunks=(1, 13, 10)).map_blocks(source, dtype=np.float32)
        bands[name] = xr.DataArray(arr, dims=("time", "y", "x"), name=name)
    cube = xr.Dataset(bands)
    n_chunks = 2 * 4 * 4
    with raise_if_dask_computes(max_computes=1):
        stats = sarcube.clamp_stats(cube, (0.05, 0.1, 0.2))
        assert reads == []  # building the graph read nothing
        stats = stats.compute()  # one compute call for every variable
    assert len(reads) == 2 * n_chunks  # 2 bands, each chunk once
    assert len(set(reads)) == n_chunks


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"clamps": (0.3, -1.0)}, ParameterError, "> 0"),
        ({"clamps": ()}, ParameterError, "empty"),
        ({"clamps": (0.3, 0.3)}, ParameterError, "duplicates"),
        ({"clamps": (float("nan"),)}, ParameterError, "finite"),
        ({"dims": ("band",)}, DimensionError, "not in variable"),
        ({"dims": ()}, ParameterError, "empty"),
    ],
)
def test_clamp_stats_bad_parameters(kwargs: dict, error: type[Exception], match: str) -> None:  # type: ignore[type-arg]
    cube = random_cube().chunk({"y": 7})
    with raise_if_dask_computes(), pytest.raises(error, match=match):
        sarcube.clamp_stats(cube, **kwargs)


def test_clamp_stats_needs_spatial_dims_and_bands() -> None:
    with pytest.raises(DimensionError, match="'y' and 'x'"):
        sarcube.clamp_stats(xr.DataArray(np.ones((3, 4)), dims=("row", "col")))
    with pytest.raises(DimensionError, match="no data variables"):
        sarcube.clamp_stats(xr.Dataset())
