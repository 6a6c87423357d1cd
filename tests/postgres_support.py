"""PostgreSQL for the tests: a schema or a database of a test's own on the server named by
``COUPE_TEST_DATABASE_URL``, dropped afterwards.

Without that variable (or with the server unreachable) the test skips, saying why; with
``CI=true`` it fails instead: CI must run the PostgreSQL tests, not skip them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

PG_ENV = "COUPE_TEST_DATABASE_URL"


def postgres_unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason``; with ``CI=true`` fail it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and PostgreSQL is required: {reason}")
    pytest.skip(reason)


def _base_url() -> str:
    base = os.environ.get(PG_ENV)
    if not base:
        postgres_unavailable(f"{PG_ENV} is not set; PostgreSQL tests skipped")
    return base


@contextmanager
def postgres_schema(prefix: str = "coupe_test") -> Iterator[str]:
    """The URL of a new, empty schema (the connection's ``search_path``), dropped afterwards."""
    base = _base_url()
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        except OperationalError as exc:
            postgres_unavailable(
                f"PostgreSQL at {make_url(base).render_as_string()} unreachable: {exc}"
            )
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@contextmanager
def postgres_database(prefix: str = "coupe_test") -> Iterator[str]:
    """The URL of a new, empty database (for what needs a whole one: a restore), dropped
    afterwards even while connections to it remain."""
    base = _base_url()
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as exc:
            postgres_unavailable(
                f"PostgreSQL at {make_url(base).render_as_string()} unreachable: {exc}"
            )
        try:
            yield make_url(base).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
