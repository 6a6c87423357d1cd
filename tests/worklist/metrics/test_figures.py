"""The backlog and the load on a real database (SQLite, and PostgreSQL where configured)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine

from tests.worklist.conftest import NOW, PATHOLOGIST, Factory
from worklist.db import read_session
from worklist.metrics import backlog, load_on
from worklist.models import Pathologist
from worklist.operations import claim_case


def test_backlog_ages_in_calendar_days_on_the_regions_clock(
    engine: Engine, factory: Factory
) -> None:
    factory.cases(2, department="HMC")
    factory.cases(1, department="LUMC", tumour_group="haematopathology")
    # 23:30 UTC on the 14th is already the 15th in Amsterdam: 3 days after the 12th.
    late = NOW.replace(hour=23, minute=30) + timedelta(days=2)
    with read_session(engine) as session:
        figures = backlog(session, now=late)
        narrowed = backlog(session, now=late, department_code="LUMC")
    assert figures.region.open_cases == 3
    assert figures.region.cases_by_age["3-5"] == 3
    assert figures.region.open_minutes == 45.0
    hmc = next(row for row in figures.groups if row.department_code == "HMC")
    assert (hmc.tumour_group, hmc.open_cases) == ("gastro-intestinal", 2)
    assert [row.department_code for row in figures.departments] == ["HMC", "LUMC"]
    assert narrowed.region.open_cases == 1
    assert [row.tumour_group for row in narrowed.groups] == ["haematopathology"]


def test_load_follows_the_roster_and_the_holdings(engine: Engine, factory: Factory) -> None:
    (case,) = factory.cases(1)
    with read_session(engine) as session:
        hmc01 = session.query(Pathologist).filter_by(code="HMC-01").one().id
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=case, pathologist_id=hmc01, now=NOW)
    wednesday = date(2025, 3, 12)
    with read_session(engine) as session:
        day = load_on(session, day=wednesday, now=NOW)
        leave = load_on(session, day=date(2025, 7, 22), now=NOW, department_code="LUMC")
    people = {p.code: p for p in day.pathologists}
    assert people["HMC-02"].absent_because == "not a working day"
    assert people["HMC-02"].capacity_minutes == 0 and people["HMC-02"].load_ratio is None
    assert people["HMC-01"].present and people["HMC-01"].open_minutes == 15.0
    assert people["HMC-01"].assigned_today_minutes == 15.0
    # The 15 minutes assigned today are part of the open 15, counted once.
    assert people["HMC-01"].load_ratio == 15.0 / people["HMC-01"].capacity_minutes
    hmc = next(d for d in day.departments if d.department_code == "HMC")
    assert (hmc.headcount, hmc.present) == (2, 1)
    assert day.region.headcount == 3
    assert [p.absent_because for p in leave.pathologists] == ["leave"]
