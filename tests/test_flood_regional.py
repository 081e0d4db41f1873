"""Regional flood thresholds: two landscapes, chunk invariance, no seams, fallbacks, Zarr."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube._overlap import tile_map
from sarcube.errors import GridMismatchError, ParameterError
from sarcube.regional import SOURCE_GLOBAL, SOURCE_NEIGHBOUR, SOURCE_OWN, interpolate

LOOKS = 4.4


def _speckled(db: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    power = 10 ** (db / 10)
    return (power * rng.gamma(LOOKS, 1 / LOOKS, db.shape)).astype(np.float32)


def two_landscapes(
    shape: tuple[int, int] = (512, 1024), seed: int = 0
) -> tuple[xr.DataArray, xr.DataArray, np.ndarray]:
    pre, post, truth = sarcube.synthetic.two_landscapes(shape, seed=seed)
    return pre, post, truth.values


def _iou(flood: np.ndarray, truth: np.ndarray) -> float:
    return float((flood & truth).sum() / (flood | truth).sum())


def test_regional_maps_both_landscapes_where_global_misses_one() -> None:
    pre, post, truth = two_landscapes()
    half = truth.shape[1] // 2
    global_map = sarcube.flood_map(pre, post).values == 1
    regional = sarcube.flood_map(pre, post, thresholds="regional", region_size=128).values == 1
    left, right = np.s_[:, :half], np.s_[:, half:]
    assert _iou(global_map[right], truth[right]) < 0.5  # one threshold misses the bright water
    assert _iou(regional[left], truth[left]) > 0.85
    assert _iou(regional[right], truth[right]) > 0.85


def test_surface_is_chunk_invariant_and_the_map_identical() -> None:
    pre, post, _ = two_landscapes((384, 640), seed=1)
    expected = sarcube.flood_map(pre, post, thresholds="regional", region_size=128)
    surface = sarcube.flood_thresholds(pre, post, region_size=128)
    for chunks in ({"y": 100, "x": 77}, {"y": 384, "x": 128}, {"y": 33, "x": 640}):
        lazy_pre, lazy_post = pre.chunk(chunks), post.chunk(chunks)
        with dask.config.set(scheduler="synchronous"):
            got = sarcube.flood_thresholds(lazy_pre, lazy_post, region_size=128).compute()
            flooded = sarcube.flood_map(lazy_pre, lazy_post, thresholds=got).compute()
        xr.testing.assert_identical(got, surface)
        np.testing.assert_array_equal(flooded.values, expected.values)


@pytest.mark.parametrize("tiles", [1, 2, 5])
def test_a_surface_computed_tile_by_tile_is_the_same(tiles: int) -> None:
    pre, post, _ = two_landscapes((384, 640), seed=1)
    expected = sarcube.flood_thresholds(pre, post, region_size=128)
    lazy_pre, lazy_post = pre.chunk({"y": 100, "x": 77}), post.chunk({"y": 100, "x": 77})
    calls = []

    def counting(dsk: object, keys: object, **kwargs: object) -> object:
        calls.append(1)
        return dask.get(dsk, keys, **kwargs)  # type: ignore[arg-type]

    with dask.config.set(scheduler=counting):
        got = sarcube.flood_thresholds(lazy_pre, lazy_post, region_size=128, tiles=tiles)
    n_tiles = -(-4 // tiles) * -(-9 // tiles)  # 4 × 9 chunks
    assert len(calls) == n_tiles  # computed now, one computation per tile
    xr.testing.assert_identical(got.compute(), expected)


def test_building_the_regional_graph_computes_nothing() -> None:
    pre, post, _ = two_landscapes((256, 256), seed=2)
    with dask.config.set(scheduler=_refuse):
        surface = sarcube.flood_thresholds(pre.chunk(128), post.chunk(128), region_size=128)
        sarcube.flood_map(pre.chunk(128), post.chunk(128), thresholds="regional", region_size=128)
        sarcube.flood_map(pre.chunk(128), post.chunk(128), thresholds=surface)


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("computed while building the graph")


def test_surface_has_no_seams() -> None:
    grid = np.array([[-20.0, -10.0, -15.0], [-12.0, -18.0, -11.0]])
    region = 64
    surface = interpolate(grid, 0, 0, 2 * region, 3 * region, region)
    # continuous: neighbouring pixels differ by at most the largest step between
    # neighbouring region centres divided by the region size
    step = max(np.abs(np.diff(grid, axis=0)).max(), np.abs(np.diff(grid, axis=1)).max())
    assert np.abs(np.diff(surface, axis=0)).max() <= step / region + 1e-9
    assert np.abs(np.diff(surface, axis=1)).max() <= step / region + 1e-9
    # the region centres take their region's value; beyond the outer centres it is constant
    centre = region // 2
    assert surface[centre, centre] == pytest.approx(grid[0, 0], abs=0.2)
    assert surface[0, 0] == surface[0, 5] == grid[0, 0]
    # any block of the image gives the same values (global pixel positions)
    block = interpolate(grid, 37, 101, 50, 60, region)
    np.testing.assert_array_equal(block, surface[37:87, 101:161])


def test_regions_without_water_take_the_nearest_usable_threshold() -> None:
    pre, post, truth = two_landscapes((512, 512), seed=3)  # left landscape only
    dry = truth.copy()
    dry[:, 256:] = False
    values = post.values.copy()
    values[:, 256:] = pre.values[:, 256:]  # no water on the right: no change
    post = post.copy(data=values)
    surface = sarcube.flood_thresholds(pre, post, region_size=128)
    source = surface["post_source"].values
    assert (source[:, :2] == SOURCE_OWN).any()
    assert (source[:, 2:] == SOURCE_NEIGHBOUR).all()
    own = surface["post_own_threshold"].values
    filled = surface["post_threshold"].values
    assert np.isnan(own[:, 2:]).all()
    assert np.isfinite(filled).all()
    row = own[0][np.isfinite(own[0])]
    assert filled[0, 3] == pytest.approx(row[-1] if row.size else filled[0, 3])


def test_no_usable_region_falls_back_to_the_whole_image() -> None:
    rng = np.random.default_rng(4)
    land = _speckled(np.full((256, 256), -10.0), rng)
    pre = xr.DataArray(land, dims=("y", "x"), attrs={"units": "1"})
    post = pre.copy(data=_speckled(np.full((256, 256), -10.0), rng))
    surface = sarcube.flood_thresholds(pre, post, region_size=128)
    assert (surface["post_source"] == SOURCE_GLOBAL).all()
    np.testing.assert_array_equal(
        surface["post_threshold"].values,
        np.full((2, 2), float(surface["post_global_threshold"])),
    )


def test_surface_round_trips_through_zarr(tmp_path: object) -> None:
    pre, post, _ = two_landscapes((256, 512), seed=5)
    surface = sarcube.flood_thresholds(pre, post, region_size=128)
    path = f"{tmp_path}/surface.zarr"
    sarcube.to_zarr(surface, path)
    back = sarcube.open_zarr(path).compute()
    xr.testing.assert_equal(back, surface)
    again = sarcube.flood_map(pre, post, thresholds=back)
    np.testing.assert_array_equal(
        again.values, sarcube.flood_map(pre, post, thresholds="regional", region_size=128).values
    )


def test_integer_chips_use_their_dtype_range() -> None:
    pre, post, truth = two_landscapes((256, 1024), seed=6)

    def to_u8(da: xr.DataArray) -> xr.DataArray:
        db = 10 * np.log10(da.values)
        return da.copy(data=np.clip((db + 30) * 6, 1, 254).astype(np.uint8)).assign_attrs(
            units=None
        )

    surface = sarcube.flood_thresholds(to_u8(pre), to_u8(post), region_size=128)
    assert surface.attrs["post_range"] == [0.0, 256.0]
    flooded = sarcube.flood_map(to_u8(pre), to_u8(post), thresholds=surface).values == 1
    assert _iou(flooded, truth) > 0.8


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda pre, post: sarcube.flood_map(pre, post, thresholds="local"), "thresholds must"),
        (
            lambda pre, post: sarcube.flood_map(pre, post, thresholds="regional", region_size=16),
            "region_size must be an integer >= 64",
        ),
        (
            lambda pre, post: sarcube.flood_thresholds(pre, post, region_size=1.5),
            "region_size must be an integer",
        ),
        (
            lambda pre, post: sarcube.flood_thresholds(pre, post, region_size=64, tiles=0),
            "tiles must be a positive integer",
        ),
        (
            lambda pre, post: sarcube.flood_map(pre, post, thresholds=xr.Dataset()),
            "flood_thresholds",
        ),
        (
            lambda pre, post: sarcube.flood_map(
                pre.astype(np.float32).assign_attrs(units=None),
                post.astype(np.float32).assign_attrs(units=None),
                thresholds="regional",
                units="log",
            ),
            "in dB",
        ),
    ],
)
def test_bad_input_is_refused_before_any_graph(call: object, match: str) -> None:
    pre, post, _ = two_landscapes((128, 128))
    with pytest.raises(ParameterError, match=match):
        call(pre.chunk(64), post.chunk(64))  # type: ignore[operator]


def test_a_surface_for_another_grid_is_refused() -> None:
    pre, post, _ = two_landscapes((256, 256))
    surface = sarcube.flood_thresholds(pre, post, region_size=64)
    step = float(pre.x[1] - pre.x[0])
    off_grid = {
        "half a pixel off": lambda da: da.assign_coords(x=da.x + step / 2),
        "another step": lambda da: da.assign_coords(x=da.x[0].values + 2 * step * np.arange(256)),
        "beyond the grid": lambda da: da.assign_coords(x=da.x + 10 * step),
    }
    for label, shift in off_grid.items():
        with pytest.raises(GridMismatchError, match="not a window of the grid"):
            sarcube.flood_map(shift(pre), shift(post), thresholds=surface)
        assert label
    bare = pre[:128].drop_vars(["y", "x"]), post[:128].drop_vars(["y", "x"])  # cannot be located
    with pytest.raises(GridMismatchError, match="256×256 image"):
        sarcube.flood_map(*bare, thresholds=surface)
    other = sarcube.flood_thresholds(pre[:, :200], post[:, :200], region_size=64)
    other = other.isel(region_x=slice(0, 3))  # regions cut short: not its pixel grid
    with pytest.raises(GridMismatchError, match="region grid"):
        sarcube.flood_map(pre, post, thresholds=other)


def test_a_window_of_the_grid_is_mapped_with_the_surface_at_its_place() -> None:
    pre, post, _ = two_landscapes((384, 640), seed=2)
    surface = sarcube.flood_thresholds(pre, post, region_size=128)
    assert surface.attrs["grid_shape"] == [384, 640]
    full = sarcube.flood_map(pre, post, thresholds=surface, min_size=6).values
    ys, xs = slice(70, 300), slice(129, 500)
    window = sarcube.flood_map(pre[ys, xs], post[ys, xs], thresholds=surface, min_size=6)
    h = sarcube.flood.flood_halo(min_size=6)  # beyond it, the window's own edge does not reach
    inner = np.s_[h:-h, h:-h]
    np.testing.assert_array_equal(window.values[inner], full[ys, xs][inner])


def test_tiles_read_with_the_flood_halo_join_to_the_whole_map() -> None:
    pre, post, _ = two_landscapes((384, 640), seed=3)
    surface = sarcube.flood_thresholds(pre, post, region_size=128)
    cube = xr.Dataset({"vv": xr.concat([pre, post], "time")})
    cube = cube.chunk({"time": 1, "y": 64, "x": 64})
    expected = sarcube.flood_map(pre, post, thresholds=surface, min_size=6)

    def mapped(window: xr.Dataset) -> xr.DataArray:
        return sarcube.flood_map(
            window.isel(time=0), window.isel(time=1), thresholds=surface, min_size=6
        )

    margin = sarcube.flood.flood_halo(min_size=6)
    with dask.config.set(scheduler="synchronous"):
        joined = tile_map(mapped, cube, tile=(128, 192), margin=margin)
        assert joined.chunks == ((64,) * 6, (64,) * 10)
        xr.testing.assert_identical(joined.compute(), expected)

        def images(window: xr.Dataset) -> xr.DataArray:
            return sarcube.flood.threshold_images(window.isel(time=0), window.isel(time=1))

        whole = sarcube.flood.threshold_images(pre, post)
        joined_images = tile_map(images, cube, tile=(128, 192), margin=sarcube.flood.flood_halo())
        xr.testing.assert_identical(joined_images.compute(), whole)
        short = tile_map(images, cube, tile=(128, 192), margin=2).compute()
    assert not np.array_equal(short.values, whole.values, equal_nan=True)  # the margin is needed


def test_chunks_smaller_than_the_filters_halo() -> None:
    pre, post, _ = two_landscapes((96, 128), seed=7)
    expected = sarcube.flood_map(pre, post, thresholds="regional", region_size=64).values
    with dask.config.set(scheduler="synchronous"):
        got = sarcube.flood_map(
            pre.chunk({"y": 3, "x": 40}),
            post.chunk({"y": 3, "x": 40}),
            thresholds="regional",
            region_size=64,
        ).values
    np.testing.assert_array_equal(got, expected)


def test_the_old_name_of_units_still_works_with_a_deprecation_warning() -> None:
    pre, post, _ = sarcube.synthetic.two_landscapes((128, 128))
    expected = sarcube.flood_map(pre, post, units="linear")
    with pytest.warns(DeprecationWarning, match=r"flood_map: scale= is renamed units="):
        old = sarcube.flood_map(pre, post, scale="linear")
    xr.testing.assert_identical(old, expected)
