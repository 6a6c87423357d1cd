"""From the database to the engine and back: snapshots and automatic assignment rounds.

Scenarios on a real database (SQLite always, PostgreSQL when configured), told the way a lab
manager would tell them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.worklist.conftest import MANAGER, PATHOLOGIST
from worklist.actor import Actor
from worklist.engine import Rule
from worklist.enums import AssignmentKind, AuditOutcome, Priority
from worklist.errors import NotPermittedError
from worklist.models import Assignment, AuditEvent, Case
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    claim_case,
    intake_cases,
)
from worklist.region import Region, parse_region
from worklist.seeding import ImportSummary, import_region
from worklist.snapshots import auto_assign, load_snapshot

# Wednesday morning; ALR-02 is on leave this week, LUMC-02 does not work on Wednesdays.
NOW = datetime(2025, 3, 12, 8, 0, tzinfo=UTC)
SYSTEM = Actor.system("auto-assign")

REGION = """
[region]
name = "Alrijne and Leiden"

[rules]
general_pool_fallback = []

[[rules.second_read]]
subspecialty = "gastro-intestinal"
trigger = "barrett_dysplasia"
label = "Barrett dysplasia"
experienced_in = "gastro-intestinal"

[[departments]]
code = "ALR"
name = "Alrijne Ziekenhuis"
city = "Leiderdorp"

[[departments]]
code = "LUMC"
name = "Leids Universitair Medisch Centrum"
city = "Leiden"

[[pathologists]]
code = "ALR-01"
name = "dr. A. Visser"
department = "ALR"
subspecialties = ["gastro-intestinal"]
experienced_in = ["gastro-intestinal"]
fte = 1.0
max_open_minutes = 2000

[[pathologists]]
code = "ALR-02"
name = "dr. B. Smit"
department = "ALR"
subspecialties = ["gastro-intestinal", "dermatopathology"]
fte = 1.0
max_open_minutes = 2000
absences = [{ starts_on = 2025-03-10, ends_on = 2025-03-14, reason = "leave" }]

[[pathologists]]
code = "LUMC-01"
name = "dr. C. Meijer"
department = "LUMC"
subspecialties = ["gastro-intestinal"]
experienced_in = ["gastro-intestinal"]
fte = 1.0
max_open_minutes = 2000

[[pathologists]]
code = "LUMC-02"
name = "dr. D. de Boer"
department = "LUMC"
subspecialties = ["dermatopathology"]
fte = 0.8
max_open_minutes = 1600
working_days = ["mon", "tue", "thu", "fri"]
"""


@pytest.fixture
def region() -> Region:
    return parse_region(REGION, source="alrijne-leiden.toml")


@pytest.fixture
def ids(engine: Engine, region: Region) -> ImportSummary:
    return import_region(engine=engine, actor=Actor.system(), region=region)


def _intake(
    engine: Engine,
    count: int = 1,
    *,
    department: str = "ALR",
    tumour_group: str = "gastro-intestinal",
    category: int = 2,
    priority: Priority = Priority.ROUTINE,
    trigger: str | None = None,
    patient: str | None = None,
    received_at: datetime = NOW - timedelta(hours=2),
) -> list[int]:
    slide = SlideIntake("H&E", "scans/a1.svs")
    requests = [
        CaseIntake(
            department=department,
            patient_pseudonym=patient or f"PSN-{department}-{tumour_group}-{received_at:%H%M}-{i}",
            tumour_group=tumour_group,
            category=category,
            priority=priority,
            received_at=received_at,
            second_read_trigger=trigger,
            specimens=(SpecimenIntake("A", blocks=(BlockIntake("A1", (slide,)),)),),
        )
        for i in range(count)
    ]
    states = intake_cases(engine=engine, actor=MANAGER, cases=requests, now=received_at)
    return [s.case_id for s in states]


def _active(engine: Engine) -> list[tuple[int, int, AssignmentKind, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Assignment.case_id, Assignment.pathologist_id, Assignment.kind, Assignment.rule)
            .where(Assignment.active)
            .order_by(Assignment.id)
        )
        return list(rows)


def _database_state(engine: Engine) -> tuple[object, ...]:
    with Session(engine) as session:
        cases = session.execute(select(Case.id, Case.status, Case.version).order_by(Case.id)).all()
        assignments = session.scalar(select(func.count()).select_from(Assignment))
        audit = session.scalar(select(func.count()).select_from(AuditEvent))
    return (tuple(map(tuple, cases)), assignments, audit)


def test_a_gi_biopsy_at_alrijne_goes_to_an_alrijne_gi_pathologist(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    [case_id] = _intake(engine)
    plan = auto_assign(engine=engine, actor=SYSTEM, now=NOW, rules=region.rules)
    [proposal] = plan.proposals
    assert proposal.rule is Rule.LOCAL_CAPACITY
    assert "from ALR stays at ALR" in proposal.reason
    assert _active(engine) == [
        (case_id, ids.pathologist_ids["ALR-01"], AssignmentKind.PRIMARY, "local-capacity")
    ]
    with Session(engine) as session:
        event = session.execute(
            select(AuditEvent).where(AuditEvent.event_type == "case.assign.primary")
        ).scalar_one()
    assert event.case_id == case_id and '"rule":"local-capacity"' in event.detail


def test_an_absent_pathologist_gets_nothing(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    _intake(engine, 30)
    _intake(engine, 5, tumour_group="dermatopathology", department="LUMC")
    snapshot = load_snapshot(engine=engine, now=NOW, rules=region.rules)
    people = {p.pathologist_id: p for p in snapshot.pathologists}
    on_leave, part_timer = ids.pathologist_ids["ALR-02"], ids.pathologist_ids["LUMC-02"]
    assert not people[on_leave].present and people[on_leave].capacity_today_minutes == 0
    assert not people[part_timer].present, "LUMC-02 does not work on Wednesdays"
    # FTE 1.0 over five days: a full day of 63,000 / 46 / 5 minutes.
    assert people[ids.pathologist_ids["ALR-01"]].capacity_today_minutes == pytest.approx(
        273.9, 0.01
    )

    plan = auto_assign(engine=engine, actor=SYSTEM, now=NOW, snapshot=snapshot)
    takers = {pathologist for _, pathologist, _, _ in _active(engine)}
    assert plan.proposals and takers
    assert on_leave not in takers and part_timer not in takers
    # The dermatopathology cases have nobody present to go to: unplaced, with the reason.
    assert len(plan.unplaced) >= 5


def test_a_dry_run_changes_nothing(engine: Engine, region: Region, ids: ImportSummary) -> None:
    _intake(engine, 3)
    before = _database_state(engine)
    plan = auto_assign(engine=engine, actor=SYSTEM, now=NOW, rules=region.rules, dry_run=True)
    assert len(plan.proposals) == 3
    assert _database_state(engine) == before


def test_applying_twice_does_not_double_assign(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    _intake(engine, 4)
    [barrett] = _intake(engine, trigger="barrett_dysplasia", priority=Priority.CANCER_PATHWAY)
    first = auto_assign(engine=engine, actor=SYSTEM, now=NOW, rules=region.rules)
    kinds = Counter(p.kind for p in first.proposals)
    assert kinds == {AssignmentKind.PRIMARY: 5, AssignmentKind.SECOND_OPINION: 1}
    second = auto_assign(engine=engine, actor=SYSTEM, now=NOW, rules=region.rules)
    assert second.proposals == ()
    active = _active(engine)
    assert len(active) == 6
    primaries = Counter(case_id for case_id, _, kind, _ in active if kind is AssignmentKind.PRIMARY)
    assert set(primaries.values()) == {1}
    [(author, reviewer)] = [
        (
            next(p for c, p, k, _ in active if c == barrett and k is AssignmentKind.PRIMARY),
            next(p for c, p, k, _ in active if c == barrett and k is AssignmentKind.SECOND_OPINION),
        )
    ]
    assert author != reviewer, "the second reader is never the author"
    assert [r for c, _, k, r in active if c == barrett and k is not AssignmentKind.PRIMARY] == [
        "second-read-trigger"
    ]


def test_the_snapshot_counts_open_and_todays_minutes(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    alr1 = ids.pathologist_ids["ALR-01"]
    yesterday, today = _intake(engine, category=4), _intake(engine, category=2)
    claim_case(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=yesterday[0],
        pathologist_id=alr1,
        now=NOW - timedelta(days=1),
    )
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=today[0], pathologist_id=alr1, now=NOW)
    snapshot = load_snapshot(engine=engine, now=NOW, rules=region.rules)
    [person] = [p for p in snapshot.pathologists if p.pathologist_id == alr1]
    assert person.open_minutes == pytest.approx(38.0 + 15.0)
    assert person.today_minutes == pytest.approx(15.0)
    assert snapshot.cases == (), "assigned cases without a pending need stay out of the round"


def test_a_patients_new_case_follows_their_open_case(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    lumc1 = ids.pathologist_ids["LUMC-01"]
    [held] = _intake(engine, patient="PSN-continuity")
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=held, pathologist_id=lumc1, now=NOW)
    [new] = _intake(engine, patient="PSN-continuity", received_at=NOW - timedelta(hours=1))
    snapshot = load_snapshot(engine=engine, now=NOW, rules=region.rules)
    assert {c.case_id: c.primary_pathologist_id for c in snapshot.cases} == {
        held: lumc1,
        new: None,
    }
    plan = auto_assign(engine=engine, actor=SYSTEM, now=NOW, snapshot=snapshot)
    [proposal] = plan.proposals
    assert (proposal.case_id, proposal.pathologist_id, proposal.rule) == (
        new,
        lumc1,
        Rule.CONTINUITY,
    )


def test_a_second_read_for_an_assigned_case_names_its_author(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    alr1 = ids.pathologist_ids["ALR-01"]
    [case_id] = _intake(engine, trigger="barrett_dysplasia")
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=alr1, now=NOW)
    snapshot = load_snapshot(engine=engine, now=NOW, rules=region.rules)
    [case] = snapshot.cases
    assert case.primary_pathologist_id == alr1 and case.second_reader_ids == ()
    plan = auto_assign(engine=engine, actor=SYSTEM, now=NOW, snapshot=snapshot)
    [proposal] = plan.proposals
    assert proposal.kind is AssignmentKind.SECOND_OPINION
    assert proposal.pathologist_id == ids.pathologist_ids["LUMC-01"], "preferably another site"


def test_proposals_overtaken_since_the_snapshot_come_back_unplaced(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    taken, free = _intake(engine, 2)
    snapshot = load_snapshot(engine=engine, now=NOW, rules=region.rules)
    lumc1 = ids.pathologist_ids["LUMC-01"]
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=taken, pathologist_id=lumc1, now=NOW)
    plan = auto_assign(engine=engine, actor=SYSTEM, now=NOW, snapshot=snapshot)
    assert [p.case_id for p in plan.proposals] == [free]
    [overtaken] = plan.unplaced
    assert overtaken.case_id == taken and "overtaken since the snapshot" in overtaken.reason
    assert sorted(c for c, *_ in _active(engine)) == sorted([taken, free])


def test_only_managers_and_the_system_run_a_round(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    _intake(engine)
    with pytest.raises(NotPermittedError):
        auto_assign(engine=engine, actor=PATHOLOGIST, now=NOW, dry_run=True)
    plan = auto_assign(engine=engine, actor=MANAGER, now=NOW, rules=region.rules)
    assert len(plan.proposals) == 1
    with Session(engine) as session:
        outcomes = set(session.execute(select(AuditEvent.outcome)).scalars())
    assert AuditOutcome.SUCCESS in outcomes


def test_a_snapshot_of_another_moment_is_refused(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    snapshot = load_snapshot(engine=engine, now=NOW, rules=region.rules)
    with pytest.raises(ValueError, match="not"):
        auto_assign(engine=engine, actor=SYSTEM, now=NOW + timedelta(hours=1), snapshot=snapshot)
