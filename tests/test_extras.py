"""Without an optional dependency, the error names the extra that installs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    ("torch", "import sarcube.models", 'pip install "sarcube[torch]"'),
    ("torch", "import sarcube.ml", 'pip install "sarcube[torch]"'),
    (
        "torch",
        "import sarcube, numpy as np, xarray as xr\n"
        "from sarcube.infer import ModelSpec, predict\n"
        "predict(xr.DataArray(np.zeros((8, 8)), dims=('y', 'x')),"
        " ModelSpec(factory='x:y'), n_classes=2, window=8, stride=8)",
        'pip install "sarcube[torch]"',
    ),
    (
        "matplotlib",
        "import sarcube.plot, numpy as np, xarray as xr\n"
        "sarcube.plot.image_panels({'a': xr.DataArray(np.ones((4, 4)), dims=('y', 'x'))})",
        'pip install "sarcube[plot]"',
    ),
    (
        "geopandas",
        "import sarcube, numpy as np, xarray as xr\n"
        "sarcube.to_vector(xr.DataArray(np.ones((4, 4), np.uint8), dims=('y', 'x')))",
        'pip install "sarcube[vector]"',
    ),
]

# a meta-path finder that makes the module look uninstalled in the child process
_HIDE = """
import sys
class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r} or name.startswith({module!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}")
        return None
sys.meta_path.insert(0, _Hide())
"""


@pytest.mark.parametrize(("module", "code", "hint"), CASES)
def test_a_missing_extra_is_named(module: str, code: str, hint: str) -> None:
    script = _HIDE.format(module=module) + code
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sarcube.errors.MissingExtraError") and hint in last, done.stderr
