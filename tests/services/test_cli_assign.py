"""``coupe assign``, run as a lab manager would: dry run, apply, apply again, and the errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from services.cli import build_cli
from tests.worklist.conftest import MANAGER, database_url  # noqa: F401 - the fixture
from worklist.actor import Actor
from worklist.db import make_engine
from worklist.enums import Priority
from worklist.migrate import upgrade_database
from worklist.models import Assignment
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    intake_cases,
)
from worklist.region import default_region
from worklist.seeding import import_region

NOW = datetime(2025, 3, 12, 8, 0, tzinfo=UTC)  # a Wednesday
runner = CliRunner()


@pytest.fixture
def environment(
    database_url: str,  # noqa: F811 - pytest's fixture injection
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    monkeypatch.setenv("COUPE_DATABASE_URL", database_url)
    monkeypatch.setenv("COUPE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "240")  # rich folds long cells on a narrow console
    return database_url


def _seed(url: str) -> list[str]:
    upgrade_database(url)
    engine = make_engine(url, pool_size=2)
    try:
        import_region(engine=engine, actor=Actor.system(), region=default_region())
        slide = (SpecimenIntake("A", blocks=(BlockIntake("A1", (SlideIntake("H&E", "a.svs"),)),)),)
        requests = [
            CaseIntake(
                department="ALR",
                patient_pseudonym=f"PSN-{i}",
                tumour_group=group,
                category=2,
                priority=priority,
                received_at=NOW - timedelta(hours=3),
                specimens=slide,
            )
            for i, (group, priority) in enumerate(
                [
                    ("gastro-intestinal", Priority.ROUTINE),
                    ("gastro-intestinal", Priority.URGENT),
                    ("ophthalmic-pathology", Priority.ROUTINE),
                ]
            )
        ]
        states = intake_cases(engine=engine, actor=MANAGER, cases=requests, now=NOW)
        return [s.accession_number for s in states]
    finally:
        engine.dispose()


def _assignments(url: str) -> int:
    engine = make_engine(url, pool_size=1)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(Assignment)) or 0
    finally:
        engine.dispose()


def test_preview_then_apply_the_stored_round_then_nothing_left(environment: str) -> None:
    accessions = _seed(environment)
    now = ["--now", NOW.isoformat()]

    preview = runner.invoke(build_cli(), ["assign", *now])
    assert preview.exit_code == 0, preview.output
    assert "load per pathologist" in preview.output and "ALR" in preview.output
    assert "2 proposals (2 local, 0 regional" in preview.output and "1 unplaced" in preview.output
    assert "coupe assign --apply --round 1" in preview.output
    assert _assignments(environment) == 0

    details = runner.invoke(build_cli(), ["assign", "--dry-run", "--details", *now])
    assert details.exit_code == 0, details.output
    for accession in accessions:
        assert accession in details.output
    assert "local-capacity" in details.output and "stays at ALR" in details.output
    assert "Unplaced" in details.output
    assert _assignments(environment) == 0

    applied = runner.invoke(build_cli(), ["assign", "--apply", "--round", "1", *now])
    assert applied.exit_code == 0, applied.output
    assert "round 1 applied." in applied.output
    assert _assignments(environment) == 2

    stale = runner.invoke(build_cli(), ["assign", "--apply", "--round", "2", *now])
    assert stale.exit_code == 1 and "stale" in stale.output
    assert _assignments(environment) == 2

    again = runner.invoke(build_cli(), ["assign", "--apply", *now])
    assert again.exit_code == 0, again.output
    assert "0 proposals" in again.output and "1 unplaced" in again.output
    assert _assignments(environment) == 2


def test_json_and_csv_formats(environment: str) -> None:
    accessions = _seed(environment)
    now = ["--now", NOW.isoformat()]
    as_json = runner.invoke(build_cli(), ["assign", "--format", "json", *now])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    assert body["status"] == "previewed" and len(body["proposals"]) == 2
    assert {u["accession"] for u in body["unplaced"]} == {accessions[2]}
    as_csv = runner.invoke(build_cli(), ["assign", "--format", "csv", *now])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.reader(io.StringIO(as_csv.output)))
    assert rows[0][:3] == ["round", "proposal", "case"] and len(rows) == 3
    assert _assignments(environment) == 0
    bad = runner.invoke(build_cli(), ["assign", "--round", "1", *now])
    assert bad.exit_code == 1 and "--round needs --apply" in bad.output


def test_an_unmigrated_database_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COUPE_DATABASE_URL", raising=False)
    monkeypatch.setenv("COUPE_DATA_DIR", str(tmp_path / "empty"))
    result = runner.invoke(build_cli(), ["assign", "--dry-run"])
    assert result.exit_code == 1
    assert "coupe db upgrade" in result.output


def test_a_malformed_time_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUPE_DATA_DIR", str(tmp_path))
    result = runner.invoke(build_cli(), ["assign", "--now", "next tuesday"])
    assert result.exit_code == 2
    assert "ISO time" in result.output
