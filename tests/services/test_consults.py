"""Consults and second opinions, consult grants, break-the-glass and its audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.access import ViewLog, open_slide
from services.deps import load_user
from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    Person,
    audit_events,
    first_slide,
    make_case,
    manager,
    pathologist,
    post,
)
from worklist.accounts import grant_case_access
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import AuditOutcome, GrantKind, Role


@pytest.fixture
def boss(service: ServiceHarness) -> Person:
    return manager(service)


@pytest.fixture
def mulder(service: ServiceHarness) -> Person:
    return pathologist(service, "HMC-01")


@pytest.fixture
def bouali(service: ServiceHarness) -> Person:
    """LUMC-01, at another site."""
    return pathologist(service, "LUMC-01")


def in_review(service: ServiceHarness, holder: Person, department: str = "HMC") -> int:
    case_id = make_case(service, department)
    assert post(service, f"/cases/{case_id}/claim", holder).status_code == 200
    assert post(service, f"/cases/{case_id}/start-review", holder).status_code == 200
    return case_id


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assigned(service: ServiceHarness, holder: Person, department: str = "HMC") -> int:
    case_id = make_case(service, department)
    assert post(service, f"/cases/{case_id}/claim", holder).status_code == 200
    return case_id


def test_a_consult_from_question_to_answer(
    service: ServiceHarness, mulder: Person, bouali: Person
) -> None:
    case_id = assigned(service, mulder)  # no start-review: asking starts the review
    assert service.client.get(f"/cases/{case_id}", headers=bouali.headers).status_code == 403
    question = "Dysplasia?\nSee A1. <img src=x onerror=alert(1)>"
    asked = post(
        service,
        f"/cases/{case_id}/consults",
        mulder,
        {"pathologist_code": bouali.pathologist_code, "question": question, "access_days": 7},
    )
    assert asked.status_code == 201, asked.text
    body = asked.json()
    assert body["assignment"]["kind"] == "consult"
    assert body["assignment"]["rule"] == "requested"
    assert body["assignment"]["case"]["status"] == "consult_pending"
    grant = body["grant"]
    assert (grant["kind"], grant["user_id"], grant["granted_by"]) == (
        "consult",
        bouali.user_id,
        "hmc-01",
    )
    lasts = parse_time(grant["expires_at"]) - parse_time(grant["granted_at"])
    assert lasts == timedelta(days=7)
    [request] = audit_events(service, "case.consult.request")
    assert '"review_started":true' in request.detail

    assert service.client.get(f"/cases/{case_id}", headers=bouali.headers).status_code == 200
    mine = service.client.get("/worklist/mine", headers=bouali.headers).json()
    assert [(i["case"]["id"], i["kind"]) for i in mine["items"]] == [(case_id, "consult")]
    assert mine["items"][0]["case"]["primary_pathologist_code"] == "HMC-01"
    primary_only = service.client.get("/worklist/mine?kind=primary", headers=bouali.headers)
    assert primary_only.json()["items"] == []
    asked_of_me = service.client.get("/worklist/consults", headers=bouali.headers).json()
    [waiting] = asked_of_me["items"]
    assert (waiting["case_id"], waiting["case"]["id"], waiting["question"]) == (
        case_id,
        case_id,
        question,
    )
    assert waiting["case"]["status"] == "consult_pending"
    assert service.client.get("/worklist/consults", headers=mulder.headers).json()["items"] == []
    consults = service.client.get(f"/cases/{case_id}/consults", headers=bouali.headers).json()
    [item] = consults["items"]
    assert item == {
        **{key: item[key] for key in ("assignment_id", "requested_at")},
        "case_id": case_id,
        "accession_number": waiting["accession_number"],
        "kind": "consult",
        "status": "open",
        "question": question,
        "answer": None,
        "answered_at": None,
        "requested_by": {"pathologist_code": "HMC-01", "name": "dr. F. Mulder"},
        "consultant": {
            "pathologist_code": "LUMC-01",
            "name": item["consultant"]["name"],
            "department_code": "LUMC",
        },
    }
    assert body["assignment"]["pathologist_code"] == "LUMC-01"

    answered = post(
        service, f"/cases/{case_id}/consults/answer", bouali, {"answer": "Low-grade dysplasia."}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["case"]["status"] == "in_review"
    [item] = service.client.get(f"/cases/{case_id}/consults", headers=mulder.headers).json()[
        "items"
    ]
    assert (item["status"], item["question"], item["answer"]) == (
        "answered",
        question,
        "Low-grade dysplasia.",
    )
    assert item["answered_at"] is not None
    assert service.client.get("/worklist/consults", headers=bouali.headers).json()["items"] == []
    # The question and the answer live on the consult, not twice over in the comments.
    comments = service.client.get(f"/cases/{case_id}/comments", headers=mulder.headers).json()
    assert comments["items"] == []
    # The grant outlives the consult: the consultant can look back at the case.
    assert service.client.get(f"/cases/{case_id}", headers=bouali.headers).status_code == 200
    saved = service.client.put(
        f"/cases/{case_id}/report",
        json={"conclusion": "Low-grade dysplasia."},
        headers=mulder.headers,
    )
    assert saved.status_code == 200, saved.text
    assert post(service, f"/cases/{case_id}/sign-out", mulder).status_code == 200
    assert len(audit_events(service, "case.grant.consult")) == 1


def test_a_consult_on_a_signed_out_case_says_it_is_signed_out(
    service: ServiceHarness, mulder: Person, bouali: Person
) -> None:
    case_id = assigned(service, mulder)
    service.client.put(f"/cases/{case_id}/report", json={"conclusion": "x"}, headers=mulder.headers)
    assert post(service, f"/cases/{case_id}/sign-out", mulder).status_code == 200
    ask = {"pathologist_code": bouali.pathologist_code, "question": "Agree?"}
    refused = post(service, f"/cases/{case_id}/consults", mulder, ask)
    assert refused.status_code == 409
    assert refused.json()["detail"].endswith("is signed out; add an addendum instead")


def test_a_second_opinion_for_a_colleague_without_an_account(
    service: ServiceHarness, mulder: Person
) -> None:
    case_id = in_review(service, mulder)
    colleague = service.client.get("/pathologists/LUMC-02", headers=mulder.headers).json()
    asked = post(
        service,
        f"/cases/{case_id}/consults",
        mulder,
        {"pathologist_code": colleague["code"], "question": "Agree?", "kind": "second_opinion"},
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["assignment"]["kind"] == "second_opinion"
    assert asked.json()["grant"] is None
    blocked = post(service, f"/cases/{case_id}/sign-out", mulder)
    assert blocked.status_code == 409
    assert "consult_pending" in blocked.json()["detail"]


def test_consult_refusals(
    service: ServiceHarness, mulder: Person, bouali: Person, boss: Person
) -> None:
    case_id = in_review(service, mulder)
    other = pathologist(service, "HMC-03")
    ask = {"pathologist_code": bouali.pathologist_code, "question": "?"}
    assert post(service, f"/cases/{case_id}/consults", other, ask).status_code == 409
    assert post(service, f"/cases/{case_id}/consults", boss, ask).status_code == 403
    assert post(service, f"/cases/{case_id}/consults", bouali, ask).status_code == 403
    own = post(
        service,
        f"/cases/{case_id}/consults",
        mulder,
        {"pathologist_code": mulder.pathologist_code, "question": "?"},
    )
    assert own.status_code == 409
    assert "cannot give its consult" in own.json()["detail"]
    unknown = post(
        service,
        f"/cases/{case_id}/consults",
        mulder,
        {"pathologist_code": "LUMC-99", "question": "?"},
    )
    assert unknown.status_code == 404
    assert post(service, "/cases/9999/consults", mulder, ask).status_code == 404
    for bad in (
        {**ask, "question": ""},
        {**ask, "kind": "primary"},
        {**ask, "access_days": 0},
        {**ask, "access_days": 91},
        {**ask, "pathologist_code": "lumc-01"},
        {"consultant_id": bouali.pathologist_id, "question": "?"},  # the old name
        {**ask, "expected_version": "v1"},
        {"question": "?"},
    ):
        assert post(service, f"/cases/{case_id}/consults", mulder, bad).status_code == 422, bad
    stale = post(service, f"/cases/{case_id}/consults", mulder, {**ask, "expected_version": 1})
    assert stale.status_code == 409
    unassigned = make_case(service, "HMC")
    assert post(service, f"/cases/{unassigned}/consults", mulder, ask).status_code == 409


def test_answer_refusals(service: ServiceHarness, mulder: Person, bouali: Person) -> None:
    case_id = in_review(service, mulder)
    nobody_asked = post(service, f"/cases/{case_id}/consults/answer", mulder, {"answer": "Yes."})
    assert nobody_asked.status_code == 409
    assert (
        post(service, f"/cases/{case_id}/consults/answer", bouali, {"answer": "Yes."}).status_code
        == 403
    )
    assert (
        post(service, f"/cases/{case_id}/consults/answer", mulder, {"answer": ""}).status_code
        == 422
    )
    assert post(service, f"/cases/{case_id}/consults/answer", mulder, {}).status_code == 422
    assert post(service, "/cases/9999/consults/answer", mulder, {"answer": "x"}).status_code == 404
    assert (
        service.client.get(f"/cases/{case_id}/consults", headers=bouali.headers).status_code == 403
    )


def test_lab_managers_grant_and_review_access(
    service: ServiceHarness, boss: Person, mulder: Person, bouali: Person
) -> None:
    case_id = make_case(service, "HMC")
    given = post(
        service,
        f"/cases/{case_id}/grants",
        boss,
        {"user_id": bouali.user_id, "valid_for_hours": 2, "reason": "tumour board"},
    )
    assert given.status_code == 201, given.text
    grant = given.json()
    assert (grant["kind"], grant["reason"], grant["revoked_at"]) == (
        "consult",
        "tumour board",
        None,
    )
    assert parse_time(grant["expires_at"]) - parse_time(grant["granted_at"]) == timedelta(hours=2)
    assert service.client.get(f"/cases/{case_id}", headers=bouali.headers).status_code == 200
    listed = service.client.get(f"/cases/{case_id}/grants", headers=boss.headers)
    assert [g["id"] for g in listed.json()["items"]] == [grant["id"]]
    assert (
        post(service, f"/cases/{case_id}/grants", mulder, {"user_id": bouali.user_id}).status_code
        == 403
    )
    assert service.client.get(f"/cases/{case_id}/grants", headers=mulder.headers).status_code == 403
    assert post(service, f"/cases/{case_id}/grants", boss, {"user_id": 999}).status_code == 404
    assert post(service, "/cases/999/grants", boss, {"user_id": bouali.user_id}).status_code == 404
    assert service.client.get("/cases/999/grants", headers=boss.headers).status_code == 404
    too_long = {"user_id": bouali.user_id, "valid_for_hours": 24 * 91}
    assert post(service, f"/cases/{case_id}/grants", boss, too_long).status_code == 422


def test_break_the_glass_opens_the_case_and_flags_every_view(
    service: ServiceHarness, bouali: Person, boss: Person
) -> None:
    case_id = make_case(service, "HMC")
    assert service.client.get(f"/cases/{case_id}", headers=bouali.headers).status_code == 403
    short = post(service, f"/cases/{case_id}/break-glass", bouali, {"reason": "urgent"})
    assert short.status_code == 422
    blank = post(service, f"/cases/{case_id}/break-glass", bouali, {"reason": " " * 12})
    assert blank.status_code == 422
    assert blank.json()["error"] == "invalid"
    taken = post(
        service,
        f"/cases/{case_id}/break-glass",
        bouali,
        {"reason": "frozen section on call for HMC tonight"},
    )
    assert taken.status_code == 201, taken.text
    grant = taken.json()
    assert (grant["kind"], grant["user_id"]) == ("break_glass", bouali.user_id)
    lasts = parse_time(grant["expires_at"]) - parse_time(grant["granted_at"])
    assert timedelta(0) < lasts <= timedelta(hours=4)
    [flagged] = audit_events(service, "case.grant.break_glass")
    assert (flagged.break_glass, flagged.purpose_of_use) == (True, "emergency")
    assert "frozen section" in flagged.detail

    assert service.client.get(f"/cases/{case_id}", headers=bouali.headers).status_code == 200
    assert service.client.get(f"/cases/{case_id}", headers=boss.headers).status_code == 200
    views = audit_events(service, "case.open")
    assert [(v.user_id, v.outcome, v.break_glass, v.purpose_of_use) for v in views] == [
        ("lumc-01", AuditOutcome.SERIOUS_FAILURE, False, "treatment"),  # refused before
        ("lumc-01", AuditOutcome.SUCCESS, True, "emergency"),
        ("manager", AuditOutcome.SUCCESS, False, "treatment"),
    ]
    # Slide views under break-the-glass are flagged too (the slide routes use the same rule;
    # this case's slides have no file to read, so the opening is written here directly).
    with read_session(service.engine) as session:
        user = load_user(session, bouali.user_id)
        assert user is not None
        access = open_slide(session, user, first_slide(service, case_id))
    ViewLog().opened(service.engine, user, access)
    [slide_view] = audit_events(service, "slide.open")
    assert slide_view.break_glass is True
    listed = service.client.get(f"/cases/{case_id}/grants", headers=boss.headers).json()
    assert [g["kind"] for g in listed["items"]] == ["break_glass"]
    again = post(
        service, f"/cases/{case_id}/break-glass", bouali, {"reason": "still on call tonight"}
    )
    assert again.status_code == 409


def test_views_under_a_consult_grant_are_not_emergencies(
    service: ServiceHarness, bouali: Person, boss: Person
) -> None:
    case_id = make_case(service, "HMC")
    post(service, f"/cases/{case_id}/break-glass", bouali, {"reason": "frozen section on call"})
    post(service, f"/cases/{case_id}/grants", boss, {"user_id": bouali.user_id})
    assert service.client.get(f"/cases/{case_id}", headers=bouali.headers).status_code == 200
    [view] = audit_events(service, "case.open")
    assert view.break_glass is False


def test_break_the_glass_refusals(service: ServiceHarness, mulder: Person, boss: Person) -> None:
    own = make_case(service, "HMC")
    reason = {"reason": "a long enough reason"}
    mine = post(service, f"/cases/{own}/break-glass", mulder, reason)
    assert mine.status_code == 409
    assert "already" in mine.json()["detail"]
    assert post(service, f"/cases/{own}/break-glass", boss, reason).status_code == 409
    assert post(service, "/cases/4040/break-glass", mulder, reason).status_code == 404
    assert post(service, f"/cases/{own}/break-glass", mulder, {}).status_code == 422
    assert (
        post(service, f"/cases/{own}/break-glass", mulder, {"reason": "x" * 1001}).status_code
        == 422
    )
    assert service.client.post(f"/cases/{own}/break-glass", json=reason).status_code == 401


def test_an_expired_break_the_glass_grant_opens_nothing(
    service: ServiceHarness, bouali: Person
) -> None:
    case_id = make_case(service, "HMC")
    grant_case_access(
        engine=service.engine,
        actor=Actor(user_id="lumc-01", role=Role.PATHOLOGIST),
        case_id=case_id,
        user_id=bouali.user_id,
        kind=GrantKind.BREAK_GLASS,
        reason="yesterday's emergency",
        valid_for=timedelta(hours=4),
        now=datetime.now(UTC) - timedelta(days=1),
    )
    assert service.client.get(f"/cases/{case_id}", headers=bouali.headers).status_code == 403
    assert service.client.get("/cases", headers=bouali.headers).json()["total"] == 0


def test_an_emergency_grant_lets_a_pathologist_read_but_not_claim(
    service: ServiceHarness, bouali: Person
) -> None:
    case_id = make_case(service, "HMC")
    taken = post(
        service, f"/cases/{case_id}/break-glass", bouali, {"reason": "frozen section on call"}
    )
    assert taken.status_code == 201, taken.text
    claim = post(service, f"/cases/{case_id}/claim", bouali)
    assert claim.status_code == 403
    assert "not claim it" in claim.json()["detail"]
    assert (
        service.client.get(f"/cases/{case_id}", headers=bouali.headers).json()["assignments"] == []
    )
    # What is done under the emergency grant is flagged as such in the audit.
    comment = post(service, f"/cases/{case_id}/comments", bouali, {"body": "seen on call"})
    assert comment.status_code == 201, comment.text
    [commented] = audit_events(service, "case.comment")
    assert (commented.break_glass, commented.purpose_of_use) == (True, "emergency")


def test_a_privacy_officer_sees_no_clinical_content_and_cannot_break_the_glass(
    service: ServiceHarness,
) -> None:
    case_id = make_case(service, "HMC")
    user_id = service.add_user("privacy", Role.PRIVACY_OFFICER, department_code="HMC")
    officer = Person("privacy", user_id, None, service.headers("privacy"))
    for url in ("/cases", "/worklist/department", f"/cases/{case_id}"):
        answer = service.client.get(url, headers=officer.headers)
        assert answer.status_code == 403, url
        assert "audit log" in answer.json()["detail"]
    glass = post(service, f"/cases/{case_id}/break-glass", officer, {"reason": "just curious here"})
    assert glass.status_code == 403
    assert audit_events(service, "case.grant.break_glass") == []
