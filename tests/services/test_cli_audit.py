"""``coupe audit verify`` and ``coupe audit export``, run on a real database as an operator
would: an intact log, an edited record, a patient's accesses as CSV, and the mistakes."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from services.cli import build_cli
from services.commands.audit import EXPORT_COLUMNS
from tests.worklist.conftest import MANAGER, PATHOLOGIST, database_url  # noqa: F401 - fixture
from worklist.db import make_engine, read_session
from worklist.migrate import upgrade_database
from worklist.models import AuditEvent
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    intake_cases,
    record_access,
)
from worklist.region import default_region
from worklist.seeding import import_region

runner = CliRunner()
PATIENTS = ("PSN-0", "PSN-1")


@pytest.fixture
def engine(
    database_url: str,  # noqa: F811 - pytest's fixture injection
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engine]:
    """A migrated database with a case per patient, each opened; the CLI pointed at it."""
    monkeypatch.setenv("COUPE_DATABASE_URL", database_url)
    monkeypatch.setenv("COUPE_DATA_DIR", str(tmp_path / "data"))
    upgrade_database(database_url)
    engine = make_engine(database_url, pool_size=2)
    import_region(engine=engine, actor=MANAGER, region=default_region())
    slides = (SpecimenIntake("A", blocks=(BlockIntake("A1", (SlideIntake("H&E"),)),)),)
    states = intake_cases(
        engine=engine,
        actor=MANAGER,
        cases=[
            CaseIntake(
                department="HMC",
                patient_pseudonym=patient,
                tumour_group="gastro-intestinal",
                category=2,
                specimens=slides,
            )
            for patient in PATIENTS
        ],
    )
    emergency = replace(
        PATHOLOGIST, user_id="=HYPERLINK(1)", break_glass=True, purpose_of_use="emergency"
    )
    for state in states:
        record_access(engine=engine, actor=PATHOLOGIST, case_id=state.case_id)
    record_access(engine=engine, actor=emergency, case_id=states[0].case_id)
    yield engine
    engine.dispose()


def _records(engine: Engine, event_type: str | None = None) -> list[AuditEvent]:
    with read_session(engine) as session:
        query = select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.event_id)
        if event_type is not None:
            query = query.where(AuditEvent.event_type == event_type)
        return list(session.scalars(query))


def _drop_append_only_triggers(engine: Engine) -> None:
    """What someone with the database's owner rights could do."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
        else:
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
            connection.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_verify_passes_an_intact_log(engine: Engine) -> None:
    result = runner.invoke(build_cli(), ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output == f"audit log intact: {len(_records(engine))} records checked\n"


def test_verify_finds_an_edited_record(engine: Engine) -> None:
    assert runner.invoke(build_cli(), ["audit", "verify"]).exit_code == 0  # sealed now
    _drop_append_only_triggers(engine)
    edited = _records(engine, "case.open")[0]
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_event SET user_id = 'someone-else' WHERE event_id = :id"),
            {"id": edited.event_id},
        )
    result = runner.invoke(build_cli(), ["audit", "verify"])
    assert result.exit_code == 1
    assert result.stdout == f"edited: record {edited.seq} does not match its hash\n"
    assert "audit log broken: 1 problems" in result.stderr
    assert "Traceback" not in result.output


def test_verify_finds_a_deleted_record(engine: Engine) -> None:
    assert runner.invoke(build_cli(), ["audit", "verify"]).exit_code == 0
    _drop_append_only_triggers(engine)
    removed = _records(engine, "case.open")[0]
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM audit_event WHERE event_id = :id"), {"id": removed.event_id}
        )
    result = runner.invoke(build_cli(), ["audit", "verify"])
    assert result.exit_code == 1
    assert result.stdout and all(
        line.split(":")[0] in {"gap", "broken_link"} for line in result.stdout.splitlines()
    )


def _export(engine: Engine, *args: str) -> list[dict[str, str]]:
    result = runner.invoke(build_cli(), ["audit", "export", *args])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_export_lists_exactly_that_patients_accesses(engine: Engine, tmp_path: Path) -> None:
    target = tmp_path / "psn-0.csv"
    result = runner.invoke(
        build_cli(),
        ["audit", "export", "--patient", "PSN-0", "--format", "csv", "--output", str(target)],
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with target.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        assert tuple(next(reader)) == EXPORT_COLUMNS
        rows = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in reader]
    expected = [r for r in _records(engine) if r.patient_pseudonym == "PSN-0"]
    assert [(row["what"], row["who"]) for row in rows] == [
        (r.event_type, r.user_id.replace("=", "'=")) for r in expected
    ]
    [accession] = {r.accession_number for r in expected}
    assert {row["case"] for row in rows} == {accession}
    opened = [row for row in rows if row["what"] == "case.open"]
    assert [
        (row["who"], row["role"], row["department"], row["why"], row["break_glass"])
        for row in opened
    ] == [
        ("patholoog", "pathologist", "HMC", "treatment", "no"),
        ("'=HYPERLINK(1)", "pathologist", "HMC", "emergency", "yes"),  # not a formula
    ]
    assert all(row["action"] == "read" and row["outcome"] == "success" for row in opened)
    assert f"{len(rows)} records of patient PSN-0 written to" in result.stderr


def test_the_export_is_audited(engine: Engine) -> None:
    rows = _export(engine, "--patient", "PSN-1")
    [record] = _records(engine, "audit.export")
    assert (record.user_id, record.role, record.action, record.purpose_of_use) == (
        "coupe-audit",
        "system",
        "read",
        "quality",
    )
    assert record.on_behalf_of
    assert json.loads(record.detail) == {
        "filters": {"patient_pseudonym": "PSN-1"},
        "format": "csv",
        "records": len(rows),
        "to": "stdout",
    }
    # The export's own record is not one of the patient's accesses it lists.
    assert _export(engine, "--patient", "PSN-1") == rows


def test_an_unknown_patient_exports_the_header_alone(engine: Engine) -> None:
    assert _export(engine, "--patient", "PSN-404") == []


@pytest.mark.parametrize("where", ["folder", "missing-folder"])
def test_an_output_that_cannot_be_written_is_one_line_and_nothing_recorded(
    engine: Engine, tmp_path: Path, where: str
) -> None:
    target = tmp_path if where == "folder" else tmp_path / "nowhere" / "out.csv"
    result = runner.invoke(
        build_cli(), ["audit", "export", "--patient", "PSN-0", "--output", str(target)]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert _records(engine, "audit.export") == []


def test_an_unmigrated_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COUPE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    for command in (["audit", "verify"], ["audit", "export", "--patient", "PSN-0"]):
        result = runner.invoke(build_cli(), command)
        assert result.exit_code == 2, command
        assert "not migrated: run `coupe db upgrade` first" in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
