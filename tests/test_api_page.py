"""docs/api.rst lists every public name: sarcube's and those of its public modules."""

from __future__ import annotations

import importlib
import inspect
import re
import types
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.rst"
#: Modules whose ``__all__`` is public API (the others are reached through ``sarcube``).
PUBLIC_MODULES = (
    "sarcube",
    "sarcube.catalog",
    "sarcube.errors",
    "sarcube.flood",
    "sarcube.infer",
    "sarcube.insar",
    "sarcube.ml",
    "sarcube.models",
    "sarcube.pipeline",
    "sarcube.plot",
    "sarcube.report",
    "sarcube.synthetic",
)


def documented() -> set[str]:
    """The qualified names of the page's autosummary entries."""
    names, module = set(), "sarcube"
    in_summary = False
    for line in API.read_text(encoding="utf-8").splitlines():
        found = re.match(r"\.\. (?:current)?module:: (\S+)", line)
        if found:
            module, in_summary = found.group(1), False
        elif line.startswith(".. autosummary::"):
            in_summary = True
        elif in_summary and re.match(r"^   [A-Za-z_][\w.]*$", line):
            names.add(f"{module}.{line.strip()}")
        elif line and not line.startswith(" "):
            in_summary = False
    return names


def _resolve(qualified: str) -> object:
    """The object a documented name stands for (a module, or an attribute path in one)."""
    module, _, name = qualified.rpartition(".")
    while True:
        try:
            value: object = importlib.import_module(module)
            break
        except ImportError:  # an attribute path such as sarcube.multisensor.ALOS_CHANNELS
            module, _, head = module.rpartition(".")
            name = f"{head}.{name}"
    for part in name.split("."):
        value = getattr(value, part)
    return value


def modules_on_the_page() -> set[str]:
    return set(re.findall(r"^\.\. module:: (\S+)", API.read_text(encoding="utf-8"), re.M))


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_is_on_the_api_page(module: str) -> None:
    owner = importlib.import_module(module)
    page = documented()
    # functions and classes may be documented where they live or where they are re-exported
    objects = {id(v) for v in map(_resolve, page) if callable(v)}
    missing = []
    for name in owner.__all__:
        value = getattr(owner, name)
        if name.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            found = value.__name__ in modules_on_the_page()
        else:
            found = f"{module}.{name}" in page or (callable(value) and id(value) in objects)
        if not found:
            missing.append(name)
    assert missing == [], f"add to docs/api.rst: {module}.{missing}"


def test_the_page_names_only_what_exists() -> None:
    for qualified in sorted(documented()):
        _resolve(qualified)  # raises for a name that does not exist


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_function_and_class_has_an_example(module: str) -> None:
    """A numpydoc Examples section with a doctest (run by ``--doctest-modules``).

    The error subclasses are exempt: :class:`sarcube.errors.SarcubeError`'s
    example shows how every one of them is caught.
    """
    from sarcube.errors import SarcubeError

    owner = importlib.import_module(module)
    missing = []
    for name in owner.__all__:
        value = getattr(owner, name)
        if name.startswith("__") or not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        if inspect.isclass(value) and issubclass(value, SarcubeError) and value is not SarcubeError:
            continue
        doc = inspect.getdoc(value) or ""
        if not re.search(r"^Examples\n-{8}\n", doc, re.M) or ">>>" not in doc:
            missing.append(name)
    assert missing == [], f"add a numpydoc Examples section with a doctest: {module}.{missing}"
