"""``import sarcube`` is cheap and the ``.sar`` accessor works whatever is imported first."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sarcube

HEAVY = ("xarray", "dask", "numba", "pandas", "rasterio", "pystac")


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    return done.stdout.strip()


def test_import_and_help_load_no_heavy_dependency() -> None:
    out = _run(
        "import sys, contextlib, io\n"
        "import sarcube\n"
        "from sarcube.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as text:\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'usage: sarcube' in text.getvalue(), text.getvalue()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert out == "[]"


def test_io_and_its_catalog_load_no_stac_or_raster_library() -> None:
    # sarcube.io's names load their module on first use; catalog building is io
    out = _run(
        "import sys\n"
        "import sarcube.io, sarcube.io.catalog, sarcube.catalog\n"
        "assert sarcube.catalog.build is sarcube.io.catalog.build\n"
        "print(sorted(m for m in ('rasterio', 'pystac', 'odc.stac') if m in sys.modules))\n"
        "sarcube.io.load\n"
        "print('odc.stac' in sys.modules)"
    )
    assert out.splitlines() == ["[]", "True"]


def test_the_readers_register_rio_on_the_cubes_they_return() -> None:
    # sarcube.io loads lazily, so each reader registers rioxarray's accessor itself
    out = _run(
        "import sys, tempfile, pathlib\n"
        "import sarcube\n"
        "path = pathlib.Path(tempfile.mkdtemp()) / 'c.zarr'\n"
        "cube = sarcube.synthetic.make_scene((16, 16), seed=1).cube.chunk({'y': 8})\n"
        "sarcube.to_zarr(cube, path)\n"
        "back = sarcube.open_zarr(path)\n"
        "import sarcube.io.stac\n"
        "print(back.rio.crs.to_epsg(), 'rioxarray' in sys.modules)"
    )
    assert out == "32633 True"


def test_accessor_registered_when_xarray_comes_after_sarcube() -> None:
    out = _run(
        "import sarcube\n"
        "import numpy as np, xarray as xr\n"
        "da = xr.DataArray(np.ones((4, 4), np.float32), dims=('y', 'x'), attrs={'units': '1'})\n"
        "print(da.sar.to_db().attrs['units'], da.sar.to_db.__doc__ == sarcube.to_db.__doc__)"
    )
    assert out == "dB True"


def test_accessor_registered_when_a_function_loads_xarray_first() -> None:
    # sarcube.to_db imports the module that imports xarray: the accessor is
    # registered while that module is still loading, its docstrings right after
    out = _run(
        "import sarcube\n"
        "f = sarcube.to_db\n"
        "import numpy as np, xarray as xr\n"
        "da = xr.DataArray(np.ones((2, 2), np.float32), dims=('y', 'x'), attrs={'units': '1'})\n"
        "print(da.sar.to_db().attrs['units'], xr.DataArray.sar.to_db.__doc__ == f.__doc__)"
    )
    assert out == "dB True"


def test_every_public_name_resolves_and_the_tables_agree() -> None:
    source = Path(sarcube.__file__).read_text()
    tree = ast.parse(source)
    typed: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                typed.update(alias.name for alias in stmt.names)
    exports = set(sarcube._EXPORTS)
    submodules = typed - exports
    assert exports <= typed
    assert set(sarcube.__all__) == typed | {"__version__"}
    for name in sarcube.__all__:
        assert getattr(sarcube, name) is not None
    for name in submodules:
        assert getattr(sarcube, name).__name__ == f"sarcube.{name}"
    assert set(sarcube.__all__) <= set(dir(sarcube))


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_function"):
        sarcube.no_such_function  # noqa: B018
