"""Alembic migrations of the worklist schema (driven from :mod:`worklist.migrate`)."""
