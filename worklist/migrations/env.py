"""Alembic environment, driven programmatically by :mod:`worklist.migrate`.

The caller passes an open connection in ``config.attributes["connection"]``; there is no
alembic.ini and no URL read from the environment here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from worklist.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run worklist migrations through worklist.migrate, which passes a connection"
    )
_run(connection)
