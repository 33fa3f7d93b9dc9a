"""The one loader of user code and plugins: ``pkg.module:attr`` specs, state dicts, spec strings.

* :func:`load_attr` -- an attribute named ``pkg.module:attr`` (importable) or ``path/to/file.py:attr``.
* :func:`load_state_dict` -- a checkpoint's tensors with ``torch.load(..., weights_only=True)``; a
  ``state_dict``/``model`` entry of a training checkpoint is unwrapped. Never a pickle of objects.
* :func:`parse_spec` -- the one grammar of named specs with options, ``name?key=value&key=value``
  (``zoo:blur_region?box=8,8,20,20&n=500``, ``zoo-dcgan?epoch=3``, ``zoo-vae?beta=4``).
* :func:`load_plugins` -- imports every plugin module once, so it can register its extractors,
  segmenters, atlas models, decoders, sources and views into the ordinary registries: the built-in
  ones (:data:`BUILTIN`, the zoo), those named in ``GENLENS_PLUGINS`` (comma-separated modules), and
  installed packages' ``genlens.plugins`` entry points.
* :class:`Registry` -- the named factories of one kind that plugins fill; lookups load the plugins.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from genlens.errors import ConfigError, InputError

#: Plugin modules that ship with genlens.
BUILTIN: tuple[str, ...] = ("genlens.zoo.plugin",)
#: Entry-point group of installed plugins.
ENTRY_POINT_GROUP = "genlens.plugins"

_loaded: set[str] = set()
#: The ``GENLENS_PLUGINS`` value of the last complete :func:`load_plugins`; None before the first.
_loaded_for: str | None = None


def load_attr(spec: str, what: str = "object") -> Any:
    """The attribute ``attr`` of ``pkg.module:attr`` or ``path/to/file.py:attr``, with a clear error."""
    module_name, sep, attr = str(spec).rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{what} {spec!r} is not 'pkg.module:attr' or 'path/to/file.py:attr'")
    module = _import_file(module_name) if module_name.endswith(".py") else _import(module_name, spec, what)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{what} {spec!r}: module {module_name!r} has no attribute {attr!r}") from None


def _import(module_name: str, spec: str, what: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ConfigError(f"{what} {spec!r}: cannot import {module_name!r} ({err}); is it on PYTHONPATH?") from err


def _import_file(path_text: str) -> Any:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise InputError(f"no such Python file: {path}")
    name = f"genlens_user_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Tensors of a checkpoint file, loaded with ``weights_only=True`` (a ``state_dict`` entry is unwrapped)."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"no such checkpoint file: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- unpickling errors come in many types
        raise InputError(f"{path} is not a weights-only PyTorch checkpoint ({type(err).__name__}: {err}); "
                         "save it with torch.save(model.state_dict(), path)") from err
    if isinstance(state, dict):
        for key in ("state_dict", "model", "model_state_dict", "generator", "decoder"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise InputError(f"checkpoint {path} does not hold a state dict")
    return state


def parse_spec(spec: str, options: dict[str, Callable[[str], Any]] | None = None) -> tuple[str, dict[str, Any]]:
    """``name?key=value&key=value`` -> ``(name, {key: value})``; ``options`` converts and checks keys.

    Strict, so a typo is an error rather than a silently ignored option: every item needs ``=``, a key
    may appear once, and with ``options`` only its keys are accepted."""
    name, _, query = str(spec).partition("?")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ConfigError(f"{spec!r}: the part after '?' must be key=value pairs joined by '&'") from None
    values: dict[str, Any] = {}
    for key, value in pairs:
        if key in values:
            raise ConfigError(f"{spec!r}: option {key!r} given twice")
        values[key] = value if options is None else _convert(spec, key, value, options)
    return name, values


def _convert(spec: str, key: str, value: str, options: dict[str, Callable[[str], Any]]) -> Any:
    if key not in options:
        raise ConfigError(f"{spec!r}: unknown option {key!r}; valid: {', '.join(options)}")
    try:
        return options[key](value)
    except ValueError as err:
        raise ConfigError(f"{spec!r}: option {key}={value!r} is not valid ({err})") from None


def as_bool(text: str) -> bool:
    """A spec option's truth value: 1/true/yes/on or 0/false/no/off."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{text!r} is not a yes/no value")


def load_plugins() -> None:
    """Import every plugin module once (built-in, ``GENLENS_PLUGINS``, entry points).

    Registries call this on every lookup, so a repeat call with the same ``GENLENS_PLUGINS`` returns at
    once (scanning entry points takes milliseconds)."""
    global _loaded_for
    env = os.environ.get("GENLENS_PLUGINS", "")
    if env == _loaded_for:
        return
    names = [*BUILTIN, *(n.strip() for n in env.split(",") if n.strip())]
    from importlib.metadata import entry_points

    loaders = [(name, lambda n=name: importlib.import_module(n)) for name in names]
    loaders += [(point.value, point.load) for point in entry_points(group=ENTRY_POINT_GROUP)]
    for name, load in loaders:
        if name in _loaded:
            continue
        _loaded.add(name)  # first: a plugin that asks a registry for something must not load itself again
        try:
            load()
        except Exception:
            _loaded.discard(name)
            raise
    _loaded_for = env


class Registry:
    """Named factories of one kind (extractors, segmenters, ...) that plugins fill.

    Every lookup first runs :func:`load_plugins` (a no-op after the first call), so a registered name
    works without anyone importing the plugin that registers it.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, factory: Callable[..., Any]) -> None:
        """Add ``name``; registering it again replaces the factory (a plugin may override another)."""
        if not callable(factory):
            raise ConfigError(f"the {self.kind} factory for {name!r} is not callable")
        self._factories[name] = factory

    def get(self, name: str) -> Callable[..., Any] | None:
        """The factory registered as ``name``, or None."""
        load_plugins()
        return self._factories.get(name)

    def names(self) -> tuple[str, ...]:
        """Every registered name, for error messages and help."""
        load_plugins()
        return tuple(self._factories)
