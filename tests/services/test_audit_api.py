"""``GET /audit``: privacy officers and administrators read the log, filtered and paged; every
reading, and every refused one, is itself recorded; a privacy officer sees no clinical content."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    Person,
    admin,
    audit_events,
    first_slide,
    make_case,
    manager,
    pathologist,
    sign_in,
)
from worklist.audit import seal_pending
from worklist.db import read_session
from worklist.enums import Role
from worklist.models import Case


def privacy_officer(service: ServiceHarness, username: str = "privacy") -> Person:
    """A privacy officer at HMC."""
    user_id = service.add_user(username, Role.PRIVACY_OFFICER, department_code="HMC")
    return Person(username, user_id, None, sign_in(service, username, user_id))


def read_log(service: ServiceHarness, who: Person, **params: Any) -> Any:
    """``GET /audit`` with ``params`` as ``who``; the answer's JSON (asserting 200)."""
    answer = service.client.get("/audit", params=params, headers=who.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def opened(service: ServiceHarness) -> dict[str, int]:
    """An HMC and a LUMC case, each opened by its own department's pathologist."""
    cases = {code: make_case(service, code) for code in ("HMC", "LUMC")}
    for code, case_id in cases.items():
        person = pathologist(service, f"{code}-01")
        assert service.client.get(f"/cases/{case_id}", headers=person.headers).status_code == 200
    return cases


def test_a_privacy_officer_sees_who_opened_a_patients_case(
    service: ServiceHarness, opened: dict[str, int]
) -> None:
    officer = privacy_officer(service)
    page = read_log(service, officer, patient_pseudonym="PSN-HMC")
    assert page["items"] and {item["patient_pseudonym"] for item in page["items"]} == {"PSN-HMC"}
    [view] = [item for item in page["items"] if item["event_type"] == "case.open"]
    with read_session(service.engine) as session:
        case = session.get(Case, opened["HMC"])
        assert case is not None
        accession_number = case.accession_number
    assert view | {"occurred_at": None, "event_id": None, "sealed": None} == {
        "occurred_at": None,
        "event_id": None,
        "event_type": "case.open",
        "action": "read",
        "outcome": "success",
        "user": "hmc-01",
        "role": "pathologist",
        "on_behalf_of": None,
        "purpose_of_use": "treatment",
        "site": "HMC",
        "patient_pseudonym": "PSN-HMC",
        "case_id": opened["HMC"],
        "accession_number": accession_number,
        "slide_id": None,
        "break_glass": False,
        "detail": view["detail"],
        "sealed": None,
    }
    assert isinstance(view["detail"], dict)
    assert datetime.fromisoformat(view["occurred_at"]).tzinfo is not None


def test_each_reading_leaves_one_record_naming_its_filters(
    service: ServiceHarness, opened: dict[str, int]
) -> None:
    officer = privacy_officer(service)
    read_log(service, officer, case_id=opened["LUMC"], outcome="success", limit=5)
    [reading] = audit_events(service, "audit.read")
    assert (reading.user_id, reading.role, reading.outcome) == (
        "privacy",
        "privacy_officer",
        "success",
    )
    assert reading.action == "read" and reading.purpose_of_use == "quality"
    expected = {"case_id": opened["LUMC"], "outcome": "success"}
    assert json.loads(reading.detail)["filters"] == expected


def test_administrators_read_the_log(service: ServiceHarness, opened: dict[str, int]) -> None:
    page = read_log(service, admin(service), event_type="case.open")
    assert {item["user"] for item in page["items"]} == {"hmc-01", "lumc-01"}


def test_everyone_else_is_refused_and_the_attempt_recorded(
    service: ServiceHarness, opened: dict[str, int]
) -> None:
    refused = [pathologist(service, "HMC-02"), manager(service)]
    for who in refused:
        answer = service.client.get(
            "/audit", params={"patient_pseudonym": "PSN-LUMC"}, headers=who.headers
        )
        assert answer.status_code == 403
        assert "privacy_officer" in answer.json()["detail"]
    attempts = audit_events(service, "audit.read")
    assert [(a.user_id, a.outcome) for a in attempts] == [
        (who.username, "serious_failure") for who in refused
    ]
    assert all(
        json.loads(a.detail)["filters"] == {"patient_pseudonym": "PSN-LUMC"} for a in attempts
    )


def test_signed_out_readers_get_401(service: ServiceHarness) -> None:
    assert service.client.get("/audit").status_code == 401


def _matches(item: dict[str, Any], name: str, value: Any) -> bool:
    if name == "user":
        return value in (item["user"], item["on_behalf_of"])
    return bool(item[name] == value)


def test_each_filter_narrows_the_log_to_its_records(
    service: ServiceHarness, opened: dict[str, int]
) -> None:
    stranger = pathologist(service, "GHZ-01")
    service.client.get("/audit", headers=stranger.headers)  # refused: a serious failure
    everything = read_log(service, admin(service), limit=1000)["items"]
    [hmc_accession] = {i["accession_number"] for i in everything if i["case_id"] == opened["HMC"]}
    known = {item["event_id"] for item in everything}
    officer = privacy_officer(service)
    for name, value in [
        ("user", "lumc-01"),
        ("site", "HMC"),
        ("event_type", "case.open"),
        ("outcome", "serious_failure"),
        ("accession_number", hmc_accession),
        ("case_id", opened["LUMC"]),
    ]:
        page = read_log(service, officer, **{name: value})["items"]
        # The officer's own readings came after: they match some filters too.
        earlier = [item for item in page if item["event_id"] in known]
        # Compared by id: the sealer may have sealed a record between the two readings.
        assert [i["event_id"] for i in earlier] == [
            i["event_id"] for i in everything if _matches(i, name, value)
        ], name
        assert earlier and len(earlier) < len(everything), name
        assert {i["event_type"] for i in page if i not in earlier} <= {"audit.read"}, name


def test_a_time_range_includes_its_start_and_excludes_its_end(
    service: ServiceHarness, opened: dict[str, int]
) -> None:
    officer = privacy_officer(service)
    views = read_log(service, officer, event_type="case.open")["items"]
    first, second = (datetime.fromisoformat(v["occurred_at"]) for v in views)
    assert first < second
    between = {"event_type": "case.open", "from": first.isoformat(), "to": second.isoformat()}
    assert [v["user"] for v in read_log(service, officer, **between)["items"]] == ["hmc-01"]
    later = {"event_type": "case.open", "from": (second + timedelta(microseconds=1)).isoformat()}
    assert read_log(service, officer, **later)["items"] == []


def test_pages_follow_each_other_by_cursor_and_do_not_shift(service: ServiceHarness) -> None:
    hmc = pathologist(service, "HMC-01")
    case_ids = [make_case(service, "HMC") for _ in range(5)]
    for case_id in case_ids:
        service.client.get(f"/cases/{case_id}", headers=hmc.headers)
    officer = privacy_officer(service)
    first = read_log(service, officer, event_type="case.open", limit=2)
    assert first["limit"] == 2 and len(first["items"]) == 2 and first["next"]
    service.client.get(f"/cases/{case_ids[0]}", headers=pathologist(service, "HMC-02").headers)
    seen = list(first["items"])
    cursor = first["next"]
    while cursor is not None:
        page = read_log(service, officer, event_type="case.open", limit=2, cursor=cursor)
        seen.extend(page["items"])
        cursor = page["next"]
    assert [item["case_id"] for item in seen] == [*case_ids, case_ids[0]]
    assert len({item["event_id"] for item in seen}) == 6
    assert [item["user"] for item in seen][-1] == "hmc-02"


MALFORMED = (
    {"limit": 1001},
    {"limit": 0},
    {"cursor": "bm90LWEtY3Vyc29y"},
    {"cursor": "../../etc"},
    {"from": "2025-03-12T09:00:00"},  # no UTC offset
    {"outcome": "fine"},
    {"patient": "PSN-HMC"},  # not a parameter: patient_pseudonym is
)


def test_malformed_queries_are_refused_with_422(service: ServiceHarness) -> None:
    officer = privacy_officer(service)
    for params in MALFORMED:
        answer = service.client.get("/audit", params=params, headers=officer.headers)
        assert answer.status_code == 422, (params, answer.text)
    assert audit_events(service, "audit.read") == []


def test_the_page_size_is_documented(service: ServiceHarness) -> None:
    parameters = service.client.get("/openapi.json").json()["paths"]["/audit"]["get"]["parameters"]
    [limit] = [p for p in parameters if p["name"] == "limit"]
    assert (limit["schema"]["maximum"], limit["schema"]["default"]) == (1000, 100)


def test_records_show_whether_they_are_sealed(
    service: ServiceHarness, opened: dict[str, int]
) -> None:
    seal_pending(service.engine)
    page = read_log(service, privacy_officer(service), event_type="case.open")
    assert [item["sealed"] for item in page["items"]] == [True, True]


def test_a_privacy_officer_account_is_created_like_any_other(service: ServiceHarness) -> None:
    answer = service.client.post(
        "/users",
        json={
            "username": "fg-officer",
            "display_name": "Functionaris Gegevensbescherming",
            "password": "mauve-lantern-quietly-9-orbit",
            "role": "privacy_officer",
            "department_code": "HMC",
        },
        headers=admin(service).headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["role"] == "privacy_officer"


CLINICAL_ROUTES = (
    "/cases/{case}",
    "/cases/by-accession/{accession}",
    "/cases/{case}/slides",
    "/cases/{case}/comments",
    "/cases/{case}/consults",
    "/cases/{case}/grants",
    "/slides/{slide}",
    "/slides/{slide}.dzi",
    "/slides/{slide}_files/0/0_0.jpeg",
    "/slides/{slide}/thumbnail",
    "/slides/{slide}/annotations",
    "/jobs",
    "/worklist/mine",
    "/worklist/region",
)
CASE_LISTS = ("/cases", "/worklist/department")


def test_a_privacy_officer_sees_no_clinical_content(service: ServiceHarness) -> None:
    case_id = make_case(service, "HMC")  # the officer's own department
    with read_session(service.engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        accession = case.accession_number
    officer = privacy_officer(service)
    for route in CLINICAL_ROUTES:
        path = route.format(case=case_id, slide=first_slide(service, case_id), accession=accession)
        answer = service.client.get(path, headers=officer.headers)
        assert answer.status_code == 403, (route, answer.status_code, answer.text)
        assert accession not in answer.text
    for route in CASE_LISTS:
        answer = service.client.get(route, headers=officer.headers)
        assert answer.status_code == 403 or answer.json()["items"] == [], route
    assert service.client.get("/audit", headers=officer.headers).status_code == 200


def test_a_reading_that_cannot_be_recorded_shows_nothing(
    service: ServiceHarness, opened: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.audit_queries

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(services.audit_queries, "record_event", broken)
    officer = privacy_officer(service)
    with pytest.raises(RuntimeError):
        service.client.get("/audit", headers=officer.headers)


def test_occurred_at_is_answered_in_utc(service: ServiceHarness, opened: dict[str, int]) -> None:
    page = read_log(service, privacy_officer(service), event_type="case.open")
    assert all(
        datetime.fromisoformat(i["occurred_at"]).utcoffset() == timedelta(0) for i in page["items"]
    )
    assert all(datetime.fromisoformat(i["occurred_at"]) < datetime.now(UTC) for i in page["items"])
