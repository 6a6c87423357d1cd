"""GET /worklist/backlog and GET /pathologists/load: the numbers, the filters, who may."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from tests.services.conftest import ServiceHarness
from tests.services.worklist_api_support import admin, make_case, manager, pathologist, post
from viewer.assets import viewer_assets
from worklist.db import run_in_transaction
from worklist.enums import Priority
from worklist.models import Absence, Case, Pathologist


def _age(service: ServiceHarness, case_id: int, days: int, *, overdue: bool) -> None:
    now = datetime.now(UTC)

    def work(session: object) -> None:
        session.execute(  # type: ignore[attr-defined]
            update(Case)
            .where(Case.id == case_id)
            .values(
                received_at=now - timedelta(days=days),
                due_at=now - timedelta(hours=1) if overdue else now + timedelta(days=3),
            )
        )

    run_in_transaction(service.engine, work)


def test_backlog_counts_ages_minutes_and_overdue(service: ServiceHarness) -> None:
    boss = manager(service)
    young = make_case(service, "HMC", tumour_group="lung")
    old = make_case(service, "HMC", tumour_group="lung")
    other = make_case(service, "LUMC", tumour_group="urology", priority=Priority.URGENT)
    _age(service, young, 1, overdue=False)
    _age(service, old, 12, overdue=True)
    _age(service, other, 4, overdue=False)

    answer = service.client.get("/worklist/backlog", headers=boss.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["age_buckets"] == ["0-2", "3-5", "6-7", "8-10", ">10"]
    lung = next(g for g in body["groups"] if g["department_code"] == "HMC")
    assert lung["tumour_group"] == "lung"
    assert lung["open_cases"] == 2 and lung["overdue_cases"] == 1
    assert lung["cases_by_age"] == {"0-2": 1, "3-5": 0, "6-7": 0, "8-10": 0, ">10": 1}
    assert lung["open_minutes"] == 30.0  # two category-2 cases of 15 standard minutes
    assert body["region"]["open_cases"] == 3
    assert {d["department_code"] for d in body["departments"]} >= {"HMC", "LUMC", "GHZ"}
    ghz = next(d for d in body["departments"] if d["department_code"] == "GHZ")
    assert ghz["open_cases"] == 0

    narrowed = service.client.get(
        "/worklist/backlog", params={"department_code": "LUMC"}, headers=boss.headers
    ).json()
    assert [g["tumour_group"] for g in narrowed["groups"]] == ["urology"]
    assert narrowed["region"]["cases_by_age"]["3-5"] == 1
    by_group = service.client.get(
        "/worklist/backlog", params={"tumour_group": "lung"}, headers=boss.headers
    ).json()
    assert by_group["region"]["open_cases"] == 2


def test_backlog_leaves_signed_out_cases_out_and_refuses_strangers(
    service: ServiceHarness,
) -> None:
    assert service.client.get("/worklist/backlog").status_code == 401
    doctor = pathologist(service, "HMC-01")
    assert service.client.get("/worklist/backlog", headers=doctor.headers).status_code == 403
    unknown = service.client.get(
        "/worklist/backlog", params={"department_code": "NOPE"}, headers=admin(service).headers
    )
    assert unknown.status_code == 404
    assert "NOPE" in unknown.json()["detail"]
    bad = service.client.get(
        "/worklist/backlog", params={"department_code": "x y"}, headers=admin(service, "a2").headers
    )
    assert bad.status_code == 422


def test_load_says_who_is_present_and_why_not(service: ServiceHarness) -> None:
    boss = manager(service)
    doctor = pathologist(service, "HMC-01")
    case = make_case(service, "HMC")
    assert post(service, f"/cases/{case}/claim", doctor).status_code == 200
    monday = date(2026, 11, 30)

    def absent(session: object) -> None:
        person = session.query(Pathologist).filter_by(code="HMC-02").one()  # type: ignore[attr-defined]
        session.add(
            Absence(pathologist_id=person.id, starts_on=monday, ends_on=monday, reason="sickness")
        )  # type: ignore[attr-defined]

    run_in_transaction(service.engine, absent)
    answer = service.client.get(
        "/pathologists/load", params={"date": monday.isoformat()}, headers=boss.headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["date"] == monday.isoformat()
    people = {p["code"]: p for p in body["pathologists"]}
    assert people["HMC-02"]["present"] is False
    assert people["HMC-02"]["absent_because"] == "sickness"
    assert people["HMC-02"]["capacity_minutes"] == 0 and people["HMC-02"]["load_ratio"] is None
    held = people["HMC-01"]
    assert held["open_minutes"] == 15.0
    if held["present"]:
        assert held["capacity_minutes"] > 0
        expected = (held["open_minutes"] + held["assigned_today_minutes"]) / held[
            "capacity_minutes"
        ]
        assert abs(held["load_ratio"] - expected) < 1e-9
    hmc = next(d for d in body["departments"] if d["department_code"] == "HMC")
    in_hmc = [p for p in body["pathologists"] if p["department_code"] == "HMC"]
    assert hmc["headcount"] == len(in_hmc)
    assert hmc["capacity_minutes"] == sum(p["capacity_minutes"] for p in in_hmc)
    assert body["region"]["headcount"] == len(body["pathologists"])

    sunday = service.client.get(
        "/pathologists/load", params={"date": "2026-11-29"}, headers=boss.headers
    ).json()
    assert all(p["absent_because"] == "not a working day" for p in sunday["pathologists"])
    kings_day = service.client.get(
        "/pathologists/load",
        params={"date": "2027-04-27", "department_code": "HMC"},
        headers=boss.headers,
    ).json()
    assert {p["department_code"] for p in kings_day["pathologists"]} == {"HMC"}
    assert not any(p["present"] for p in kings_day["pathologists"])
    # King's Day is a Tuesday: who works Tuesdays is off for the holiday.
    assert any(
        p["absent_because"] == "public holiday: King's Day" for p in kings_day["pathologists"]
    )

    assert service.client.get("/pathologists/load", headers=doctor.headers).status_code == 403
    bad = service.client.get(
        "/pathologists/load", params={"date": "30-11-2026"}, headers=boss.headers
    )
    assert bad.status_code == 422


def test_chart_pages_admit_only_their_import_map(service: ServiceHarness) -> None:
    """The chart pages' policy: no 'unsafe-eval', no 'unsafe-inline', their one import map
    (with vega-util for vega-interpreter) admitted by hash, as every page's is."""
    assets = viewer_assets()
    for path in ("/desk/backlog", "/desk/load", "/desk/queue"):
        answer = service.client.get(path)
        assert answer.status_code == 200
        policy = answer.headers["content-security-policy"]
        (import_map,) = re.findall(r'<script type="importmap">(.*?)</script>', answer.text)
        if path != "/desk/queue":  # the queue draws no chart
            assert '"vega-util": "/static/vendor/vega-util/index.js?v=' in import_map
        digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
        assert f"script-src 'self' 'sha256-{digest}';" in f"{policy};"
        assert "unsafe" not in policy
    for package in ("vega", "vega-lite", "vega-embed", "vega-interpreter", "vega-util"):
        assert package in assets.vendor_dirs
    vendored = service.client.get("/static/vendor/vega-interpreter/vega-interpreter.js")
    assert vendored.status_code == 200 and "expressionInterpreter" in vendored.text
