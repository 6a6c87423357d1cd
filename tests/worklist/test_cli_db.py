"""``coupe db upgrade`` (the command lives in services; the schema is the worklist's)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import inspect
from typer.testing import CliRunner

from services.commands import db
from worklist.db import make_engine


def test_db_upgrade_creates_the_default_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COUPE_DATABASE_URL", raising=False)
    monkeypatch.setenv("COUPE_DATA_DIR", str(tmp_path / "data"))
    app = typer.Typer()
    db.register(app)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    database = tmp_path / "data" / "worklist.sqlite3"
    engine = make_engine(f"sqlite:///{database}")
    try:
        assert "pathology_case" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
