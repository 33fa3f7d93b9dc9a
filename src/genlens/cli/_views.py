"""Command-line flags built from a view's ``Options``: the one source of every view's defaults and help.

:func:`option_parameters` turns the fields of an ``Options`` dataclass into typer options (flag, short
flag, help, bounds, default); :func:`build_command` registers a command whose signature is made of
such parameters; :func:`view_command` gives every registered view that has no hand-written command
its own ``genlens <view> REAL FAKE`` command, so a plugin's view is on the command line without any
CLI code of its own.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

import typer

from genlens.views.options import cli_fields, field_type, flag_of, parse_value

_KW = inspect.Parameter.KEYWORD_ONLY


def option_parameters(options_type: type, exclude: Sequence[str] = (), prefix: str = "") -> list[inspect.Parameter]:
    """One typer option per command-line field of ``options_type`` (``prefix`` names the Python parameters)."""
    params = []
    for field in cli_fields(options_type):
        if field.name in exclude:
            continue
        scalar, optional, sequence = field_type(options_type, field)
        default = field.default
        if sequence:
            annotation: Any = Optional[str]
            default = None if default is None else ",".join(str(v) for v in default)
        elif scalar is bool:
            annotation = bool
        else:
            annotation = Optional[scalar] if optional or default is None else scalar
        flag = flag_of(field)
        decls = [f"{flag}/--no-{flag[2:]}" if scalar is bool and not sequence else flag]
        if field.metadata.get("short"):
            decls.append(field.metadata["short"])
        bounds = {k: field.metadata[k] for k in ("min", "max")
                  if field.metadata.get(k) is not None and scalar in (int, float) and not sequence}
        if scalar is int:
            bounds = {k: int(v) for k, v in bounds.items()}
        option = typer.Option(default, *decls, help=field.metadata.get("help", ""), show_default=default is not None,
                              **bounds)
        params.append(inspect.Parameter(prefix + field.name, _KW, default=option, annotation=annotation))
    return params


def options_from(view: Any, values: dict[str, Any], prefix: str = "", **overrides: Any) -> Any:
    """The view's ``Options`` from parsed command-line ``values`` (comma lists back to tuples)."""
    given: dict[str, Any] = {}
    for field in cli_fields(view.Options):
        key = prefix + field.name
        if key not in values:
            continue
        value = values[key]
        _, _, sequence = field_type(view.Options, field)
        if sequence and isinstance(value, str):
            value = parse_value(view.Options, field.name, value)
        given[field.name] = value
    return view.options({**given, **overrides})


def build_command(app: typer.Typer, name: str, params: list[inspect.Parameter], body: Callable[[dict[str, Any]], None],
                  help: str) -> Callable[..., None]:  # noqa: A002 -- typer's word
    """Register command ``name`` whose parameters are ``params``; ``body`` receives them as a dict."""

    def command(**kwargs: Any) -> None:
        body(kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__name__ = f"{name.replace('-', '_')}_command"
    command.__doc__ = help
    app.command(name)(command)
    return command


REAL_HELP = "Real images: a folder, a .npy/.npz array, or a zoo spec ('zoo:real?n=500')."
FAKE_HELP = "Generated images, in any form REAL accepts."
DEVICE_HELP = "Where networks and kernels run: auto (GPU when present), cpu, cuda, cuda:1, ..."
ALPHA_HELP = ("False-alarm budget: the chance that a generator as good as the real data gets any significant "
              "finding (split over the views and their families of tests; see docs/report.md).")
#: genlens.budget.DEFAULT_ALPHA, without importing numpy for --help.
DEFAULT_ALPHA = 0.01


def alpha_parameter() -> inspect.Parameter:
    """``--alpha``: the false-alarm budget of a command's findings."""
    return inspect.Parameter("alpha", _KW, annotation=float, default=typer.Option(
        DEFAULT_ALPHA, "--alpha", help=ALPHA_HELP))  # checked by genlens.budget.check_alpha


def inputs() -> list[inspect.Parameter]:
    """The ``REAL FAKE`` arguments of a view command."""
    pos = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return [inspect.Parameter("real", pos, annotation=str, default=typer.Argument(..., help=REAL_HELP, show_default=False)),
            inspect.Parameter("fake", pos, annotation=str, default=typer.Argument(..., help=FAKE_HELP, show_default=False))]


def outputs(out_help: str = "Write a report (HTML, results.json, figures) into this folder.",
            seed_help: str = "Seed of the bootstrap resamples and random splits.") -> list[inspect.Parameter]:
    """``--json``, ``--out``, ``--seed`` and ``--device``: what every view command ends with."""
    return [
        inspect.Parameter("json_out", _KW, annotation=Optional[Path], default=typer.Option(
            None, "--json", help="Write the results as JSON here.", show_default=False)),
        inspect.Parameter("out", _KW, annotation=Optional[Path], default=typer.Option(
            None, "--out", help=out_help, show_default=False)),
        inspect.Parameter("seed", _KW, annotation=int, default=typer.Option(0, "--seed", help=seed_help)),
        inspect.Parameter("device", _KW, annotation=str, default=typer.Option("auto", "--device", help=DEVICE_HELP)),
        alpha_parameter(),
    ]


def input_parameters() -> list[inspect.Parameter]:
    """``REAL FAKE``, ``--json``/``--out``/``--seed``/``--device`` and ``--cache-dir``."""
    from genlens.cli.metrics import CACHE_HELP

    return [*inputs(), *outputs(), inspect.Parameter("cache_dir", _KW, annotation=Optional[Path], default=typer.Option(
        None, "--cache-dir", help=CACHE_HELP, show_default=False))]


def view_command(app: typer.Typer, view: Any) -> None:
    """``genlens <view> REAL FAKE [its options] --json OUT --out DIR``: fit on REAL, compare FAKE."""

    def body(values: dict[str, Any]) -> None:
        from genlens._device import resolve_device
        from genlens._json import json_safe, write_json
        from genlens.budget import check_alpha
        from genlens.cli._common import console, err_console
        from genlens.io import open_source
        from genlens.report import check_out_dir, write_report
        from genlens.views import RunContext

        options = options_from(view, values)
        real, fake = open_source(values["real"]), open_source(values["fake"])
        if values["out"] is not None:
            check_out_dir(values["out"], [values["real"], values["fake"]])
        device = str(resolve_device(None if values["device"] == "auto" else values["device"]))
        ctx = RunContext(device=device, cache_dir=values["cache_dir"], seed=values["seed"], out_dir=values["out"],
                         alpha=check_alpha(values["alpha"]))
        reason = view.applies(real, fake, options)
        if reason is not None:
            from genlens.errors import ConfigError

            raise ConfigError(f"the {view.key} view does not apply: {reason}")
        section = view.section(view.fit(real, options, ctx), fake, ctx)
        if values["json_out"] is not None:
            write_json(values["json_out"], json_safe(section.data))
            err_console.print(f"wrote {values['json_out']}")
        if values["out"] is not None:
            html = write_report([section], values["out"], title=f"genlens {view.key}",
                                inputs={"real": real.describe(), "fake": fake.describe()}, alpha=ctx.alpha)
            err_console.print(f"wrote {html}")
        console.print(section.summary, markup=False, highlight=False)

    params = input_parameters()
    params[2:2] = option_parameters(view.Options)
    build_command(app, view.key, params, body, f"{view.title}: fit on REAL, compare FAKE (options: {view.key}'s "
                  f"Options). Example: genlens {view.key} data/real/ samples/ --out {view.key}/")


def options_help(options_type: type) -> str:
    """``name=default`` of every field, for help texts that list a view's settings."""
    return ", ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(options_type))
