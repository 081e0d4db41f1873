"""Old names that still work for one release, with a warning naming the new one."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from .errors import ParameterError

P = ParamSpec("P")
R = TypeVar("R")


def renamed_keywords(**old_to_new: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Accept each old keyword name as its new one, with a ``DeprecationWarning``.

    Passing both the old and the new name is refused: the call is ambiguous.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        name = getattr(func, "__name__", "function")

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise ParameterError(
                        f"{name}: {old}= is the old name of {new}=; pass {new}= only"
                    )
                warnings.warn(
                    f"{name}: {old}= is renamed {new}=; the old name will be removed",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate
