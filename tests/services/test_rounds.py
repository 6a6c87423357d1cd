"""Assignment rounds over HTTP: preview, approve some, apply; stale and bad requests refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.services.conftest import ServiceHarness
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import Role
from worklist.models import Assignment, AuditEvent, Pathologist
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    claim_case,
    intake_cases,
)

NOW = datetime(2025, 3, 12, 8, 0, tzinfo=UTC)  # a Wednesday morning
MANAGER = Actor(user_id="manager", role=Role.LAB_MANAGER)


def _cases(service: ServiceHarness, count: int) -> list[int]:
    slide = SlideIntake("H&E", "scans/a1.svs")
    requests = [
        CaseIntake(
            department="ALR",
            patient_pseudonym=f"PSN-ROUND-{i}",
            tumour_group="gastro-intestinal",
            category=2,
            received_at=NOW - timedelta(hours=2),
            specimens=(SpecimenIntake("A", blocks=(BlockIntake("A1", (slide,)),)),),
        )
        for i in range(count)
    ]
    states = intake_cases(engine=service.engine, actor=MANAGER, cases=requests, now=NOW)
    return [s.case_id for s in states]


def _active(service: ServiceHarness) -> set[tuple[int, str]]:
    with read_session(service.engine) as session:
        rows = session.execute(
            select(Assignment.case_id, Pathologist.code)
            .join(Pathologist, Pathologist.id == Assignment.pathologist_id)
            .where(Assignment.active)
        )
        return {(c, p) for c, p in rows}


def test_a_manager_previews_approves_part_and_applies(service: ServiceHarness) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="ALR")
    headers = service.headers("manager")
    _cases(service, 3)
    answer = service.client.post(
        "/assignment-rounds", json={"now": NOW.isoformat()}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "previewed" and len(body["proposals"]) == 3
    first = body["proposals"][0]
    assert first["rule"] and first["reason"] and first["accession"].startswith("ALR")
    assert first["placement"] == "local" and first["overloaded"] is False
    assert sum(row["proposals"] for row in body["load"]) == 3
    assert _active(service) == set()

    chosen = [body["proposals"][0], body["proposals"][2]]
    applied = service.client.post(
        f"/assignment-rounds/{body['id']}/apply",
        json={"proposal_ids": [p["id"] for p in chosen]},
        headers=headers,
    )
    assert applied.status_code == 200, applied.text
    assert [p["applied"] for p in applied.json()["proposals"]] == [True, False, True]
    assert _active(service) == {(p["case_id"], p["pathologist_code"]) for p in chosen}
    again = service.client.get(f"/assignment-rounds/{body['id']}", headers=headers)
    assert again.json()["status"] == "applied"
    twice = service.client.post(f"/assignment-rounds/{body['id']}/apply", json={}, headers=headers)
    assert twice.status_code == 409 and "already applied" in twice.json()["detail"]
    with read_session(service.engine) as session:
        events = set(session.execute(select(AuditEvent.event_type)).scalars())
    assert {"assignment_round.preview", "assignment_round.apply"} <= events


def test_a_stale_round_is_refused_with_what_changed(service: ServiceHarness) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="ALR")
    headers = service.headers("manager")
    [case_id] = _cases(service, 1)
    body = service.client.post(
        "/assignment-rounds", json={"now": NOW.isoformat()}, headers=headers
    ).json()
    with read_session(service.engine) as session:
        taker = session.execute(
            select(Pathologist.id).where(
                Pathologist.code == body["proposals"][0]["pathologist_code"]
            )
        ).scalar_one()
    claim_case(engine=service.engine, actor=MANAGER, case_id=case_id, pathologist_id=taker)
    refused = service.client.post(
        f"/assignment-rounds/{body['id']}/apply", json={}, headers=headers
    )
    assert refused.status_code == 409, refused.text
    answer = refused.json()
    assert answer["error"] == "stale_round"
    assert "stale" in answer["detail"] and body["proposals"][0]["accession"] in answer["detail"]
    # Each change on its own, for the desk to list, saying where the case is now.
    accession, name = body["proposals"][0]["accession"], body["proposals"][0]["assignee_name"]
    assert (
        f"case {accession} was assigned to {name} (now assigned) meanwhile" in (answer["changes"])
    )
    # Refused, nothing changed: the round can still be read as previewed.
    again = service.client.get(f"/assignment-rounds/{body['id']}", headers=headers).json()
    assert again["status"] == "previewed" and not any(p["applied"] for p in again["proposals"])


def test_pathologists_and_bad_ids_are_refused(service: ServiceHarness) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="ALR")
    service.add_user("path", Role.PATHOLOGIST, pathologist_code="ALR-01")
    _cases(service, 1)
    denied = service.client.post("/assignment-rounds", json={}, headers=service.headers("path"))
    assert denied.status_code == 403
    headers = service.headers("manager")
    body = service.client.post(
        "/assignment-rounds", json={"now": NOW.isoformat()}, headers=headers
    ).json()
    bad = service.client.post(
        f"/assignment-rounds/{body['id']}/apply", json={"proposal_ids": [123456]}, headers=headers
    )
    assert bad.status_code == 422
    assert service.client.get("/assignment-rounds/999", headers=headers).status_code == 404
    assert _active(service) == set()
