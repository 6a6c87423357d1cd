"""The 6 x 6 department access matrix: a pathologist of each department against a case of each.

Exactly the diagonal may open a case; a consult grant opens exactly its one cell, an expired
grant none. Every route that shows a case's content answers the same way, and the case list
shows exactly the cases that may be opened.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import (
    DEPARTMENTS,
    Person,
    audit_events,
    first_slide,
    make_case,
    manager,
    pathologist,
)
from worklist.accounts import grant_case_access
from worklist.actor import Actor
from worklist.enums import AuditOutcome, GrantKind

Matrix = dict[tuple[str, str], int]


@pytest.fixture
def people(service: ServiceHarness) -> dict[str, Person]:
    return {code: pathologist(service, f"{code}-01") for code in DEPARTMENTS}


@pytest.fixture
def cases(service: ServiceHarness) -> dict[str, int]:
    return {code: make_case(service, code) for code in DEPARTMENTS}


def matrix(
    service: ServiceHarness, people: dict[str, Person], cases: dict[str, int], route: str
) -> Matrix:
    """The status code per (the pathologist's department, the case's department)."""
    found: Matrix = {}
    for person_code, person in people.items():
        for case_code, case_id in cases.items():
            path = route.format(case=case_id, slide=first_slide(service, case_id))
            found[person_code, case_code] = service.client.get(
                path, headers=person.headers
            ).status_code
    return found


def expected(*extra: tuple[str, str]) -> Matrix:
    allowed = {(code, code) for code in DEPARTMENTS} | set(extra)
    return {(p, c): 200 if (p, c) in allowed else 403 for p in DEPARTMENTS for c in DEPARTMENTS}


ROUTES = (
    "/cases/{case}",
    "/cases/{case}/slides",
    "/cases/{case}/comments",
    "/cases/{case}/consults",
    "/cases/{case}/waits",
    "/slides/{slide}/annotations",
)


@pytest.mark.parametrize("route", ROUTES)
def test_exactly_the_diagonal_is_open(
    service: ServiceHarness, people: dict[str, Person], cases: dict[str, int], route: str
) -> None:
    assert matrix(service, people, cases, route) == expected()


def test_each_open_cell_is_audited_once_and_refusals_show_nothing(
    service: ServiceHarness, people: dict[str, Person], cases: dict[str, int]
) -> None:
    matrix(service, people, cases, "/cases/{case}")
    records = audit_events(service, "case.open")
    opened = [e for e in records if e.outcome is AuditOutcome.SUCCESS]
    assert sorted((e.user_id, e.case_id) for e in opened) == sorted(
        (f"{code.lower()}-01", cases[code]) for code in DEPARTMENTS
    )
    # Every refused cell is recorded as such (NEN 7513 asks for attempts too), once.
    refused = [e for e in records if e.outcome is AuditOutcome.SERIOUS_FAILURE]
    assert sorted((e.user_id, e.case_id) for e in refused) == sorted(
        (f"{who.lower()}-01", cases[whose])
        for who in DEPARTMENTS
        for whose in DEPARTMENTS
        if who != whose
    )
    assert len(records) == len(opened) + len(refused)


def test_a_consult_grant_opens_exactly_one_cell(
    service: ServiceHarness, people: dict[str, Person], cases: dict[str, int]
) -> None:
    boss = manager(service)
    given = service.client.post(
        f"/cases/{cases['LUMC']}/grants",
        json={"user_id": people["HMC"].user_id, "valid_for_hours": 1},
        headers=boss.headers,
    )
    assert given.status_code == 201
    for route in ROUTES:
        assert matrix(service, people, cases, route) == expected(("HMC", "LUMC")), route


def test_an_expired_grant_opens_nothing(
    service: ServiceHarness, people: dict[str, Person], cases: dict[str, int]
) -> None:
    grant_case_access(
        engine=service.engine,
        actor=Actor.system(),
        case_id=cases["GHZ"],
        user_id=people["ALR"].user_id,
        kind=GrantKind.CONSULT,
        reason="last month's tumour board",
        valid_for=timedelta(days=14),
        now=datetime.now(UTC) - timedelta(days=30),
    )
    assert matrix(service, people, cases, "/cases/{case}") == expected()


def test_the_case_list_shows_exactly_the_open_cells(
    service: ServiceHarness, people: dict[str, Person], cases: dict[str, int]
) -> None:
    boss = manager(service)
    service.client.post(
        f"/cases/{cases['RDGG']}/grants",
        json={"user_id": people["HAGA"].user_id},
        headers=boss.headers,
    )
    for code, person in people.items():
        listed = service.client.get("/cases", headers=person.headers).json()
        seen = {case["department_code"] for case in listed["items"]}
        assert seen == ({code, "RDGG"} if code == "HAGA" else {code}), code
    everything = service.client.get("/cases", headers=boss.headers).json()
    assert everything["total"] == len(DEPARTMENTS)
