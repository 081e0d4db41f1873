"""Atomic file output: write under a hidden temporary name, then rename into place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError

__all__ = ["atomic_target", "check_writable"]


def check_writable(target: Path, overwrite: bool, func: str) -> Path:
    """Refuse, before any work, a *target* that exists (unless *overwrite*) or whose
    folder is missing or not writable."""
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
