"""Model specs and the per-process model cache.

A :class:`ModelSpec` is small and picklable (paths and importable names): it is
what travels in every Dask task. The model itself is built or loaded the first
time a process needs it and cached there, so each worker process loads it
once, however many chunks it predicts.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._checks import is_real
from ..errors import InputNotFoundError, ParameterError

if TYPE_CHECKING:
    import torch

__all__ = ["Ensemble", "ModelSpec", "file_sha256", "load_model", "model_cache_info"]

Activation = Literal["softmax", "sigmoid", "none"]


def _resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(target):
        return target
    module, _, name = str(target).partition(":")
    if not module or not name:
        raise ParameterError(
            f"model builder {target!r} must be a callable or 'package.module:function'"
        )
    obj = getattr(importlib.import_module(module), name)
    if not callable(obj):
        raise ParameterError(f"model builder {target!r} is not callable")
    return obj  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ModelSpec:
    """How to get a torch model in any process: exactly one of the three forms.

    Parameters
    ----------
    exported
        Path of a ``torch.export`` program (``torch.export.save``, ``.pt2``),
        the format torch recommends in place of TorchScript. Export it with
        dynamic batch, height and width (``torch.export.Dim.AUTO``) so any
        window size and batch fit.
    torchscript
        Path of a TorchScript file (``torch.jit.save``).
    state_dict, builder
        Path of a saved ``state_dict`` and the builder of the empty model: a
        callable or ``"package.module:function"``, called with *builder_kwargs*.
    factory
        A callable (or ``"package.module:function"``) returning the ready model.
    activation
        Applied to the model's output channels: ``"softmax"`` (classes),
        ``"sigmoid"`` (independent probabilities) or ``"none"``.
    name
        A label for logs and attrs.
    channels
        The names of the input channels the model takes, in order (optional).
        :func:`~sarcube.infer.predict` then takes them by name from its input,
        and an :class:`Ensemble` gives each member its own channels.
    trusted
        Required (True) for the ``exported`` and ``torchscript`` forms: loading
        those files **can run code embedded in them**, so say that you trust
        their source. A ``state_dict`` is read with ``weights_only=True``
        (tensors and plain values, no code) and needs no trust.
    sha256
        The expected SHA-256 of the model file (hex); checked when the spec is
        made and again when a process loads the file.

    Notes
    -----
    Which forms can run code: ``exported`` and ``torchscript`` files (when
    loaded), ``builder``/``factory`` (the function you name, and importing its
    module). A ``state_dict`` file cannot.

    A ``state_dict`` file may hold the weights themselves or a checkpoint dict
    with them under ``"model_state_dict"`` or ``"state_dict"``;
    :meth:`from_checkpoint` also reads the builder from such a dict.

    Examples
    --------
    >>> spec = ModelSpec(factory="torch.nn:Identity", activation="none", name="identity")
    >>> spec.kind
    'factory'
    """

    torchscript: str | None = None
    exported: str | None = None
    state_dict: str | None = None
    builder: str | Callable[..., Any] | None = None
    builder_kwargs: dict[str, Any] = field(default_factory=dict)
    factory: str | Callable[..., Any] | None = None
    activation: Activation = "softmax"
    name: str = "model"
    channels: tuple[str, ...] | None = None
    trusted: bool = False
    sha256: str | None = None

    def __post_init__(self) -> None:
        if self.channels is not None:
            object.__setattr__(self, "channels", tuple(str(c) for c in self.channels))
            if not self.channels or len(set(self.channels)) != len(self.channels):
                raise ParameterError(
                    f"ModelSpec: channels must be distinct names, got {self.channels!r}"
                )
        forms = [
            self.torchscript is not None,
            self.exported is not None,
            self.state_dict is not None or self.builder is not None,
            self.factory is not None,
        ]
        if sum(forms) != 1:
            raise ParameterError(
                "ModelSpec: give exactly one of exported=, torchscript=, state_dict= with "
                "builder=, or factory="
            )
        if (self.state_dict is None) != (self.builder is None):
            raise ParameterError("ModelSpec: state_dict= and builder= go together")
        if self.activation not in ("softmax", "sigmoid", "none"):
            raise ParameterError(
                f"ModelSpec: activation must be 'softmax', 'sigmoid' or 'none', "
                f"got {self.activation!r}"
            )
        for path in (self.torchscript, self.exported, self.state_dict):
            if path is not None and not Path(path).is_file():
                raise InputNotFoundError(f"ModelSpec: no model file at {path}")
        if (self.exported is not None or self.torchscript is not None) and self.trusted is not True:
            form = "exported" if self.exported is not None else "torchscript"
            raise ParameterError(
                f"ModelSpec: loading a {form} file can run code embedded in it; pass "
                "trusted=True if you trust its source, or save the model's weights "
                "(torch.save(model.state_dict(), path)) and use state_dict= with builder= "
                "(read with weights_only=True: tensors only)"
            )
        if self.sha256 is not None:
            digest = str(self.sha256).lower()
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ParameterError(
                    f"ModelSpec: sha256 must be 64 hex digits, got {self.sha256!r}"
                )
            if self.file is None:
                raise ParameterError("ModelSpec: sha256 checks a model file; this spec has none")
            object.__setattr__(self, "sha256", digest)
            _verify(self.file, digest, "ModelSpec")

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        activation: Activation = "softmax",
        trust_builder: bool | Callable[[str], bool] = False,
    ) -> ModelSpec:
        """The spec of a checkpoint that names its architecture.

        The file (read with ``torch.load(weights_only=True)``: tensors and plain
        values only, no code) is a dict with ``model_state_dict`` (or
        ``state_dict``), ``builder`` (``"package.module:function"``) and
        optionally ``builder_kwargs``, ``channels`` and ``name`` — what
        :func:`sarcube.ml.train` writes with ``checkpoint_info``. Building the
        model imports the builder's module, so only builders under
        ``sarcube.models`` are accepted unless *trust_builder* is True (a
        checkpoint from a source you trust) or, given a function of the builder
        string, returns True for it (an allow-list of modules).
        """
        import torch

        if not Path(path).is_file():
            raise InputNotFoundError(f"ModelSpec.from_checkpoint: no checkpoint file at {path}")
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ParameterError(
                f"ModelSpec.from_checkpoint: {path} is not a torch checkpoint of tensors and "
                f"plain values: {err}"
            ) from err
        builder = content.get("builder") if isinstance(content, dict) else None
        if not isinstance(builder, str):
            raise ParameterError(
                f"ModelSpec.from_checkpoint: {path} does not name its architecture (no "
                "'builder' entry); use ModelSpec(state_dict=..., builder=...)"
            )
        trusted = trust_builder(builder) if callable(trust_builder) else bool(trust_builder)
        if not trusted and not builder.startswith("sarcube.models."):
            raise ParameterError(
                f"ModelSpec.from_checkpoint: {path} names the builder {builder!r}, outside "
                "sarcube.models; building it imports that module. Pass trust_builder=True "
                "if you trust the file's source"
            )
        channels = content.get("channels")
        return cls(
            state_dict=str(path),
            builder=builder,
            builder_kwargs=dict(content.get("builder_kwargs", {})),
            activation=activation,
            name=str(content.get("name", Path(path).stem)),
            channels=None if channels is None else tuple(channels),
        )

    @property
    def file(self) -> str | None:
        """The model file of the spec (None for a factory)."""
        return self.torchscript or self.exported or self.state_dict

    @property
    def kind(self) -> str:
        if self.torchscript is not None:
            return "torchscript"
        if self.exported is not None:
            return "exported"
        return "state_dict" if self.state_dict is not None else "factory"

    def key(self) -> tuple[Any, ...]:
        """What identifies the model in a process's cache."""

        def ident(v: Any) -> Any:
            return v if v is None or isinstance(v, str) else f"{v.__module__}.{v.__qualname__}"

        return (
            self.kind,
            self.torchscript and str(Path(self.torchscript).resolve()),
            self.exported and str(Path(self.exported).resolve()),
            self.state_dict and str(Path(self.state_dict).resolve()),
            ident(self.builder),
            tuple(sorted((k, repr(v)) for k, v in self.builder_kwargs.items())),
            ident(self.factory),
            self.sha256,
        )


@dataclass(frozen=True)
class Ensemble:
    """Several models whose probabilities :func:`~sarcube.infer.predict` averages.

    Each window is predicted by every member (each with its own activation,
    flips and input channels) and the probabilities are averaged, weighted by
    *weights* (default: equal). Members are loaded once per process, as a
    single model is.

    Examples
    --------
    >>> a = ModelSpec(factory="torch.nn:Identity", activation="none", name="a")
    >>> Ensemble((a, a), weights=(3, 1)).weights
    (0.75, 0.25)
    """

    members: tuple[ModelSpec, ...]
    weights: tuple[float, ...] | None = None
    name: str = "ensemble"

    def __post_init__(self) -> None:
        members = tuple(self.members)
        if not members or not all(isinstance(m, ModelSpec) for m in members):
            raise ParameterError("Ensemble: members must be one or more ModelSpec")
        object.__setattr__(self, "members", members)
        weights = (1.0,) * len(members) if self.weights is None else tuple(self.weights)
        if (
            len(weights) != len(members)
            or not all(is_real(w) and w >= 0 for w in weights)
            or sum(weights) <= 0
        ):
            raise ParameterError(
                f"Ensemble: weights must be {len(members)} non-negative numbers with a "
                f"positive sum, got {self.weights!r}"
            )
        total = float(sum(weights))
        object.__setattr__(self, "weights", tuple(float(w) / total for w in weights))

    @property
    def kind(self) -> str:
        return "ensemble of " + ", ".join(m.kind for m in self.members)

    @property
    def channels(self) -> tuple[str, ...] | None:
        """All members' input channels in first-use order (None unless each names its own)."""
        if any(m.channels is None for m in self.members):
            return None
        names: list[str] = []
        for m in self.members:
            names.extend(c for c in m.channels or () if c not in names)
        return tuple(names)


def _weights_of(state: Any) -> Any:
    """The state dict inside a checkpoint dict (or the state dict itself)."""
    if isinstance(state, dict):
        for key in ("model_state_dict", "state_dict"):
            if key in state and isinstance(state[key], dict):
                return state[key]
    return state


_CACHE: dict[tuple[Any, ...], Any] = {}
_LOADS: dict[str, int] = {}
_LOCK = threading.Lock()


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file (hex).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sarcube.infer import file_sha256
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "weights.bin"
    >>> _ = path.write_bytes(b"abc")
    >>> file_sha256(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: str, expected: str, func: str) -> None:
    actual = file_sha256(path)
    if actual != expected:
        raise ParameterError(
            f"{func}: {path} has SHA-256 {actual}, not the expected {expected}; the file "
            "changed or is not the one meant: fetch it again or correct sha256="
        )


def _build(spec: ModelSpec, device: str) -> torch.nn.Module:
    import torch

    if spec.sha256 is not None and spec.file is not None:
        _verify(spec.file, spec.sha256, spec.name)  # the file this process reads

    if spec.torchscript is not None:
        with warnings.catch_warnings():
            # torch 2.13 deprecates TorchScript in favour of torch.export; the files
            # users already have still load fine.
            warnings.simplefilter("ignore", DeprecationWarning)
            model = torch.jit.load(spec.torchscript, map_location=device)  # type: ignore[no-untyped-call]
    elif spec.exported is not None:
        try:
            program = torch.export.load(spec.exported)
        except Exception as err:
            raise ParameterError(
                f"{spec.name}: {spec.exported} is not a torch.export program "
                f"(save one with torch.export.save): {err}"
            ) from err
        # an exported program is already in inference form (no .eval() on it)
        module: torch.nn.Module = program.module().to(device)
        return module
    elif spec.state_dict is not None:
        assert spec.builder is not None
        model = _resolve(spec.builder)(**spec.builder_kwargs)
        state = torch.load(spec.state_dict, map_location=device, weights_only=True)
        model.load_state_dict(_weights_of(state))
    else:
        assert spec.factory is not None
        model = _resolve(spec.factory)()
    if not isinstance(model, torch.nn.Module):
        raise ParameterError(f"{spec.name}: the spec gave a {type(model).__name__}, not a model")
    return model.to(device).eval()


def _optimized(model: torch.nn.Module) -> torch.nn.Module:
    """*model* prepared for inference.

    Batch norms are folded into the convolutions before them (``torch.fx``),
    weights in channels-last layout. Models fx cannot trace and TorchScript
    modules are returned as they are; the outputs agree with the original to
    float rounding.
    """
    import torch

    if isinstance(model, torch.jit.ScriptModule):
        return model
    try:
        with warnings.catch_warnings():
            # importing the fx optimisation helpers touches deprecated TorchScript APIs
            warnings.simplefilter("ignore", DeprecationWarning)
            from torch.fx.experimental.optimization import fuse

            model = fuse(model)  # a traced copy; the original is left unchanged
    except Exception:  # data-dependent control flow fx cannot trace: keep the model
        pass
    return model.to(memory_format=torch.channels_last)  # type: ignore[call-overload,no-any-return]


def load_model(
    spec: ModelSpec, device: str, *, dtype: str = "float32", optimize: bool = False
) -> torch.nn.Module:
    """The model of *spec* on *device*, loaded at most once per process.

    *dtype* casts the weights (``"bfloat16"``/``"float16"`` for reduced precision);
    *optimize* folds batch norms into convolutions and uses the channels-last
    layout, which is what makes CPU inference fast (see ``predict``).

    Examples
    --------
    >>> from sarcube.infer import ModelSpec, clear_model_cache, load_model, model_cache_info
    >>> clear_model_cache()
    >>> spec = ModelSpec(factory="torch.nn:Identity", activation="none", name="identity")
    >>> load_model(spec, "cpu") is load_model(spec, "cpu"), model_cache_info()
    (True, {'identity': 1})
    """
    key = (*spec.key(), device, dtype, optimize)
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            import torch

            model = _build(spec, device)
            if optimize:
                model = _optimized(model)
            if dtype != "float32":
                model = model.to(getattr(torch, dtype))
            _CACHE[key] = model
            _LOADS[spec.name] = _LOADS.get(spec.name, 0) + 1
    return model


def model_cache_info() -> dict[str, int]:
    """How many times each model name was loaded in this process (for checks and logs).

    Examples
    --------
    >>> from sarcube.infer import ModelSpec, clear_model_cache, load_model, model_cache_info
    >>> clear_model_cache()
    >>> _ = load_model(ModelSpec(factory="torch.nn:Identity", activation="none", name="id"), "cpu")
    >>> model_cache_info()
    {'id': 1}
    """
    with _LOCK:
        return dict(_LOADS)


def clear_model_cache() -> None:
    """Forget the models loaded in this process.

    Examples
    --------
    >>> from sarcube.infer import ModelSpec, clear_model_cache, load_model, model_cache_info
    >>> _ = load_model(ModelSpec(factory="torch.nn:Identity", activation="none", name="id"), "cpu")
    >>> clear_model_cache()
    >>> model_cache_info()
    {}
    """
    with _LOCK:
        _CACHE.clear()
        _LOADS.clear()
