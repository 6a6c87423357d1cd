"""``coupe region import FILE.toml``: departments, pathologists, subspecialties, FTE, rosters.

The changes are listed first; they are applied after a confirmation (or ``--yes``), never with
``--dry-run``. Importing the same file again finds nothing to change and writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.commands.actor import command_actor
from services.commands.db import database_url_from_environment
from services.commands.failure import fail


def register(app: typer.Typer) -> None:
    """Add ``coupe region`` to ``app``."""
    region_app = typer.Typer(help="The region: departments and pathologists.", no_args_is_help=True)

    @region_app.command("import")
    def import_command(
        file: Annotated[
            Path, typer.Argument(help="Region file (TOML); see `coupe region example`.")
        ],
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Show the changes, apply none.")
        ] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    ) -> None:
        """Show what the file changes, then apply it in one audited transaction."""
        from sqlalchemy.exc import OperationalError, ProgrammingError

        from worklist.db import make_engine, read_session
        from worklist.errors import WorklistError
        from worklist.region import load_region
        from worklist.seeding import import_region, region_changes

        try:
            region = load_region(file)
        except WorklistError as exc:
            raise fail(str(exc)) from None
        engine = make_engine(database_url_from_environment(), pool_size=1)
        try:
            with read_session(engine) as session:
                changes = region_changes(session, region)
            if not changes:
                typer.echo(f"region {region.name!r}: nothing to change")
                return
            typer.echo(f"region {region.name!r}: {len(changes)} change(s)")
            for line in changes:
                typer.echo(f"  {line}")
            if dry_run:
                typer.echo("dry run: nothing applied")
                return
            if not yes and not typer.confirm("Apply these changes?", default=False):
                typer.echo("nothing applied")
                raise typer.Exit(code=1)
            summary = import_region(
                engine=engine, actor=command_actor("coupe-region"), region=region
            )
            typer.echo(f"applied {len(summary.changes)} change(s)")
        except (OperationalError, ProgrammingError) as exc:
            raise fail(f"database not ready ({exc.orig}); run `coupe db upgrade`") from None
        except WorklistError as exc:
            raise fail(str(exc)) from None
        finally:
            engine.dispose()

    @region_app.command("example")
    def example_command() -> None:
        """Print the packaged region file (six departments) to start your own from."""
        from worklist.region import default_region_path

        typer.echo(default_region_path().read_text(encoding="utf-8"), nl=False)

    app.add_typer(region_app, name="region")
