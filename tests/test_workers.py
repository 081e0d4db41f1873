"""Window kernels reach dask worker processes as the module's numba dispatcher.

A numba dispatcher pickles by value: unpickled in another process it is a
new dispatcher without the on-disk cache, compiled again on its first call
(seconds per kernel on every worker). The graphs of sarcube's window
operations carry the kernels by import path instead.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import cloudpickle
import dask
import numpy as np
import pytest
import xarray as xr

import sarcube
from sarcube._overlap import KernelByName
from sarcube.filters import _moments


def test_kernel_by_name_pickles_as_its_import_path() -> None:
    ref = KernelByName(_moments.moments_rule_kernel)
    assert pickle.loads(cloudpickle.dumps(ref)).func is _moments.moments_rule_kernel
    # the pickle holds the path, not the function's code
    assert len(cloudpickle.dumps(ref)) < 200 < len(cloudpickle.dumps(ref.func))
    assert dask.base.tokenize(ref) == dask.base.tokenize(KernelByName(ref.func))

    def local(x: object) -> object:
        return x

    with pytest.raises(TypeError, match="not importable"):
        KernelByName(local)
    assert KernelByName.wrap(local) is local  # a local kernel still works, pickled by value


def test_a_fresh_process_gets_the_module_dispatcher() -> None:
    # every task of a Lee filter graph, unpickled in a new interpreter (as a
    # worker process does), calls the dispatcher of sarcube.filters._moments
    image = xr.DataArray(
        np.random.default_rng(0).gamma(4.0, 0.25, (64, 64)).astype(np.float32), dims=("y", "x")
    ).chunk(32)
    lee = sarcube.lee_filter(image, size=5, enl=4.0)
    graph = dict(lee.data.__dask_graph__())
    payload = cloudpickle.dumps(graph)
    check = (
        "import pickle, sys\n"
        "graph = pickle.loads(sys.stdin.buffer.read())\n"
        "from sarcube._overlap import KernelByName\n"
        "from sarcube.filters import _moments\n"
        "found = []\n"
        "def walk(obj, depth=0):\n"
        "    if isinstance(obj, KernelByName):\n"
        "        found.append(obj.func is _moments.moments_rule_kernel)\n"
        "    elif depth < 8:\n"
        "        for name in ('args', 'kwargs', 'func', 'value', 'dependencies'):\n"
        "            inner = getattr(obj, name, None)\n"
        "            items = inner.values() if isinstance(inner, dict) else inner\n"
        "            if isinstance(items, (list, tuple, set, type({}.values()))):\n"
        "                for item in items: walk(item, depth + 1)\n"
        "            elif inner is not None and inner is not obj: walk(inner, depth + 1)\n"
        "for task in graph.values(): walk(task)\n"
        "print(len(found), all(found))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], input=payload, capture_output=True, timeout=120
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    count, all_module = run.stdout.decode().split()
    assert int(count) >= 4 and all_module == "True"
