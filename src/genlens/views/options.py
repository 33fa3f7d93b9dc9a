"""View options: frozen dataclasses whose fields carry their own help, flag and bounds.

A view's ``Options`` is the one place its defaults live. Each field is declared with :func:`option`,
which stores the help text and the command-line spelling in the field's metadata; the CLI builds a
view's flags from it (:mod:`genlens.cli._views`), and ``genlens report --set regions.clusters=8``
parses a value by the field's type (:func:`parse_value`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from genlens.errors import ConfigError


def option(default: Any, help: str, *, flag: str | None = None, short: str | None = None, cli: bool = True,
           min: float | None = None, max: float | None = None) -> Any:  # noqa: A002 -- the words users read
    """A dataclass field with its help, flag (default ``--field-name``), short flag and numeric bounds.

    ``cli=False`` keeps a field out of the command line (objects, or settings only the Python API sets).
    """
    metadata = {"help": help, "flag": flag, "short": short, "cli": cli, "min": min, "max": max}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use an immutable default (a tuple, a frozenset) for a view option")
    return dataclasses.field(default=default, metadata=metadata)


def flag_of(field: dataclasses.Field) -> str:
    """The long flag of an option field: its ``flag`` metadata, else ``--`` + the name with dashes."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def cli_fields(options_type: type) -> list[dataclasses.Field]:
    """The fields of ``options_type`` that appear on the command line, in declaration order."""
    return [f for f in dataclasses.fields(options_type) if f.metadata.get("cli", True)]


def field_type(options_type: type, field: dataclasses.Field) -> tuple[type, bool, bool]:
    """``(scalar type, optional, sequence)`` of a field: ``int | None`` -> ``(int, True, False)``,
    ``tuple[str, ...]`` -> ``(str, False, True)``."""
    hint = typing.get_type_hints(options_type)[field.name]
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else str
        origin = typing.get_origin(hint)
    if origin in (tuple, Sequence, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return (args[0] if args else str), optional, True
    if origin is typing.Literal:
        return str, optional, False
    return (hint if hint in (int, float, str, bool) else str), optional, False


def parse_value(options_type: type, name: str, text: str, label: str | None = None) -> Any:
    """The value of option ``name`` written as ``text`` on the command line, by the field's type.

    ``label`` names the option in errors (default: its flag)."""
    fields = {f.name: f for f in dataclasses.fields(options_type)}
    if name not in fields:
        raise ConfigError(f"unknown option {name!r}; options: {sorted(fields)}")
    scalar, optional, sequence = field_type(options_type, fields[name])
    if optional and text.strip().lower() in ("", "none", "auto"):
        return None
    try:
        if sequence:
            return tuple(_scalar(scalar, part.strip()) for part in text.split(",") if part.strip())
        return _scalar(scalar, text.strip())
    except ValueError:
        kind = {int: "integer", float: "number", bool: "yes/no value", str: "text"}.get(scalar, scalar.__name__)
        what = f"comma-separated {kind}s, e.g. 20,40" if sequence else f"a {kind}"
        raise ConfigError(f"{label or flag_of(fields[name])} {text!r}: expected {what}") from None


def _scalar(kind: type, text: str) -> Any:
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    return kind(text)


def coerce(options_type: type, name: str, value: Any) -> Any:
    """A value given from Python, made to fit its field: ``"a,b"`` or a list for a tuple field, a
    mapping for a field of ``(key, value)`` pairs; anything else unchanged."""
    field = {f.name: f for f in dataclasses.fields(options_type)}[name]
    _, _, sequence = field_type(options_type, field)
    if not sequence or value is None:
        return value
    if isinstance(value, str):
        return parse_value(options_type, name, value)
    if isinstance(value, Mapping):
        return tuple(sorted(value.items()))
    return tuple(tuple(v) if isinstance(v, list) else v for v in value)


def parse_assignments(assignments: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["regions.clusters=8", "atlas.model=random-vgg16"]`` -> ``{view: {option: text}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in assignments:
        target, eq, value = item.partition("=")
        view, dot, name = target.strip().partition(".")
        if not eq or not dot or not view or not name:
            raise ConfigError(f"--set {item!r}: write view.option=value, e.g. --set regions.clusters=8")
        out.setdefault(view, {})[name.strip()] = value
    return out


def check_bounds(options: Any) -> None:
    """Refuse values outside a field's ``min``/``max``, naming the flag."""
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        low, high = field.metadata.get("min"), field.metadata.get("max")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"{'>= ' + str(low) if low is not None else ''}{' and ' if low is not None and high is not None else ''}" \
                         f"{'<= ' + str(high) if high is not None else ''}"
                raise ConfigError(f"{flag_of(field)} must be {bounds}, got {value}")
