"""Classification: k-means on backscatter features, superpixels, false-colour composites."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.delayed import delayed

from ._checks import check_int, check_positive_finite, check_real, check_spatial, check_xarray
from ._deprecation import DB_FLAG, renamed_keywords
from ._geographic import accepts_geographic
from ._metadata import name_or
from ._reduce import quantile_from_counts
from .calibration import to_db
from .conventions import DB_UNITS, NODATA
from .errors import BandNotFoundError, DimensionError, DTypeError, ParameterError, UnitsError
from .thresholds import histogram

__all__ = ["kmeans", "sar_rgb", "segment_kmeans", "segment_table", "superpixels"]

_PAIRS = (("hh", "hv"), ("vv", "vh"))


@renamed_keywords(scale=("db", DB_FLAG))
@accepts_geographic
def sar_rgb(
    cube: xr.Dataset,
    *,
    percentiles: tuple[float, float] = (2.0, 98.0),
    bins: int = 1024,
    db: bool = True,
    stretch: Literal["percentile", "minmax"] = "percentile",
) -> xr.DataArray:
    """False-colour composite: co-pol, cross-pol and their ratio, scaled to 0-1.

    Red is HH (or VV), green HV (or VH), blue the co/cross ratio; in dB
    (``db=True``) or as linear power and a linear ratio (``db=False``,
    as many tutorials draw ALOS HH/HV). Each channel is stretched, and clipped
    to [0, 1]: ``stretch="percentile"`` between its *percentiles*, read from a
    lazy histogram (one pass, *bins* bins over -50-20 dB, or -10-40 dB for the
    ratio; dB only), ``stretch="minmax"`` between its exact minimum and
    maximum (NaN-aware lazy reductions). NaN stays NaN. Needs linear power.

    Returns a float32 DataArray with a leading ``rgb`` dim (``"r"``, ``"g"``,
    ``"b"``), lazy on dask input; ``da.plot.imshow(rgb="rgb")`` shows it.

    Examples
    --------
    >>> cube = sarcube.synthetic.make_scene((32, 32)).cube.isel(time=0)
    >>> rgb = sar_rgb(cube)
    >>> rgb.dims, float(rgb.min()) >= 0, float(rgb.max()) <= 1
    (('rgb', 'y', 'x'), True, True)
    """
    func = "sar_rgb"
    check_xarray(cube, func)
    if not isinstance(cube, xr.Dataset):
        raise DTypeError(f"{func}: pass a cube (Dataset) with a co- and a cross-pol band")
    check_spatial(cube, func)
    check_real(cube, func)
    low, high = (float(p) for p in percentiles)
    if not (0 <= low < high <= 100):
        raise ParameterError(f"{func}: percentiles must satisfy 0 <= low < high <= 100")
    if not isinstance(db, bool | np.bool_):
        raise ParameterError(f"{func}: db must be True or False, got {db!r}")
    if stretch not in ("percentile", "minmax"):
        raise ParameterError(f"{func}: stretch must be 'percentile' or 'minmax', got {stretch!r}")
    if not db and stretch == "percentile":
        raise ParameterError(
            f"{func}: linear channels are stretched between their minimum and maximum: pass "
            "stretch='minmax' with db=False (or db=True for a percentile stretch)"
        )
    for co, cross in _PAIRS:
        if co in cube.data_vars and cross in cube.data_vars:
            break
    else:
        raise BandNotFoundError(
            f"{func}: needs HH+HV or VV+VH; the cube has {sorted(map(str, cube.data_vars))}"
        )
    if db:
        co_v, cross_v = to_db(cube[co]), to_db(cube[cross])
        ratio = (co_v - cross_v).assign_attrs(units="dB")
    else:
        for band in (co, cross):
            if cube[band].attrs.get("units") == DB_UNITS:
                raise UnitsError(
                    f"{func}: {band!r} is in dB; db=False draws linear power: pass "
                    "sarcube.to_linear(cube)"
                )
        co_v, cross_v = cube[co], cube[cross]
        ratio = (co_v / cross_v.where(cross_v > 0)).assign_attrs(units="1")
    channels = []
    for da, value_range in (
        (co_v, (-50.0, 20.0)),
        (cross_v, (-50.0, 20.0)),
        (ratio, (-10.0, 40.0)),
    ):
        if stretch == "minmax":
            finite = da.where(np.isfinite(da))
            lo, hi = finite.min(), finite.max()
            span = (hi - lo).where(hi > lo, 1.0)  # a constant channel maps to 0
            scaled = ((da - lo) / span).clip(0, 1)
        else:
            hist = histogram(da, bins=bins, range=value_range)
            edges = np.append(hist["bin_lower"].values, hist["bin_upper"].values[-1])
            lo = quantile_from_counts(hist.data, edges, low)
            hi = quantile_from_counts(hist.data, edges, high)
            scaled = ((da - lo) / (hi - lo)).clip(0, 1)
        channels.append(scaled.astype(np.float32))
    out: xr.DataArray = xr.concat(channels, dim="rgb", coords="minimal", compat="override")
    out = out.assign_coords(rgb=["r", "g", "b"])
    out.name = "sar_rgb"
    unit = " dB" if db else ""
    names = (co.upper(), cross.upper(), f"{co.upper()}/{cross.upper()}")
    out.attrs = {
        "long_name": ", ".join(name + unit for name in names),
        "units": "1",
        "stretch": stretch,
    }
    if stretch == "percentile":
        out.attrs["stretch_percentiles"] = [low, high]
    return out


def _fit_centres(sample: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """k-means centres (scikit-learn) of the valid sample rows, ordered by the first feature."""
    from sklearn.cluster import KMeans

    rows = np.asarray(sample, dtype=np.float64)
    rows = rows[np.isfinite(rows).all(axis=1)]
    if rows.shape[0] < n_clusters:
        raise ParameterError(
            f"kmeans: only {rows.shape[0]} valid pixels in the sample for {n_clusters} clusters; "
            "raise sample= or check the nodata fraction"
        )
    distinct = np.unique(rows, axis=0).shape[0]
    if distinct < n_clusters:  # scikit-learn would warn and return duplicate centres
        raise ParameterError(
            f"kmeans: only {distinct} distinct feature vectors among the {rows.shape[0]} valid "
            f"pixels of the sample for {n_clusters} clusters; lower n_clusters, raise sample= "
            "or check that the features vary"
        )
    model = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit(rows)
    centres = model.cluster_centers_
    return np.asarray(centres[np.argsort(centres[:, 0])])


def _nearest_centre(block: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each pixel of a (..., features) block; 255 for NaN."""
    flat = block.reshape(-1, block.shape[-1]).astype(np.float64)
    d2 = ((flat[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    labels = np.argmin(d2, axis=1).astype(np.uint8)
    labels[~np.isfinite(flat).all(axis=1)] = NODATA
    return np.asarray(labels.reshape(block.shape[:-1]))


@accepts_geographic
def kmeans(
    cube: xr.Dataset,
    *,
    n_clusters: int,
    features: Sequence[str] | None = None,
    sample: int = 100_000,
    db: bool = True,
    seed: int = 0,
) -> xr.DataArray:
    """Unsupervised k-means classes, fitted on a bounded random sample, predicted lazily.

    *sample* pixel positions are drawn at random (seeded) over the whole cube
    and gathered lazily (only the chunks they fall in are read); scikit-learn's
    ``KMeans`` is fitted on the valid ones in one task, and every chunk is then
    assigned to the nearest centre. Clusters are numbered by increasing mean of
    the first feature (in dB: 0 is the darkest). The result is a uint8 map with
    255 where a feature is NaN, independent of the chunking.

    Parameters
    ----------
    cube
        The cube (Dataset); its variables are the features.
    n_clusters
        Number of classes (2-254).
    features
        Variables to use (default: all).
    sample
        Pixel positions drawn for the fit.
    db
        Convert linear power to dB first (recommended for backscatter).
    seed
        Seed of the sample and of k-means.

    Examples
    --------
    >>> cube = sarcube.synthetic.make_scene((64, 64), looks=float("inf")).cube.isel(time=0)
    >>> classes = kmeans(cube, n_clusters=3, sample=2000)
    >>> classes.dtype, sorted(int(c) for c in set(classes.values.ravel()) - {255})
    (dtype('uint8'), [0, 1, 2])
    """
    func = "kmeans"
    check_xarray(cube, func)
    if not isinstance(cube, xr.Dataset):
        raise DTypeError(f"{func}: pass a cube (Dataset); its variables are the features")
    check_spatial(cube, func)
    check_real(cube, func)
    names = [str(v) for v in cube.data_vars] if features is None else list(features)
    missing = [n for n in names if n not in cube.data_vars]
    if missing or not names:
        raise BandNotFoundError(
            f"{func}: features {missing or names} not in the cube; available: "
            f"{sorted(map(str, cube.data_vars))}"
        )
    n_clusters = check_int(n_clusters, "n_clusters", func, minimum=2, maximum=254)
    sample = check_int(sample, "sample", func, minimum=n_clusters, hint="at least n_clusters")
    bands = [to_db(cube[n]) if db else cube[n] for n in names]
    stacked = xr.concat([b.astype(np.float32) for b in bands], dim="feature", coords="minimal")
    order = [d for d in stacked.dims if d != "feature"]
    stacked = stacked.transpose(*order, "feature")
    data = stacked.data
    if isinstance(data, dsa.Array):
        data = data.rechunk({data.ndim - 1: -1})
    rng = np.random.default_rng(seed)
    shape = data.shape[:-1]
    positions = tuple(rng.integers(0, n, size=sample) for n in shape)
    if isinstance(data, dsa.Array):
        gathered = data.vindex[positions]
        centres: Any = delayed(_fit_centres)(gathered, n_clusters, seed)
        labels = dsa.map_blocks(
            _nearest_centre,
            data,
            centres,
            drop_axis=data.ndim - 1,
            dtype=np.uint8,
            meta=np.empty((0,) * (data.ndim - 1), dtype=np.uint8),
        )
    else:
        centres = _fit_centres(np.asarray(data)[positions], n_clusters, seed)
        labels = _nearest_centre(np.asarray(data), centres)
    out = xr.DataArray(
        labels,
        dims=order,
        coords={k: c for k, c in stacked.coords.items() if set(c.dims) <= set(order)},
        name="kmeans",
        attrs={
            "long_name": f"k-means class of {', '.join(names)}" + (" (dB)" if db else ""),
            "flag_values": [*range(n_clusters), NODATA],
            "flag_meanings": " ".join(f"cluster_{i}" for i in range(n_clusters)) + " nodata",
        },
    )
    return out.transpose(*[d for d in cube[names[0]].dims])


# --------------------------------------------------------------------------
# superpixels


def _segment_tile(
    block: np.ndarray,
    scale: float,
    sigma: float,
    min_size: int,
    tile_size: int,
    n_tiles_x: int,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """Felzenszwalb segments of one tile (y, x, feature) and per-segment mean/std.

    Output (y, x, 1 + 2·features) float64: the global segment id (−1 on
    nodata), then the mean and std of each feature over the pixel's segment.
    """
    from skimage.segmentation import felzenszwalb

    ny, nx, nf = block.shape
    valid = np.isfinite(block).all(axis=-1)
    out = np.full((ny, nx, 1 + 2 * nf), np.nan)
    out[..., 0] = -1
    if not valid.any():
        return out
    filled = np.where(valid[..., None], block, np.nanmedian(block[valid], axis=0))
    local = felzenszwalb(
        filled.astype(np.float64), scale=scale, sigma=sigma, min_size=min_size, channel_axis=-1
    )
    # ids unique across tiles: tile index × pixels per tile + local id
    if block_info is not None:
        (y0, _), (x0, _) = block_info[0]["array-location"][:2]
    else:
        y0 = x0 = 0
    tile = (y0 // tile_size) * n_tiles_x + x0 // tile_size
    ids = local[valid]
    n = int(local.max()) + 1
    count = np.bincount(ids, minlength=n)
    seg = np.full((ny, nx), -1, dtype=np.int64)
    seg[valid] = ids + tile * tile_size * tile_size
    out[..., 0] = seg
    with np.errstate(invalid="ignore", divide="ignore"):
        for f in range(nf):
            values = block[..., f][valid].astype(np.float64)
            mean = np.bincount(ids, values, minlength=n) / count
            var = np.bincount(ids, (values - mean[ids]) ** 2, minlength=n) / count
            out[..., 1 + f][valid] = mean[ids]
            out[..., 1 + nf + f][valid] = np.sqrt(var)[ids]
    return out


@accepts_geographic
def superpixels(
    cube: xr.Dataset | xr.DataArray,
    *,
    method: Literal["felzenszwalb"] = "felzenszwalb",
    scale: float = 100.0,
    sigma: float = 0.8,
    min_size: int = 20,
    db: bool = True,
    tile_size: int = 512,
) -> xr.Dataset:
    """Superpixels (scikit-image's Felzenszwalb graph segmentation) and their features.

    Segments are computed in square tiles of *tile_size* pixels anchored at the
    image's top-left corner: a segment never crosses a tile border. The tiles
    do not depend on how the cube is chunked (dask input is rechunked to the
    tiles for this step), so the result is the same for any chunking. Choose
    *tile_size* much larger than the segments; borders between tiles then cut
    only the segments that straddle them.

    Parameters
    ----------
    cube
        Bands (a Dataset, e.g. VV and VH of one date) or one band, on ``(y, x)``.
    method
        ``"felzenszwalb"`` (Felzenszwalb & Huttenlocher 2004).
    scale, sigma, min_size
        scikit-image's parameters: a higher *scale* gives larger segments;
        *sigma* smooths before segmenting; *min_size* is the smallest segment
        in pixels. *scale* applies to the feature values (dB by default).
    db
        Segment and describe linear power in dB (recommended for backscatter).
    tile_size
        Edge of the tiles segmented independently.

    Returns
    -------
    xarray.Dataset
        ``segment`` (int64 ids unique over the image, −1 where a band is NaN)
        and, per band, ``<band>_mean`` and ``<band>_std`` over the pixel's
        segment (the features mapped back to the pixels, float32).

    Examples
    --------
    >>> cube = sarcube.synthetic.make_scene((96, 96)).cube.isel(time=0)
    >>> sp = superpixels(cube, scale=200, tile_size=64)
    >>> sorted(sp.data_vars)
    ['segment', 'vh_mean', 'vh_std', 'vv_mean', 'vv_std']
    >>> 1 < len(np.unique(sp["segment"])) < 96 * 96 / 20
    True
    """
    func = "superpixels"
    check_xarray(cube, func)
    check_spatial(cube, func)
    check_real(cube, func)
    if method != "felzenszwalb":
        raise ParameterError(f"{func}: method must be 'felzenszwalb', got {method!r}")
    ds = cube if isinstance(cube, xr.Dataset) else cube.to_dataset(name=name_or(cube, "band"))
    names = [str(v) for v in ds.data_vars]
    if not names:
        raise BandNotFoundError(f"{func}: the Dataset has no bands")
    for name in names:
        if set(ds[name].dims) != {"y", "x"}:
            raise DimensionError(
                f"{func}: {name!r} has dims {ds[name].dims}; pass one date, e.g. cube.isel(time=0)"
            )
    tile_size = check_int(tile_size, "tile_size", func, minimum=8)
    min_size = check_int(min_size, "min_size", func, minimum=1)
    scale = check_positive_finite(scale, "scale", func)
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma < 0:
        raise ParameterError(f"{func}: sigma must be finite and >= 0, got {sigma!r}")
    bands = [to_db(ds[n]) if db else ds[n] for n in names]
    stacked = xr.concat(
        [b.astype(np.float32).transpose("y", "x") for b in bands], dim="feature", coords="minimal"
    ).transpose("y", "x", "feature")
    data = stacked.data
    n_tiles_x = -(-stacked.sizes["x"] // tile_size)
    args = (scale, sigma, min_size, tile_size, n_tiles_x)
    nf = len(names)
    if isinstance(data, dsa.Array):
        tiles = data.rechunk((tile_size, tile_size, -1))
        result: Any = dsa.map_blocks(
            _segment_tile,
            tiles,
            *args,
            chunks=(*tiles.chunks[:2], (1 + 2 * nf,)),
            dtype=np.float64,
            meta=np.empty((0, 0, 0), dtype=np.float64),
        ).rechunk((*data.chunks[:2], -1))
    else:
        arr = np.asarray(data)
        result = np.empty((*arr.shape[:2], 1 + 2 * nf))
        for y0 in range(0, arr.shape[0], tile_size):
            for x0 in range(0, arr.shape[1], tile_size):
                part = arr[y0 : y0 + tile_size, x0 : x0 + tile_size]
                info = {0: {"array-location": [(y0, 0), (x0, 0)]}}
                result[y0 : y0 + tile_size, x0 : x0 + tile_size] = _segment_tile(
                    part, *args, block_info=info
                )
    coords = {k: c for k, c in stacked.coords.items() if "feature" not in c.dims}
    out = xr.Dataset(coords=coords)
    out["segment"] = xr.DataArray(
        result[..., 0].astype(np.int64),
        dims=("y", "x"),
        attrs={"long_name": f"{method} segment id", "nodata": -1},
    )
    for i, (name, band) in enumerate(zip(names, bands, strict=True)):
        units = band.attrs.get("units")
        for j, stat in ((1 + i, "mean"), (1 + nf + i, "std")):
            out[f"{name}_{stat}"] = xr.DataArray(
                result[..., j].astype(np.float32),
                dims=("y", "x"),
                attrs={
                    "long_name": f"segment {stat} of {name}",
                    **({"units": units} if units else {}),
                },
            )
    out.attrs.update(
        method=method, scale=scale, sigma=sigma, min_size=min_size, tile_size=tile_size
    )
    return out


# --------------------------------------------------------------------------
# per-segment features


def _check_segments(segments: Any, func: str) -> xr.Dataset:
    """*segments* as :func:`superpixels` returns it: a Dataset with an integer ``segment``."""
    check_xarray(segments, func)
    if not isinstance(segments, xr.Dataset) or "segment" not in segments.data_vars:
        raise DTypeError(
            f"{func}: pass the Dataset superpixels returns (a 'segment' variable and its features)"
        )
    if not np.issubdtype(segments["segment"].dtype, np.integer):
        raise DTypeError(
            f"{func}: 'segment' must hold integer ids, got {segments['segment'].dtype}"
        )
    if set(segments["segment"].dims) != {"y", "x"}:
        raise DimensionError(
            f"{func}: 'segment' has dims {segments['segment'].dims}; pass one image (y, x)"
        )
    return segments


def segment_table(segments: xr.Dataset) -> xr.Dataset:
    """One row per segment: its size, centroid and features (**computes**).

    Parameters
    ----------
    segments
        The output of :func:`superpixels`: ``segment`` ids (−1 for nodata,
        left out) and per-pixel feature variables such as ``vv_mean``, which
        are constant over each segment.

    Returns
    -------
    xarray.Dataset
        Over dim ``segment`` (the ids, ascending): ``n_pixels``,
        ``centroid_y`` and ``centroid_x`` (mean pixel coordinates, in the
        grid's units) and every feature variable, float32. A table for
        clustering or classifying segments (:func:`segment_kmeans`), or
        ``.to_dataframe()`` for pandas.

    Examples
    --------
    >>> cube = sarcube.synthetic.make_scene((96, 96)).cube.isel(time=0)
    >>> table = segment_table(superpixels(cube, scale=200, tile_size=64))
    >>> sorted(table.data_vars)[:4]
    ['centroid_x', 'centroid_y', 'n_pixels', 'vh_mean']
    >>> int(table["n_pixels"].sum()) <= 96 * 96  # NaN pixels belong to no segment
    True
    """
    func = "segment_table"
    # one computation of the segmentation for the ids and every feature (on dask
    # input each .values below would otherwise run the whole graph again)
    ds = _check_segments(segments, func).compute()
    features = [str(v) for v in ds.data_vars if v != "segment"]
    ids2d = np.asarray(ds["segment"].transpose("y", "x").values)
    flat = ids2d.ravel()
    where = np.flatnonzero(flat >= 0)
    ids, first, inverse, counts = np.unique(
        flat[where], return_index=True, return_inverse=True, return_counts=True
    )
    rows, cols = np.unravel_index(where, ids2d.shape)
    ycoord = np.asarray(ds["y"].values, dtype=np.float64)
    xcoord = np.asarray(ds["x"].values, dtype=np.float64)
    table: dict[str, tuple[str, np.ndarray, dict[str, Any]]] = {
        "n_pixels": ("segment", counts.astype(np.int64), {"units": "pixels"}),
        "centroid_y": ("segment", np.bincount(inverse, ycoord[rows]) / counts, {}),
        "centroid_x": ("segment", np.bincount(inverse, xcoord[cols]) / counts, {}),
    }
    at = where[first]  # a pixel of each segment, in the order of ids
    for name in features:
        values = np.asarray(ds[name].transpose("y", "x").values).ravel()
        table[name] = ("segment", values[at].astype(np.float32), dict(ds[name].attrs))
    out = xr.Dataset(table, coords={"segment": ids.astype(np.int64)})
    if "spatial_ref" in ds.coords:
        out = out.assign_coords(spatial_ref=ds["spatial_ref"])
    return out


def _segment_classes(block: np.ndarray, ids: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The class of each pixel's segment; 255 for nodata (−1) and unknown ids."""
    out = np.full(block.shape, NODATA, dtype=np.uint8)
    if ids.size == 0:
        return out
    pos = np.clip(np.searchsorted(ids, block), 0, ids.size - 1)
    known = (block >= 0) & (ids[pos] == block)
    out[known] = classes[pos[known]]
    return out


def segment_kmeans(
    segments: xr.Dataset,
    *,
    n_clusters: int,
    features: Sequence[str] | None = None,
    seed: int = 0,
) -> xr.DataArray:
    """k-means on the segments' features, mapped back to the pixels (fit **computes**).

    Each segment of :func:`superpixels` is one sample (whatever its size), so
    small segments weigh as much as large ones — the object-based
    classification of the SAR tutorials. Clusters are numbered by increasing
    centre of the first feature, as in :func:`kmeans`.

    Parameters
    ----------
    segments
        The output of :func:`superpixels`.
    n_clusters
        Number of clusters, 2..254.
    features
        Feature variables to cluster on; default the ``*_mean`` ones.
    seed
        Seed of scikit-learn's ``KMeans``.

    Returns
    -------
    xarray.DataArray
        uint8 class per pixel (255 where the pixel has no segment), lazy on
        dask input once the centres are fitted.

    Examples
    --------
    >>> cube = sarcube.synthetic.make_scene((96, 96)).cube.isel(time=0)
    >>> classes = segment_kmeans(superpixels(cube, scale=200, tile_size=64), n_clusters=3)
    >>> classes.dtype, sorted(int(c) for c in np.unique(classes))[:3]
    (dtype('uint8'), [0, 1, 2])
    """
    func = "segment_kmeans"
    ds = _check_segments(segments, func)
    n_clusters = check_int(n_clusters, "n_clusters", func, minimum=2, maximum=254)
    available = [str(v) for v in ds.data_vars if v != "segment"]
    names = [n for n in available if n.endswith("_mean")] if features is None else list(features)
    missing = [n for n in names if n not in available]
    if missing or not names:
        raise BandNotFoundError(
            f"{func}: features {missing or names} not among the segment features; available: "
            f"{available}"
        )
    table = segment_table(ds)
    rows = np.stack([table[n].values.astype(np.float64) for n in names], axis=1)
    centres = _fit_centres(rows, n_clusters, seed)
    classes = _nearest_centre(rows, centres)
    ids = table["segment"].values
    seg = ds["segment"]
    labels: xr.DataArray = xr.apply_ufunc(
        _segment_classes,
        seg,
        kwargs={"ids": ids, "classes": classes},
        dask="parallelized",
        output_dtypes=[np.uint8],
    )
    labels.name = "segment_kmeans"
    labels.attrs = {
        "long_name": f"k-means class of the segments' {', '.join(names)}",
        "flag_values": [*range(n_clusters), NODATA],
        "flag_meanings": " ".join(f"cluster_{i}" for i in range(n_clusters)) + " nodata",
    }
    return labels
