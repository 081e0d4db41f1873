"""Sphinx configuration for the sarcube documentation.

Build from the repository root with::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import sphinx_autosummary_accessors

# Document the source tree next to this folder even when sarcube is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sarcube
import sarcube.accessor  # registers .sar; each method reads its function's docstring

# -- Project information -----------------------------------------------------

project = "sarcube"
author = "The sarcube developers"
copyright = "The sarcube developers"
version = ".".join(sarcube.__version__.split(".")[:2])
release = sarcube.__version__

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_autosummary_accessors",
    "myst_nb",
]

templates_path = ["_templates", sphinx_autosummary_accessors.templates_path]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "jupyter_execute"]

# -- Notebooks ---------------------------------------------------------------

# The notebooks live in examples/notebooks/ (stored without outputs, executed by
# the test suite); the build copies them into docs/notebooks/ (not under version
# control: the same folder depth, so their relative data paths still hold) and
# runs each one, so the pages show the figures of the code as it is.
_NOTEBOOKS = Path(__file__).resolve().parent.parent / "examples" / "notebooks"
_COPIES = Path(__file__).resolve().parent / "notebooks"
_COPIES.mkdir(exist_ok=True)
for _notebook in sorted(_NOTEBOOKS.glob("*.ipynb")):
    shutil.copyfile(_notebook, _COPIES / _notebook.name)
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_merge_streams = True
root_doc = "index"
language = "en"

# Unresolved references to third-party types (xarray, pystac, ...) are not
# reported: intersphinx is off because the build has no network access.
nitpicky = False

# -- autodoc / autosummary ---------------------------------------------------

# Pages for every object listed in an ``autosummary`` table with ``:toctree:``
# are generated into api/generated/ (not under version control).
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_imported_members = False

autodoc_default_options = {
    "member-order": "bysource",
}
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_typehints_format = "short"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = False
# The functions that return "the same kind of xarray object as the input" are
# annotated with a private TypeVar; show what it stands for instead of its name.
autodoc_type_aliases = {"XObj": "xarray.DataArray | xarray.Dataset"}

# -- napoleon (numpydoc-style docstrings) -----------------------------------

napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_include_init_with_doc = False
napoleon_use_param = True
napoleon_use_rtype = True
napoleon_use_ivar = False
napoleon_use_admonition_for_examples = False

# -- HTML output -------------------------------------------------------------

html_theme = "alabaster"
html_title = f"sarcube {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "SAR analysis on lazily chunked xarray datacubes from STAC",
    "fixed_sidebar": True,
    "show_powered_by": False,
}
html_sidebars = {
    "**": ["about.html", "navigation.html", "relations.html", "searchbox.html"],
}


# -- Cross-references ----------------------------------------------------------

# The package's docstrings refer to functions and exceptions by their short
# names inside the module that defines them (``:func:`load``` in
# sarcube.io.stac, ``AssetReadError`` in a Raises section), while these pages
# document them where users import them from (``sarcube.load``,
# ``sarcube.errors.AssetReadError``). Resolve such short names from sarcube
# docstrings against those documented names.
_SARCUBE_PREFIXES = ("sarcube.", "sarcube.errors.")


def _resolve_sarcube_short_names(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py" or not str(node.get("py:module") or "").startswith("sarcube"):
        return None
    target = node["reftarget"].lstrip("~.")
    if target.startswith("sarcube."):
        return None
    python = env.get_domain("py")
    for prefix in _SARCUBE_PREFIXES:
        if prefix + target in python.objects:
            return python.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], prefix + target, node, contnode
            )
    return None


def setup(app: Any) -> None:
    app.connect("missing-reference", _resolve_sarcube_short_names)
