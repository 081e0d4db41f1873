"""Tropospheric correction of LOS displacement with GACOS zenith total delays."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DimensionError, InputNotFoundError, ParameterError
from ._common import _check_array
from ._geometry import _incidence_cosine

__all__ = ["read_gacos", "troposphere_correction"]

#: The ``.rsc`` keys a GACOS grid needs (ROI_PAC-style header).
_RSC_KEYS = ("WIDTH", "FILE_LENGTH", "X_FIRST", "Y_FIRST", "X_STEP", "Y_STEP")


def _read_rsc(path: Path, func: str) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            header[parts[0].upper()] = parts[1]
    missing = [k for k in _RSC_KEYS if k not in header]
    if missing:
        raise ParameterError(f"{func}: {path} lacks the keys {missing}; is it a GACOS .rsc file?")
    return header


def read_gacos(path: str | os.PathLike[str]) -> xr.DataArray:
    r"""A GACOS zenith total delay grid (``YYYYMMDD.ztd`` with its ``.ztd.rsc``), in metres.

    GACOS (Yu et al. 2018) delivers each date as raw little-endian float32
    values, row by row from the north-west corner, and a ROI_PAC-style header
    whose ``X_FIRST``/``Y_FIRST`` are the west and north edges of the first
    pixel and ``X_STEP``/``Y_STEP`` the pixel size in degrees (``Y_STEP``
    negative). The grid is returned on pixel-centre coordinates in EPSG:4326.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.full((2, 3), 2.4, "<f4").tofile(folder / "20170301.ztd")
    >>> _ = (folder / "20170301.ztd.rsc").write_text(
    ...     "WIDTH 3\nFILE_LENGTH 2\nX_FIRST 10.0\nY_FIRST 45.0\nX_STEP 0.5\nY_STEP -0.5\n")
    >>> ztd = read_gacos(folder / "20170301.ztd")
    >>> ztd.shape, ztd["x"].values.tolist(), ztd["y"].values.tolist(), ztd.attrs["units"]
    ((2, 3), [10.25, 10.75, 11.25], [44.75, 44.25], 'm')
    """
    func = "read_gacos"
    data_path = Path(path)
    rsc_path = data_path.with_name(data_path.name + ".rsc")
    for p in (data_path, rsc_path):
        if not p.is_file():
            raise InputNotFoundError(f"{func}: no file at {p}; a GACOS date is a .ztd and its .rsc")
    header = _read_rsc(rsc_path, func)
    try:
        width, length = int(header["WIDTH"]), int(header["FILE_LENGTH"])
        x0, y0 = float(header["X_FIRST"]), float(header["Y_FIRST"])
        dx, dy = float(header["X_STEP"]), float(header["Y_STEP"])
    except ValueError as err:
        raise ParameterError(f"{func}: {rsc_path} has a value that is not a number: {err}") from err
    values = np.fromfile(data_path, dtype="<f4")
    if values.size != width * length:
        raise ParameterError(
            f"{func}: {data_path} holds {values.size} values, but its .rsc says "
            f"{length} × {width} = {width * length}"
        )
    grid = xr.DataArray(
        values.reshape(length, width).astype(np.float32),
        dims=("y", "x"),
        coords={"y": y0 + (np.arange(length) + 0.5) * dy, "x": x0 + (np.arange(width) + 0.5) * dx},
        name="ztd",
        attrs={"units": "m", "long_name": "zenith total delay (GACOS)"},
    )
    written: xr.DataArray = grid.rio.write_crs("EPSG:4326")
    return written


def troposphere_correction(
    los: xr.DataArray,
    reference_ztd: xr.DataArray,
    secondary_ztd: xr.DataArray,
    incidence: Any,
) -> xr.DataArray:
    """LOS displacement with the differential tropospheric delay removed (lazy).

    The zenith delays of the two dates are resampled bilinearly onto the
    displacement's grid (:func:`sarcube.coregister`), mapped to the line of
    sight with ``1 / cos θ`` and differenced. A longer path at the secondary
    date reads as motion away from the satellite, so in the convention of
    :func:`phase_to_displacement` (positive towards the satellite) the delay's
    share is ``−(ztd_sec − ztd_ref) / cos θ``, and it is subtracted:

    ``los_corrected = los + (ztd_sec − ztd_ref) / cos θ``.

    Parameters
    ----------
    los
        LOS displacement in metres on ``(y, x)`` with a CRS, e.g. from
        :func:`phase_to_displacement`.
    reference_ztd, secondary_ztd
        Zenith total delays in metres with a CRS (e.g. :func:`read_gacos`).
    incidence
        Incidence angle in degrees: a number or a DataArray on the LOS grid.

    Returns
    -------
    xarray.DataArray
        The corrected displacement, with ``attrs["troposphere"]`` saying so.

    Examples
    --------
    >>> los = xr.DataArray(np.zeros((4, 4), "f4"), dims=("y", "x"),
    ...                    coords={"y": 45.0 - np.arange(4) * 0.1, "x": 10.0 + np.arange(4) * 0.1},
    ...                    attrs={"units": "m"}).rio.write_crs("EPSG:4326")
    >>> ref, sec = los + 2.40, los + 2.43  # 3 cm more zenith delay on the secondary date
    >>> corrected = troposphere_correction(los, ref, sec, incidence=60.0)
    >>> round(float(corrected.mean()), 4)  # 3 cm / cos 60°
    0.06
    """
    from ..multisensor import coregister

    func = "troposphere_correction"
    da = _check_array(los, "los", func)
    units = str(da.attrs.get("units", "m")).strip().lower()
    if units not in ("m", "metre", "metres", "meter", "meters"):
        raise ParameterError(
            f"{func}: los is in {units!r}; pass metres (phase_to_displacement's default)"
        )
    for name, ztd in (("reference_ztd", reference_ztd), ("secondary_ztd", secondary_ztd)):
        _check_array(ztd, name, func)
        if ztd.rio.crs is None:
            raise DimensionError(
                f"{func}: {name} has no CRS; write one with .rio.write_crs (GACOS: EPSG:4326)"
            )
    cosine = _incidence_cosine(incidence, da, func)
    on_grid = coregister(
        {
            "reference": reference_ztd.astype(np.float32),
            "secondary": secondary_ztd.astype(np.float32),
        },
        da,
        resampling="bilinear",
    )
    difference = on_grid["secondary"].data - on_grid["reference"].data
    cos = cosine.data if isinstance(cosine, xr.DataArray) else cosine
    out = da.copy(data=(da.data + difference / cos).astype(da.dtype))
    out.attrs = {**da.attrs, "troposphere": "GACOS differential zenith delay removed (1/cos θ)"}
    return out
