"""Old names that still work for one release, with a warning naming the new one."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from .errors import ParameterError

P = ParamSpec("P")
R = TypeVar("R")

#: An old keyword's new name, or its new name and how its old values map to new ones.
Renamed = str | tuple[str, Mapping[Any, Any]]

#: ``domain="db"|"linear"`` and ``scale="db"|"linear"`` as ``db=True|False``.
DB_FLAG: Mapping[Any, Any] = {"db": True, "linear": False}


def warn_renamed(old: str, new: str) -> None:
    """Warn that the function *old* is now called *new* (from inside *old*)."""
    warnings.warn(
        f"{old} is renamed {new}; the old name will be removed",
        DeprecationWarning,
        stacklevel=3,
    )


def renamed_keywords(**old_to_new: Renamed) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Accept each old keyword as its new one, with a ``DeprecationWarning``.

    A new name given with a mapping also translates the old values (e.g.
    ``domain="linear"`` becomes ``db=False``); an old value the mapping does
    not know is refused. Passing both the old and the new name is refused:
    the call is ambiguous.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        name = getattr(func, "__name__", "function")

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for old, renamed in old_to_new.items():
                if old not in kwargs:
                    continue
                new, values = (renamed, None) if isinstance(renamed, str) else renamed
                if new in kwargs:
                    raise ParameterError(
                        f"{name}: {old}= is the old name of {new}=; pass {new}= only"
                    )
                value = kwargs.pop(old)
                if values is None:
                    hint = f"{new}="
                elif value in values:
                    value = values[value]
                    hint = f"{new}={value!r}"
                else:
                    choices = ", ".join(repr(v) for v in values)
                    raise ParameterError(
                        f"{name}: {old} must be one of {choices}, got {value!r}; it is "
                        f"deprecated: pass {new}= instead"
                    )
                warnings.warn(
                    f"{name}: {old}= is renamed {new}=; the old name will be removed (pass {hint})",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = value
            return func(*args, **kwargs)

        return wrapper

    return decorate
