"""GET /reports/capacity, /reports/capacity/charts and /reports/capacity/export: who may see
what (a lab manager the region and their own department, an administrator everything, nobody
else anything), a bad period, the charts and the files' media types."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from services.routers import capacity as capacity_router
from services.routers.capacity import export_filename, report_today, scoped
from services.settings import Settings
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import app_state
from tests.services.worklist_api_support import (
    Person,
    admin,
    make_case,
    manager,
    pathologist,
    sign_in,
)
from worklist.db import run_in_transaction
from worklist.enums import Role
from worklist.models import Case

TODAY = date(2026, 12, 2)
WEEK = "2026-W48"  # 23-29 November 2026: the last full week before TODAY
RECEIVED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # the Wednesday of WEEK


@pytest.fixture
def pinned(service: ServiceHarness) -> Iterator[ServiceHarness]:
    """The service with today pinned to TODAY (the reports' clock), and a few open cases."""
    app: Any = service.client.app
    app.dependency_overrides[report_today] = lambda: TODAY
    cases = [make_case(service, code) for code in ("HMC", "HMC", "LUMC", "ALR")]

    def received_in_the_week(session: Any) -> None:
        session.execute(
            update(Case)
            .where(Case.id.in_(cases))
            .values(received_at=RECEIVED, due_at=RECEIVED + timedelta(days=7))
        )

    run_in_transaction(service.engine, received_in_the_week)
    yield service
    app.dependency_overrides.pop(report_today, None)


def _get(service: ServiceHarness, who: Person | None, path: str, **params: str) -> Any:
    headers = who.headers if who is not None else {}
    return service.client.get(path, params={"period": WEEK, **params}, headers=headers)


def test_a_lab_manager_sees_the_region_and_their_own_department(pinned: ServiceHarness) -> None:
    boss = manager(pinned, department="HMC")
    everything = _get(pinned, admin(pinned), "/reports/capacity")
    assert everything.status_code == 200, everything.text
    full = everything.json()
    assert {d["code"] for d in full["departments"]} == {
        "HMC",
        "LUMC",
        "ALR",
        "GHZ",
        "HAGA",
        "RDGG",
    }
    assert {p["department_code"] for p in full["pathologists"]} > {"HMC"}

    answer = _get(pinned, boss, "/reports/capacity")
    assert answer.status_code == 200, answer.text
    mine = answer.json()
    assert mine["period"]["label"] == WEEK and mine["today"] == TODAY.isoformat()
    assert [d["code"] for d in mine["departments"]] == ["HMC"]
    assert mine["pathologists"] and {p["department_code"] for p in mine["pathologists"]} == {"HMC"}
    assert {row["entity"] for row in mine["weekly"]} <= {"region", "HMC"}
    assert {row["department_code"] for row in mine["tat_histogram"]} <= {"HMC", None, "region"}
    # The region is the whole region's, the same as the administrator's.
    assert mine["region"] == full["region"]
    assert mine["region"]["demand_cases"]["realisation"] == 4
    assert mine["region"]["wip_cases"]["realisation"] == 4  # none signed out
    assert mine["tumour_groups"] == full["tumour_groups"]
    for line in mine["summary"]:
        assert "LUMC" not in line and "ALR" not in line


def test_a_lab_manager_asking_for_another_department_is_refused(pinned: ServiceHarness) -> None:
    boss = manager(pinned, department="HMC")
    other = _get(pinned, boss, "/reports/capacity", department_code="LUMC")
    assert other.status_code == 403
    assert other.json()["error"] == "forbidden" and "LUMC" in other.json()["detail"]
    own = _get(pinned, boss, "/reports/capacity", department_code="HMC")
    assert own.status_code == 200, own.text
    body = own.json()
    assert [d["code"] for d in body["departments"]] == ["HMC"]
    assert body["region"]["demand_cases"]["realisation"] == 2  # narrowed to HMC's cases


def test_pathologists_privacy_officers_and_strangers_see_nothing(pinned: ServiceHarness) -> None:
    officer_id = pinned.add_user("privacy", Role.PRIVACY_OFFICER)
    officer = Person("privacy", officer_id, None, sign_in(pinned, "privacy", officer_id))
    doctor = pathologist(pinned, "HMC-01")
    for path in ("/reports/capacity", "/reports/capacity/charts", "/reports/capacity/export"):
        assert _get(pinned, None, path, format="json").status_code == 401
        for who in (doctor, officer):
            refused = _get(pinned, who, path, format="json")
            assert refused.status_code == 403, (path, who.username)
            assert refused.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("period", "said"),
    [
        ("2026-W54", "2026-W54"),
        ("2026-13", "2026-13"),
        ("2026-Q5", "2026-Q5"),
        ("last week", "ISO week"),
        ("0001-W01", "too far"),
    ],
)
def test_a_bad_period_is_a_clear_422(pinned: ServiceHarness, period: str, said: str) -> None:
    answer = pinned.client.get(
        "/reports/capacity", params={"period": period}, headers=admin(pinned).headers
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid"
    assert said in answer.json()["detail"]


def test_a_missing_period_or_an_unknown_department_is_a_422(pinned: ServiceHarness) -> None:
    boss = admin(pinned)
    missing = pinned.client.get("/reports/capacity", headers=boss.headers)
    assert missing.status_code == 422
    assert missing.json()["error"] == "invalid_request" and "period" in missing.json()["detail"]
    unknown = _get(pinned, boss, "/reports/capacity", department_code="NOPE")
    assert unknown.status_code in (404, 422) and "NOPE" in unknown.json()["detail"]


def test_the_charts_are_vega_lite_of_what_the_caller_may_see(pinned: ServiceHarness) -> None:
    answer = _get(pinned, manager(pinned, department="HMC"), "/reports/capacity/charts")
    assert answer.status_code == 200, answer.text
    charts = answer.json()["charts"]
    assert len(charts) >= 4
    for chart in charts:
        assert chart["name"] and chart["title"]
        assert "vega-lite" in chart["spec"]["$schema"]
    # No other department's figures in the charts' inline data.
    text = json.dumps([chart["spec"] for chart in charts])
    assert '"LUMC"' not in text and '"ALR"' not in text
    assert "HMC" in text


def test_every_export_has_its_media_type_and_a_file_name(pinned: ServiceHarness) -> None:
    boss = manager(pinned, department="HMC")
    report = _get(pinned, boss, "/reports/capacity").json()
    kinds = {
        "html": "text/html",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv": "text/csv",
        "json": "application/json",
    }
    files = {}
    for fmt, media in kinds.items():
        answer = _get(pinned, boss, "/reports/capacity/export", format=fmt)
        assert answer.status_code == 200, (fmt, answer.text)
        assert answer.headers["content-type"].startswith(media)
        assert (
            answer.headers["content-disposition"] == f'attachment; filename="capacity-{WEEK}.{fmt}"'
        )
        files[fmt] = answer.content
    assert json.loads(files["json"]) == report
    assert b"<html" in files["html"][:500].lower() and b"LUMC" not in files["html"]
    sheets = load_workbook(io.BytesIO(files["xlsx"]), read_only=True)
    assert len(sheets.sheetnames) >= 2
    rows = list(csv.reader(io.StringIO(files["csv"].decode("utf-8"))))
    assert len(rows) > 3 and any("HMC" in row for row in rows)
    bad = _get(pinned, boss, "/reports/capacity/export", format="pdf")
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"


def test_an_export_of_one_department_names_it() -> None:
    assert export_filename("2026-Q4", "HMC", "head and neck/x", "csv") == (
        "capacity-2026-Q4-HMC-head-and-neck-x.csv"
    )
    assert export_filename("2026-11", None, None, "xlsx") == "capacity-2026-11.xlsx"


def test_the_scope_leaves_out_every_trace_of_other_departments() -> None:
    report = {
        "region": {"code": "region"},
        "departments": [
            {"code": "HMC", "name": "Haaglanden Medisch Centrum"},
            {"code": "LUMC", "name": "Leids Universitair Medisch Centrum"},
        ],
        "pathologists": [
            {"code": "HMC-01", "department_code": "HMC"},
            {"code": "LUMC-01", "department_code": "LUMC"},
        ],
        "tat_histogram": [
            {"department_code": "HMC", "days": 3, "cases": 2},
            {"department_code": "LUMC", "days": 3, "cases": 5},
        ],
        "weekly": [{"entity": "region"}, {"entity": "HMC"}, {"entity": "LUMC"}],
        "summary": [
            "Region: demand is 4% above the budget.",
            "LUMC: forecast demand exceeds planned supply by 1.2 FTE.",
            "HMC: within budget.",
            "LUMC-03 carries the highest utilisation.",
            "Leids Universitair Medisch Centrum has the longest turnaround.",
        ],
    }
    narrowed = scoped(report, frozenset({"HMC"}))
    assert [d["code"] for d in narrowed["departments"]] == ["HMC"]
    assert [p["code"] for p in narrowed["pathologists"]] == ["HMC-01"]
    assert [r["cases"] for r in narrowed["tat_histogram"]] == [2]
    assert [w["entity"] for w in narrowed["weekly"]] == ["region", "HMC"]
    assert narrowed["summary"] == ["Region: demand is 4% above the budget.", "HMC: within budget."]
    assert scoped(report, None) == report
    nothing = scoped(report, frozenset())
    assert nothing["departments"] == [] and nothing["summary"] == [report["summary"][0]]


def test_identical_requests_in_flight_share_one_computation(
    pinned: ServiceHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = admin(pinned)
    made = _get(pinned, boss, "/reports/capacity").json()
    calls: list[str] = []

    def slow_report(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs["today"].isoformat())
        time.sleep(0.5)  # the other request arrives while this one computes
        return made

    monkeypatch.setattr(capacity_router, "capacity_report", slow_report)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(
                lambda path: _get(pinned, boss, path),
                ["/reports/capacity", "/reports/capacity/charts"],
            )
        )
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == made and answers[1].json()["charts"]
    assert calls == [TODAY.isoformat()]
    # Nothing is kept: the next request computes afresh.
    assert _get(pinned, boss, "/reports/capacity").status_code == 200
    assert len(calls) == 2


NORM = (
    "[targets]\nutilisation = 0.7\nbacklog_days = 2.0\npct_within_target = 95.0\n"
    "[departments]\nHMC = 2.0\n[tumour_groups]\n"
)


def test_the_norm_file_of_the_settings_is_the_reports_norm(
    pinned: ServiceHarness, tmp_path: Path
) -> None:
    norm = tmp_path / "norm.toml"
    norm.write_text(NORM, encoding="utf-8")
    state = app_state(pinned)
    state.settings = state.settings.model_copy(update={"capacity_norm_file": norm})
    answer = _get(pinned, admin(pinned), "/reports/capacity")
    assert answer.status_code == 200, answer.text
    region = answer.json()["region"]
    assert region["utilisation"]["norm"] == 0.7 and region["pct_within_target"]["norm"] == 95.0


def test_a_norm_file_that_does_not_parse_stops_the_settings(tmp_path: Path) -> None:
    norm = tmp_path / "norm.toml"
    norm.write_text("[targets]\nutilisation = 'high'\n", encoding="utf-8")
    with pytest.raises(pydantic.ValidationError, match=r"norm\.toml"):
        Settings(data_dir=tmp_path, capacity_norm_file=norm)
