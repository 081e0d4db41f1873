"""Vector export of masks: regions dissolved across chunks, CRS kept, files written whole."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import xarray as xr
from rasterio.features import rasterize
from scipy import ndimage

import sarcube
from sarcube.errors import DimensionError, MaskError, OutputError, ParameterError

from conftest import raise_if_dask_computes


def _mask(seed: int = 0) -> xr.DataArray:
    """A uint8 0/1/255 map of random blobs on the synthetic scene's UTM grid."""
    scene = sarcube.synthetic.make_scene((90, 70), seed=seed).cube["vv"].isel(time=0)
    rng = np.random.default_rng(seed)
    blobs = ndimage.gaussian_filter(rng.normal(size=scene.shape), 2.5) > 0.12
    values = blobs.astype(np.uint8)
    values[:3, :10] = 255
    values[40:80, 20:60] = 1  # one large region across many chunks
    return scene.copy(data=values).rename("flood").assign_attrs(units="1")


def _canonical(frame: gpd.GeoDataFrame) -> list[tuple[int, int, bytes]]:
    return [
        (r.region, r.n_pixels, r.geometry.normalize().wkb)
        for r in frame.itertuples()  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("chunks", [{"y": 11, "x": 13}, {"y": 90, "x": 7}, {"y": 30, "x": 35}])
def test_to_vector_dissolves_across_chunks(chunks: dict[str, int]) -> None:
    mask = _mask()
    eager = sarcube.to_vector(mask)
    with raise_if_dask_computes(max_computes=1):  # one compute for all chunks
        lazy = sarcube.to_vector(mask.chunk(chunks))
    assert _canonical(lazy) == _canonical(eager)
    assert lazy.crs == mask.rio.crs and lazy.crs.to_epsg() == 32633
    # one row per 8-connected region, with its pixel count
    labels, n = ndimage.label(mask.values == 1, structure=np.ones((3, 3)))
    assert len(eager) == n
    assert sorted(eager["n_pixels"]) == sorted(np.bincount(labels.ravel())[1:])
    np.testing.assert_allclose(eager["area"], eager["n_pixels"] * 20.0**2)
    # burning the polygons back onto the grid gives the mask
    burnt = rasterize(
        ((g, 1) for g in eager.geometry),
        out_shape=mask.shape,
        transform=mask.rio.transform(),
        fill=0,
        dtype="uint8",
    )
    np.testing.assert_array_equal(burnt, mask.values == 1)
    assert (eager.geometry.is_valid).all()


def _class_map() -> xr.DataArray:
    """A 0/1/2 class map with nodata (255) on the synthetic scene's UTM grid."""
    mask = _mask(1)
    rng = np.random.default_rng(1)
    values = np.where(mask.values == 1, 2, 0).astype(np.uint8)
    values[ndimage.gaussian_filter(rng.normal(size=mask.shape), 2.0) > 0.15] = 1
    values[:3, :10] = 255
    return mask.copy(data=values).rename("classes")


@pytest.mark.parametrize("chunks", [None, {"y": 11, "x": 13}, {"y": 30, "x": 35}])
def test_to_vector_of_a_class_map(chunks: dict[str, int] | None) -> None:
    classes = _class_map()
    source = classes if chunks is None else classes.chunk(chunks)
    frame = sarcube.to_vector(source, values="classes")
    assert list(frame.columns) == ["region", "class", "n_pixels", "area", "geometry"]
    assert set(frame["class"]) == {0, 1, 2}  # nodata left out
    for value in (0, 1, 2):
        labels, n = ndimage.label(classes.values == value, structure=np.ones((3, 3)))
        rows = frame[frame["class"] == value]
        assert len(rows) == n
        assert sorted(rows["n_pixels"]) == sorted(np.bincount(labels.ravel())[1:])
        burnt = rasterize(
            ((g, 1) for g in rows.geometry),
            out_shape=classes.shape,
            transform=classes.rio.transform(),
            fill=0,
            dtype="uint8",
        )
        np.testing.assert_array_equal(burnt, classes.values == value)
    if chunks is not None:  # the same rows as in memory, for any chunking
        eager = sarcube.to_vector(classes, values="classes")
        assert frame["class"].tolist() == eager["class"].tolist()
        assert _canonical(frame) == _canonical(eager)


@pytest.mark.parametrize("chunks", [None, {"y": 17, "x": 9}])
def test_to_vector_of_a_segment_map(chunks: dict[str, int] | None) -> None:
    # superpixel ids: one geometry per id, in order of the ids, pieces dissolved
    scene = sarcube.synthetic.make_scene((60, 50), seed=2).cube["vv"].isel(time=0)
    segments = sarcube.superpixels(scene.to_dataset(name="vv"), scale=50.0)["segment"].compute()
    source = segments if chunks is None else segments.chunk(chunks)
    frame = sarcube.to_vector(source, values="segments", nodata=None)
    ids = np.unique(segments.values)
    assert frame["segment"].tolist() == ids.tolist()
    assert frame["n_pixels"].tolist() == [int((segments.values == i).sum()) for i in ids]
    assert list(frame.columns) == ["segment", "n_pixels", "area", "geometry"]
    # a nodata id is left out
    assert ids[0] not in set(
        sarcube.to_vector(source, values="segments", nodata=int(ids[0]))["segment"]
    )


def test_to_vector_refuses_float_class_maps_and_unknown_values() -> None:
    classes = _class_map()
    with pytest.raises(sarcube.errors.DTypeError, match="dtype float32"):
        sarcube.to_vector(classes.astype(np.float32), values="classes")
    with pytest.raises(ParameterError, match="'mask', 'classes' or 'segments'"):
        sarcube.to_vector(classes, values="labels")  # type: ignore[arg-type]
    with pytest.raises(MaskError):  # values='mask' still wants 0/1/255
        sarcube.to_vector(classes)


def test_to_vector_writes_geoparquet_and_geojson(tmp_path: Path) -> None:
    mask = _mask(1).chunk({"y": 25, "x": 25})
    frame = sarcube.to_vector(mask, tmp_path / "flood.parquet")
    back = gpd.read_parquet(tmp_path / "flood.parquet")
    assert _canonical(back) == _canonical(frame) and back.crs == frame.crs
    sarcube.to_vector(mask, tmp_path / "flood.geojson")
    from_json = gpd.read_file(tmp_path / "flood.geojson")
    assert len(from_json) == len(frame) and from_json.crs == frame.crs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flood.geojson", "flood.parquet"]
    with pytest.raises(OutputError, match="overwrite=True"):
        sarcube.to_vector(mask, tmp_path / "flood.parquet")
    sarcube.to_vector(mask == 7, tmp_path / "flood.parquet", overwrite=True)  # no regions
    assert len(gpd.read_parquet(tmp_path / "flood.parquet")) == 0


def test_to_vector_writes_a_shapefile_with_its_parts(tmp_path: Path) -> None:
    mask = _mask(1).chunk({"y": 25, "x": 25})
    frame = sarcube.to_vector(mask, tmp_path / "flood.shp")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["flood.cpg", "flood.dbf", "flood.prj", "flood.shp", "flood.shx"]
    back = gpd.read_file(tmp_path / "flood.shp")
    assert len(back) == len(frame) and back.crs == frame.crs
    assert back.geometry.area.sum() == pytest.approx(frame.geometry.area.sum())
    assert (back["region"].to_numpy() == frame["region"].to_numpy()).all()
    with pytest.raises(OutputError, match="overwrite=True"):
        sarcube.to_vector(mask, tmp_path / "flood.shp")
    sarcube.to_vector(mask == 7, tmp_path / "flood.shp", overwrite=True)  # no regions
    assert len(gpd.read_file(tmp_path / "flood.shp")) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # no partial folder left


def test_to_vector_plain_arrays_and_errors(tmp_path: Path) -> None:
    plain = xr.DataArray(np.eye(4, dtype=bool), dims=("y", "x"))
    frame = sarcube.to_vector(plain)
    assert len(frame) == 1 and frame.crs is None and frame["n_pixels"].tolist() == [4]
    assert len(sarcube.to_vector(plain, connectivity=1)) == 4
    with pytest.raises(ParameterError, match=r"\.parquet, \.geojson or \.shp"):
        sarcube.to_vector(plain, tmp_path / "x.kml")
    with pytest.raises(DimensionError, match="isel"):
        sarcube.to_vector(plain.expand_dims(time=2))
    with pytest.raises(MaskError, match="other than 0, 1"):
        sarcube.to_vector(plain.astype(np.uint8) * 3)
    assert not list(tmp_path.iterdir())


def test_to_cog_round_trip(tmp_path: Path) -> None:
    import rasterio

    mask = _mask().chunk({"y": 30}).assign_attrs(flag_values=[0, 1, 255])
    path = sarcube.to_cog(mask, tmp_path / "flood.tif")
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32633 and src.nodata == 255
        assert src.transform == mask.rio.transform() and src.dtypes == ("uint8",)
        np.testing.assert_array_equal(src.read(1), mask.values)
        assert src.profile.get("tiled") or src.block_shapes[0][0] < src.height
    with pytest.raises(OutputError, match="overwrite=True"):
        sarcube.to_cog(mask, path)
    floats = sarcube.synthetic.make_scene((40, 30)).cube["vv"].isel(time=0)
    sarcube.to_cog(floats, tmp_path / "vv.tif")
    with rasterio.open(tmp_path / "vv.tif") as src:
        assert np.isnan(src.nodata)
        np.testing.assert_array_equal(src.read(1), floats.values)
    with pytest.raises(ParameterError, match=r"\.tif"):
        sarcube.to_cog(mask, tmp_path / "flood.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flood.tif", "vv.tif"]
