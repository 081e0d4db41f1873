"""Input validation at the public boundary, before any graph is built.

Every check only looks at metadata (types, dims, dtypes, attrs): none of them
touches array values, so they are free on lazy cubes.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from types import UnionType
from typing import Any, TypeVar, get_args

import dask.array as dsa
import numpy as np
import xarray as xr

from .conventions import NODATA, SPATIAL_DIMS
from .errors import (
    BandNotFoundError,
    DimensionError,
    DTypeError,
    GridMismatchError,
    MaskError,
    ParameterError,
)

XObj = TypeVar("XObj", xr.DataArray, xr.Dataset)


def check_xarray(obj: object, func: str) -> None:
    """Raise unless *obj* is an ``xr.DataArray`` or ``xr.Dataset``."""
    if not isinstance(obj, xr.DataArray | xr.Dataset):
        raise DTypeError(
            f"{func} expects an xarray.DataArray or xarray.Dataset, got {type(obj).__name__}; "
            "wrap numpy arrays with xr.DataArray(arr, dims=('y', 'x'))"
        )


def check_dataarray(
    obj: object, func: str, what: str = "one band", example: str = ""
) -> xr.DataArray:
    """*obj* if it is one ``xr.DataArray``; a Dataset (or anything else) is refused.

    The message reads "``func``: pass *what* (a DataArray), e.g. *example*,
    not a Dataset" (without the example when none is given).
    """
    check_xarray(obj, func)
    if not isinstance(obj, xr.DataArray):
        raise DTypeError(
            f"{func}: pass {what} (a DataArray)"
            + (f", e.g. {example}" if example else "")
            + ", not a Dataset"
        )
    return obj


def _crs_wkt(obj: xr.DataArray | xr.Dataset) -> str | None:
    if "spatial_ref" not in obj.coords:
        return None
    attrs = obj.coords["spatial_ref"].attrs
    wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
    return None if wkt is None else str(wkt)


def check_same_grid(
    obj: xr.DataArray | xr.Dataset,
    ref: xr.DataArray | xr.Dataset,
    name: str,
    func: str,
    *,
    ref_name: str = "the data",
    fix: str,
    reproject_fix: str | None = None,
) -> None:
    """Raise :class:`GridMismatchError` unless *obj* is on the ``(y, x)`` grid of *ref*.

    The grid is the same when the sizes along ``y`` and ``x`` agree (a dim
    *obj* lacks is not compared: it broadcasts), the coordinates agree to a
    thousandth of a pixel where both have them, and the CRS agree where both
    have one. The message names *name* and *ref_name* and ends with *fix*
    (*reproject_fix* for shifted coordinates or another CRS, default *fix*).
    """
    for dim in SPATIAL_DIMS:
        if dim not in obj.dims or dim not in ref.dims:
            continue
        if obj.sizes[dim] != ref.sizes[dim]:
            raise GridMismatchError(
                f"{func}: {name} has {obj.sizes[dim]} pixels along {dim!r}, {ref_name} "
                f"{ref.sizes[dim]}; {fix}"
            )
        if dim in obj.coords and dim in ref.coords:
            a, b = np.asarray(ref[dim].values), np.asarray(obj[dim].values)
            if np.issubdtype(a.dtype, np.number) and np.issubdtype(b.dtype, np.number):
                step = abs(float(a[1] - a[0])) if a.size > 1 else 1.0
                if not np.allclose(a, b, rtol=0, atol=1e-3 * step):
                    raise GridMismatchError(
                        f"{func}: the {dim!r} coordinates of {name} differ from {ref_name}'s; "
                        f"{reproject_fix or fix}"
                    )
    crs, ref_crs = _crs_wkt(obj), _crs_wkt(ref)
    if crs is not None and ref_crs is not None and crs != ref_crs:
        raise GridMismatchError(
            f"{func}: {name} is in {_crs_name(crs)} but {ref_name} in {_crs_name(ref_crs)}; "
            f"{reproject_fix or fix}"
        )


def _crs_name(wkt: str) -> str:
    """A short name of a CRS (``EPSG:32633`` when it has a code), for messages."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return str(CRS.from_user_input(wkt).to_string())
    except CRSError:
        return wkt[:60]


def data_arrays(obj: xr.DataArray | xr.Dataset) -> list[tuple[Hashable, xr.DataArray]]:
    """The ``(name, array)`` pairs an operation applies to."""
    if isinstance(obj, xr.Dataset):
        return [(name, obj[name]) for name in obj.data_vars]
    return [(obj.name, obj)]


def check_spatial(obj: xr.DataArray | xr.Dataset, func: str) -> None:
    """Raise unless every variable has the ``y`` and ``x`` dimensions."""
    for name, da in data_arrays(obj):
        missing = [d for d in SPATIAL_DIMS if d not in da.dims]
        if missing:
            raise DimensionError(
                f"{func}: variable {name!r} has dims {tuple(da.dims)} but needs 'y' and 'x' "
                "(or latitude/longitude, lat/lon); rename the spatial dims, e.g. "
                "obj.rename({'row': 'y', 'col': 'x'})"
            )


def check_real(obj: xr.DataArray | xr.Dataset, func: str) -> None:
    """Raise unless every variable is of a real (integer or float) dtype."""
    for name, da in data_arrays(obj):
        if np.issubdtype(da.dtype, np.complexfloating):
            raise DTypeError(
                f"{func}: variable {name!r} is complex ({da.dtype}); convert SLC data to "
                "intensity first, e.g. abs(obj) ** 2"
            )
        if not (np.issubdtype(da.dtype, np.floating) or np.issubdtype(da.dtype, np.integer)):
            raise DTypeError(
                f"{func}: variable {name!r} has dtype {da.dtype}; pass numeric backscatter "
                "(float32 recommended)"
            )


def check_nonempty(obj: xr.DataArray | xr.Dataset, func: str) -> None:
    """Raise on a Dataset without data variables."""
    if isinstance(obj, xr.Dataset) and not obj.data_vars:
        raise DimensionError(f"{func}: the Dataset has no data variables; pass a cube with bands")


def check_dims_present(obj: xr.DataArray | xr.Dataset, dims: Iterable[Hashable], func: str) -> None:
    """Raise unless every dim in *dims* is a dimension of every variable."""
    for name, da in data_arrays(obj):
        missing = [d for d in dims if d not in da.dims]
        if missing:
            raise DimensionError(
                f"{func}: dims {missing} not in variable {name!r} (dims {tuple(da.dims)}); "
                f"pass dims= a subset of {tuple(da.dims)}"
            )


def check_positive_finite(value: float, name: str, func: str) -> float:
    """Return *value* as float, raising unless it is finite and > 0."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{func}: {name} must be a number, got {value!r}") from None
    if not np.isfinite(out) or out <= 0:
        raise ParameterError(f"{func}: {name} must be finite and > 0, got {value!r}")
    return out


def check_int(
    value: object,
    name: str,
    func: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    odd: bool = False,
    hint: str = "",
) -> int:
    """*value* as an ``int`` (numpy integers too, never a bool), or a ParameterError.

    The message says what is allowed: "a positive integer", "an integer >= 8",
    "an odd integer >= 3", "an integer in 0..100", then *hint* if given.
    """
    number = as_int(value)
    if (
        number is None
        or (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
        or (odd and number % 2 == 0)
    ):
        allowed = _allowed_ints(minimum, maximum, odd)
        raise ParameterError(
            f"{func}: {name} must be {allowed}, got {value!r}" + (f"; {hint}" if hint else "")
        )
    return number


def as_int(value: object) -> int | None:
    """*value* as an ``int`` when it is one (numpy integers too, never a bool), else ``None``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        return None
    return int(value)


def is_real(value: object, *, finite: bool = True) -> bool:
    """Whether *value* is a real number (numpy's too, never a bool), finite unless told."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return False
    return not isinstance(value, complex | np.complexfloating) and (
        not finite or bool(np.isfinite(value))
    )


def items_of(value: object, length: int) -> tuple[Any, ...] | None:
    """The items of *value* when it is a tuple or list of *length* items, else ``None``."""
    if isinstance(value, tuple | list) and len(value) == length:
        return tuple(value)
    return None


def is_instance(value: object, kind: type | UnionType | tuple[type, ...]) -> bool:
    """``isinstance`` for an argument whose annotation already names its type.

    Callers without a type checker pass anything; this is the run-time check
    of such an argument. (Written inline, ``isinstance`` on a typed argument
    reads to mypy as always true.)
    """
    return isinstance(value, kind)


def _allowed_ints(minimum: int | None, maximum: int | None, odd: bool) -> str:
    """What :func:`check_int` accepts, in words."""
    kind = "an odd integer" if odd else "an integer"
    if minimum is not None and maximum is not None:
        return f"{kind} in {minimum}..{maximum}"
    if minimum == 1 and not odd:
        return "a positive integer"
    if minimum is not None:
        return f"{kind} >= {minimum}"
    if maximum is not None:
        return f"{kind} <= {maximum}"
    return kind


def check_optional_int(
    value: object, name: str, func: str, *, minimum: int | None = None, hint: str = ""
) -> int | None:
    """:func:`check_int` that also lets ``None`` through (the documented default)."""
    if value is None:
        return None
    number = as_int(value)
    if number is None or (minimum is not None and number < minimum):
        allowed = _allowed_ints(minimum, None, False)
        raise ParameterError(
            f"{func}: {name} must be {allowed} or None, got {value!r}"
            + (f"; {hint}" if hint else "")
        )
    return number


def choices_of(alias: Any) -> tuple[Any, ...]:
    """The values of a ``Literal`` alias (``Literal["a", "b"]`` -> ``("a", "b")``)."""
    values = get_args(alias)
    return values if values else tuple(alias)


def _same(value: object, choice: object) -> bool:
    try:
        return bool(value == choice) and isinstance(value, bool) == isinstance(choice, bool)
    except (TypeError, ValueError):  # e.g. an array compared with a string
        return False


def check_choice(value: object, choices: Any, name: str, func: str, *, hint: str = "") -> Any:
    """*value* if it is one of *choices*, else a ParameterError listing them.

    *choices* is a ``Literal`` alias or a sequence.
    """
    allowed = choices_of(choices)
    if not any(_same(value, c) for c in allowed):
        raise ParameterError(
            f"{func}: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
            + (f"; {hint}" if hint else "")
        )
    return value


#: attributes that declare a nodata value, in the order rioxarray reads them
NODATA_ATTRS = ("_FillValue", "missing_value", "fill_value", "nodata")


def nodata_of(da: xr.DataArray) -> Any:
    """The nodata value *da* declares, or ``None``: the one convention for every reader.

    It follows rioxarray's ``rio.nodata``. A ``_FillValue`` in the encoding
    comes first: xarray has decoded it already, so a floating-point array holds
    NaN there and NaN is returned (an integer array still holds the value,
    which is returned). Otherwise the attributes :data:`NODATA_ATTRS` are read
    in order, CF's ``_FillValue`` first and GDAL's ``nodata`` last.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros(2, np.int16), attrs={"nodata": -1, "_FillValue": -9999})
    >>> nodata_of(da), nodata_of(da.drop_attrs()) is None
    (-9999, True)
    """
    if "_FillValue" in da.encoding:
        return np.nan if np.issubdtype(da.dtype, np.floating) else da.encoding["_FillValue"]
    for key in NODATA_ATTRS:
        if key in da.attrs:
            return da.attrs[key]
    return None


def check_bands(cube: xr.Dataset, bands: str | Iterable[str], func: str) -> list[str]:
    """*bands* as a list, or a :class:`BandNotFoundError` listing the cube's variables."""
    names = [bands] if isinstance(bands, str) else list(bands)
    missing = [b for b in names if b not in cube.data_vars]
    if missing or not names:
        raise BandNotFoundError(
            f"{func}: bands {missing or names} not in the cube; available: "
            f"{sorted(map(str, cube.data_vars))}"
        )
    return names


def check_mask(given: object, func: str, *, binary: bool = True) -> xr.DataArray:
    """One mask DataArray on ``(y, x)``, spatial dims last.

    It is boolean, or integer with only 0, 1 and :data:`~sarcube.conventions.NODATA` when *binary*
    (checked per chunk on dask input, when computed); any integer classes
    otherwise.
    """
    mask = check_dataarray(given, func, "one mask")
    check_spatial(mask, func)
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.integer):
        raise DTypeError(
            f"{func}: the mask has dtype {mask.dtype}; pass a boolean mask or a uint8 map "
            "with 0/1 (and 255 for nodata), e.g. (change < threshold)"
        )
    if mask.size == 0:
        raise MaskError(f"{func}: the mask is empty (shape {mask.shape}); pass a non-empty mask")
    out = mask.transpose(*[d for d in mask.dims if d not in SPATIAL_DIMS], *SPATIAL_DIMS)
    if out.dtype == bool or not binary:
        return out
    if isinstance(out.data, dsa.Array):
        # values are only known when computed: each chunk checks its own
        return out.copy(data=dsa.map_blocks(_checked_binary_block, out.data, func, dtype=out.dtype))
    _checked_binary_block(np.asarray(out.data), func)
    return out


def _checked_binary_block(block: np.ndarray, func: str) -> np.ndarray:
    """*block* unchanged, or MaskError when it holds values other than 0, 1 and 255."""
    bad = (block != 0) & (block != 1) & (block != NODATA)
    if bad.any():
        raise MaskError(
            f"{func}: the mask holds values other than 0, 1 and {NODATA} (nodata), e.g. "
            f"{block[bad].flat[0]}; pass a boolean mask or compare first, e.g. (classes == 2)"
        )
    return block
