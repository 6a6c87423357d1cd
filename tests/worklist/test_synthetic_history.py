"""The demo's synthetic history: seasonality, trend, a department past its capacity, every
case signed out with a holder, waits inside the case's life, and the bulk insert."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from tests.worklist.conftest import MANAGER, SMALL_REGION
from worklist.actor import Actor
from worklist.capacity.facts import load_case_facts
from worklist.db import read_session, run_in_transaction
from worklist.enums import AssignmentKind, CaseStatus, Priority
from worklist.errors import ValidationError
from worklist.models import Assignment, AuditEvent, Case, CaseWait
from worklist.models.report import Report, ReportVersion
from worklist.operations import CaseIntake, intake_cases
from worklist.region import Region, default_region, parse_region
from worklist.seeding import ImportSummary
from worklist.snapshots import case_minutes
from worklist.synthetic_history import HistoryCase, generate_history
from worklist.synthetic_history_insert import HISTORY_EVENT, insert_history
from worklist.workload import WorkloadModel

TODAY = date(2026, 12, 3)  # a Thursday
END = TODAY - timedelta(days=6)  # the demo's week starts here
FAST = "LUMC"


@pytest.fixture(scope="module")
def region() -> Region:
    return default_region()


@pytest.fixture(scope="module")
def year(region: Region) -> list[HistoryCase]:
    return generate_history(region, today=TODAY, end=END, seed=7)


def small_region() -> Region:
    return parse_region(SMALL_REGION, source="small-region.toml")


def test_the_same_seed_gives_the_same_history_and_another_seed_another() -> None:
    first = generate_history(small_region(), today=TODAY, days=21, seed=3)
    assert first == generate_history(small_region(), today=TODAY, days=21, seed=3)
    assert first != generate_history(small_region(), today=TODAY, days=21, seed=4)


@pytest.mark.slow
def test_a_year_ends_before_the_week_and_every_case_is_signed_out_before_today(
    year: list[HistoryCase], region: Region
) -> None:
    received = [c.received_at for c in year]
    assert received == sorted(received)
    assert min(received).date() == END - timedelta(days=365)
    assert max(received).date() < END
    midnight = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC)
    people = {p.code: p for p in region.pathologists}
    for case in year:
        assert case.received_at <= case.assigned_at < case.signed_out_at < midnight
        assert case.pathologist_code in people
        for wait in case.waits:
            assert case.assigned_at <= wait.started_at < wait.ended_at < case.signed_out_at
        if case.second_read_trigger is not None:
            assert case.second_reader_code not in (None, case.pathologist_code)
    # 60,000 a year in the departments that grow slowly, more where demand outgrew the staff.
    assert 60_000 < len(year) < 80_000


@pytest.mark.slow
def test_arrivals_follow_the_working_week_and_dip_in_summer(year: list[HistoryCase]) -> None:
    by_weekday = Counter(c.received_at.weekday() for c in year)
    assert by_weekday[0] > by_weekday[2] > by_weekday[4] > 10 * by_weekday[5]
    assert by_weekday[5] > by_weekday[6]
    per_day: dict[int, float] = {}
    for month in (6, 7, 8, 9):
        cases = sum(1 for c in year if c.received_at.month == month)
        per_day[month] = cases / (30 if month in (6, 9) else 31)
    summer = (per_day[7] + per_day[8]) / 2
    assert summer < 0.9 * (per_day[6] + per_day[9]) / 2


@pytest.mark.slow
def test_one_department_grows_fast_past_its_staff_the_others_a_few_percent(
    year: list[HistoryCase], region: Region
) -> None:
    model = WorkloadModel()
    first_weeks = END - timedelta(days=365), END - timedelta(days=365 - 91)
    last_weeks = END - timedelta(days=91), END
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    minutes_last_8_weeks: dict[str, float] = defaultdict(float)
    for case in year:
        day = case.received_at.date()
        counts[case.department][0] += first_weeks[0] <= day < first_weeks[1]
        counts[case.department][1] += last_weeks[0] <= day < last_weeks[1]
        if day >= END - timedelta(weeks=8):
            minutes_last_8_weeks[case.department] += case_minutes(
                model, case.category, case.priority
            )
    growth = {code: last / first for code, (first, last) in counts.items()}
    others = [g for code, g in growth.items() if code != FAST]
    # Same seasons in both windows, roughly: the slow departments within a few per cent
    # (plus the autumn being busier than December-February), the fast one far beyond.
    assert all(0.95 < g < 1.25 for g in others), growth
    # 35 % a year against 4 %: about 1.3 times the others' growth.
    assert growth[FAST] > 1.15 * sum(others) / len(others), growth
    for department in {c.department for c in year}:
        fte = sum(p.fte for p in region.pathologists if p.department == department)
        load = minutes_last_8_weeks[department] / (8 * fte * model.minutes_per_fte_week)
        if department == FAST:
            assert load > 1.05, (department, load)
        else:
            assert load < 0.8, (department, load)


@pytest.mark.slow
def test_cases_stay_mostly_at_home_and_a_few_are_overdue_or_waited(
    year: list[HistoryCase], region: Region
) -> None:
    home = {p.code: p.department for p in region.pathologists}
    for department in {c.department for c in year}:
        own = [c for c in year if c.department == department]
        at_home = sum(home[c.pathologist_code] == department for c in own) / len(own)
        assert at_home > (0.7 if department == FAST else 0.9), (department, at_home)
    overdue = sum(c.signed_out_at > c.due_at for c in year) / len(year)
    assert 0.03 < overdue < 0.3
    waited = [c for c in year if c.waits]
    assert 0.01 < len(waited) / len(year) < 0.08
    urgent = [c for c in year if c.priority is Priority.URGENT]
    routine = [c for c in year if c.priority is Priority.ROUTINE]

    def median_days(cases: list[HistoryCase]) -> float:
        days = sorted((c.signed_out_at - c.received_at).total_seconds() / 86400 for c in cases)
        return days[len(days) // 2]

    assert median_days(urgent) < median_days(routine)


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(ValidationError, match="no department 'XYZ'"):
        generate_history(small_region(), today=TODAY, days=7, fast_department="XYZ")
    with pytest.raises(ValidationError, match="at least one day"):
        generate_history(small_region(), today=TODAY, days=0)


def test_insert_writes_every_row_in_bulk_and_the_facts_read_them(
    engine: Engine, region_ids: ImportSummary
) -> None:
    history = generate_history(small_region(), today=TODAY, days=42, seed=5)
    assert history
    system = Actor.system("coupe-demo")
    inserted = run_in_transaction(engine, lambda s: insert_history(s, history, actor=system))
    seconds = sum(1 for c in history if c.second_reader_code is not None)
    waits = sum(len(c.waits) for c in history)
    assert (inserted.cases, inserted.assignments, inserted.waits) == (
        len(history),
        len(history) + seconds,
        waits,
    )
    with read_session(engine) as session:
        statuses = session.execute(select(Case.status, func.count()).group_by(Case.status)).all()
        assert statuses == [(CaseStatus.SIGNED_OUT, len(history))]
        assert session.scalar(select(func.count()).select_from(CaseWait)) == waits
        assert session.scalar(select(func.count()).select_from(Report)) == len(history)
        assert session.scalar(select(func.count()).select_from(ReportVersion)) == len(history)
        active = session.scalar(select(func.count()).where(Assignment.active))
        assert active == 0
        audit = session.execute(select(AuditEvent.event_type)).scalars().all()
        assert audit.count(HISTORY_EVENT) == 1
        facts = load_case_facts(session, model=WorkloadModel())
    assert len(facts) == len(history)
    for fact, case in zip(facts, history, strict=True):
        assert fact.signed_out_at == case.signed_out_at
        assert fact.pathologist_code == case.pathologist_code
        assert fact.workload_minutes > 0
        assert [(w.started_at, w.ended_at) for w in fact.waits] == [
            (w.started_at, w.ended_at) for w in case.waits
        ]
    with read_session(engine) as session:
        kinds = Counter(session.execute(select(Assignment.kind)).scalars())
    assert kinds[AssignmentKind.PRIMARY] == len(history)


def test_live_intake_after_the_history_gets_fresh_accession_numbers(
    engine: Engine, region_ids: ImportSummary
) -> None:
    history = generate_history(small_region(), today=TODAY, days=14, seed=2)
    system = Actor.system("coupe-demo")
    run_in_transaction(engine, lambda s: insert_history(s, history, actor=system))
    live = CaseIntake(
        department="HMC",
        patient_pseudonym="PSN-live",
        tumour_group="dermatopathology",
        category=2,
        received_at=datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC),
    )
    (state,) = intake_cases(engine=engine, actor=MANAGER, cases=[live])
    with read_session(engine) as session:
        numbers = session.execute(select(Case.accession_number)).scalars().all()
        new = session.get_one(Case, state.case_id).accession_number
    assert len(set(numbers)) == len(numbers) == len(history) + 1
    history_hmc = sum(1 for c in history if c.department == "HMC" and c.case_type.value == "T")
    assert new == f"HMC-T26-{history_hmc + 1:05d}"


def test_insert_needs_the_region_first(engine: Engine) -> None:
    history = generate_history(small_region(), today=TODAY, days=7, seed=1)
    system = Actor.system("coupe-demo")
    with pytest.raises(ValidationError, match="import the region first"):
        run_in_transaction(engine, lambda s: insert_history(s, history, actor=system))
