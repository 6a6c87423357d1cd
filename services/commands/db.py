"""``coupe db ...``: database maintenance."""

from __future__ import annotations

import os
from pathlib import Path

import typer

DATABASE_URL_ENV = "COUPE_DATABASE_URL"
DATA_DIR_ENV = "COUPE_DATA_DIR"


def database_url_from_environment() -> str:
    """``COUPE_DATABASE_URL``, else the SQLite file in ``COUPE_DATA_DIR`` (default ``./.coupe``)."""
    from worklist.db import default_database_url

    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    return default_database_url(Path(os.environ.get(DATA_DIR_ENV) or ".coupe"))


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group to ``app``."""
    db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)

    @db_app.command("upgrade")
    def upgrade() -> None:
        """Create or upgrade the worklist schema to the newest version."""
        from sqlalchemy.engine import make_url

        from worklist.migrate import upgrade_database

        url = database_url_from_environment()
        upgrade_database(url)
        typer.echo(f"database {make_url(url).render_as_string()} is up to date")

    app.add_typer(db_app, name="db")
