"""The ``genlens`` command line.

Each module in this package registers its commands on :data:`app` when imported; ``main`` imports
them all (heavy libraries are imported inside the command functions, so ``--help`` stays fast) and
turns a :class:`~genlens.errors.GenlensError` into one clear line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from genlens.errors import GenlensError

app = typer.Typer(
    name="genlens",
    help=(
        "Diagnostics for image generators: standard metrics (FID, KID, IS, PRDC, MMD, CMS) and four "
        "views of *where* a generator fails -- regions, semantics, latent manifold, activation atlas."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

#: Commands appear in ``genlens --help`` in this order of modules; unlisted modules come after.
MODULE_ORDER = ("metrics", "report", "demo", "regions", "semantics", "manifold", "atlas", "track")


def _register_commands() -> None:
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    names.sort(key=lambda n: (MODULE_ORDER.index(n) if n in MODULE_ORDER else len(MODULE_ORDER), n))
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    _register_view_commands()


def _register_view_commands() -> None:
    """A ``genlens <view>`` command for every registered view that has no hand-written one (plugins)."""
    from genlens.cli._views import view_command
    from genlens.views import views

    taken = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    for view in views():
        if view.key not in taken:
            view_command(app, view)


def main() -> None:
    """Console-script entry point (under ``torchrun``, one rank of the job: see :mod:`genlens.distributed`)."""
    from genlens import distributed

    if distributed.launched():
        distributed.run_command(_main)
    else:
        _main()


def _main() -> None:
    _register_commands()
    try:
        app()
    except GenlensError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
