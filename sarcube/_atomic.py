"""Atomic output: write under a hidden temporary name, then rename into place.

The one home of sarcube's "no half-written output" rule: a file
(:func:`atomic_target`, :func:`write_text_atomic`) or a folder
(:func:`replacing_folder`) or a file with its sidecars (:func:`replacing_file_set`)
appears complete or not at all, and
:func:`check_writable` refuses a target before any work is done. Zarr stores
are the exception (written in place, resumable; see :mod:`sarcube.io.zarr`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError

__all__ = [
    "atomic_target",
    "check_writable",
    "replacing_file_set",
    "replacing_folder",
    "write_text_atomic",
]


def check_writable(target: Path, overwrite: bool, func: str) -> Path:
    """Refuse, before any work, a *target* that cannot be written.

    It cannot when it exists (unless *overwrite*) or its folder is missing or
    not writable.
    """
    if target.exists() and not overwrite:
        raise OutputError(f"{func}: {target} exists; pass overwrite=True to replace it")
    parent = target.resolve().parent
    if not parent.is_dir():
        raise OutputError(f"{func}: {target.parent} is not a folder; create it first")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{func}: {target.parent} is not writable; choose another folder")
    return target


@contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside *target*; on success it replaces *target*.

    A reader never sees a half-written file: either the old file (or none) or
    the complete new one. On error the temporary file is removed.
    """
    tmp = target.with_name(f".{target.name}.partial")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(target: Path, text: str) -> Path:
    """Write *text* (UTF-8) to *target* through :func:`atomic_target`."""
    with atomic_target(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target


@contextmanager
def replacing_folder(target: Path) -> Iterator[Path]:
    """Yield a hidden sibling folder to fill; on success it replaces *target*.

    *target* may be a folder, a file or missing (check it first with
    :func:`check_writable`). A failed run leaves neither a half-written folder
    nor a removed old one.
    """
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir()
        yield partial
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


@contextmanager
def replacing_file_set(target: Path, parts: Sequence[str]) -> Iterator[Path]:
    """Yield a hidden folder in which to write *target* and its sidecar files.

    The sidecars share *target*'s stem and have the suffixes *parts* (a
    shapefile's ``.shx``, ``.dbf``, ...). On success each is moved beside
    *target* (a stale sidecar of the replaced set is removed), *target* last:
    a *target* that is there is complete, with its sidecars.
    """
    folder = target.with_name(f".{target.name}.partial")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        yield folder
        for part in parts:
            written = folder / target.with_suffix(part).name
            if written.exists():
                os.replace(written, target.with_suffix(part))
            else:
                target.with_suffix(part).unlink(missing_ok=True)
        os.replace(folder / target.name, target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
