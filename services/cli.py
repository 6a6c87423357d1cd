"""The ``coupe`` command line: one typer app, one module per command group."""

from __future__ import annotations

import logging
from importlib.metadata import version
from typing import Annotated

import typer

from services.commands import register_all


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"coupe {version('coupe')}")
        raise typer.Exit()


def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Coupe: regional digital pathology (tiling, worklist, backoffice)."""


def build_cli() -> typer.Typer:
    """Build the ``coupe`` typer app with every command registered."""
    app = typer.Typer(
        name="coupe",
        help="Coupe: regional digital pathology (tiling, worklist, backoffice).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_options)
    register_all(app)
    return app


def _quiet_libraries() -> None:
    """Keep the libraries' own log lines off the operator's terminal.

    tifffile logs what it makes of an odd file ("<tifffile.TiffPages @1275950> invalid page
    offset"); with no logging configured Python prints that to stderr. Coupe's commands say
    what went wrong in one line of their own, so those records go nowhere.
    """
    library_logger = logging.getLogger("tifffile")
    library_logger.addHandler(logging.NullHandler())
    library_logger.propagate = False


def main() -> None:
    """Entry point of the ``coupe`` console script."""
    _quiet_libraries()
    build_cli()()
