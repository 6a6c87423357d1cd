"""The case routes: the scoped list, one case in full (audited), intake, slide listing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    Person,
    audit_events,
    make_case,
    manager,
    pathologist,
)
from worklist.actor import Actor
from worklist.enums import AuditOutcome, Priority
from worklist.errors import DatabaseBusyError
from worklist.operations import assign_case

NEW_CASE = {
    "department_code": "LUMC",
    "patient_pseudonym": "PSN-0001",
    "tumour_group": "gynaecopathology",
    "category": 3,
    "priority": "urgent",
    "specimens": [
        {
            "label": "A",
            "description": "cervix biopsy",
            "blocks": [
                {"label": "A1", "slides": [{"stain": "H&E"}, {"stain": "p16"}]},
                {"label": "A2"},
            ],
        },
        {"label": "B", "blocks": [{"label": "B1"}]},
    ],
}


@pytest.fixture
def boss(service: ServiceHarness) -> Person:
    return manager(service)


def test_intake_registers_a_case_with_its_material(service: ServiceHarness, boss: Person) -> None:
    answer = service.client.post("/cases", json=NEW_CASE, headers=boss.headers)
    assert answer.status_code == 201, answer.text
    case = answer.json()
    assert case["accession_number"].startswith("LUMC-T")
    assert case["department_code"] == "LUMC"
    assert case["status"] == "received"  # no slide is scanned yet
    assert case["priority"] == "urgent"
    assert case["version"] == 1
    assert case["primary_pathologist_code"] is None
    specimens = case["specimens"]
    assert [s["label"] for s in specimens] == ["A", "B"]
    assert [b["label"] for b in specimens[0]["blocks"]] == ["A1", "A2"]
    slides = specimens[0]["blocks"][0]["slides"]
    assert [s["stain"] for s in slides] == ["H&E", "p16"]
    assert slides[0]["dzi_url"] == f"/slides/{slides[0]['id']}.dzi"
    assert specimens[0]["blocks"][1]["slides"][0]["stain"] == "H&E"  # the default slide
    assert "file_path" not in slides[0]
    assert [e.case_id for e in audit_events(service, "case.intake")] == [case["id"]]


def test_intake_with_a_given_accession_number_and_times(
    service: ServiceHarness, boss: Person
) -> None:
    body = {
        **NEW_CASE,
        "accession_number": "LUMC-T25-00042",
        "received_at": "2025-03-03T09:00:00+01:00",
        "due_at": "2025-03-10T09:00:00Z",
    }
    answer = service.client.post("/cases", json=body, headers=boss.headers)
    assert answer.status_code == 201, answer.text
    case = answer.json()
    assert case["accession_number"] == "LUMC-T25-00042"
    assert case["received_at"].startswith("2025-03-03T08:00:00")
    assert case["due_at"].startswith("2025-03-10T09:00:00")
    again = service.client.post("/cases", json=body, headers=boss.headers)
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert "LUMC-T25-00042" in again.json()["detail"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"category": 7}, 422),
        ({"category": "three"}, 422),
        ({"priority": "whenever"}, 422),
        ({"department_code": "lumc"}, 422),
        ({"department_code": "XYZ"}, 404),
        ({"department": "LUMC"}, 422),  # the old name: an unknown field now
        ({"patient_pseudonym": ""}, 422),
        ({"patient_pseudonym": "../../etc"}, 422),
        ({"tumour_group": "x" * 65}, 422),
        ({"tumour_group": "bad\x00group"}, 422),
        ({"received_at": "2025-03-03T09:00:00"}, 422),  # no offset: ambiguous
        ({"received_at": "9999-12-31T23:59:59Z"}, 422),
        ({"accession_number": "LUMC-T25"}, 422),
        ({"accession_number": "LUMC-C25-00001"}, 422),  # a cytology number on histology
        ({"specimens": [{"label": "A"}, {"label": "A"}]}, 422),
        ({"specimens": [{"label": "A", "blocks": [{"label": "A1"}, {"label": "A1"}]}]}, 422),
        ({"specimens": [{"label": "a"}]}, 422),
        ({"specimens": "A"}, 422),
    ],
)
def test_intake_refuses_malformed_cases(
    service: ServiceHarness, boss: Person, change: dict[str, object], status: int
) -> None:
    answer = service.client.post("/cases", json={**NEW_CASE, **change}, headers=boss.headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"


def test_intake_refuses_a_body_that_is_not_json(service: ServiceHarness, boss: Person) -> None:
    answer = service.client.post(
        "/cases",
        content=b"{not json",
        headers={**boss.headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422


def test_only_lab_managers_and_admins_take_cases_in(service: ServiceHarness) -> None:
    doctor = pathologist(service, "LUMC-01")
    refused = service.client.post("/cases", json=NEW_CASE, headers=doctor.headers)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    assert service.client.post("/cases", json=NEW_CASE).status_code == 401


def test_a_pathologist_lists_their_department_assigned_and_granted_cases(
    service: ServiceHarness, boss: Person
) -> None:
    own = make_case(service, "HMC")
    foreign = make_case(service, "LUMC")
    assigned = make_case(service, "ALR")
    make_case(service, "GHZ")
    doctor = pathologist(service, "HMC-01")
    assert doctor.pathologist_id is not None
    assign_case(
        engine=service.engine,
        actor=Actor.system(),
        case_id=assigned,
        pathologist_id=doctor.pathologist_id,
    )
    granted = service.client.post(
        f"/cases/{foreign}/grants", json={"user_id": doctor.user_id}, headers=boss.headers
    )
    assert granted.status_code == 201
    listed = service.client.get("/cases", headers=doctor.headers).json()
    assert sorted(c["id"] for c in listed["items"]) == sorted([own, foreign, assigned])
    assert listed["total"] == 3
    region = service.client.get("/cases", headers=boss.headers).json()
    assert region["total"] == 4


def test_case_list_filters_and_pages(service: ServiceHarness, boss: Person) -> None:
    ids = [make_case(service, "HAGA") for _ in range(5)]
    urgent = make_case(service, "RDGG", priority=Priority.URGENT)
    unscanned = make_case(service, "RDGG", scanned=False)

    def listed(**params: Any) -> dict[str, Any]:
        answer = service.client.get("/cases", params=params, headers=boss.headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    first = listed(department_code="HAGA", limit=2)
    assert (first["total"], first["limit"]) == (5, 2)
    second = listed(department_code="HAGA", limit=2, cursor=first["next"])
    assert [c["id"] for c in first["items"] + second["items"]] == ids[:4]
    last = listed(department_code="HAGA", limit=2, cursor=second["next"])
    assert ([c["id"] for c in last["items"]], last["next"]) == (ids[4:], None)
    assert [c["id"] for c in listed(priority="urgent")["items"]] == [urgent]
    assert [c["id"] for c in listed(status="received")["items"]] == [unscanned]
    assert listed(department_code="ALR")["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": 2**70},
        {"cursor": "../etc"},
        {"cursor": "bm90LWEtY3Vyc29y"},  # base64, but not one of ours
        {"status": "lost"},
        {"priority": "asap"},
        {"department_code": "../HMC"},
    ],
)
def test_case_list_refuses_bad_parameters(
    service: ServiceHarness, boss: Person, params: dict[str, Any]
) -> None:
    answer = service.client.get("/cases", params=params, headers=boss.headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/json"


def test_opening_a_case_shows_its_material_and_is_audited(service: ServiceHarness) -> None:
    case_id = make_case(service, "GHZ")
    doctor = pathologist(service, "GHZ-01")
    answer = service.client.get(f"/cases/{case_id}", headers=doctor.headers)
    assert answer.status_code == 200, answer.text
    case = answer.json()
    assert case["status"] == "scanned"
    assert case["specimens"][0]["blocks"][0]["slides"][0]["scanned_at"] is not None
    assert case["assignments"] == []
    opened = audit_events(service, "case.open")
    assert [(e.case_id, e.user_id, e.break_glass) for e in opened] == [(case_id, "ghz-01", False)]
    by_number = service.client.get(
        f"/cases/by-accession/{case['accession_number']}", headers=doctor.headers
    )
    assert by_number.status_code == 200
    assert by_number.json() == {**case, "updated_at": by_number.json()["updated_at"]}
    # One record per user and case per sign-in session, whichever route comes first.
    assert service.client.get(f"/cases/{case_id}/slides", headers=doctor.headers).is_success
    assert len(audit_events(service, "case.open")) == 1
    signed_in_again = service.headers("ghz-01")
    assert service.client.get(f"/cases/{case_id}", headers=signed_in_again).status_code == 200
    assert len(audit_events(service, "case.open")) == 2


def test_opening_shows_the_assignments(service: ServiceHarness, boss: Person) -> None:
    case_id = make_case(service, "HMC")
    doctor = pathologist(service, "HMC-01")
    assert doctor.pathologist_id is not None
    assign_case(
        engine=service.engine,
        actor=Actor.system(),
        case_id=case_id,
        pathologist_id=doctor.pathologist_id,
    )
    case = service.client.get(f"/cases/{case_id}", headers=boss.headers).json()
    assert case["primary_pathologist_code"] == "HMC-01"
    [assignment] = case["assignments"]
    assert assignment["pathologist_code"] == "HMC-01"
    assert assignment["kind"] == "primary"
    assert assignment["active"] is True


def test_a_case_that_cannot_be_audited_is_not_shown(
    service: ServiceHarness, boss: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = make_case(service, "HMC")

    def busy(**_: object) -> None:
        raise DatabaseBusyError("the audit log is locked")

    monkeypatch.setattr("services.access.record_view", busy)
    answer = service.client.get(f"/cases/{case_id}", headers=boss.headers)
    assert answer.status_code == 503
    assert "PSN-" not in answer.text


def test_missing_and_foreign_cases(service: ServiceHarness) -> None:
    foreign = make_case(service, "LUMC")
    doctor = pathologist(service, "HMC-01")
    assert service.client.get("/cases/999", headers=doctor.headers).status_code == 404
    refused = service.client.get(f"/cases/{foreign}", headers=doctor.headers)
    assert refused.status_code == 403
    assert "break-the-glass" in refused.json()["detail"]
    assert service.client.get(f"/cases/{foreign}/slides", headers=doctor.headers).status_code == 403
    # The refused attempt is recorded, once for the session (the second route adds none).
    [refusal] = audit_events(service, "case.open")
    assert (refusal.case_id, refusal.user_id, refusal.outcome) == (
        foreign,
        "hmc-01",
        AuditOutcome.SERIOUS_FAILURE,
    )
    assert "LUMC" not in refused.json()["detail"]  # the answer names nothing of the case
    missing = service.client.get("/cases/by-accession/HMC-T25-99999", headers=doctor.headers)
    assert missing.status_code == 404
    assert service.client.get(f"/cases/{foreign}").status_code == 401


@pytest.mark.parametrize("case_id", ["0", "-1", "abc", str(2**63), str(2**70), "1.5"])
def test_case_ids_out_of_range_are_refused(
    service: ServiceHarness, boss: Person, case_id: str
) -> None:
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/slides"):
        answer = service.client.get(path, headers=boss.headers)
        assert answer.status_code == 422, path


def test_the_largest_id_is_simply_not_found(service: ServiceHarness, boss: Person) -> None:
    answer = service.client.get(f"/cases/{2**63 - 1}", headers=boss.headers)
    assert answer.status_code == 404


def test_case_slides_are_listed_with_their_specimen_and_block(
    service: ServiceHarness, boss: Person
) -> None:
    case_id = service.client.post("/cases", json=NEW_CASE, headers=boss.headers).json()["id"]
    page = service.client.get(f"/cases/{case_id}/slides", headers=boss.headers).json()
    assert (page["total"], page["next"]) == (4, None)
    slides = page["items"]
    assert [(s["specimen_label"], s["block_label"], s["stain"]) for s in slides] == [
        ("A", "A1", "H&E"),
        ("A", "A1", "p16"),
        ("A", "A2", "H&E"),
        ("B", "B1", "H&E"),
    ]
    assert all(s["pyramid_status"] == "none" and s["scanned_at"] is None for s in slides)
    assert service.client.get("/cases/12345/slides", headers=boss.headers).status_code == 404
