"""Classification: k-means on backscatter features, false-colour composites."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.delayed import delayed

from ._checks import check_real, check_spatial, check_xarray
from .calibration import to_db
from .errors import BandNotFoundError, DTypeError, ParameterError
from .thresholds import histogram

__all__ = ["kmeans", "sar_rgb"]

_PAIRS = (("hh", "hv"), ("vv", "vh"))


def _percentile_from_histogram(counts: Any, edges: np.ndarray, q: float) -> Any:
    """The q-th percentile (0-100) read off cumulative counts, linear inside the bin."""

    def read(c: np.ndarray) -> np.ndarray:
        c = np.asarray(c, dtype=np.float64)
        total = c.sum()
        if total <= 0:
            return np.asarray(np.nan)
        cum = np.cumsum(c)
        target = q / 100.0 * total
        k = int(np.searchsorted(cum, target))
        k = min(k, c.size - 1)
        below = cum[k] - c[k]
        frac = (target - below) / c[k] if c[k] > 0 else 0.0
        return np.asarray(edges[k] + frac * (edges[k + 1] - edges[k]))

    if isinstance(counts, dsa.Array):
        return dsa.map_blocks(read, counts, drop_axis=0, dtype=np.float64)
    return read(counts)


def sar_rgb(
    cube: xr.Dataset,
    *,
    percentiles: tuple[float, float] = (2.0, 98.0),
    bins: int = 1024,
) -> xr.DataArray:
    """False-colour composite: co-pol, cross-pol and their ratio, scaled to 0-1.

    Red is HH (or VV) in dB, green HV (or VH) in dB, blue the co/cross ratio
    in dB. Each channel is stretched between its *percentiles*, read from a
    lazy histogram (one pass, 1024 bins over -50-20 dB, or -10-40 dB for the
    ratio), and clipped to [0, 1]; NaN stays NaN. Needs linear power.

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
    for co, cross in _PAIRS:
        if co in cube.data_vars and cross in cube.data_vars:
            break
    else:
        raise BandNotFoundError(
            f"{func}: needs HH+HV or VV+VH; the cube has {sorted(map(str, cube.data_vars))}"
        )
    co_db = to_db(cube[co])
    cross_db = to_db(cube[cross])
    ratio = (co_db - cross_db).assign_attrs(units="dB")
    channels = []
    for da, value_range in (
        (co_db, (-50.0, 20.0)),
        (cross_db, (-50.0, 20.0)),
        (ratio, (-10.0, 40.0)),
    ):
        hist = histogram(da, bins=bins, range=value_range)
        edges = np.append(hist["bin_lower"].values, hist["bin_upper"].values[-1])
        lo = _percentile_from_histogram(hist.data, edges, low)
        hi = _percentile_from_histogram(hist.data, edges, high)
        scaled = ((da - lo) / (hi - lo)).clip(0, 1)
        channels.append(scaled.astype(np.float32))
    out: xr.DataArray = xr.concat(channels, dim="rgb", coords="minimal", compat="override")
    out = out.assign_coords(rgb=["r", "g", "b"])
    out.name = "sar_rgb"
    out.attrs = {
        "long_name": f"{co.upper()} dB, {cross.upper()} dB, {co.upper()}/{cross.upper()} dB",
        "units": "1",
        "stretch_percentiles": [low, high],
    }
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
    model = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit(rows)
    centres = model.cluster_centers_
    return np.asarray(centres[np.argsort(centres[:, 0])])


def _nearest_centre(block: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each pixel of a (..., features) block; 255 for NaN."""
    flat = block.reshape(-1, block.shape[-1]).astype(np.float64)
    d2 = ((flat[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
    labels = np.argmin(d2, axis=1).astype(np.uint8)
    labels[~np.isfinite(flat).all(axis=1)] = 255
    return np.asarray(labels.reshape(block.shape[:-1]))


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
    if (
        isinstance(n_clusters, bool)
        or not isinstance(n_clusters, int)
        or not 2 <= n_clusters <= 254
    ):
        raise ParameterError(f"{func}: n_clusters must be an integer in 2..254, got {n_clusters!r}")
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < n_clusters:
        raise ParameterError(f"{func}: sample must be an integer >= n_clusters, got {sample!r}")
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
            "flag_values": [*range(n_clusters), 255],
            "flag_meanings": " ".join(f"cluster_{i}" for i in range(n_clusters)) + " nodata",
        },
    )
    return out.transpose(*[d for d in cube[names[0]].dims])
