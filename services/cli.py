"""The ``coupe`` command line: one typer app, one module per command group."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Iterable
from typing import Annotated

import typer
from typer._click import Command, Context, Parameter  # typer's own copy of click's classes
from typer.core import TyperGroup, TyperOption

from services.commands import register_all


class CoupeGroup(TyperGroup):
    """The ``coupe`` command group, with flags that read as flags in ``--help``.

    typer labels every option with its value type, flags too (``--archive <bool>``), though
    a flag takes no value. Here flags get an empty label, in every command below the group.
    """

    def get_params(self, ctx: Context) -> list[Parameter]:
        """This group's parameters, flags unlabelled."""
        return _unlabel_flags(super().get_params(ctx))

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The subcommand ``cmd_name``, its flags (and its subcommands' flags) unlabelled."""
        command = super().get_command(ctx, cmd_name)
        pending = [command] if command is not None else []
        while pending:
            current = pending.pop()
            _unlabel_flags(current.get_params(ctx))
            pending.extend(getattr(current, "commands", {}).values())
        return command


def _unlabel_flags(params: Iterable[Parameter]) -> list[Parameter]:
    params = list(params)
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


def _echo_version() -> None:
    # Imported here: importlib.metadata costs every other command ~30 ms of start-up.
    from importlib.metadata import version

    typer.echo(f"coupe {version('coupe')}")


def _print_version(value: bool) -> None:
    if value:
        _echo_version()
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


def build_cli(command: str | None = None) -> typer.Typer:
    """Build the ``coupe`` typer app with every command registered, or, for ``command`` (the
    top-level command about to run), only the command group that defines it."""
    app = typer.Typer(
        name="coupe",
        help="Coupe: regional digital pathology (tiling, worklist, backoffice).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=CoupeGroup,
    )
    app.callback()(_options)
    register_all(app, only=command)
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


def _one_blas_thread() -> None:
    """OpenBLAS starts a thread per core when numpy is imported; Coupe does no large linear
    algebra, and those threads spin while the tiling or the requests keep the cores busy
    (3.9% of a ``coupe tile`` run's CPU; the forecasts' small fits ran faster with one
    thread: ``benchmarks/results/forecast_accuracy.md``). An operator's own setting wins."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    """Entry point of the ``coupe`` console script."""
    _quiet_libraries()
    _one_blas_thread()
    # The first argument that is no option names the command: build only its group, so a
    # command does not pay for importing every other one (`--help` and mistakes get them all).
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if command is None and "--version" in sys.argv[1:]:
        # Without a command every group would be built (1.8 s of imports) to print one line.
        _echo_version()
        return
    app = build_cli(command)
    # What importing made lives as long as the process: the collector need not go through it
    # again in every full collection (2% of a ``coupe tile`` run went to collections).
    gc.freeze()
    app()
