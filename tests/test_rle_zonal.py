"""Run-length encoding of masks and zonal statistics of class maps over polygons."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine
from rasterio.features import rasterize
from shapely.geometry import MultiPolygon, Point, Polygon, box

from sarcube.errors import (
    DimensionError,
    DTypeError,
    MaskError,
    OutputError,
    ParameterError,
    SarcubeError,
)
from sarcube.io.rle import rle_decode, rle_encode, rle_frame
from sarcube.zonal import zonal_stats

from conftest import raise_if_dask_computes

# ---------------------------------------------------------------------------------------------
# run-length encoding


def _reference_rle(mask: np.ndarray, order: Literal["F", "C"]) -> str:
    """Pixel-by-pixel encoder, written from the format's definition."""
    parts: list[int] = []
    run_start = None
    flat = [*mask.ravel(order=order).tolist(), 0]
    for i, value in enumerate(flat):
        if value and run_start is None:
            run_start = i
        elif not value and run_start is not None:
            parts += [run_start + 1, i - run_start]
            run_start = None
    return " ".join(map(str, parts))


HAND = np.array([[0, 1, 1], [0, 1, 0], [1, 0, 0]], dtype=np.uint8)


def test_rle_hand_checked_example() -> None:
    # column-major: down column 0 (0 0 1), column 1 (1 1 0), column 2 (1 0 0)
    assert rle_encode(HAND) == rle_encode(HAND, order="F") == "3 3 7 1"
    # row-major: along row 0 (0 1 1), row 1 (0 1 0), row 2 (1 0 0)
    assert rle_encode(HAND, order="C") == "2 2 5 1 7 1"
    np.testing.assert_array_equal(rle_decode("3 3 7 1", (3, 3)), HAND)
    np.testing.assert_array_equal(rle_decode("2 2 5 1 7 1", (3, 3), order="C"), HAND)
    # a 2 x 4 mask is not square: the numbering must use the height for "F", the width for "C"
    wide = np.array([[1, 0, 0, 1], [1, 1, 0, 0]], dtype=bool)
    assert rle_encode(wide) == "1 2 4 1 7 1" and rle_encode(wide, order="C") == "1 1 4 3"
    # Kaggle's column-major numbering is row-major numbering of the transpose
    assert rle_encode(wide, order="F") == rle_encode(wide.T, order="C")


@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 23), (23, 1), (7, 13), (48, 33)])
def test_rle_round_trip_random(order: Literal["F", "C"], shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for density in (0.0, 0.1, 0.5, 0.9, 1.0):
        mask = rng.random(shape) < density
        rle = rle_encode(mask, order=order)
        assert rle == _reference_rle(mask, order)
        decoded = rle_decode(rle, shape, order=order)
        assert decoded.dtype == np.uint8 and decoded.flags.c_contiguous
        np.testing.assert_array_equal(decoded, mask)
        # 0/1 integers and floats encode as bools do
        assert rle_encode(mask.astype(np.int16), order=order) == rle
        assert rle_encode(mask.astype(np.float32), order=order) == rle
    n = shape[0] * shape[1]
    assert rle_encode(np.ones(shape, bool), order=order) == f"1 {n}"
    assert rle_encode(np.zeros(shape, bool), order=order) == ""
    np.testing.assert_array_equal(rle_decode("", shape), np.zeros(shape, np.uint8))
    np.testing.assert_array_equal(rle_decode(f"  1 {n}\n", shape), np.ones(shape, np.uint8))


def test_rle_xarray_and_dask_input() -> None:
    da = xr.DataArray(HAND, dims=("y", "x"))
    assert rle_encode(da) == "3 3 7 1"
    # (x, y) arrays are read as (y, x)
    assert rle_encode(da.transpose("x", "y")) == "3 3 7 1"
    lazy = da.chunk({"y": 2, "x": 2})
    with raise_if_dask_computes(max_computes=1):
        assert rle_encode(lazy, order="C") == "2 2 5 1 7 1"
    assert rle_encode(da.isel(y=[0])) == "2 2"  # 1 x 3


def test_rle_adjacent_runs_decode() -> None:
    np.testing.assert_array_equal(rle_decode("1 2 3 2", (2, 2)), np.ones((2, 2), np.uint8))


@pytest.mark.parametrize(
    ("rle", "match"),
    [
        ("1", "odd count"),
        ("1 2 3", "odd count"),
        ("0 2", ">= 1"),
        ("-1 2", ">= 1"),
        ("2 0", "lengths must be >= 1"),
        ("2 -3", "lengths must be >= 1"),
        ("5 2 1 1", "sorted"),
        ("1 3 2 2", "overlap"),
        ("8 3", "9 pixels"),
        ("10 1", "9 pixels"),
        ("a b", "integers"),
        ("1.5 2", "integers"),
    ],
)
def test_rle_decode_malformed(rle: str, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        rle_decode(rle, (3, 3))


def test_rle_bad_inputs() -> None:
    rle_decode("8 2", (3, 3))  # the last pixel is fine
    with pytest.raises(ParameterError, match="keep_default_na"):
        rle_decode(float("nan"), (3, 3))  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="height, width"):
        rle_decode("1 1", (3,))  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="height, width"):
        rle_decode("1 1", (3, -1))
    with pytest.raises(ParameterError, match="column-major"):
        rle_encode(HAND, order="A")  # type: ignore[arg-type]
    with pytest.raises(MaskError, match=r"other than 0 and 1, e\.g\. 255.*class_map == 1"):
        rle_encode(np.where(HAND == 1, 255, 0))
    with pytest.raises(MaskError, match="other than 0 and 1"):
        rle_encode(HAND * 2)
    with pytest.raises(MaskError, match=r"NaN.*fillna"):
        rle_encode(np.where(HAND == 1, np.nan, 0.0))
    with pytest.raises(DimensionError, match="isel"):
        rle_encode(np.zeros((2, 3, 3), bool))
    with pytest.raises(DTypeError, match="boolean"):
        rle_encode(np.array([["a", "b"]]))
    with pytest.raises(DTypeError, match="Dataset"):
        rle_encode(xr.Dataset({"m": (("y", "x"), HAND)}))
    with pytest.raises(MaskError):  # values are checked when a lazy mask is computed
        rle_encode(xr.DataArray(HAND * 3, dims=("y", "x")).chunk(2))


def test_rle_frame_and_csv(tmp_path: Path) -> None:
    masks: dict[str, xr.DataArray | np.ndarray] = {
        "chip_a": xr.DataArray(HAND, dims=("y", "x")).chunk(2),
        "chip_b": np.zeros((3, 3), bool),
        "chip_c": xr.DataArray(HAND.T, dims=("y", "x")).chunk(1),
    }
    with raise_if_dask_computes(max_computes=1):  # both lazy masks in one pass
        frame = rle_frame(masks, tmp_path / "submission.csv")
    assert frame.columns.tolist() == ["id", "rle"]
    assert frame.values.tolist() == [
        ["chip_a", "3 3 7 1"],
        ["chip_b", ""],
        ["chip_c", "2 2 5 1 7 1"],
    ]
    back = pd.read_csv(tmp_path / "submission.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(back, frame)
    assert rle_frame(masks, order="C")["rle"].tolist()[0] == "2 2 5 1 7 1"
    assert rle_frame({}).columns.tolist() == ["id", "rle"]
    with pytest.raises(OutputError, match="overwrite=True"):
        rle_frame(masks, tmp_path / "submission.csv")
    with pytest.raises(OutputError, match=r"\.csv"):
        rle_frame(masks, tmp_path / "submission.txt")
    with pytest.raises(OutputError, match="create it first"):
        rle_frame(masks, tmp_path / "missing" / "submission.csv")
    with pytest.raises(ParameterError, match="mapping"):
        rle_frame([HAND])  # type: ignore[arg-type]
    with pytest.raises(MaskError):  # nothing is written when a mask is not binary
        rle_frame({"bad": HAND * 2}, tmp_path / "bad.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


# ---------------------------------------------------------------------------------------------
# zonal statistics

PIXEL = 20.0
TRANSFORM = Affine(PIXEL, 0.0, 500_000.0, 0.0, -PIXEL, 5_000_000.0)
SHAPE = (60, 50)


def _class_map(seed: int = 0, *, nodata_block: bool = True) -> xr.DataArray:
    """A uint8 map with classes 0, 1, 2 and nodata 255 on a 20 m UTM 33N grid."""
    rng = np.random.default_rng(seed)
    values = rng.choice(np.array([0, 1, 2], np.uint8), size=SHAPE, p=[0.5, 0.35, 0.15])
    if nodata_block:
        values[5:20, 30:45] = 255
        values[rng.random(SHAPE) < 0.03] = 255
    ys = TRANSFORM.f + PIXEL * (np.arange(SHAPE[0]) + 0.5) * -1
    xs = TRANSFORM.c + PIXEL * (np.arange(SHAPE[1]) + 0.5)
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": ys, "x": xs}, name="flood")
    out: xr.DataArray = da.rio.write_crs("EPSG:32633")
    return out


def _blob(cx: float, cy: float, radius: float, seed: int, n: int = 9) -> Polygon:
    """A star-shaped polygon with random, off-grid vertices."""
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = radius * rng.uniform(0.5, 1.0, n)
    return Polygon(zip(cx + radii * np.cos(angles), cy + radii * np.sin(angles), strict=True))


def _zones() -> gpd.GeoDataFrame:
    x0, y0 = TRANSFORM.c, TRANSFORM.f
    geoms = [
        _blob(x0 + 300.3, y0 - 400.7, 250.0, 1),
        _blob(x0 + 420.1, y0 - 520.9, 300.0, 2),  # overlaps the first
        box(x0 + 3.7, y0 - 1196.1, x0 + 996.9, y0 - 3.3),  # nearly the whole map
        _blob(x0 + 760.2, y0 - 250.4, 120.0, 3),  # inside the nodata block
        MultiPolygon(
            [_blob(x0 + 100.5, y0 - 1000.2, 90.0, 4), _blob(x0 + 900.6, y0 - 1100.3, 80.0, 5)]
        ),
        _blob(x0 - 5000.0, y0 + 5000.0, 300.0, 6),  # outside the map
        box(x0 + 970.2, y0 - 600.5, x0 + 1200.8, y0 - 500.4),  # partly off the east edge
        None,
    ]
    return gpd.GeoDataFrame(
        {"field": [f"f{i}" for i in range(len(geoms))], "owner": list("abcdefgh")},
        geometry=geoms,
        crs="EPSG:32633",
    )


def _reference(
    class_map: xr.DataArray,
    zones: gpd.GeoDataFrame,
    classes: tuple[int, ...],
    nodata: int | None,
    *,
    all_touched: bool = False,
) -> dict[str, np.ndarray]:
    """Brute force: each polygon rasterised over the whole grid, then counted."""
    values = class_map.values
    transform = class_map.rio.transform()
    geoms = zones.to_crs(class_map.rio.crs).geometry
    out: dict[str, list[float]] = {"n_pixels": [], "n_valid": []}
    for c in classes:
        out[f"class{c}_pixels"] = []
        out[f"class{c}_fraction"] = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            inside = np.zeros(values.shape, bool)
        else:
            inside = rasterize(
                [(geom, 1)],
                out_shape=values.shape,
                transform=transform,
                fill=0,
                dtype="uint8",
                all_touched=all_touched,
            ).astype(bool)
        valid = inside & (values != nodata) if nodata is not None else inside
        out["n_pixels"].append(inside.sum())
        out["n_valid"].append(valid.sum())
        for c in classes:
            hits = (inside & (values == c)).sum()
            out[f"class{c}_pixels"].append(hits)
            out[f"class{c}_fraction"].append(hits / valid.sum() if valid.sum() else np.nan)
    return {k: np.asarray(v) for k, v in out.items()}


STAT_COLUMNS = [
    "n_pixels",
    "n_valid",
    "valid_area_m2",
    "class1_pixels",
    "class1_area_m2",
    "class1_fraction",
    "class2_pixels",
    "class2_area_m2",
    "class2_fraction",
]


def _check_against_reference(result: gpd.GeoDataFrame, expected: dict[str, np.ndarray]) -> None:
    for column, values in expected.items():
        if column.endswith("_fraction"):
            np.testing.assert_allclose(result[column], values, rtol=1e-12, err_msg=column)
        else:
            np.testing.assert_array_equal(result[column], values, err_msg=column)
    np.testing.assert_allclose(result["valid_area_m2"], expected["n_valid"] * PIXEL**2)
    np.testing.assert_allclose(result["class1_area_m2"], expected["class1_pixels"] * PIXEL**2)


def test_zonal_stats_numpy_matches_brute_force() -> None:
    class_map, zones = _class_map(), _zones()
    with raise_if_dask_computes(max_computes=0):
        result = zonal_stats(class_map, zones, classes=(1, 2))
    assert result.columns.tolist() == ["field", "owner", "geometry", *STAT_COLUMNS]
    assert result.crs == zones.crs and result.index.equals(zones.index)
    assert result.geometry.equals(zones.geometry)  # the caller's geometries, untouched
    expected = _reference(class_map, zones, (1, 2), 255)
    _check_against_reference(result, expected)
    assert result["n_pixels"].dtype == np.int64 and result["class1_area_m2"].dtype == np.float64
    # the hand-made zones exercise what they are meant to
    n = result["n_pixels"].to_numpy()
    assert n[0] > 0 and n[1] > 0 and n[2] > 2000  # overlapping pair and the big box
    assert n[3] > 0 and result["n_valid"][3] == 0 and np.isnan(result["class1_fraction"][3])
    assert n[5] == 0 and np.isnan(result["class1_fraction"][5]) and result["class1_area_m2"][5] == 0
    assert 0 < n[6] < 10  # only the last column of the map is in the zone
    assert n[7] == 0  # no geometry
    # overlapping zones are both counted in full
    both = rasterize([(zones.geometry[0], 1)], out_shape=SHAPE, transform=TRANSFORM).astype(bool)
    both &= rasterize([(zones.geometry[1], 1)], out_shape=SHAPE, transform=TRANSFORM).astype(bool)
    assert both.sum() > 10
    assert (
        n[0] + n[1]
        == rasterize(
            [(zones.geometry[0].union(zones.geometry[1]), 1)], out_shape=SHAPE, transform=TRANSFORM
        ).sum()
        + both.sum()
    )


@pytest.mark.parametrize("chunks", [{"y": 7, "x": 9}, {"y": 60, "x": 4}, {"y": 25, "x": 50}])
def test_zonal_stats_chunk_invariant(chunks: dict[str, int]) -> None:
    class_map, zones = _class_map(1), _zones()
    eager = zonal_stats(class_map, zones, classes=(1, 2))
    with raise_if_dask_computes(max_computes=1):  # the graph is built, then computed once
        lazy = zonal_stats(class_map.chunk(chunks), zones, classes=(1, 2))
    pd.testing.assert_frame_equal(pd.DataFrame(lazy), pd.DataFrame(eager), check_exact=True)
    _check_against_reference(lazy, _reference(class_map, zones, (1, 2), 255))


def test_zonal_stats_polygons_in_another_crs() -> None:
    class_map, zones = _class_map(2), _zones()
    geographic = zones.to_crs("EPSG:4326")
    result = zonal_stats(class_map.chunk({"y": 16, "x": 16}), geographic, classes=(1, 2))
    assert result.crs == geographic.crs
    _check_against_reference(result, _reference(class_map, geographic, (1, 2), 255))
    # off-grid vertices: reprojecting there and back does not move any pixel centre across
    same = zonal_stats(class_map, zones, classes=(1, 2))
    pd.testing.assert_frame_equal(
        pd.DataFrame(result[STAT_COLUMNS]), pd.DataFrame(same[STAT_COLUMNS]), check_exact=True
    )


def test_zonal_stats_nodata_and_class_names() -> None:
    class_map, zones = _class_map(3), _zones()
    no_nodata = zonal_stats(class_map, zones, classes=(1,), nodata=None)
    _check_against_reference(no_nodata, _reference(class_map, zones, (1,), None))
    assert (no_nodata["n_valid"] == no_nodata["n_pixels"]).all()
    # another nodata value: 255 is then an ordinary, valid class value
    other = zonal_stats(class_map, zones, classes=(1, 2), nodata=0)
    _check_against_reference(other, _reference(class_map, zones, (1, 2), 0))
    named = zonal_stats(class_map, zones, classes={"flood": 1, "water": 2})
    assert [c for c in named.columns if c.startswith(("flood", "water"))] == [
        "flood_pixels",
        "flood_area_m2",
        "flood_fraction",
        "water_pixels",
        "water_area_m2",
        "water_fraction",
    ]
    default = zonal_stats(class_map, zones)
    np.testing.assert_array_equal(named["flood_pixels"], default["class1_pixels"])
    # the whole map under one polygon agrees with a plain count
    whole = gpd.GeoDataFrame(geometry=[box(*class_map.rio.bounds())], crs="EPSG:32633")
    row = zonal_stats(class_map.chunk(13), whole).iloc[0]
    values = class_map.values
    assert row["n_pixels"] == values.size and row["n_valid"] == (values != 255).sum()
    assert row["class1_fraction"] == (values == 1).sum() / (values != 255).sum()


def test_zonal_stats_all_touched_and_bool_map() -> None:
    class_map, zones = _class_map(4), _zones()
    touched = zonal_stats(class_map.chunk({"y": 11, "x": 6}), zones, all_touched=True)
    _check_against_reference(touched, _reference(class_map, zones, (1,), 255, all_touched=True))
    assert (touched["n_pixels"] >= zonal_stats(class_map, zones)["n_pixels"]).all()
    flooded = class_map == 1
    as_bool = zonal_stats(flooded, zones, nodata=None)
    expected = _reference(class_map, zones, (1,), None)["class1_pixels"]
    np.testing.assert_array_equal(as_bool["class1_pixels"], expected)


def test_zonal_stats_geographic_grid_area_on_the_ellipsoid() -> None:
    from pyproj import Geod

    step = 0.01
    values = np.ones((100, 100), np.uint8)
    lats = 46.0 - step * (np.arange(100) + 0.5)
    lons = 10.0 + step * (np.arange(100) + 0.5)
    class_map = xr.DataArray(values, dims=("y", "x"), coords={"y": lats, "x": lons})
    class_map = class_map.rio.write_crs("EPSG:4326")
    zones = gpd.GeoDataFrame(geometry=[box(9.9, 44.9, 10.5001, 46.1)], crs="EPSG:4326")
    results = [zonal_stats(class_map.chunk(c), zones) for c in (100, 7, 33)]
    for other in results[1:]:
        pd.testing.assert_frame_equal(
            pd.DataFrame(other), pd.DataFrame(results[0]), check_exact=True
        )
    result = results[0].iloc[0]
    assert result["n_pixels"] == 100 * 50
    # the cells between 45°N and 46°N, 10°E and 10.5°E: a lat/lon rectangle whose parallels
    # are densified so that geodesic edges follow them
    lon = np.linspace(10.0, 10.5, 2001)
    ring_lon = np.concatenate([lon, lon[::-1]])
    ring_lat = np.concatenate([np.full(lon.size, 45.0), np.full(lon.size, 46.0)])
    area, _ = Geod(ellps="WGS84").polygon_area_perimeter(ring_lon, ring_lat)
    assert result["class1_area_m2"] == pytest.approx(abs(area), rel=1e-6)
    assert result["valid_area_m2"] == result["class1_area_m2"]


def test_zonal_stats_transform_without_coords() -> None:
    class_map = _class_map(5)
    bare = xr.DataArray(class_map.values, dims=("y", "x")).rio.write_crs("EPSG:32633")
    bare = bare.rio.write_transform(TRANSFORM)
    zones = _zones()
    pd.testing.assert_frame_equal(
        pd.DataFrame(zonal_stats(bare, zones)), pd.DataFrame(zonal_stats(class_map, zones))
    )


def test_zonal_stats_writes_csv_parquet_geojson(tmp_path: Path) -> None:
    class_map, zones = _class_map(6).chunk(20), _zones()
    result = zonal_stats(class_map, zones, id_column="field", path=tmp_path / "zones.csv")
    table = pd.read_csv(tmp_path / "zones.csv")
    assert table.columns.tolist() == [
        "field",
        "owner",
        *[c for c in STAT_COLUMNS if "class2" not in c],
    ]
    pd.testing.assert_frame_equal(table, pd.DataFrame(result.drop(columns="geometry")))
    zonal_stats(class_map, zones, path=tmp_path / "indexed.csv")
    assert pd.read_csv(tmp_path / "indexed.csv").columns[0] == "index"
    zonal_stats(class_map, zones, path=tmp_path / "zones.parquet")
    back = gpd.read_parquet(tmp_path / "zones.parquet")
    assert back.crs == zones.crs
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")), pd.DataFrame(result.drop(columns="geometry"))
    )
    assert back.geometry.geom_equals(result.geometry).sum() == len(zones) - 1  # None stays None
    zonal_stats(class_map, zones.iloc[:5], path=tmp_path / "zones.geojson")
    assert len(gpd.read_file(tmp_path / "zones.geojson")) == 5
    with pytest.raises(OutputError, match="overwrite=True"):
        zonal_stats(class_map, zones, path=tmp_path / "zones.csv")
    zonal_stats(class_map, zones.iloc[:2], path=tmp_path / "zones.csv", overwrite=True)
    assert len(pd.read_csv(tmp_path / "zones.csv")) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "indexed.csv",
        "zones.csv",
        "zones.geojson",
        "zones.parquet",
    ]


def test_zonal_stats_empty_frame() -> None:
    empty = _zones().iloc[:0]
    with raise_if_dask_computes(max_computes=1):
        result = zonal_stats(_class_map().chunk(10), empty)
    assert len(result) == 0 and "class1_fraction" in result.columns


def test_zonal_stats_bad_inputs_fail_before_computing(tmp_path: Path) -> None:
    class_map, zones = _class_map().chunk(10), _zones()
    bad: list[tuple[type[SarcubeError], str, dict[str, object]]] = [
        (OutputError, r"\.csv, \.parquet", {"path": tmp_path / "zones.shp"}),
        (OutputError, "create it first", {"path": tmp_path / "nowhere" / "zones.csv"}),
        (ParameterError, "nodata", {"classes": (1, 255)}),
        (ParameterError, "empty", {"classes": ()}),
        (ParameterError, "unique", {"classes": (1, 1)}),
        (ParameterError, "integers", {"classes": (1.5,)}),
        (ParameterError, "sequence", {"classes": 1}),
        (ParameterError, "'plot' is not a column", {"id_column": "plot"}),
        (ParameterError, "unique", {"id_column": "owner", "polygons": zones.assign(owner="x")}),
        (ParameterError, "nodata must be", {"nodata": 2.5}),
        (ParameterError, "all_touched", {"all_touched": "yes"}),
        (ParameterError, "no CRS.*set_crs", {"polygons": zones.set_crs(None, allow_override=True)}),
        (
            ParameterError,
            "buffer",
            {"polygons": gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=4326)},
        ),
        (DTypeError, "GeoDataFrame", {"polygons": zones.geometry}),
        (ParameterError, "already have columns", {"polygons": zones.assign(n_valid=1)}),
        (DTypeError, "fillna", {"class_map": class_map.astype(np.float32)}),
        (DimensionError, "isel", {"class_map": class_map.expand_dims(time=2)}),
        (DimensionError, "'y' and 'x'", {"class_map": class_map.rename(y="row")}),
        (DTypeError, "DataArray", {"class_map": class_map.to_dataset()}),
        (ParameterError, "no CRS.*write_crs", {"class_map": class_map.drop_vars("spatial_ref")}),
        (
            ParameterError,
            "write_transform",
            {
                "class_map": xr.DataArray(
                    np.zeros((3, 3), np.uint8), dims=("y", "x")
                ).rio.write_crs(32633)
            },
        ),
    ]
    for error, match, kwargs in bad:
        args: dict[str, object] = {"class_map": class_map, "polygons": zones, **kwargs}
        with raise_if_dask_computes(max_computes=0), pytest.raises(error, match=match):
            zonal_stats(**args)  # type: ignore[arg-type]
    rotated = xr.DataArray(np.zeros((3, 3), np.uint8), dims=("y", "x")).rio.write_crs(4326)
    rotated = rotated.rio.write_transform(Affine.rotation(10))
    with pytest.raises(ParameterError, match="rotated"):
        zonal_stats(rotated, zones)
    assert not list(tmp_path.iterdir())


def test_old_io_path_of_zonal_stats_warns_and_forwards() -> None:
    import sarcube.io.zonal

    with pytest.warns(DeprecationWarning, match="moved to sarcube.zonal"):
        old = sarcube.io.zonal.zonal_stats
    assert old is zonal_stats
