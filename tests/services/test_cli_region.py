"""``coupe region import``: the changes listed first, applied on --yes or a confirmation, never
on --dry-run; a second import changes nothing; a bad file is one line and exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from services.cli import build_cli
from worklist.db import make_engine, read_session
from worklist.migrate import upgrade_database
from worklist.models import Absence, AuditEvent, Pathologist
from worklist.region import default_region_path

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'worklist.sqlite3'}"
    upgrade_database(url)
    monkeypatch.setenv("COUPE_DATABASE_URL", url)
    return url


def counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url, pool_size=1)
    with read_session(engine) as session:
        found = (
            session.scalar(select(func.count()).select_from(Pathologist)) or 0,
            session.scalar(select(func.count()).select_from(Absence)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )
    engine.dispose()
    return found


def test_dry_run_lists_the_changes_and_applies_none(database: str) -> None:
    result = runner.invoke(
        build_cli(), ["region", "import", str(default_region_path()), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "add department HMC" in result.output and "add pathologist HMC-01" in result.output
    assert "dry run: nothing applied" in result.output
    assert counts(database) == (0, 0, 0)


def test_declining_the_confirmation_applies_nothing(database: str) -> None:
    result = runner.invoke(
        build_cli(), ["region", "import", str(default_region_path())], input="n\n"
    )
    assert result.exit_code == 1
    assert "nothing applied" in result.output
    assert counts(database) == (0, 0, 0)


def test_import_then_again_changes_nothing_and_an_edit_shows_as_one_change(
    database: str, tmp_path: Path
) -> None:
    first = runner.invoke(build_cli(), ["region", "import", str(default_region_path()), "--yes"])
    assert first.exit_code == 0, first.output
    after_first = counts(database)
    assert after_first[0] > 0
    again = runner.invoke(build_cli(), ["region", "import", str(default_region_path()), "--yes"])
    assert again.exit_code == 0 and "nothing to change" in again.output
    assert counts(database) == after_first  # not even an audit record

    edited = tmp_path / "region.toml"
    text = default_region_path().read_text(encoding="utf-8")
    start = text.index('code = "HMC-01"')
    fte_at = text.index("fte = ", start)
    line_end = text.index("\n", fte_at)
    edited.write_text(text[:fte_at] + "fte = 0.7" + text[line_end:], encoding="utf-8")
    shown = runner.invoke(build_cli(), ["region", "import", str(edited)], input="y\n")
    assert shown.exit_code == 0, shown.output
    assert "1 change(s)" in shown.output and "change pathologist HMC-01: FTE" in shown.output


def test_a_bad_file_is_one_line_and_exit_1(database: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[region]\nname = "x"\n[[departments]]\ncode = "lower"\nname = "X"\n')
    result = runner.invoke(build_cli(), ["region", "import", str(bad), "--yes"])
    assert result.exit_code == 1
    assert "not an upper-case site code" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(build_cli(), ["region", "import", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 1 and "cannot read the region file" in missing.output
