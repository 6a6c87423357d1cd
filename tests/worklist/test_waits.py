"""Case waits as an operation: validation, audit records, and the paused clock they feed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from tests.worklist.conftest import NOW, PATHOLOGIST, Factory
from worklist.capacity.facts import load_case_facts
from worklist.capacity.turnaround import turnaround_days
from worklist.enums import CaseStatus
from worklist.errors import InvalidTransitionError, NotFoundError, SignedOutError, ValidationError
from worklist.models import AuditEvent, Case, CaseWait, WaitReason
from worklist.waits import WaitStateError, case_waits, end_wait, start_wait
from worklist.workload import WorkloadModel

LATER = NOW + timedelta(days=3)  # "now" of the operations: three days after receipt


def _events(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    with Session(engine) as session:
        rows = session.execute(
            select(AuditEvent.event_type, AuditEvent.outcome, AuditEvent.detail)
            .where(AuditEvent.event_type.like("case.wait.%"))
            .order_by(AuditEvent.seq)
        ).all()
    return [(kind, str(outcome), json.loads(detail)) for kind, outcome, detail in rows]


def _start(engine: Engine, case_id: int, reason: WaitReason, at: datetime | None) -> int:
    return start_wait(
        engine=engine, actor=PATHOLOGIST, case_id=case_id, reason=reason, at=at, now=LATER
    )


def _end(engine: Engine, case_id: int, wait_id: int, at: datetime | None) -> None:
    end_wait(engine=engine, actor=PATHOLOGIST, case_id=case_id, wait_id=wait_id, at=at, now=LATER)


def test_a_wait_is_started_ended_listed_and_audited(engine: Engine, factory: Factory) -> None:
    [case_id] = factory.cases()
    wait_id = _start(engine, case_id, WaitReason.MOLECULAR_TEST, NOW + timedelta(hours=2))
    _end(engine, case_id, wait_id, NOW + timedelta(days=1, hours=2))
    with Session(engine) as session:
        [wait] = case_waits(session, case_id)
    assert (wait.id, wait.reason, wait.recorded_by) == (
        wait_id,
        WaitReason.MOLECULAR_TEST,
        "patholoog",
    )
    assert wait.started_at == NOW + timedelta(hours=2)
    assert wait.ended_at == NOW + timedelta(days=1, hours=2)
    assert _events(engine) == [
        (
            "case.wait.start",
            "success",
            {
                "wait_id": wait_id,
                "reason": "molecular_test",
                "started_at": "2025-03-12T11:00:00+00:00",
            },
        ),
        (
            "case.wait.end",
            "success",
            {
                "wait_id": wait_id,
                "reason": "molecular_test",
                "ended_at": "2025-03-13T11:00:00+00:00",
            },
        ),
    ]


def test_a_wait_starts_now_by_default(engine: Engine, factory: Factory) -> None:
    [case_id] = factory.cases()
    wait_id = _start(engine, case_id, WaitReason.EXTERNAL_CONSULT, None)
    with Session(engine) as session:
        wait = session.get_one(CaseWait, wait_id)
        assert wait.started_at == LATER and wait.ended_at is None


def test_one_open_wait_per_reason(engine: Engine, factory: Factory) -> None:
    [case_id] = factory.cases()
    first = _start(engine, case_id, WaitReason.MOLECULAR_TEST, NOW + timedelta(hours=1))
    with pytest.raises(WaitStateError, match="already waits on a molecular test") as refused:
        _start(engine, case_id, WaitReason.MOLECULAR_TEST, NOW + timedelta(hours=2))
    assert isinstance(refused.value, InvalidTransitionError)  # a 409, audited as refused
    # Another reason may wait at the same time (the clock counts the overlap once).
    _start(engine, case_id, WaitReason.EXTERNAL_CONSULT, NOW + timedelta(hours=2))
    # Once the first has ended, the same reason may wait again.
    _end(engine, case_id, first, NOW + timedelta(hours=3))
    _start(engine, case_id, WaitReason.MOLECULAR_TEST, NOW + timedelta(hours=4))
    with Session(engine) as session:
        assert len(case_waits(session, case_id)) == 3
    outcomes = [(kind, outcome) for kind, outcome, _ in _events(engine)]
    assert outcomes[1] == ("case.wait.start", "minor_failure")


def test_an_end_must_follow_the_start_and_come_once(engine: Engine, factory: Factory) -> None:
    [case_id] = factory.cases()
    wait_id = _start(engine, case_id, WaitReason.MOLECULAR_TEST, NOW + timedelta(hours=5))
    with pytest.raises(ValidationError, match="not after its start"):
        _end(engine, case_id, wait_id, NOW + timedelta(hours=5))
    with pytest.raises(ValidationError, match="not after its start"):
        _end(engine, case_id, wait_id, NOW + timedelta(hours=1))
    _end(engine, case_id, wait_id, NOW + timedelta(hours=6))
    with pytest.raises(WaitStateError, match="already ended"):
        _end(engine, case_id, wait_id, NOW + timedelta(hours=7))
    with Session(engine) as session:
        assert session.get_one(CaseWait, wait_id).ended_at == NOW + timedelta(hours=6)


def test_times_before_receipt_in_the_future_or_naive_are_refused(
    engine: Engine, factory: Factory
) -> None:
    [case_id] = factory.cases()
    with pytest.raises(ValidationError, match="before the case was received"):
        _start(engine, case_id, WaitReason.MOLECULAR_TEST, NOW - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="in the future"):
        _start(engine, case_id, WaitReason.MOLECULAR_TEST, LATER + timedelta(minutes=1))
    with pytest.raises(ValidationError, match="UTC offset"):
        _start(engine, case_id, WaitReason.MOLECULAR_TEST, datetime(2025, 3, 13, 9))
    with Session(engine) as session:
        assert case_waits(session, case_id) == []


def test_unknown_cases_and_waits_are_not_found(engine: Engine, factory: Factory) -> None:
    [case_id, other_id] = factory.cases(2)
    wait_id = _start(engine, case_id, WaitReason.MOLECULAR_TEST, NOW + timedelta(hours=1))
    with pytest.raises(NotFoundError, match="case 999"):
        _start(engine, 999, WaitReason.MOLECULAR_TEST, None)
    with pytest.raises(NotFoundError, match="wait 999"):
        _end(engine, case_id, 999, None)
    with pytest.raises(NotFoundError, match=f"wait {wait_id}"):
        _end(engine, other_id, wait_id, None)  # a wait of another case
    with Session(engine) as session, pytest.raises(NotFoundError):
        case_waits(session, 999)


def test_a_signed_out_case_keeps_its_waits(engine: Engine, factory: Factory) -> None:
    [case_id] = factory.cases()
    wait_id = _start(engine, case_id, WaitReason.MOLECULAR_TEST, NOW + timedelta(hours=1))
    with Session(engine) as session, session.begin():
        session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(status=CaseStatus.SIGNED_OUT, signed_out_at=NOW + timedelta(days=2))
        )
    with pytest.raises(SignedOutError, match="turnaround is final"):
        _start(engine, case_id, WaitReason.EXTERNAL_CONSULT, None)
    with pytest.raises(SignedOutError, match="turnaround is final"):
        _end(engine, case_id, wait_id, None)
    assert [outcome for _, outcome, _ in _events(engine)] == [
        "success",
        "minor_failure",
        "minor_failure",
    ]


def test_recorded_waits_pause_the_turnaround_clock(engine: Engine, factory: Factory) -> None:
    # Received NOW, signed out 3.5 days later. Waits on days 1..2 and 1.5..3 (overlapping by
    # half a day) and one still open from day 3: the union is days 1..3.5, 2.5 days paused.
    [case_id] = factory.cases()
    consult = _start(engine, case_id, WaitReason.EXTERNAL_CONSULT, NOW + timedelta(days=1))
    test = _start(engine, case_id, WaitReason.MOLECULAR_TEST, NOW + timedelta(days=1.5))
    _end(engine, case_id, consult, NOW + timedelta(days=2))
    _end(engine, case_id, test, NOW + timedelta(days=3))
    _start(engine, case_id, WaitReason.EXTERNAL_CONSULT, NOW + timedelta(days=3))
    with Session(engine) as session, session.begin():
        session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(status=CaseStatus.SIGNED_OUT, signed_out_at=NOW + timedelta(days=3.5))
        )
        [fact] = load_case_facts(session, model=WorkloadModel())
    assert len(fact.waits) == 3
    assert turnaround_days(fact) == 1.0  # 3.5 days less 2.5 days paused
