"""``coupe admin create-user``: the password from stdin or a hidden prompt (never an argument),
the policy applied, clear one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from services.cli import build_cli
from services.security import verify_password
from worklist.db import make_engine, read_session
from worklist.enums import Role
from worklist.migrate import upgrade_database
from worklist.models import UserAccount

runner = CliRunner()
STRONG = "lantaarnpaal-gieter-97"
CREATE = ["admin", "create-user", "--username", "ops", "--display-name", "Ops Admin"]


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'worklist.sqlite3'}"
    upgrade_database(url)
    monkeypatch.setenv("COUPE_DATABASE_URL", url)
    return url


def accounts(url: str) -> list[UserAccount]:
    engine = make_engine(url, pool_size=1)
    with read_session(engine) as session:
        found = list(session.scalars(select(UserAccount)))
    engine.dispose()
    return found


def test_the_first_admin_from_stdin(database: str) -> None:
    result = runner.invoke(build_cli(), [*CREATE, "--password-stdin"], input=STRONG + "\n")
    assert result.exit_code == 0, result.output
    assert "created admin ops" in result.output
    [account] = accounts(database)
    assert account.role == Role.ADMIN and verify_password(account.password_hash, STRONG)


def test_the_prompt_asks_twice_and_hides_the_password(database: str) -> None:
    result = runner.invoke(build_cli(), CREATE, input=f"{STRONG}\n{STRONG}\n")
    assert result.exit_code == 0, result.output
    assert STRONG not in result.output
    assert len(accounts(database)) == 1


def test_refusals_are_one_line_and_create_nothing(database: str) -> None:
    weak = runner.invoke(build_cli(), [*CREATE, "--password-stdin"], input="short\n")
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    role = runner.invoke(build_cli(), [*CREATE, "--role", "king", "--password-stdin"], input=STRONG)
    assert role.exit_code == 1 and "unknown role" in role.output
    assert "Traceback" not in weak.output + role.output
    assert accounts(database) == []
    runner.invoke(build_cli(), [*CREATE, "--password-stdin"], input=STRONG + "\n")
    twice = runner.invoke(build_cli(), [*CREATE, "--password-stdin"], input=STRONG + "\n")
    assert twice.exit_code == 1 and "error:" in twice.output
    assert len(accounts(database)) == 1


def test_there_is_no_password_argument() -> None:
    result = runner.invoke(build_cli(), [*CREATE, "--password", STRONG])
    assert result.exit_code != 0
