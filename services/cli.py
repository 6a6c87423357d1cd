"""The ``coupe`` command line: one typer app, one module per command group."""

from __future__ import annotations

import typer

from services.commands import register_all


def build_cli() -> typer.Typer:
    """Build the ``coupe`` typer app with every command registered."""
    app = typer.Typer(
        name="coupe",
        help="Coupe: regional digital pathology (tiling, worklist, backoffice).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    register_all(app)
    return app


def main() -> None:
    """Entry point of the ``coupe`` console script."""
    build_cli()()
