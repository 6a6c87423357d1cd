"""Schema migrations: bring a database to the current schema, or compare it with the models."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from worklist.db import make_engine
from worklist.models import Base


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations (no alembic.ini on disk)."""
    config = Config()
    config.set_main_option("script_location", "worklist:migrations")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def upgrade_database(url: str) -> None:
    """Upgrade the database at ``url`` to the newest schema (idempotent)."""
    engine = make_engine(url, pool_size=1)
    try:
        upgrade_engine(engine)
    finally:
        engine.dispose()


def is_up_to_date(engine: Engine) -> bool:
    """Whether the database behind ``engine`` is at the newest migration (False when empty)."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


def schema_differences(engine: Engine) -> list[Any]:
    """What Alembic autogenerate finds between the database and the models (empty: in sync)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))
