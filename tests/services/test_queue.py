"""The regional queue (GET /worklist/queue) and the moves a lab manager makes from it:
reassign with a required reason, the out-of-subspecialty confirmation on reassign and claim
(409 without it, marked in the audit with it); a hand assignment outside is marked; why a
case was left unplaced."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    Person,
    audit_events,
    make_case,
    manager,
    pathologist,
    post,
)
from worklist.db import read_session
from worklist.enums import Priority
from worklist.models import CaseMove


@pytest.fixture
def boss(service: ServiceHarness) -> Person:
    return manager(service)


def queue(service: ServiceHarness, who: Person, **params: str | int | bool) -> dict[str, object]:
    answer = service.client.get("/worklist/queue", params=params, headers=who.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def ids(page: dict[str, object]) -> list[int]:
    items = page["items"]
    assert isinstance(items, list)
    return [item["case"]["id"] for item in items]


def moves(service: ServiceHarness) -> int:
    with read_session(service.engine) as session:
        return session.scalar(select(func.count()).select_from(CaseMove)) or 0


def test_queue_filters_sorts_and_pages(service: ServiceHarness, boss: Person) -> None:
    gi = make_case(service, "HMC", tumour_group="gastro-intestinal")
    urgent = make_case(service, "LUMC", tumour_group="lung", priority=Priority.URGENT)
    held = make_case(service, "HMC", tumour_group="urology")
    mulder = pathologist(service, "HMC-01")
    assert post(service, f"/cases/{held}/claim", mulder).status_code == 200

    everything = queue(service, boss)
    assert set(ids(everything)) >= {gi, urgent, held}
    assert ids(everything)[0] == urgent  # most urgent first by default
    item = next(i for i in everything["items"] if i["case"]["id"] == held)  # type: ignore[attr-defined]
    assert item["case"]["primary_pathologist_code"] == "HMC-01"
    assert item["overdue"] is False and item["unplaced_reason"] is None

    assert ids(queue(service, boss, tumour_group="lung")) == [urgent]
    assert ids(queue(service, boss, department_code="HMC", unassigned_only=True)) == [gi]
    assert ids(queue(service, boss, holder="HMC-01")) == [held]
    newest_first = queue(service, boss, sort="accession", descending=True)["items"]
    accessions = [i["case"]["accession_number"] for i in newest_first]  # type: ignore[attr-defined]
    assert accessions == sorted(accessions, reverse=True) and len(accessions) == 3

    first = queue(service, boss, sort="tumour_group", limit=2)
    assert first["total"] == 3 and len(ids(first)) == 2 and first["next"]
    rest = queue(service, boss, sort="tumour_group", limit=2, cursor=str(first["next"]))
    assert len(ids(rest)) == 1 and not set(ids(rest)) & set(ids(first))
    groups = [
        i["case"]["tumour_group"]
        for i in [*first["items"], *rest["items"]]  # type: ignore[misc]
    ]
    assert groups == sorted(groups)


def test_overdue_is_flagged_and_filtered(service: ServiceHarness, boss: Person) -> None:
    late = make_case(service, "HMC")
    make_case(service, "HMC")
    with service.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE pathology_case SET due_at = '2020-01-01 00:00:00.000000' WHERE id = ?",
            (late,),
        )
    page = queue(service, boss, overdue_only=True)
    assert ids(page) == [late]
    assert page["items"][0]["overdue"] is True  # type: ignore[index]


def test_only_managers_see_the_queue(service: ServiceHarness) -> None:
    mulder = pathologist(service, "HMC-01")
    answer = service.client.get("/worklist/queue", headers=mulder.headers)
    assert answer.status_code == 403
    assert service.client.get("/worklist/queue").status_code == 401
    bad = service.client.get("/worklist/queue", params={"sort": "nonsense"}, headers=mulder.headers)
    assert bad.status_code in (403, 422)


def test_reassign_needs_a_reason_and_keeps_it(service: ServiceHarness, boss: Person) -> None:
    case_id = make_case(service, "HMC", tumour_group="gastro-intestinal")
    mulder = pathologist(service, "HMC-01")
    assert post(service, f"/cases/{case_id}/claim", mulder).status_code == 200
    missing = post(service, f"/cases/{case_id}/reassign", boss, {"pathologist_code": "HMC-03"})
    assert missing.status_code == 422
    blank = post(
        service, f"/cases/{case_id}/reassign", boss, {"pathologist_code": "HMC-03", "reason": ""}
    )
    assert blank.status_code == 422
    assert moves(service) == 0
    moved = post(
        service,
        f"/cases/{case_id}/reassign",
        boss,
        {"pathologist_code": "HMC-03", "reason": "HMC-01 on leave from Monday"},
    )
    assert moved.status_code == 200, moved.text
    with read_session(service.engine) as session:
        move = session.scalars(select(CaseMove)).one()
        assert (move.reason, move.outside_subspecialty) == ("HMC-01 on leave from Monday", False)
    detail = json.loads(audit_events(service, "case.reassign")[-1].detail)
    assert detail["reason"] == "HMC-01 on leave from Monday"
    assert detail["outside_subspecialty"] is False


def test_reassign_outside_subspecialty_needs_confirmation(
    service: ServiceHarness, boss: Person
) -> None:
    case_id = make_case(service, "HMC", tumour_group="gastro-intestinal")
    mulder = pathologist(service, "HMC-01")
    assert post(service, f"/cases/{case_id}/claim", mulder).status_code == 200
    body = {"pathologist_code": "HMC-02", "reason": "only one free today"}  # derm, cytology
    refused = post(service, f"/cases/{case_id}/reassign", boss, body)
    assert refused.status_code == 409
    assert "outside the subspecialties of HMC-02" in refused.json()["detail"]
    assert "confirm_outside_subspecialty" in refused.json()["detail"]
    assert moves(service) == 0
    holder = queue(service, boss, holder="HMC-01")
    assert ids(holder) == [case_id]  # nothing changed

    confirmed = post(
        service,
        f"/cases/{case_id}/reassign",
        boss,
        {**body, "confirm_outside_subspecialty": True},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["pathologist_code"] == "HMC-02"
    detail = json.loads(audit_events(service, "case.reassign")[-1].detail)
    assert detail["outside_subspecialty"] is True


def test_assign_and_claim_outside_subspecialty(service: ServiceHarness, boss: Person) -> None:
    skin = make_case(service, "HMC", tumour_group="dermatopathology")
    body = {"pathologist_code": "HMC-01", "reason": "backlog in dermatopathology"}
    assigned = post(service, f"/cases/{skin}/assign", boss, body)  # urology, gastro-intestinal
    assert assigned.status_code == 200, assigned.text
    detail = json.loads(audit_events(service, "case.assign.primary")[-1].detail)
    assert detail == {
        "pathologist": "HMC-01",
        "rule": "manual",
        "reason": "backlog in dermatopathology",
        "outside_subspecialty": True,
    }
    assert moves(service) == 1

    other = make_case(service, "HMC", tumour_group="dermatopathology")
    mulder = pathologist(service, "HMC-01")
    no = post(service, f"/cases/{other}/claim", mulder, {})
    assert no.status_code == 409 and "subspecialties" in no.json()["detail"]
    yes = post(service, f"/cases/{other}/claim", mulder, {"confirm_outside_subspecialty": True})
    assert yes.status_code == 200, yes.text
    detail = json.loads(audit_events(service, "case.claim")[-1].detail)
    assert detail["outside_subspecialty"] is True


def test_an_unplaced_case_says_why(service: ServiceHarness, boss: Person) -> None:
    """A case no pathologist's subspecialties cover, left unplaced by an assignment round:
    the queue gives the round's reason."""
    from datetime import UTC, datetime

    from worklist.actor import Actor
    from worklist.enums import Role
    from worklist.rounds import plan_round, unplaced_reasons

    nobody = make_case(service, "HMC", tumour_group="ophthalmic-pathology")
    placed = make_case(service, "HMC", tumour_group="gastro-intestinal")
    before = queue(service, boss, unassigned_only=True)["items"]
    assert all(i["unplaced_reason"] is None for i in before)  # type: ignore[attr-defined]
    actor = Actor(user_id="manager", role=Role.LAB_MANAGER, purpose_of_use="operations")
    plan_round(engine=service.engine, actor=actor, now=datetime.now(UTC))
    with read_session(service.engine) as session:
        reasons = unplaced_reasons(session, [nobody, placed])
    assert reasons.get(nobody), reasons
    page = queue(service, boss, unassigned_only=True)
    shown = {i["case"]["id"]: i["unplaced_reason"] for i in page["items"]}  # type: ignore[attr-defined]
    assert shown[nobody] == reasons[nobody]
    assert shown[placed] == reasons.get(placed)  # proposed, not applied: no reason
