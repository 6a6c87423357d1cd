"""Loading the facts: column queries (no N+1), the engine's minutes, the primary holder."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from tests.worklist.capacity.conftest import CaseRows, utc
from worklist.capacity.facts import WaitFact, load_case_facts, load_pathologist_facts
from worklist.enums import AssignmentKind, CaseStatus, Priority
from worklist.workload import WorkloadModel

MODEL = WorkloadModel()


def _count_statements(engine: Engine) -> list[str]:
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", seen)
    return statements


def test_case_facts_carry_the_engines_minutes_holder_and_waits(rows: CaseRows) -> None:
    received = utc(2026, 11, 16)
    first = rows.add(received_at=received, category=4, pathologist="HMC-01")
    frozen = rows.add(received_at=received, category=2, priority=Priority.FROZEN)
    waited = rows.add(
        received_at=received,
        department="LUMC",
        tumour_group="haematopathology",
        signed_out_at=utc(2026, 11, 25),
        pathologist="LUMC-01",
        waits=[(utc(2026, 11, 17), utc(2026, 11, 20)), (utc(2026, 11, 21), None)],
    )
    with Session(rows.engine) as session:
        facts = {f.case_id: f for f in load_case_facts(session, model=MODEL)}
    assert facts[first].workload_minutes == 38
    assert facts[first].pathologist_code == "HMC-01"
    assert facts[first].status is CaseStatus.ASSIGNED
    assert facts[first].received_day == date(2026, 11, 16)
    assert facts[frozen].workload_minutes == 15 + 38  # the frozen section's add-on
    assert facts[frozen].pathologist_code is None
    assert facts[waited].department_code == "LUMC"
    assert facts[waited].tumour_group == "haematopathology"
    assert facts[waited].signed_out_day == date(2026, 11, 25)
    assert facts[waited].waits == (
        WaitFact(utc(2026, 11, 17), utc(2026, 11, 20)),
        WaitFact(utc(2026, 11, 21), None),
    )
    assert facts[waited].received_at.tzinfo is not None


def test_the_holder_is_the_active_primary_else_the_latest(rows: CaseRows) -> None:
    received = utc(2026, 11, 16)
    case_id = rows.add(received_at=received, signed_out_at=utc(2026, 11, 18), pathologist="HMC-01")
    reassigned = rows.add(received_at=received, pathologist="HMC-02")
    # A later, inactive primary for the signed-out case: the latest one holds it.
    rows.primary(case_id, "LUMC-01", received + timedelta(days=1), active=False)
    # A consult is no primary.
    rows.primary(
        case_id, "HMC-02", received + timedelta(days=2), active=True, kind=AssignmentKind.CONSULT
    )
    # A later inactive primary of the reassigned case does not beat the active one.
    rows.primary(reassigned, "LUMC-01", received + timedelta(days=3), active=False)
    with Session(rows.engine) as session:
        facts = {f.case_id: f for f in load_case_facts(session, model=MODEL)}
    assert facts[case_id].pathologist_code == "LUMC-01"
    assert facts[reassigned].pathologist_code == "HMC-02"


def test_since_keeps_recent_and_open_cases_and_narrowing_by_department(rows: CaseRows) -> None:
    old_done = rows.add(received_at=utc(2025, 1, 6), signed_out_at=utc(2025, 1, 8))
    old_open = rows.add(received_at=utc(2025, 1, 6))
    late_done = rows.add(received_at=utc(2025, 12, 20), signed_out_at=utc(2026, 1, 5))
    recent = rows.add(received_at=utc(2026, 2, 2), department="LUMC", tumour_group="lung")
    since = utc(2026, 1, 1)
    with Session(rows.engine) as session:
        ids = [f.case_id for f in load_case_facts(session, model=MODEL, since=since)]
        lumc = load_case_facts(session, model=MODEL, department_codes=["LUMC"])
        lung = load_case_facts(session, model=MODEL, tumour_group="lung")
    assert ids == [old_open, late_done, recent]
    assert old_done not in ids
    assert [f.case_id for f in lumc] == [recent] == [f.case_id for f in lung]


def test_the_queries_do_not_grow_with_the_cases(rows: CaseRows) -> None:
    rows.add(received_at=utc(2026, 11, 16), pathologist="HMC-01")
    statements = _count_statements(rows.engine)
    with Session(rows.engine) as session:
        assert len(load_case_facts(session, model=MODEL)) == 1
    few = len(statements)
    for i in range(40):
        rows.add(
            received_at=utc(2026, 10, 1 + i % 28),
            pathologist="HMC-02",
            waits=[(utc(2026, 11, 1), None)],
        )
    statements.clear()
    with Session(rows.engine) as session:
        assert len(load_case_facts(session, model=MODEL)) == 41
    # Cases, primary holders, waits (and at most a transaction's BEGIN): no query per case.
    assert len(statements) == few <= 4


def test_pathologist_facts(engine: Engine, rows: CaseRows) -> None:
    with Session(engine) as session:
        people = {p.code: p for p in load_pathologist_facts(session)}
    assert list(people) == ["HMC-01", "HMC-02", "LUMC-01"]
    part = people["HMC-02"]
    assert (part.department_code, part.fte) == ("HMC", 0.8)
    assert part.working_weekdays == frozenset({0, 1, 3, 4})
    assert part.subspecialties == ("dermatopathology",)
    assert people["HMC-01"].subspecialties == ("dermatopathology", "gastro-intestinal")
    assert people["LUMC-01"].absences == ((date(2025, 7, 21), date(2025, 8, 8)),)
    assert all(p.active for p in people.values())
