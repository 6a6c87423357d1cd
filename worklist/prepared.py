"""A SELECT compiled once and run many times: the hot read paths (the per-tile check).

SQLAlchemy finds a statement's compiled form in its cache by a key it computes on every
execution by walking the whole statement; for a statement with joins and correlated
subqueries that walk costs several times what SQLite takes to run the query. A
:class:`PreparedSelect` compiles once for its engine's dialect, keeps the SQL text and the
type processors of its parameters and columns (the documented ``bind_processor`` and
``result_processor`` of each type), and runs on the connection's DB-API cursor, outside any
explicit transaction: a single SELECT is atomic on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Engine, Select
from sqlalchemy.exc import DBAPIError

__all__ = ["PreparedSelect"]

Processor = Callable[[Any], Any] | None


class PreparedSelect:
    """``query`` compiled for ``engine``; :meth:`first` runs it with the named parameters."""

    def __init__(self, engine: Engine, query: Select[Any]) -> None:
        dialect = engine.dialect
        self._driver_error: type[Exception] = dialect.loaded_dbapi.Error
        compiled = query.compile(dialect=dialect)
        self._sql = compiled.string
        # The constants the query binds itself (a grant's kind); the rest are the caller's.
        self._defaults = {
            name: parameter.effective_value
            for name, parameter in compiled.binds.items()
            if not parameter.required
        }
        self._positions: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        )
        self._bind_processors: dict[str, Processor] = {
            name: parameter.type.dialect_impl(dialect).bind_processor(dialect)
            for name, parameter in compiled.binds.items()
        }
        self._columns: list[tuple[str, Processor]] = [
            (str(column.key), column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in query.selected_columns
        ]

    def first(self, connection: Connection, parameters: Mapping[str, Any]) -> Any | None:
        """The first row, its columns as attributes by label, or None."""
        values = {**self._defaults, **parameters}
        for name, process in self._bind_processors.items():
            if process is not None and name in values:
                values[name] = process(values[name])
        arguments: Any = (
            tuple(values[name] for name in self._positions)
            if self._positions is not None
            else values
        )
        # The DB-API cursor itself: no result object to build per row (22 columns of
        # metadata), no BEGIN; a driver error is raised as SQLAlchemy's, like any query's.
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self._sql, arguments)
            raw = cursor.fetchone()
        except self._driver_error as exc:
            raise DBAPIError.instance(self._sql, arguments, exc, self._driver_error) from exc
        finally:
            cursor.close()
        if raw is None:
            return None
        return SimpleNamespace(
            **{
                name: process(value) if process is not None else value
                for (name, process), value in zip(self._columns, raw, strict=True)
            }
        )
