"""The waits of a case over HTTP: who may see and record them, the page shape, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from services.routers import waits
from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    DEPARTMENTS,
    Person,
    admin,
    audit_events,
    make_case,
    manager,
    pathologist,
    post,
)
from worklist.accounts import grant_case_access
from worklist.actor import Actor
from worklist.db import run_in_transaction
from worklist.enums import CaseStatus, GrantKind, Role
from worklist.models import Case


@pytest.fixture
def api(service: ServiceHarness) -> ServiceHarness:
    """The service with the waits router (included here until services/app.py registers it)."""
    app = service.client.app
    if not any(getattr(route, "path", "") == "/cases/{case_id}/waits" for route in app.routes):  # type: ignore[attr-defined]
        app.include_router(waits.router)  # type: ignore[attr-defined]
    return service


@pytest.fixture
def hmc(api: ServiceHarness) -> Person:
    return pathologist(api, "HMC-01")


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def _old_case(api: ServiceHarness) -> int:
    """An HMC case received a day ago (a wait cannot start before receipt)."""
    case_id = make_case(api, "HMC")
    received_at = datetime.now(UTC) - timedelta(days=1)
    run_in_transaction(
        api.engine,
        lambda session: session.execute(
            update(Case).where(Case.id == case_id).values(received_at=received_at)
        ),
    )
    return case_id


def test_a_wait_is_started_listed_and_ended(api: ServiceHarness, hmc: Person) -> None:
    case_id = make_case(api, "HMC")
    started = post(api, f"/cases/{case_id}/waits", hmc, {"reason": "molecular_test"})
    assert started.status_code == 201, started.text
    wait = started.json()
    assert set(wait) == {"id", "case_id", "reason", "started_at", "ended_at", "recorded_by"}
    assert (wait["case_id"], wait["reason"], wait["ended_at"]) == (case_id, "molecular_test", None)
    assert wait["recorded_by"] == "hmc-01"
    started_at = datetime.fromisoformat(wait["started_at"])
    assert abs(datetime.now(UTC) - started_at) < timedelta(minutes=1)  # default: now

    listed = api.client.get(f"/cases/{case_id}/waits", headers=hmc.headers)
    assert listed.status_code == 200
    assert listed.json() == {"items": [wait], "limit": 100, "next": None, "total": 1}

    ended = post(api, f"/cases/{case_id}/waits/{wait['id']}/end", hmc)
    assert ended.status_code == 200, ended.text
    assert ended.json()["ended_at"] is not None
    assert [e.outcome.value for e in audit_events(api, "case.wait.start")] == ["success"]
    assert [e.outcome.value for e in audit_events(api, "case.wait.end")] == ["success"]
    assert len(audit_events(api, "case.open")) == 1  # the listing, once per sign-in session


def test_given_times_and_pages(api: ServiceHarness, hmc: Person) -> None:
    case_id = _old_case(api)
    first = post(
        api,
        f"/cases/{case_id}/waits",
        hmc,
        {"reason": "external_consult", "started_at": _ago(seconds=30)},
    ).json()
    post(api, f"/cases/{case_id}/waits", hmc, {"reason": "molecular_test"})
    ended_at = _ago(seconds=10)
    ended = post(api, f"/cases/{case_id}/waits/{first['id']}/end", hmc, {"ended_at": ended_at})
    assert datetime.fromisoformat(ended.json()["ended_at"]) == datetime.fromisoformat(ended_at)
    page = api.client.get(f"/cases/{case_id}/waits?limit=1", headers=hmc.headers).json()
    assert [w["reason"] for w in page["items"]] == ["external_consult"]
    assert page["total"] == 2 and page["next"]
    rest = api.client.get(
        f"/cases/{case_id}/waits", params={"limit": 1, "cursor": page["next"]}, headers=hmc.headers
    ).json()
    assert [w["reason"] for w in rest["items"]] == ["molecular_test"]


def test_refusals_answer_409_and_422(api: ServiceHarness, hmc: Person) -> None:
    case_id = _old_case(api)
    path = f"/cases/{case_id}/waits"
    wait = post(api, path, hmc, {"reason": "molecular_test", "started_at": _ago(seconds=60)})
    wait_id = wait.json()["id"]
    again = post(api, path, hmc, {"reason": "molecular_test"})
    assert again.status_code == 409 and "already waits" in again.json()["detail"]
    early = post(api, f"{path}/{wait_id}/end", hmc, {"ended_at": _ago(seconds=120)})
    assert early.status_code == 422 and "not after its start" in early.json()["detail"]
    future = post(api, path, hmc, {"reason": "external_consult", "started_at": _ago(hours=-1)})
    assert future.status_code == 422 and "future" in future.json()["detail"]
    before = post(api, path, hmc, {"reason": "external_consult", "started_at": _ago(days=2)})
    assert before.status_code == 422 and "before the case was received" in before.json()["detail"]
    for body in (
        {"reason": "lunch"},
        {"reason": "molecular_test", "started_at": "2026-12-01T09:00:00"},  # no offset
        {"reason": "molecular_test", "note": "extra"},
        {},
    ):
        assert post(api, path, hmc, body).status_code == 422, body
    assert post(api, f"{path}/{wait_id}/end", hmc, {"ended": "x"}).status_code == 422
    assert post(api, f"{path}/{wait_id}/end", hmc).status_code == 200
    assert post(api, f"{path}/{wait_id}/end", hmc).status_code == 409  # already ended


def test_a_signed_out_case_keeps_its_waits(api: ServiceHarness, hmc: Person) -> None:
    case_id = make_case(api, "HMC")
    wait_id = post(api, f"/cases/{case_id}/waits", hmc, {"reason": "molecular_test"}).json()["id"]
    run_in_transaction(
        api.engine,
        lambda session: session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(status=CaseStatus.SIGNED_OUT, signed_out_at=datetime.now(UTC))
        ),
    )
    start = post(api, f"/cases/{case_id}/waits", hmc, {"reason": "external_consult"})
    assert start.status_code == 409 and "signed out" in start.json()["detail"]
    assert post(api, f"/cases/{case_id}/waits/{wait_id}/end", hmc).status_code == 409
    listed = api.client.get(f"/cases/{case_id}/waits", headers=hmc.headers)
    assert listed.status_code == 200 and listed.json()["total"] == 1


def test_unknown_cases_and_waits_are_404(api: ServiceHarness, hmc: Person) -> None:
    case_id = make_case(api, "HMC")
    other_id = make_case(api, "HMC")
    wait_id = post(api, f"/cases/{case_id}/waits", hmc, {"reason": "molecular_test"}).json()["id"]
    assert api.client.get("/cases/999999/waits", headers=hmc.headers).status_code == 404
    assert post(api, "/cases/999999/waits", hmc, {"reason": "molecular_test"}).status_code == 404
    assert post(api, f"/cases/{case_id}/waits/999999/end", hmc).status_code == 404
    assert post(api, f"/cases/{other_id}/waits/{wait_id}/end", hmc).status_code == 404
    assert post(api, f"/cases/{case_id}/waits/0/end", hmc).status_code == 422


def test_exactly_the_diagonal_may_see_and_record_waits(api: ServiceHarness) -> None:
    people = {code: pathologist(api, f"{code}-01") for code in DEPARTMENTS}
    cases = {code: make_case(api, code) for code in DEPARTMENTS}
    seen: dict[tuple[str, str], int] = {}
    recorded: dict[tuple[str, str], int] = {}
    for person_code, person in people.items():
        for case_code, case_id in cases.items():
            path = f"/cases/{case_id}/waits"
            seen[person_code, case_code] = api.client.get(path, headers=person.headers).status_code
            answer = post(api, path, person, {"reason": "external_consult"})
            recorded[person_code, case_code] = answer.status_code
            if answer.status_code == 201:
                post(api, f"{path}/{answer.json()['id']}/end", person)
    diagonal = {(p, c): 200 if p == c else 403 for p in DEPARTMENTS for c in DEPARTMENTS}
    assert seen == diagonal
    assert recorded == {key: 201 if code == 200 else 403 for key, code in diagonal.items()}


def test_managers_admins_and_grants(api: ServiceHarness) -> None:
    case_id = make_case(api, "HMC")
    path = f"/cases/{case_id}/waits"
    for who in (manager(api, department="LUMC"), admin(api)):
        answer = post(api, path, who, {"reason": "molecular_test"})
        assert answer.status_code == 201, answer.text
        assert post(api, f"{path}/{answer.json()['id']}/end", who).status_code == 200

    officer_id = api.add_user("privacy", Role.PRIVACY_OFFICER)
    officer = Person("privacy", officer_id, None, api.headers("privacy"))
    assert api.client.get(path, headers=officer.headers).status_code == 403
    assert post(api, path, officer, {"reason": "molecular_test"}).status_code == 403

    consultant = pathologist(api, "LUMC-01")
    grant_case_access(
        engine=api.engine,
        actor=Actor.system(),
        case_id=case_id,
        user_id=consultant.user_id,
        kind=GrantKind.CONSULT,
        reason="tumour board",
        valid_for=timedelta(days=14),
    )
    assert post(api, path, consultant, {"reason": "external_consult"}).status_code == 201

    on_call = pathologist(api, "ALR-01")
    taken = post(api, f"/cases/{case_id}/break-glass", on_call, {"reason": "frozen on call"})
    assert taken.status_code == 201, taken.text
    assert api.client.get(path, headers=on_call.headers).status_code == 200
    refused = post(api, path, on_call, {"reason": "molecular_test"})
    assert refused.status_code == 403 and "break-the-glass" in refused.json()["detail"]


def test_not_signed_in_is_401(api: ServiceHarness) -> None:
    case_id = make_case(api, "HMC")
    assert api.client.get(f"/cases/{case_id}/waits").status_code == 401
    assert api.client.post(f"/cases/{case_id}/waits", json={"reason": "x"}).status_code == 401
