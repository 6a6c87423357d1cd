"""Absences and the part-time pattern over HTTP: add, list, remove, overlap refused, who may,
and the roster the engine reads changes at once."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.services.conftest import ServiceHarness
from worklist.db import read_session
from worklist.enums import Role
from worklist.models import AuditEvent, Pathologist

CODE = "HMC-01"


@pytest.fixture
def manager(service: ServiceHarness) -> dict[str, str]:
    service.add_user("manager", Role.LAB_MANAGER)
    return service.headers("manager")


def roster_present(service: ServiceHarness, day: date) -> bool:
    with read_session(service.engine) as session:
        person = session.scalars(select(Pathologist).where(Pathologist.code == CODE)).one()
        return person.roster().is_working(day)


def next_weekday_not_holiday(start: date) -> date:
    from worklist.calendar import public_holiday

    day = start
    while day.weekday() >= 5 or public_holiday(day):
        day += timedelta(days=1)
    return day


def test_an_absence_added_is_listed_used_by_the_roster_and_removed(
    service: ServiceHarness, manager: dict[str, str]
) -> None:
    # A day a week or more ahead that the pathologist works (a part-timer skips some weekdays,
    # so which weekday depends on today's date).
    day = next_weekday_not_holiday(date.today() + timedelta(days=7))
    while not roster_present(service, day):
        day = next_weekday_not_holiday(day + timedelta(days=1))
    url = f"/pathologists/{CODE}/absences"
    body = {"starts_on": day.isoformat(), "ends_on": day.isoformat(), "kind": "sickness"}
    added = service.client.post(url, json=body, headers=manager)
    assert added.status_code == 201, added.text
    assert added.json()["kind"] == "sickness"
    assert not roster_present(service, day)

    listed = service.client.get(url, params={"on": day.isoformat()}, headers=manager).json()
    assert listed["present"] is False and listed["why_absent"] == "sickness"
    assert [a["id"] for a in listed["absences"]] == [added.json()["id"]]

    overlap = service.client.post(url, json=body, headers=manager)
    assert overlap.status_code == 409 and "already absent" in overlap.json()["detail"]

    gone = service.client.delete(f"{url}/{added.json()['id']}", headers=manager)
    assert gone.status_code == 204
    assert roster_present(service, day)
    with read_session(service.engine) as session:
        kinds = session.scalars(
            select(AuditEvent.event_type).where(AuditEvent.event_type.like("absence.%"))
        ).all()
    assert sorted(kinds) == ["absence.create", "absence.delete"]


def test_bad_absences_are_refused_and_change_nothing(
    service: ServiceHarness, manager: dict[str, str]
) -> None:
    url = f"/pathologists/{CODE}/absences"
    backwards = {"starts_on": "2026-03-10", "ends_on": "2026-03-09"}
    assert service.client.post(url, json=backwards, headers=manager).status_code == 422
    odd = {"starts_on": "2026-03-10", "ends_on": "2026-03-10", "kind": "holiday-ish"}
    assert service.client.post(url, json=odd, headers=manager).status_code == 422
    nobody = "/pathologists/XXX-99/absences"
    fine = {"starts_on": "2026-03-10", "ends_on": "2026-03-10"}
    assert service.client.post(nobody, json=fine, headers=manager).status_code == 404
    assert service.client.delete(f"{url}/999999", headers=manager).status_code == 404
    before = service.client.get(url, headers=manager).json()["absences"]
    assert all(a["starts_on"] != "2026-03-10" for a in before)


def test_a_pathologist_reads_their_own_absences_but_not_others_and_cannot_add(
    service: ServiceHarness,
) -> None:
    service.add_user("hmc1", Role.PATHOLOGIST, pathologist_code=CODE)
    own = service.headers("hmc1")
    assert service.client.get(f"/pathologists/{CODE}/absences", headers=own).status_code == 200
    assert service.client.get("/pathologists/LUMC-01/absences", headers=own).status_code == 403
    body = {"starts_on": "2026-03-10", "ends_on": "2026-03-10"}
    posted = service.client.post(f"/pathologists/{CODE}/absences", json=body, headers=own)
    assert posted.status_code == 403


def test_the_part_time_pattern_is_set_with_patch(
    service: ServiceHarness, manager: dict[str, str]
) -> None:
    answer = service.client.patch(
        f"/pathologists/{CODE}", json={"working_days": ["tue", "mon"]}, headers=manager
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["working_days"] == ["mon", "tue"]
    wednesday = date(2026, 3, 4)
    assert not roster_present(service, wednesday)
    bad = service.client.patch(
        f"/pathologists/{CODE}", json={"working_days": ["funday"]}, headers=manager
    )
    assert bad.status_code == 422
    empty = service.client.patch(
        f"/pathologists/{CODE}", json={"working_days": []}, headers=manager
    )
    assert empty.status_code == 422
